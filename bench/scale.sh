#!/usr/bin/env bash
# Many workers (issue 19): the callback's throughput with 1, 2 and 4 gunicorn processes on this
# machine, nothing shared between them but PostgreSQL and Redis. The same stack and load as
# bench/run.sh (a fresh database of its own, peixun_scale; Redis db 10; 2000 followers typing
# 课程, every message signed, with its own nonce and MsgId; wrk 2 threads, 16 connections, 15 s),
# once per process count. Prints msgs/s, p50/p99 and the server's CPU per message, with the
# load average before each run (the machine is shared). Outputs in bench/out/scale-*.txt.
#   bash bench/scale.sh            # SCALE_WORKERS="1 2 4" by default
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
OUT=bench/out
PORT=5065
CONNECTIONS=${SCALE_CONNECTIONS:-16}
DURATION=${SCALE_DURATION:-15s}
MESSAGES=${BENCH_MESSAGES:-80000}
SENDERS=${BENCH_SENDERS:-2000}
mkdir -p "$OUT"
command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)

export HOST=127.0.0.1
export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/peixun_scale
export REDIS_URL=redis://127.0.0.1:6379/10
export WECHAT_TOKEN=peixun-bench-token
export PEIXUN_DEMO=1
dropdb -h 127.0.0.1 -U postgres --if-exists peixun_scale
createdb -h 127.0.0.1 -U postgres peixun_scale
$BIN/flask --app wsgi db upgrade
$BIN/flask --app wsgi demo load
PYTHONPATH=. $BIN/python bench/seed_followers.py "$SENDERS" 2>/dev/null

pid=
stop() { [ -n "$pid" ] && kill -- "-$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap 'stop; dropdb -h 127.0.0.1 -U postgres --if-exists peixun_scale' EXIT
cpu() {
  local stats=() p
  for p in $(pgrep -g "$1"); do stats+=("/proc/$p/stat"); done
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); t += $12 + $13 }
    END { printf "%.2f", t / hz }' "${stats[@]}" 2>/dev/null || true
}
up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/wechat")" != 000 ]; }
field() { grep -o "$2=[0-9.]*" "$1" | cut -d= -f2; }

summary=()
for workers in ${SCALE_WORKERS:-1 2 4}; do
  redis-cli -h 127.0.0.1 -n 10 flushdb >/dev/null
  # The gunicorn command line of `make serve`, with WORKERS processes.
  WORKERS=$workers setsid $BIN/gunicorn --workers "$workers" --bind 127.0.0.1:$PORT wsgi:app \
    >"$OUT/scale-$workers.log" 2>&1 &
  pid=$!
  for _ in $(seq 60); do up && break; sleep 0.5; done
  $BIN/python bench/make_requests.py "$OUT/scale.req" --count "$MESSAGES" --senders "$SENDERS" \
    --token "$WECHAT_TOKEN"
  # Warm up, untimed: each process loads jieba and pypinyin in a thread at its start (1–3 s
  # of CPU), which must not count as the messages' CPU.
  wrk -t2 -c"$CONNECTIONS" -d5s -s bench/callback.lua "http://127.0.0.1:$PORT/wechat" -- \
    "$OUT/scale.req" "开放报名的课程" 2 >/dev/null
  $BIN/python bench/make_requests.py "$OUT/scale.req" --count "$MESSAGES" --senders "$SENDERS" \
    --token "$WECHAT_TOKEN"
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  before=$(cpu "$pid")
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/callback.lua \
    "http://127.0.0.1:$PORT/wechat" -- "$OUT/scale.req" "开放报名的课程" 2 > "$OUT/scale-$workers.txt"
  echo "CPU server_cpu_s=$(awk -v a="$before" -v b="$(cpu "$pid")" 'BEGIN { print b - a }')" \
    >> "$OUT/scale-$workers.txt"
  f="$OUT/scale-$workers.txt"
  bad=$(( $(field "$f" non200) + $(field "$f" socket_errors) + $(field "$f" unexpected) ))
  per=$(awk -v c="$(field "$f" server_cpu_s)" -v n="$(field "$f" requests)" \
    'BEGIN { printf "%.2f", 1000 * c / n }')
  summary+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$workers" "$(field "$f" rps)" \
    "$(field "$f" p50_ms)" "$(field "$f" p99_ms)" "$per" "$bad" "$load")")
  stop; pid=
done
{
  echo
  echo "$(date -u +%FT%TZ)  commit $(git describe --always --dirty)  nproc=$(nproc)"
  echo "| gunicorn processes | msgs/s | p50 ms | p99 ms | CPU ms/msg | errors | load avg before |"
  echo "|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${summary[@]}"
} | tee "$OUT/scale-summary.txt"

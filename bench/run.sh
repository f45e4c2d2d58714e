#!/usr/bin/env bash
# Load benchmark of the WeChat callback (issue 3): Peixun as `make serve` runs it on the production
# stack (PostgreSQL + Redis), against a bare Flask + wechatpy echo app (the ceiling) and the
# same work done with nothing else (bench/samework_app.py, issue 19's yardstick), all with
# $WORKERS gunicorn workers (default 2), one after the other, with wrk: 2 threads, 16
# connections, 15 s.   WORKERS=4 bash bench/run.sh
# Raw outputs go to bench/out/. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
OUT=bench/out
PEIXUN_PORT=5055
ECHO_PORT=5056
SAMEWORK_PORT=5057
THREADS=2
CONNECTIONS=16
DURATION=15s              # with generation, stays well inside the 150 s timestamp window
MESSAGES=${BENCH_MESSAGES:-80000}   # more than either target can take in $DURATION
SENDERS=${BENCH_SENDERS:-2000}  # followers who type 课程; each message new
export WORKERS=${WORKERS:-2}  # gunicorn processes of each server (Peixun reads it too)
mkdir -p "$OUT"

command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL is not up on 127.0.0.1:5432"; exit 1; }
redis-cli -h 127.0.0.1 ping >/dev/null || { echo "Redis is not up on 127.0.0.1:6379"; exit 1; }

# The figures are only comparable on an otherwise idle machine: say so when it is not.
awk '$1 > 0.5 { printf "warning: load average %s before the run: figures will be low\n", $1 }' \
  /proc/loadavg

# The production stack, fresh: a new database, and a Redis db of its own (8), emptied, so no
# MsgId, conversation state or rate-limit counter is left from an earlier run.
export HOST=127.0.0.1
export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/peixun_bench
export REDIS_URL=redis://127.0.0.1:6379/8
export WECHAT_TOKEN=peixun-bench-token
export PEIXUN_DEMO=1  # the benchmark serves the demo county with its public values
dropdb -h 127.0.0.1 -U postgres --if-exists peixun_bench
createdb -h 127.0.0.1 -U postgres peixun_bench
redis-cli -h 127.0.0.1 -n 8 flushdb >/dev/null
# The same-work app reads the same database and keeps its marks in Redis db 9, also emptied.
export SAMEWORK_REDIS_URL=redis://127.0.0.1:6379/9
redis-cli -h 127.0.0.1 -n 9 flushdb >/dev/null
$BIN/flask --app wsgi db upgrade
$BIN/flask --app wsgi demo load
PYTHONPATH=. $BIN/python bench/seed_followers.py "$SENDERS" 2>/dev/null

# Each server in its own process group (setsid), so the trap can stop it and its workers.
pids=()
stop() { for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done; wait || true; }
trap stop EXIT
# `make serve`'s gunicorn line without its `make install` (which may reinstall a shared venv),
# the same for the three servers, so that only the app differs.
$BIN/python -m runtime.config
setsid $BIN/gunicorn --workers "$WORKERS" --bind 127.0.0.1:$PEIXUN_PORT wsgi:app \
  >"$OUT/peixun.log" 2>&1 &
pids+=($!)
setsid $BIN/gunicorn --workers "$WORKERS" --bind 127.0.0.1:$ECHO_PORT --chdir bench echo_app:app \
  >"$OUT/echo.log" 2>&1 &
pids+=($!)
setsid $BIN/gunicorn --workers "$WORKERS" --bind 127.0.0.1:$SAMEWORK_PORT --chdir bench \
  samework_app:app >"$OUT/samework.log" 2>&1 &
pids+=($!)

up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/wechat")" != 000 ]; }
for port in $PEIXUN_PORT $ECHO_PORT $SAMEWORK_PORT; do
  for _ in $(seq 60); do up $port && break; sleep 0.5; done
  up $port || { echo "nothing answers on port $port: see $OUT/*.log"; exit 1; }
done

# CPU seconds used so far by a process group (a server and its workers): throughput on a
# shared 2-core machine swings with whatever else runs; CPU time per message hardly does.
cpu() {
  local stats=() pid
  for pid in $(pgrep -g "$1"); do stats+=("/proc/$pid/stat"); done
  # utime and stime are fields 14 and 15; cut the "pid (name) " head first, names hold spaces.
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); t += $12 + $13 }
    END { printf "%.2f", t / hz }' "${stats[@]}" 2>/dev/null || true  # a pid may have gone
}

# target name, port, process group, what every good reply contains, connections.
run() {
  local name=$1 port=$2 group=$3 marker=$4 connections=${5:-$CONNECTIONS} before
  # Signed now: the callback refuses a timestamp more than 150 s from its clock.
  $BIN/python bench/make_requests.py "$OUT/$name.req" --count "$MESSAGES" \
    --senders "$SENDERS" --token "$WECHAT_TOKEN"
  echo "== $name: wrk -t$THREADS -c$connections -d$DURATION --latency"
  before=$(cpu "$group")
  wrk -t$THREADS -c"$connections" -d$DURATION --latency -s bench/callback.lua \
    "http://127.0.0.1:$port/wechat" -- "$OUT/$name.req" "$marker" $THREADS | tee "$OUT/$name.txt"
  echo "CPU server_cpu_s=$(awk -v a="$before" -v b="$(cpu "$group")" 'BEGIN { print b - a }')" \
    | tee -a "$OUT/$name.txt"
}
# Warm up, untimed, as bench/scale.sh does: Peixun's processes load jieba and pypinyin in a
# thread at their start (1–3 s of CPU each), which is not any message's cost. The same 5 s
# for every server. The timed run's requests are made afterwards: another second, other
# MsgIds and nonces.
warm() {
  $BIN/python bench/make_requests.py "$OUT/$1-warm.req" --count "$MESSAGES" \
    --senders "$SENDERS" --token "$WECHAT_TOKEN"
  wrk -t$THREADS -c$CONNECTIONS -d5s -s bench/callback.lua "http://127.0.0.1:$2/wechat" -- \
    "$OUT/$1-warm.req" "$3" $THREADS >/dev/null
}
# One after the other: the machine's cores are shared by wrk and the workers.
warm echo $ECHO_PORT "<xml>"
run echo $ECHO_PORT "${pids[1]}" "<xml>"
warm samework $SAMEWORK_PORT "开放报名的课程"
run samework $SAMEWORK_PORT "${pids[2]}" "开放报名的课程"
warm peixun $PEIXUN_PORT "开放报名的课程"
run peixun $PEIXUN_PORT "${pids[0]}" "开放报名的课程"
# The same with 2 connections: the latency of one reply when requests do not queue.
run peixun-2c $PEIXUN_PORT "${pids[0]}" "开放报名的课程" 2

# The summary, from the RESULT line callback.lua prints at the end of each run.
field() { grep -o "$2=[0-9.]*" "$OUT/$1.txt" | cut -d= -f2; }
{
  echo
  echo "$(date -u +%FT%TZ)  commit $(git describe --always --dirty)  workers=$WORKERS  nproc=$(nproc)" \
    " $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)  load $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-9s %8s %7s %7s %7s %6s %8s %6s %11s\n' target msgs/s p50_ms p99_ms errors wrong \
    repeats ratio cpu_ms/msg
  for name in echo samework peixun peixun-2c; do
    errors=$(( $(field $name non200) + $(field $name socket_errors) ))
    ratio=$(awk -v a="$(field $name rps)" -v b="$(field echo rps)" 'BEGIN { printf "%.2f", a / b }')
    per=$(awk -v c="$(field $name server_cpu_s)" -v n="$(field $name requests)" \
      'BEGIN { printf "%.2f", 1000 * c / n }')
    printf '%-9s %8s %7s %7s %7s %6s %8s %6s %11s\n' $name "$(field $name rps)" \
      "$(field $name p50_ms)" "$(field $name p99_ms)" $errors "$(field $name unexpected)" \
      "$(field $name repeats)" "$ratio" "$per"
  done
  bad=$(( $(field peixun non200) + $(field peixun socket_errors) + $(field peixun unexpected) ))
  awk -v r="$(field peixun rps)" -v c="$(field echo rps)" -v p="$(field peixun p99_ms)" \
    -v bad=$bad 'BEGIN { ok = r >= 0.6 * c && p < 50 && bad == 0
      printf "goal (>= 0.6 of ceiling msgs/s, p99 < 50 ms, no errors): %s\n",
        ok ? "met" : "NOT met" }'
  # Issue 19: against the same work, not the echo.
  awk -v r="$(field peixun rps)" -v s="$(field samework rps)" -v p="$(field peixun p99_ms)" \
    -v c="$(field peixun server_cpu_s)" -v n="$(field peixun requests)" \
    -v sc="$(field samework server_cpu_s)" -v sn="$(field samework requests)" -v bad=$bad \
    'BEGIN { cpu = (c / n) / (sc / sn); ok = cpu <= 1.2 && r >= 0.8 * s && p < 25 && bad == 0
      printf "issue 19 goal (CPU/msg <= 1.2x same work: %.2fx, msgs/s >= 0.8 of it: %.2f," \
        " p99 < 25 ms: %s ms, no errors): %s\n", cpu, r / s, p, ok ? "met" : "NOT met" }'
} | tee "$OUT/summary.txt"

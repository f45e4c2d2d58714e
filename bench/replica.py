"""The read replica (issue 19): the dashboard served from a real streaming replica while the
primary takes the message load.

    .venv/bin/python -m bench.replica [--seconds 20] [--scale 0.01]

Everything under one temporary directory, removed at the end: a private PostgreSQL 15 primary
(port 55450 or the next free one) with the demo county and bench/province.py's province at
``--scale``; a streaming replica of it made with pg_basebackup -R (port 55451 or next), both
on 127.0.0.1; gunicorn (2 workers, `make serve`'s command line) with DATABASE_URL on the primary
and DATABASE_REPLICA_URL on the replica, Redis db 11. For ``--seconds`` it runs at once: wrk
posting signed 课程 messages to the callback (the message load, on the primary), a writer
inserting audit rows on the primary (200 a transaction every 50 ms: WAL for the replica to
replay), a desk user loading the province's dashboard over HTTP again and again, and a probe
reading the replica's lag every 0.5 s (pg_stat_replication on the primary; and the age of the
last row the writer committed, as the replica sees it). It prints the dashboard's times, the
callback's throughput, and the lag: what a page read from the replica may miss."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import text

from bench.pgcluster import Cluster, free_port, remove, wait_ready
from bench.province import DATABASE, SETTINGS, Sizes, _engine, generate, log
from bench.servers import wait_until_answering

PROJECT = Path(__file__).resolve().parent.parent
BIN = PROJECT / ".venv" / "bin"
WEB_PORT = 5075
REDIS_DB = 11
TOKEN = "peixun-bench-token"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--scale", type=float, default=0.01)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk (bench/run.sh installs it too)")
        return 1
    root = Path(tempfile.mkdtemp(prefix="peixun-replica-",
                                 dir=os.environ.get("PEIXUN_BENCH_DIR", "/var/tmp")))
    primary = Cluster(root, "primary", free_port(55450))
    clusters = [primary]
    web = None
    try:
        primary.init({**SETTINGS, "shared_buffers": "512MB", "max_wal_size": "2GB"})
        primary.start()
        wait_ready(primary.url)
        admin = _engine(primary.url)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"CREATE DATABASE {DATABASE}"))
        admin.dispose()
        engine = _engine(primary.url_of(DATABASE))
        generate(engine, Sizes(args.scale))
        replica = primary.replica("replica", free_port(primary.port + 1))
        clusters.append(replica)
        wait_ready(replica.url)
        log(f"replica streaming on port {replica.port}")
        env = {**os.environ, "HOST": "127.0.0.1", "PEIXUN_DEMO": "1",
               "DATABASE_URL": primary.url_of(DATABASE),
               "DATABASE_REPLICA_URL": replica.url_of(DATABASE),
               "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}", "WECHAT_TOKEN": TOKEN,
               "WORKERS": "2", "PYTHONPATH": str(PROJECT)}
        subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([str(BIN / "python"), "bench/seed_followers.py", "2000"], env=env,
                       cwd=PROJECT, check=True, stderr=subprocess.DEVNULL)
        _desk_user(engine)
        web = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "2", "--bind",
                                f"127.0.0.1:{WEB_PORT}", "wsgi:app"], env=env, cwd=PROJECT,
                               stdout=open(root / "web.log", "w"),  # noqa: SIM115 (the server outlives this block)
                               stderr=subprocess.STDOUT,
                               start_new_session=True)
        _wait_web()
        run(engine, primary, replica, env, root, args.seconds)
        engine.dispose()
        return 0
    finally:
        if web is not None:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait()
        remove(root, *reversed(clusters))


def _desk_user(engine) -> None:
    from models.base import make_sessionmaker
    from models.clock import Clock
    from models.desk import DeskRole, create_desk_user

    with make_sessionmaker(engine).begin() as db:
        create_desk_user(db, username="bench.admin", password="bench password",
                         role=DeskRole.ADMIN, now=Clock().now())


def _wait_web() -> None:
    wait_until_answering(f"http://127.0.0.1:{WEB_PORT}/admin/login", tries=120, pause=0.5,
                         timeout=20, failure="gunicorn did not start")


def run(engine, primary: Cluster, replica: Cluster, env: dict, root: Path, seconds: int) -> None:
    stop = threading.Event()
    page_times: list[float] = []
    lags: list[tuple[float, float | None, float | None]] = []
    written = [0]

    def dashboard():
        session = requests.Session()
        form = session.get(f"http://127.0.0.1:{WEB_PORT}/admin/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        session.post(f"http://127.0.0.1:{WEB_PORT}/admin/login", allow_redirects=False,
                     data={"username": "bench.admin", "password": "bench password",
                           "csrf_token": token})
        while not stop.is_set():
            started = time.perf_counter()
            response = session.get(f"http://127.0.0.1:{WEB_PORT}/admin/dashboard?year=2026")
            assert response.status_code == 200, response.status_code
            page_times.append(time.perf_counter() - started)

    def writer():
        with engine.connect() as connection:
            while not stop.is_set():
                with connection.begin():
                    connection.execute(text("""
                        INSERT INTO audit_log (at, channel, action, target_type, target_id)
                        SELECT now(), 'worker', 'bench.replica', 'bench', g
                        FROM generate_series(1, 200) AS g"""))
                written[0] += 200
                time.sleep(0.05)  # ~4,000 rows a second: a busy day's writes, not a bulk load

    def probe():
        rep = _engine(replica.url_of(DATABASE))
        with engine.connect() as on_primary, rep.connect() as on_replica:
            on_primary.execute(text("SET statement_timeout = 0"))
            while not stop.is_set():
                replay = on_primary.execute(text(
                    "SELECT extract(epoch FROM replay_lag) FROM pg_stat_replication")).scalar()
                behind = on_replica.execute(text(
                    "SELECT extract(epoch FROM now() - max(at)) FROM audit_log "
                    "WHERE action = 'bench.replica' AND at > now() - interval '1 minute'"
                )).scalar()
                on_replica.commit()
                lags.append((time.monotonic(), replay, behind))
                time.sleep(0.5)
        rep.dispose()

    commits_before = _replica_commits(replica)
    subprocess.run([str(BIN / "python"), "bench/make_requests.py", str(root / "replica.req"),
                    "--count", "80000", "--senders", "2000", "--token", TOKEN], cwd=PROJECT,
                   check=True)
    threads = [threading.Thread(target=f, daemon=True) for f in (dashboard, writer, probe)]
    for thread in threads:
        thread.start()
    wrk = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s",
                          "bench/callback.lua", f"http://127.0.0.1:{WEB_PORT}/wechat", "--",
                          str(root / "replica.req"), "开放报名的课程", "2"],
                         cwd=PROJECT, capture_output=True, text=True)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    commits = _replica_commits(replica) - commits_before
    _print_results(seconds, wrk.stdout, written[0], page_times, commits, lags)
    shutil.copy(root / "web.log", PROJECT / "bench" / "out" / "replica-web.log")


def _print_results(seconds: int, wrk_out: str, written: int, page_times: list[float],
                   commits: int, lags: list[tuple[float, float | None, float | None]]) -> None:
    result = re.search(r"RESULT.*", wrk_out)
    replay = [r for _, r, _ in lags if r is not None]
    behind = [b for _, _, b in lags if b is not None]
    print(f"\nload average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"callback under load (wrk -t2 -c16 -d{seconds}s, on the primary): "
          f"{result.group(0) if result else wrk_out[-500:]}")
    print(f"writer: {written:,} audit rows committed on the primary in {seconds} s")
    if page_times:
        p95 = statistics.quantiles(page_times, n=20, method="inclusive")[18] \
            if len(page_times) > 1 else page_times[0]
        print(f"dashboard from the replica (province, 2026): {len(page_times)} pages, "
              f"p50 {statistics.median(page_times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
              f"max {max(page_times) * 1000:.0f} ms; transactions committed on the replica "
              f"meanwhile: {commits:,}")
    if replay:
        print(f"replay_lag (pg_stat_replication): median {statistics.median(replay) * 1000:.0f}"
              f" ms, max {max(replay) * 1000:.0f} ms over {len(replay)} samples")
    if behind:
        print(f"newest writer row as the replica sees it: median "
              f"{statistics.median(behind) * 1000:.0f} ms old, max {max(behind) * 1000:.0f} ms")


def _replica_commits(replica: Cluster) -> int:
    rep = _engine(replica.url_of(DATABASE))
    with rep.connect() as connection:
        found = connection.execute(text(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = :d"), {"d": DATABASE}
        ).scalar()
    rep.dispose()
    return found


if __name__ == "__main__":
    sys.exit(main())

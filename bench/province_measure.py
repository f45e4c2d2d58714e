"""The figures of bench/province.py, through the app's own code on the generated province:

- the dashboard page (GET /admin/dashboard, signed in, Flask test client, the app's own engine
  and its 3 s statement limit) for the province, a prefecture and a county: p50, p95, max;
- the quarterly ledger of a county, built by the export worker (run_export_jobs) from a queued
  job: seconds from start to the sealed file;
- a person's SUBSIDY answer: the whole callback (a signed 补贴 from the person's openid) and
  models.eligibility.evaluate alone, for a person with three past vouchers.

Each figure is printed with the load average of the machine when it was taken."""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.people import desk_admin_client
from bench.timing import timed
from models.base import make_engine, make_sessionmaker
from models.clock import LOCAL_TZ, FrozenClock
from models.export_jobs import ExportJob, ExportKind, ExportStatus
from models.progress import ROLLUP_EVERY
from worker.periodic import count_rollups

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=LOCAL_TZ)
DASHBOARD_LIMIT = 1.0
LEDGER_LIMIT = 30.0
SUBSIDY_LIMIT = 0.050
# The worker counts a province's year ahead every ROLLUP_EVERY: a count must end well within.
ROLLUP_LIMIT = ROLLUP_EVERY.total_seconds()
PREFECTURE = "bp3"
COUNTY = "bc5"
QUARTER = "2026Q2"


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def measure(engine: Engine, url: str, *, runs: int, replica_url: str | None = None) -> bool:
    """Print the table; True when every figure meets its goal."""
    from runtime.config import Config
    from webhooks.app import create_app

    logging.getLogger("peixun.request").setLevel(logging.WARNING)
    app_engine = make_engine(url)  # the app's own: 3 s statement limit
    config = Config(database_url=url, testing=True, database_replica_url=replica_url)
    app = create_app(config, engine=app_engine, clock=FrozenClock(NOW))
    services = app.extensions["peixun"]
    results: list[tuple[str, list[float], float, str]] = []
    client = desk_admin_client(app, app_engine, now=NOW)
    # The dashboard reads what the worker counted ahead: its round first, as it runs every
    # ROLLUP_EVERY (worker.periodic.count_rollups, through the app's engine and its limits).
    started = time.perf_counter()
    counted = count_rollups(services, NOW)
    results.append((f"the worker's count of a province's years ahead ({counted} counted)",
                    [time.perf_counter() - started], ROLLUP_LIMIT, load()))
    for label, query in (("province", ""), ("prefecture", f"&region={PREFECTURE}"),
                         ("county", f"&region={COUNTY}")):
        try:
            times = _timed(lambda q=query: _page(client, f"/admin/dashboard?year=2026{q}"),
                           runs)
        except AssertionError as failed:  # the page's 3 s statement limit: a 500
            print(f"  {label}: {failed.args[0][:2]}", flush=True)
            times = [float("inf")]
        results.append((f"GET /admin/dashboard, {label}, 2026", times, DASHBOARD_LIMIT, load()))
    times = _timed(lambda: _page(client, f"/admin/list?year=2026&measure=employed"
                                         f"&region={COUNTY}"), runs)
    results.append(("GET /admin/list (employed), county, page 1", times, DASHBOARD_LIMIT,
                    load()))
    ledger = _ledger(services, app_engine)
    results.append((f"quarterly ledger {QUARTER} of county {COUNTY} (export worker, "
                    f"{ledger[1]:,} rows)", [ledger[0]], LEDGER_LIMIT, load()))
    openid, person_id = _person_with_history(engine)  # no statement limit: a setup query
    results.append(("SUBSIDY: evaluate() for the person with the most vouchers",
                    _timed(lambda: _evaluate(services, person_id), runs), SUBSIDY_LIMIT, load()))
    wechat = _wechat(app, config)
    results.append(("SUBSIDY: the whole callback (signed 补贴)",
                    _timed(lambda: _say(wechat, openid, "补贴"), runs), SUBSIDY_LIMIT, load()))
    app_engine.dispose()
    print_table(results)
    return all(_p95(times) < limit for _, times, limit, _ in results)


def _p95(times: list[float]) -> float:
    if len(times) == 1:
        return times[0]
    return statistics.quantiles(times, n=20, method="inclusive")[18]


def _timed(call: Callable[[], object], runs: int) -> list[float]:
    times = timed(call, runs)
    print(f"  p50 {_ms(statistics.median(times))}, p95 {_ms(_p95(times))}, load {load()}",
          flush=True)
    return times


def _page(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code,
                                         response.get_data(as_text=True)[:500])
    return response


def _ledger(services, engine: Engine) -> tuple[float, int]:
    """Queue a county's quarterly ledger as the desk would (a job row) and let the export
    worker build it, timed from its start to the finished file."""
    from worker.exports import run_export_jobs

    with make_sessionmaker(engine).begin() as db:
        user_id = db.execute(text("SELECT id FROM desk_users WHERE username = 'bench.admin'")
                             ).scalar()
        job = ExportJob(kind=ExportKind.LEDGER, params={"quarter": QUARTER, "county": COUNTY},
                        with_full_ids=False, reason=None, locale="zh_Hans_CN",
                        requested_by_id=user_id, status=ExportStatus.QUEUED, done=0,
                        created_at=NOW)
        db.add(job)
        db.flush()
        job_id = job.id
    started = time.perf_counter()
    made = run_export_jobs(services)
    seconds = time.perf_counter() - started
    with make_sessionmaker(engine).begin() as db:
        status, done, error = db.execute(text(
            "SELECT status, done, error FROM export_jobs WHERE id = :id"), {"id": job_id}).one()
    assert made == 1 and status == "done", (status, error)
    return seconds, done


def _person_with_history(engine: Engine) -> tuple[str, int]:
    with engine.connect() as connection:
        return connection.execute(text("""
            SELECT p.openid, p.id FROM persons p JOIN vouchers v ON v.person_id = p.id
            WHERE p.openid LIKE 'bench-%' GROUP BY p.id
            ORDER BY count(*) DESC, p.id LIMIT 1""")).one()


def _evaluate(services, person_id: int):
    from models.eligibility import evaluate

    with services.sessions.begin() as db:
        return evaluate(db, person_id=person_id, on=NOW.date())


def _wechat(app, config):
    from tests.wechat_server import WeChatServer

    return WeChatServer(app.test_client(), token=config.wechat_token, clock=FrozenClock(NOW))


def _say(wechat, openid: str, words: str):
    answer = wechat.say(openid, words)
    assert "补贴" in answer.text or "subsid" in answer.text.lower() or answer.text, answer
    return answer


def print_table(results) -> None:
    print("\n| what | runs | p50 | p95 | max | goal | load avg (1, 5, 15 min) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for label, times, limit, loadavg in results:
        p95 = _p95(times)
        print(f"| {label} | {len(times)} | {_ms(statistics.median(times))} | {_ms(p95)} | "
              f"{_ms(max(times))} | {_ms(limit)} | {loadavg} |", flush=True)


def _ms(seconds: float) -> str:
    if seconds == float("inf"):
        return "500 (3 s statement limit)"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def explain(engine: Engine) -> None:
    """EXPLAIN ANALYZE of the dashboard's aggregate for the province and a county, of a month
    of the audit log and of a mark's lookup (partition pruning: one partition read each)."""
    from sqlalchemy.dialects import postgresql

    from models.progress import ProgressFilter, counts_query, region_scope
    from models.regions import Region

    with make_sessionmaker(engine).begin() as db:
        county = db.query(Region.id).filter(Region.code == COUNTY).scalar()
        scope = region_scope(db, county)
    queries = {
        "dashboard aggregate, province 2026": counts_query(ProgressFilter(year=2026)),
        f"dashboard aggregate, county {COUNTY} 2026": counts_query(
            ProgressFilter(year=2026, region=scope)),
    }
    with engine.connect() as connection:
        for label, query in queries.items():
            sql = str(query.compile(dialect=postgresql.dialect(),
                                    compile_kwargs={"literal_binds": True}))
            plan = connection.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql)).scalars()
            print(f"\n-- {label}\n" + "\n".join(plan))
        plan = connection.execute(text(
            "EXPLAIN (ANALYZE) SELECT action, count(*) FROM audit_log "
            "WHERE at >= '2026-10-01 00:00+08' AND at < '2026-11-01 00:00+08' GROUP BY action"
        )).scalars()
        print("\n-- a month of the audit log (partitioned by quarter)\n" + "\n".join(plan))
        # The check-in's lookup of a mark (models.attendance.mark_of): one year's partition.
        mark = connection.execute(text(
            "SELECT session_id, day, person_id FROM attendance ORDER BY id DESC LIMIT 1")).one()
        plan = connection.execute(text(
            "EXPLAIN (ANALYZE) SELECT * FROM attendance WHERE session_id = :session "
            "AND day = :day AND person_id = :person"),
            {"session": mark.session_id, "day": mark.day, "person": mark.person_id}).scalars()
        print("\n-- a mark's lookup (attendance partitioned by year)\n" + "\n".join(plan))

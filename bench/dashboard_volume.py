"""The dashboard against a province-sized data set, on PostgreSQL (issue 8).

Makes a database of its own (``peixun_bench``), migrates it, loads the demo county, then
generates — with INSERT … SELECT generate_series, in the database — 1,000,000 persons,
200,000 vouchers over 4,000 courses (100,000 sessions), 5,000,000 attendance rows and a
follow-up for every completed voucher; then times the dashboard's queries as the page makes
them (``models.progress``), and the whole page through the app, and prints median and max.
The database is dropped at the end (``--keep`` keeps it for EXPLAIN by hand).

    .venv/bin/python -m bench.dashboard_volume            # or: make bench-volume
    PEIXUN_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres …
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from bench.people import desk_admin_client
from bench.timing import timed
from cli.database import migrate
from models.base import make_engine, make_sessionmaker
from models.clock import LOCAL_TZ, FrozenClock
from models.demo import load_demo
from models.pii import Vault
from models.progress import Measure, ProgressFilter, counts_query, people, progress
from runtime.config import Config

ADMIN_URL = os.environ.get("PEIXUN_BENCH_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "peixun_bench"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=LOCAL_TZ)
TODAY = NOW.date()
LIMIT_SECONDS = 1.0

PERSONS = 1_000_000
VOUCHERS = 200_000
COURSES = 4_000
SESSIONS_PER_COURSE = 25  # × 200,000 vouchers = 5,000,000 attendance rows
YEARS = (2024, 2025, 2026)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each query")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of the dashboard's grouped queries")
    args = parser.parse_args()
    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    url = make_url(ADMIN_URL).set(database=DATABASE)
    _recreate(admin)
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        started = time.perf_counter()
        generate(engine)
        print(f"generated in {time.perf_counter() - started:.0f} s: {_sizes(engine)}")
        results = time_dashboard(engine, url.render_as_string(hide_password=False), args.runs)
        if args.explain:
            explain(engine)
    finally:
        engine.dispose()
        if not args.keep:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        admin.dispose()
    print_table(results)
    slow = [name for name, times in results if max(times) >= LIMIT_SECONDS]
    if slow:
        print(f"SLOWER THAN {LIMIT_SECONDS:.0f} s: {', '.join(slow)}")
        return 1
    return 0


def _recreate(admin: Engine) -> None:
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {DATABASE}"))


# --- the data ------------------------------------------------------------------------------


def generate(engine: Engine) -> None:
    migrate(engine)
    with make_sessionmaker(engine).begin() as db:
        load_demo(db, vault=Vault(Config().data_key), now=NOW, today=TODAY)
    with engine.begin() as connection:
        # Generating takes minutes; the app's own statement timeout is for requests.
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        ids = _ids(connection)
        for name, statement in _statements(ids):
            started = time.perf_counter()
            rows = connection.execute(text(statement)).rowcount
            print(f"  {name}: {rows:,} rows in {time.perf_counter() - started:.1f} s",
                  flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("SET statement_timeout = 0"))
        connection.execute(text("VACUUM ANALYZE"))


def _ids(connection) -> dict[str, str]:
    def array(query: str) -> str:
        values = [str(v) for v in connection.execute(text(query)).scalars()]
        return "ARRAY[" + ",".join(values) + "]"

    return {
        "townships": array("SELECT id FROM regions WHERE level = 'township' ORDER BY id"),
        "categories": array("SELECT id FROM categories ORDER BY no"),
        "institutions": array("SELECT id FROM institutions ORDER BY id"),
    }


def _statements(ids: dict[str, str]) -> list[tuple[str, str]]:
    return _people_and_courses(ids) + _vouchers_and_after()


def _people_and_courses(ids: dict[str, str]) -> list[tuple[str, str]]:
    townships, categories, institutions = ids["townships"], ids["categories"], ids["institutions"]
    first_year = YEARS[0]
    return [
        ("persons", f"""
            INSERT INTO persons (openid, locale, is_following, created_at, name, id_hash,
                                 id_masked, phone_masked, township_id, intent, draws_pension,
                                 consent_at, consent_how, registered_at)
            SELECT 'bench-' || g, 'zh_Hans_CN', true, now(), '学员' || g, md5('id' || g),
                   '5303**********' || lpad((g % 10000)::text, 4, '0'),
                   '139****' || lpad((g % 10000)::text, 4, '0'),
                   ({townships})[1 + g % cardinality({townships})],
                   (ARRAY['local','province','outside'])[1 + g % 3], false, now(), 'wechat',
                   now()
            FROM generate_series(1, {PERSONS}) AS g"""),
        ("courses", f"""
            INSERT INTO courses (code, institution_id, category_id, name, name_en, occupation,
                                 occupation_en, certificate_kind, theory_hours, practice_hours,
                                 capacity, fee_yuan, is_entrepreneurship, township_id, address,
                                 requires_checkout, completion_share, description, starts_on,
                                 ends_on, status, published_at)
            SELECT 'bench-' || k,
                   ({institutions})[1 + k % cardinality({institutions})],
                   ({categories})[1 + k % cardinality({categories})],
                   '培训班' || k, 'Class ' || k, '工种', 'Trade', 'skill_level', 40, 80, 50, 0,
                   false, ({townships})[1 + k % cardinality({townships})], '地址', false, 0.9,
                   '', make_date({first_year} + k % {len(YEARS)}, 1 + k % 12, 1 + k % 28),
                   make_date({first_year} + k % {len(YEARS)}, 1 + k % 12, 1 + k % 28) + 30,
                   'closed', now()
            FROM generate_series(0, {COURSES - 1}) AS k"""),
        ("sessions", f"""
            INSERT INTO class_sessions (course_id, day, starts, ends)
            SELECT c.id, c.starts_on + n, time '09:00', time '12:00'
            FROM courses c CROSS JOIN generate_series(0, {SESSIONS_PER_COURSE - 1}) AS n
            WHERE c.code LIKE 'bench-%'
            ORDER BY c.id, n"""),
    ]


def _vouchers_and_after() -> list[tuple[str, str]]:
    first_year = YEARS[0]
    return [
        # Voucher g: person 5g (distinct), course (7919 g mod COURSES); the year is the
        # course's. Statuses by g mod 100: 15% issued, 20% redeemed, 50% completed, 10%
        # settled, 3% expired, 2% cancelled; 80% of completions certified.
        ("vouchers", f"""
            WITH picked AS (
                SELECT g, p.base + (g - 1) * 5 AS person_id,
                       c.base + (g::bigint * 7919) % {COURSES} AS course_id,
                       {first_year} + ((g::bigint * 7919) % {COURSES}) % {len(YEARS)} AS year,
                       CASE WHEN g % 100 < 15 THEN 'issued' WHEN g % 100 < 35 THEN 'redeemed'
                            WHEN g % 100 < 85 THEN 'completed'
                            WHEN g % 100 < 95 THEN 'settled'
                            WHEN g % 100 < 98 THEN 'expired' ELSE 'cancelled' END AS status
                FROM generate_series(1, {VOUCHERS}) AS g,
                     (SELECT min(id) AS base FROM persons WHERE openid LIKE 'bench-%') AS p,
                     (SELECT min(id) AS base FROM courses WHERE code LIKE 'bench-%') AS c)
            INSERT INTO vouchers (number, person_id, course_id, status, year, claimed_at,
                                  claimed_via, expires_at, redeemed_at, completed_at, certified,
                                  certificate_no, settled_at)
            SELECT 'PXB' || lpad(g::text, 9, '0'), person_id, course_id, status, year, now(),
                   'wechat', now(),
                   CASE WHEN status IN ('redeemed', 'completed', 'settled') THEN now() END,
                   CASE WHEN status IN ('completed', 'settled') THEN now() END,
                   CASE WHEN status IN ('completed', 'settled') THEN g % 10 < 8 END,
                   CASE WHEN status IN ('completed', 'settled') AND g % 10 < 8
                        THEN 'C' || g END,
                   CASE WHEN status = 'settled' THEN now() END
            FROM picked"""),
        ("attendance", f"""
            INSERT INTO attendance (session_id, day, person_id, voucher_id, is_present, hours,
                                    how)
            SELECT s.base + (v.course_id - c.base) * {SESSIONS_PER_COURSE} + n,
                   course.starts_on + n, v.person_id, v.id, n % 10 <> 0,
                   CASE WHEN n % 10 <> 0 THEN 3 ELSE 0 END, 'scan'
            FROM vouchers v JOIN courses course ON course.id = v.course_id
                 CROSS JOIN generate_series(0, {SESSIONS_PER_COURSE - 1}) AS n,
                 (SELECT min(id) AS base FROM courses WHERE code LIKE 'bench-%') AS c,
                 (SELECT min(cs.id) AS base FROM class_sessions cs JOIN courses k
                    ON k.id = cs.course_id WHERE k.code LIKE 'bench-%') AS s
            WHERE v.number LIKE 'PXB%'"""),
        # A month after: 70% answer, employed in four answers of five.
        ("follow-ups", """
            INSERT INTO follow_ups (voucher_id, person_id, course_id, round_months, due_on,
                                    asked_at, answered_at, work, channel)
            SELECT v.id, v.person_id, v.course_id, 1, current_date, now(),
                   CASE WHEN v.id % 10 < 7 THEN now() END,
                   CASE WHEN v.id % 10 < 7 THEN (ARRAY['local','province','outside',
                        'self_employed','not_yet'])[1 + v.id % 5] END,
                   'wechat'
            FROM vouchers v
            WHERE v.number LIKE 'PXB%' AND v.status IN ('completed', 'settled')"""),
    ]


def _sizes(engine: Engine) -> str:
    with engine.connect() as connection:
        counts = {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                  for table in ("persons", "courses", "vouchers", "attendance", "follow_ups")}
    return ", ".join(f"{table} {count:,}" for table, count in counts.items())


# --- the timing ----------------------------------------------------------------------------


def time_dashboard(engine: Engine, url: str, runs: int) -> list[tuple[str, list[float]]]:
    sessions = make_sessionmaker(engine)
    with engine.connect() as connection:
        ids = {name: connection.execute(text(query)).scalar() for name, query in (
            ("township", "SELECT id FROM regions WHERE code = 'majie'"),
            ("category", "SELECT id FROM categories WHERE code = 'ecommerce'"),
            ("institution", "SELECT id FROM institutions WHERE code = 'lp-zhongzhi'"))}
    cases: list[tuple[str, Callable[[], object]]] = []
    for label, filters in (
        ("progress(), year 2026", ProgressFilter(year=2026)),
        ("progress(), year 2026, one township", ProgressFilter(year=2026,
                                                              township_id=ids["township"])),
        ("progress(), year 2026, one category", ProgressFilter(year=2026,
                                                              category_id=ids["category"])),
        ("progress(), year 2026, one institution",
         ProgressFilter(year=2026, institution_id=ids["institution"])),
    ):
        cases.append((label, _in_transaction(sessions, progress, filters=filters,
                                             today=TODAY)))
    cases.append(("people(), employed, one township, page 1",
                  _in_transaction(sessions, people, measure=Measure.EMPLOYED,
                                  filters=ProgressFilter(year=2026,
                                                         township_id=ids["township"]))))
    cases.append(("GET /admin/dashboard (whole page, signed in)", _page(engine, url)))
    results = []
    for label, call in cases:
        times = timed(call, runs)
        results.append((label, times))
        print(f"  {label}: median {statistics.median(times) * 1000:.0f} ms", flush=True)
    return results


def _in_transaction(sessions, fn, **kw) -> Callable[[], object]:
    def call():
        with sessions.begin() as db:  # as the page does: one transaction
            return fn(db, **kw)

    return call


def _page(engine: Engine, url: str) -> Callable[[], object]:
    from webhooks.app import create_app

    app = create_app(Config(database_url=url, testing=True), engine=engine,
                     clock=FrozenClock(NOW))
    logging.getLogger("peixun.request").setLevel(logging.WARNING)  # a line a request: noise here
    client = desk_admin_client(app, engine, now=NOW)

    def call():
        response = client.get("/admin/dashboard?year=2026")
        assert response.status_code == 200, response.status_code
        return response

    return call


def explain(engine: Engine) -> None:
    """EXPLAIN ANALYZE of progress()'s aggregate query for 2026, as PostgreSQL runs it."""
    from sqlalchemy.dialects import postgresql

    query = counts_query(ProgressFilter(year=2026))
    sql = str(query.compile(dialect=postgresql.dialect(),
                            compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        plan = connection.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql)).scalars()
        print(f"\n{sql}\n")
        print("\n".join(plan))


def print_table(results: list[tuple[str, list[float]]]) -> None:
    print(f"\n{PERSONS:,} persons, {VOUCHERS:,} vouchers, "
          f"{VOUCHERS * SESSIONS_PER_COURSE:,} attendance rows; PostgreSQL; "
          f"{len(results[0][1]) if results else 0} runs each after one warm-up\n")
    print("| query | median | max |")
    print("|---|---:|---:|")
    for label, times in results:
        print(f"| {label} | {statistics.median(times) * 1000:.0f} ms | "
              f"{max(times) * 1000:.0f} ms |")


if __name__ == "__main__":
    sys.exit(main())

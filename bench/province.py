"""A province on one deployment (issue 19): the real schema at a province's volume, on a
private PostgreSQL, and the pages that must stay fast on it.

    .venv/bin/python -m bench.province                 # or: make bench-volume
    .venv/bin/python -m bench.province --scale 0.1     # a tenth of every figure
    .venv/bin/python -m bench.province --keep          # keep the cluster (prints its directory)
    .venv/bin/python -m bench.province --reuse DIR     # measure again on a kept cluster

It initdbs a private PostgreSQL 15 (port 55440 or the next free one, under PEIXUN_BENCH_DIR,
default /var/tmp), migrates it with the app's own migrations (alembic upgrade head), loads the
demo county, then generates inside the database (INSERT … SELECT generate_series, nothing
crosses the wire): a province of 16 prefectures, 129 counties and ~1,550 townships; 10 million
persons (ID numbers and phones sealed: 500 values sealed by the app's Vault, reused; the keyed
hashes unique); 150,000 courses over 2024–2026 with 10 sessions each; 6 million vouchers (2
million a year); 50 million attendance rows; 20 million audit rows; follow-ups for the
completed. The marks are made in the schema of before they carried their day (c19v00000002),
and the upgrade to head is timed on them, as a province's own upgrade would run. Then audit_log
is partitioned by quarter and attendance by year by the product's own commands (`flask db
partition-audit`, `flask db partition-attendance`), each timed.
Secondary indexes and foreign keys are dropped for the load and built after it, as a bulk load
does. Then it times, through the app's own code: the dashboard page for the province, a
prefecture and a county; the quarterly ledger of a county as the export worker builds it; and a
person's SUBSIDY evaluation; and prints EXPLAIN of what was slow."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.pgcluster import Cluster, free_port, remove, wait_ready
from cli.database import migrate
from models import partitions
from models.base import make_engine, make_sessionmaker
from models.clock import LOCAL_TZ
from models.demo import load_demo
from models.partitions import Scheme, convert
from models.pii import Vault
from runtime.config import PROJECT_ROOT, Config

DATABASE = "peixun_province"
BEFORE_DAY = "c19v00000002"  # the revision before each mark carried its session's day
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=LOCAL_TZ)
TODAY = NOW.date()

PERSONS = 10_000_000
VOUCHERS = 6_000_000  # 2 million a year over 2024–2026
PER_COURSE = 40
SESSIONS = 10  # per course; present or absent marks for 83% of vouchers ≈ 50 million rows
AUDIT = 20_000_000
PREFECTURES = 16  # with the demo's Qujing
COUNTIES = 129  # with the demo's Luoping
TOWNSHIPS_PER_COUNTY = 12
SEALED_SAMPLES = 500
TABLES = ("persons", "courses", "class_sessions", "vouchers", "attendance", "audit_log",
          "follow_ups")

# A server for a province's database, not the defaults for a laptop: the settings that matter
# for these queries (the machine has 23 GB; a province's server would have more).
SETTINGS = {
    "shared_buffers": "2GB", "effective_cache_size": "12GB", "work_mem": "64MB",
    "maintenance_work_mem": "1GB", "max_wal_size": "4GB", "checkpoint_timeout": "30min",
    "wal_level": "replica", "max_wal_senders": "4", "jit": "off", "fsync": "on",
    "synchronous_commit": "off", "max_parallel_workers_per_gather": "2",
    "random_page_cost": "1.1", "max_connections": "200",
}


def log(*args: object) -> None:
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of every figure")
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each page")
    parser.add_argument("--keep", action="store_true", help="keep the cluster afterwards")
    parser.add_argument("--reuse", type=Path, help="a kept cluster's directory: measure only")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE too")
    args = parser.parse_args()
    if args.reuse:
        root = args.reuse
        port = int((root / "port").read_text())
        cluster = Cluster(root, "primary", port)
        if not (cluster.pgdata / "postmaster.pid").exists():
            cluster.start()
    else:
        base = os.environ.get("PEIXUN_BENCH_DIR", "/var/tmp")
        root = Path(tempfile.mkdtemp(prefix="peixun-province-", dir=base))
        port = free_port(55440)
        (root / "port").write_text(str(port))
        cluster = Cluster(root, "primary", port)
        cluster.init(SETTINGS)
        cluster.start()
    wait_ready(cluster.url)
    log(f"PostgreSQL at {cluster.url} in {root}")
    ok = False
    try:
        if not args.reuse:
            admin = make_engine(cluster.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {DATABASE}"))
            admin.dispose()
        engine = _engine(cluster.url_of(DATABASE))
        if not args.reuse:
            started = time.perf_counter()
            generate(engine, Sizes(args.scale))
            log(f"generated in {time.perf_counter() - started:.0f} s")
        log("sizes: " + sizes(engine))
        from bench.province_measure import explain, measure
        ok = measure(engine, cluster.url_of(DATABASE), runs=args.runs)
        if args.explain:
            explain(engine)
        engine.dispose()
    finally:
        if args.keep or args.reuse:
            log(f"kept: {root} (rerun: python -m bench.province --reuse {root})")
        else:
            remove(root, cluster)
    return 0 if ok else 1


def _engine(url: str) -> Engine:
    # Generating and building indexes take minutes: no statement limit for the bench's own work.
    return make_engine(url, connect_args={"options": "-c statement_timeout=0"})


class Sizes:
    def __init__(self, scale: float) -> None:
        self.persons = max(1000, int(PERSONS * scale))
        self.vouchers = max(400, int(VOUCHERS * scale))
        self.courses = max(30, self.vouchers // PER_COURSE)
        self.audit = max(1000, int(AUDIT * scale))


# --- the data ------------------------------------------------------------------------------


def generate(engine: Engine, n: Sizes) -> None:
    log("migrating (alembic upgrade head) and loading the demo county")
    migrate(engine)
    config = Config()
    vault = Vault(config.data_key)
    with make_sessionmaker(engine).begin() as db:
        load_demo(db, vault=vault, now=NOW, today=TODAY)
    # A province's marks were made before they carried their day: the schema of then, and the
    # upgrade timed once they are all there (README: in the maintenance window).
    _downgrade(engine, BEFORE_DAY)
    with engine.begin() as connection:
        dropped = _drop_secondary(connection)
    sealed_ids = _array([vault.seal(f"5303241990{i:04d}{i % 10:04d}"[:18]) for i in
                         range(SEALED_SAMPLES)])
    sealed_phones = _array([vault.seal(f"139{i:08d}") for i in range(SEALED_SAMPLES)])
    for name, statement in _regions() + _statements(n, sealed_ids, sealed_phones):
        started = time.perf_counter()
        with engine.begin() as connection:
            rows = connection.execute(text(statement)).rowcount
        log(f"  {name}: {rows:,} rows in {time.perf_counter() - started:.1f} s")
    for statement in dropped:
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text(statement))
        log(f"  {statement[:90]}: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    migrate(engine)
    log(f"  flask db upgrade (c19v00000003: each mark's day from its session, the keys that "
        f"hold it): {time.perf_counter() - started:.1f} s")
    _partition(engine, partitions.AUDIT, "partition-audit")
    _partition(engine, partitions.ATTENDANCE, "partition-attendance")
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    log(f"  VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")


def _downgrade(engine: Engine, revision: str) -> None:
    config = AlembicConfig(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _array(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v + "'" for v in values) + "]"


def _partition(engine: Engine, scheme: Scheme, command: str) -> None:
    """The table partitioned by the product's own conversion (`flask db partition-audit`, `flask
    db partition-attendance`, models.partitions), on the full table with its indexes and keys:
    the maintenance window a province would need, timed."""
    started = time.perf_counter()
    with make_sessionmaker(engine).begin() as db:
        done = convert(db, scheme, now=NOW)
    log(f"  {scheme.table} partitioned (flask db {command}): {done.rows:,} rows into "
        f"{len(done.made)} partitions in {time.perf_counter() - started:.1f} s")


def _drop_secondary(connection) -> list[str]:
    """Drop the big tables' foreign keys, unique constraints and indexes (not primary keys);
    return the statements that make them again, indexes first."""
    remake: list[str] = []
    tables = ",".join(f"'{t}'" for t in TABLES)
    constraints = connection.execute(text(f"""
        SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE conrelid::regclass::text IN ({tables}) AND contype IN ('u', 'f')
          AND conparentid = 0""")).all()
    indexes = connection.execute(text(f"""
        SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename IN ({tables}) AND i.schemaname = 'public'
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""")).all()
    for table, name, kind, definition in sorted(constraints, key=lambda c: c[2] == "f"):
        connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        remake.append((kind, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
    for _table, name, definition in indexes:
        connection.execute(text(f'DROP INDEX "{name}"'))
        remake.append(("i", definition))
    order = {"i": 0, "u": 1, "f": 2}
    return [statement for _, statement in sorted(remake, key=lambda r: order[r[0]])]


def _regions() -> list[tuple[str, str]]:
    return [
        ("prefectures", f"""
            INSERT INTO regions (code, name, name_en, level, parent_id)
            SELECT 'bp' || i, '州市' || i, 'Prefecture ' || i, 'prefecture',
                   (SELECT id FROM regions WHERE code = 'yunnan')
            FROM generate_series(1, {PREFECTURES - 1}) AS i"""),
        ("counties", f"""
            WITH p AS (SELECT array_agg(id ORDER BY id) AS ids FROM regions
                       WHERE level = 'prefecture')
            INSERT INTO regions (code, name, name_en, level, parent_id)
            SELECT 'bc' || j, '县' || j, 'County ' || j, 'county',
                   p.ids[1 + j % cardinality(p.ids)]
            FROM generate_series(1, {COUNTIES - 1}) AS j, p"""),
        ("townships", f"""
            INSERT INTO regions (code, name, name_en, level, parent_id)
            SELECT c.code || '-' || k, c.name || '镇' || k, c.name_en || ' town ' || k,
                   'township', c.id
            FROM regions c CROSS JOIN generate_series(1, {TOWNSHIPS_PER_COUNTY}) AS k
            WHERE c.level = 'county' AND c.code LIKE 'bc%'"""),
    ]


# The FROM items the statements share: every township's id, and the first bench person's,
# course's and class session's id (the rows after it are numbered from it).
TOWNS = "(SELECT array_agg(id ORDER BY id) AS ids FROM regions WHERE level = 'township') AS t"
PERSONS_BASE = "(SELECT min(id) AS base FROM persons WHERE openid LIKE 'bench-%') AS p"
COURSES_BASE = "(SELECT min(id) AS base FROM courses WHERE code LIKE 'bench-%') AS c"
SESSIONS_BASE = ("(SELECT min(cs.id) AS base FROM class_sessions cs JOIN courses k "
                 "ON k.id = cs.course_id WHERE k.code LIKE 'bench-%') AS s")


def _statements(n: Sizes, sealed_ids: str, sealed_phones: str) -> list[tuple[str, str]]:
    return _people_and_courses(n, sealed_ids, sealed_phones) + _vouchers_and_after(n)


def _people_and_courses(n: Sizes, sealed_ids: str, sealed_phones: str) -> list[tuple[str, str]]:
    towns, n_courses = TOWNS, n.courses
    return [
        # Person g lives in township T[1 + g mod |T|].
        ("persons", f"""
            INSERT INTO persons (openid, locale, is_following, created_at, name, id_sealed,
                                 id_hash, id_masked, sex, phone_sealed, phone_masked,
                                 birth_date, township_id, household_kind, intent,
                                 draws_pension, consent_at, consent_how, registered_at)
            SELECT 'bench-' || g, 'zh_Hans_CN', true, timestamptz '2024-01-01 08:00+08',
                   '学员' || g, ({sealed_ids})[1 + g % {SEALED_SAMPLES}],
                   md5('id' || g) || md5('salt' || g), '5303**********' || lpad(
                   (g % 10000)::text, 4, '0'), (ARRAY['M','F'])[1 + g % 2],
                   ({sealed_phones})[1 + g % {SEALED_SAMPLES}],
                   '139****' || lpad((g % 10000)::text, 4, '0'),
                   date '1970-01-01' + (g % 15000), t.ids[1 + g % cardinality(t.ids)],
                   (ARRAY['rural','urban'])[1 + g % 2],
                   (ARRAY['local','province','outside'])[1 + g % 3], false,
                   timestamptz '2024-01-01 08:00+08', 'wechat', timestamptz '2024-01-01 08:00+08'
            FROM generate_series(1, {n.persons}) AS g, {towns}"""),
        # Course k starts on day k·1095/C of 2024–2026, in township T[1 + k mod |T|].
        ("courses", f"""
            WITH inst AS (SELECT array_agg(id ORDER BY id) AS ids FROM institutions),
                 cat AS (SELECT array_agg(id ORDER BY no) AS ids FROM categories)
            INSERT INTO courses (code, institution_id, category_id, name, name_en, occupation,
                                 occupation_en, certificate_kind, theory_hours, practice_hours,
                                 capacity, fee_yuan, is_entrepreneurship, township_id, address,
                                 requires_checkout, completion_share, description, starts_on,
                                 ends_on, status, published_at, is_publicly_procured)
            SELECT 'bench-' || k, inst.ids[1 + k % cardinality(inst.ids)],
                   cat.ids[1 + k % cardinality(cat.ids)], '培训班' || k, 'Class ' || k,
                   '工种', 'Trade', 'skill_level', 12, 18, {PER_COURSE}, 0, false,
                   t.ids[1 + k % cardinality(t.ids)], '地址', false, 0.9, '',
                   date '2024-01-01' + (k::bigint * 1095 / {n_courses})::int,
                   date '2024-01-01' + (k::bigint * 1095 / {n_courses})::int + {SESSIONS},
                   'closed', timestamptz '2023-12-01 08:00+08', false
            FROM generate_series(0, {n_courses - 1}) AS k, inst, cat, {towns}"""),
        ("class_sessions", f"""
            INSERT INTO class_sessions (course_id, day, starts, ends)
            SELECT c.id, c.starts_on + n, time '09:00', time '12:00'
            FROM courses c CROSS JOIN generate_series(0, {SESSIONS - 1}) AS n
            WHERE c.code LIKE 'bench-%'
            ORDER BY c.id, n"""),
    ]


def _vouchers_and_after(n: Sizes) -> list[tuple[str, str]]:
    towns, pbase, cbase, sbase = TOWNS, PERSONS_BASE, COURSES_BASE, SESSIONS_BASE
    n_courses, seconds_3y = n.courses, 3 * 365 * 86400
    return [
        # Voucher g: course c = g mod C (its year), holder a person of the course's township,
        # the j-th (j = g div C) of a spread of them. Statuses by g mod 100: 15% issued,
        # 20% redeemed, 50% completed, 10% settled, 3% expired, 2% cancelled.
        ("vouchers", f"""
            WITH picked AS (
                SELECT g, g % {n_courses} AS c, g / {n_courses} AS j, k.starts_on,
                       CASE WHEN g % 100 < 15 THEN 'issued' WHEN g % 100 < 35 THEN 'redeemed'
                            WHEN g % 100 < 85 THEN 'completed'
                            WHEN g % 100 < 95 THEN 'settled'
                            WHEN g % 100 < 98 THEN 'expired' ELSE 'cancelled' END AS status
                FROM generate_series(0, {n.vouchers - 1}) AS g
                JOIN courses k ON k.code = 'bench-' || (g % {n_courses}))
            INSERT INTO vouchers (number, person_id, course_id, status, year, claimed_at,
                                  claimed_via, expires_at, redeemed_at, completed_at, certified,
                                  certificate_no, settled_at)
            SELECT 'PXB' || lpad(g::text, 9, '0'),
                   p.base - 1 + (picked.c % cardinality(t.ids)) + cardinality(t.ids) * (1 + (
                       j * 7919 + picked.c / cardinality(t.ids))
                       % ({n.persons} / cardinality(t.ids) - 1)),
                   c.base + picked.c, status, extract(year FROM starts_on)::int,
                   starts_on - 10 + time '10:00', 'wechat', starts_on + 30 + time '00:00',
                   CASE WHEN status IN ('redeemed', 'completed', 'settled')
                        THEN starts_on + time '09:00' END,
                   CASE WHEN status IN ('completed', 'settled')
                        THEN starts_on + {SESSIONS} + time '17:00' END,
                   CASE WHEN status IN ('completed', 'settled') THEN g % 10 < 8 END,
                   CASE WHEN status IN ('completed', 'settled') AND g % 10 < 8
                        THEN 'C' || g END,
                   CASE WHEN status = 'settled' THEN starts_on + 60 + time '00:00' END
            FROM picked, {pbase}, {cbase}, {towns}
            ORDER BY g"""),
        ("attendance", f"""
            INSERT INTO attendance (session_id, person_id, voucher_id, is_present, hours, how,
                                    checked_in_at)
            SELECT s.base + (v.course_id - c.base) * {SESSIONS} + n, v.person_id,
                   v.id, (v.id + n) % 10 <> 0, CASE WHEN (v.id + n) % 10 <> 0 THEN 3 ELSE 0 END,
                   'scan', CASE WHEN (v.id + n) % 10 <> 0 THEN v.redeemed_at + n * interval '1 day'
                   END
            FROM vouchers v CROSS JOIN generate_series(0, {SESSIONS - 1}) AS n, {cbase}, {sbase}
            WHERE v.number LIKE 'PXB%' AND v.status NOT IN ('issued', 'cancelled')"""),
        ("audit_log", f"""
            INSERT INTO audit_log (at, actor_id, channel, action, target_type, target_id,
                                   after)
            SELECT timestamptz '2024-01-01 00:00+08'
                       + (g::bigint * {seconds_3y} / {n.audit}) * interval '1 second',
                   p.base + (g::bigint * 7919) % {n.persons}, 'wechat',
                   (ARRAY['voucher.claim','attendance.scan','person.profile','voucher.redeem'])
                       [1 + g % 4], 'vouchers', g % {n.vouchers},
                   '{{"status": "issued"}}'::json
            FROM generate_series(1, {n.audit}) AS g, {pbase}"""),
        ("follow_ups", """
            INSERT INTO follow_ups (voucher_id, person_id, course_id, round_months, due_on,
                                    asked_at, answered_at, work, channel)
            SELECT v.id, v.person_id, v.course_id, 1, (v.completed_at + interval '30 days')::date,
                   v.completed_at + interval '30 days',
                   CASE WHEN v.id % 10 < 7 THEN v.completed_at + interval '31 days' END,
                   CASE WHEN v.id % 10 < 7 THEN (ARRAY['local','province','outside',
                        'self_employed','not_yet'])[1 + v.id % 5] END,
                   'wechat'
            FROM vouchers v
            WHERE v.number LIKE 'PXB%' AND v.status IN ('completed', 'settled')"""),
    ]


def sizes(engine: Engine) -> str:
    with engine.connect() as connection:
        counts = {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                  for table in TABLES}
        total = connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
    return (", ".join(f"{table} {count:,}" for table, count in counts.items())
            + f"; database {total / 2**30:.1f} GB")


if __name__ == "__main__":
    sys.exit(main())

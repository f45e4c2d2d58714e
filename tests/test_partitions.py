"""The audit log partitioned by quarter on PostgreSQL: `flask db partition-audit` converts the
live table in one transaction, keeping every row and id; rows written afterwards land in their
local quarter's partition; the worker makes the quarters ahead, and moves rows that fell into
DEFAULT. On a database of its own whose transactions really commit (the conversion is DDL).
SQLite keeps its one table: the command says there is nothing to do."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import fakeredis
import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from cli.database import migrate
from models import partitions
from models.audit import AuditEntry, Channel, audit
from models.base import make_engine
from models.catalogue import Course
from models.clock import LOCAL_TZ, FrozenClock
from models.demo_history import DEMO_SESSION_ACTION, demo_sessions
from models.partitions import AUDIT, make_partition, partition_of, to_make
from models.persons import Person, meet
from models.pii import Vault
from runtime.config import Config
from tests.conftest import START, committed_postgres, drift_from_models
from webhooks.app import create_app
from worker.periodic import run_jobs

# Per test, not the module's pytestmark: the SQLite test at the end needs no PostgreSQL.
postgres = pytest.mark.postgres

PARTITION_DB = f"peixun_partition{os.getpid()}"
COLUMNS = (AuditEntry.id, AuditEntry.at, AuditEntry.action, AuditEntry.target_type,
           AuditEntry.target_id, AuditEntry.actor_id, AuditEntry.desk_user_id)


def _app(engine: Engine, clock: FrozenClock) -> Flask:
    return create_app(Config(testing=True), engine=engine,
                      sessions=sessionmaker(engine, expire_on_commit=False),
                      kv=fakeredis.FakeRedis(decode_responses=True), clock=clock)


def _rows(engine: Engine) -> dict[int, tuple]:
    with engine.connect() as c:
        return {row[0]: tuple(row) for row in c.execute(select(*COLUMNS))}


def _shape(engine: Engine) -> dict:
    """What a reader of the schema sees of audit_log: its kind, key, indexes, foreign keys."""
    with engine.connect() as c:
        return {
            "kind": c.scalar(text(
                "SELECT relkind FROM pg_class WHERE oid = 'audit_log'::regclass")),
            "key": c.scalar(text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'audit_log'::regclass AND contype = 'p'")),
            "indexes": set(c.scalars(text(
                "SELECT indexrelid::regclass::text FROM pg_index "
                "WHERE indrelid = 'audit_log'::regclass AND NOT indisprimary"))),
            "foreign_keys": set(c.execute(text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'audit_log'::regclass AND contype = 'f'")).all()),
            "partitions": set(c.scalars(text(
                "SELECT inhrelid::regclass::text FROM pg_inherits "
                "WHERE inhparent = 'audit_log'::regclass"))),
        }


def _demo_sessions(engine: Engine) -> list[int]:
    """What the app reads of the audit log: the demo's sessions, labelled by their audit rows."""
    with sessionmaker(engine).begin() as db:
        course = db.scalars(select(Course).order_by(Course.id)).first()
        return [s.id for s in demo_sessions(db, course_id=course.id)]


@dataclass
class Converted:
    engine: Engine
    app: Flask
    clock: FrozenClock
    before: dict[int, tuple]
    shape_before: dict
    sessions_before: list[int]
    refused: Result
    refused_shape: dict
    said: Result


@pytest.fixture(scope="module")
def partition_engine():
    yield from committed_postgres(PARTITION_DB, Vault("partition"))


@pytest.fixture(scope="module")
def converted(partition_engine) -> Converted:
    """The demo county's database, converted by the command, after a first try refused
    because a transaction held the audit log."""
    engine = partition_engine
    clock = FrozenClock(START)
    app = _app(engine, clock)
    with sessionmaker(engine).begin() as db:  # a demo session labelled so, for the reader
        course = db.scalars(select(Course).order_by(Course.id)).first()
        audit(db, actor_id=None, channel=Channel.CLI, action=DEMO_SESSION_ACTION,
              target=course.sessions[0], at=START)
    before, shape_before = _rows(engine), _shape(engine)
    sessions_before = _demo_sessions(engine)
    refused, refused_shape = _refused_while_in_use(engine, app)
    said = app.test_cli_runner().invoke(args=["db", "partition-audit", "--lang", "en"])
    return Converted(engine, app, clock, before, shape_before, sessions_before, refused,
                     refused_shape, said)


def _refused_while_in_use(engine: Engine, app: Flask) -> tuple[Result, dict]:
    reader = engine.connect()
    reader.begin()
    reader.execute(text("SELECT count(*) FROM audit_log"))  # holds it till the rollback
    wait, partitions.LOCK_WAIT = partitions.LOCK_WAIT, "200ms"
    try:
        refused = app.test_cli_runner().invoke(args=["db", "partition-audit", "--lang", "en"])
    finally:
        partitions.LOCK_WAIT = wait
        reader.rollback()
        reader.close()
    return refused, _shape(engine)


@postgres
def test_a_table_in_use_is_not_converted_and_the_operator_is_told(converted):
    assert converted.refused.exit_code == 1
    assert "in use" in converted.refused.output and "Nothing was changed" in \
        converted.refused.output
    assert converted.refused_shape == converted.shape_before  # still the plain table


@postgres
def test_the_conversion_keeps_every_row_and_id_and_says_what_it_did(converted):
    shape = _shape(converted.engine)
    assert converted.said.exit_code == 0, converted.said.output
    assert _rows(converted.engine) == converted.before
    assert shape["kind"] == "p" and shape["key"] == "PRIMARY KEY (id, at)"
    assert shape["indexes"] == converted.shape_before["indexes"]  # same names, same columns
    assert shape["foreign_keys"] == converted.shape_before["foreign_keys"]
    # Quarters from the oldest row's to two after the clock's (2026 Q4), and DEFAULT.
    assert {"audit_log_2026q4", "audit_log_2027q1", "audit_log_2027q2",
            "audit_log_default"} <= shape["partitions"]
    assert "audit_log_2027q3" not in shape["partitions"]
    oldest = min(row[1] for row in converted.before.values())
    assert AUDIT.holding(oldest).name in shape["partitions"]
    assert f"{len(converted.before)} rows copied into {len(shape['partitions'])} partitions" \
        in converted.said.output


@postgres
def test_a_row_written_afterwards_lands_in_its_local_quarter_with_a_new_id(converted):
    sessions = sessionmaker(converted.engine, expire_on_commit=False)
    with sessions.begin() as db:  # first contact is audited
        person = meet(db, openid="o-partition-newcomer", now=START)
    with sessions.begin() as db:
        met = db.scalar(select(AuditEntry).where(AuditEntry.action == "person.first_contact",
                                                 AuditEntry.target_id == person.id))
        # Midnight past New Year in Luoping is still 2026 in UTC: the local quarter decides.
        new_year = audit(db, actor_id=person.id, channel=Channel.CLI, action="test.new_year",
                         target=person, at=datetime(2027, 1, 1, 0, 30, tzinfo=LOCAL_TZ))
    assert met.id > max(converted.before)
    with sessions() as db:
        assert partition_of(db, AUDIT, met.id) == "audit_log_2026q4"
        assert partition_of(db, AUDIT, new_year.id) == "audit_log_2027q1"
        assert db.get(AuditEntry, new_year.id).action == "test.new_year"


@postgres
def test_the_app_reads_the_audit_log_as_before_and_a_quarter_reads_one_partition(converted):
    assert converted.sessions_before
    assert _demo_sessions(converted.engine) == converted.sessions_before
    quarter = partitions.Quarter(2026, 4)
    with converted.engine.connect() as c:
        plan = "\n".join(c.scalars(text(
            "EXPLAIN SELECT count(*) FROM audit_log WHERE at >= :start AND at < :end"),
            {"start": quarter.start, "end": quarter.end}))
    assert "audit_log_2026q4" in plan
    assert "audit_log_2027q1" not in plan and "audit_log_default" not in plan


@postgres
def test_the_models_still_match_the_migrations_once_partitioned(converted):
    assert drift_from_models(converted.engine) == []


@postgres
def test_running_the_command_again_changes_nothing_and_says_so(converted):
    shape, rows = _shape(converted.engine), _rows(converted.engine)
    again = converted.app.test_cli_runner().invoke(args=["db", "partition-audit"])
    assert again.exit_code == 0
    assert "已经按季度分区" in again.output and "未作任何改动" in again.output
    assert _shape(converted.engine) == shape and _rows(converted.engine) == rows


@postgres
def test_the_worker_makes_the_next_quarters_and_a_second_round_makes_none(converted):
    services = converted.app.extensions["peixun"]
    converted.clock.set(datetime(2027, 5, 10, 9, 0, tzinfo=LOCAL_TZ))  # 2027 Q2
    try:
        assert run_jobs(services)["audit_partitions_made"] == 2
        assert {"audit_log_2027q3", "audit_log_2027q4"} <= _shape(converted.engine)["partitions"]
        assert run_jobs(services)["audit_partitions_made"] == 0
    finally:
        converted.clock.set(START)


@postgres
def test_rows_in_default_are_warned_of_and_moved_to_their_quarter(converted, caplog):
    sessions = sessionmaker(converted.engine, expire_on_commit=False)
    with sessions.begin() as db:
        person = db.scalar(select(Person).order_by(Person.id))
        late = audit(db, actor_id=None, channel=Channel.CLI, action="test.far_ahead",
                     target=person, at=datetime(2029, 1, 1, 0, 30, tzinfo=LOCAL_TZ))
    with sessions() as db:
        assert partition_of(db, AUDIT, late.id) == "audit_log_default"
    with caplog.at_level(logging.WARNING, logger="models.partitions"):
        made = run_jobs(converted.app.extensions["peixun"])["audit_partitions_made"]
    assert made == 1
    assert [r for r in caplog.records if "audit_log_default" in r.getMessage()
            and r.levelno == logging.WARNING]
    with sessions() as db:
        assert partition_of(db, AUDIT, late.id) == "audit_log_2029q1"
        assert db.scalar(text("SELECT count(*) FROM audit_log_default")) == 0


def _waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as c:
        return bool(c.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")))


@postgres
def test_a_quarter_detached_for_its_archive_is_warned_of_and_the_round_goes_on(converted,
                                                                             caplog):
    """Between DETACH and DROP (README, archiving a quarter) the quarter is a plain table: the
    worker says so and carries on, instead of failing every minute on its name."""
    with converted.engine.begin() as c:
        c.execute(text("ALTER TABLE audit_log DETACH PARTITION audit_log_2027q1"))
    try:
        with caplog.at_level(logging.WARNING, logger="models.partitions"):
            assert run_jobs(converted.app.extensions["peixun"])["audit_partitions_made"] == 0
        assert [r for r in caplog.records if "audit_log_2027q1" in r.getMessage()]
    finally:
        with converted.engine.begin() as c:
            c.execute(text("ALTER TABLE audit_log ATTACH PARTITION audit_log_2027q1 FOR VALUES "
                           "FROM ('2027-01-01 00:00+08') TO ('2027-04-01 00:00+08')"))


@postgres
def test_two_workers_at_once_make_each_partition_once(converted):
    later = datetime(2028, 1, 15, tzinfo=LOCAL_TZ)  # 2028 Q1 to Q3: none made yet
    sessions = sessionmaker(converted.engine)
    with sessions() as db:
        quarters = to_make(db, AUDIT, now=later)
    assert [q.name for q in quarters] == ["audit_log_2028q1", "audit_log_2028q2",
                                          "audit_log_2028q3"]
    first = sessions()
    first.begin()
    assert make_partition(first, quarters[0])  # made, not committed
    made: list[bool] = []

    def second_worker() -> None:
        with sessions.begin() as db:
            made.append(make_partition(db, quarters[0]))

    second = threading.Thread(target=second_worker)
    second.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _waiting_on_a_lock(converted.engine):
        time.sleep(0.05)
    first.commit()
    first.close()
    second.join(30)
    assert made == [False]  # it waited, then found it made (it did not fail)
    for quarter in quarters[1:]:
        with sessions.begin() as db:
            assert make_partition(db, quarter)
    assert {"audit_log_2028q1", "audit_log_2028q3"} <= _shape(converted.engine)["partitions"]


def test_on_sqlite_the_command_has_nothing_to_do_and_changes_nothing(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'county.db'}")
    migrate(engine)
    schema = "SELECT sql FROM sqlite_master WHERE tbl_name = 'audit_log' ORDER BY name"
    with engine.connect() as c:
        before = c.scalars(text(schema)).all()
    app = _app(engine, FrozenClock(START))
    said = app.test_cli_runner().invoke(args=["db", "partition-audit"])
    assert said.exit_code == 0
    assert "无需操作" in said.output and "SQLite" in said.output
    assert run_jobs(app.extensions["peixun"])["audit_partitions_made"] == 0
    with engine.connect() as c:
        assert c.scalars(text(schema)).all() == before
    engine.dispose()

"""Attendance partitioned by the year of its session's day on PostgreSQL (README, "Tables that
grow without end"). Every mark carries its session's day, and the upgrade gives the marks made
before it theirs. `flask db partition-attendance` converts the live table in one transaction,
keeping every mark, id, key and index. A trainee's scan lands in its year's partition and still
counts once. The worker makes next year's partition ahead, moves marks that fell into DEFAULT,
and leaves a busy table for the next round without failing. On a database of its own whose
transactions really commit (the conversion is DDL). SQLite keeps its one table."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import fakeredis
import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from click.testing import Result
from flask import Flask
from sqlalchemy import event, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from cli.database import migrate
from models import partitions
from models.attendance import Attendance, MarkHow, mark_of
from models.base import make_engine
from models.catalogue import ClassSession, Course
from models.clock import LOCAL_TZ, FrozenClock
from models.demo import load_demo
from models.demo_history import load_history
from models.partitions import ATTENDANCE, partition_of
from models.persons import Person
from models.pii import Vault
from models.vouchers import Voucher, VoucherStatus
from runtime.config import PROJECT_ROOT, Config
from tests.conftest import START, committed_postgres, drift_from_models
from tests.factories import AFTERNOON, TODAY_CLASS
from tests.wechat_server import WeChatServer
from webhooks.app import create_app
from worker.periodic import run_jobs

postgres = pytest.mark.postgres

PARTITION_DB = f"peixun_attendance_parts{os.getpid()}"
BEFORE_DAY = "c19v00000002"  # the revision before marks carried their day
TRAINEE, STAFF = "demo-trainee", "demo-staff"


def _alembic() -> AlembicConfig:
    config = AlembicConfig(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


def _days(engine: Engine) -> list[tuple]:
    """Each mark's id, its day, and its session's day."""
    with engine.connect() as c:
        return c.execute(text(
            "SELECT a.id, a.day, s.day FROM attendance a "
            "JOIN class_sessions s ON s.id = a.session_id ORDER BY a.id")).all()


def _downgraded_then_upgraded(engine: Engine) -> list[tuple]:
    """The schema of before marks carried their day (its marks losing it), then the upgrade."""
    config = _alembic()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, BEFORE_DAY)
    with engine.connect() as c:
        assert "day" not in {row[1] for row in c.exec_driver_sql(
            "SELECT 0, column_name FROM information_schema.columns "
            "WHERE table_name = 'attendance'" if engine.dialect.name == "postgresql"
            else "PRAGMA table_info(attendance)")}
    migrate(engine)
    return _days(engine)


def _marked(engine: Engine) -> None:
    """Marks of the demo's enrolled trainees for the first sessions of their classes."""
    with sessionmaker(engine).begin() as db:
        for voucher in db.scalars(select(Voucher).where(
                Voucher.status == VoucherStatus.REDEEMED)):
            for session in voucher.course.sessions[:3]:
                db.add(Attendance.of(session, person_id=voucher.person_id,
                                     voucher_id=voucher.id, is_present=True,
                                     hours=session.hours, how=MarkHow.SCAN))


def test_on_sqlite_the_upgrade_gives_every_earlier_mark_its_sessions_day(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'county.db'}")
    migrate(engine)
    with sessionmaker(engine).begin() as db:
        load_demo(db, vault=Vault("upgrade"), now=START, today=START.date())
    _marked(engine)
    before = _days(engine)
    after = _downgraded_then_upgraded(engine)
    assert len({s for _, _, s in before}) > 1  # marks of several days
    assert [(i, s) for i, _, s in after] == [(i, s) for i, _, s in before]
    assert all(day == session_day for _, day, session_day in after)
    engine.dispose()


@postgres
def test_on_postgres_the_upgrade_gave_every_earlier_mark_its_sessions_day(converted):
    """The module's database: a year of the demo's history, downgraded and upgraded before
    its conversion."""
    before, after = converted.days_before_upgrade, converted.days_after_upgrade
    assert len({s.year for _, _, s in before}) == 2  # November 2025 to November 2026
    assert [(i, s) for i, _, s in after] == [(i, s) for i, _, s in before]
    assert all(day == session_day for _, day, session_day in after)


def test_a_mark_whose_day_is_not_its_sessions_is_refused_by_the_database(db):
    """Every writer is held to it, not only Attendance.of: a mark dated a day off its session
    would slip past the unique key (session, person, day) and count the class twice."""
    voucher = db.scalar(select(Voucher).where(Voucher.status == VoucherStatus.REDEEMED))
    session = voucher.course.sessions[0]
    db.add(Attendance.of(session, person_id=voucher.person_id, voucher_id=voucher.id,
                         is_present=True, hours=session.hours, how=MarkHow.SCAN))
    db.flush()
    second = Attendance(session_id=session.id, day=session.day + timedelta(days=1),
                        person_id=voucher.person_id, voucher_id=voucher.id, is_present=True,
                        hours=session.hours, how=MarkHow.SCAN)
    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(second)
        db.flush()
    assert db.scalar(select(func.count(Attendance.id)).where(
        Attendance.session_id == session.id, Attendance.person_id == voucher.person_id)) == 1


# --- the conversion, on PostgreSQL ----------------------------------------------------------


def _shape(engine: Engine) -> dict:
    """What a reader of the schema sees of attendance: its kind, keys, indexes, partitions."""
    with engine.connect() as c:
        constraints = dict(c.execute(text(
            "SELECT contype::text || ':' || conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'attendance'::regclass AND contype IN ('p', 'u', 'f')")).all())
        return {
            "kind": c.scalar(text(
                "SELECT relkind FROM pg_class WHERE oid = 'attendance'::regclass")),
            "key": next(v for k, v in constraints.items() if k.startswith("p:")),
            "constraints": {k: v for k, v in constraints.items() if not k.startswith("p:")},
            "indexes": set(c.scalars(text(
                "SELECT indexrelid::regclass::text FROM pg_index i "
                "WHERE indrelid = 'attendance'::regclass AND NOT indisprimary AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"))),
            "partitions": set(c.scalars(text(
                "SELECT inhrelid::regclass::text FROM pg_inherits "
                "WHERE inhparent = 'attendance'::regclass"))),
        }


def _marks(engine: Engine) -> dict[int, tuple]:
    with engine.connect() as c:
        return {row[0]: tuple(row) for row in c.execute(select(
            Attendance.id, Attendance.session_id, Attendance.day, Attendance.person_id,
            Attendance.voucher_id, Attendance.is_present, Attendance.hours, Attendance.how))}


@dataclass
class Converted:
    engine: Engine
    app: Flask
    clock: FrozenClock
    wechat: WeChatServer
    before: dict[int, tuple]
    shape_before: dict
    refused: Result
    refused_shape: dict
    said: Result
    days_before_upgrade: list[tuple]
    days_after_upgrade: list[tuple]


@pytest.fixture(scope="module")
def partition_engine():
    """The demo county with a year of its history: marks of two years."""
    vault = Vault("attendance-parts")
    for engine in committed_postgres(PARTITION_DB, vault):
        with sessionmaker(engine).begin() as db:
            load_history(db, vault=vault, now=START)
        yield engine


@pytest.fixture(scope="module")
def converted(partition_engine, fake_wechat) -> Converted:
    """The demo county's database, attendance converted by the command, after a first try
    refused because a transaction held it."""
    engine, clock = partition_engine, FrozenClock(START)
    days_before_upgrade = _days(engine)
    days_after_upgrade = _downgraded_then_upgraded(engine)
    config = Config(testing=True, wechat_api_base_url=fake_wechat.base_url,
                    public_base_url="http://peixun.test")
    app = create_app(config, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False),
                     kv=fakeredis.FakeRedis(decode_responses=True), clock=clock)
    before, shape_before = _marks(engine), _shape(engine)
    reader = engine.connect()
    reader.begin()
    reader.execute(text("SELECT count(*) FROM attendance"))  # holds it till the rollback
    wait, partitions.LOCK_WAIT = partitions.LOCK_WAIT, "200ms"
    try:
        refused = app.test_cli_runner().invoke(
            args=["db", "partition-attendance", "--lang", "en"])
    finally:
        partitions.LOCK_WAIT = wait
        reader.rollback()
        reader.close()
    refused_shape = _shape(engine)
    said = app.test_cli_runner().invoke(args=["db", "partition-attendance", "--lang", "en"])
    wechat = WeChatServer(app.test_client(), token=config.wechat_token, clock=clock)
    return Converted(engine, app, clock, wechat, before, shape_before, refused, refused_shape,
                     said, days_before_upgrade, days_after_upgrade)


@postgres
def test_attendance_in_use_is_not_converted_and_the_operator_is_told(converted):
    assert converted.refused.exit_code == 1
    assert "Attendance is in use" in converted.refused.output
    assert "Nothing was changed" in converted.refused.output
    assert converted.refused_shape == converted.shape_before  # still the plain table


@postgres
def test_the_conversion_keeps_every_mark_key_and_index_and_says_what_it_did(converted):
    shape = _shape(converted.engine)
    assert converted.said.exit_code == 0, converted.said.output
    assert converted.before and _marks(converted.engine) == converted.before
    assert shape["kind"] == "p" and shape["key"] == "PRIMARY KEY (id, day)"
    assert shape["constraints"] == converted.shape_before["constraints"]
    assert shape["constraints"]["u:uq_attendance_session_id_person_id_day"] == \
        "UNIQUE (session_id, person_id, day)"
    assert shape["indexes"] == converted.shape_before["indexes"]
    years = {day.year for _, _, day, *_ in converted.before.values()}
    # From the oldest mark's year to the one after the clock's (2026), and DEFAULT.
    wanted = {f"attendance_{y}" for y in range(min(years), 2028)} | {"attendance_default"}
    assert shape["partitions"] == wanted
    assert f"{len(converted.before)} rows copied into {len(wanted)} partitions" in \
        converted.said.output


@postgres
def test_the_models_still_match_the_migrations_once_attendance_is_partitioned(converted):
    assert drift_from_models(converted.engine) == []


@postgres
def test_running_the_command_again_changes_nothing_and_says_so(converted):
    shape, marks = _shape(converted.engine), _marks(converted.engine)
    again = converted.app.test_cli_runner().invoke(args=["db", "partition-attendance"])
    assert again.exit_code == 0
    assert "已经按年分区" in again.output and "未作任何改动" in again.output
    assert _shape(converted.engine) == shape and _marks(converted.engine) == marks


def _afternoon(converted: Converted) -> int:
    """Today's opened 13:00 session of the demo's class."""
    with sessionmaker(converted.engine).begin() as db:
        return db.scalar(select(ClassSession.id).join(Course).where(
            Course.code == TODAY_CLASS, ClassSession.day == converted.clock.today(),
            ClassSession.starts == time(13), ClassSession.opened_at.is_not(None)))


def _class_code(converted: Converted) -> str:
    return converted.app.extensions["peixun"].class_codes.show(
        _afternoon(converted), converted.clock.now()).code


@postgres
def test_a_scan_on_the_partitioned_table_lands_in_its_year_and_counts_once(converted):
    """The chat's check-in, as WeChat delivers it: the mark is in attendance_2026, a second
    scan changes nothing, and the unique key still refuses a second mark of the class."""
    wechat = converted.wechat
    converted.clock.set(AFTERNOON)
    assert "已开课" in wechat.say(STAFF, "开课").text
    with sessionmaker(converted.engine).begin() as db:
        course = db.scalar(select(Course).where(Course.code == TODAY_CLASS))
        lat, lng = course.lat, course.lng
    wechat.report_location(TRAINEE, lat + 0.0005, lng)
    assert "签到成功" in wechat.scan(TRAINEE, "CHECKIN", _class_code(converted)).text
    assert "已经签到过了" in wechat.scan(TRAINEE, "CHECKIN", _class_code(converted)).text
    sessions = sessionmaker(converted.engine, expire_on_commit=False)
    with sessions() as db:
        [mark] = db.scalars(select(Attendance).join(Person, Person.id == Attendance.person_id)
                            .where(Attendance.session_id == _afternoon(converted),
                                   Person.openid == TRAINEE)).all()
        assert partition_of(db, ATTENDANCE, mark.id) == "attendance_2026"
        session = db.get(ClassSession, mark.session_id)
    with pytest.raises(IntegrityError), sessions.begin() as db:
        db.add(Attendance.of(session, person_id=mark.person_id, voucher_id=mark.voucher_id,
                             is_present=True, hours=session.hours, how=mark.how))


@postgres
def test_a_marks_lookup_reads_one_years_partition(converted):
    """The check-in's and the hand mark's lookup (models.attendance.mark_of), as the app
    compiles it, reads one partition; and the ORM writes a mark back by its id and day."""
    with sessionmaker(converted.engine)() as db:  # rolled back at the end
        mark = db.scalar(select(Attendance).order_by(Attendance.id.desc()))
        year = f"attendance_{mark.day.year}"
        lookup = select(Attendance).where(*mark_of(mark.session, mark.person_id))
        sql = str(lookup.compile(dialect=postgresql.dialect(),
                                 compile_kwargs={"literal_binds": True}))
        plan = "\n".join(db.scalars(text("EXPLAIN " + sql)))
        mark.reason = "改正"
        statements = []
        event.listen(db.connection(), "before_cursor_execute",
                     lambda *args: statements.append(args[2]))
        db.flush()
    assert year in plan and "attendance_default" not in plan
    assert [p for p in _shape(converted.engine)["partitions"] if p in plan] == [year]
    [written] = [s for s in statements if s.startswith("UPDATE attendance")]
    assert "attendance.day = " in written


@postgres
def test_the_upgrade_is_not_undone_once_attendance_is_partitioned(converted):
    """Downgrading past the day would drop the partition key: refused, and nothing changed."""
    shape, marks = _shape(converted.engine), _marks(converted.engine)
    config = _alembic()
    with pytest.raises(RuntimeError, match="partitioned"), converted.engine.begin() as c:
        config.attributes["connection"] = c
        command.downgrade(config, BEFORE_DAY)
    assert _shape(converted.engine) == shape and _marks(converted.engine) == marks


@postgres
def test_the_worker_makes_next_years_partition_and_a_second_round_makes_none(converted):
    services = converted.app.extensions["peixun"]
    converted.clock.set(datetime(2027, 3, 1, 9, 0, tzinfo=LOCAL_TZ))
    try:
        assert run_jobs(services)["attendance_partitions_made"] == 1
        assert "attendance_2028" in _shape(converted.engine)["partitions"]
        assert run_jobs(services)["attendance_partitions_made"] == 0
    finally:
        converted.clock.set(START)


@postgres
def test_marks_in_default_are_warned_of_and_moved_to_their_year(converted, caplog):
    """A class far ahead, marked before its year's partition was made: the mark falls into
    DEFAULT; the worker says so and moves it."""
    sessions = sessionmaker(converted.engine, expire_on_commit=False)
    with sessions.begin() as db:
        mark = db.scalar(select(Attendance).order_by(Attendance.id))
        far = ClassSession(course_id=db.get(ClassSession, mark.session_id).course_id,
                           day=date(2031, 1, 1), starts=time(9), ends=time(12))
        db.add(far)
        db.flush()
        late = Attendance.of(far, person_id=mark.person_id, voucher_id=mark.voucher_id,
                             is_present=True, hours=3, how=mark.how)
        db.add(late)
    with sessions() as db:
        assert partition_of(db, ATTENDANCE, late.id) == "attendance_default"
    with caplog.at_level(logging.WARNING, logger="models.partitions"):
        made = run_jobs(converted.app.extensions["peixun"])["attendance_partitions_made"]
    assert made == 1
    assert [r for r in caplog.records if "attendance_default" in r.getMessage()
            and r.levelno == logging.WARNING]
    with sessions() as db:
        assert partition_of(db, ATTENDANCE, late.id) == "attendance_2031"
        assert db.scalar(text("SELECT count(*) FROM attendance_default")) == 0


@postgres
def test_a_busy_table_leaves_its_partition_to_the_next_round_without_failing(converted,
                                                                           caplog):
    """The worker's lock wait is short (WORKER_LOCK_WAIT): while a transaction holds the
    audit log against attaching (not against writing), its quarter is not made, the round goes
    on and makes attendance's years, and the next round makes the quarters."""
    runner = converted.app.test_cli_runner()
    assert runner.invoke(args=["db", "partition-audit"]).exit_code == 0
    services = converted.app.extensions["peixun"]
    converted.clock.set(datetime(2032, 8, 1, 9, 0, tzinfo=LOCAL_TZ))  # neither table has it
    holder = converted.engine.connect()
    holder.begin()
    holder.execute(text("LOCK TABLE audit_log IN SHARE UPDATE EXCLUSIVE MODE"))
    try:
        with caplog.at_level(logging.WARNING, logger="worker.periodic"):
            done = run_jobs(services)
        holder.rollback()
        assert done["audit_partitions_made"] == 0
        assert done["attendance_partitions_made"] == 2  # 2032, 2033
        [busy] = [r.getMessage() for r in caplog.records if r.name == "worker.periodic"]
        assert "audit_log_2032q3 not made" in busy and "next round" in busy
        assert run_jobs(services)["audit_partitions_made"] == 3
    finally:
        holder.close()
        converted.clock.set(START)


def test_on_sqlite_the_command_has_nothing_to_do_and_changes_nothing(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'county.db'}")
    migrate(engine)
    schema = "SELECT sql FROM sqlite_master WHERE tbl_name = 'attendance' ORDER BY name"
    with engine.connect() as c:
        before = c.scalars(text(schema)).all()
    app = create_app(Config(testing=True), engine=engine,
                     sessions=sessionmaker(engine, expire_on_commit=False),
                     kv=fakeredis.FakeRedis(decode_responses=True), clock=FrozenClock(START))
    said = app.test_cli_runner().invoke(args=["db", "partition-attendance"])
    assert said.exit_code == 0
    assert "无需操作" in said.output and "SQLite" in said.output
    assert run_jobs(app.extensions["peixun"])["attendance_partitions_made"] == 0
    with engine.connect() as c:
        assert c.scalars(text(schema)).all() == before
    engine.dispose()

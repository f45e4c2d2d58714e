"""The callback's database connections: a pooled connection is not pinged on every use (a round
trip each message), yet a dead one never costs a person their answer."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Float, Text, bindparam, func, select, text

from bot import state as conversation
from bot.turn import Turn
from models.base import (
    PING_AFTER_SECONDS,
    STATEMENT_SECONDS,
    make_engine,
    make_sessionmaker,
    read,
    statement_budget,
)
from models.catalogue import Course
from models.direct import DirectReads
from models.eligibility import evaluate
from models.persons import Person, Sender, recognize
from models.vouchers import Voucher, VoucherStatus, vouchers_held
from tests.conftest import POSTGRES_URL, STACKS, START, _unavailable


def _backend_pid(db) -> int:
    return db.execute(text("SELECT pg_backend_pid()")).scalar_one()


@pytest.fixture
def engine():
    engine = make_engine(POSTGRES_URL, pool_size=1, max_overflow=0)
    try:
        with engine.connect():
            pass
    except Exception as error:  # unreachable server
        _unavailable("PostgreSQL at " + POSTGRES_URL, error)
    yield engine
    engine.dispose()


def _kill(pid: int) -> None:
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    time.sleep(0.2)  # the backend is gone before the next use


def test_a_read_on_a_connection_killed_a_moment_ago_is_answered(engine):
    """The server went away between two messages (a restart under load): the connection,
    used a moment ago, is not pinged; its statement fails, and the read is made again on a
    new connection instead of the person getting an apology."""
    sessions = make_sessionmaker(engine)
    first = read(sessions, _backend_pid)
    _kill(first)
    second = read(sessions, _backend_pid)
    assert second != first


def test_a_connection_idle_for_a_while_is_pinged_and_replaced_before_use(engine):
    """After a quiet spell the pool checks the connection first, as pool_pre_ping did: even a
    transaction, which is not tried again, gets a living one."""
    sessions = make_sessionmaker(engine)
    with sessions.begin() as db:
        first = _backend_pid(db)
    _kill(first)
    time.sleep(PING_AFTER_SECONDS + 0.1)
    with sessions.begin() as db:
        assert _backend_pid(db) != first


# --- the sender's read on a kept connection (models.direct) ---------------------------------

PID = select(func.pg_backend_pid().label("pid"))


def _state_of(pid: int) -> str | None:
    admin = make_engine(POSTGRES_URL)
    with admin.connect() as connection:
        state = connection.execute(text("SELECT state FROM pg_stat_activity WHERE pid = :pid"),
                                   {"pid": pid}).scalar()
    admin.dispose()
    return state


def test_the_sender_is_read_on_one_kept_connection_outside_any_transaction(engine):
    """Every message's read neither takes a connection from the pool (a pool of one still
    gives a transaction beside it) nor leaves one in a transaction, whose old snapshot would
    hide later changes and hold back vacuum."""
    reads = DirectReads(engine)
    kept = reads.first(PID, {})["pid"]
    with make_sessionmaker(engine).begin() as db:
        assert _backend_pid(db) != kept
        assert reads.first(PID, {})["pid"] == kept
    assert _state_of(kept) == "idle"


def test_a_kept_connection_killed_is_replaced_and_the_read_made_again(engine):
    """The database restarted between two messages: the next read is answered, on a new
    connection, instead of the person getting an apology."""
    reads = DirectReads(engine)
    first = reads.first(PID, {})["pid"]
    _kill(first)
    assert reads.first(PID, {})["pid"] != first


def test_threads_reading_through_a_restart_all_get_their_answer(engine):
    """Threads of one process (the threaded dev server, gunicorn's gthread) share the kept
    connection. When it dies under them, each failed read is made again on the one new
    connection; none closes the new one under another, whose read would then wait for ever."""
    reads = DirectReads(engine)
    first = reads.first(PID, {})["pid"]
    seen: set[int] = set()
    failures: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(150):
                seen.add(reads.first(PID, {})["pid"])
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    _kill(first)
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    assert not failures
    assert len(seen - {first}) == 1  # one new connection, shared again
    reads.close()


# A row that says which read it answers.
ECHO = select(bindparam("who", type_=Text).label("who"))


def test_threads_reading_at_once_each_get_their_own_rows(engine):
    """Each thread keeps its own cursor on the shared connection: a cursor holds the rows of
    its last statement, and one shared would hand a thread the rows another read meanwhile
    (one person's record in another's reply)."""
    reads = DirectReads(engine)

    def reader(thread: int) -> bool:
        return all(reads.first(ECHO, {"who": f"{thread}:{n}"})["who"] == f"{thread}:{n}"
                   for n in range(300))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can: between statements
    try:
        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(reader, range(8)))
    finally:
        sys.setswitchinterval(interval)
    reads.close()


def test_a_read_past_its_statement_limit_fails_and_keeps_the_connection(engine):
    """A statement timeout is the read's failure, not the connection's: it is not made again
    (another 3 s), and the connection stays for the next message."""
    reads = DirectReads(engine)
    kept = reads.first(PID, {})["pid"]
    sleep = select(func.pg_sleep(bindparam("seconds", type_=Float)))
    with pytest.raises(psycopg.errors.QueryCanceled):
        reads.first(sleep, {"seconds": STATEMENT_SECONDS + 1})
    assert reads.first(PID, {})["pid"] == kept
    reads.close()


def test_a_process_forked_after_the_first_read_opens_its_own_connection(engine):
    """With gunicorn's --preload the connection may be opened before the fork: the child opens
    its own, and neither its reads nor its exit end the parent's session."""
    reads = DirectReads(engine)
    parent = reads.first(PID, {})["pid"]
    child = os.fork()
    if child == 0:  # the child: its own connection, then gone without closing the parent's
        try:
            os._exit(0 if reads.first(PID, {})["pid"] != parent else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    time.sleep(0.2)
    assert reads.first(PID, {})["pid"] == parent
    reads.close()


def test_the_kept_connection_is_closed_with_its_engine(engine):
    reads = DirectReads(engine)
    kept = reads.first(PID, {})["pid"]
    engine.dispose()
    assert _state_of(kept) is None


def test_a_statement_carrying_its_own_values_is_refused(engine):
    """Only the caller's parameters reach the driver: a value written into the statement (a
    LIMIT, a literal) would be missing there, so such a statement is refused when prepared."""
    with pytest.raises(ValueError, match="bind it by name"):
        DirectReads(engine).first(select(Person.id).limit(1), {})


def test_a_statement_whose_parameter_needs_converting_is_refused(engine):
    """Parameters reach the driver as they are: one that SQLAlchemy would convert first (a
    UTC datetime) is refused when the statement is first prepared, not sent wrong."""
    since = select(Person.id).where(Person.last_seen_at > bindparam("since"))
    with pytest.raises(ValueError, match="since"):
        DirectReads(engine).first(since, {"since": datetime.now(UTC)})


def _typed(value: object) -> tuple:
    return type(value), value, getattr(value, "tzinfo", None)


def test_the_sender_read_directly_is_the_person_the_orm_loads(stack):
    """On either database, every column the sender carries (time zones, enums, numbers) comes
    out of the direct read as the ORM loads it, so no handler can tell the two roads apart."""
    reads = DirectReads(stack.engine)
    columns = [field.name for field in fields(Sender)]
    with make_sessionmaker(stack.engine)() as db:
        people = db.scalars(select(Person).where(Person.openid.is_not(None))).all()
    assert any(person.registered_at and person.intent and person.township_id
               for person in people)
    for person in people:
        read = recognize(reads, openid=person.openid, now=person.last_seen_at)
        # With their types: a str enum equals its value, an aware datetime another zone's.
        assert {key: _typed(getattr(read, key)) for key in columns} == {
            key: _typed(getattr(person, key)) for key in columns}
        assert read == Sender.of(person)
        assert read.is_registered == person.is_registered
    reads.close()


def test_a_turn_reads_of_its_sender_only_what_the_sender_holds(stack):
    """The sender is not the whole record: a handler that reached for a column the hot path
    does not read would fail loudly here, not read None for a name or an ID number."""
    reads = DirectReads(stack.engine)
    with make_sessionmaker(stack.engine)() as db:
        person = db.scalars(select(Person).where(Person.registered_at.is_not(None),
                                                 Person.openid.is_not(None))).first()
    read = recognize(reads, openid=person.openid, now=person.last_seen_at)
    with pytest.raises(AttributeError):
        read.name  # noqa: B018
    with pytest.raises(AttributeError):
        read.id_sealed  # noqa: B018
    reads.close()


def test_a_holders_vouchers_read_directly_are_the_ones_the_orm_loads(stack):
    """我的培训券 reads every row of its statement on the kept connection: each demo holder's
    vouchers, newest first, with their statuses as enums and their courses' names."""
    reads = DirectReads(stack.engine)
    with make_sessionmaker(stack.engine)() as db:
        holders = db.scalars(select(Person).join(Voucher, Voucher.person_id == Person.id)
                             .distinct()).all()
        expected = {person.id: [
            (v.id, v.number, v.status, v.course.name, v.course.name_en)
            for v in db.scalars(select(Voucher).where(Voucher.person_id == person.id)
                                .order_by(Voucher.claimed_at.desc()))] for person in holders}
    assert any(expected.values())  # the demo has a holder
    for person_id, rows in expected.items():
        held = vouchers_held(reads, person_id=person_id)
        assert [(h.id, h.number, h.status, h.course_name, h.course_name_en)
                for h in held] == rows
        assert all(isinstance(h.status, VoucherStatus) for h in held)
    reads.close()


def test_a_vanished_database_host_is_noticed_within_a_minute(engine):
    """A database host that disappears without closing its connections (a failover, a cut
    cable) sends nothing: without TCP keepalives the kept connection would wait two hours on
    it. The sockets themselves carry the settings, the pool's and the kept one alike."""
    reads = DirectReads(engine)
    reads.first(PID, {})
    with engine.connect() as connection:
        pooled = connection.connection.driver_connection
        for conn in (pooled, reads._connection):
            sock = socket.socket(fileno=os.dup(conn.fileno()))
            try:
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
                interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
                count = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
            finally:
                sock.close()
            assert idle + interval * count <= 60


def test_an_evaluation_read_on_the_kept_connection_is_the_sessions(stack):
    """SUBSIDY and the course details read the person, their regions and their vouchers on
    the kept connection (models.eligibility, ``reads``): for every registered demo person, in
    general and for each course, the answer is the one the session's reads give."""
    reads = DirectReads(stack.engine)
    with make_sessionmaker(stack.engine)() as db:
        people = db.scalars(select(Person.id).where(Person.registered_at.is_not(None))).all()
        courses = db.scalars(select(Course.id).order_by(Course.id)).all()
        with_vouchers = set(db.scalars(select(Voucher.person_id)))
    assert people and courses and with_vouchers & set(people)
    on = START.date()
    for person_id in people:
        for course_id in (None, *courses):
            with make_sessionmaker(stack.engine)() as db:
                expected = evaluate(db, person_id=person_id, course_id=course_id, on=on)
            with make_sessionmaker(stack.engine)() as db:
                kept = evaluate(db, person_id=person_id, course_id=course_id, on=on,
                                reads=reads)
            assert kept == expected
    reads.close()


# Statement limits are PostgreSQL's: the SQLite stack has none to pass.
@pytest.mark.parametrize("stack", [STACKS[1]], indirect=True)
def test_a_slow_database_makes_a_subsidy_answer_late_not_an_apology(stack):
    """The kept connection gives up after its statement limit; a WeChat turn may wait longer
    (its budget: the answer, late, goes through the outbox). 补贴's facts, held up past the
    kept connection's limit by a lock on the regions, are read again within the turn's."""
    url = stack.engine.url.render_as_string(hide_password=False)
    short = make_engine(url, connect_args={"options": "-c statement_timeout=300"})
    reads, sessions = DirectReads(short), make_sessionmaker(short)
    with sessions() as db:
        person_id = db.scalars(select(Person.id).where(Person.registered_at.is_not(None))
                               .order_by(Person.id)).first()
        expected = evaluate(db, person_id=person_id, on=START.date())
    turn = Turn(openid="o-slow", sessions=sessions, direct=reads, kv=None, clock=None,
                vault=None, voucher_codes=None, class_codes=None, dialogue_seconds=300,
                base_url="", secret_key="", state=conversation.State())
    locker = stack.engine.connect()
    locker.execute(text("LOCK TABLE regions IN ACCESS EXCLUSIVE MODE"))
    release = threading.Timer(1.0, locker.commit)
    release.start()
    try:
        with statement_budget(10):
            answer = turn.read_facts(evaluate, person_id=person_id, on=START.date())
    finally:
        release.join()
        locker.close()
    assert answer == expected
    reads.close()
    short.dispose()

"""The callback's database connections: a pooled connection is not pinged on every use (a round
trip each message), yet a dead one never costs a person their answer."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from models.base import PING_AFTER_SECONDS, make_engine, make_sessionmaker, read
from tests.conftest import POSTGRES_URL, _unavailable


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

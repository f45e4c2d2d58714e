"""The declarative base, column types shared by all tables, and engine creation."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from sqlalchemy import JSON, DateTime, Enum, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A page, an API call or a job step gives up on a statement after this long: a person is
# waiting, and one stuck statement must not hold a server process.
STATEMENT_SECONDS = 3
# libpq's TCP keepalives on every PostgreSQL connection: a database host that vanishes without
# closing its connections (a failover, a cut network) is noticed within about a minute, not
# after the system's two hours. It matters most to the connection each process keeps for
# every message's sender (models.direct), which lies idle between bursts.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3}
# A pooled connection idle for longer than this is pinged before use (see _ping_when_idle).
PING_AFTER_SECONDS = 1.0
# When the work begun inside statement_budget() must be done by (time.monotonic()).
_deadline: ContextVar[float | None] = ContextVar("statement_deadline", default=None)

# Constraint names are fixed so that Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum_class: type[enum.Enum]) -> Enum:
    """Store an enum by value in a VARCHAR, the same on every backend."""
    return Enum(
        enum_class,
        native_enum=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {datetime: UTCDateTime, dict[str, Any]: JSON}


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15}, **kwargs)
        if engine.url.database not in (None, "", ":memory:"):
            Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        _fix_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    options = kwargs.pop("connect_args",
                         {"options": f"-c statement_timeout={STATEMENT_SECONDS * 1000}"})
    engine = create_engine(url, connect_args=KEEPALIVES | options, **kwargs)
    event.listen(engine, "begin", _extend_statement_limit)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """A pooled connection that lay idle for more than PING_AFTER_SECONDS is pinged before it
    is handed out (and replaced if the database has gone away meanwhile), as pool_pre_ping
    would; one used a moment ago is not, for a ping is a round trip that cost a busy callback
    as much as its one real statement. Should the database restart under load, the first
    statement on each such connection fails, SQLAlchemy then replaces the whole pool, and
    ``read`` tries its one statement again."""

    @event.listens_for(engine.pool, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_SECONDS:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool throws this connection away and hands out a new one.
            raise DisconnectionError() from error


@contextmanager
def statement_budget(seconds: float) -> Iterator[None]:
    """Let the transactions begun inside wait on the database until ``seconds`` from now,
    not STATEMENT_SECONDS: for work whose answer may come late by another road (a WeChat turn,
    answered through the outbox), so that a slow database makes it slow, not undone."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _extend_statement_limit(connection: Connection) -> None:
    deadline = _deadline.get()
    if deadline is None:
        return
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return  # single_read: no transaction for SET LOCAL to last, and a read waits on no lock
    limit = max(deadline - time.monotonic(), STATEMENT_SECONDS)
    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(limit * 1000)}")


# Each supported database's INSERT with ON CONFLICT (SQLAlchemy has one per dialect).
CONFLICT_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def conflict_insert(db: Session) -> Callable[..., Any]:
    """The INSERT construct with ``on_conflict_do_nothing`` for the session's database."""
    return CONFLICT_INSERTS[db.get_bind().dialect.name]


def make_sessionmaker(engine: Engine) -> sessionmaker:
    # Results outlive the transaction that read them (a reply is rendered after commit).
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def single_read(sessions: sessionmaker) -> Iterator[Session]:
    """A session for a read-only operation. On PostgreSQL it runs outside a transaction,
    which spares the BEGIN and COMMIT round trips; SQLite keeps its transaction (its own
    BEGIN IMMEDIATE handling, see _fix_sqlite, must not be switched off and on), and so does
    a session bound to a connection already in a transaction (the tests').

    Several statements may run in it when they need no common snapshot: under READ
    COMMITTED, PostgreSQL's level here, a transaction would not give them one either (each
    statement sees what was committed when it began)."""
    with sessions() as db:
        bind = db.get_bind()
        if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
            db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield db
        else:
            with db.begin():
                yield db


def read(sessions: sessionmaker, operation: Callable[..., T], **kwargs: Any) -> T:
    """Run a read-only operation in single_read; tried once more when the database
    connection turned out dead (a restarted server: see _ping_when_idle)."""
    try:
        with single_read(sessions) as db:
            return operation(db, **kwargs)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    with single_read(sessions) as db:
        return operation(db, **kwargs)


# --- a read replica (DATABASE_REPLICA_URL) ---------------------------------------------------


def make_replica_engine(url: str) -> Engine:
    """An engine for a streaming replica: the heavy reads only. On PostgreSQL its transactions
    are read-only, so that a write sent there by mistake fails loudly instead of being refused
    later by the standby (or, on a promoted one, landing in the wrong database)."""
    if url.startswith("sqlite"):
        return make_engine(url)
    return make_engine(url, connect_args={
        "options": f"-c statement_timeout={STATEMENT_SECONDS * 1000} "
                   "-c default_transaction_read_only=on"})


def _fix_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT and SELECT-then-write; take it over,
    # as the SQLAlchemy docs recommend, and turn on foreign keys and WAL for the worker beside.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # IMMEDIATE takes the write lock at the start, so a transaction that reads then writes
        # waits for another process's commit (busy_timeout) instead of failing "locked".
        connection.exec_driver_sql("BEGIN IMMEDIATE")

"""Reads on a connection the process keeps, without a Session, a pool checkout or a
transaction: the read every WeChat message makes (who is writing), the holder's vouchers
(我的培训券) and a registered person's eligibility facts (补贴, a course's details).

On PostgreSQL a Session around one SELECT cost five times the SELECT itself (issue 19's
profile: 0.55 ms of a 1.7 ms message, against 0.08 ms for the statement on a kept psycopg
connection). Here the statement is compiled once, runs on one autocommit connection opened on
first use (so after gunicorn's fork), and its values go through the same SQLAlchemy result
processors a Core read would apply (time zones, enums). Other databases (SQLite in development)
read through Core on a pooled connection, and so does a bind that is one connection (the tests'
rolled-back transaction, whose rows another connection could not see): the same answer, the
usual cost."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from psycopg import errors as pg_errors
from sqlalchemy import Select, event
from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger(__name__)

# A reader of a prepared SELECT's rows as mappings of their columns' keys: DirectReads.all, or
# rows_on(connection) for a Session's connection inside its transaction.
Rows = Callable[[Select, Mapping[str, Any]], list[Mapping[str, Any]]]


def rows_on(connection: Connection) -> Rows:
    """The rows reader of a connection (a Session's, with its transaction)."""
    return lambda statement, params: [row._mapping for row in
                                      connection.execute(statement, dict(params))]


def timed_out(error: BaseException) -> bool:
    """Whether a read gave up on its statement limit (PostgreSQL's QueryCanceled), on the kept
    connection or through SQLAlchemy."""
    return isinstance(getattr(error, "orig", error), pg_errors.QueryCanceled)


class DirectReads:
    """The rows of a prepared SELECT (or its first), as dicts of their columns' keys. Threads
    of a process share the one connection (psycopg serializes its statements; one takes a
    fraction of a millisecond). A connection found broken (the database restarted, the backend
    was killed) is replaced and the statement tried once more, as models.base.read does for
    the Session path; a statement that failed on a sound connection (its statement timeout) is
    not."""

    def __init__(self, bind: Engine | Connection) -> None:
        self._bind = bind
        self._is_direct = isinstance(bind, Engine) and bind.dialect.driver == "psycopg"
        self._lock = threading.Lock()
        self._connection: Any = None  # the psycopg connection, detached from the pool
        self._pid = os.getpid()  # the process that opened it
        self._prepared: dict[int, _Prepared] = {}
        self._cursors = threading.local()  # each thread's cursor on the kept connection
        if self._is_direct:
            # Weakly: an engine outlives the many apps a test run makes on it.
            reads = weakref.ref(self)
            event.listen(bind, "engine_disposed",
                         lambda _engine: (reads() or _Gone).close())

    def first(self, statement: Select, params: Mapping[str, Any]) -> dict[str, Any] | None:
        rows = self.all(statement, params, first_only=True)
        return rows[0] if rows else None

    def all(self, statement: Select, params: Mapping[str, Any], *,
            first_only: bool = False) -> list[dict[str, Any]]:
        """Every row of the statement (or only its first), as dicts of its columns' keys."""
        if not self._is_direct:
            return self._through_core(statement, params, first_only)
        prepared = self._prepare(statement)
        connection = self._kept()
        try:
            return prepared.rows(self._cursor_on(connection), params, first_only)
        except self._bind.dialect.loaded_dbapi.OperationalError as error:
            if not connection.broken:
                raise  # a statement timeout: the connection is sound, the read is not retried
            logger.warning("the kept connection broke (%s): a new one, and the read once more",
                           type(error).__name__)
            self._forget(connection)
        connection = self._kept()
        return prepared.rows(self._cursor_on(connection), params, first_only)

    def _through_core(self, statement: Select, params: Mapping[str, Any],
                      first_only: bool) -> list[dict[str, Any]]:
        if isinstance(self._bind, Connection):
            result = self._bind.execute(statement, dict(params))
            rows = result.fetchmany(1) if first_only else result.all()
        else:
            with self._bind.connect() as connection:
                result = connection.execute(statement, dict(params))
                rows = result.fetchmany(1) if first_only else result.all()
        return [dict(row._mapping) for row in rows]

    def close(self) -> None:
        with self._lock:
            connection = self._connection
        if connection is not None:
            self._forget(connection)

    def _forget(self, connection: Any) -> None:
        """Close this connection, unless another thread has already put a new one in its place
        (closing that one would leave the thread using it waiting for ever), or it belongs to
        the parent process (closing it would end the parent's session on the shared socket)."""
        with self._lock:
            if self._connection is not connection:
                return
            self._connection = None
            if self._pid != os.getpid():
                _INHERITED.append(connection)  # never closed, never collected, here
                return
        connection.close()

    def _kept(self) -> Any:
        with self._lock:
            if self._pid != os.getpid():
                # Opened before a fork (gunicorn --preload): the parent's, not this process's.
                if self._connection is not None:
                    _INHERITED.append(self._connection)
                self._connection, self._pid = None, os.getpid()
            if self._connection is None or self._connection.closed:
                # From the engine's pool, so its connect arguments (the statement timeout) and
                # events apply; detached, so it is not counted against the pool and is closed,
                # not returned, when this closes it.
                proxied = self._bind.raw_connection()
                connection = proxied.driver_connection
                proxied.detach()
                connection.autocommit = True
                self._connection = connection
            return self._connection

    def _cursor_on(self, connection: Any) -> Any:
        """This thread's cursor on the kept connection, made once: a cursor made for every
        read cost it a fifth of its CPU (19 µs of 68, issue 19). Threads do not share one: a
        cursor holds its last statement's rows."""
        cursor = getattr(self._cursors, "cursor", None)
        if cursor is None or cursor.connection is not connection:
            cursor = self._cursors.cursor = connection.cursor()
        return cursor

    def _prepare(self, statement: Select) -> _Prepared:
        # Keyed by identity: the statements read here are module-level constants.
        prepared = self._prepared.get(id(statement))
        if prepared is None:
            prepared = _Prepared(statement, self._bind)
            self._prepared[id(statement)] = prepared
        return prepared


class _Gone:
    """What a disposed engine's listener closes when its reads were already collected."""

    @staticmethod
    def close() -> None:
        return None


# Connections a forked child inherited: kept referenced so that collecting one never sends
# the server a goodbye on the socket the parent still uses.
_INHERITED: list[Any] = []


class _Prepared:
    """A SELECT compiled for the engine's dialect once, with its columns' result processors."""

    def __init__(self, statement: Select, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        for bind in compiled.binds.values():
            # Parameters go to the driver as the caller gives them: a type that converts them
            # (a UTC datetime) would need SQLAlchemy's bind processing, and a value the
            # statement carries itself (a literal, a LIMIT, an IN list) would not be sent.
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise ValueError(f"{bind.key}: a parameter that needs conversion")
            if bind.value is not None or bind.callable is not None or bind.expanding:
                raise ValueError(f"{bind.key}: a value the statement carries; bind it by name")
        self._statement = statement  # keeps id(statement) from being reused while cached
        self._sql = compiled.string
        self._dialect = dialect
        self._columns = statement.selected_columns
        self._keys = [column.key for column in self._columns]
        self._processors: list[Callable[[Any], Any] | None] | None = None

    def rows(self, cursor: Any, params: Mapping[str, Any],
             first_only: bool) -> list[dict[str, Any]]:
        cursor.execute(self._sql, params)
        rows = cursor.fetchmany(1) if first_only else cursor.fetchall()
        if not rows:
            return []
        if self._processors is None:
            # As a Core result does: each column's processor for the type the server sent.
            self._processors = [
                column.type.dialect_impl(self._dialect).result_processor(
                    self._dialect, description.type_code)
                for column, description in zip(self._columns, cursor.description, strict=True)]
        return [{key: value if process is None else process(value)
                 for key, value, process in zip(self._keys, row, self._processors, strict=True)}
                for row in rows]

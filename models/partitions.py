"""Tables range-partitioned by time on PostgreSQL (README, "Tables that grow without end"): the
audit log by quarter of ``at``, attendance by year of its session's ``day``; which partitions
exist and should, and the statements that make them.

A quarter's bounds are its first instant in the county's local time (Asia/Shanghai,
models.clock.LOCAL_TZ), not UTC: with UTC bounds the first eight hours of a local quarter fell
in the quarter before, and a local month's query read two partitions (bench/province.py). A
session's day is already a local date. A DEFAULT partition takes what no period takes; rows
there mean the worker did not make the period ahead of time, and the worker moves them into
their period when it runs.

SQLite keeps plain tables: a county's stay small, and SQLite has no partitions.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from models.clock import LOCAL_TZ

logger = logging.getLogger(__name__)

PARTITIONS_LOCK = 190_003  # the advisory lock key of making partitions (a worker at a time)
# The conversion waits this long for the running transactions that hold the table, then gives
# up having changed nothing (a writer stuck behind it would wait as long).
LOCK_WAIT = "10s"
# The worker making a partition: as long as moving DEFAULT's stray rows takes (not the app's
# 3 s a statement, which a big DEFAULT would pass every round, so that it never emptied), but
# no longer than this waiting for a lock: the app's writers of the table and of the tables its
# foreign keys name would queue behind it. It tries again next round.
WORKER_LOCK_WAIT = "500ms"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout passed


# --- periods ------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1–4

    UNIT: ClassVar[str] = "quarter"  # date_trunc's name of it
    SUFFIXES: ClassVar[str] = r"\d{4}q[1-4]"  # every suffix, as a pattern

    @classmethod
    def of(cls, when: date) -> Quarter:
        """The quarter of an instant in local time, or of a local day."""
        local = when.astimezone(LOCAL_TZ) if isinstance(when, datetime) else when
        return cls(local.year, (local.month - 1) // 3 + 1)

    @property
    def suffix(self) -> str:
        return f"{self.year}q{self.number}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=LOCAL_TZ)

    @property
    def end(self) -> datetime:
        return self.next().start

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year,
                                                                          self.number + 1)


@dataclass(frozen=True, order=True)
class Year:
    year: int

    UNIT: ClassVar[str] = "year"
    SUFFIXES: ClassVar[str] = r"\d{4}"

    @classmethod
    def of(cls, when: date) -> Year:
        """The year of a day, or of an instant in local time."""
        if isinstance(when, datetime):
            return cls(when.astimezone(LOCAL_TZ).year)
        return cls(when.year)

    @property
    def suffix(self) -> str:
        return str(self.year)

    @property
    def start(self) -> date:
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        return date(self.year + 1, 1, 1)

    def next(self) -> Year:
        return Year(self.year + 1)


Period = Quarter | Year


# --- the partitioned tables ---------------------------------------------------------------


@dataclass(frozen=True)
class Scheme:
    """How one table is partitioned."""

    table: str
    column: str  # the range key; a partitioned table's keys must hold it
    period: type[Quarter] | type[Year]
    ahead: int  # periods made ahead of the current one, by the conversion and by the worker
    # The column as a local time or day, for date_trunc(period.UNIT, …) in SQL.
    local: str

    @property
    def default(self) -> str:
        return f"{self.table}_default"

    @property
    def old(self) -> str:
        """The plain table while it is copied, within the conversion's transaction."""
        return f"{self.table}_unpartitioned"

    def holding(self, value: date) -> Partition:
        """The partition that holds a row of that time or day."""
        return Partition(self, self.period.of(value))

    def ahead_of(self, now: datetime) -> list[Partition]:
        """The partition of ``now`` and the ``ahead`` after it: what must exist before rows
        arrive."""
        first = last = self.period.of(now)
        for _ in range(self.ahead):
            last = last.next()
        return between(self, first, last)

    def is_partition(self, name: str) -> bool:
        return name == self.default or re.fullmatch(rf"{self.table}_{self.period.SUFFIXES}",
                                                    name) is not None


AUDIT = Scheme("audit_log", "at", Quarter, ahead=2, local=f"at AT TIME ZONE '{LOCAL_TZ}'")
# Marks are made on their session's day, so a year ahead is always there before them.
ATTENDANCE = Scheme("attendance", "day", Year, ahead=1, local="day::timestamp")
SCHEMES = (AUDIT, ATTENDANCE)


@dataclass(frozen=True)
class Partition:
    scheme: Scheme
    period: Period

    @property
    def name(self) -> str:
        return f"{self.scheme.table}_{self.period.suffix}"

    def bounds(self) -> str:
        """The FOR VALUES clause; a time's offset is written out, so the session's TimeZone
        does not matter."""
        return (f"FOR VALUES FROM ('{self.period.start.isoformat()}') "
                f"TO ('{self.period.end.isoformat()}')")


def between(scheme: Scheme, first: Period, last: Period) -> list[Partition]:
    """The scheme's partitions from ``first``'s period to ``last``'s, both included."""
    found = []
    while first <= last:
        found.append(Partition(scheme, first))
        first = first.next()
    return found


def is_partition(name: str) -> bool:
    """A table that is a partition of a partitioned table: not in the models, so that
    Alembic's comparison (migrations/env.py) leaves it alone."""
    return any(scheme.is_partition(name) for scheme in SCHEMES)


# --- what the database has ----------------------------------------------------------------


def waited_too_long(error: DBAPIError) -> bool:
    """The statement gave up waiting for a lock (LOCK_WAIT, WORKER_LOCK_WAIT): nothing was
    changed, and it can be tried again."""
    return getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


def is_postgres(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def is_partitioned(db: Session, scheme: Scheme) -> bool:
    """The table is a partitioned one (relkind 'p'); False on SQLite."""
    if not is_postgres(db):
        return False
    return db.scalar(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"),
                     {"t": scheme.table}) == "p"


def partitions(db: Session, scheme: Scheme) -> list[str]:
    """The partitions attached to the table (a detached, archived one is not among them)."""
    return list(db.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t) ORDER BY c.relname"), {"t": scheme.table}))


def partition_of(db: Session, scheme: Scheme, row_id: int) -> str | None:
    """The partition a row is stored in."""
    return db.scalar(text(f"SELECT tableoid::regclass::text FROM {scheme.table} WHERE id = :id"),
                     {"id": row_id})


# --- the conversion (a maintenance window: `flask db partition-audit`, `… partition-attendance`)


class Outcome(enum.StrEnum):
    CONVERTED = "converted"
    ALREADY = "already_partitioned"
    NOT_POSTGRES = "not_postgres"


@dataclass(frozen=True)
class Conversion:
    outcome: Outcome
    rows: int = 0
    made: tuple[str, ...] = ()


def convert(db: Session, scheme: Scheme, *, now: datetime) -> Conversion:
    """Turn the plain table into one range-partitioned by the scheme's period, in the caller's
    one transaction: the same columns, defaults, indexes, unique and foreign keys, the key (id,
    column), a partition a period from the oldest row's to ``ahead`` after ``now``'s and a
    DEFAULT one, every row copied, and the id sequence kept. Nothing changes on SQLite or when
    it is done."""
    if not is_postgres(db):
        return Conversion(Outcome.NOT_POSTGRES)
    if is_partitioned(db, scheme):  # done: not even a lock, which would hold the app's writes
        return Conversion(Outcome.ALREADY)
    table, column = scheme.table, scheme.column
    # A copy of millions of rows takes minutes (BENCHMARKS.md): no statement limit; but no
    # endless wait for the lock either.
    db.execute(text("SET LOCAL statement_timeout = 0"))
    db.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
    # Every writer waits from here until the commit: no row is written to the old table after
    # it was copied. A second conversion waits here too, then finds the partitioned table.
    db.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
    if is_partitioned(db, scheme):
        return Conversion(Outcome.ALREADY)
    definitions = _definitions(db, table)
    oldest, newest = db.execute(text(f"SELECT min({column}), max({column}) FROM {table}")).one()
    coming = [p.period for p in scheme.ahead_of(now)]
    held = [scheme.period.of(value) for value in (oldest, newest) if value is not None]
    wanted = between(scheme, min(coming + held), max(coming + held))
    db.execute(text(f"ALTER TABLE {table} RENAME TO {scheme.old}"))
    # INCLUDING CONSTRAINTS: the CHECKs; NOT NULL comes with LIKE anyway.
    db.execute(text(f"CREATE TABLE {table} (LIKE {scheme.old} INCLUDING DEFAULTS INCLUDING "
                    f"CONSTRAINTS) PARTITION BY RANGE ({column})"))
    if definitions.sequence:  # else DROP TABLE below would drop the sequence with the old one
        db.execute(text(f"ALTER SEQUENCE {definitions.sequence} OWNED BY {table}.id"))
    for partition in wanted:
        db.execute(text(f"CREATE TABLE {partition.name} PARTITION OF {table} "
                        f"{partition.bounds()}"))
    db.execute(text(f"CREATE TABLE {scheme.default} PARTITION OF {table} DEFAULT"))
    rows = db.execute(text(f"INSERT INTO {table} SELECT * FROM {scheme.old}")).rowcount
    # Fails, and so undoes everything, if another table's foreign key points at this one (none
    # does: a key to a partitioned table would have to include the partition column).
    db.execute(text(f"DROP TABLE {scheme.old}"))
    # Built after the copy (faster than row by row), under the old names.
    db.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id, {column})"))
    for statement in definitions.statements():
        db.execute(text(statement))
    if definitions.sequence:
        _continue_after_max(db, table, definitions.sequence)
    db.execute(text(f"ANALYZE {table}"))
    made = (*(p.name for p in wanted), scheme.default)
    logger.info("%s partitioned: %s rows copied into %s partitions", table, rows, len(made))
    return Conversion(Outcome.CONVERTED, rows, made)


@dataclass(frozen=True)
class _Definitions:
    """What the plain table has besides its columns, as the statements that make it again on
    the partitioned one: read from the catalogue, so what a later migration adds comes along."""

    indexes: list[str]  # but those of the primary key and of unique keys
    unique_keys: list[str]  # a partitioned table's must hold the partition column (they do)
    foreign_keys: list[str]
    sequence: str | None  # of the id

    def statements(self) -> list[str]:
        return self.indexes + self.unique_keys + self.foreign_keys


def _definitions(db: Session, table: str) -> _Definitions:
    on = {"t": table}
    indexes = list(db.scalars(text(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = to_regclass(:t) AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conrelid = i.indrelid "
        "AND c.conindid = i.indexrelid) ORDER BY 1"), on))

    def constraints(kind: str) -> list[str]:
        return [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                for name, definition in db.execute(text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = to_regclass(:t) AND contype = :kind ORDER BY 1"),
                    {**on, "kind": kind})]

    sequence = db.scalar(select(func.pg_get_serial_sequence(table, "id")))
    return _Definitions(indexes, constraints("u"), constraints("f"), sequence)


def _continue_after_max(db: Session, table: str, sequence: str) -> None:
    """The next id after every copied one (it already is, unless a row was written with an id
    of its own): the key is (id, column), so only the sequence keeps ids unique now."""
    last = db.scalar(text(f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
                          f"FROM {sequence}"))
    highest = db.scalar(text(f"SELECT max(id) FROM {table}"))
    if highest is not None and highest > last:
        db.execute(select(func.setval(sequence, highest)))


# --- the worker: partitions ahead ---------------------------------------------------------


def to_make(db: Session, scheme: Scheme, *, now: datetime) -> list[Partition]:
    """The partitions the worker should make: ``now``'s and the ``ahead`` after it that are
    missing, and those of rows that fell into DEFAULT (warned of: the worker did not run ahead
    of them). [] on SQLite or a table not partitioned; one probe of the empty DEFAULT
    otherwise."""
    if not is_partitioned(db, scheme):
        return []
    existing = set(partitions(db, scheme))
    wanted = {p for p in scheme.ahead_of(now) if p.name not in existing}
    if _default_has_rows(db, scheme, existing):
        # Counting a big DEFAULT by period takes as long as it takes; nobody waits on it.
        db.execute(text("SET LOCAL statement_timeout = 0"))
        stray = _in_default(db, scheme)
        logger.warning("%s rows of %s are in %s (%s): their periods had no partition, so the "
                       "worker did not run ahead of them; moving them into their periods' "
                       "partitions", sum(stray.values()), scheme.table, scheme.default,
                       ", ".join(sorted(p.name for p in stray)))
        wanted |= set(stray)
    return sorted(wanted, key=lambda p: p.period)


def make_partition(db: Session, partition: Partition) -> bool:
    """The partition, made in the caller's transaction, which should hold nothing else and end
    at once: attaching locks DEFAULT, and the tables its foreign keys name against writes, until
    the commit. Two workers at once: the second waits (an advisory lock), then finds it made.
    False when it is there already, or a table of its name is (a detached period not yet
    dropped after its archive: README)."""
    scheme = partition.scheme
    db.execute(select(func.pg_advisory_xact_lock(PARTITIONS_LOCK)))
    if db.scalar(text("SELECT to_regclass(:name)"), {"name": partition.name}) is not None:
        if partition.name not in partitions(db, scheme):
            logger.warning("%s exists but is not a partition of %s (detached for its "
                           "archive?): drop it once its dump is kept", partition.name,
                           scheme.table)
        return False
    # Moving a period's stray rows out of DEFAULT takes as long as it takes; but the locks
    # are not waited for long, which would queue the app's writers behind this: next round.
    db.execute(text("SET LOCAL statement_timeout = 0"))
    db.execute(text(f"SET LOCAL lock_timeout = '{WORKER_LOCK_WAIT}'"))
    _attach(db, partition)
    logger.info("%s partition made: %s", scheme.table, partition.name)
    return True


def _default_has_rows(db: Session, scheme: Scheme, existing: set[str]) -> bool:
    """Whether DEFAULT holds rows (it should not); False when it is no longer a partition (an
    operator detached it)."""
    if scheme.default not in existing:
        return False
    return bool(db.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {scheme.default})")))


def _in_default(db: Session, scheme: Scheme) -> dict[Partition, int]:
    """The partitions of the rows in DEFAULT, with their counts."""
    rows = db.execute(text(f"SELECT date_trunc('{scheme.period.UNIT}', {scheme.local}), count(*) "
                           f"FROM {scheme.default} GROUP BY 1"))
    # date_trunc gives the period's first local instant, as a naive time: its day's period.
    return {scheme.holding(start.date()): count for start, count in rows}


def _attach(db: Session, partition: Partition) -> None:
    """The partition: made apart, given its period's rows that DEFAULT holds, then attached.
    Attaching takes a lighter lock on the table than CREATE … PARTITION OF (writers go on), and
    PostgreSQL would refuse a new partition while DEFAULT holds rows of its range. The partition
    gets the table's indexes, keys and foreign keys when attached."""
    scheme, period = partition.scheme, partition.period
    db.execute(text(f"CREATE TABLE {partition.name} (LIKE {scheme.table} INCLUDING DEFAULTS "
                    f"INCLUDING CONSTRAINTS)"))
    db.execute(text(f"WITH moved AS (DELETE FROM {scheme.default} WHERE {scheme.column} >= "
                    f":start AND {scheme.column} < :end RETURNING *) "
                    f"INSERT INTO {partition.name} SELECT * FROM moved"),
               {"start": period.start, "end": period.end})
    db.execute(text(f"ALTER TABLE {scheme.table} ATTACH PARTITION {partition.name} "
                    f"{partition.bounds()}"))

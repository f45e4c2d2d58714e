"""The audit log range-partitioned by quarter on PostgreSQL (README, "Tables that grow without
end"): which partitions exist and should, and the statements that make them.

A quarter's bounds are its first instant in the county's local time (Asia/Shanghai,
models.clock.LOCAL_TZ), not UTC: with UTC bounds the first eight hours of a local quarter fell
in the quarter before, and a local month's query read two partitions (bench/province.py). A
DEFAULT partition takes what no quarter takes; rows there mean the worker did not make the
quarter ahead of time, and the worker moves them into their quarter when it runs.

SQLite keeps the plain table: a county's audit log stays small, and SQLite has no partitions.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from models.clock import LOCAL_TZ

logger = logging.getLogger(__name__)

TABLE = "audit_log"
DEFAULT = "audit_log_default"
OLD = "audit_log_unpartitioned"  # the plain table while it is copied, within the transaction
AHEAD = 2  # quarters made ahead of the current one, by the conversion and by the worker
PARTITIONS_LOCK = 190_003  # the advisory lock key of making partitions (a worker at a time)
# The conversion waits this long for the running transactions that hold audit_log, then gives
# up having changed nothing (a writer stuck behind it would wait as long).
LOCK_WAIT = "10s"
# The worker making a partition: as long as moving DEFAULT's stray rows takes (not the app's
# 3 s a statement, which a big DEFAULT would pass every round, so that it never emptied), but
# no longer than this waiting for a lock: the app's writers of audit_log, persons and
# desk_users would queue behind it. It tries again next round.
WORKER_LOCK_WAIT = "500ms"


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1–4

    @classmethod
    def of(cls, at: datetime) -> Quarter:
        local = at.astimezone(LOCAL_TZ)
        return cls(local.year, (local.month - 1) // 3 + 1)

    @property
    def name(self) -> str:
        return f"{TABLE}_{self.year}q{self.number}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=LOCAL_TZ)

    @property
    def end(self) -> datetime:
        return self.next().start

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year,
                                                                          self.number + 1)

    def bounds(self) -> str:
        """The FOR VALUES clause; the offset is written out, so the session's TimeZone does not
        matter."""
        return f"FOR VALUES FROM ('{self.start.isoformat()}') TO ('{self.end.isoformat()}')"


def quarters_between(first: Quarter, last: Quarter) -> list[Quarter]:
    found = []
    while first <= last:
        found.append(first)
        first = first.next()
    return found


def ahead(now: datetime) -> list[Quarter]:
    """The quarter of ``now`` and the AHEAD after it: what must exist before rows arrive."""
    found = [Quarter.of(now)]
    while len(found) <= AHEAD:
        found.append(found[-1].next())
    return found


def is_partition(name: str) -> bool:
    """A table that is one of audit_log's partitions: not in the models, so that Alembic's
    comparison (migrations/env.py) leaves it alone."""
    return name == DEFAULT or re.fullmatch(rf"{TABLE}_\d{{4}}q[1-4]", name) is not None


# --- what the database has ----------------------------------------------------------------


def is_postgres(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def is_partitioned(db: Session) -> bool:
    """audit_log is a partitioned table (relkind 'p'); False on SQLite."""
    if not is_postgres(db):
        return False
    return db.scalar(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"),
                     {"t": TABLE}) == "p"


def partitions(db: Session) -> list[str]:
    """The partitions attached to audit_log (a detached, archived one is not among them)."""
    return list(db.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t) ORDER BY c.relname"), {"t": TABLE}))


def partition_of(db: Session, entry_id: int) -> str | None:
    """The partition an audit row is stored in."""
    return db.scalar(text(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = :id"),
                     {"id": entry_id})


# --- the conversion (a maintenance window: `flask db partition-audit`) ----------------------


class Outcome(enum.StrEnum):
    CONVERTED = "converted"
    ALREADY = "already_partitioned"
    NOT_POSTGRES = "not_postgres"


@dataclass(frozen=True)
class Conversion:
    outcome: Outcome
    rows: int = 0
    made: tuple[str, ...] = ()


def partition_audit(db: Session, *, now: datetime) -> Conversion:
    """Turn the plain audit_log into one range-partitioned by quarter, in the caller's one
    transaction: the same columns, defaults, indexes and foreign keys, the key (id, at), a
    partition a quarter from the oldest row's to AHEAD after ``now``'s and a DEFAULT one, every
    row copied, and the id sequence kept. Nothing changes on SQLite or when it is done."""
    if not is_postgres(db):
        return Conversion(Outcome.NOT_POSTGRES)
    if is_partitioned(db):  # done: not even a lock, which would hold the app's writes
        return Conversion(Outcome.ALREADY)
    # A copy of millions of rows takes minutes (BENCHMARKS.md): no statement limit; but no
    # endless wait for the lock either.
    db.execute(text("SET LOCAL statement_timeout = 0"))
    db.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
    # Every writer waits from here until the commit: no row is written to the old table after
    # it was copied. A second conversion waits here too, then finds the partitioned table.
    db.execute(text(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE"))
    if is_partitioned(db):
        return Conversion(Outcome.ALREADY)
    indexes, foreign_keys, sequence = _definitions(db)
    oldest, newest = db.execute(text(f"SELECT min(at), max(at) FROM {TABLE}")).one()
    wanted = quarters_between(Quarter.of(min(oldest or now, now)),
                              max(Quarter.of(newest or now), ahead(now)[-1]))
    db.execute(text(f"ALTER TABLE {TABLE} RENAME TO {OLD}"))
    # INCLUDING CONSTRAINTS: the CHECKs; NOT NULL comes with LIKE anyway.
    db.execute(text(f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING "
                    f"CONSTRAINTS) PARTITION BY RANGE (at)"))
    if sequence:  # else DROP TABLE below would drop the sequence with the old table
        db.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY {TABLE}.id"))
    for quarter in wanted:
        db.execute(text(f"CREATE TABLE {quarter.name} PARTITION OF {TABLE} {quarter.bounds()}"))
    db.execute(text(f"CREATE TABLE {DEFAULT} PARTITION OF {TABLE} DEFAULT"))
    rows = db.execute(text(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")).rowcount
    # Fails, and so undoes everything, if another table's foreign key points at audit_log (none
    # does: a key to a partitioned table would have to include ``at``).
    db.execute(text(f"DROP TABLE {OLD}"))
    # Built after the copy (faster than row by row), under the old names.
    db.execute(text(f"ALTER TABLE {TABLE} ADD CONSTRAINT pk_{TABLE} PRIMARY KEY (id, at)"))
    for statement in indexes + foreign_keys:
        db.execute(text(statement))
    if sequence:
        _continue_after_max(db, sequence)
    db.execute(text(f"ANALYZE {TABLE}"))
    made = (*(q.name for q in wanted), DEFAULT)
    logger.info("audit_log partitioned: %s rows copied into %s partitions", rows, len(made))
    return Conversion(Outcome.CONVERTED, rows, made)


def _definitions(db: Session) -> tuple[list[str], list[str], str | None]:
    """What the plain table has besides its columns, as the statements that make it again on
    the partitioned one: its indexes but the primary key's, its foreign keys, and the
    sequence of its id. Read from the catalogue, so an index a later migration adds comes
    along."""
    indexes = list(db.scalars(text(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = to_regclass(:t) AND NOT i.indisprimary ORDER BY 1"), {"t": TABLE}))
    foreign_keys = [f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}'
                    for name, definition in db.execute(text(
                        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = to_regclass(:t) AND contype = 'f' ORDER BY 1"),
                        {"t": TABLE})]
    sequence = db.scalar(select(func.pg_get_serial_sequence(TABLE, "id")))
    return indexes, foreign_keys, sequence


def _continue_after_max(db: Session, sequence: str) -> None:
    """The next id after every copied one (it already is, unless a row was written with an id
    of its own): the key is (id, at), so only the sequence keeps ids unique now."""
    last = db.scalar(text(f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
                          f"FROM {sequence}"))
    highest = db.scalar(text(f"SELECT max(id) FROM {TABLE}"))
    if highest is not None and highest > last:
        db.execute(select(func.setval(sequence, highest)))


# --- the worker: partitions ahead ---------------------------------------------------------


def quarters_to_make(db: Session, *, now: datetime) -> list[Quarter]:
    """The quarters whose partition the worker should make: ``now``'s and the AHEAD after it
    that are missing, and those of rows that fell into DEFAULT (warned of: the worker did not
    run ahead of them). [] on SQLite or an audit_log not partitioned; one probe of the empty
    DEFAULT otherwise."""
    if not is_partitioned(db):
        return []
    wanted = set(_missing(db, now))
    if _default_has_rows(db):
        # Counting a big DEFAULT by quarter takes as long as it takes; nobody waits on it.
        db.execute(text("SET LOCAL statement_timeout = 0"))
        stray = _in_default(db)
        logger.warning("%s rows of audit_log are in %s (%s): their quarters had no partition, "
                       "so the worker did not run ahead of them; moving them into their "
                       "quarters' partitions", sum(stray.values()), DEFAULT,
                       ", ".join(q.name for q in sorted(stray)))
        wanted |= set(stray)
    return sorted(wanted)


def make_partition(db: Session, quarter: Quarter) -> bool:
    """The quarter's partition, made in the caller's transaction, which should hold nothing
    else and end at once: attaching locks DEFAULT, and persons and desk_users (the foreign keys
    it copies) against writes, until the commit. Two workers at once: the second waits (an
    advisory lock), then finds it made. False when it is there already, or a table of its name
    is (a detached quarter not yet dropped after its archive: README)."""
    db.execute(select(func.pg_advisory_xact_lock(PARTITIONS_LOCK)))
    if db.scalar(text("SELECT to_regclass(:name)"), {"name": quarter.name}) is not None:
        if quarter.name not in partitions(db):
            logger.warning("%s exists but is not a partition of audit_log (detached for its "
                           "archive?): drop it once its dump is kept", quarter.name)
        return False
    # Moving a quarter's stray rows out of DEFAULT takes as long as it takes; but the locks
    # are not waited for long, which would queue the app's writers behind this: next round.
    db.execute(text("SET LOCAL statement_timeout = 0"))
    db.execute(text(f"SET LOCAL lock_timeout = '{WORKER_LOCK_WAIT}'"))
    _attach(db, quarter)
    logger.info("audit_log partition made: %s", quarter.name)
    return True


def _missing(db: Session, now: datetime) -> list[Quarter]:
    existing = set(partitions(db))
    return [q for q in ahead(now) if q.name not in existing]


def _default_has_rows(db: Session) -> bool:
    """Whether DEFAULT holds rows (it should not); False when it is no longer a partition (an
    operator detached it)."""
    if DEFAULT not in partitions(db):
        return False
    return bool(db.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT})")))


def _in_default(db: Session) -> dict[Quarter, int]:
    """The quarters of the rows in DEFAULT, with their counts."""
    rows = db.execute(text(
        f"SELECT date_trunc('quarter', at AT TIME ZONE :zone), count(*) FROM {DEFAULT} "
        f"GROUP BY 1"), {"zone": str(LOCAL_TZ)})
    return {Quarter(start.year, (start.month - 1) // 3 + 1): count for start, count in rows}


def _attach(db: Session, quarter: Quarter) -> None:
    """The quarter's partition: made apart, given the quarter's rows that DEFAULT holds, then
    attached. Attaching takes a lighter lock on audit_log than CREATE … PARTITION OF (writers
    go on), and PostgreSQL would refuse a new partition while DEFAULT holds rows of its range.
    The partition gets audit_log's indexes, key and foreign keys when attached."""
    bounds = {"start": quarter.start, "end": quarter.end}
    db.execute(text(f"CREATE TABLE {quarter.name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING "
                    f"CONSTRAINTS)"))
    db.execute(text(f"WITH moved AS (DELETE FROM {DEFAULT} WHERE at >= :start AND at < :end "
                    f"RETURNING *) INSERT INTO {quarter.name} SELECT * FROM moved"), bounds)
    db.execute(text(f"ALTER TABLE {TABLE} ATTACH PARTITION {quarter.name} {quarter.bounds()}"))

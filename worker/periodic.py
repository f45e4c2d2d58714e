"""The worker's periodic jobs, once a minute: vouchers that expire, holders to remind, job
pushes, old export files to remove, follow-up rounds, the audit log's and attendance's
partitions ahead. Each is safe to run again at any time, by any number of workers."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy.exc import DBAPIError

from models.base import statement_budget
from models.export_jobs import remove_old_files
from models.followups import create_due_followups, queue_followup_questions
from models.jobs import push_due_openings
from models.outbox import PRUNE_CHUNK, prune_sent
from models.partitions import (
    ATTENDANCE,
    AUDIT,
    Scheme,
    make_partition,
    to_make,
    waited_too_long,
)
from models.progress import recount_when_due, rollups_due
from models.vouchers import expire_vouchers, remind_expiring
from runtime.services import Services

logger = logging.getLogger(__name__)

# Job pushes are queued this many people a transaction, at most PUSH_CHUNKS a round, so that a
# push to thousands advances every round, survives a crash (done chunks stay done) and never
# holds the worker long.
PUSH_CHUNK = 500
PUSH_CHUNKS = 10
# Counting a province's year ahead takes the worker tens of seconds (BENCHMARKS.md, "A
# province"), far past the 3 s a page may wait (models.base.STATEMENT_SECONDS): under that
# limit it was cancelled every round and the province's dashboard never had its counts.
# Nobody waits on it, and readers see the last count until it commits.
ROLLUP_SECONDS = 600
# How often the counting thread looks for a year due (models.progress.ROLLUP_EVERY).
COUNTS_EVERY_SECONDS = 60.0


def run_jobs(services: Services) -> dict[str, int]:
    """The periodic work: vouchers that expire, holders to remind. Each job is safe to run
    again at any time, by any number of workers."""
    now = services.clock.now()
    done = {}
    for name, job in (("expired", expire_vouchers), ("reminded", remind_expiring)):
        with services.sessions.begin() as db:
            done[name] = job(db, now=now)
    done["job_pushes"] = push_jobs(services, now)
    with services.sessions.begin() as db:
        done["export_files_removed"] = remove_old_files(db, now=now)
    done["outbox_pruned"] = prune_outbox(services, now)
    done.update(follow_up(services, now))
    # Last: they may wait on their tables' locks (at most WORKER_LOCK_WAIT each).
    done["audit_partitions_made"] = keep_partitions(services, AUDIT, now)
    done["attendance_partitions_made"] = keep_partitions(services, ATTENDANCE, now)
    return done


def keep_partitions(services: Services, scheme: Scheme, now: datetime) -> int:
    """On PostgreSQL with the table partitioned (`flask db partition-audit`,
    `flask db partition-attendance`): the current period's partition and the next ones', made
    when missing, and those of rows that fell into the DEFAULT partition (moved into them). Each
    in a transaction of its own, short: making one locks writers of the tables its foreign keys
    name out until it commits. Every minute otherwise costs a look at the catalogue and one
    probe of the empty DEFAULT. A lock not had in time, or the database failing, leaves the
    rest to the next round (the partitions are needed ahead of time, not this minute), and the
    other table's partitions are still seen to."""
    made, doing = 0, scheme.table
    try:
        with services.sessions.begin() as db:
            wanted = to_make(db, scheme, now=now)
        for partition in wanted:
            doing = partition.name
            with services.sessions.begin() as db:
                made += make_partition(db, partition)
    except DBAPIError as error:
        if waited_too_long(error):
            logger.warning("%s not made: a lock it needs was held; the next round tries again",
                           doing)
        else:
            logger.exception("%s not made; the next round tries again", doing)
    return made


def run_counts(services: Services, stop: threading.Event,
               every_seconds: float = COUNTS_EVERY_SECONDS) -> None:
    """Count a province's years ahead until ``stop`` is set, in a thread of its own: a year
    takes tens of seconds, which the sending of messages must not wait for."""
    while not stop.is_set():
        try:
            counted = count_rollups(services, services.clock.now())
            if counted:
                logger.info("dashboard counts: %s years counted ahead", counted)
        except Exception:
            logger.exception("dashboard count failed")
        stop.wait(every_seconds)


def count_rollups(services: Services, now: datetime) -> int:
    """A province's years of dashboard counts, counted ahead (models.progress.refresh_rollup),
    a year a transaction, every ROLLUP_EVERY; a year another worker is counting is left to it.
    Returns the years counted."""
    with services.sessions.begin() as db:
        years = rollups_due(db, now=now)
    counted = 0
    for year in years:
        with statement_budget(ROLLUP_SECONDS), services.sessions.begin() as db:
            counted += recount_when_due(db, now=now, year=year) is not None
    return counted


def prune_outbox(services: Services, now: datetime) -> int:
    """Delete messages sent long ago (models.outbox.prune_sent), a chunk a transaction, at
    most PUSH_CHUNKS chunks a round."""
    pruned = 0
    for _ in range(PUSH_CHUNKS):
        with services.sessions.begin() as db:
            chunk = prune_sent(db, now=now)
        pruned += chunk
        if chunk < PRUNE_CHUNK:
            break
    return pruned


def follow_up(services: Services, now: datetime) -> dict[str, int]:
    """Make the follow-up rounds that fell due and queue their questions, a chunk a
    transaction (resumable: what is done stays done), at most PUSH_CHUNKS chunks a round."""
    done = {"followups_created": 0, "followups_queued": 0}
    for name, job in (
            ("followups_created", lambda db: create_due_followups(
                db, now=now, rounds=services.config.followup_months, limit=PUSH_CHUNK)),
            ("followups_queued", lambda db: queue_followup_questions(
                db, now=now, limit=PUSH_CHUNK))):
        for _ in range(PUSH_CHUNKS):
            with services.sessions.begin() as db:
                chunk = job(db)
            done[name] += chunk
            if chunk < PUSH_CHUNK:
                break
    return done


def push_jobs(services: Services, now: datetime) -> int:
    """Queue job pushes chunk by chunk, each in its own transaction, until a chunk is short."""
    queued = 0
    for _ in range(PUSH_CHUNKS):
        with services.sessions.begin() as db:
            chunk = push_due_openings(db, now=now, limit=PUSH_CHUNK)
        queued += chunk
        if chunk < PUSH_CHUNK:
            break
    return queued

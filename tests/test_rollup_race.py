"""Two workers count a province's year at the same moment: the year is stored once, proved
with real concurrent transactions on PostgreSQL (the worker's periodic jobs may run in any
number of workers)."""

from __future__ import annotations

import os
import threading
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from models.base import STATEMENT_SECONDS
from models.pii import Vault
from models.progress import ROLLUP_EVERY, ROLLUP_LOCK, ProgressCount, refresh_rollup
from tests.conftest import START, committed_postgres
from webhooks.app import create_app
from worker.periodic import count_rollups

pytestmark = pytest.mark.postgres

ROLLUP_DB = f"peixun_rollup{os.getpid()}"
YEAR = START.year


@pytest.fixture(scope="module")
def rollup_engine():
    yield from committed_postgres(ROLLUP_DB, Vault("rollup"))


def _waiting_on_a_lock(engine) -> bool:
    with engine.connect() as c:
        return bool(c.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")))


def test_two_workers_counting_one_year_store_it_once(rollup_engine):
    sessions = sessionmaker(rollup_engine)
    first = sessions()
    first.begin()
    assert refresh_rollup(first, now=START, year=YEAR, least=1) > 0  # counted, not committed

    written: list[int] = []

    def second_worker() -> None:
        with sessions.begin() as db:
            written.append(refresh_rollup(db, now=START, year=YEAR, least=1))

    second = threading.Thread(target=second_worker)
    second.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _waiting_on_a_lock(rollup_engine):
        time.sleep(0.05)
    first.commit()
    first.close()
    second.join(30)
    assert written and written[0] > 0  # the second worker counted too (it did not just fail)
    with sessions() as db:
        groups = (ProgressCount.category_id, ProgressCount.township_id,
                  ProgressCount.institution_id)
        rows = db.scalar(select(func.count()).where(ProgressCount.year == YEAR))
        distinct = db.scalar(select(func.count()).select_from(
            select(*groups).where(ProgressCount.year == YEAR).distinct().subquery()))
    assert rows == distinct  # each place and category once: no figure counted twice


def _stale_rollup(sessions) -> None:
    """A count of the year made long ago (the demo's few vouchers: least=1), due again."""
    with sessions.begin() as db:
        refresh_rollup(db, now=START - ROLLUP_EVERY * 2, year=YEAR, least=1)


def test_the_worker_counting_a_year_may_wait_longer_than_a_page(rollup_engine, config, clock):
    """A province's year takes the worker tens of seconds to count; under a page's 3 s limit it
    was cancelled every round. Here its statement waits on a lock held longer than a page may
    wait (a desk reading the counts FOR UPDATE stands in for a slow count) and still ends: the
    year, now too small for a rollup, is removed."""
    sessions = sessionmaker(rollup_engine)
    _stale_rollup(sessions)
    services = create_app(config, engine=rollup_engine, clock=clock).extensions["peixun"]
    other = rollup_engine.connect()
    other.begin()
    other.execute(select(ProgressCount.id).where(ProgressCount.year == YEAR).with_for_update())
    release = threading.Timer(STATEMENT_SECONDS + 1, other.commit)
    release.start()
    try:
        assert count_rollups(services, START) == 1
    finally:
        release.join()
        other.close()
    with sessions() as db:
        assert db.scalar(select(func.count()).where(ProgressCount.year == YEAR)) == 0


def test_a_worker_finding_the_year_being_counted_leaves_it_and_goes_on(rollup_engine, config,
                                                                       clock):
    """With many workers, one counts a year and the others do not queue behind it (each would
    stop sending messages meanwhile): they leave the year to it at once."""
    sessions = sessionmaker(rollup_engine)
    _stale_rollup(sessions)
    services = create_app(config, engine=rollup_engine, clock=clock).extensions["peixun"]
    other = rollup_engine.connect()
    other.begin()
    other.execute(select(func.pg_advisory_xact_lock(ROLLUP_LOCK, YEAR)))  # counting it
    try:
        started = time.monotonic()
        assert count_rollups(services, START) == 0
        assert time.monotonic() - started < STATEMENT_SECONDS
    finally:
        other.rollback()
        other.close()
    with sessions() as db:  # left as it was, for the worker counting it
        assert db.scalar(select(func.count()).where(ProgressCount.year == YEAR)) > 0

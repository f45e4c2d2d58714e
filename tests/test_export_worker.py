"""Exports are made beside the outbox, never in its way: while a ledger is being made (held
open at a chunk), a queued message still reaches WeChat; stopping the worker stops both loops
and puts a job being made back in the queue; a run that was taken over writes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import event

import worker
from models.desk import DeskRole
from models.export_jobs import (
    STALE_AFTER,
    ExportJob,
    ExportKind,
    ExportStatus,
    claim_next_job,
    finish_job,
    record_progress,
)
from models.outbox import OutboxStatus
from worker.exports import run_export_jobs

PATIENCE = 30.0  # seconds before a test gives up waiting (a hang guard, not a timing claim)
EXPORTS_THREAD = "peixun-exports"


def eventually(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


@dataclass(eq=False)  # a listener must be hashable
class Held:
    """Holds the export at its first progress, before that transaction touches the database,
    until released: the export is provably in the middle of being made meanwhile."""

    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __call__(self, state) -> None:
        statement = state.statement
        if (state.is_update and statement.table.name == "export_jobs"
                and "done" in statement.compile().params and not self.release.is_set()):
            self.reached.set()
            self.release.wait(PATIENCE)


@pytest.fixture
def held(committed) -> Iterator[Held]:
    hold = Held()
    event.listen(committed.sessions, "do_orm_execute", hold)
    yield hold
    hold.release.set()  # the listener goes with this test's own sessionmaker


@pytest.fixture
def running(committed) -> Iterator[threading.Event]:
    """The worker (`make worker`, or the one `make run` starts) in a thread; the test stops it."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(committed.services, stop),
                              kwargs={"poll_seconds": 0.05}, daemon=True)
    thread.start()
    yield stop
    stop.set()
    thread.join(PATIENCE)
    assert not thread.is_alive(), "the worker did not stop"


def exports_thread_alive() -> bool:
    return any(thread.name == EXPORTS_THREAD for thread in threading.enumerate())


def test_a_message_goes_out_while_an_export_is_being_made(committed, running, held,
                                                          fake_wechat):
    job_id = committed.ledger_job()
    assert held.reached.wait(PATIENCE), "the worker never started the export"
    outbox_id = committed.message("课程明天开始。")  # queued while the ledger is being made
    eventually(lambda: committed.status(outbox_id) is OutboxStatus.SENT, "the message sent")
    assert fake_wechat.state.sent == [
        {"kind": "customer", "touser": "demo-trainee", "msgtype": "text",
         "text": {"content": "课程明天开始。"}}]
    assert committed.job(job_id).status is ExportStatus.RUNNING  # still being made
    held.release.set()
    eventually(lambda: committed.job(job_id).status is ExportStatus.DONE, "the export finishing")
    assert committed.job(job_id).filename == "培训台账_2026Q4.xlsx"


def test_stopping_the_worker_stops_both_loops_and_puts_the_job_back(committed, held):
    job_id = committed.ledger_job()
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(committed.services, stop),
                              kwargs={"poll_seconds": 0.05}, daemon=True)
    thread.start()
    assert held.reached.wait(PATIENCE), "the worker never started the export"
    assert exports_thread_alive()
    stop.set()  # Ctrl-C or SIGTERM, in the middle of a ledger
    held.release.set()
    thread.join(PATIENCE)
    assert not thread.is_alive() and not exports_thread_alive()
    job = committed.job(job_id)
    assert (job.status, job.done, job.total, job.started_at) == (
        ExportStatus.QUEUED, 0, None, None)  # back in the queue: not 10 minutes of waiting
    assert run_export_jobs(committed.services) == 1  # the next worker makes it at once
    assert committed.job(job_id).status is ExportStatus.DONE


def test_a_run_that_was_taken_over_writes_nothing(make_desk_user, sessions, clock, services):
    user = make_desk_user(DeskRole.ADMIN)
    with sessions.begin() as db:
        db.add(ExportJob(kind=ExportKind.PROGRESS, params={"month": "2026-11"},
                         with_full_ids=False, locale="zh_Hans_CN", requested_by_id=user.id,
                         status=ExportStatus.QUEUED, done=0, created_at=clock.now()))
    with sessions.begin() as db:
        first = claim_next_job(db, now=clock.now()).started_at
    clock.advance(minutes=11)  # the first run stood still: another worker takes the job up
    with sessions.begin() as db:
        job = claim_next_job(db, now=clock.now())
        second = job.started_at
    with sessions.begin() as db:  # the first run comes back to life, too late
        assert not record_progress(db, job_id=job.id, started_at=first, done=1, total=1,
                                   now=clock.now())
        assert not finish_job(db, job_id=job.id, started_at=first, filename="old.xlsx",
                              content=b"old", vault=services.vault, now=clock.now())
    with sessions() as db:
        again = db.get(ExportJob, job.id)
        assert (again.status, again.filename, again.started_at) == (
            ExportStatus.RUNNING, None, second)


def test_an_export_left_running_by_a_dead_worker_is_made_by_another(committed):
    """A worker killed in the middle of an export leaves it 'running' under its name; once
    its lease (the last progress + STALE_AFTER) has run out, another worker makes it."""
    job_id = committed.ledger_job()
    clock = committed.services.clock
    with committed.sessions.begin() as db:
        claim_next_job(db, now=clock.now(), worker="host-a:4242:0dead000")  # then killed
    assert committed.job(job_id).leased_by == "host-a:4242:0dead000"
    clock.advance(minutes=5)
    assert run_export_jobs(committed.services, worker="host-b:1717:a1ive000") == 0  # still its
    clock.advance(seconds=(STALE_AFTER - timedelta(minutes=5)).total_seconds() + 1)
    assert run_export_jobs(committed.services, worker="host-b:1717:a1ive000") == 1
    job = committed.job(job_id)
    assert (job.status, job.leased_by) == (ExportStatus.DONE, "host-b:1717:a1ive000")
    assert job.filename == "培训台账_2026Q4.xlsx"

"""The app on data that really commits, for tests of the worker: its threads and a second
worker's engine see each other's writes only after a commit, as in production. What a test
adds is deleted afterwards (the database is shared with the tests that roll back)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from uuid import uuid4

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from models.audit import AuditEntry
from models.clock import LOCAL_TZ, FrozenClock
from models.desk import DeskRole, DeskUser
from models.export_jobs import ExportJob, ExportKind, ExportStatus
from models.outbox import Outbox, OutboxStatus, enqueue
from models.persons import Person
from runtime.services import Services
from webhooks.app import create_app

# Before anything in the demo county falls due: the worker's periodic jobs find nothing to do
# in the database these tests share with the others.
EARLY = datetime(2020, 1, 6, 9, 0, tzinfo=LOCAL_TZ)


@dataclass
class Committed:
    """The app on a sessionmaker of its own (a connection per thread, as in production, so the
    worker's two threads work side by side); what a test adds is deleted afterwards."""

    services: Services
    sessions: sessionmaker
    jobs: list[int] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    users: list[int] = field(default_factory=list)

    def message(self, text: str) -> int:
        with self.sessions.begin() as db:
            person = db.scalar(select(Person).where(Person.openid == "demo-trainee"))
            outbox_id = enqueue(db, person=person, reason=f"test:{uuid4()}", text=text,
                                now=self.services.clock.now()).id
        self.messages.append(outbox_id)
        return outbox_id

    def row(self, outbox_id: int) -> Outbox:
        with self.sessions() as db:
            return db.get(Outbox, outbox_id)

    def status(self, outbox_id: int) -> OutboxStatus:
        return self.row(outbox_id).status

    def ledger_job(self) -> int:
        with self.sessions.begin() as db:
            user = DeskUser(username=f"t-{uuid4().hex[:12]}", password_hash="-",
                            role=DeskRole.ADMIN, created_at=EARLY)
            db.add(user)
            db.flush()
            self.users.append(user.id)
            job = ExportJob(kind=ExportKind.LEDGER, params={"quarter": "2026Q4"},
                            with_full_ids=False, locale="zh_Hans_CN", requested_by_id=user.id,
                            status=ExportStatus.QUEUED, done=0, created_at=EARLY)
            db.add(job)
            db.flush()
            self.jobs.append(job.id)
            return job.id

    def job(self, job_id: int) -> ExportJob:
        with self.sessions() as db:
            return db.get(ExportJob, job_id)

    def worker_on(self, engine) -> Services:
        """The same app and clock on an engine of its own: another worker process."""
        app = create_app(self.services.config, engine=engine,
                         sessions=sessionmaker(engine, expire_on_commit=False),
                         kv=self.services.kv, clock=self.services.clock)
        return app.extensions["peixun"]


@pytest.fixture
def committed(stack, config, kv, fake_wechat) -> Iterator[Committed]:
    fake_wechat.state.reset()
    sessions = sessionmaker(stack.engine, expire_on_commit=False)
    app = create_app(config, engine=stack.engine, sessions=sessions, kv=kv,
                     clock=FrozenClock(EARLY))
    made = Committed(app.extensions["peixun"], sessions)
    yield made
    with sessions.begin() as db:
        db.execute(delete(AuditEntry).where(AuditEntry.target_type == "outbox",
                                            AuditEntry.target_id.in_(made.messages)))
        db.execute(delete(Outbox).where(Outbox.id.in_(made.messages)))
        db.execute(delete(ExportJob).where(ExportJob.id.in_(made.jobs)))
        db.execute(delete(DeskUser).where(DeskUser.id.in_(made.users)))

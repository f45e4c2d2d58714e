"""Making the desk's exports (issue 8), in the worker's export thread: the oldest queued job is
claimed, its rows read and its workbook (documents/) written chunk by chunk, each chunk and its
progress in a short transaction of its own; a job left by a stopped worker goes back to the
queue, one another worker took over is given up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from documents.claim_sheet import claim_workbook
from documents.class_record import class_record_workbook
from documents.ledger import LedgerBook
from documents.progress_report import progress_workbook
from documents.provincial_file import provincial_workbook
from locales import Translator, translator
from models.errors import DomainError
from models.export_jobs import (
    ExportKind,
    claim_next_job,
    fail_job,
    finish_job,
    record_progress,
    release_job,
)
from models.ledgers import (
    Month,
    Quarter,
    claim_of_course,
    class_record,
    find_course,
    ledger_chunk,
    ledger_count,
    progress_report,
)
from models.pii import Vault
from models.progress import townships_under
from models.regions import county_name
from runtime.services import Services
from worker.name import worker_name

logger = logging.getLogger(__name__)

CHUNK = 500  # ledger rows read (and written) per short transaction


def run_exports(services: Services, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """Make queued exports one after another until ``stop`` is set; a queued one is taken up
    within ``poll_seconds``. Any number of these may run, in one process or many."""
    worker = worker_name()
    logger.info("export worker %s started", worker)
    while not stop.is_set():
        try:
            made = run_export_jobs(services, stop=stop, worker=worker)
        except Exception:
            logger.exception("export round failed")
            made = 0
        if not made:
            stop.wait(poll_seconds)
    logger.info("export worker stopped")


@dataclass(frozen=True)
class JobSpec:
    id: int
    kind: ExportKind
    params: dict[str, Any]
    with_full_ids: bool
    locale: str
    chunk: int = CHUNK
    started_at: datetime | None = None  # this run's claim (models.export_jobs._still_ours)
    stop: threading.Event | None = None  # set when the worker is stopping


class _Stopping(Exception):
    """The worker is stopping: the job goes back to the queue."""


class _TakenOver(Exception):
    """The job stood still so long that another worker took it up: this run gives way."""


def run_export_jobs(services: Services, *, chunk: int = CHUNK, stop: threading.Event | None = None,
                    worker: str | None = None) -> int:
    """Make the oldest queued export, if any; return how many were made (0 or 1). Each chunk
    of ``chunk`` rows is read, written and its progress recorded in a short transaction of its
    own; once ``stop`` is set, the job goes back to the queue at the next chunk."""
    now = services.clock.now()
    with services.sessions.begin() as db:
        job = claim_next_job(db, now=now, worker=worker)
        if job is None:
            return 0
        spec = JobSpec(job.id, job.kind, dict(job.params), job.with_full_ids, job.locale,
                       chunk, job.started_at, stop)
    t = translator(spec.locale)
    try:
        filename, content = BUILDERS[spec.kind](services, spec, t)
    except _Stopping:
        with services.sessions.begin() as db:
            release_job(db, job_id=spec.id, started_at=spec.started_at)
        return 0
    except _TakenOver:
        logger.warning("export %s was taken up by another worker; this run gives way", spec.id)
        return 1
    except DomainError as error:
        # Something changed since it was asked for (a class gone): say so on the job's page.
        _fail(services, spec, error.code)
        return 1
    except Exception:
        logger.exception("export %s failed", spec.id)
        _fail(services, spec, "internal_error")
        return 1
    with services.sessions.begin() as db:
        finish_job(db, job_id=spec.id, started_at=spec.started_at, filename=filename,
                   content=content, vault=services.vault, now=services.clock.now())
    return 1


def _fail(services, spec: JobSpec, error: str) -> None:
    with services.sessions.begin() as db:
        fail_job(db, job_id=spec.id, started_at=spec.started_at, error=error,
                 now=services.clock.now())


def _moved(services, spec: JobSpec, *, done: int, total: int) -> None:
    """Record the progress, in a short transaction of its own; stop building here when the
    worker is stopping or the job is no longer this run's."""
    with services.sessions.begin() as db:
        ours = record_progress(db, job_id=spec.id, started_at=spec.started_at, done=done,
                               total=total, now=services.clock.now())
    if not ours:
        raise _TakenOver
    if spec.stop is not None and spec.stop.is_set():
        raise _Stopping


def _vault(services, spec: JobSpec) -> Vault | None:
    return services.vault if spec.with_full_ids else None


def _build_ledger(services, spec: JobSpec, t: Translator) -> tuple[str, bytes]:
    quarter = Quarter.parse(spec.params["quarter"])
    # The primary's, never a replica's: the bureau pays on this file, and a replica whose
    # replication stalled would give an old quarter without saying so.
    with services.sessions.begin() as db:
        # A province's deployment: one county's classes (params "county", a region code).
        townships = townships_under(db, spec.params.get("county"))
        place = county_name(db, spec.params.get("county"), t.locale)
        total = ledger_count(db, quarter=quarter, townships=townships)
    _moved(services, spec, done=0, total=total)
    book = LedgerBook(t, quarter=quarter, total=total, full_ids=spec.with_full_ids,
                      county=place)
    after = (0, 0)
    try:
        while True:
            with services.sessions.begin() as db:
                rows = ledger_chunk(db, quarter=quarter, after=after, limit=spec.chunk,
                                    vault=_vault(services, spec), now=services.clock.now(),
                                    townships=townships)
            book.add(rows)  # outside the transaction: writing takes longer than reading
            _moved(services, spec, done=min(book.rows, total), total=max(total, book.rows))
            if len(rows) < spec.chunk:
                break
            after = rows[-1].key
    except BaseException:
        book.discard()
        raise
    name = (t._("Training ledger %(quarter)s %(county)s", quarter=str(quarter), county=place)
            if place else t._("Training ledger %(quarter)s", quarter=str(quarter)))
    return f"{name}.xlsx", book.finish()


def _build_class_record(services, spec: JobSpec, t: Translator) -> tuple[str, bytes]:
    with services.sessions.begin() as db:
        record = class_record(db, course_code=spec.params["course"],
                              vault=_vault(services, spec), now=services.clock.now())
    _moved(services, spec, done=1, total=1)
    content = class_record_workbook(record, t, full_ids=spec.with_full_ids)
    name = t._("Class record %(code)s", code=record.course.code)
    return f"{name}.xlsx", content


def _build_progress(services, spec: JobSpec, t: Translator) -> tuple[str, bytes]:
    month = Month.parse(spec.params["month"])
    with services.read_sessions.begin() as db:
        report = progress_report(db, month=month)
    _moved(services, spec, done=1, total=1)
    name = t._("Progress report %(month)s", month=str(month))
    return f"{name}.xlsx", progress_workbook(report, t)


def _build_claim(services, spec: JobSpec, t: Translator) -> tuple[str, bytes]:
    with services.sessions.begin() as db:
        claim = claim_of_course(db, course_code=spec.params["course"])
        content = claim_workbook(claim, claim.lines, t)
    _moved(services, spec, done=1, total=1)
    name = t._("Claim %(number)s", number=claim.number)
    return f"{name}.xlsx", content


def _build_provincial(services, spec: JobSpec, t: Translator) -> tuple[str, bytes]:
    with services.sessions.begin() as db:
        course = find_course(db, course_code=spec.params["course"])
        rows = ledger_chunk(db, course_id=course.id, limit=None, vault=services.vault,
                           now=services.clock.now())
    _moved(services, spec, done=1, total=1)
    # The platform's name for the file, whatever the clerk's language.
    return f"凡补必进_{course.code}.xlsx", provincial_workbook(rows)


BUILDERS: dict[ExportKind, Callable[[Any, JobSpec, Translator], tuple[str, bytes]]] = {
    ExportKind.LEDGER: _build_ledger,
    ExportKind.CLASS_RECORD: _build_class_record,
    ExportKind.PROGRESS: _build_progress,
    ExportKind.CLAIM: _build_claim,
    ExportKind.PROVINCIAL: _build_provincial,
}

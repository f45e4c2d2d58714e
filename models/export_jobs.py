"""Exports the desk asks for and the worker makes (issue 8): who may ask for which, the queue,
the progress, the finished file and who may fetch it. The file is kept in the database (a
county's ledger is a few megabytes; one database to back up, and any worker or web process
reaches it), sealed with the data key (issue 14: it carries ID numbers and phones, and no
column holds them clear), and removed KEEP_FILES after it was made. A file with full ID
numbers is made only for an admin who says why; the reason is kept on the job and in the
audit log."""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import Channel, audit
from models.base import Base, enum_column
from models.claims import Claim
from models.desk import DeskRole, DeskUser
from models.errors import DomainError, NotFound
from models.ledgers import Month, Quarter, find_course
from models.pii import Unreadable, Vault
from models.regions import county as county_of_code

logger = logging.getLogger(__name__)

# A finished file is removed this long after it was made (it carries personal data).
KEEP_FILES = timedelta(days=7)
# A running job that has not moved for this long lost its worker: it is run again.
STALE_AFTER = timedelta(minutes=10)


class ExportKind(enum.StrEnum):
    LEDGER = "ledger"  # 培训台账, one quarter
    PROGRESS = "progress"  # monthly progress against the targets
    CLASS_RECORD = "class_record"  # one class's record
    CLAIM = "claim"  # one class's claim list (issue 6)
    PROVINCIAL = "provincial"  # one class for the provincial platform (凡补必进)


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# Who may ask for each export. An institution's staff only ever see their own classes.
ALLOWED: dict[ExportKind, frozenset[DeskRole]] = {
    ExportKind.LEDGER: frozenset({DeskRole.ADMIN, DeskRole.INSPECTOR}),
    ExportKind.PROGRESS: frozenset({DeskRole.ADMIN, DeskRole.INSPECTOR}),
    ExportKind.CLASS_RECORD: frozenset({DeskRole.ADMIN, DeskRole.INSPECTOR,
                                        DeskRole.INSTITUTION}),
    ExportKind.CLAIM: frozenset({DeskRole.ADMIN, DeskRole.INSTITUTION}),
    ExportKind.PROVINCIAL: frozenset({DeskRole.ADMIN}),
}
# The exports that can carry full ID numbers (and phones); only the bureau's admins get them.
# The provincial platform matches people by ID number: its file always carries them.
FULL_IDS_POSSIBLE = frozenset({ExportKind.LEDGER, ExportKind.CLASS_RECORD})
ALWAYS_FULL_IDS = frozenset({ExportKind.PROVINCIAL})
FULL_IDS_ROLES = frozenset({DeskRole.ADMIN})
# Why a file with full ID numbers is needed: said in a few words, kept on the job and audited.
REASON_MAX = 200
# The parameter each export needs.
PARAMETER = {ExportKind.LEDGER: "quarter", ExportKind.PROGRESS: "month",
             ExportKind.CLASS_RECORD: "course", ExportKind.CLAIM: "course",
             ExportKind.PROVINCIAL: "course"}
# The exports a province's deployment may ask for one county (params "county", a county's
# region code: worker/exports.py reads it); without it, the whole deployment, as in a county.
BY_COUNTY = frozenset({ExportKind.LEDGER})


class ExportRefused(DomainError):
    """An export the desk user may not have; ``reason``: ``role`` (``kind``), ``full_ids``,
    ``why_missing`` (full ID numbers asked for without saying why), ``not_claimed``
    (``course``: the class has no claim yet), ``not_a_county`` (``value``: no county has that
    code), ``not_by_county`` (``kind``: this export is made for the whole deployment only)."""

    code = "export_refused"


class ExportJob(Base):
    __tablename__ = "export_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ExportKind] = mapped_column(enum_column(ExportKind))
    params: Mapped[dict[str, Any]]
    # The file carries full ID numbers and phones (admins only), not the masked ones.
    with_full_ids: Mapped[bool] = mapped_column(default=False)
    # Why the requester needs the full ID numbers (required with them), as they wrote it.
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    locale: Mapped[str] = mapped_column(String(16))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("desk_users.id"), index=True)
    status: Mapped[ExportStatus] = mapped_column(enum_column(ExportStatus), index=True)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None]  # None until the worker has counted the rows
    filename: Mapped[str | None] = mapped_column(String(120))
    # Sealed with the data key (models.pii.Vault.seal_file, bound to the job's id); loaded
    # only when the file is fetched, never with the job's progress.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    moved_at: Mapped[datetime | None]  # the last progress, to find a job whose worker died
    # The worker making it (host:pid:random, worker.name.worker_name): its lease runs
    # until moved_at + STALE_AFTER, renewed by every progress.
    leased_by: Mapped[str | None] = mapped_column(String(80))
    finished_at: Mapped[datetime | None]
    file_removed_at: Mapped[datetime | None]

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportStatus.DONE, ExportStatus.FAILED)

    @property
    def has_file(self) -> bool:
        return self.status is ExportStatus.DONE and self.file_removed_at is None

    @property
    def percent(self) -> int:
        if self.status is ExportStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, self.done * 100 // self.total)


# --- asking for an export ------------------------------------------------------------------

def may_ask(user: DeskUser, kind: ExportKind) -> bool:
    return user.role in ALLOWED[kind]


def queue_export(db: Session, *, user: DeskUser, kind: ExportKind, value: str,
                 with_full_ids: bool, locale: str, now: datetime,
                 reason: str = "", county: str = "") -> ExportJob:
    """Check the role, the reason (required with full ID numbers), the parameter and the
    county (a code, or "" for the whole deployment), then queue the job; audited (who exported
    what, and why when the file has full IDs)."""
    if not may_ask(user, kind):
        raise ExportRefused(reason="role", kind=kind.value)
    full_ids = kind in ALWAYS_FULL_IDS or (with_full_ids and kind in FULL_IDS_POSSIBLE)
    if full_ids and user.role not in FULL_IDS_ROLES:
        raise ExportRefused(reason="full_ids")
    why = " ".join(reason.split())[:REASON_MAX] if full_ids else ""
    if full_ids and not why:
        raise ExportRefused(reason="why_missing", kind=kind.value)
    params = {PARAMETER[kind]: _checked(db, user=user, kind=kind, value=value)}
    if county:
        params["county"] = _county_checked(db, kind=kind, code=county)
    job = ExportJob(kind=kind, params=params, with_full_ids=full_ids, reason=why or None,
                    locale=locale, requested_by_id=user.id, status=ExportStatus.QUEUED,
                    done=0, created_at=now)
    db.add(job)
    after: dict[str, Any] = {"kind": kind.value, **params, "full_ids": full_ids}
    if full_ids:
        after["reason"] = why
    audit(db, actor_id=None, desk_user_id=user.id, channel=Channel.PAGE, action="export.queue",
          target=job, after=after, at=now)
    logger.info("export %s queued: %s by desk user %s", job.id, kind.value, user.id)
    return job


def _checked(db: Session, *, user: DeskUser, kind: ExportKind, value: str) -> str:
    """The parameter in its one written form; a class outside the user's institution is not
    found, as if it did not exist."""
    if PARAMETER[kind] == "quarter":
        return str(Quarter.parse(value))
    if PARAMETER[kind] == "month":
        return str(Month.parse(value))
    scope = user.institution_id if user.role is DeskRole.INSTITUTION else None
    course = find_course(db, course_code=value, institution_id=scope)
    if kind is ExportKind.CLAIM and db.scalar(
            select(Claim.id).where(Claim.course_id == course.id)) is None:
        raise ExportRefused(reason="not_claimed", course=course.code)
    return course.code


def _county_checked(db: Session, *, kind: ExportKind, code: str) -> str:
    """A county of the deployment, for an export made by county. No desk role is held to one
    county (an admin's and an inspector's scope is the deployment, an institution's its own
    classes, and ALLOWED keeps it from the ledger): the role was checked before this."""
    if kind not in BY_COUNTY:
        raise ExportRefused(reason="not_by_county", kind=kind.value)
    found = county_of_code(db, code)
    if found is None:
        raise ExportRefused(reason="not_a_county", value=code)
    return found.code


# --- the desk user's jobs ------------------------------------------------------------------

def jobs_of(db: Session, *, user: DeskUser, limit: int = 20) -> list[ExportJob]:
    return list(db.scalars(select(ExportJob).where(ExportJob.requested_by_id == user.id)
                           .order_by(ExportJob.id.desc()).limit(limit)))


def job_for(db: Session, *, user: DeskUser, job_id: int) -> ExportJob:
    """A job is its requester's alone: anyone else's is not found. A file with full IDs is
    given only to someone who is an admin now (a role taken away takes the file too)."""
    job = db.scalar(select(ExportJob).where(ExportJob.id == job_id,
                                            ExportJob.requested_by_id == user.id))
    if job is None:
        raise NotFound(kind="export", number=str(job_id))
    if job.with_full_ids and user.role not in FULL_IDS_ROLES:
        raise ExportRefused(reason="full_ids")
    return job


def export_file(db: Session, *, user: DeskUser, job_id: int, vault: Vault,
                now: datetime) -> tuple[str, bytes]:
    """The finished file, unsealed, and its name; fetching a file with personal data is
    audited. A file that no longer opens (the data key was changed) is as good as removed."""
    job = job_for(db, user=user, job_id=job_id)
    if not job.has_file or job.content is None:
        raise NotFound(kind="export_file", number=str(job_id))
    try:
        content = vault.open_file(job.content, label=_label(job.id))
    except Unreadable:
        logger.warning("export %s: the sealed file does not open with the data key", job.id)
        raise NotFound(kind="export_file", number=str(job_id)) from None
    audit(db, actor_id=None, desk_user_id=user.id, channel=Channel.PAGE,
          action="export.download", target=job,
          after={"kind": job.kind.value, "full_ids": job.with_full_ids}, at=now)
    return job.filename or f"export-{job.id}.xlsx", content


def _label(job_id: int) -> str:
    """What a sealed file is bound to: its own job (a file copied to another row won't open)."""
    return f"export-job:{job_id}"


# --- the worker's side ---------------------------------------------------------------------

def claim_next_job(db: Session, *, now: datetime, worker: str | None = None) -> ExportJob | None:
    """The oldest queued job (or one whose worker died: its lease, moved_at + STALE_AFTER, ran
    out), marked running and leased to ``worker``; two workers never take the same job (the
    row is locked, and skipped by the other)."""
    job = db.scalar(select(ExportJob).where(or_(
        ExportJob.status == ExportStatus.QUEUED,
        (ExportJob.status == ExportStatus.RUNNING) & (ExportJob.moved_at < now - STALE_AFTER)))
        .order_by(ExportJob.id).limit(1).with_for_update(skip_locked=True))
    if job is None:
        return None
    if job.status is ExportStatus.RUNNING:
        logger.warning("export %s had stopped moving under %s; %s runs it again", job.id,
                       job.leased_by, worker)
    job.status, job.started_at, job.moved_at, job.done, job.total = (
        ExportStatus.RUNNING, now, now, 0, None)
    job.leased_by = worker
    db.flush()
    return job


def _still_ours(job_id: int, started_at: datetime):
    """A run is known by when it was claimed: once a job that stood still is taken up again,
    the first run's late writes match nothing and change nothing."""
    return update(ExportJob).where(ExportJob.id == job_id,
                                   ExportJob.status == ExportStatus.RUNNING,
                                   ExportJob.started_at == started_at)


def record_progress(db: Session, *, job_id: int, started_at: datetime, done: int, total: int,
                    now: datetime) -> bool:
    """Move the progress; False when the job is no longer this run's."""
    return db.execute(_still_ours(job_id, started_at)
                      .values(done=done, total=total, moved_at=now)).rowcount == 1


def finish_job(db: Session, *, job_id: int, started_at: datetime, filename: str,
               content: bytes, vault: Vault, now: datetime) -> bool:
    """Keep the file, sealed; the clear bytes are never written to the database."""
    sealed = vault.seal_file(content, label=_label(job_id))
    if db.execute(_still_ours(job_id, started_at).values(
            status=ExportStatus.DONE, filename=filename[:120], content=sealed,
            finished_at=now, moved_at=now)).rowcount != 1:
        logger.warning("export %s was taken up again meanwhile; this run's file dropped", job_id)
        return False
    logger.info("export %s done: %s bytes", job_id, len(content))
    return True


def fail_job(db: Session, *, job_id: int, started_at: datetime, error: str,
             now: datetime) -> bool:
    if db.execute(_still_ours(job_id, started_at).values(
            status=ExportStatus.FAILED, error=error[:300], finished_at=now,
            moved_at=now)).rowcount != 1:
        return False
    logger.warning("export %s failed: %s", job_id, error[:300])
    return True


def release_job(db: Session, *, job_id: int, started_at: datetime) -> bool:
    """Put a job back in the queue (its worker is stopping), to be taken up at once by the
    next worker rather than after STALE_AFTER."""
    released = db.execute(_still_ours(job_id, started_at).values(
        status=ExportStatus.QUEUED, started_at=None, moved_at=None, done=0,
        total=None)).rowcount == 1
    if released:
        logger.info("export %s put back in the queue: its worker is stopping", job_id)
    return released


def remove_old_files(db: Session, *, now: datetime) -> int:
    """Files made more than KEEP_FILES ago are removed; the job stays, saying so."""
    return db.execute(update(ExportJob).where(
        ExportJob.status == ExportStatus.DONE, ExportJob.file_removed_at.is_(None),
        ExportJob.finished_at < now - KEEP_FILES).values(content=None, file_removed_at=now)
    ).rowcount

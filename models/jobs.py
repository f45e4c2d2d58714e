"""Job openings the bureau posts (the county's rule job_push, on the model of DX2020 三(五)), and
their push to matching trainees over the official account.

Matching (one SQL condition, ``_matches``): openings go to trainees — people who finished a
course (a voucher completed or settled, certificate or not); someone who never trained matches
nothing. A trainee matches an opening when one holds —
  * trained for it: the course they finished is of the opening's category;
  * intent: the work intent they registered (就近就地 / 省内 / 省外) is the one QJ2020 三 aims
    the opening's category at, and the opening names no township or names their household
    township;
  * an opening without a category: it names their household township.
A push goes only to someone registered (not withdrawn), on WeChat, following the account and
not unsubscribed (退订).

Pushing (``push_due_openings``, run by the worker in chunks): an opening is pushed from the day
it is posted for PUSH_DAYS days while it is current, between PUSH_HOURS local time, through
the outbox as a broadcast. A person gets at most one push a day — the database's promise
(UNIQUE(person_id, pushed_on)) — and an opening once (UNIQUE(job_id, person_id)). A second
opening the same day waits: the person gets it on a later day of its push period (openings go
out in the order they were posted); after that it is only listed under 招聘. Every chunk is one
transaction; the push rows are the progress, so a stopped run resumes where it was and a
repeated one pushes nobody twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ForeignKey,
    String,
    UniqueConstraint,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship
from sqlalchemy.sql import ColumnElement, Select

from models.audit import Channel, audit
from models.base import Base
from models.catalogue import Category, Course
from models.clerk_sheet import Cell, RowError, read_sheet, read_values, row_values
from models.clerk_sheet import CellRejected as _Rejected
from models.clerk_sheet import day as _day
from models.clerk_sheet import key as _key
from models.clerk_sheet import shown as _shown
from models.clerk_sheet import text as _text
from models.clock import LOCAL_TZ
from models.errors import JobFileRejected, JobOpeningNotFound, JobOpeningRefused
from models.outbox import Outbox, OutboxStatus, enqueue
from models.persons import Person
from models.regions import Region, RegionLevel
from models.vouchers import Voucher, VoucherStatus

logger = logging.getLogger(__name__)

# An opening is pushed during its first days only; after that it is listed under 招聘.
PUSH_DAYS = 7
# Pushes go out in the day, local time: never a job message at midnight.
PUSH_HOURS = (time(8, 0), time(21, 0))
# Vouchers of a finished course (the "trained" rule).
FINISHED = (VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
# An opening may be valid for at most this long from the day it is posted.
LONGEST_VALIDITY = timedelta(days=366)
MAX_ROWS = 1000
PUSH_RECHECK = timedelta(hours=1)


class JobOpening(Base):
    __tablename__ = "job_openings"

    id: Mapped[int] = mapped_column(primary_key=True)
    employer: Mapped[str] = mapped_column(String(120))
    occupation: Mapped[str] = mapped_column(String(60))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    township_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    place: Mapped[str] = mapped_column(String(200), default="")  # 工作地点, as the clerk wrote
    wage: Mapped[str] = mapped_column(String(60))
    contact: Mapped[str] = mapped_column(String(60))  # the employer's, shown in full
    valid_until: Mapped[date] = mapped_column(index=True)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("desk_users.id"))
    withdrawn_at: Mapped[datetime | None]
    # When a push run last found nobody left to push to: looked at again PUSH_RECHECK later
    # (someone may have registered, subscribed again, or have had no push yet today).
    push_idle_at: Mapped[datetime | None]

    category: Mapped[Category | None] = relationship()
    township: Mapped[Region | None] = relationship()

    def posted_on(self) -> date:
        return self.created_at.astimezone(LOCAL_TZ).date()

    def is_current(self, today: date) -> bool:
        return self.withdrawn_at is None and self.valid_until >= today

    def pushes_until(self) -> date:
        """The last day of the push period."""
        return min(self.valid_until, self.posted_on() + timedelta(days=PUSH_DAYS - 1))

    def where(self, locale: str) -> str:
        """The place as people read it: the township and the place text, whichever is given."""
        parts = [self.township.display_name(locale)] if self.township else []
        if self.place and (not parts or self.place != parts[0]):
            parts.append(self.place)
        return " ".join(parts)


class JobPush(Base):
    """One opening pushed to one person on one local day."""

    __tablename__ = "job_pushes"
    __table_args__ = (UniqueConstraint("person_id", "pushed_on"),
                      UniqueConstraint("job_id", "person_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job_openings.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    pushed_on: Mapped[date]
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), index=True)


# --- checking an opening ---------------------------------------------------------------------

@dataclass(frozen=True)
class FieldProblem:
    """A field's problem: which field (its English name), ``code``, the numbers in ``params``."""

    field: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OpeningSpec:
    employer: str
    occupation: str
    category_id: int | None
    township_id: int | None
    place: str
    wage: str
    contact: str
    valid_until: date


@dataclass(frozen=True)
class Known:
    """What a category or township cell may name, by any accepted key (see _key)."""

    categories: dict[str, int]  # code, name, English name or number 1–12 → id
    townships: dict[str, int]  # code, Chinese or English name → id
    category_names: tuple[tuple[str, int], ...] = ()  # (name, id), for a part of a name


def _words(limit: int) -> Callable[[Cell, Known], str]:
    def parse(cell: Cell, known: Known) -> str:
        text = " ".join(_text(cell).split())
        if len(text) > limit:
            raise _Rejected("too_long", limit=limit, value=len(text))
        return text

    return parse


def _category(cell: Cell, known: Known) -> int:
    """A category by its code, name or number, or by a part of its name that only it has
    ("家政" for 家政服务等培训)."""
    key = _key(_text(cell))
    found = known.categories.get(key)
    if found is None:
        partly = {id_ for name, id_ in known.category_names if key in name}
        found = partly.pop() if len(partly) == 1 else None
    if found is None:
        raise _Rejected("unknown_category", value=_shown(cell))
    return found


def _township(cell: Cell, known: Known) -> int:
    found = known.townships.get(_key(_text(cell)))
    if found is None:
        raise _Rejected("unknown_township", value=_shown(cell))
    return found


@dataclass(frozen=True)
class Field:
    name: str  # the English header, and the spec's field
    zh: str  # the Chinese header a clerk types
    parse: Callable[[Cell, Known], Any]
    is_required: bool = True
    aliases: tuple[str, ...] = ()
    default: Any = None  # the value of a blank cell in a field that is not required


FIELDS: tuple[Field, ...] = (
    Field("employer", "用人单位", _words(120), aliases=("单位", "招聘单位", "企业")),
    Field("occupation", "职业/工种", _words(60), aliases=("职业", "工种", "岗位", "job")),
    Field("category", "类别", _category, is_required=False, aliases=("培训类别",)),
    Field("township", "乡镇", _township, is_required=False, aliases=("乡镇/街道",)),
    Field("place", "工作地点", _words(200), is_required=False, aliases=("地点", "地址"),
          default=""),
    Field("wage", "工资待遇", _words(60), aliases=("工资", "待遇", "薪资", "salary")),
    Field("contact", "联系方式", _words(60), aliases=("联系电话", "联系人", "电话")),
    Field("valid_until", "有效期至", _day, aliases=("有效期", "截止日期", "valid until")),
)
HEADERS: dict[str, Field] = {_key(header): f for f in FIELDS
                             for header in (f.name, f.zh, *f.aliases)}


def known_references(db: Session) -> Known:
    categories = db.execute(select(Category.id, Category.code, Category.name, Category.name_en,
                                   Category.no)).all()
    townships = db.execute(select(Region.id, Region.code, Region.name, Region.name_en)
                           .where(Region.level == RegionLevel.TOWNSHIP))
    return Known(
        categories={_key(str(key)): row[0] for row in categories for key in row[1:]},
        townships={_key(str(key)): row[0] for row in townships for key in row[1:]},
        category_names=tuple((_key(row.name), row.id) for row in categories),
    )


def check_opening(values: Mapping[str, Cell], *, known: Known,
                  today: date) -> tuple[OpeningSpec | None, list[FieldProblem]]:
    """The opening that values describe, or None and every problem, one per field."""
    read, found = read_values(values, FIELDS, known)
    problems = [FieldProblem(*problem) for problem in found]
    problems += _cross_checks(read, problems, today)
    if problems:
        return None, problems
    return OpeningSpec(employer=read["employer"], occupation=read["occupation"],
                       category_id=read["category"], township_id=read["township"],
                       place=read["place"], wage=read["wage"], contact=read["contact"],
                       valid_until=read["valid_until"]), []


def _cross_checks(read: dict[str, Any], problems: list[FieldProblem],
                  today: date) -> list[FieldProblem]:
    failed = {p.field for p in problems}
    found = []
    if not read["township"] and not read["place"] and not failed & {"township", "place"}:
        found.append(FieldProblem("place", "place_required"))
    until = read["valid_until"]
    if until is not None and until < today:
        found.append(FieldProblem("valid_until", "valid_until_past",
                                  {"value": until.isoformat(), "today": today.isoformat()}))
    elif until is not None and until > today + LONGEST_VALIDITY:
        found.append(FieldProblem("valid_until", "valid_until_far",
                                  {"value": until.isoformat(),
                                   "limit": (today + LONGEST_VALIDITY).isoformat()}))
    return found


# --- posting, importing, withdrawing ---------------------------------------------------------

def post_opening(db: Session, *, values: Mapping[str, Cell], desk_user_id: int | None,
                 channel: Channel, now: datetime, today: date) -> JobOpening:
    """Post one opening from a form's values; JobOpeningRefused lists each field's problem."""
    spec, problems = check_opening(values, known=known_references(db), today=today)
    if spec is None:
        raise JobOpeningRefused(problems=problems)
    return _post(db, spec, desk_user_id=desk_user_id, channel=channel, now=now)


def _post(db: Session, spec: OpeningSpec, *, desk_user_id: int | None, channel: Channel,
          now: datetime) -> JobOpening:
    job = JobOpening(employer=spec.employer, occupation=spec.occupation,
                     category_id=spec.category_id, township_id=spec.township_id,
                     place=spec.place, wage=spec.wage, contact=spec.contact,
                     valid_until=spec.valid_until, created_at=now, created_by_id=desk_user_id)
    db.add(job)
    audit(db, actor_id=None, desk_user_id=desk_user_id, channel=channel,
          action="job_opening.post", target=job,
          after={"employer": spec.employer, "occupation": spec.occupation,
                 "valid_until": spec.valid_until.isoformat()}, at=now)
    return job


@dataclass(frozen=True)
class ImportResult:
    new: int
    unchanged: int  # the same as an opening posted already (a file imported twice)


def import_openings(db: Session, *, filename: str, content: bytes, desk_user_id: int | None,
                    channel: Channel, now: datetime, today: date) -> ImportResult:
    """Post every opening of an .xlsx file, or none: JobFileRejected lists every problem by
    row and column. Runs in the caller's transaction."""
    columns, rows = read_sheet(filename, content, suffixes=(".xlsx",), max_rows=MAX_ROWS,
                               headers=HEADERS, columns=FIELDS, refuse=JobFileRejected)
    known = known_references(db)
    specs: list[OpeningSpec] = []
    errors: list[RowError] = []
    first_row_of: dict[OpeningSpec, int] = {}
    for number, cells in rows:
        spec, problems = check_opening(row_values(columns, cells), known=known, today=today)
        errors += [RowError(number, p.field, p.code, p.params) for p in problems]
        if spec is not None and spec in first_row_of:
            errors.append(RowError(number, None, "duplicate_row",
                                   {"first_row": first_row_of[spec]}))
        elif spec is not None:
            first_row_of[spec] = number
            specs.append(spec)
    if errors:
        logger.info("job file rejected: %s problems in %s rows", len(errors), len(rows))
        raise JobFileRejected(errors=errors)
    new = [spec for spec in specs if not _posted_already(db, spec)]
    for spec in new:
        _post(db, spec, desk_user_id=desk_user_id, channel=channel, now=now)
    logger.info("job file imported: %s new, %s unchanged", len(new), len(specs) - len(new))
    return ImportResult(new=len(new), unchanged=len(specs) - len(new))


def _posted_already(db: Session, spec: OpeningSpec) -> bool:
    return db.scalar(select(exists().where(
        JobOpening.withdrawn_at.is_(None), JobOpening.employer == spec.employer,
        JobOpening.occupation == spec.occupation, JobOpening.category_id.is_not_distinct_from(
            spec.category_id),
        JobOpening.township_id.is_not_distinct_from(spec.township_id),
        JobOpening.place == spec.place, JobOpening.wage == spec.wage,
        JobOpening.contact == spec.contact, JobOpening.valid_until == spec.valid_until)))


def withdraw_opening(db: Session, *, job_id: int, desk_user_id: int | None, channel: Channel,
                     now: datetime) -> JobOpening:
    """Take an opening down: it is no longer listed or pushed, and pushes queued but not yet
    sent are dropped. Withdrawing twice changes nothing."""
    job = db.get(JobOpening, job_id, with_for_update=True)
    if job is None:
        raise JobOpeningNotFound(job_id=job_id)
    if job.withdrawn_at is None:
        job.withdrawn_at = now
        queued = select(JobPush.outbox_id).where(JobPush.job_id == job.id)
        db.execute(update(Outbox)
                   .where(Outbox.id.in_(queued), Outbox.status == OutboxStatus.PENDING)
                   .values(status=OutboxStatus.FAILED, last_error="opening withdrawn")
                   .execution_options(synchronize_session=False))
        audit(db, actor_id=None, desk_user_id=desk_user_id, channel=channel,
              action="job_opening.withdraw", target=job, after={"withdrawn_at": now.isoformat()},
              at=now)
    return job


# --- matching --------------------------------------------------------------------------------

def _matches(person: type[Person], job: type[JobOpening]) -> ColumnElement[bool]:
    """The matching rule of this module's docstring, as one SQL condition on a person row and
    an opening row."""
    # nested in the vouchers' EXISTS: tied to the outer person and opening by hand
    intent_fits = (select(Category.id)
                   .where(Category.id == job.category_id, Category.intent == person.intent)
                   .correlate_except(Category)
                   .exists())
    # NULL = NULL is not true: an opening without a township is nobody's home
    at_home = person.township_id == job.township_id
    near_enough = or_(job.township_id.is_(None), at_home)
    return (select(Voucher.id).join(Course, Course.id == Voucher.course_id)
            .where(Voucher.person_id == person.id, Voucher.status.in_(FINISHED),
                   or_(Course.category_id == job.category_id,
                       and_(intent_fits, near_enough),
                       and_(job.category_id.is_(None), at_home)))
            .correlate_except(Voucher, Course)
            .exists())


def _reachable() -> ColumnElement[bool]:
    return and_(Person.registered_at.is_not(None), Person.anonymized_at.is_(None),
                Person.openid.is_not(None), Person.is_following.is_(True),
                Person.unsubscribed_at.is_(None))


def _current(today: date) -> ColumnElement[bool]:
    return and_(JobOpening.withdrawn_at.is_(None), JobOpening.valid_until >= today)


def _not_pushed(job_id: int) -> ColumnElement[bool]:
    return ~exists().where(JobPush.job_id == job_id, JobPush.person_id == Person.id)


def _candidates(job_id: int) -> Select:
    """Everyone the opening is still to be pushed to (today or on a later day)."""
    return (select(Person)
            .join(JobOpening, and_(JobOpening.id == job_id, _matches(Person, JobOpening)))
            .where(_reachable(), _not_pushed(job_id)))


def candidates_today(job_id: int, today: date) -> Select:
    """Those of _candidates who have had no push today: the one query a push chunk runs."""
    pushed_today = exists().where(JobPush.person_id == Person.id, JobPush.pushed_on == today)
    return _candidates(job_id).where(~pushed_today).order_by(Person.id)


def count_waiting(db: Session, *, job_id: int) -> int:
    return db.scalar(select(func.count()).select_from(
        _candidates(job_id).with_only_columns(Person.id).subquery()))


# --- pushing ---------------------------------------------------------------------------------

def is_push_hour(now: datetime) -> bool:
    return PUSH_HOURS[0] <= now.astimezone(LOCAL_TZ).time() < PUSH_HOURS[1]


def due_openings(db: Session, *, now: datetime) -> list[JobOpening]:
    today = now.astimezone(LOCAL_TZ).date()
    first_day = today - timedelta(days=PUSH_DAYS - 1)
    return list(db.scalars(
        select(JobOpening).where(
            _current(today),
            JobOpening.created_at >= datetime.combine(first_day, time(0), tzinfo=LOCAL_TZ),
            or_(JobOpening.push_idle_at.is_(None),
                JobOpening.push_idle_at <= now - PUSH_RECHECK))
        .order_by(JobOpening.id)))


def push_due_openings(db: Session, *, now: datetime, limit: int) -> int:
    """One chunk: queue at most ``limit`` pushes of the openings due now; return how many.
    The worker calls it, one transaction a chunk, until a chunk comes back short."""
    if not is_push_hour(now):
        return 0
    today = now.astimezone(LOCAL_TZ).date()
    queued = 0
    for job in due_openings(db, now=now):
        if queued >= limit:
            break
        people = db.scalars(candidates_today(job.id, today).limit(limit - queued)).all()
        if not people:
            job.push_idle_at = now
            continue
        pushed = sum(_push(db, job, person, today=today, now=now) for person in people)
        logger.info("job %s: %s pushes queued this chunk", job.id, pushed)
        queued += pushed
    return queued


def _push(db: Session, job: JobOpening, person: Person, *, today: date, now: datetime) -> bool:
    push = JobPush(job_id=job.id, person_id=person.id, pushed_on=today)
    try:
        # Another worker may have pushed this person something today a moment ago: the unique
        # row decides, and this one is skipped.
        with db.begin_nested():
            db.add(push)
            db.flush()
    except IntegrityError:
        return False
    row = enqueue(db, person=person, reason=f"job.push:{job.id}:{person.id}", now=now,
                  notice="job_opening", params=push_params(job), broadcast=True)
    if row is None:  # nothing queued: the row would take the person's day for nothing
        db.delete(push)
        db.flush()
        return False
    push.outbox_id = row.id
    return True


def push_params(job: JobOpening) -> dict[str, Any]:
    """What the push says, worded in the person's language when it is sent (bot/notices)."""
    return {"job_id": job.id, "employer": job.employer, "occupation": job.occupation,
            "place": job.where("zh_Hans_CN"), "place_en": job.where("en"), "wage": job.wage,
            "contact": job.contact, "valid_until": job.valid_until.isoformat()}


# --- reading ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListedOpening:
    opening: JobOpening
    is_match: bool  # matches the person by the push rule (_matches)


def openings_for(db: Session, *, person_id: int, today: date, limit: int) -> list[ListedOpening]:
    """Current openings for a person: those matching them first, then the newest."""
    is_match = _matches(Person, JobOpening)
    rows = db.execute(
        select(JobOpening, is_match.label("is_match"))
        .join(Person, Person.id == person_id)
        .where(_current(today))
        .options(joinedload(JobOpening.category), joinedload(JobOpening.township))
        .order_by(case((is_match, 0), else_=1), JobOpening.created_at.desc(),
                  JobOpening.id.desc())
        .limit(limit)).all()
    return [ListedOpening(opening=job, is_match=bool(match)) for job, match in rows]


def get_opening(db: Session, *, job_id: int, today: date) -> JobOpening:
    job = db.scalar(select(JobOpening).where(JobOpening.id == job_id, _current(today))
                    .options(joinedload(JobOpening.category), joinedload(JobOpening.township)))
    if job is None:
        raise JobOpeningNotFound(job_id=job_id)
    return job


@dataclass(frozen=True)
class OpeningFigures:
    opening: JobOpening
    pushed: int  # push rows: queued for someone
    sent: int  # of those, sent (customer or template message)
    failed: int  # of those, not sent (WeChat refused, unsubscribed, withdrawn)
    waiting: int | None  # still to push in its push period; None after it


def list_openings(db: Session, *, today: date, include_ended: bool) -> list[OpeningFigures]:
    """The desk's list: current openings (and, asked, withdrawn and expired ones) with their
    push figures, counted by SQL."""
    sent = func.count(case((Outbox.status == OutboxStatus.SENT, 1)))
    failed = func.count(case((Outbox.status == OutboxStatus.FAILED, 1)))
    query = (select(JobOpening, func.count(JobPush.id), sent, failed)
             .outerjoin(JobPush, JobPush.job_id == JobOpening.id)
             .outerjoin(Outbox, Outbox.id == JobPush.outbox_id)
             .group_by(JobOpening.id)
             .order_by(JobOpening.created_at.desc(), JobOpening.id.desc())
             .limit(200))
    if not include_ended:
        query = query.where(_current(today))
    rows = db.execute(query).all()
    jobs = {job.id: job for job, *_ in rows}
    if jobs:  # load the names shown in one query more, not one per row
        db.scalars(select(JobOpening).where(JobOpening.id.in_(jobs))
                   .options(joinedload(JobOpening.category), joinedload(JobOpening.township))
                   ).all()
    return [OpeningFigures(opening=job, pushed=pushed, sent=n_sent, failed=n_failed,
                           waiting=(count_waiting(db, job_id=job.id)
                                    if job.is_current(today) and job.pushes_until() >= today
                                    else None))
            for job, pushed, n_sent, n_failed in rows]


def posting_choices(db: Session) -> tuple[list[Category], list[Region]]:
    """The categories and townships the desk's form offers."""
    return (list(db.scalars(select(Category).order_by(Category.no))),
            list(db.scalars(select(Region).where(Region.level == RegionLevel.TOWNSHIP)
                            .order_by(Region.code))))

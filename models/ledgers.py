"""The bureau's ledgers (台账, LP2021 六(四)(五)) as rows to export: the training ledger of a
quarter, a class's record, the monthly progress against the targets. Read-only.

Large reads come in keyset chunks (``ledger_chunk``: the next ``limit`` rows after a key), so
the caller reads each chunk in a short transaction of its own and never holds the whole ledger
in memory, nor a transaction open for the whole export (on SQLite every transaction takes the
write lock, see models.base). What belongs to a chunk (attendance, groups) comes in one query
per chunk."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session, joinedload

from models.attendance import Attendance, MarkHow, SpotCheck, taken_place_by
from models.catalogue import ClassSession, Course
from models.claims import Claim, ClaimLine, claim_by_number
from models.errors import CourseNotFound, DomainError
from models.persons import Group, GroupStatus, Person, PersonGroup
from models.pii import Vault
from models.policy import settlement_rates
from models.progress import Progress, ProgressFilter, progress
from models.regions import Region
from models.vouchers import Voucher, VoucherStatus

logger = logging.getLogger(__name__)

# A voucher whose holder was taken in by the institution (报到) is on the ledger, whatever
# became of it since: a trainee who dropped out stays, with the status that says so.
ENROLLED = Voucher.redeemed_at.is_not(None)


class LedgerRefused(DomainError):
    """An export's parameters that cannot be read; ``reason``: ``bad_quarter`` (``value``),
    ``bad_month`` (``value``)."""

    code = "ledger_refused"


# --- periods -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quarter:
    year: int
    number: int  # 1–4

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``2026Q4`` (also ``2026-Q4``, ``2026q4``)."""
        found = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]\s*([1-4])\s*", text or "")
        if not found:
            raise LedgerRefused(reason="bad_quarter", value=(text or "")[:20])
        return cls(int(found.group(1)), int(found.group(2)))

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        return _month_end(self.year, 3 * self.number)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


@dataclass(frozen=True)
class Month:
    year: int
    number: int  # 1–12

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2026-11`` (as an HTML month field sends it)."""
        found = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", text or "")
        if not found or not 1 <= int(found.group(2)) <= 12:
            raise LedgerRefused(reason="bad_month", value=(text or "")[:20])
        return cls(int(found.group(1)), int(found.group(2)))

    @property
    def first_day(self) -> date:
        return date(self.year, self.number, 1)

    @property
    def last_day(self) -> date:
        return _month_end(self.year, self.number)

    def __str__(self) -> str:
        return f"{self.year}-{self.number:02d}"


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


# --- the training ledger -------------------------------------------------------------------

@dataclass(frozen=True)
class LedgerRow:
    """One trainee in one class. ``id_number`` and ``phone`` are filled only when the rows are
    read with the vault (a file for the bureau's admins); otherwise they are None."""

    key: tuple[int, int]  # (course id, voucher id): where the next chunk starts
    voucher_number: str
    name: str | None  # None once the person withdrew consent and their details were deleted
    id_masked: str | None
    id_number: str | None
    phone: str | None
    sex: str | None  # "M" / "F"
    birth_date: date | None
    township: Region | None  # the person's household township
    groups: tuple[tuple[Group, GroupStatus], ...]
    course: Course  # with its institution, category and township
    status: VoucherStatus
    redeemed_at: datetime | None
    completed_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    sessions_attended: int
    days_attended: int
    hours_attended: float
    certified: bool | None
    certificate_no: str | None
    training_yuan: Decimal | None  # training + appraisal subsidy, where claimed or settled
    appraisal_yuan: Decimal | None
    living_yuan: Decimal | None
    transport_yuan: Decimal | None
    paid_by: str | None  # the claim's number, or "S<settlement id>"

    @property
    def has_dropped_out(self) -> bool:
        return self.status in (VoucherStatus.REVOKED, VoucherStatus.EXPIRED,
                               VoucherStatus.CANCELLED)


def _ledger_filter(*, quarter: Quarter | None, course_id: int | None,
                   institution_id: int | None, townships: Collection[int] | None = None) -> list:
    conditions = [ENROLLED]
    if townships is not None:  # a county of a province's deployment: its classes
        conditions.append(Course.township_id.in_(sorted(townships)))
    if quarter is not None:
        conditions += [Course.starts_on >= quarter.first_day, Course.starts_on <= quarter.last_day]
    if course_id is not None:
        conditions.append(Voucher.course_id == course_id)
    if institution_id is not None:
        conditions.append(Course.institution_id == institution_id)
    return conditions


def ledger_count(db: Session, *, quarter: Quarter | None = None, course_id: int | None = None,
                 institution_id: int | None = None,
                 townships: Collection[int] | None = None) -> int:
    """How many rows the ledger has: the total of an export's progress."""
    return db.scalar(select(func.count(Voucher.id)).join(Course, Course.id == Voucher.course_id)
                     .where(*_ledger_filter(quarter=quarter, course_id=course_id,
                                            institution_id=institution_id,
                                            townships=townships))) or 0


def ledger_chunk(db: Session, *, quarter: Quarter | None = None, course_id: int | None = None,
                 institution_id: int | None = None, after: tuple[int, int] = (0, 0),
                 limit: int | None = 500, vault: Vault | None = None,
                 now: datetime, townships: Collection[int] | None = None) -> list[LedgerRow]:
    """The ledger's next rows after the key ``after``, class by class (in the order classes
    were published), trainees in the order they claimed. Classes of the quarter are those that
    start in it. ``limit=None`` reads all (one class's record is small). Hours count only for
    sessions that have taken place by ``now`` (models.attendance.taken_place_by)."""
    after_course, after_voucher = after
    query = (
        select(Voucher, Person.name, Person.id_masked, Person.id_sealed, Person.phone_sealed,
               Person.sex, Person.birth_date, Person.township_id, ClaimLine, Claim.number)
        .join(Person, Person.id == Voucher.person_id)
        .join(Course, Course.id == Voucher.course_id)
        .outerjoin(ClaimLine, ClaimLine.voucher_id == Voucher.id)
        .outerjoin(Claim, Claim.id == ClaimLine.claim_id)
        .where(*_ledger_filter(quarter=quarter, course_id=course_id,
                               institution_id=institution_id, townships=townships),
               or_(Voucher.course_id > after_course,
                   and_(Voucher.course_id == after_course, Voucher.id > after_voucher)))
        .order_by(Voucher.course_id, Voucher.id))
    if limit is not None:
        query = query.limit(limit)
    found = db.execute(query).all()
    if not found:
        return []
    voucher_ids = [row[0].id for row in found]
    person_ids = {row[0].person_id for row in found}
    courses = _courses(db, {row[0].course_id for row in found})
    townships = _regions(db, {row.township_id for row in found if row.township_id})
    groups = _groups(db, person_ids)
    present = _attendance(db, voucher_ids, now)
    return [_ledger_row(row, courses, townships, groups, present, vault) for row in found]


def _ledger_row(row, courses, townships, groups, present, vault: Vault | None) -> LedgerRow:
    voucher, line, claim_number = row[0], row.ClaimLine, row.number
    course = courses[voucher.course_id]
    sessions, days, hours = present.get(voucher.id, (0, 0, 0.0))
    amounts = _amounts(voucher, course, line)
    return LedgerRow(
        key=(voucher.course_id, voucher.id), voucher_number=voucher.number, name=row.name,
        id_masked=row.id_masked,
        id_number=vault.open(row.id_sealed) if vault and row.id_sealed else None,
        phone=vault.open(row.phone_sealed) if vault and row.phone_sealed else None,
        sex=row.sex, birth_date=row.birth_date, township=townships.get(row.township_id),
        groups=groups.get(voucher.person_id, ()), course=course, status=voucher.status,
        redeemed_at=voucher.redeemed_at, completed_at=voucher.completed_at,
        ended_at=voucher.ended_at, end_reason=voucher.end_reason, sessions_attended=sessions,
        days_attended=days, hours_attended=hours, certified=voucher.certified,
        certificate_no=voucher.certificate_no, **amounts,
        paid_by=claim_number or (f"S{voucher.settlement_id}" if voucher.settlement_id else None))


def _amounts(voucher: Voucher, course: Course, line: ClaimLine | None) -> dict[str, object]:
    """What is known to be paid on the voucher: its claim line, else the settlement's rate."""
    if line is not None:
        return {"training_yuan": line.training_yuan, "appraisal_yuan": line.appraisal_yuan,
                "living_yuan": line.living_yuan, "transport_yuan": line.transport_yuan}
    none = dict.fromkeys(("training_yuan", "appraisal_yuan", "living_yuan", "transport_yuan"))
    if voucher.status is not VoucherStatus.SETTLED:
        return none
    rate = settlement_rates().rate_for(kind=course.certificate_kind,
                                       level=course.certificate_level,
                                       is_certified=bool(voucher.certified))
    if rate is None:
        return none
    return {**none, "training_yuan": rate.training_yuan, "appraisal_yuan": rate.appraisal_yuan}


def _courses(db: Session, ids: set[int]) -> dict[int, Course]:
    return {c.id: c for c in db.scalars(
        select(Course).where(Course.id.in_(ids))
        .options(joinedload(Course.institution), joinedload(Course.category),
                 joinedload(Course.township)))}


def _regions(db: Session, ids: set[int]) -> dict[int, Region]:
    if not ids:
        return {}
    return {r.id: r for r in db.scalars(select(Region).where(Region.id.in_(ids)))}


def _groups(db: Session, person_ids: set[int]) -> dict[int, tuple]:
    result: dict[int, list] = {}
    for person_id, group, status in db.execute(
            select(PersonGroup.person_id, PersonGroup.group, PersonGroup.status)
            .where(PersonGroup.person_id.in_(person_ids)).order_by(PersonGroup.id)):
        result.setdefault(person_id, []).append((group, status))
    return {k: tuple(v) for k, v in result.items()}


def _attendance(db: Session, voucher_ids: list[int],
                now: datetime) -> dict[int, tuple[int, int, float]]:
    """Per voucher: sessions attended, distinct days attended, hours attended (of sessions that
    have taken place by ``now``)."""
    hours = case((taken_place_by(now), Attendance.hours), else_=0)
    return {voucher_id: (sessions, days, round(float(hours or 0), 2))
            for voucher_id, sessions, days, hours in db.execute(
                select(Attendance.voucher_id, func.count(Attendance.id),
                       func.count(distinct(ClassSession.day)), func.sum(hours))
                .join(ClassSession, ClassSession.id == Attendance.session_id)
                .where(Attendance.voucher_id.in_(voucher_ids), Attendance.is_present.is_(True))
                .group_by(Attendance.voucher_id))}


# --- a class's record ----------------------------------------------------------------------

@dataclass(frozen=True)
class SessionLine:
    session: ClassSession
    present: int
    absent: int  # marked absent by staff
    by_hand: int  # marks made by staff (present or absent)


@dataclass(frozen=True)
class MarkLine:
    session: ClassSession
    voucher_number: str
    name: str | None
    mark: Attendance


@dataclass(frozen=True)
class SpotCheckLine:
    session: ClassSession
    check: SpotCheck
    inspector: str | None


@dataclass(frozen=True)
class ClassRecord:
    """Everything the bureau keeps of one class for its funders: the class itself (it stays
    whatever becomes of its trainees), everyone ever enrolled with what became of them, each
    session's attendance, each mark, each spot check, the claim."""

    course: Course
    trainees: list[LedgerRow]
    sessions: list[SessionLine]
    marks: list[MarkLine]
    spot_checks: list[SpotCheckLine]
    claim_number: str | None
    session_openers: list[str] = field(default_factory=list)  # staff who opened sessions

    @property
    def dropped_out(self) -> int:
        return sum(1 for t in self.trainees if t.has_dropped_out)


def find_course(db: Session, *, course_code: str, institution_id: int | None = None) -> Course:
    """A class by its code; with ``institution_id``, only among that institution's classes
    (another institution's class is not found, so its existence is not told either)."""
    query = select(Course).where(Course.code == (course_code or "").strip())
    if institution_id is not None:
        query = query.where(Course.institution_id == institution_id)
    course = db.scalar(query.options(joinedload(Course.institution),
                                     joinedload(Course.category), joinedload(Course.township)))
    if course is None:
        raise CourseNotFound(course=(course_code or "").strip()[:40])
    return course


def claim_of_course(db: Session, *, course_code: str) -> Claim:
    """The claim of a class, with its lines (NotFound while the class is not claimed)."""
    course = find_course(db, course_code=course_code)
    number = db.scalar(select(Claim.number).where(Claim.course_id == course.id))
    return claim_by_number(db, number=number or "")


def class_record(db: Session, *, course_code: str, institution_id: int | None = None,
                 vault: Vault | None = None, now: datetime) -> ClassRecord:
    course = find_course(db, course_code=course_code, institution_id=institution_id)
    trainees = ledger_chunk(db, course_id=course.id, limit=None, vault=vault, now=now)
    sessions = list(db.scalars(select(ClassSession).where(ClassSession.course_id == course.id)
                               .order_by(ClassSession.day, ClassSession.starts)))
    by_id = {s.id: s for s in sessions}
    numbers = {t.voucher_number: t for t in trainees}
    voucher_numbers = dict(db.execute(select(Voucher.id, Voucher.number).where(
        Voucher.course_id == course.id, ENROLLED)).all())
    marks = [MarkLine(by_id[a.session_id], voucher_numbers[a.voucher_id],
                      numbers[voucher_numbers[a.voucher_id]].name, a)
             for a in db.scalars(select(Attendance).where(
                 Attendance.session_id.in_(by_id),
                 Attendance.voucher_id.in_(voucher_numbers)))]
    marks.sort(key=lambda m: (m.session.day, m.session.starts, m.voucher_number))
    lines = [SessionLine(
        s, present=sum(1 for m in marks if m.session is s and m.mark.is_present),
        absent=sum(1 for m in marks if m.session is s and not m.mark.is_present),
        by_hand=sum(1 for m in marks if m.session is s and m.mark.how is MarkHow.MANUAL))
        for s in sessions]
    checks = list(db.scalars(select(SpotCheck).where(SpotCheck.session_id.in_(by_id))
                             .order_by(SpotCheck.at)))
    names = _names(db, {c.inspector_person_id for c in checks}
                   | {s.opened_by_id for s in sessions if s.opened_by_id})
    openers = sorted({names.get(s.opened_by_id) or "" for s in sessions if s.opened_by_id} - {""})
    return ClassRecord(
        course=course, trainees=trainees, sessions=lines, marks=marks,
        spot_checks=[SpotCheckLine(by_id[c.session_id], c, names.get(c.inspector_person_id))
                     for c in checks],
        claim_number=db.scalar(select(Claim.number).where(Claim.course_id == course.id)),
        session_openers=openers)


def _names(db: Session, person_ids: set[int]) -> dict[int, str | None]:
    if not person_ids:
        return {}
    return dict(db.execute(select(Person.id, Person.name).where(Person.id.in_(person_ids))).all())


# --- progress against the targets, month by month ------------------------------------------

def progress_report(db: Session, *, month: Month) -> Progress:
    """The dashboard's figures (models.progress) for the month's year, from 1 January to the
    month's end: nothing after it counts, and the share of the year gone is at the month's
    end. A year without targets of its own is compared with the latest loaded year's."""
    return progress(db, filters=ProgressFilter(year=month.year, until=month.last_day),
                    today=month.last_day)


def classes_to_export(db: Session, *, institution_id: int | None = None) -> list[Course]:
    """The classes a desk user may pick, the latest to start first; an institution's staff see
    only their own."""
    query = select(Course).order_by(Course.starts_on.desc(), Course.code)
    if institution_id is not None:
        query = query.where(Course.institution_id == institution_id)
    return list(db.scalars(query))

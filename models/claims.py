"""Claims (补贴申领): after a class ends, its institution claims, per trainee, the training and
appraisal subsidy of the certificate obtained and the living and transport allowances of the
days attended, within 10 working days of the class's end (YN2021 二(八)); the bureau pays within
10 working days of the claim. A class is claimed once, a voucher once, a person once per course
(QJ2019 (二十三)). Every claim and payment is audited."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint, distinct, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from models.attendance import Attendance, taken_place_by
from models.audit import Channel, audit
from models.base import Base
from models.catalogue import ClassSession, Course, CourseStatus, Institution
from models.clock import LOCAL_TZ
from models.eligibility import Status, evaluate
from models.errors import CourseNotFound, DomainError, NotFound
from models.persons import Person
from models.settlement import settlement_rates
from models.vouchers import Voucher, VoucherStatus
from models.workdays import add_working_days, work_calendar

logger = logging.getLogger(__name__)

# The institution claims within this many working days of the class's end; the bureau pays
# within this many working days of the claim.
CLAIM_WITHIN_WORKING_DAYS = 10
PAY_WITHIN_WORKING_DAYS = 10
YN2021_CLAIMS = "云南省人社厅2021年职业技能提升行动通知 二(八)"
QJ2019_NO_DOUBLE_CLAIM = "曲政办发〔2019〕112号 (二十三)"

CLAIMABLE = (VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
LIVING_RULE, TRANSPORT_RULE = "living_allowance", "transport_allowance"
ZERO = Decimal(0)


class LineNote:
    """Why a line pays less than it might; stored as a code, worded by the channel."""

    GROUP_NOT_VERIFIED = "group_not_verified"  # allowances wait for the bureau's verification
    # ... or for a fact the person has not given: the household's kind, their places (issue 16)
    FACTS_MISSING = "facts_missing"
    ALREADY_SETTLED = "already_settled"  # training paid by a settlement (凭券结算) already


class ClaimNotAllowed(DomainError):
    """A claim that cannot be made or changed; ``reason`` says why: ``class_not_ended``
    (``course``, ``ends_on``), ``nothing_to_claim`` (``course``), ``already_claimed``
    (``reference``: the number of the claim that has it), ``already_paid`` (``reference``,
    ``paid_at``)."""

    code = "claim_not_allowed"


class Claim(Base):
    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    # A class is claimed once, whatever races two clerks run.
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), unique=True)
    created_at: Mapped[datetime]
    class_ended_on: Mapped[date]
    due_by: Mapped[date]  # class end + 10 working days (YN2021 二(八))
    pay_by: Mapped[date]  # claim day + 10 working days
    paid_at: Mapped[datetime | None]
    total_yuan: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    institution: Mapped[Institution] = relationship()
    course: Mapped[Course] = relationship()
    lines: Mapped[list[ClaimLine]] = relationship(back_populates="claim",
                                                  order_by="ClaimLine.id")

    @property
    def claimed_on(self) -> date:
        return self.created_at.astimezone(LOCAL_TZ).date()

    @property
    def is_late(self) -> bool:
        """Claimed after its due date."""
        return self.claimed_on > self.due_by


class ClaimLine(Base):
    __tablename__ = "claim_lines"
    # QJ2019 (二十三): no person is claimed twice for a course.
    __table_args__ = (UniqueConstraint("person_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    training_yuan: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    appraisal_yuan: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    living_yuan: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    transport_yuan: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    days_attended: Mapped[int]
    note: Mapped[str | None] = mapped_column(String(40))  # a LineNote code

    claim: Mapped[Claim] = relationship(back_populates="lines")
    voucher: Mapped[Voucher] = relationship()
    person: Mapped[Person] = relationship()

    @property
    def total_yuan(self) -> Decimal:
        return self.training_yuan + self.appraisal_yuan + self.living_yuan + self.transport_yuan


# --- making a claim ------------------------------------------------------------------------

def make_claim(db: Session, *, course_code: str, now: datetime, actor_id: int | None = None,
               channel: Channel = Channel.CLI) -> Claim:
    """The claim of an ended class: one line per completed (or settled) voucher, in the
    caller's one transaction, with its audit row."""
    course = db.scalar(select(Course).where(Course.code == course_code)
                       .options(joinedload(Course.institution)).with_for_update(of=Course))
    if course is None:
        raise CourseNotFound(course=course_code)
    today = now.astimezone(LOCAL_TZ).date()
    if course.ends_on >= today:
        raise ClaimNotAllowed(reason="class_not_ended", course=course.code,
                              ends_on=course.ends_on.isoformat())
    _check_not_claimed(db, course)
    vouchers = list(db.scalars(
        select(Voucher).where(Voucher.course_id == course.id, Voucher.status.in_(CLAIMABLE))
        .options(joinedload(Voucher.person)).order_by(Voucher.id)).unique())
    if not vouchers:
        raise ClaimNotAllowed(reason="nothing_to_claim", course=course.code)
    calendar = work_calendar()
    claim = Claim(institution_id=course.institution_id, course_id=course.id, created_at=now,
                  class_ended_on=course.ends_on,
                  due_by=add_working_days(course.ends_on, CLAIM_WITHIN_WORKING_DAYS, calendar),
                  pay_by=add_working_days(today, PAY_WITHIN_WORKING_DAYS, calendar),
                  total_yuan=ZERO)
    claim.lines = [_line(db, course, voucher, now) for voucher in vouchers]
    claim.total_yuan = sum((line.total_yuan for line in claim.lines), ZERO)
    db.add(claim)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        # Another claim took the class or a voucher meanwhile; name it.
        _check_not_claimed(db, course)
        raise
    claim.number = f"CL{today.year}{claim.id:06d}"
    audit(db, actor_id=actor_id, channel=channel, action="claim.create", target=claim,
          after={"number": claim.number, "course": course.code,
                 "institution": course.institution.code, "lines": len(claim.lines),
                 "total_yuan": str(claim.total_yuan), "due_by": claim.due_by.isoformat(),
                 "pay_by": claim.pay_by.isoformat()}, at=now)
    logger.info("claim %s: course %s, %s lines", claim.id, course.id, len(claim.lines))
    return claim


def _check_not_claimed(db: Session, course: Course) -> None:
    """A class already claimed, or one of its vouchers in another claim: refused, naming the
    first claim."""
    first = db.scalar(select(Claim.number).where(Claim.course_id == course.id))
    if first is None:
        first = db.scalar(select(Claim.number).join(ClaimLine, ClaimLine.claim_id == Claim.id)
                          .where(ClaimLine.course_id == course.id).order_by(Claim.id).limit(1))
    if first is not None:
        raise ClaimNotAllowed(reason="already_claimed", reference=first,
                              source=QJ2019_NO_DOUBLE_CLAIM)


def _line(db: Session, course: Course, voucher: Voucher, now: datetime) -> ClaimLine:
    line = ClaimLine(voucher_id=voucher.id, person_id=voucher.person_id, course_id=course.id,
                     training_yuan=ZERO, appraisal_yuan=ZERO, living_yuan=ZERO,
                     transport_yuan=ZERO, days_attended=_days_present(db, voucher, now),
                     note=None)
    if voucher.status is VoucherStatus.SETTLED:
        line.note = LineNote.ALREADY_SETTLED  # its training was paid by the settlement run
    elif voucher.certified:
        rate = settlement_rates().rate_for(kind=course.certificate_kind,
                                           level=course.certificate_level, is_certified=True)
        if rate is not None:
            line.training_yuan, line.appraisal_yuan = rate.training_yuan, rate.appraisal_yuan
    evaluation = evaluate(db, person_id=voucher.person_id, course_id=course.id,
                          on=course.ends_on)
    for rule_id, field in ((LIVING_RULE, "living_yuan"), (TRANSPORT_RULE, "transport_yuan")):
        if not evaluation.has(rule_id):
            continue
        outcome = evaluation.outcome(rule_id)
        if outcome.status is Status.ELIGIBLE and outcome.amount is not None:
            setattr(line, field, outcome.amount * line.days_attended)
        elif outcome.status is Status.PROVISIONAL:
            line.note = line.note or (LineNote.GROUP_NOT_VERIFIED
                                      if "verify_group" in outcome.missing
                                      else LineNote.FACTS_MISSING)
    return line


def _days_present(db: Session, voucher: Voucher, now: datetime) -> int:
    """Distinct class days with a present mark in a session that has taken place (a claim is
    made once the class has ended, so that is every session: the rule is said once anyway)."""
    return db.scalar(
        select(func.count(distinct(ClassSession.day))).select_from(Attendance)
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .where(Attendance.person_id == voucher.person_id, Attendance.is_present.is_(True),
               ClassSession.course_id == voucher.course_id, taken_place_by(now))) or 0


def claim_by_number(db: Session, *, number: str) -> Claim:
    """A claim with its class, institution and lines (each with its voucher and person)."""
    claim = db.scalar(select(Claim).where(Claim.number == number.strip().upper())
                      .options(joinedload(Claim.course), joinedload(Claim.institution),
                               joinedload(Claim.lines).joinedload(ClaimLine.voucher),
                               joinedload(Claim.lines).joinedload(ClaimLine.person)))
    if claim is None:
        raise NotFound(kind="claim", number=number)
    return claim


# --- following claims up -------------------------------------------------------------------

@dataclass(frozen=True)
class ClassToClaim:
    course: Course
    class_ended_on: date
    due_by: date
    is_overdue: bool  # the due date has passed


def classes_to_claim(db: Session, *, today: date) -> list[ClassToClaim]:
    """Ended classes with completed vouchers and no claim yet, the oldest first."""
    claimed = select(Claim.course_id)
    with_vouchers = select(Voucher.course_id).where(Voucher.status.in_(CLAIMABLE))
    courses = db.scalars(
        select(Course).where(Course.ends_on < today, Course.status != CourseStatus.CANCELLED,
                             Course.id.not_in(claimed), Course.id.in_(with_vouchers))
        .options(joinedload(Course.institution)).order_by(Course.ends_on, Course.code)).all()
    calendar = work_calendar()
    result = []
    for course in courses:
        due_by = add_working_days(course.ends_on, CLAIM_WITHIN_WORKING_DAYS, calendar)
        result.append(ClassToClaim(course=course, class_ended_on=course.ends_on, due_by=due_by,
                                   is_overdue=due_by < today))
    return result


def overdue_claims(db: Session, *, today: date) -> list[Claim]:
    """Claims not paid by their payment date, the oldest first."""
    return list(db.scalars(
        select(Claim).where(Claim.paid_at.is_(None), Claim.pay_by < today)
        .options(joinedload(Claim.course), joinedload(Claim.institution))
        .order_by(Claim.pay_by, Claim.id)).unique())


def mark_paid(db: Session, *, number: str, now: datetime, actor_id: int | None = None,
              channel: Channel = Channel.CLI) -> Claim:
    claim = db.scalar(select(Claim).where(Claim.number == number.strip().upper())
                      .with_for_update())
    if claim is None:
        raise NotFound(kind="claim", number=number)
    if claim.paid_at is not None:
        raise ClaimNotAllowed(reason="already_paid", reference=claim.number,
                              paid_at=claim.paid_at.isoformat())
    claim.paid_at = now
    audit(db, actor_id=actor_id, channel=channel, action="claim.paid", target=claim,
          before={"paid_at": None}, after={"paid_at": now.isoformat(),
                                           "total_yuan": str(claim.total_yuan)}, at=now)
    logger.info("claim %s paid", claim.id)
    return claim

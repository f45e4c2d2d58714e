"""Claims (补贴申领): after a class ends, its institution claims, per trainee, the training and
appraisal subsidy of the certificate obtained and the living and transport allowances of the
days attended, within 10 working days of the class's end (YN2021 二(八)); the bureau pays within
10 working days of the claim. A class is claimed once, a voucher once, a person once per course
(QJ2019 (二十三)). Every claim and payment is audited.

The institution is paid by certificate kind and pass rate (QJ2020 五(二), QJ2019 (二十)): the
share of the claim's trainees who obtained the certificate sets the share of the training
subsidy paid, by the bands of ``institution_claims`` in models/data/policy.yaml (demo values
until the county sets its own). Project training of poor workers (a free class, bought by
tender, with verified trainees of the policy's groups) may be advanced 50% of the expected
training subsidy while it runs; the claim after the class shows that advance and the balance."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint, distinct, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    Mapped,
    Session,
    contains_eager,
    joinedload,
    mapped_column,
    relationship,
)

from models.attendance import Attendance, taken_place_by
from models.audit import Channel, audit
from models.base import Base
from models.catalogue import ClassSession, Course, CourseStatus, Institution
from models.clock import LOCAL_TZ
from models.eligibility import Status, evaluate
from models.errors import CourseNotFound, DomainError, NotFound
from models.levels import same_level
from models.persons import GroupStatus, Person, PersonGroup
from models.policy import claim_policy, settlement_rates
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
# Trainees a class has taken in: the ones an advance is counted on.
ENROLLED = (VoucherStatus.REDEEMED, VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
LIVING_RULE, TRANSPORT_RULE = "living_allowance", "transport_allowance"
ZERO = Decimal(0)
CENT = Decimal("0.01")



class LineNote:
    """Why a line pays less than it might; stored as a code, worded by the channel."""

    GROUP_NOT_VERIFIED = "group_not_verified"  # allowances wait for the bureau's verification
    # ... or for a fact the person has not given: the household's kind, their places (issue 16)
    FACTS_MISSING = "facts_missing"
    ALREADY_SETTLED = "already_settled"  # training paid by a settlement (凭券结算) already
    # the person's same occupation and level (初级工 = 五级) was paid with another voucher:
    # QJ2019 (十六) pays it once
    SAME_OCCUPATION_LEVEL = "same_occupation_level"


class AdvanceNotAllowed(DomainError):
    """An advance that cannot be made; ``reason`` says why: ``not_project_training`` (the class
    has a fee: not bought by tender), ``no_project_trainees`` (no enrolled trainee of the
    advance's groups whose group the bureau verified; ``groups``), ``class_ended``
    (``ends_on``: the claim is due instead), ``already_advanced`` and ``already_claimed``
    (``reference``), ``no_rate`` (the county set no amount for the certificate)."""

    code = "advance_not_allowed"


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
    # Trainees who obtained the certificate / trainees claimed, and the share of the training
    # subsidy that rate pays (QJ2020 五(二)); None on claims made before they were recorded.
    pass_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    pass_share: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    # Paid ahead for project training of poor workers (ClaimAdvance); the claim pays the rest.
    advance_yuan: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=ZERO,
                                                  server_default="0")

    institution: Mapped[Institution] = relationship()
    course: Mapped[Course] = relationship()
    lines: Mapped[list[ClaimLine]] = relationship(back_populates="claim",
                                                  order_by="ClaimLine.id")

    @property
    def balance_yuan(self) -> Decimal:
        """What the bureau still pays once the advance is counted (below 0: to pay back)."""
        return self.total_yuan - self.advance_yuan

    @property
    def claimed_on(self) -> date:
        return self.created_at.astimezone(LOCAL_TZ).date()

    @property
    def is_late(self) -> bool:
        """Claimed after its due date."""
        return self.claimed_on > self.due_by


class ClaimAdvance(Base):
    """50% of a project class's expected training subsidy, paid while it runs (QJ2020 五(二),
    QJ2019 (二十)); once per class."""

    __tablename__ = "claim_advances"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), unique=True)
    created_at: Mapped[datetime]
    trainees: Mapped[int]  # enrolled trainees of the advance's groups, verified
    expected_yuan: Mapped[Decimal] = mapped_column(Numeric(12, 2))  # their full training rate
    share: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    amount_yuan: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    institution: Mapped[Institution] = relationship()
    course: Mapped[Course] = relationship()


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
    pass_rate = (Decimal(sum(1 for v in vouchers if v.certified)) / len(vouchers)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP)
    pass_share = claim_policy().share_at(pass_rate, class_ended_on=course.ends_on)
    advance = db.scalar(select(ClaimAdvance).where(ClaimAdvance.course_id == course.id))
    claim = Claim(institution_id=course.institution_id, course_id=course.id, created_at=now,
                  class_ended_on=course.ends_on,
                  due_by=add_working_days(course.ends_on, CLAIM_WITHIN_WORKING_DAYS, calendar),
                  pay_by=add_working_days(today, PAY_WITHIN_WORKING_DAYS, calendar),
                  total_yuan=ZERO, pass_rate=pass_rate, pass_share=pass_share,
                  advance_yuan=advance.amount_yuan if advance is not None else ZERO)
    claim.lines = [_line(db, course, voucher, now, pass_share=pass_share)
                   for voucher in vouchers]
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
                 "pay_by": claim.pay_by.isoformat(), "pass_rate": str(pass_rate),
                 "pass_share": str(pass_share), "advance_yuan": str(claim.advance_yuan),
                 "balance_yuan": str(claim.balance_yuan)}, at=now)
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


def _line(db: Session, course: Course, voucher: Voucher, now: datetime, *,
          pass_share: Decimal) -> ClaimLine:
    line = ClaimLine(voucher_id=voucher.id, person_id=voucher.person_id, course_id=course.id,
                     training_yuan=ZERO, appraisal_yuan=ZERO, living_yuan=ZERO,
                     transport_yuan=ZERO, days_attended=_days_present(db, voucher, now),
                     note=None)
    if voucher.status is VoucherStatus.SETTLED:
        line.note = LineNote.ALREADY_SETTLED  # its training was paid by the settlement run
    elif voucher.certified and paid_already(db, [voucher]):
        line.note = LineNote.SAME_OCCUPATION_LEVEL
    elif voucher.certified:
        rate = settlement_rates().rate_for(kind=course.certificate_kind,
                                           level=course.certificate_level, is_certified=True)
        if rate is not None:
            line.training_yuan = (rate.training_yuan * pass_share).quantize(CENT, ROUND_HALF_UP)
            line.appraisal_yuan = rate.appraisal_yuan
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


def paid_already(db: Session, vouchers: Iterable[Voucher]) -> dict[int, str]:
    """For each of ``vouchers`` (in the order they are paid, courses loaded) whose training
    subsidy was paid already for the same person, occupation and level (初级工 = 五级), by
    another voucher: the number of that voucher. Paid means certified and settled, or in a
    claim's line with a training subsidy, or earlier among ``vouchers`` themselves."""
    vouchers = list(vouchers)
    people = {v.person_id for v in vouchers}
    if not people:
        return {}
    claimed = select(ClaimLine.voucher_id).where(ClaimLine.training_yuan > 0)
    paid = list(db.scalars(
        select(Voucher).join(Voucher.course)
        .where(Voucher.person_id.in_(people), Voucher.certified.is_(True),
               Voucher.id.not_in([v.id for v in vouchers]),
               (Voucher.status == VoucherStatus.SETTLED) | Voucher.id.in_(claimed))
        .options(contains_eager(Voucher.course)).order_by(Voucher.id)).unique())
    found: dict[int, str] = {}
    for voucher in vouchers:
        earlier = next((v for v in paid if v.person_id == voucher.person_id
                        and v.course_id != voucher.course_id
                        and v.course.occupation == voucher.course.occupation
                        and same_level(v.course.certificate_level,
                                       voucher.course.certificate_level)), None)
        if earlier is not None:
            found[voucher.id] = earlier.number
        elif voucher.certified:
            paid.append(voucher)  # the first of the run pays; a later one of it does not
    return found


# --- the advance of project training ---------------------------------------------------------

def request_advance(db: Session, *, course_code: str, now: datetime, actor_id: int | None = None,
                    channel: Channel = Channel.CLI) -> ClaimAdvance:
    """Advance ``share`` (50%) of the training subsidy a project class expects (QJ2020 五(二),
    QJ2019 (二十)): a free class (bought by tender), while it runs, for its enrolled trainees
    of the advance's groups whose group the bureau verified, at the full rate of the course's
    certificate. Once per class, and never once the class is claimed."""
    course = db.scalar(select(Course).where(Course.code == course_code)
                       .options(joinedload(Course.institution)).with_for_update(of=Course))
    if course is None:
        raise CourseNotFound(course=course_code)
    policy = claim_policy()
    first = db.scalar(select(ClaimAdvance.number).where(ClaimAdvance.course_id == course.id))
    if first is not None:
        raise AdvanceNotAllowed(reason="already_advanced", reference=first, course=course.code)
    claimed = db.scalar(select(Claim.number).where(Claim.course_id == course.id))
    if claimed is not None:
        raise AdvanceNotAllowed(reason="already_claimed", reference=claimed, course=course.code)
    if course.ends_on < now.astimezone(LOCAL_TZ).date():
        raise AdvanceNotAllowed(reason="class_ended", course=course.code,
                                ends_on=course.ends_on.isoformat())
    if not course.is_free:
        raise AdvanceNotAllowed(reason="not_project_training", course=course.code,
                                source=policy.advance_source)
    trainees = db.scalar(
        select(func.count(distinct(Voucher.person_id)))
        .join(PersonGroup, PersonGroup.person_id == Voucher.person_id)
        .where(Voucher.course_id == course.id, Voucher.status.in_(ENROLLED),
               PersonGroup.group.in_(policy.advance_groups),
               PersonGroup.status == GroupStatus.VERIFIED)) or 0
    if not trainees:
        raise AdvanceNotAllowed(reason="no_project_trainees", course=course.code,
                                groups=sorted(g.value for g in policy.advance_groups),
                                source=policy.advance_source)
    rate = settlement_rates().rate_for(kind=course.certificate_kind,
                                       level=course.certificate_level, is_certified=True)
    if rate is None:
        raise AdvanceNotAllowed(reason="no_rate", course=course.code,
                                certificate_kind=course.certificate_kind.value,
                                level=course.certificate_level or "")
    expected = rate.training_yuan * trainees
    advance = ClaimAdvance(
        institution_id=course.institution_id, course_id=course.id, created_at=now,
        trainees=trainees, expected_yuan=expected, share=policy.advance_share,
        amount_yuan=(expected * policy.advance_share).quantize(CENT, ROUND_HALF_UP))
    db.add(advance)
    db.flush()
    advance.number = f"AD{now.astimezone(LOCAL_TZ).year}{advance.id:06d}"
    audit(db, actor_id=actor_id, channel=channel, action="claim.advance", target=advance,
          after={"number": advance.number, "course": course.code, "trainees": trainees,
                 "expected_yuan": str(expected), "share": str(policy.advance_share),
                 "amount_yuan": str(advance.amount_yuan)}, at=now)
    logger.info("advance %s: course %s, %s trainees", advance.id, course.id, trainees)
    return advance


def advance_of(db: Session, *, course_id: int) -> ClaimAdvance | None:
    return db.scalar(select(ClaimAdvance).where(ClaimAdvance.course_id == course_id))


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

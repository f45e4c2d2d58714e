"""Training vouchers (培训券, on the model of DX2020 三(一); the county's basis: models.basis):
claimed by a person for a course, redeemed once by the course's institution from the code on
the holder's phone, completed with a certificate, settled with the bureau; or cancelled,
expired, revoked. Every change is audited."""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, bindparam, func, select, update
from sqlalchemy import text as sa_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from models.audit import Channel, audit
from models.base import Base, enum_column
from models.basis import cite
from models.catalogue import Course, CourseStatus, Institution, InstitutionStatus
from models.clock import LOCAL_TZ
from models.codes import RotatingCode, ShownCode
from models.direct import DirectReads
from models.errors import (
    ClaimRefused,
    GracePeriodOver,
    NotRegistered,
    VoucherAlreadyRedeemed,
    VoucherNotFound,
    VoucherNotRedeemable,
    VoucherStateWrong,
    VoucherWrongInstitution,
)
from models.levels import same_level
from models.outbox import enqueue
from models.persons import Person
from models.policy import yearly_cap_on
from models.regions import Region
from models.staff import StaffMember, staff_of
from models.targets import Target, TargetMeasure

logger = logging.getLogger(__name__)

# A voucher not redeemed within this long after the course starts expires and frees its seat.
REDEEM_GRACE = timedelta(days=3)
# How long before expiry the holder is reminded.
REMIND_BEFORE = timedelta(days=1)
# How long staff may take back a redemption made by mistake.
UNDO_GRACE = timedelta(hours=2)
CODE_PERIOD_SECONDS = 60

# The clauses a refusal cites. The rules taken from DX2020's voucher scheme cite the county's
# own basis instead (models.basis.cite): DX2020 is another county's plan.
QJ2019_CAPS = "曲政办发〔2019〕112号 (十六)"
YN2021_CLASS_SIZE = "云南省人社厅2021年职业技能提升行动通知 二(七)"
LP2021_TARGETS = "罗政办发〔2021〕2号 附件1"


class VoucherStatus(enum.StrEnum):
    ISSUED = "issued"
    REDEEMED = "redeemed"  # 报到: the institution took the holder in
    COMPLETED = "completed"  # finished; certificate recorded (or the appraisal failed)
    SETTLED = "settled"  # the bureau paid the institution
    CANCELLED = "cancelled"  # by the holder, before redemption
    EXPIRED = "expired"
    REVOKED = "revoked"  # by the bureau, with a reason


# A voucher in these states holds a seat and counts toward the yearly cap.
HOLDING = (VoucherStatus.ISSUED, VoucherStatus.REDEEMED, VoucherStatus.COMPLETED,
           VoucherStatus.SETTLED)


class Voucher(Base):
    __tablename__ = "vouchers"
    __table_args__ = (
        # One live voucher per person and course, whatever races the bot and the API run.
        Index("uq_vouchers_live_person_course", "person_id", "course_id", unique=True,
              postgresql_where=sa_text("status IN ('issued', 'redeemed', 'completed', 'settled')"),
              sqlite_where=sa_text("status IN ('issued', 'redeemed', 'completed', 'settled')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    status: Mapped[VoucherStatus] = mapped_column(enum_column(VoucherStatus), index=True)
    year: Mapped[int]  # the calendar year of the course's start, for the yearly cap
    claimed_at: Mapped[datetime]
    claimed_via: Mapped[Channel] = mapped_column(enum_column(Channel))
    # The cadre's person who claimed it for a neighbour without WeChat (代领券, models.paper):
    # such a voucher is held on a paper card, redeemed only with the ID card checked.
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    redeemed_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    completed_at: Mapped[datetime | None] = mapped_column(index=True)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    certified: Mapped[bool | None]
    certificate_no: Mapped[str | None] = mapped_column(String(40))
    settled_at: Mapped[datetime | None]
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlements.id"), index=True)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(200))

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    course: Mapped[Course] = relationship()

    @property
    def is_paper(self) -> bool:
        return self.claimed_by_id is not None


class Redemption(Base):
    """The record of one redemption. A partial unique index makes "redeemed once" the
    database's promise, not only the code's; a redemption undone in its grace period stays
    here, marked, for the audit."""

    __tablename__ = "redemptions"
    __table_args__ = (
        Index("uq_redemptions_live_voucher", "voucher_id", unique=True,
              postgresql_where=sa_text("undone_at IS NULL"),
              sqlite_where=sa_text("undone_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    staff_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    at: Mapped[datetime]
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    undone_at: Mapped[datetime | None]
    undo_reason: Mapped[str | None] = mapped_column(String(200))


class Settlement(Base):
    """One payment run: an institution's completed vouchers in a period (凭券结算)."""

    __tablename__ = "settlements"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    created_at: Mapped[datetime]
    voucher_count: Mapped[int]
    total_yuan: Mapped[Decimal] = mapped_column(default=Decimal(0))

    institution: Mapped[Institution] = relationship()


# --- claiming ------------------------------------------------------------------------------

def trainings_in_year(held: Iterable[Voucher], year: int) -> list[Voucher]:
    """The vouchers (of those held) that count toward the yearly cap of ``year``: the one
    count of the claim, SUBSIDY's "已享受N次" and a course's what-if."""
    return [v for v in held if v.year == year]


def claim_voucher(db: Session, *, openid: str, course_id: int, channel: Channel,
                  now: datetime, today: date) -> Voucher:
    person = db.scalar(select(Person).where(Person.openid == openid))
    return claim_for(db, person=person, course_id=course_id, channel=channel, now=now,
                     today=today)


def claim_for(db: Session, *, person: Person | None, course_id: int, channel: Channel,
              now: datetime, today: date, claimed_by: int | None = None) -> Voucher:
    """The one claim, whoever makes it: the person on their own WeChat or the mini-program, or
    the cadre who registered them (``claimed_by``, models.paper), with the same refusals."""
    if person is None or not person.is_registered:
        raise NotRegistered()
    # Lock the course: two claims for the last seat must not both see it free.
    course = db.scalar(select(Course).where(Course.id == course_id)
                       .options(joinedload(Course.institution)).with_for_update(of=Course))
    if course is None:
        raise ClaimRefused(rule="course_closed", source=cite("course_open"))
    _check_claim(db, person=person, course=course, today=today)
    voucher = Voucher(person_id=person.id, course_id=course.id, status=VoucherStatus.ISSUED,
                      year=course.starts_on.year, claimed_at=now, claimed_via=channel,
                      claimed_by_id=claimed_by, expires_at=_expiry(course))
    db.add(voucher)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise ClaimRefused(rule="already_holds", source=cite("one_voucher_per_course")) from None
    voucher.number = f"PX{voucher.year}{voucher.id:06d}"
    audit(db, actor_id=claimed_by or person.id, channel=channel, action="voucher.claim",
          target=voucher, after={"course": course.code, "status": voucher.status.value,
                                 **({"for_person": person.id} if claimed_by else {})}, at=now)
    return voucher


def check_claimable(db: Session, *, person_id: int, course_id: int, today: date) -> None:
    """The refusals of a claim, without claiming: a channel asks this before it asks the
    person to accept a cost, so that a claim that would be refused anyway says so first."""
    person = db.get(Person, person_id)
    if person is None or not person.is_registered:
        raise NotRegistered()
    course = db.scalar(select(Course).where(Course.id == course_id)
                       .options(joinedload(Course.institution)))
    if course is None:
        raise ClaimRefused(rule="course_closed", source=cite("course_open"))
    _check_claim(db, person=person, course=course, today=today)


def _check_claim(db: Session, *, person: Person, course: Course, today: date) -> None:
    """The first rule the claim breaks, in the order a person can do something about it."""
    if (course.status is not CourseStatus.OPEN or course.starts_on < today
            or course.institution.status is not InstitutionStatus.ACTIVE):
        raise ClaimRefused(rule="course_closed", source=cite("course_open"))
    mine = (select(Voucher).join(Voucher.course)
            .where(Voucher.person_id == person.id, Voucher.status.in_(HOLDING)))
    held = db.scalars(mine.options(joinedload(Voucher.course))).all()
    if any(v.course_id == course.id for v in held):
        raise ClaimRefused(rule="already_holds", source=cite("one_voucher_per_course"))
    same = same_occupation_level(held, course)
    if same is not None:
        raise ClaimRefused(rule="same_occupation_level", source=QJ2019_CAPS,
                           course=same.course.name)
    for voucher in held:
        other = voucher.course
        busy = voucher.status in (VoucherStatus.ISSUED, VoucherStatus.REDEEMED)
        if busy and other.starts_on <= course.ends_on and course.starts_on <= other.ends_on:
            raise ClaimRefused(rule="overlap", source=cite("no_overlapping_courses"),
                               course=other.name)
    cap = yearly_cap_on(today)
    this_year = trainings_in_year(held, course.starts_on.year)
    if len(this_year) >= cap:
        raise ClaimRefused(rule="yearly_cap", source=QJ2019_CAPS, limit=cap,
                           year=course.starts_on.year)
    if seats_taken(db, course_id=course.id) >= course.capacity:
        raise ClaimRefused(rule="no_seats", source=YN2021_CLASS_SIZE)
    _check_budget(db, course=course)


def same_occupation_level(held: Iterable[Voucher], course: Course) -> Voucher | None:
    """The voucher among ``held`` (courses loaded) for another course of the same occupation
    at the same certificate level as ``course``, if any: QJ2019 (十六) subsidizes each
    occupation and level once (a course without a level matches the others without one).
    Levels are compared through models/levels.py: 初级工 and 五级 are one level. Claiming
    refuses on it and SUBSIDY's evaluation answers no on it; each cites the clause its own
    way."""
    return next((v for v in held if v.course_id != course.id
                 and v.course.occupation == course.occupation
                 and same_level(v.course.certificate_level, course.certificate_level)), None)


def _check_budget(db: Session, *, course: Course) -> None:
    """The county's target for the category and year is its budget of vouchers, where the
    bureau has loaded one; without a target the budget is not limited here."""
    year = course.starts_on.year
    county = _county_of(db, course)
    # Locking the target rows makes claims for other courses of the category wait their turn.
    targets = db.scalars(select(Target).where(
        Target.category_id == course.category_id, Target.year == year,
        Target.measure == TargetMeasure.TRAININGS, Target.region_id == county)
        .with_for_update()).all()
    if not targets:
        return
    budget = sum(t.count for t in targets)
    used = db.scalar(select(func.count(Voucher.id)).join(Voucher.course)
                     .join(Region, Region.id == Course.township_id).where(
        Course.category_id == course.category_id, Voucher.year == year,
        Voucher.status.in_(HOLDING), Region.parent_id == county))
    if used >= budget:
        raise ClaimRefused(rule="budget", source=LP2021_TARGETS, year=year)


def _county_of(db: Session, course: Course) -> int | None:
    township = db.get(Region, course.township_id)
    return township.parent_id if township else None


def _expiry(course: Course) -> datetime:
    start = datetime.combine(course.starts_on, datetime.min.time(), tzinfo=LOCAL_TZ)
    return start + REDEEM_GRACE


def seats_taken(db: Session, *, course_id: int) -> int:
    return db.scalar(select(func.count(Voucher.id)).where(
        Voucher.course_id == course_id, Voucher.status.in_(HOLDING))) or 0


def seats_left(db: Session, *, courses: list[Course]) -> dict[int, int]:
    """Seats left per course, in one query for a page of courses."""
    taken = dict(db.execute(
        select(Voucher.course_id, func.count(Voucher.id))
        .where(Voucher.course_id.in_([c.id for c in courses]), Voucher.status.in_(HOLDING))
        .group_by(Voucher.course_id)).all())
    return {c.id: max(0, c.capacity - taken.get(c.id, 0)) for c in courses}


# --- the holder's side ---------------------------------------------------------------------

def vouchers_of(db: Session, *, openid: str) -> list[Voucher]:
    return list(db.scalars(
        select(Voucher).join(Voucher.person).where(Person.openid == openid)
        .options(joinedload(Voucher.course).joinedload(Course.institution))
        .order_by(Voucher.claimed_at.desc())).unique())


@dataclass(frozen=True)
class HeldVoucher:
    """A line of the holder's list (我的培训券): the voucher and its course's names."""

    id: int
    number: str | None
    status: VoucherStatus
    course_name: str
    course_name_en: str

    def course_display_name(self, locale: str) -> str:
        return self.course_name_en if locale.startswith("en") else self.course_name


def _held_statement():
    vouchers, courses = Voucher.__table__, Course.__table__
    return (select(vouchers.c.id, vouchers.c.number, vouchers.c.status,
                   courses.c.name.label("course_name"),
                   courses.c.name_en.label("course_name_en"))
            .join(courses, courses.c.id == vouchers.c.course_id)
            .where(vouchers.c.person_id == bindparam("person_id"))
            .order_by(vouchers.c.claimed_at.desc()))


# Built once: compiled once per process by models.direct (as models.persons does).
_HELD = _held_statement()


def vouchers_held(reads: DirectReads, *, person_id: int) -> list[HeldVoucher]:
    """The holder's vouchers, newest first, in one statement on the process's kept connection
    (models.direct: no Session, no ORM loading); as vouchers_of, for the list only."""
    return [HeldVoucher(**values) for values in reads.all(_HELD, {"person_id": person_id})]


def holder_voucher(db: Session, *, voucher_id: int, person_id: int) -> Voucher:
    voucher = db.scalar(select(Voucher).where(Voucher.id == voucher_id,
                                              Voucher.person_id == person_id)
                        .options(joinedload(Voucher.course).joinedload(Course.institution),
                                 joinedload(Voucher.course).joinedload(Course.township),
                                 joinedload(Voucher.course).selectinload(Course.sessions),
                                 joinedload(Voucher.person)))
    if voucher is None:
        raise VoucherNotFound(voucher_id=voucher_id)
    return voucher


def show_code(codes: RotatingCode, voucher: Voucher, now: datetime) -> ShownCode | None:
    """The code the holder's card shows now; none once the voucher can no longer be redeemed."""
    if voucher.status is not VoucherStatus.ISSUED:
        return None
    return codes.show(voucher.id, now)


def cancel_voucher(db: Session, *, openid: str, voucher_id: int, now: datetime,
                   channel: Channel = Channel.WECHAT) -> Voucher:
    person = db.scalar(select(Person).where(Person.openid == openid))
    voucher = db.scalar(select(Voucher).where(
        Voucher.id == voucher_id, Voucher.person_id == (person.id if person else -1)
    ).with_for_update())
    if voucher is None:
        raise VoucherNotFound(voucher_id=voucher_id)
    if voucher.status is not VoucherStatus.ISSUED:
        raise VoucherStateWrong(status=voucher.status.value)
    _end(db, voucher, VoucherStatus.CANCELLED, reason="cancelled by holder", now=now,
         actor_id=person.id, channel=channel)
    return voucher


def cancel_unused_vouchers(db: Session, *, person_id: int, reason: str, now: datetime) -> int:
    """Cancel a person's vouchers not yet redeemed, freeing their seats (consent withdrawn)."""
    unused = db.scalars(select(Voucher).where(Voucher.person_id == person_id,
                                              Voucher.status == VoucherStatus.ISSUED)
                        .with_for_update()).all()
    for voucher in unused:
        _end(db, voucher, VoucherStatus.CANCELLED, reason=reason, now=now, actor_id=person_id,
             channel=Channel.WECHAT)
    return len(unused)


def has_ledger_vouchers(db: Session, *, person_id: int) -> bool:
    """Whether money has been or will be paid on this person's vouchers."""
    return db.scalar(select(func.count(Voucher.id)).where(
        Voucher.person_id == person_id,
        Voucher.status.in_((VoucherStatus.REDEEMED, VoucherStatus.COMPLETED,
                            VoucherStatus.SETTLED)))) > 0


def _end(db: Session, voucher: Voucher, status: VoucherStatus, *, reason: str, now: datetime,
         actor_id: int | None, channel: Channel) -> None:
    before = voucher.status.value
    voucher.status, voucher.ended_at, voucher.end_reason = status, now, reason
    audit(db, actor_id=actor_id, channel=channel, action=f"voucher.{status.value}",
          target=voucher, before={"status": before},
          after={"status": status.value, "reason": reason}, at=now)


# --- the institution's side ----------------------------------------------------------------

@dataclass(frozen=True)
class Redeemed:
    voucher_id: int
    number: str
    holder_name: str
    holder_id_masked: str
    course_name: str


def redeem_voucher(db: Session, *, codes: RotatingCode, code: str, staff_openid: str,
                   channel: Channel, now: datetime) -> Redeemed:
    """报到: one atomic step, once, by staff of the course's own institution, from a current
    code shown by the holder."""
    staff = staff_of(db, openid=staff_openid)
    voucher = voucher_to_redeem(db, voucher_id=codes.read(code, now), staff=staff)
    return record_redemption(db, voucher=voucher, staff=staff, channel=channel, now=now)


def voucher_to_redeem(db: Session, *, voucher_id: int, staff: StaffMember,
                      lock: bool = True) -> Voucher:
    """The voucher a code names, if ``staff`` may redeem it now: their own institution's, the
    institution active, the voucher issued. Every way of redeeming goes through here."""
    query = (select(Voucher).where(Voucher.id == voucher_id)
             .options(joinedload(Voucher.course).joinedload(Course.institution),
                      joinedload(Voucher.person)))
    voucher = db.scalar(query.with_for_update(of=Voucher) if lock else query)
    if voucher is None:
        raise VoucherNotFound(voucher_id=voucher_id)
    if voucher.course.institution_id != staff.institution_id:
        raise VoucherWrongInstitution()
    if voucher.course.institution.status is not InstitutionStatus.ACTIVE:
        raise VoucherNotRedeemable(reason="institution_suspended")
    if voucher.status is not VoucherStatus.ISSUED:
        if voucher.redeemed_at is not None and voucher.status is not VoucherStatus.CANCELLED:
            raise VoucherAlreadyRedeemed(at=voucher.redeemed_at.isoformat())
        raise VoucherNotRedeemable(status=voucher.status.value)
    return voucher


def record_redemption(db: Session, *, voucher: Voucher, staff: StaffMember, channel: Channel,
                      now: datetime, noted: dict | None = None) -> Redeemed:
    """The redemption itself, once (``noted`` goes into its audit entry)."""
    # The conditional update is the promise on every backend: only one caller sees rowcount 1.
    changed = db.execute(
        update(Voucher).where(Voucher.id == voucher.id, Voucher.status == VoucherStatus.ISSUED)
        .values(status=VoucherStatus.REDEEMED, redeemed_at=now,
                redeemed_by_id=staff.person_id)
        .execution_options(synchronize_session="fetch")).rowcount
    if changed != 1:
        raise VoucherAlreadyRedeemed(at=now.isoformat())
    db.add(Redemption(voucher_id=voucher.id, staff_person_id=staff.person_id,
                      institution_id=staff.institution_id, at=now, channel=channel))
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise VoucherAlreadyRedeemed(at=now.isoformat()) from None
    audit(db, actor_id=staff.person_id, channel=channel, action="voucher.redeem",
          target=voucher, before={"status": "issued"},
          after={"status": "redeemed", **(noted or {})}, at=now)
    enqueue(db, person=voucher.person, reason=f"voucher.redeemed:{voucher.id}", now=now,
            notice="voucher_redeemed", params={"course": voucher.course.name,
                                               "course_en": voucher.course.name_en})
    return Redeemed(voucher_id=voucher.id, number=voucher.number, holder_name=voucher.person.name,
                    holder_id_masked=voucher.person.id_masked,
                    course_name=voucher.course.name)


def staff_voucher(db: Session, *, staff_openid: str, number: str) -> tuple[Voucher, int]:
    staff = staff_of(db, openid=staff_openid)
    voucher = db.scalar(select(Voucher).where(Voucher.number == number.strip().upper())
                        .options(joinedload(Voucher.course), joinedload(Voucher.person))
                        .with_for_update(of=Voucher))
    if voucher is None:
        raise VoucherNotFound(number=number)
    if voucher.course.institution_id != staff.institution_id:
        raise VoucherWrongInstitution()
    return voucher, staff.person_id


def undo_redemption(db: Session, *, staff_openid: str, number: str, reason: str,
                    now: datetime) -> Voucher:
    """Take back a redemption made by mistake, within UNDO_GRACE, with a reason."""
    voucher, staff_person_id = staff_voucher(db, staff_openid=staff_openid, number=number)
    if voucher.status is not VoucherStatus.REDEEMED:
        raise VoucherStateWrong(status=voucher.status.value)
    if now - voucher.redeemed_at > UNDO_GRACE:
        raise GracePeriodOver(hours=int(UNDO_GRACE.total_seconds() // 3600))
    redemption = db.scalar(select(Redemption).where(Redemption.voucher_id == voucher.id,
                                                    Redemption.undone_at.is_(None)))
    redemption.undone_at, redemption.undo_reason = now, reason[:200]
    voucher.status, voucher.redeemed_at, voucher.redeemed_by_id = VoucherStatus.ISSUED, None, None
    audit(db, actor_id=staff_person_id, channel=Channel.WECHAT, action="voucher.undo_redeem",
          target=voucher, before={"status": "redeemed"},
          after={"status": "issued", "reason": reason[:200]}, at=now)
    return voucher


# --- the bureau's side ---------------------------------------------------------------------

def revoke_voucher(db: Session, *, number: str, reason: str, now: datetime) -> Voucher:
    voucher = db.scalar(select(Voucher).where(Voucher.number == number.strip().upper())
                        .options(joinedload(Voucher.course), joinedload(Voucher.person))
                        .with_for_update(of=Voucher))
    if voucher is None:
        raise VoucherNotFound(number=number)
    if voucher.status not in (VoucherStatus.ISSUED, VoucherStatus.REDEEMED):
        raise VoucherStateWrong(status=voucher.status.value)
    _end(db, voucher, VoucherStatus.REVOKED, reason=reason[:200], now=now, actor_id=None,
         channel=Channel.CLI)
    enqueue(db, person=voucher.person, reason=f"voucher.revoked:{voucher.id}", now=now,
            notice="voucher_revoked", params={"course": voucher.course.name,
                                              "course_en": voucher.course.name_en,
                                              "reason": reason[:200]})
    return voucher


def expire_vouchers(db: Session, *, now: datetime) -> int:
    """Vouchers not redeemed in time expire, which frees their seats; the holder is told.
    Safe to run again at any time: each voucher is handled once."""
    due = db.scalars(select(Voucher).where(Voucher.status == VoucherStatus.ISSUED,
                                           Voucher.expires_at <= now)
                     .options(joinedload(Voucher.course), joinedload(Voucher.person))
                     .limit(500).with_for_update(of=Voucher, skip_locked=True)).all()
    for voucher in due:
        _end(db, voucher, VoucherStatus.EXPIRED, reason="not redeemed in time", now=now,
             actor_id=None, channel=Channel.WORKER)
        enqueue(db, person=voucher.person, reason=f"voucher.expired:{voucher.id}", now=now,
                notice="voucher_expired", params={"course": voucher.course.name,
                                                  "course_en": voucher.course.name_en})
    return len(due)


def remind_expiring(db: Session, *, now: datetime) -> int:
    """Tell holders whose voucher expires within a day to go to the institution."""
    due = db.scalars(select(Voucher).where(
        Voucher.status == VoucherStatus.ISSUED, Voucher.expires_at > now,
        Voucher.expires_at <= now + REMIND_BEFORE)
        .options(joinedload(Voucher.course), joinedload(Voucher.person)).limit(500)).all()
    queued = 0
    for voucher in due:
        row = enqueue(db, person=voucher.person, reason=f"voucher.expiring:{voucher.id}",
                      now=now, notice="voucher_expiring",
                      params={"course": voucher.course.name, "course_en": voucher.course.name_en,
                              "expires_at": voucher.expires_at.isoformat()})
        queued += row is not None
    return queued

"""Follow-up after training: where a trainee works 1 and 6 months after the class, and what
they thought of it (employment rate after training, goal 90%: LP2021 二; the visits are the
county's rule follow_up, on the model of DX2020 三(六))."""

from __future__ import annotations

import calendar
import enum
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ForeignKey, String, UniqueConstraint, cast, exists, literal, select
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column

from models.audit import Channel, audit
from models.base import Base, conflict_insert, enum_column
from models.cadres import Cadre
from models.catalogue import Course
from models.clock import LOCAL_TZ
from models.errors import DomainError, NotFound, VoucherNotFound
from models.outbox import Outbox, enqueue
from models.persons import Person
from models.staff import StaffMember
from models.vouchers import Voucher, VoucherStatus

logger = logging.getLogger(__name__)


class WorkAfter(enum.StrEnum):
    LOCAL = "local"  # 本地就业
    PROVINCE = "province"  # 省内就业
    OUTSIDE = "outside"  # 省外就业
    SELF_EMPLOYED = "self_employed"  # 自主创业/灵活就业
    NOT_YET = "not_yet"  # 尚未就业

    @property
    def is_employed(self) -> bool:
        return self is not WorkAfter.NOT_YET


class FollowUp(Base):
    """One question round for one finished voucher; answered by the trainee, or recorded by a
    cadre or staff member who visited them."""

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("voucher_id", "round_months"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    round_months: Mapped[int]  # 1 or 6 (configurable)
    due_on: Mapped[date]
    asked_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    work: Mapped[WorkAfter | None] = mapped_column(enum_column(WorkAfter))
    rating: Mapped[int | None]  # 1–5
    opinion: Mapped[str | None] = mapped_column(String(200))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    channel: Mapped[Channel | None] = mapped_column(enum_column(Channel))


# --- the rules -----------------------------------------------------------------------------
# Who is asked: trainees whose voucher is finished (completed, or completed and settled).
# Someone redeemed who never completed dropped out: they count in the completion rate, not in
# the employment rate, and are not asked (employment after training is of those who finished).
FINISHED = (VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
# A round not asked within this many days of its due date is not asked any more (a "one
# month after" question three months late means little); it stays unanswered unless a cadre
# or staff member records a visit.
ASK_WITHIN_DAYS = 30
# The question's numbered answers stay what a digit means for this long after it was sent.
ANSWER_DAYS = 7
CHUNK = 500
# The most days by which a month's end is shorter than another's (31 − 28).
MONTH_END_SLACK = 3
REASON_PREFIX = "followup:"
OPINION_MAX = 200

# The digits of the question, in order: 1 local … 5 not yet.
WORK_BY_DIGIT: dict[int, WorkAfter] = dict(enumerate(WorkAfter, 1))


class FollowUpNotFound(NotFound):
    code = "followup_not_found"


class FollowUpRefused(DomainError):
    """``reason``: ``not_finished`` (the voucher is not completed), ``too_early`` (no round is
    due yet), ``not_visitor`` (neither staff nor cadre), ``not_yours`` (another
    institution's trainee, or not a person the cadre brought in or registered), ``rating``
    (not 1–5), ``opinion_too_long`` (``limit``)."""

    code = "followup_refused"


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day (31 Jan + 1 = 28/29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def local_day(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def reason_for(followup_id: int) -> str:
    return f"{REASON_PREFIX}{followup_id}"


def followup_of_reason(reason: str) -> int | None:
    """The follow-up an outbox reason asks, if it is one."""
    if reason.startswith(REASON_PREFIX) and reason[len(REASON_PREFIX):].isdigit():
        return int(reason[len(REASON_PREFIX):])
    return None


def create_due_followups(db: Session, *, now: datetime, rounds: tuple[int, ...],
                         limit: int = CHUNK) -> int:
    """Create the rounds that fell due, at most ``limit`` a call. Safe to run again at any
    time and by several workers at once: a voucher's round is made once (the unique constraint
    and ON CONFLICT DO NOTHING), and each call takes the next vouchers still without it. Rounds
    of courses that ended long ago are made too (a visitor may record them) but not asked
    (see queue_followup_questions)."""
    today = local_day(now)
    created = 0
    for months in sorted(rounds):
        if created >= limit:
            break
        done = select(FollowUp.id).where(FollowUp.voucher_id == Voucher.id,
                                         FollowUp.round_months == months)
        # add_months is not invertible at a month's end (29–31 Jan + 1 month = 28 Feb), so
        # SQL takes a few days more and the exact rule is checked here. Due rows come first
        # (by end date), so what is left out never keeps a due row from this chunk.
        due = db.execute(
            select(Voucher.id, Voucher.person_id, Voucher.course_id, Course.ends_on)
            .join(Course, Course.id == Voucher.course_id)
            .where(Voucher.status.in_(FINISHED),
                   Course.ends_on <= add_months(today, -months) + timedelta(days=MONTH_END_SLACK),
                   ~exists(done))
            .order_by(Course.ends_on, Voucher.id).limit(limit - created)).all()
        rows = [{"voucher_id": v, "person_id": p, "course_id": c, "round_months": months,
                 "due_on": add_months(ends_on, months)} for v, p, c, ends_on in due
                if add_months(ends_on, months) <= today]
        if not rows:
            continue
        insert = conflict_insert(db)
        db.execute(insert(FollowUp).values(rows).on_conflict_do_nothing(
            index_elements=["voucher_id", "round_months"]))
        created += len(rows)
    return created


def queue_followup_questions(db: Session, *, now: datetime, limit: int = CHUNK) -> int:
    """Put due, unasked rounds into the outbox, each once (its reason is ``followup:<id>``),
    as a broadcast: nobody who said 退订, left the account or withdrew consent is asked. The
    question is worded at sending time in the person's language (bot/notices.py)."""
    today = local_day(now)
    queued = select(Outbox.id).where(
        Outbox.reason == literal(REASON_PREFIX).concat(cast(FollowUp.id, String)))
    due = db.execute(
        select(FollowUp, Person, Course)
        .join(Person, Person.id == FollowUp.person_id)
        .join(Course, Course.id == FollowUp.course_id)
        .where(FollowUp.asked_at.is_(None), FollowUp.work.is_(None),
               FollowUp.due_on <= today,
               FollowUp.due_on >= today - timedelta(days=ASK_WITHIN_DAYS),
               Person.openid.is_not(None), Person.is_following.is_(True),
               Person.unsubscribed_at.is_(None), Person.anonymized_at.is_(None),
               ~exists(queued))
        .order_by(FollowUp.id).limit(limit)).all()
    count = 0
    for followup, person, course in due:
        row = enqueue(db, person=person, reason=reason_for(followup.id), now=now,
                      notice="followup_question", broadcast=True,
                      params={"course": course.name, "course_en": course.name_en,
                              "ended_on": course.ends_on.isoformat(),
                              "followup": followup.id})
        count += row is not None
    return count


def mark_asked(db: Session, *, followup_id: int, now: datetime) -> FollowUp | None:
    """The question reached the person (the worker sent it)."""
    followup = db.get(FollowUp, followup_id)
    if followup is not None and followup.asked_at is None:
        followup.asked_at = now
        audit(db, actor_id=None, channel=Channel.WORKER, action="followup.ask",
              target=followup, after={"round_months": followup.round_months}, at=now)
    return followup


def open_followup(db: Session, *, person_id: int, now: datetime,
                  within_days: int | None = ANSWER_DAYS) -> FollowUp | None:
    """The person's latest question asked and not yet answered (within ``within_days`` of
    asking; None: however long ago)."""
    query = select(FollowUp).where(FollowUp.person_id == person_id,
                                   FollowUp.asked_at.is_not(None), FollowUp.work.is_(None))
    if within_days is not None:
        query = query.where(FollowUp.asked_at >= now - timedelta(days=within_days))
    return db.scalars(query.order_by(FollowUp.asked_at.desc(), FollowUp.id.desc())
                      .limit(1)).first()


def followup_to_show(db: Session, *, person_id: int, now: datetime) -> FollowUp | None:
    """What 回访 shows the trainee: the latest question still unanswered, however long ago;
    else the latest answered in the last ANSWER_DAYS days, so that the answer can be changed."""
    followup = open_followup(db, person_id=person_id, now=now, within_days=None)
    if followup is not None:
        return followup
    return db.scalars(select(FollowUp).where(
        FollowUp.person_id == person_id, FollowUp.asked_at.is_not(None),
        FollowUp.work.is_not(None), FollowUp.answered_at >= now - timedelta(days=ANSWER_DAYS))
        .order_by(FollowUp.answered_at.desc(), FollowUp.id.desc()).limit(1)).first()


def course_of(db: Session, *, followup_id: int) -> Course:
    return db.scalars(select(Course).join(FollowUp, FollowUp.course_id == Course.id)
                      .where(FollowUp.id == followup_id)).one()


def _own(db: Session, *, followup_id: int, person_id: int) -> FollowUp:
    followup = db.scalar(select(FollowUp).where(FollowUp.id == followup_id,
                                                FollowUp.person_id == person_id)
                         .with_for_update())
    if followup is None:
        raise FollowUpNotFound(followup_id=followup_id)
    return followup


def _set_work(db: Session, followup: FollowUp, *, work: WorkAfter, actor_id: int,
              recorded_by_id: int | None, channel: Channel, now: datetime) -> FollowUp:
    before = {"work": followup.work.value if followup.work else None,
              "recorded_by_id": followup.recorded_by_id}
    followup.work, followup.answered_at = work, now
    followup.recorded_by_id, followup.channel = recorded_by_id, channel
    audit(db, actor_id=actor_id, channel=channel, action="followup.answer", target=followup,
          before=before, after={"work": work.value, "recorded_by_id": recorded_by_id,
                                "round_months": followup.round_months}, at=now)
    return followup


def answer_work(db: Session, *, followup_id: int, person_id: int, work: WorkAfter,
                channel: Channel, now: datetime) -> FollowUp:
    """The trainee's own answer. A later answer replaces an earlier one (both audited): the
    latest word on the round counts, whoever gave it."""
    followup = _own(db, followup_id=followup_id, person_id=person_id)
    return _set_work(db, followup, work=work, actor_id=person_id, recorded_by_id=None,
                     channel=channel, now=now)


def rate_training(db: Session, *, followup_id: int, person_id: int, rating: int,
                  channel: Channel, now: datetime) -> FollowUp:
    """The trainee's rating of the training, 1–5. Only the trainee rates: staff must not grade
    their own institution, nor a cadre speak for a neighbour's opinion."""
    if not 1 <= rating <= 5:
        raise FollowUpRefused(reason="rating")
    followup = _own(db, followup_id=followup_id, person_id=person_id)
    before = followup.rating
    followup.rating = rating
    audit(db, actor_id=person_id, channel=channel, action="followup.rate", target=followup,
          before={"rating": before}, after={"rating": rating}, at=now)
    return followup


def give_opinion(db: Session, *, followup_id: int, person_id: int, opinion: str,
                 channel: Channel, now: datetime) -> FollowUp:
    """The trainee's sentence about the training. The audit row says that one was given, not
    what it says: free text may carry a phone number or a name."""
    text = " ".join(opinion.split())
    if len(text) > OPINION_MAX:
        raise FollowUpRefused(reason="opinion_too_long", limit=OPINION_MAX)
    followup = _own(db, followup_id=followup_id, person_id=person_id)
    followup.opinion = text or None
    audit(db, actor_id=person_id, channel=channel, action="followup.opinion", target=followup,
          after={"has_opinion": bool(text), "length": len(text)}, at=now)
    return followup


@dataclass(frozen=True)
class Visit:
    followup: FollowUp
    voucher_number: str
    trainee_name: str | None


def record_visit(db: Session, *, visitor_openid: str, number: str, work: WorkAfter,
                 channel: Channel, now: datetime) -> Visit:
    """A cadre or staff member who visited the trainee records where they work, for the
    voucher's latest round that is due. Staff: their institution's trainees only; cadres: the
    people they brought in or registered."""
    visitor = db.scalar(select(Person).where(Person.openid == visitor_openid))
    staff = db.scalar(select(StaffMember).where(StaffMember.person_id == visitor.id)) \
        if visitor else None
    cadre = db.scalar(select(Cadre).where(Cadre.person_id == visitor.id)) if visitor else None
    if staff is None and cadre is None:
        raise FollowUpRefused(reason="not_visitor")
    voucher = db.scalar(select(Voucher).where(Voucher.number == number.strip().upper())
                        .options(joinedload(Voucher.course), joinedload(Voucher.person)))
    if voucher is None:
        raise VoucherNotFound(number=number)
    if not _may_visit(voucher, staff=staff, cadre=cadre):
        raise FollowUpRefused(reason="not_yours")
    if voucher.status not in FINISHED:
        raise FollowUpRefused(reason="not_finished")
    followup = db.scalars(select(FollowUp).where(
        FollowUp.voucher_id == voucher.id, FollowUp.due_on <= local_day(now))
        .order_by(FollowUp.round_months.desc()).limit(1).with_for_update()).first()
    if followup is None:
        raise FollowUpRefused(reason="too_early")
    _set_work(db, followup, work=work, actor_id=visitor.id, recorded_by_id=visitor.id,
              channel=channel, now=now)
    return Visit(followup=followup, voucher_number=voucher.number,
                 trainee_name=voucher.person.name)


def _may_visit(voucher: Voucher, *, staff: StaffMember | None, cadre: Cadre | None) -> bool:
    if staff is not None and voucher.course.institution_id == staff.institution_id:
        return True
    trainee = voucher.person
    return cadre is not None and (trainee.referred_by_id == cadre.id
                                  or trainee.registered_by_id == cadre.person_id)

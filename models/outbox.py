"""The outbox: messages to people, written in the same transaction as the change that causes
them, and sent later by the worker so that no reply waits on WeChat's API.

Sending is leased, one message at a time: a worker takes a lease on a row (``take_lease``, with
its name and an expiry) just before its own API call, records that the call begins
(``begin_attempt``), and records the result while the lease is still its own
(``record_attempt``). Nothing in a worker's memory decides who sends what: a lease that runs out
(the worker was killed, its database went away) puts the row back in the queue for any worker
on any machine. A row whose lease ran out during its call cannot know whether WeChat got it:
it is marked uncertain (``is_uncertain``, shown on the desk's outbox page) and, by its kind
(``resend_after_doubt``), sent again or left alone."""

from __future__ import annotations

import enum
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, and_, delete, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import column, table

from models.audit import Channel, audit
from models.base import Base, enum_column
from models.persons import Person

logger = logging.getLogger(__name__)

# How long a worker holds a message it is sending. Longer than the longest call can take
# (a token fetch waiting for the shared lock, 6 s, then a customer message and a template
# message, 4 s each: runtime.wechat_api), so a live worker never loses a lease mid-call; short
# enough that a message whose worker died goes out again within a minute.
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    # Leased by a worker (leased_by) until lease_until; once that has passed, any worker takes
    # it again (take_lease).
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # gave up: recorded with the error, never counted as sent
    # A message that must not come twice, whose attempt was cut off (its worker died during
    # the call, or WeChat did not answer): it may or may not have reached the person, and is
    # not sent again. Shown on the desk's outbox page.
    UNCERTAIN = "uncertain"


class Outbox(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    openid: Mapped[str] = mapped_column(String(64))
    # A stable name of why this message exists ("voucher.redeemed:42"): the same reason is
    # queued once, however often the operation that queues it is retried.
    reason: Mapped[str] = mapped_column(String(120), unique=True)
    # Either ready text, or a notice's name and its data, worded by the worker in the
    # person's language at sending time (the domain writes data, not sentences).
    text: Mapped[str | None] = mapped_column(Text)
    notice: Mapped[str | None] = mapped_column(String(40))
    params: Mapped[dict[str, Any] | None]
    # For a template message when the 48-hour customer-message window has closed.
    template: Mapped[dict[str, Any] | None]
    status: Mapped[OutboxStatus] = mapped_column(enum_column(OutboxStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    sent_as: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(String(300))
    # A message the person did not cause (a job opening, a follow-up question): never queued
    # for, nor sent to, someone who said 退订 (see unsubscribe).
    is_broadcast: Mapped[bool] = mapped_column(default=False)
    # The worker sending it (host:pid:random) and until when; the name stays, for the record,
    # after the lease is given back.
    leased_by: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    # When the last API call began (set just before it; cleared when a lease is taken): a lease
    # that runs out while it is set was cut off during the call.
    attempt_started_at: Mapped[datetime | None]
    # An attempt's outcome was never known: the person may have this message once more than
    # sent_at says (or, UNCERTAIN, not at all).
    is_uncertain: Mapped[bool] = mapped_column(default=False)


@dataclass(frozen=True)
class Attempt:
    """A lease taken by a worker: what it needs to record its result, and nothing else."""

    outbox_id: int
    worker: str
    number: int  # the row's attempts once taken: a later lease has a higher number

def broadcast_refused(person: Person) -> str | None:
    """Why a broadcast must not reach the person (None: it may). The one rule, applied when a
    broadcast is queued and again when it is sent: the person may have said 退订, left the
    account or withdrawn consent while it waited."""
    if person.unsubscribed_at is not None:
        return "unsubscribed"
    if not person.is_following:
        return "unfollowed"
    if person.anonymized_at is not None:
        return "consent withdrawn"
    return None


def drop_if_refused(row: Outbox, person: Person) -> bool:
    """At sending time: a broadcast the person no longer wants is marked failed, with why, and
    not sent. True when it was dropped."""
    why = broadcast_refused(person) if row.is_broadcast else None
    if why is not None:
        _release(row)
        row.status, row.last_error = OutboxStatus.FAILED, f"{why} before sending"
    return why is not None


def postpone(row: Outbox, *, until: datetime) -> None:
    """Not sent now, for a reason of ours (the person is busy in the chat): back in the queue,
    and not counted as an attempt."""
    _release(row)
    row.status, row.next_attempt_at = OutboxStatus.PENDING, until
    row.attempts = max(0, row.attempts - 1)


def enqueue(
    db: Session,
    *,
    person: Person,
    reason: str,
    now: datetime,
    text: str | None = None,
    notice: str | None = None,
    params: dict[str, Any] | None = None,
    template: dict[str, Any] | None = None,
    broadcast: bool = False,
) -> Outbox | None:
    """Queue a message unless one for the same reason is queued already. A person without
    WeChat (registered by a cadre, not yet bound) is not messaged. A ``broadcast`` (anything
    the person did not cause: job openings, follow-up questions; not a notice about their own
    voucher) is not queued for someone who refuses it (see broadcast_refused)."""
    if person.openid is None:
        return None
    if broadcast and broadcast_refused(person) is not None:
        return None
    if db.scalar(select(Outbox.id).where(Outbox.reason == reason)) is not None:
        return None
    row = Outbox(
        created_at=now,
        person_id=person.id,
        openid=person.openid,
        reason=reason,
        text=text,
        notice=notice,
        params=params,
        template=template,
        status=OutboxStatus.PENDING,
        next_attempt_at=now,
        is_broadcast=broadcast,
    )
    db.add(row)
    db.flush()
    return row


def enqueue_late_answer(db: Session, *, openid: str, message_key: str, text: str,
                        now: datetime) -> bool:
    """The answer to a message that came too late to be WeChat's reply (the work took longer
    than WeChat waits, or a retry was answered empty meanwhile): it goes as a customer message
    (a template message outside the 48-hour window), once per message: keyed by the message's
    de-duplication key. False when it cannot go: the sender is unknown, or has no WeChat."""
    person = db.scalar(select(Person).where(Person.openid == openid))
    if person is None or person.openid is None:
        return False
    reason = "late.answer:" + hashlib.sha256(message_key.encode()).hexdigest()[:48]
    enqueue(db, person=person, reason=reason, now=now, text=text,
            template={"data": {"first": {"value": text[:LATE_TEMPLATE_CHARS]}}})
    return True


# A template field holds a few hundred characters: a late answer's start, outside the window.
LATE_TEMPLATE_CHARS = 180


# WeChat takes customer messages for 48 hours after the person's last message. last_seen_at
# is written at most hourly (models.persons.meet), so the last message may be up to an hour
# later than it says: the window is surely closed only an hour after the 48.
CUSTOMER_WINDOW = timedelta(hours=48)
SEEN_GRAIN = timedelta(hours=1)


def window_surely_closed(last_seen_at: datetime | None, now: datetime) -> bool:
    """True when a customer message would surely be refused (45015), so a template message
    should go at once; when unsure, the worker tries a customer message and falls back."""
    return last_seen_at is None or now - last_seen_at >= CUSTOMER_WINDOW + SEEN_GRAIN


# --- sending: leases --------------------------------------------------------------------------

def resend_after_doubt(row: Outbox) -> bool:
    """Whether a message whose attempt was cut off is sent again (at least once) or left
    alone (at most once). A notice about the person's own business (their voucher number,
    a decision, the answer to what they asked) must reach them: a second copy of the same
    words is the lesser harm. A broadcast they did not ask for (a job push, a follow-up
    question) must not come twice: a second push is spam, a second question muddles the
    answer its digits give; one lost is the lesser harm."""
    return not row.is_broadcast


def _takeable(now: datetime):
    """Due and in nobody's hands: waiting in the queue, or leased by a worker whose lease has
    run out (a row left 'sending' before leases existed has none: it is taken too)."""
    return or_(
        and_(Outbox.status == OutboxStatus.PENDING, Outbox.next_attempt_at <= now),
        and_(Outbox.status == OutboxStatus.SENDING,
             or_(Outbox.lease_until.is_(None), Outbox.lease_until < now)))


def due_ids(db: Session, *, now: datetime, limit: int) -> list[int]:
    """The messages a worker may take now, oldest first. Nothing is marked: each is leased
    (take_lease) just before its own call, so a worker that dies leaves the rest untouched."""
    return list(db.scalars(select(Outbox.id).where(_takeable(now))
                           .order_by(Outbox.id).limit(limit)))


def take_lease(db: Session, *, outbox_id: int, worker: str, now: datetime) -> Attempt | None:
    """Lease one message to ``worker`` until now + LEASE; None when it is not this worker's to
    send now: sent, or leased by another worker, meanwhile; or a message that must not come
    twice whose last attempt was cut off (marked UNCERTAIN). Two workers never hold the same
    row: the row is locked and re-checked (PostgreSQL: FOR UPDATE SKIP LOCKED, the other
    skips it; SQLite: one writer at a time, BEGIN IMMEDIATE)."""
    row = db.scalar(select(Outbox).where(Outbox.id == outbox_id, _takeable(now))
                    .with_for_update(skip_locked=True))
    if row is None:
        return None
    was_cut_off = row.status is OutboxStatus.SENDING and (
        row.attempt_started_at is not None or row.lease_until is None)
    if was_cut_off and not _after_cut_off_attempt(db, row, now=now):
        return None
    row.status, row.leased_by, row.lease_until = OutboxStatus.SENDING, worker, now + LEASE
    row.attempt_started_at = None
    row.attempts += 1
    db.flush()
    return Attempt(outbox_id=row.id, worker=worker, number=row.attempts)


def _after_cut_off_attempt(db: Session, row: Outbox, *, now: datetime) -> bool:
    """A lease ran out during the API call (its worker died, or lost its database before
    recording): WeChat may have the message. Marked uncertain, for the desk; True when it is
    to be sent again now."""
    again = resend_after_doubt(row) and row.attempts < MAX_ATTEMPTS
    before = {"status": row.status.value, "leased_by": row.leased_by,
              "attempt_started_at": (row.attempt_started_at.isoformat()
                                     if row.attempt_started_at else None)}
    row.is_uncertain = True
    row.last_error = "attempt cut off: outcome unknown"
    if not again:
        _release(row)
        row.status = OutboxStatus.UNCERTAIN
    audit(db, actor_id=None, channel=Channel.WORKER, action="outbox.uncertain", target=row,
          before=before, after={"resent": again}, at=now)
    logger.warning("outbox %s: attempt by %s cut off, outcome unknown; %s", row.id,
                   row.leased_by, "sending again" if again else "not sent again")
    return again


def held_row(db: Session, attempt: Attempt) -> Outbox | None:
    """The row, locked, if the lease is still this attempt's; None when it ran out and another
    worker took it (whose result then counts, not this one's)."""
    return db.scalar(select(Outbox).where(
        Outbox.id == attempt.outbox_id, Outbox.status == OutboxStatus.SENDING,
        Outbox.leased_by == attempt.worker, Outbox.attempts == attempt.number)
        .with_for_update())


def begin_attempt(row: Outbox, *, now: datetime) -> None:
    """The API call comes next: from here until its result is recorded, a lease that runs out
    leaves the row uncertain."""
    row.attempt_started_at = now


def record_attempt(db: Session, *, attempt: Attempt, status: OutboxStatus, now: datetime,
                   sent_as: str | None = None, error: str | None = None) -> Outbox | None:
    """The result of an attempt, and the lease given back. ``status``: SENT; PENDING (not
    sent, may be tried again: after a backoff, until MAX_ATTEMPTS); FAILED; UNCERTAIN (WeChat
    did not say: sent again, marked uncertain, or left alone by resend_after_doubt). None when
    the lease is no longer this attempt's: nothing is written."""
    row = held_row(db, attempt)
    if row is None:
        logger.warning("outbox %s: result of attempt %s by %s came after its lease ran out; "
                       "not recorded", attempt.outbox_id, attempt.number, attempt.worker)
        return None
    _release(row)
    row.last_error = error
    if status is OutboxStatus.UNCERTAIN:
        row.is_uncertain = True
        status = OutboxStatus.PENDING if resend_after_doubt(row) else OutboxStatus.UNCERTAIN
    if status is OutboxStatus.SENT:
        row.status, row.sent_at, row.sent_as = OutboxStatus.SENT, now, sent_as
        logger.info("outbox %s sent as %s", row.id, sent_as)
    elif status is OutboxStatus.PENDING and row.attempts < MAX_ATTEMPTS:
        row.status = OutboxStatus.PENDING
        row.next_attempt_at = now + timedelta(seconds=15 * 2**row.attempts)
        logger.warning("outbox %s not sent (%s); retry %s", row.id, error, row.attempts)
    elif status is OutboxStatus.UNCERTAIN:
        row.status = OutboxStatus.UNCERTAIN
        logger.warning("outbox %s: outcome unknown (%s); not sent again", row.id, error)
    else:
        row.status = OutboxStatus.FAILED
        logger.warning("outbox %s failed: %s", row.id, error)
    db.flush()
    return row


def _release(row: Outbox) -> None:
    row.lease_until = None  # leased_by and attempt_started_at stay, for the record


# --- the desk's view -------------------------------------------------------------------------

@dataclass(frozen=True)
class OutboxLine:
    """A message the desk should know about, without anything personal: the person by id."""

    id: int
    kind: str  # the reason's name without its ids ("voucher.redeemed")
    person_id: int
    status: OutboxStatus
    is_uncertain: bool
    attempts: int
    created_at: datetime
    last_try_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class OutboxOverview:
    counts: dict[OutboxStatus, int]
    uncertain: int  # rows marked uncertain, whatever their status
    stuck: int  # leased by a worker whose lease ran out (taken again at the next round)
    lines: list[OutboxLine]


def outbox_overview(db: Session, *, now: datetime, limit: int = 100) -> OutboxOverview:
    """Counts by status, and the newest messages that failed or are uncertain."""
    counts = {status: 0 for status in OutboxStatus}
    for status, count in db.execute(select(Outbox.status, func.count())
                                    .group_by(Outbox.status)):
        counts[status] = count
    uncertain = db.scalar(select(func.count()).where(Outbox.is_uncertain.is_(True))) or 0
    stuck = db.scalar(select(func.count()).where(
        Outbox.status == OutboxStatus.SENDING,
        or_(Outbox.lease_until.is_(None), Outbox.lease_until < now))) or 0
    rows = db.scalars(select(Outbox).where(or_(
        Outbox.status.in_((OutboxStatus.FAILED, OutboxStatus.UNCERTAIN)),
        Outbox.is_uncertain.is_(True))).order_by(Outbox.id.desc()).limit(limit))
    lines = [OutboxLine(id=row.id, kind=row.reason.split(":", 1)[0], person_id=row.person_id,
                        status=row.status, is_uncertain=row.is_uncertain,
                        attempts=row.attempts, created_at=row.created_at,
                        last_try_at=row.attempt_started_at,
                        sent_at=row.sent_at, last_error=row.last_error) for row in rows]
    return OutboxOverview(counts=counts, uncertain=uncertain, stuck=stuck, lines=lines)


def unsubscribe(db: Session, *, person_id: int, channel: Channel, now: datetime) -> Person:
    """The one stop state every broadcast respects (退订): nothing more is queued, and what is
    queued and not yet sent is dropped. Notices about the person's own vouchers still go."""
    person = db.get_one(Person, person_id)
    if person.unsubscribed_at is None:
        person.unsubscribed_at = now
        db.execute(update(Outbox)
                   .where(Outbox.person_id == person.id, Outbox.is_broadcast.is_(True),
                          Outbox.status == OutboxStatus.PENDING)
                   .values(status=OutboxStatus.FAILED, last_error="unsubscribed before sending"))
        audit(db, actor_id=person.id, channel=channel, action="person.unsubscribe",
              target=person, after={"unsubscribed_at": now.isoformat()}, at=now)
    return person


def resubscribe(db: Session, *, person_id: int, channel: Channel, now: datetime) -> Person:
    """订阅: broadcasts reach the person again (those dropped meanwhile stay dropped)."""
    person = db.get_one(Person, person_id)
    if person.unsubscribed_at is not None:
        before = person.unsubscribed_at.isoformat()
        person.unsubscribed_at = None
        audit(db, actor_id=person.id, channel=channel, action="person.resubscribe",
              target=person, before={"unsubscribed_at": before}, at=now)
    return person


# --- pruning: delivered messages are not kept forever -----------------------------------------

# A message sent this long ago is deleted by the worker's periodic jobs (prune_sent). Nothing
# needs it by then: a reason ("voucher.redeemed:42") is queued once, when its change happens,
# and the rows that guard against doing it twice (a late answer's retries, a day's reminder)
# matter for minutes or a day. Failed and uncertain messages are kept: the desk's outbox page
# shows them, and they are what a person may ask about. A sent job push stays while its push
# row points to it (the opening's figures count it).
SENT_KEPT = timedelta(days=30)
# Rows deleted a transaction: a province's push sends millions, deleted over a few rounds
# without holding locks or a long transaction.
PRUNE_CHUNK = 5000

# The pruning reads sent rows by age: a (status, sent_at) index (migration c19v00000001).
SENT_BY_AGE = Index("ix_outbox_status_sent_at", Outbox.status, Outbox.sent_at)

# The one column of models.jobs.JobPush the pruning reads, named here as a plain table: jobs
# imports this module (to queue its pushes), so importing it back would close a loop.
JOB_PUSHES = table("job_pushes", column("outbox_id"))


def prune_sent(db: Session, *, now: datetime, limit: int = PRUNE_CHUNK) -> int:
    """Delete at most ``limit`` messages sent more than SENT_KEPT before ``now``; return how
    many. The worker calls it a chunk a transaction until a chunk comes back short."""
    ids = (select(Outbox.id)
           .where(Outbox.status == OutboxStatus.SENT, Outbox.sent_at < now - SENT_KEPT,
                  ~select(JOB_PUSHES.c.outbox_id)
                  .where(JOB_PUSHES.c.outbox_id == Outbox.id).exists())
           .order_by(Outbox.sent_at)
           .limit(limit))
    found = db.scalars(ids).all()
    if not found:
        return 0
    return db.execute(delete(Outbox).where(Outbox.id.in_(found))
                      .execution_options(synchronize_session=False)).rowcount

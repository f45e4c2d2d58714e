"""The outbox: messages to people, written in the same transaction as the change that causes
them, and sent later by the worker so that no reply waits on WeChat's API."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import Channel, audit
from models.base import Base, enum_column
from models.persons import Person


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker; left here by a crash, it is never resent
    SENT = "sent"
    FAILED = "failed"  # gave up: recorded with the error, never counted as sent


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
        row.status, row.last_error = OutboxStatus.FAILED, f"{why} before sending"
    return why is not None


def postpone(row: Outbox, *, until: datetime) -> None:
    """Not sent now, for a reason of ours (the person is busy in the chat): back in the queue,
    and not counted as an attempt."""
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


# WeChat takes customer messages for 48 hours after the person's last message. last_seen_at
# is written at most hourly (models.persons.meet), so the last message may be up to an hour
# later than it says: the window is surely closed only an hour after the 48.
CUSTOMER_WINDOW = timedelta(hours=48)
SEEN_GRAIN = timedelta(hours=1)


def window_surely_closed(last_seen_at: datetime | None, now: datetime) -> bool:
    """True when a customer message would surely be refused (45015), so a template message
    should go at once; when unsure, the worker tries a customer message and falls back."""
    return last_seen_at is None or now - last_seen_at >= CUSTOMER_WINDOW + SEEN_GRAIN


def claim_due(db: Session, *, now: datetime, limit: int) -> list[int]:
    """Take the messages due now for sending: marked SENDING so that no other worker takes
    them (SKIP LOCKED lets several workers share the outbox on PostgreSQL; SQLite ignores it)."""
    rows = db.scalars(
        select(Outbox)
        .where(Outbox.status == OutboxStatus.PENDING, Outbox.next_attempt_at <= now)
        .order_by(Outbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.status = OutboxStatus.SENDING
        row.attempts += 1
    return [row.id for row in rows]


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

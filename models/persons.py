"""People who talk to the account. Minimal for now: who they are on WeChat, their language."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import Channel, audit
from models.base import Base
from models.errors import UnknownLocale

DEFAULT_LOCALE = "zh_Hans_CN"
LOCALES = ("zh_Hans_CN", "en")


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    locale: Mapped[str] = mapped_column(String(16), default=DEFAULT_LOCALE)
    is_following: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # When the person last wrote to us: customer messages are allowed for 48 hours after.
    last_seen_at: Mapped[datetime | None]


def meet(db: Session, *, openid: str, now: datetime) -> Person:
    """The person behind an openid, created on first contact; marks them as seen now."""
    person = db.scalar(select(Person).where(Person.openid == openid))
    if person is None:
        person = Person(openid=openid, locale=DEFAULT_LOCALE, created_at=now, last_seen_at=now)
        db.add(person)
        audit(db, actor_id=None, channel=Channel.WECHAT, action="person.first_contact",
              target=person, at=now)
        return person
    # Written at most once a minute: a busy chat should not turn every read into a write.
    if person.last_seen_at is None or now - person.last_seen_at > timedelta(minutes=1):
        person.last_seen_at = now
    return person


def set_locale(db: Session, *, person_id: int, locale: str, channel: Channel,
               now: datetime) -> Person:
    person = db.get_one(Person, person_id)
    if locale not in LOCALES:
        raise UnknownLocale(locale=locale)
    if person.locale != locale:
        before = person.locale
        person.locale = locale
        audit(db, actor_id=person.id, channel=channel, action="person.set_locale",
              target=person, before={"locale": before}, after={"locale": locale}, at=now)
    return person


def set_following(db: Session, *, person_id: int, is_following: bool, now: datetime) -> Person:
    person = db.get_one(Person, person_id)
    if person.is_following != is_following:
        person.is_following = is_following
        audit(db, actor_id=person.id, channel=Channel.WECHAT,
              action="person.follow" if is_following else "person.unfollow",
              target=person, after={"is_following": is_following}, at=now)
    return person

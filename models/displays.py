"""The class display's screens: the check-in code reaches only a screen that staff opened.

The link 开课 gives is spent by the first browser that opens it: that browser becomes the
session's screen, holding a random secret in a cookie (only its digest is kept here). Any other
browser with the same link is shown a confirmation code instead of the check-in code; a staff
member of the class's institution scans it with their own WeChat, and that browser becomes the
screen. A session has one screen at a time: binding a new one retires the others, so a link
forwarded before the projector opened it loses the code as soon as staff confirm the projector."""

from __future__ import annotations

import enum
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from models import links
from models.attendance import CHECKOUT_AFTER
from models.audit import Channel, audit
from models.base import Base, enum_column
from models.catalogue import ClassSession, session_bounds
from models.clock import LOCAL_TZ
from models.errors import ScreenConfirmationRefused
from models.persons import Person
from models.staff import StaffMember

logger = logging.getLogger(__name__)

# A confirmation code shown by an unconfirmed screen can be used this long.
CONFIRM_SECONDS = 10 * 60
# What that code starts with; either scan menu reads it (bot.intents), the staff's 核销（机构）
# or the 扫码签到 the display names.
SCREEN_CODE_PREFIX = "PXS:"
# The code's signature's own limit; confirm_screen refuses a code older than CONFIRM_SECONDS
# by the clock.
CODE_SECONDS = 24 * 3600


class ScreenHow(enum.StrEnum):
    LINK = "link"  # the first browser to open a fresh link from 开课
    CONFIRMED = "confirmed"  # confirmed by staff who scanned its confirmation code


class DisplayScreen(Base):
    """A browser that shows a session's check-in code."""

    __tablename__ = "display_screens"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_sessions.id"), index=True)
    # sha256 of the secret in the browser's cookie (see screen_digest); the secret is kept
    # nowhere else.
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    how: Mapped[ScreenHow] = mapped_column(enum_column(ScreenHow))
    bound_at: Mapped[datetime]
    bound_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    expires_at: Mapped[datetime]  # the end of the class day
    retired_at: Mapped[datetime | None]  # another screen was bound after it

    session: Mapped[ClassSession] = relationship()


class DisplayLink(Base):
    """A display link (its random id) already exchanged for a screen: a link is spent once."""

    __tablename__ = "display_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_sessions.id"), index=True)
    screen_id: Mapped[int] = mapped_column(ForeignKey("display_screens.id"))
    spent_at: Mapped[datetime]

    screen: Mapped[DisplayScreen] = relationship()


def new_screen_secret() -> str:
    """A secret for a browser's screen cookie: 43 URL-safe characters."""
    return secrets.token_urlsafe(32)


def new_link_id() -> str:
    """The random id that makes each display link one of its own, spent once."""
    return secrets.token_urlsafe(12)


def display_token(secret_key: str, *, session_id: int, staff_id: int | None) -> str:
    """A display link's token: its session, the staff member who asked for it, and a random
    id that makes every link (every 开课) a fresh one, spent by the first browser that opens
    it."""
    return links.sign(secret_key, links.DISPLAY_PURPOSE,
                      {"s": session_id, "k": new_link_id(), "by": staff_id})


def confirmation_code(secret_key: str, *, session_id: int, digest: str, now: datetime) -> str:
    """What an unconfirmed screen shows: its session, its cookie's digest and when it was
    shown, signed."""
    return SCREEN_CODE_PREFIX + links.sign(
        secret_key, links.SCREEN_PURPOSE, {"s": session_id, "d": digest, "t": int(now.timestamp())})


def read_confirmation_code(secret_key: str, code: str) -> tuple[int, str, datetime]:
    """The session, the screen's digest and when the code was shown; a code forged, too old
    for its signature or not one at all is ScreenConfirmationRefused (unknown_screen)."""
    try:
        payload = links.verify(secret_key, links.SCREEN_PURPOSE, code[len(SCREEN_CODE_PREFIX):],
                               CODE_SECONDS)
        return (int(payload["s"]), str(payload["d"]),
                datetime.fromtimestamp(int(payload["t"]), UTC))
    except (links.BadSignature, KeyError, TypeError, ValueError, OverflowError):
        raise ScreenConfirmationRefused(rule="unknown_screen") from None


def screen_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def class_day_end(session: ClassSession) -> datetime:
    """Midnight after the session's day: a screen's cookie and record last until then."""
    return datetime.combine(session.day + timedelta(days=1), time(0), LOCAL_TZ)


def shown_screen(db: Session, *, session_id: int, secret: str | None,
                 now: datetime) -> DisplayScreen | None:
    """The screen this browser (by its cookie's secret) is for the session, if it is still
    the one that shows the code."""
    if not secret:
        return None
    screen = db.scalar(select(DisplayScreen).where(DisplayScreen.digest == screen_digest(secret)))
    if (screen is None or screen.session_id != session_id or screen.retired_at is not None
            or screen.expires_at <= now):
        return None
    return screen


@dataclass(frozen=True)
class ScreenVisit:
    screen: DisplayScreen | None  # the screen this browser is, when it may show the code
    new_secret: str | None  # set when this visit bound the browser: its new cookie


def visit_display(db: Session, *, session: ClassSession, secret: str | None,
                  link_id: str | None, link_by: int | None, now: datetime) -> ScreenVisit:
    """A browser opens the display with a link (``link_id``, None for a link that cannot be
    exchanged) holding ``secret`` in its cookie (or none). A bound browser stays the screen
    (and spends a fresh link it opens, so it serves nobody else); a fresh link makes any other
    browser the session's screen, retiring the others; else the browser is no screen."""
    screen = shown_screen(db, session_id=session.id, secret=secret, now=now)
    if link_id is None or db.get(DisplayLink, link_id) is not None:
        return ScreenVisit(screen, None)
    fresh = None
    if screen is None:
        fresh = new_screen_secret()
        screen = DisplayScreen(session_id=session.id, digest=screen_digest(fresh),
                               how=ScreenHow.LINK, bound_at=now, bound_by_id=link_by,
                               expires_at=class_day_end(session))
        db.add(screen)
    db.add(DisplayLink(id=link_id, session_id=session.id, screen=screen, spent_at=now))
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:  # two browsers opened the fresh link at once: the other one won
        return ScreenVisit(None if fresh else screen, None)
    if fresh:
        _retire_others(db, screen, now)
        audit(db, actor_id=link_by, channel=Channel.PAGE, action="display.screen_open",
              target=screen, after={"session": session.id, "how": ScreenHow.LINK.value}, at=now)
    return ScreenVisit(screen, fresh)


def confirm_screen(db: Session, *, staff_openid: str, session_id: int, digest: str,
                   asked_at: datetime, now: datetime,
                   channel: Channel = Channel.WECHAT) -> DisplayScreen:
    """Staff confirm the browser whose confirmation code (its session, its secret's digest,
    when it was shown) they scanned: it becomes the session's screen, the others retire.
    Only staff of the class's institution, only within CONFIRM_SECONDS of the code's showing,
    only until the session's check-out has closed (when its display closes too)."""
    if not timedelta(seconds=-60) <= now - asked_at <= timedelta(seconds=CONFIRM_SECONDS):
        raise ScreenConfirmationRefused(rule="expired", minutes=CONFIRM_SECONDS // 60)
    staff = db.scalar(select(StaffMember).join(StaffMember.person)
                      .where(Person.openid == staff_openid))
    if staff is None:
        raise ScreenConfirmationRefused(rule="not_staff")
    session = db.scalar(select(ClassSession).where(ClassSession.id == session_id)
                        .options(joinedload(ClassSession.course)))
    if session is None or session.course.institution_id != staff.institution_id:
        raise ScreenConfirmationRefused(rule="other_institution")
    if now > session_bounds(session)[1] + CHECKOUT_AFTER:  # the display is closed then
        raise ScreenConfirmationRefused(rule="session_over")
    screen = db.scalar(select(DisplayScreen).where(DisplayScreen.digest == digest))
    if screen is not None and screen.session_id != session.id:  # a cookie moved by hand
        raise ScreenConfirmationRefused(rule="unknown_screen")
    before = None
    if screen is None:
        screen = DisplayScreen(session_id=session.id, digest=digest, how=ScreenHow.CONFIRMED,
                               bound_at=now, expires_at=class_day_end(session))
        db.add(screen)
    else:
        before = {"how": screen.how.value, "retired": screen.retired_at is not None}
    screen.how, screen.bound_at, screen.bound_by_id = ScreenHow.CONFIRMED, now, staff.person_id
    screen.retired_at, screen.session = None, session
    db.flush()
    _retire_others(db, screen, now)
    audit(db, actor_id=staff.person_id, channel=channel, action="display.screen_confirm",
          target=screen, before=before,
          after={"session": session.id, "how": ScreenHow.CONFIRMED.value}, at=now)
    return screen


def _retire_others(db: Session, screen: DisplayScreen, now: datetime) -> None:
    db.execute(update(DisplayScreen).where(
        DisplayScreen.session_id == screen.session_id, DisplayScreen.id != screen.id,
        DisplayScreen.retired_at.is_(None)).values(retired_at=now)
        .execution_options(synchronize_session="fetch"))

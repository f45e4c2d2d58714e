"""People who work at the bureau's web desk: user names, password hashes and roles."""

from __future__ import annotations

import enum
import hashlib
import logging
import re
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from models.audit import Channel, audit
from models.base import Base, enum_column
from models.catalogue import Institution
from models.errors import DeskUserRefused, NotFound, SignInRefused

logger = logging.getLogger(__name__)

# NIST SP 800-63B asks for at least 8; a desk that sees a county's personal data asks a little
# more. No composition rules: length is what helps.
PASSWORD_MIN_LENGTH = 10
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,59}")
# Werkzeug's scrypt (n=2**15, r=8, p=1): memory-hard, salted, and already installed with Flask.
PASSWORD_METHOD = "scrypt"
# Checked when the user name is unknown, so that an unknown name takes as long as a wrong
# password and the timing does not tell which names exist.
_DUMMY_HASH = generate_password_hash("no such desk user", method=PASSWORD_METHOD)


class DeskRole(enum.StrEnum):
    ADMIN = "admin"  # the bureau: everything, across the county
    INSPECTOR = "inspector"  # reads figures and class records, changes nothing
    INSTITUTION = "institution"  # one institution's staff: its own classes only


class DeskUser(Base):
    __tablename__ = "desk_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[DeskRole] = mapped_column(enum_column(DeskRole))
    # Set for the INSTITUTION role only: the one institution whose records it may see.
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    # Raised on sign-out and on disabling: every session signed before it is over, wherever its
    # cookie is (a signed cookie cannot be taken back, so the server must refuse it).
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    institution: Mapped[Institution | None] = relationship()

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def session_stamp(self) -> str:
        """Kept in the signed session: a new password, a sign-out or disabling the user signs
        out every session."""
        seed = f"{self.session_generation}:{self.password_hash}"
        return hashlib.sha256(seed.encode()).hexdigest()[:16]

    @property
    def can_change(self) -> bool:
        """Inspectors only read; admins and institution staff may act within their scope."""
        return self.role is not DeskRole.INSPECTOR


def normalize_username(username: str) -> str:
    return username.strip().lower()


def create_desk_user(db: Session, *, username: str, password: str, role: DeskRole,
                     institution_code: str | None = None, now: datetime,
                     channel: Channel = Channel.CLI,
                     by: DeskUser | None = None) -> DeskUser:
    """A new desk user; an INSTITUTION user names its institution by code, no other role may."""
    name = normalize_username(username)
    if not USERNAME.fullmatch(name):
        raise DeskUserRefused(reason="username_invalid", username=username)
    if len(password) < PASSWORD_MIN_LENGTH:
        raise DeskUserRefused(reason="password_too_short", minimum=PASSWORD_MIN_LENGTH)
    institution = _institution_for(db, role=role, institution_code=institution_code)
    if db.scalar(select(DeskUser.id).where(DeskUser.username == name)) is not None:
        raise DeskUserRefused(reason="username_taken", username=name)
    user = DeskUser(username=name, password_hash=hash_password(password), role=role,
                    institution_id=institution.id if institution else None, created_at=now)
    db.add(user)
    audit(db, actor_id=None, desk_user_id=by.id if by else None, channel=channel,
          action="desk_user.create", target=user, at=now,
          after={"username": name, "role": role.value,
                 "institution": institution.code if institution else None})
    return user


def _institution_for(db: Session, *, role: DeskRole,
                     institution_code: str | None) -> Institution | None:
    if role is not DeskRole.INSTITUTION:
        if institution_code:
            raise DeskUserRefused(reason="institution_not_allowed", role=role.value)
        return None
    if not institution_code:
        raise DeskUserRefused(reason="institution_required")
    institution = db.scalar(select(Institution).where(Institution.code == institution_code))
    if institution is None:
        raise DeskUserRefused(reason="institution_unknown", institution_code=institution_code)
    return institution


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def sign_in(db: Session, *, username: str, password: str, now: datetime,
            channel: Channel = Channel.PAGE) -> DeskUser:
    """The desk user with these credentials, or SignInRefused. A disabled user is refused only
    after the right password, so the refusal tells nothing to someone guessing."""
    user = db.scalar(select(DeskUser).where(DeskUser.username == normalize_username(username)))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        raise SignInRefused(reason="bad_credentials")
    if not check_password_hash(user.password_hash, password):
        raise SignInRefused(reason="bad_credentials")
    if user.is_disabled:
        raise SignInRefused(reason="disabled")
    user.last_sign_in_at = now
    audit(db, actor_id=None, desk_user_id=user.id, channel=channel, action="desk_user.sign_in",
          target=user, at=now)
    return user


def load_desk_user(db: Session, *, user_id: int) -> DeskUser | None:
    """The signed-in user of a session, if still allowed in (a disabled user is out at once)."""
    user = db.get(DeskUser, user_id)
    if user is None or user.is_disabled:
        return None
    return user


def sign_out(db: Session, *, user_id: int, now: datetime,
             channel: Channel = Channel.PAGE) -> None:
    """End every session of this desk user, on every browser: a replayed cookie is refused."""
    user = db.get(DeskUser, user_id)
    if user is None:
        return
    _end_sessions(user)
    audit(db, actor_id=None, desk_user_id=user.id, channel=channel,
          action="desk_user.sign_out", target=user, at=now)


def _end_sessions(user: DeskUser) -> None:
    # In SQL, so that two sign-outs at once both count.
    user.session_generation = DeskUser.session_generation + 1


def disable_desk_user(db: Session, *, username: str, now: datetime,
                      channel: Channel = Channel.CLI, by: DeskUser | None = None) -> DeskUser:
    user = db.scalar(select(DeskUser).where(DeskUser.username == normalize_username(username)))
    if user is None:
        raise NotFound(username=username)
    if not user.is_disabled:
        user.disabled_at = now
        _end_sessions(user)
        audit(db, actor_id=None, desk_user_id=by.id if by else None, channel=channel,
              action="desk_user.disable", target=user, at=now)
    return user

"""The mini-program's accounts: who signed in with ``wx.login``, which person they are, and the
refresh tokens of their API sessions.

A mini-program openid is not the official account's openid, and the domain's operations act on
the official account's person (``Person.openid``: the outbox reaches people through it). So an
account is linked to a person who follows the account: at once by the unionid WeChat gives both
apps when they share an open-platform account, else once with a short code the person asks the
official account for (``绑定小程序``) and types into the mini-program.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import Channel, audit
from models.base import Base
from models.cadres import Cadre
from models.codes import OneTimeCode
from models.errors import DomainError, InvitationInvalid
from models.persons import Person
from models.pii import Vault
from models.staff import StaffMember

logger = logging.getLogger(__name__)

# A link code is typed within minutes of asking for it; six digits, so it also dies soon.
LINK_CODE_MINUTES = 10
# How long a refresh token may wait for its one use (the mini-program signs in silently again
# with wx.login when it has expired, so this only spares WeChat a round trip).
REFRESH_DAYS = 30


class SessionInvalid(DomainError):
    """A refresh token that is unknown, expired, revoked or used before (then its whole family
    is revoked: someone may hold a stolen copy)."""

    code = "session_invalid"


class AccountNotLinked(DomainError):
    """The mini-program user is not linked to a person yet: the binding step comes next."""

    code = "binding_required"


class MiniProgramAccount(Base):
    __tablename__ = "mini_program_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The mini-program's openid: another value than the official account's for the same user.
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    # WeChat's session_key (decrypts wx.getPhoneNumber and the like): sealed, never answered.
    session_key_sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    signed_in_at: Mapped[datetime]
    linked_at: Mapped[datetime | None]


class AppLinkCode(Base):
    """A short code the official account gives a person to link their mini-program."""

    __tablename__ = "mini_program_link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


LINK_CODE = OneTimeCode("mp-link", digest_column=AppLinkCode.code_hash,
                        expires_column=AppLinkCode.expires_at, used_column=AppLinkCode.used_at,
                        refusal="app_code")


class RefreshToken(Base):
    """One refresh token; only its hash is kept. Each use replaces it by a new one of the same
    family; a second use of a spent token revokes the family."""

    __tablename__ = "api_refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mini_program_accounts.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    family: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Grant:
    """What a sign-in or a refresh gives: the refresh token (once, in the clear) and who."""

    refresh_token: str
    account_id: int
    person_id: int
    family: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- signing in ----------------------------------------------------------------------------

def sign_in(db: Session, *, vault: Vault, openid: str, unionid: str | None,
            session_key: str | None, now: datetime) -> MiniProgramAccount:
    """The account behind a mini-program openid (created on first sign-in), linked to its
    person by unionid where WeChat gave one and a person carries it."""
    account = db.scalar(select(MiniProgramAccount).where(MiniProgramAccount.openid == openid)
                        .with_for_update())
    if account is None:
        account = MiniProgramAccount(openid=openid, created_at=now, signed_in_at=now)
        db.add(account)
    account.signed_in_at = now
    account.unionid = unionid or account.unionid
    account.session_key_sealed = vault.seal(session_key) if session_key else None
    if account.person_id is None and account.unionid:
        person = db.scalar(select(Person).where(Person.unionid == account.unionid,
                                                Person.openid.is_not(None)))
        if person is not None:
            _link(db, account, person, how="unionid", now=now)
    db.flush()
    return account


def issue_link_code(db: Session, *, vault: Vault, openid: str, now: datetime) -> str:
    """A six-digit code for the person behind this official-account openid (``绑定小程序``)."""
    person = db.scalar(select(Person).where(Person.openid == openid))
    if person is None:
        raise InvitationInvalid(reason="unknown")
    def in_use(digest: str) -> bool:
        held = db.scalar(select(AppLinkCode).where(AppLinkCode.code_hash == digest))
        if held is not None and (held.used_at is not None or held.expires_at < now):
            db.delete(held)  # an old code's hash gives way to the new one
            db.flush()
            return False
        return held is not None

    code, digest = LINK_CODE.draw(vault, in_use=in_use)
    row = AppLinkCode(person_id=person.id, code_hash=digest, created_at=now,
                      expires_at=now + timedelta(minutes=LINK_CODE_MINUTES))
    db.add(row)
    audit(db, actor_id=person.id, channel=Channel.WECHAT, action="miniprogram.link_code",
          target=row, at=now)
    return code


def link_with_code(db: Session, *, vault: Vault, account_id: int, code: str,
                   now: datetime) -> MiniProgramAccount:
    """The mini-program user typed the code the official account gave them: link them."""
    row = LINK_CODE.holder(db, vault=vault, code=code, now=now)
    row.used_at = now
    account = db.get_one(MiniProgramAccount, account_id)
    person = db.get_one(Person, row.person_id)
    _link(db, account, person, how="code", now=now)
    logger.info("mini-program account %s linked to person %s by code", account.id, person.id)
    return account


def _link(db: Session, account: MiniProgramAccount, person: Person, *, how: str,
          now: datetime) -> None:
    before = account.person_id
    account.person_id, account.linked_at = person.id, now
    if account.unionid and person.unionid is None:
        holder = db.scalar(select(Person.id).where(Person.unionid == account.unionid))
        if holder is None:
            # Next time (another phone, a reinstall) the unionid alone finds the person.
            person.unionid = account.unionid
    # A person has one mini-program account: a new one (another phone) ends the old sessions.
    others = db.scalars(select(MiniProgramAccount.id).where(
        MiniProgramAccount.person_id == person.id, MiniProgramAccount.id != account.id)).all()
    if others:
        db.execute(update(RefreshToken).where(RefreshToken.account_id.in_(others),
                                              RefreshToken.revoked_at.is_(None))
                   .values(revoked_at=now))
        db.execute(update(MiniProgramAccount).where(MiniProgramAccount.id.in_(others))
                   .values(person_id=None, linked_at=None))
    db.flush()
    audit(db, actor_id=person.id, channel=Channel.API, action="miniprogram.link",
          target=account, before={"person_id": before},
          after={"person_id": person.id, "how": how}, at=now)


def linked_person(db: Session, *, account_id: int) -> Person:
    """The person an account acts for; AccountNotLinked until the binding step is done."""
    account = db.get(MiniProgramAccount, account_id)
    person = db.get(Person, account.person_id) if account and account.person_id else None
    if person is None or person.openid is None:
        raise AccountNotLinked()
    return person


def roles_of(db: Session, *, person_id: int) -> list[str]:
    """What the person may do besides training: staff of an institution, village cadre."""
    roles = ["trainee"]
    if db.scalar(select(StaffMember.id).where(StaffMember.person_id == person_id)):
        roles.append("staff")
    if db.scalar(select(Cadre.id).where(Cadre.person_id == person_id)):
        roles.append("cadre")
    return roles


# --- API sessions --------------------------------------------------------------------------

def start_session(db: Session, *, account_id: int, now: datetime) -> Grant:
    person = linked_person(db, account_id=account_id)
    return _grant(db, account_id=account_id, person_id=person.id,
                  family=secrets.token_hex(16), now=now)


def refresh_session(db: Session, *, token: str, now: datetime) -> Grant:
    """Spend a refresh token for a new one of the same family."""
    row = db.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash(token))
                    .with_for_update())
    if row is None or row.revoked_at is not None or row.expires_at < now:
        raise SessionInvalid(reason="unknown")
    if row.used_at is not None:
        # Spent before: the token leaked or a retry lost its answer; either way the family ends
        # and the mini-program signs in again with wx.login.
        # The caller revokes the family in a transaction of its own (this one rolls back).
        raise SessionInvalid(reason="reused", family=row.family)
    row.used_at = now
    person = linked_person(db, account_id=row.account_id)
    if person.id != row.person_id:
        raise SessionInvalid(reason="relinked")
    return _grant(db, account_id=row.account_id, person_id=person.id, family=row.family,
                  now=now)


def session_person(db: Session, *, account_id: int, family: str) -> Person:
    """The person an access token of this session speaks for. SessionInvalid once the session
    has ended (signed out, or a refresh token was used twice): its access tokens die with it,
    not minutes later. A live session has exactly one unrevoked refresh token."""
    live = db.scalar(select(RefreshToken.id).where(RefreshToken.family == family,
                                                   RefreshToken.revoked_at.is_(None)).limit(1))
    if live is None:
        raise SessionInvalid(reason="ended")
    return linked_person(db, account_id=account_id)


def end_session(db: Session, *, family: str, now: datetime) -> int:
    """Sign out: no token of the family can be refreshed again."""
    return db.execute(update(RefreshToken).where(RefreshToken.family == family,
                                                 RefreshToken.revoked_at.is_(None))
                      .values(revoked_at=now)).rowcount


def _grant(db: Session, *, account_id: int, person_id: int, family: str,
           now: datetime) -> Grant:
    token = secrets.token_urlsafe(32)
    db.add(RefreshToken(account_id=account_id, person_id=person_id, family=family,
                        token_hash=_hash(token), issued_at=now,
                        expires_at=now + timedelta(days=REFRESH_DAYS)))
    db.flush()
    return Grant(refresh_token=token, account_id=account_id, person_id=person_id, family=family)

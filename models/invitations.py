"""Invitations: what village cadres, institution staff and inspectors share. The bureau makes a
one-time token for a QR code's scene (``cadre:<token>``, ``staff:<token>``,
``inspector:<token>``); the person who scans it in time takes the role it names, once."""

from __future__ import annotations

import enum
import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import Channel, audit
from models.base import Base, enum_column
from models.errors import InvitationInvalid

logger = logging.getLogger(__name__)

INVITATION_DAYS = 14


class InvitationKind(enum.StrEnum):
    CADRE = "cadre"
    STAFF = "staff"
    INSPECTOR = "inspector"


class Invitation(Base):
    """A one-time token inside a QR code's scene (``cadre:<token>``, ``staff:<token>``)."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[InvitationKind] = mapped_column(enum_column(InvitationKind))
    # Only the token's hash is kept: the database alone cannot forge an invitation.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    township_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    village: Mapped[str | None] = mapped_column(String(60))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))


class InvitedRole:
    """The columns of a role's table (Cadre, StaffMember, Inspector) that an invitation fills:
    one row per person, made when they first take the role and kept when they are invited
    again."""

    invitation_kind: ClassVar[InvitationKind]

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    bound_at: Mapped[datetime]

    def take_scope(self, db: Session, invitation: Invitation) -> dict[str, Any] | None:
        """Copy the invitation's scope (village, institution) onto the role; return what the
        audit row records of it."""
        return None


Role = TypeVar("Role", bound=InvitedRole)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_invitation(db: Session, *, kind: InvitationKind, now: datetime,
                      described: dict[str, str], **scope: object) -> str:
    """A one-time invitation of any kind; returns the token for the QR scene (only its hash is
    kept). ``scope`` fills the invitation's columns (township, village, institution)."""
    token = secrets.token_urlsafe(16)
    invitation = Invitation(kind=kind, token_hash=token_hash(token), created_at=now,
                            expires_at=now + timedelta(days=INVITATION_DAYS), **scope)
    db.add(invitation)
    audit(db, actor_id=None, channel=Channel.CLI, action="invitation.create",
          target=invitation, after={"kind": kind.value, **described}, at=now)
    logger.info("invitation %s created (%s)", invitation.id, kind.value)
    return token


def use_invitation(db: Session, *, token: str, kind: InvitationKind, now: datetime,
                   by: int) -> Invitation:
    """Spend the invitation behind a token, if it is still good, for the person ``by``."""
    invitation = db.scalar(select(Invitation).where(
        Invitation.token_hash == token_hash(token), Invitation.kind == kind
    ).with_for_update())
    if invitation is None:
        raise InvitationInvalid(reason="unknown")
    if invitation.used_at is not None:
        raise InvitationInvalid(reason="used")
    if invitation.expires_at < now:
        raise InvitationInvalid(reason="expired")
    invitation.used_at, invitation.used_by_id = now, by
    return invitation


def bind_by_invitation(db: Session, *, role: type[Role], person_id: int, token: str,
                       now: datetime) -> Role:
    """The person scanned an invitation of ``role``'s kind: spend it and give them the role
    (a cadre moved to another village, staff moved to another institution, keep one row)."""
    kind = role.invitation_kind
    invitation = use_invitation(db, token=token, kind=kind, now=now, by=person_id)
    holder = db.scalar(select(role).where(role.person_id == person_id))
    if holder is None:
        holder = role(person_id=person_id, bound_at=now)
        db.add(holder)
    after = holder.take_scope(db, invitation)
    db.flush()
    audit(db, actor_id=person_id, channel=Channel.WECHAT, action=f"{kind.value}.bind",
          target=holder, after=after, at=now)
    logger.info("person %s bound as %s by invitation %s", person_id, kind.value, invitation.id)
    return holder

"""Village cadres (村组干部): bound by a one-time invitation, they mobilize their neighbours,
register those who cannot do it themselves, and see their own figures (QJ2020 四, 五(四))."""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.audit import Channel, audit
from models.base import Base, enum_column
from models.errors import InvitationInvalid, NotACadre
from models.persons import ConsentHow, Person
from models.pii import Vault
from models.regions import Region
from models.registration import RegistrationForm, issue_bind_code, register

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


class Cadre(Base):
    __tablename__ = "cadres"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    village: Mapped[str] = mapped_column(String(60))
    bound_at: Mapped[datetime]
    # The URL WeChat gave for the cadre's permanent referral QR code (scene ref:<id>).
    qr_url: Mapped[str | None] = mapped_column(String(200))

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    township: Mapped[Region] = relationship()


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
    return token


def invite_cadre(db: Session, *, township_code: str, village: str, now: datetime) -> str:
    """Create a one-time cadre invitation; return the token for the QR scene."""
    township = db.scalar(select(Region).where(Region.code == township_code))
    if township is None:
        raise InvitationInvalid(reason="unknown_township", township=township_code)
    return create_invitation(db, kind=InvitationKind.CADRE, now=now,
                             described={"village": village}, township_id=township.id,
                             village=village)


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


def bind_cadre(db: Session, *, person_id: int, token: str, now: datetime) -> Cadre:
    invitation = use_invitation(db, token=token, kind=InvitationKind.CADRE, now=now,
                                by=person_id)
    cadre = db.scalar(select(Cadre).where(Cadre.person_id == person_id))
    if cadre is None:
        cadre = Cadre(person_id=person_id, township_id=invitation.township_id,
                      village=invitation.village, bound_at=now)
        db.add(cadre)
    else:  # a cadre moved to another village keeps one record
        cadre.township_id, cadre.village = invitation.township_id, invitation.village
    audit(db, actor_id=person_id, channel=Channel.WECHAT, action="cadre.bind", target=cadre,
          after={"village": invitation.village}, at=now)
    return cadre


def cadre_of(db: Session, *, person_id: int) -> Cadre:
    cadre = db.scalar(select(Cadre).where(Cadre.person_id == person_id))
    if cadre is None:
        raise NotACadre(person_id=person_id)
    return cadre


def attribute_to_cadre(db: Session, *, person_id: int, cadre_id: int, now: datetime) -> bool:
    """Record that this cadre brought the person in, unless another cadre did first."""
    person = db.get_one(Person, person_id)
    cadre = db.get(Cadre, cadre_id)
    if cadre is None or person.referred_by_id is not None or cadre.person_id == person_id:
        return False
    person.referred_by_id, person.referred_at = cadre_id, now
    audit(db, actor_id=person_id, channel=Channel.WECHAT, action="person.referred",
          target=person, after={"cadre_id": cadre_id}, at=now)
    return True


def register_neighbour(db: Session, *, vault: Vault, cadre_openid: str, form: RegistrationForm,
                       now: datetime, today: date) -> str:
    """代报名: a cadre registers a neighbour without a smartphone, consent given on paper.

    The neighbour counts as mobilized by the cadre; the returned one-time code lets them bind
    their own WeChat to the record later."""
    cadre_person = db.scalar(select(Person).where(Person.openid == cadre_openid))
    if cadre_person is None:
        raise NotACadre()
    cadre = cadre_of(db, person_id=cadre_person.id)
    person = register(db, vault=vault, form=form, openid=None, consent=ConsentHow.PAPER,
                      channel=Channel.WECHAT, now=now, today=today,
                      registered_by=cadre.person_id)
    if person.referred_by_id is None:
        person.referred_by_id, person.referred_at = cadre.id, now
    return issue_bind_code(db, vault=vault, person=person, now=now)


def referral_scene(cadre_id: int) -> str:
    return f"ref:{cadre_id}"


def keep_qr_url(db: Session, *, cadre_id: int, url: str) -> Cadre:
    cadre = db.get_one(Cadre, cadre_id)
    cadre.qr_url = url
    return cadre


def load_cadre(db: Session, *, cadre_id: int) -> Cadre | None:
    return db.get(Cadre, cadre_id)

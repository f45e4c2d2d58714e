"""Village cadres (村组干部): bound by a one-time invitation, they mobilize their neighbours,
register those who cannot do it themselves, and see their own figures (QJ2020 四, 五(四))."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.audit import Channel, audit
from models.base import Base
from models.errors import InvitationInvalid, NotACadre
from models.invitations import Invitation, InvitationKind, InvitedRole, create_invitation
from models.persons import ConsentHow, Person
from models.pii import Vault
from models.regions import Region
from models.registration import RegistrationForm, issue_bind_code, register

logger = logging.getLogger(__name__)

class Cadre(InvitedRole, Base):
    __tablename__ = "cadres"
    invitation_kind = InvitationKind.CADRE

    township_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    village: Mapped[str] = mapped_column(String(60))
    # The URL WeChat gave for the cadre's permanent referral QR code (scene ref:<id>).
    qr_url: Mapped[str | None] = mapped_column(String(200))

    person: Mapped[Person] = relationship(foreign_keys="Cadre.person_id")
    township: Mapped[Region] = relationship()

    def take_scope(self, db: Session, invitation: Invitation) -> dict[str, Any]:
        self.township_id, self.village = invitation.township_id, invitation.village
        return {"village": invitation.village}


def invite_cadre(db: Session, *, township_code: str, village: str, now: datetime) -> str:
    """Create a one-time cadre invitation; return the token for the QR scene."""
    township = db.scalar(select(Region).where(Region.code == township_code))
    if township is None:
        raise InvitationInvalid(reason="unknown_township", township=township_code)
    return create_invitation(db, kind=InvitationKind.CADRE, now=now,
                             described={"village": village}, township_id=township.id,
                             village=village)


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

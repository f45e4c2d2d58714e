"""Institution staff: bound to their institution by a one-time invitation (``staff:<token>``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.audit import Channel, audit
from models.base import Base
from models.cadres import InvitationKind, create_invitation, use_invitation
from models.catalogue import Institution
from models.errors import InvitationInvalid, NotStaff
from models.persons import Person


class StaffMember(Base):
    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    bound_at: Mapped[datetime]

    person: Mapped[Person] = relationship()
    institution: Mapped[Institution] = relationship()


def invite_staff(db: Session, *, institution_code: str, now: datetime) -> str:
    institution = db.scalar(select(Institution).where(Institution.code == institution_code))
    if institution is None:
        raise InvitationInvalid(reason="unknown_institution", institution=institution_code)
    return create_invitation(db, kind=InvitationKind.STAFF, now=now,
                             described={"institution": institution_code},
                             institution_id=institution.id)


def bind_staff(db: Session, *, person_id: int, token: str, now: datetime) -> StaffMember:
    invitation = use_invitation(db, token=token, kind=InvitationKind.STAFF, now=now,
                                by=person_id)
    member = db.scalar(select(StaffMember).where(StaffMember.person_id == person_id))
    if member is None:
        member = StaffMember(person_id=person_id, institution_id=invitation.institution_id,
                             bound_at=now)
        db.add(member)
    else:
        member.institution_id = invitation.institution_id
    member.institution = db.get_one(Institution, invitation.institution_id)
    db.flush()
    audit(db, actor_id=person_id, channel=Channel.WECHAT, action="staff.bind", target=member,
          after={"institution_id": invitation.institution_id}, at=now)
    return member


def staff_of(db: Session, *, openid: str) -> StaffMember:
    member = db.scalar(select(StaffMember).join(StaffMember.person)
                       .where(Person.openid == openid))
    if member is None:
        raise NotStaff()
    return member

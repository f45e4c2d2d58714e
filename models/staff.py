"""Institution staff: bound to their institution by a one-time invitation (``staff:<token>``)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base
from models.catalogue import Institution
from models.errors import InvitationInvalid, NotStaff
from models.invitations import Invitation, InvitationKind, InvitedRole, create_invitation
from models.persons import Person

logger = logging.getLogger(__name__)


class StaffMember(InvitedRole, Base):
    __tablename__ = "staff_members"
    invitation_kind = InvitationKind.STAFF

    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)

    person: Mapped[Person] = relationship()
    institution: Mapped[Institution] = relationship()

    def take_scope(self, db: Session, invitation: Invitation) -> dict[str, Any]:
        self.institution_id = invitation.institution_id
        self.institution = db.get_one(Institution, invitation.institution_id)
        return {"institution_id": invitation.institution_id}


def invite_staff(db: Session, *, institution_code: str, now: datetime) -> str:
    institution = db.scalar(select(Institution).where(Institution.code == institution_code))
    if institution is None:
        raise InvitationInvalid(reason="unknown_institution", institution=institution_code)
    return create_invitation(db, kind=InvitationKind.STAFF, now=now,
                             described={"institution": institution_code},
                             institution_id=institution.id)


def staff_of(db: Session, *, openid: str) -> StaffMember:
    member = db.scalar(select(StaffMember).join(StaffMember.person)
                       .where(Person.openid == openid))
    if member is None:
        raise NotStaff()
    return member

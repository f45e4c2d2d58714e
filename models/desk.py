"""People who work at the bureau's web desk: user names, password hashes and roles."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, enum_column
from models.catalogue import Institution


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

    institution: Mapped[Institution | None] = relationship()

"""Follow-up after training: where a trainee works 1 and 6 months after the class, and what
they thought of it (QJ2020 二, DX2020 三(六): employment rate after training, goal 90%)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.audit import Channel
from models.base import Base, enum_column


class WorkAfter(enum.StrEnum):
    LOCAL = "local"  # 本地就业
    PROVINCE = "province"  # 省内就业
    OUTSIDE = "outside"  # 省外就业
    SELF_EMPLOYED = "self_employed"  # 自主创业/灵活就业
    NOT_YET = "not_yet"  # 尚未就业

    @property
    def is_employed(self) -> bool:
        return self is not WorkAfter.NOT_YET


class FollowUp(Base):
    """One question round for one finished voucher; answered by the trainee, or recorded by a
    cadre or staff member who visited them."""

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("voucher_id", "round_months"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    round_months: Mapped[int]  # 1 or 6 (configurable)
    due_on: Mapped[date]
    asked_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    work: Mapped[WorkAfter | None] = mapped_column(enum_column(WorkAfter))
    rating: Mapped[int | None]  # 1–5
    opinion: Mapped[str | None] = mapped_column(String(200))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    channel: Mapped[Channel | None] = mapped_column(enum_column(Channel))

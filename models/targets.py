"""Targets (人次) per region, year, category and certificate kind (QJ2020 附件, LP2021 附件1–2)."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, enum_column


class TargetMeasure(enum.StrEnum):
    TRAININGS = "trainings"  # 培训人次 (subtotal)
    QUALIFICATION = "qualification"  # 职业资格证/技能等级证
    FREE = "free"  # 其中：免费培训
    SPECIAL = "special"  # 专项职业能力证


class Target(Base):
    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("region_id", "year", "category_id", "measure"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    year: Mapped[int]
    # None: the region's figure across categories (the township tables have no category).
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    measure: Mapped[TargetMeasure] = mapped_column(enum_column(TargetMeasure))
    count: Mapped[int]
    source: Mapped[str] = mapped_column(String(80))

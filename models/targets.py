"""Targets (人次) per region, year, category and certificate kind (QJ2020 附件, LP2021 附件1–2),
and the plans' goals beyond those tables (QJ2020 二, LP2021 二, QJ2019 (二)(三), DX2020 一,
YN2021 一), each with its clause, for the dashboard to show beside the county's tables."""

from __future__ import annotations

import enum
import logging
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, enum_column

logger = logging.getLogger(__name__)


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


# --- the plans' goals ----------------------------------------------------------------------

class GoalMeasure(enum.StrEnum):
    """What a plan's goal counts."""

    TRAININGS = "trainings"  # 培训人次 (DX2020: 人)
    QUALIFICATION_CERTS = "qualification_certs"  # 职业资格（技能等级）证书
    SPECIAL_CERTS = "special_certs"  # 专项职业能力证书
    SENIOR_CERTS = "senior_certs"  # 高级工以上
    EMPLOYMENT_RATE = "employment_rate"  # 取得证书后未就业人员就业率
    SUBSIDIZED_TRAININGS = "subsidized_trainings"  # 补贴性职业技能培训
    RURAL_SUBSIDIZED = "rural_subsidized"  # 农村劳动力补贴性培训
    BY_TECHNICAL_SCHOOLS = "by_technical_schools"  # 由技工院校承担的培训量
    APPRENTICES = "apprentices"  # 企业新型学徒
    SKILLED_SHARE = "skilled_share"  # 技能劳动者占就业人员
    HIGH_SKILLED_SHARE = "high_skilled_share"  # 高技能人才占技能劳动者
    FUNDS = "funds"  # 资金


class GoalUnit(enum.StrEnum):
    PERSON_TIMES = "person_times"  # 人次
    PERSONS = "persons"  # 人
    SHARE = "share"  # a fraction, shown as a percentage
    YUAN = "yuan"


class PlanGoal(Base):
    """One figure a plan sets for its region and years: ``figure`` in ``unit``, at least
    (以上, 不低于) where ``is_minimum``. ``scope`` is the plan's region by name (a plan of another
    county, DX2020, has no region of ours); ``region_code`` names ours where it is one."""

    __tablename__ = "plan_goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    no: Mapped[int]  # the order of the data file
    scope: Mapped[str] = mapped_column(String(60))
    scope_en: Mapped[str] = mapped_column(String(60))
    region_code: Mapped[str | None] = mapped_column(String(40))
    first_year: Mapped[int]
    last_year: Mapped[int]
    measure: Mapped[GoalMeasure] = mapped_column(enum_column(GoalMeasure))
    unit: Mapped[GoalUnit] = mapped_column(enum_column(GoalUnit))
    figure: Mapped[Decimal] = mapped_column(Numeric(16, 4))
    is_minimum: Mapped[bool]
    source: Mapped[str] = mapped_column(String(80))

    def covers(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year


def plan_goals(db: Session) -> list[PlanGoal]:
    """Every plan's goals, in the order of the data file."""
    return list(db.scalars(select(PlanGoal).order_by(PlanGoal.no, PlanGoal.id)))

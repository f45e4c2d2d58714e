"""The catalogue the bureau publishes: training categories, institutions, courses, sessions."""

from __future__ import annotations

import enum
import logging
from datetime import date, datetime, time
from decimal import Decimal
from typing import Protocol

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, enum_column
from models.clock import LOCAL_TZ
from models.regions import Region

logger = logging.getLogger(__name__)


class Intent(enum.StrEnum):
    """Where a worker means to work (就业意向); categories are aimed at one (QJ2020 三)."""

    LOCAL = "local"  # 就近就地
    PROVINCE = "province"  # 省内
    OUTSIDE = "outside"  # 省外


class InstitutionKind(enum.StrEnum):
    PUBLIC_EMPLOYMENT_SERVICE = "public_employment_service"
    PRIVATE_SCHOOL = "private_school"
    VOCATIONAL_SCHOOL = "vocational_school"
    ENTERPRISE_CENTRE = "enterprise_centre"
    HR_AGENCY = "hr_agency"


class InstitutionStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # takes no new trainees


class CertificateKind(enum.StrEnum):
    """QJ2019 (十六)."""

    QUALIFICATION = "qualification"  # 职业资格证书
    SKILL_LEVEL = "skill_level"  # 职业技能等级证书
    SPECIAL_ABILITY = "special_ability"  # 专项职业能力证书
    SPECIAL_OPERATION = "special_operation"  # 特种作业操作证书
    COMPLETION = "completion"  # 培训合格证书


class CourseStatus(enum.StrEnum):
    OPEN = "open"  # published, taking claims
    CLOSED = "closed"  # no new claims
    CANCELLED = "cancelled"


class Category(Base):
    """One of the 12 training categories of QJ2020 附件."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    no: Mapped[int] = mapped_column(unique=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    intent: Mapped[Intent] = mapped_column(enum_column(Intent))

    def display_name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(160))
    kind: Mapped[InstitutionKind] = mapped_column(enum_column(InstitutionKind))
    licence: Mapped[str] = mapped_column(String(60))
    township_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    address: Mapped[str] = mapped_column(String(200))
    status: Mapped[InstitutionStatus] = mapped_column(enum_column(InstitutionStatus))

    township: Mapped[Region] = relationship()

    def display_name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name


class Course(Base):
    """A class (培训班): one cohort of one occupation at one institution."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(160))
    occupation: Mapped[str] = mapped_column(String(60))
    occupation_en: Mapped[str] = mapped_column(String(80))
    certificate_kind: Mapped[CertificateKind] = mapped_column(enum_column(CertificateKind))
    certificate_level: Mapped[str | None] = mapped_column(String(20))
    theory_hours: Mapped[int]
    practice_hours: Mapped[int]
    capacity: Mapped[int]
    fee_yuan: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    # Bought from the institution by a public tender of the public employment service (公开招标):
    # QJ2019 (十七) pays free training in full only when it was so procured.
    is_publicly_procured: Mapped[bool] = mapped_column(default=False, server_default=false())
    is_entrepreneurship: Mapped[bool] = mapped_column(default=False)
    township_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    address: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    # Check-in within this many metres of the class (lat/lng), when set.
    radius_m: Mapped[int | None]
    # A check-out scan records the hours really attended; without it a session counts whole.
    requires_checkout: Mapped[bool] = mapped_column(default=False)
    # The share of the course's hours a trainee must attend to complete it.
    completion_share: Mapped[float] = mapped_column(default=0.9)
    description: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date] = mapped_column(index=True)
    ends_on: Mapped[date]
    status: Mapped[CourseStatus] = mapped_column(enum_column(CourseStatus), index=True)
    published_at: Mapped[datetime]

    institution: Mapped[Institution] = relationship()
    category: Mapped[Category] = relationship()
    township: Mapped[Region] = relationship()
    sessions: Mapped[list[ClassSession]] = relationship(
        back_populates="course", order_by="(ClassSession.day, ClassSession.starts)"
    )

    @property
    def hours(self) -> int:
        return self.theory_hours + self.practice_hours

    @property
    def is_free(self) -> bool:
        return self.fee_yuan == 0

    @property
    def requires_location(self) -> bool:
        return has_geofence(self.lat, self.lng, self.radius_m)

    def display_name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name


def has_geofence(lat: float | None, lng: float | None, radius_m: int | None) -> bool:
    """Whether a course's check-in must be within its radius of its place (all three set)."""
    return radius_m is not None and lat is not None and lng is not None


class ClassSession(Base):
    """One sitting of a course (课次) on one day, in local wall-clock time."""

    __tablename__ = "class_sessions"
    __table_args__ = (
        UniqueConstraint("course_id", "day", "starts"),
        # What a mark's foreign key names, so that a mark's day is its session's (an index, not
        # a constraint: SQLite adds it without rebuilding the table the marks point at).
        Index("ix_class_sessions_id_day", "id", "day", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    day: Mapped[date] = mapped_column(index=True)
    starts: Mapped[time]
    ends: Mapped[time]
    # Staff open a session to show its check-in code; the display link lives as long as it.
    opened_at: Mapped[datetime | None]
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))

    course: Mapped[Course] = relationship(back_populates="sessions")

    @property
    def hours(self) -> float:
        return sitting_hours(self.starts, self.ends)


def sitting_hours(starts: time, ends: time) -> float:
    """The hours of a session from its start and end (wall-clock, within one day)."""
    return ((ends.hour * 60 + ends.minute) - (starts.hour * 60 + starts.minute)) / 60


class Sitting(Protocol):
    """A session's day and times: a ClassSession, or a scan's row of it."""

    day: date
    starts: time
    ends: time


def session_bounds(session: Sitting) -> tuple[datetime, datetime]:
    """A session's start and end as aware datetimes (class times are local wall-clock)."""
    return (datetime.combine(session.day, session.starts, tzinfo=LOCAL_TZ),
            datetime.combine(session.day, session.ends, tzinfo=LOCAL_TZ))

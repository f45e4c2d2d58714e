"""Finding courses, and publishing them under the limits of YN2021 二(七)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from models.audit import Channel, audit
from models.catalogue import (
    Category,
    CertificateKind,
    ClassSession,
    Course,
    CourseStatus,
    Institution,
    InstitutionStatus,
)
from models.errors import CourseNotFound, CourseRuleBroken
from models.regions import Region

# YN2021 二(七)
MIN_HOURS_FOR_CERTIFICATE = 120
MAX_TRAINEES = 60
MAX_TRAINEES_ENTREPRENEURSHIP = 35
MAX_HOURS_A_DAY = 8
CERTIFICATES_NEEDING_MIN_HOURS = (CertificateKind.QUALIFICATION, CertificateKind.SKILL_LEVEL)


@dataclass(frozen=True)
class CoursePage:
    courses: list[Course]
    page: int
    pages: int
    total: int


def list_open_courses(db: Session, *, today: date, page: int = 1, per_page: int = 5) -> CoursePage:
    """Courses taking claims, soonest first."""
    where = (
        Course.status == CourseStatus.OPEN,
        Course.starts_on >= today,
        Institution.status == InstitutionStatus.ACTIVE,
    )
    total = db.scalar(select(func.count(Course.id)).join(Course.institution).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = db.scalars(
        select(Course)
        .join(Course.institution)
        .where(*where)
        .options(joinedload(Course.institution), joinedload(Course.township))
        .order_by(Course.starts_on, Course.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return CoursePage(courses=list(rows), page=page, pages=pages, total=total)


def get_course(db: Session, *, course_id: int) -> Course:
    course = db.scalar(
        select(Course)
        .where(Course.id == course_id)
        .options(
            joinedload(Course.institution),
            joinedload(Course.township),
            joinedload(Course.category),
            selectinload(Course.sessions),
        )
    )
    if course is None:
        raise CourseNotFound(course_id=course_id)
    return course


def seats_left(course: Course) -> int:
    # Vouchers do not exist yet (issue 5); until then every seat is free.
    return course.capacity


@dataclass(frozen=True)
class CourseSpec:
    """What the bureau publishes for a course, before it is checked."""

    code: str
    institution_code: str
    category_code: str
    name: str
    name_en: str
    occupation: str
    occupation_en: str
    certificate_kind: CertificateKind
    certificate_level: str | None
    theory_hours: int
    practice_hours: int
    capacity: int
    fee_yuan: Decimal
    is_entrepreneurship: bool
    township_code: str
    address: str
    lat: float | None
    lng: float | None
    radius_m: int | None
    sessions: list[tuple[date, time, time]]
    description: str = ""


def check_course_rules(spec: CourseSpec) -> None:
    """Raise CourseRuleBroken for the first YN2021 二(七) limit the course breaks."""
    hours = spec.theory_hours + spec.practice_hours
    needs_hours = spec.certificate_kind in CERTIFICATES_NEEDING_MIN_HOURS
    if needs_hours and hours < MIN_HOURS_FOR_CERTIFICATE:
        raise CourseRuleBroken(rule="min_hours", limit=MIN_HOURS_FOR_CERTIFICATE, value=hours)
    cap = MAX_TRAINEES_ENTREPRENEURSHIP if spec.is_entrepreneurship else MAX_TRAINEES
    if spec.capacity > cap or spec.capacity < 1:
        raise CourseRuleBroken(rule="capacity", limit=cap, value=spec.capacity)
    per_day: dict[date, float] = defaultdict(float)
    for day, starts, ends in spec.sessions:
        if ends <= starts:
            raise CourseRuleBroken(rule="session_times", day=day.isoformat())
        per_day[day] += (ends.hour * 60 + ends.minute - starts.hour * 60 - starts.minute) / 60
    busiest = max(per_day.values(), default=0)
    if busiest > MAX_HOURS_A_DAY:
        raise CourseRuleBroken(rule="hours_a_day", limit=MAX_HOURS_A_DAY, value=busiest)
    scheduled = sum(per_day.values())
    if not spec.sessions or abs(scheduled - hours) > 0.01:
        raise CourseRuleBroken(rule="sessions_hours", limit=hours, value=scheduled)


def publish_course(db: Session, *, spec: CourseSpec, actor_id: int | None, channel: Channel,
                   now: datetime) -> Course:
    """Create or replace a course from its spec, after checking the rules."""
    check_course_rules(spec)
    institution = _by_code(db, Institution, spec.institution_code, "institution")
    category = _by_code(db, Category, spec.category_code, "category")
    township = _by_code(db, Region, spec.township_code, "township")
    course = db.scalar(select(Course).where(Course.code == spec.code))
    is_new = course is None
    if course is None:
        course = Course(code=spec.code, status=CourseStatus.OPEN, published_at=now)
        db.add(course)
    course.institution = institution
    course.category = category
    course.township = township
    for name in ("name", "name_en", "occupation", "occupation_en", "certificate_kind",
                 "certificate_level", "theory_hours", "practice_hours", "capacity", "fee_yuan",
                 "is_entrepreneurship", "address", "lat", "lng", "radius_m", "description"):
        setattr(course, name, getattr(spec, name))
    days = sorted(day for day, _, _ in spec.sessions)
    course.starts_on, course.ends_on = days[0], days[-1]
    sessions_changed = _replace_sessions(db, course, spec.sessions)
    if not is_new and not sessions_changed and not db.is_modified(course):
        return course  # publishing the same course again changes nothing
    audit(db, actor_id=actor_id, channel=channel,
          action="course.publish" if is_new else "course.republish", target=course,
          after={"code": spec.code, "hours": spec.theory_hours + spec.practice_hours,
                 "capacity": spec.capacity}, at=now)
    return course


def _replace_sessions(db: Session, course: Course,
                      sessions: list[tuple[date, time, time]]) -> bool:
    """Make the course's sessions exactly these; say whether anything changed."""
    wanted = {(day, starts): ends for day, starts, ends in sessions}
    changed = False
    for existing in list(course.sessions):
        key = (existing.day, existing.starts)
        if key in wanted:
            ends = wanted.pop(key)
            if existing.ends != ends:
                existing.ends = ends
                changed = True
        else:
            course.sessions.remove(existing)
            db.delete(existing)
            changed = True
    for (day, starts), ends in sorted(wanted.items()):
        course.sessions.append(ClassSession(day=day, starts=starts, ends=ends))
        changed = True
    return changed


def _by_code(db: Session, model: type, code: str, what: str):
    row = db.scalar(select(model).where(model.code == code))
    if row is None:
        raise CourseRuleBroken(rule=f"unknown_{what}", value=code)
    return row

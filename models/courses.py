"""Finding courses, and publishing them under the limits of YN2021 二(七) and the county's own
course rules (``course_rules`` of models/data/policy.yaml: DX2020 三(四)'s 7:3, where adopted)."""

from __future__ import annotations

import enum
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import yaml
from sqlalchemy import ColumnElement, Float, Select, bindparam, case, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from models.attendance import Attendance
from models.audit import Channel, audit
from models.basis import cite
from models.catalogue import (
    Category,
    CertificateKind,
    ClassSession,
    Course,
    CourseStatus,
    Institution,
    InstitutionStatus,
)
from models.catalogue import Intent as WorkIntent
from models.errors import CourseNotFound, CourseRuleBroken
from models.levels import level_name
from models.policy import POLICY_FILE
from models.regions import Region, distance_km
from models.vouchers import seats_left

logger = logging.getLogger(__name__)

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
    seats: dict[int, int]  # seats left, by course id


class PublishOutcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Publication:
    course: Course
    outcome: PublishOutcome


@dataclass(frozen=True)
class CourseQuery:
    """Which open courses a person asks for, and from where (for nearest first)."""

    text: str | None = None  # in names, occupations, categories, townships; both languages
    category_id: int | None = None
    free_only: bool = False
    intent: WorkIntent | None = None  # courses aimed at where the person wants to work
    near: tuple[float, float] | None = None


# Nearest first: the database orders by a flat-earth distance (no trigonometry in SQL, which
# SQLite may lack) and hands over the page's courses and this many past them, which are then
# ordered by the true distance. The two orders differ only between courses a fraction of a per
# cent apart in distance; ties (courses at one place) are broken alike, by start and id. A
# province's thousands of open courses are never all loaded for one person's list.
NEAREST_MARGIN = 20
NEAREST_PAGES = 100


def find_courses(db: Session, *, query: CourseQuery, today: date, page: int = 1,
                 per_page: int = 5) -> CoursePage:
    """Courses taking claims: soonest first, or nearest first when we know where one is."""
    conditions = [
        Course.status == CourseStatus.OPEN,
        Course.starts_on >= today,
        Institution.status == InstitutionStatus.ACTIVE,
    ]
    if query.text:
        pattern = "%" + _stem(query.text.replace("\\", "").replace("%", "").replace("_", "")) + "%"
        conditions.append(or_(*(column.ilike(pattern) for column in (
            Course.name, Course.name_en, Course.occupation, Course.occupation_en,
            Category.name, Category.name_en, Region.name, Region.name_en))))
    if query.category_id:
        conditions.append(Course.category_id == query.category_id)
    if query.free_only:
        conditions.append(Course.fee_yuan == 0)
    if query.intent:
        conditions.append(Category.intent == query.intent)
    base = (select(Course).join(Course.institution).join(Course.category)
            .join(Region, Region.id == Course.township_id).where(*conditions))
    eager = (joinedload(Course.institution), joinedload(Course.township))
    if query.near:
        return _nearest_first(db, base.options(*eager), query.near, page, per_page)
    total = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages, page = _pages(total, page, per_page)
    chosen = db.scalars(base.options(*eager).order_by(Course.starts_on, Course.id)
                        .limit(per_page).offset((page - 1) * per_page)).unique().all()
    return CoursePage(courses=list(chosen), page=page, pages=pages, total=total,
                      seats=seats_left(db, courses=list(chosen)))


def _nearest_first(db: Session, courses: Select, origin: tuple[float, float], page: int,
                   per_page: int) -> CoursePage:
    """The page of ``courses`` nearest ``origin``, and how many there are, in one statement
    (the count a window function over the rows the limit cuts). Pages go up to NEAREST_PAGES:
    past the nearest few hundred, a person searches (课程 and a word), not pages."""
    asked = min(max(page, 1), NEAREST_PAGES)
    rows = db.execute(courses.add_columns(func.count().over()).order_by(*_NEAREST_ORDER)
                      .limit(asked * per_page + NEAREST_MARGIN),
                      {"near_lat": origin[0], "near_lng": origin[1],
                       "near_shrink": math.cos(math.radians(origin[0]))}).unique().all()
    total = rows[0][1] if rows else 0
    pages, page = _pages(min(total, NEAREST_PAGES * per_page), asked, per_page)
    nearest = sorted((course for course, _ in rows),
                     key=lambda c: (_distance_km(origin, c), c.starts_on, c.id))
    chosen = nearest[(page - 1) * per_page: page * per_page]
    return CoursePage(courses=chosen, page=page, pages=pages, total=total,
                      seats=seats_left(db, courses=chosen))


def _stem(text: str) -> str:
    """English words meet their relatives: "welding" finds "Welder", "cooks" finds "Cook"."""
    word = text.strip().lower()
    if word.isascii():
        for suffix in ("ing", "ers", "er", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
    return text.strip()


def course_words(db: Session, *, today: date) -> list[str]:
    """The occupations of the courses taking claims: words a person may use for them in a
    sentence (bot.understanding), as the catalogue spells them."""
    rows = db.scalars(select(Course.occupation).distinct().where(
        Course.status == CourseStatus.OPEN, Course.starts_on >= today))
    return sorted(word for word in rows if word)


def list_open_courses(db: Session, *, today: date, page: int = 1, per_page: int = 5) -> CoursePage:
    return find_courses(db, query=CourseQuery(), today=today, page=page, per_page=per_page)


def has_courses(db: Session) -> bool:
    return db.scalar(select(func.count(Course.id))) > 0


def list_categories(db: Session) -> list[Category]:
    return list(db.scalars(select(Category).order_by(Category.no)))


def _flat_distance() -> ColumnElement[float]:
    """The square of a course's distance from the point bound as ``near_lat``, ``near_lng`` on a
    flat map (degrees; longitude shrunk by ``near_shrink``, the latitude's cosine), from its
    own place or its township's; NULL for neither."""
    own = Course.lat.is_not(None)  # as _distance_km: the course's place, else its township's
    north = case((own, Course.lat), else_=Region.lat) - bindparam("near_lat", type_=Float)
    east = ((case((own, Course.lng), else_=Region.lng) - bindparam("near_lng", type_=Float))
            * bindparam("near_shrink", type_=Float))
    return north * north + east * east


# Built once: the list is asked for on every 课程.
_FLAT_DISTANCE = _flat_distance()
_NEAREST_ORDER = (_FLAT_DISTANCE.is_(None), _FLAT_DISTANCE, Course.starts_on, Course.id)


def _distance_km(origin: tuple[float, float], course: Course) -> float:
    where = ((course.lat, course.lng) if course.lat is not None
             else (course.township.lat, course.township.lng))
    return distance_km(origin, where) if where[0] is not None else math.inf


def _pages(total: int, page: int, per_page: int) -> tuple[int, int]:
    pages = max(1, -(-total // per_page))
    return pages, min(max(page, 1), pages)


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


def course_seats_left(db: Session, *, course: Course) -> int:
    return seats_left(db, courses=[course])[course.id]


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
    # A check-out scan records hours attended; the share of hours needed to complete.
    requires_checkout: bool = False
    completion_share: float = 0.9
    # Bought by public tender (QJ2019 (十七)); see Course.is_publicly_procured.
    is_publicly_procured: bool = False


# --- the county's course rules ---------------------------------------------------------------

class CourseRulesInvalid(ValueError):
    """``course_rules`` of the policy file cannot be used; the message names the key."""


@dataclass(frozen=True)
class PracticeShare:
    """DX2020 三(四): practice to theory hours 7:3, i.e. practice at least ``minimum`` of all."""

    minimum: Decimal
    source: str

    @property
    def percent(self) -> int | float:
        value = self.minimum * 100
        return int(value) if value == value.to_integral_value() else float(value)


@dataclass(frozen=True)
class CourseRules:
    practice_share: PracticeShare | None = None  # None: the county has not adopted it


@cache
def course_rules() -> CourseRules:
    """The county's course rules, read once per process; a bad section stops here, loudly."""
    document = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    return parse_course_rules(document.get("course_rules"))


def parse_course_rules(raw: Any) -> CourseRules:
    """``course_rules`` of the policy file (missing: none adopted)."""
    if raw is None:
        return CourseRules()
    if not isinstance(raw, dict) or set(raw) - {"practice_share"}:
        raise CourseRulesInvalid("course_rules knows only practice_share")
    share = raw.get("practice_share")
    if share is None:
        return CourseRules()
    if not isinstance(share, dict) or set(share) != {"adopted", "min"}:
        raise CourseRulesInvalid("course_rules.practice_share is {adopted, min}")
    if not isinstance(share["adopted"], bool):
        raise CourseRulesInvalid("course_rules.practice_share.adopted must be true or false")
    try:
        minimum = Decimal(str(share["min"]))
    except InvalidOperation:
        minimum = Decimal(-1)
    if isinstance(share["min"], bool) or not Decimal(0) < minimum <= Decimal(1):
        raise CourseRulesInvalid("course_rules.practice_share.min must be a share above 0 and "
                                 f"at most 1, such as 0.7, not {share['min']!r}")
    if not share["adopted"]:
        return CourseRules()
    # The county's basis, as adopted_rules names it (DX2020 binds no one here).
    return CourseRules(practice_share=PracticeShare(minimum=minimum,
                                                    source=cite("practice_share")))


def check_course_rules(spec: CourseSpec, *, rules: CourseRules | None = None) -> None:
    """Raise CourseRuleBroken for the first limit the course breaks."""
    breaks = course_rule_breaks(spec, rules=rules)
    if breaks:
        raise breaks[0]


def course_rule_breaks(spec: CourseSpec, *,
                       rules: CourseRules | None = None) -> list[CourseRuleBroken]:
    """Every limit the course breaks, in the order check_course_rules tests them: YN2021 二(七),
    then the county's own (``rules``, default the policy file's)."""
    rules = rules if rules is not None else course_rules()
    return [*_hours_breaks(spec), *_capacity_breaks(spec), *_timetable_breaks(spec),
            *_practice_breaks(spec, rules)]


def _practice_breaks(spec: CourseSpec, rules: CourseRules) -> list[CourseRuleBroken]:
    share = rules.practice_share
    hours = spec.theory_hours + spec.practice_hours
    if share is None or hours <= 0 or spec.practice_hours >= share.minimum * hours:
        return []
    percent = round(spec.practice_hours * 100 / hours, 1)
    return [CourseRuleBroken(rule="practice_share", limit=share.percent,
                             value=int(percent) if percent.is_integer() else percent,
                             practice=spec.practice_hours, hours=hours,
                             source=share.source)]


def _hours_breaks(spec: CourseSpec) -> list[CourseRuleBroken]:
    hours = spec.theory_hours + spec.practice_hours
    needs_hours = spec.certificate_kind in CERTIFICATES_NEEDING_MIN_HOURS
    if needs_hours and hours < MIN_HOURS_FOR_CERTIFICATE:
        return [CourseRuleBroken(rule="min_hours", limit=MIN_HOURS_FOR_CERTIFICATE, value=hours)]
    return []


def _capacity_breaks(spec: CourseSpec) -> list[CourseRuleBroken]:
    cap = MAX_TRAINEES_ENTREPRENEURSHIP if spec.is_entrepreneurship else MAX_TRAINEES
    if spec.capacity > cap or spec.capacity < 1:
        return [CourseRuleBroken(rule="capacity", limit=cap, value=spec.capacity)]
    return []


def _timetable_breaks(spec: CourseSpec) -> list[CourseRuleBroken]:
    per_day: dict[date, float] = defaultdict(float)
    for day, starts, ends in spec.sessions:
        if ends <= starts:
            return [CourseRuleBroken(rule="session_times", day=day.isoformat())]
        per_day[day] += (ends.hour * 60 + ends.minute - starts.hour * 60 - starts.minute) / 60
    breaks: list[CourseRuleBroken] = []
    busiest = max(per_day.values(), default=0)
    if busiest > MAX_HOURS_A_DAY:
        breaks.append(CourseRuleBroken(rule="hours_a_day", limit=MAX_HOURS_A_DAY, value=busiest))
    hours = spec.theory_hours + spec.practice_hours
    scheduled = sum(per_day.values())
    if not spec.sessions or abs(scheduled - hours) > 0.01:
        breaks.append(CourseRuleBroken(rule="sessions_hours", limit=hours, value=scheduled))
    return breaks


def publish_course(db: Session, *, spec: CourseSpec, actor_id: int | None, channel: Channel,
                   now: datetime, rules: CourseRules | None = None) -> Course:
    """Create or replace a course from its spec, after checking the rules."""
    return publish_course_spec(db, spec=spec, actor_id=actor_id, channel=channel, now=now,
                               rules=rules).course


def publish_course_spec(db: Session, *, spec: CourseSpec, actor_id: int | None,
                        channel: Channel, now: datetime,
                        rules: CourseRules | None = None) -> Publication:
    """Like publish_course, and say whether the course was created, changed or left as it was.
    The level is stored under the catalogue's name of its grade (五级 → 初级工)."""
    check_course_rules(spec, rules=rules)
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
                 "theory_hours", "practice_hours", "capacity", "fee_yuan",
                 "is_publicly_procured", "is_entrepreneurship", "address", "lat", "lng",
                 "radius_m", "description", "requires_checkout", "completion_share"):
        setattr(course, name, getattr(spec, name))
    course.certificate_level = level_name(spec.certificate_level)
    days = sorted(day for day, _, _ in spec.sessions)
    course.starts_on, course.ends_on = days[0], days[-1]
    sessions_changed = _replace_sessions(db, course, spec.sessions)
    if not is_new and not sessions_changed and not db.is_modified(course):
        # publishing the same course again changes nothing
        return Publication(course=course, outcome=PublishOutcome.UNCHANGED)
    audit(db, actor_id=actor_id, channel=channel,
          action="course.publish" if is_new else "course.republish", target=course,
          after={"code": spec.code, "hours": spec.theory_hours + spec.practice_hours,
                 "capacity": spec.capacity}, at=now)
    return Publication(course=course,
                       outcome=PublishOutcome.CREATED if is_new else PublishOutcome.UPDATED)


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
            _refuse_if_attended(db, course, existing)
            course.sessions.remove(existing)
            db.delete(existing)
            changed = True
    for (day, starts), ends in sorted(wanted.items()):
        course.sessions.append(ClassSession(day=day, starts=starts, ends=ends))
        changed = True
    return changed


def _refuse_if_attended(db: Session, course: Course, session: ClassSession) -> None:
    """A session someone attended is part of the record: it cannot be republished away."""
    if session.id and db.scalar(select(func.count(Attendance.id))
                                .where(Attendance.session_id == session.id)):
        raise CourseRuleBroken(rule="session_has_attendance", value=course.code,
                               day=session.day.isoformat())


def _by_code(db: Session, model: type, code: str, what: str):
    row = db.scalar(select(model).where(model.code == code))
    if row is None:
        raise CourseRuleBroken(rule=f"unknown_{what}", value=code)
    return row

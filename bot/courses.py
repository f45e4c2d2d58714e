"""Finding a course: all open ones, a search, free ones, recommended ones or a category; a page
at a time, nearest first when we know where the person is; and one course's details."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from bot.cost import cost_lines, fee_words
from bot.intents import Intent
from bot.replies import Reply
from bot.turn import Turn
from locales import N_
from models.catalogue import Course
from models.catalogue import Intent as WorkIntent
from models.cost import course_cost
from models.courses import (
    CourseQuery,
    find_courses,
    get_course,
    list_categories,
)
from models.errors import CourseNotFound
from models.levels import level_name
from models.persons import LocationSource, note_location, township_origin
from models.vouchers import seats_taken
from vocabulary.courses import class_times
from vocabulary.labels import CERTIFICATES, LEVELS

logger = logging.getLogger(__name__)

PER_PAGE = 5


def all_courses(turn: Turn, intent: Intent) -> Reply:
    return _page(turn, {}, 1)


def search(turn: Turn, intent: Intent) -> Reply:
    return _page(turn, {"text": (intent.arg or "").strip()[:30]}, 1)


def free_courses(turn: Turn, intent: Intent) -> Reply:
    return _page(turn, {"free": True}, 1)


def recommend(turn: Turn, intent: Intent) -> Reply:
    if turn.person.intent is None:
        return _page(turn, {}, 1, heading=N_(
            "Register (reply “注册”) and we can recommend courses for you. Meanwhile:"))
    return _page(turn, {"intent": turn.person.intent.value}, 1,
                 heading=N_("Courses that suit where you want to work:"))


def categories(turn: Turn, intent: Intent) -> Reply:
    rows = turn.run(list_categories)
    lines = [turn.t._("Training categories: reply with a number")]
    lines += [f"{c.no}. {c.display_name(turn.t.locale)}" for c in rows]
    return Reply(text="\n".join(lines),
                 choices=tuple(Intent("CATEGORY", str(c.id)) for c in rows))


def category(turn: Turn, intent: Intent) -> Reply:
    return _page(turn, {"category": int(intent.arg or 0)}, 1)


def next_page(turn: Turn, intent: Intent) -> Reply:
    state = json.loads(intent.arg or "{}")
    return _page(turn, state.get("q", {}), int(state.get("page", 1)))


def location(turn: Turn, intent: Intent) -> Reply:
    """WeChat's LOCATION event: latitude, longitude and its precision in metres (0: none
    given). Kept for nearest courses first and for the next check-in, which records it."""
    lat, lng, precision = (float(x) for x in (intent.arg or "0,0,0").split(","))
    turn.run(note_location, openid=turn.openid, lat=lat, lng=lng, now=turn.now(),
             source=LocationSource.WECHAT_EVENT, accuracy_m=precision if precision > 0 else None)
    return Reply(text="")


def _query(q: dict, near: tuple[float, float] | None) -> CourseQuery:
    return CourseQuery(
        text=q.get("text") or None, category_id=q.get("category"),
        free_only=bool(q.get("free")),
        intent=WorkIntent(q["intent"]) if q.get("intent") else None,
        near=near,
    )


def _origin(turn: Turn) -> tuple[tuple[float, float] | None, bool]:
    """Where "nearest" is measured from, and whether it is the person's own location (else
    their township's, the same for all its people, or none)."""
    person = turn.person
    if person.last_lat is not None and person.last_lng is not None:
        return (person.last_lat, person.last_lng), True
    if person.township_id is None:
        return None, False  # most people: no query needed
    townships = (person.residence_township_id, person.township_id)
    return turn.shared(("origin", turn.courses_version, townships),
                       lambda: turn.run(township_origin, township_ids=townships)), False


def _page(turn: Turn, q: dict, page_no: int, heading: str | None = None) -> Reply:
    near, own = _origin(turn)
    query = _query(q, near)
    if own:
        return _render_page(turn, q, query, page_no, heading)
    # The same list for everyone in one language (and township, nearest first): share the
    # reply while the courses stay as they are (turn.courses_version).
    key = ("courses", turn.courses_version, turn.t.locale, turn.today(),
           json.dumps(q, sort_keys=True), page_no, heading, near)
    return turn.shared(key, lambda: _render_page(turn, q, query, page_no, heading))


def _render_page(turn: Turn, q: dict, query: CourseQuery, page_no: int,
                 heading: str | None) -> Reply:
    t = turn.t
    page = turn.run(find_courses, query=query, today=turn.today(), page=page_no,
                    per_page=PER_PAGE)
    if not page.courses:
        if q.get("text"):
            return Reply(text=t._("No open course matches “%(text)s”. Reply “课程” for all "
                                  "courses, or “分类” to pick a category.", text=q["text"]))
        return Reply(text=t._("No course is open for claims right now. Please look again "
                              "soon."))
    lines = [t._(heading)] if heading else []
    lines.append(t._("Open courses (page %(page)s of %(pages)s, %(total)s in all):",
                     page=page.page, pages=page.pages, total=page.total))
    for n, course in enumerate(page.courses, 1):
        lines.append(f"{n}. {course.display_name(t.locale)}")
        lines.append("   " + t._("%(institution)s · %(township)s",
                                 institution=course.institution.display_name(t.locale),
                                 township=course.township.display_name(t.locale)))
        lines.append("   " + t._("%(start)s–%(end)s · %(fee)s · %(seats)s seats left",
                                 start=t.short_day(course.starts_on),
                                 end=t.short_day(course.ends_on),
                                 fee=_fee(turn, course), seats=page.seats[course.id]))
    has_more = page.page < page.pages
    lines.append("")
    lines.append(t._("Reply with a number for details; reply “下一页” (next) for more.")
                 if has_more else t._("Reply with a number for details."))
    more = json.dumps({"q": q, "page": page.page + 1}, ensure_ascii=False)
    return Reply(
        text="\n".join(lines),
        choices=tuple(Intent("COURSE", str(c.id)) for c in page.courses),
        more=Intent("COURSES_PAGE", more) if has_more else None,
    )


@dataclass(frozen=True)
class _Shown:
    """What a course's details say to everyone in one language, seats left included: shared
    per process (turn.shared), like the course list, under the course list's version
    (runtime.catalogue_version: a change or a seat taken makes a new one); only a registered
    person's cost is read for each message."""

    course_id: int
    head: tuple[str, ...]  # name to seats
    fee: str  # the course's own fee words
    who_may_join: str


def course_details(turn: Turn, intent: Intent) -> Reply:
    t = turn.t
    course_id = int(intent.arg or 0)
    try:
        shown = turn.shared(("course", turn.courses_version, t.locale, course_id),
                            lambda: _shown(turn, course_id))
        if turn.person.is_registered:
            course, _ = _course_and_seats_shared(turn, course_id)
            cost = turn.read_facts(course_cost, person_id=turn.person.id,
                                   course_id=course_id, on=turn.today(), course=course)
            tail = [t._("Fee: %(fee)s", fee=fee_words(turn, cost, shown.fee)),
                    *cost_lines(turn, cost)]
        else:
            tail = [t._("Fee: %(fee)s", fee=shown.fee), shown.who_may_join]
    except CourseNotFound:
        return Reply(text=t._("That course is no longer listed. Reply “课程” for the list."))
    turn.state.course = course_id  # the thread: 领券 later, even after registering, means it
    lines = [
        *shown.head,
        *tail,
        "",
        "1. " + t._("Claim a training voucher for this course (领券)"),
        t._("Reply “课程” to go back to the list."),
    ]
    return Reply(text="\n".join(lines), choices=(Intent("CLAIM", str(course_id)),))


def _course_and_seats(db, *, course_id: int) -> tuple[Course, int]:
    course = get_course(db, course_id=course_id)
    return course, max(0, course.capacity - seats_taken(db, course_id=course_id))


def _course_and_seats_shared(turn: Turn, course_id: int) -> tuple[Course, int]:
    # Read once per process and course list version (which any change to the course, its
    # institution, its sessions or its seats bumps), for the details in every language and
    # the cost of each registered person who asks.
    return turn.shared(("course-row", turn.courses_version, course_id),
                       lambda: turn.run(_course_and_seats, course_id=course_id))


def _shown(turn: Turn, course_id: int) -> _Shown:
    t = turn.t
    course, left = _course_and_seats_shared(turn, course_id)
    loc = t.locale
    certificate = t._(CERTIFICATES[course.certificate_kind])
    level = level_name(course.certificate_level)
    if level:
        certificate = t._("%(certificate)s (%(level)s)", certificate=certificate,
                          level=t._(LEVELS[level]) if level in LEVELS else level)
    head = (
        f"【{course.display_name(loc)}】",
        t._("Institution: %(name)s", name=course.institution.display_name(loc)),
        t._("Place: %(township)s, %(address)s",
            township=course.township.display_name(loc), address=course.address),
        t._("Dates: %(start)s to %(end)s, %(days)s days",
            start=t.day(course.starts_on), end=t.day(course.ends_on),
            days=len({s.day for s in course.sessions})),
        t._("Class times: %(times)s", times=_times(turn, course)),
        t._("Hours: %(hours)s (theory %(theory)s, practice %(practice)s)",
            hours=course.hours, theory=course.theory_hours, practice=course.practice_hours),
        t._("Certificate: %(certificate)s", certificate=certificate),
        t._("Seats: %(left)s left of %(capacity)s", left=left, capacity=course.capacity),
    )
    return _Shown(course_id=course.id, head=head,
                  fee=_fee(turn, course, details=True),
                  who_may_join=_who_may_join(turn, course))


def _who_may_join(turn: Turn, course: Course) -> str:
    if course.is_free:
        # Whether a subsidy pays depends on the person (pension, places, groups, caps):
        # registered, they are told their own answer instead of this one.
        return turn.t._("Who may join: rural workers of working age; free of charge. Register "
                        "to learn whether a training subsidy covers you.")
    return turn.t._("Who may join: rural workers of working age; with the certificate you may "
                    "claim part of the fee back as a training subsidy.")


def _fee(turn: Turn, course: Course, *, details: bool = False) -> str:
    if not course.is_free:
        return turn.t.money(course.fee_yuan)
    if details and course.is_publicly_procured:
        return turn.t._("free (bought by public tender)")
    return turn.t._("free")


def _times(turn: Turn, course: Course) -> str:
    return class_times(turn.t, course)

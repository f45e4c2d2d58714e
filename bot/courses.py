"""Finding a course: the list, a page at a time, and one course's details."""

from __future__ import annotations

from bot.intents import Intent
from bot.replies import Reply
from bot.turn import Turn
from locales import N_
from models.catalogue import CertificateKind, Course
from models.courses import get_course, list_open_courses, seats_left
from models.errors import CourseNotFound

PER_PAGE = 5

# Skill levels of 职业技能等级证书, as the catalogue records them (QJ2019 (十六)).
LEVELS = {
    "初级工": N_("entry level"),
    "中级工": N_("intermediate level"),
    "高级工": N_("advanced level"),
    "技师": N_("technician"),
    "高级技师": N_("senior technician"),
}

CERTIFICATES = {
    CertificateKind.QUALIFICATION: N_("vocational qualification certificate"),
    CertificateKind.SKILL_LEVEL: N_("skill-level certificate"),
    CertificateKind.SPECIAL_ABILITY: N_("special vocational ability certificate"),
    CertificateKind.SPECIAL_OPERATION: N_("special operation certificate"),
    CertificateKind.COMPLETION: N_("training completion certificate"),
}


def list_courses(turn: Turn, intent: Intent) -> Reply:
    page_no = int(intent.arg) if intent.arg and intent.arg.isdigit() else 1
    page = turn.run(list_open_courses, today=turn.today(), page=page_no, per_page=PER_PAGE)
    t = turn.t
    if not page.courses:
        return Reply(text=t._("No course is open for claims right now. Please look again soon."))
    lines = [t._("Open courses (page %(page)s of %(pages)s, %(total)s in all):",
                 page=page.page, pages=page.pages, total=page.total)]
    for n, course in enumerate(page.courses, 1):
        lines.append(f"{n}. {course.display_name(t.locale)}")
        lines.append("   " + t._("%(institution)s · %(township)s",
                                 institution=course.institution.display_name(t.locale),
                                 township=course.township.display_name(t.locale)))
        lines.append("   " + t._("%(start)s–%(end)s · %(fee)s · %(seats)s seats left",
                                 start=t.short_day(course.starts_on),
                                 end=t.short_day(course.ends_on),
                                 fee=_fee(turn, course), seats=seats_left(course)))
    has_more = page.page < page.pages
    lines.append("")
    lines.append(t._("Reply with a number for details; reply “下一页” (next) for more.")
                 if has_more else t._("Reply with a number for details."))
    return Reply(
        text="\n".join(lines),
        choices=tuple(Intent("COURSE", str(c.id)) for c in page.courses),
        more=Intent("COURSES", str(page.page + 1)) if has_more else None,
    )


def course_details(turn: Turn, intent: Intent) -> Reply:
    t = turn.t
    try:
        course = turn.run(get_course, course_id=int(intent.arg or 0))
    except CourseNotFound:
        return Reply(text=t._("That course is no longer listed. Reply “课程” for the list."))
    loc = t.locale
    certificate = t._(CERTIFICATES[course.certificate_kind])
    if course.certificate_level:
        certificate = t._("%(certificate)s (%(level)s)", certificate=certificate,
                          level=t._(LEVELS[course.certificate_level])
                          if course.certificate_level in LEVELS else course.certificate_level)
    lines = [
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
        t._("Fee: %(fee)s", fee=_fee(turn, course)),
        t._("Seats: %(left)s left of %(capacity)s",
            left=seats_left(course), capacity=course.capacity),
        "",
        t._("Reply “课程” to go back to the list."),
    ]
    return Reply(text="\n".join(lines))


def _fee(turn: Turn, course: Course) -> str:
    return turn.t._("free") if course.is_free else turn.t.money(course.fee_yuan)


def _times(turn: Turn, course: Course) -> str:
    """The daily timetable, e.g. "08:30–12:30, 14:00–18:00" (the first day's, if they differ)."""
    if not course.sessions:
        return "—"
    first_day = course.sessions[0].day
    periods = [s for s in course.sessions if s.day == first_day]
    return turn.t.listing([f"{turn.t.clock(s.starts)}–{turn.t.clock(s.ends)}" for s in periods])

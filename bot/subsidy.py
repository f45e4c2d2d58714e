"""SUBSIDY: what a person can get and why, clause by clause, from models.eligibility. The chat
gets a short summary; the reasons, each with its citation, are on a page the summary links to.
The words are vocabulary.subsidy's, shared with that page and the API."""

from __future__ import annotations

import logging

from bot.general import with_menu
from bot.intents import Intent
from bot.replies import Reply
from bot.turn import Turn
from models import links
from models.courses import CourseQuery, find_courses
from models.eligibility import Evaluation, evaluate
from vocabulary.subsidy import MARKS, STATUSES, amount_text

logger = logging.getLogger(__name__)


def summary(turn: Turn, evaluation: Evaluation, heading: str) -> Reply:
    t = turn.t
    lines = [heading]
    for n, outcome in enumerate(evaluation.outcomes, 1):
        lines.append(f"{n}. {MARKS[outcome.status]} " + t._(
            "%(title)s: %(status)s · %(amount)s", title=outcome.display_title(t.locale),
            status=t._(STATUSES[outcome.status]), amount=amount_text(t, outcome)))
    token = links.sign(turn.secret_key, links.SUBSIDY_PURPOSE, {
        "p": evaluation.person_id, "c": evaluation.course_id})
    lines += ["", t._("Why, clause by clause (policy %(version)s):",
                      version=evaluation.policy_version),
              f"{turn.base_url}/p/subsidy/{token}"]
    return Reply(text="\n".join(lines))


def explain_subsidies(turn: Turn, intent: Intent) -> Reply:
    """补贴 / subsidy; 补贴 电工 evaluates a course the person has not joined yet."""
    if not turn.person.is_registered:
        return with_menu(turn, turn.t._(
            "Rural workers can train free of charge, get a living allowance of 60 yuan and a "
            "transport allowance of 20 yuan a day in free training if they belong to certain "
            "groups, and a subsidy of 800 to 6000 yuan for a certificate they paid for "
            "themselves. Register (reply “注册”) and we will tell you exactly what you can get "
            "and why."))
    course_id = None
    heading = turn.t._("What you can get:")
    if intent.arg:
        page = turn.run(find_courses, query=CourseQuery(text=intent.arg.strip()[:30]),
                        today=turn.today(), per_page=1)
        if not page.courses:
            return Reply(text=turn.t._("No open course matches “%(text)s”. Reply “课程” for "
                                       "all courses, or “分类” to pick a category.",
                                       text=intent.arg.strip()))
        course = page.courses[0]
        course_id = course.id
        heading = turn.t._("If you took %(course)s:", course=course.display_name(turn.t.locale))
    evaluation = turn.read_facts(evaluate, person_id=turn.person.id, course_id=course_id,
                                 on=turn.today())
    return summary(turn, evaluation, heading)

"""The desk's follow-up page: employment after training against the 90% goal (LP2021 二), with
completion and certificate pass rates and the trainees' rating of the training,
by course, institution, category or township. Institution staff see their own courses only."""

from __future__ import annotations

import logging

from flask import Response

from locales import N_
from models.desk import DeskRole
from models.outcomes import EMPLOYMENT_GOAL, Dimension, outcomes
from runtime.services import current
from webhooks.admin.auth import (
    current_desk_user,
    desk_page,
    desk_translator,
    institution_scope,
    require_role,
)
from webhooks.admin.blueprint import bp
from webhooks.admin.filters import BadFilter, choice_arg, number_arg, year_arg

logger = logging.getLogger(__name__)

DIMENSION_WORDS = {
    Dimension.COURSE: N_("Course"),
    Dimension.INSTITUTION: N_("Institution"),
    Dimension.CATEGORY: N_("Category"),
    Dimension.TOWNSHIP: N_("Township"),
}
ROUND_WORDS = N_("There is no such follow-up round.")
ROUND_HINT = N_("Choose a round from the list.")


@bp.get("/followups")
@require_role(DeskRole.ADMIN, DeskRole.INSPECTOR, DeskRole.INSTITUTION)
def followups() -> Response:
    """``?by=course|institution|category|township`` (default course), ``?year=`` (the courses'
    start year; all years when blank), ``?round=`` (one follow-up round in months; blank: each
    trainee's latest answered round)."""
    services = current()
    t = desk_translator()
    dimension, year, round_months = _filters(services.config.followup_months)
    with services.sessions.begin() as db:
        result = outcomes(db, dimension=dimension, today=services.clock.today(),
                          institution_id=institution_scope(), year=year,
                          round_months=round_months)
    user = current_desk_user()
    return desk_page(
        "admin/followups.html", result=result, year=year, round_months=round_months,
        rounds=services.config.followup_months, goal=EMPLOYMENT_GOAL,
        dimensions=[(d.value, t._(words)) for d, words in DIMENSION_WORDS.items()],
        dimension_words=t._(DIMENSION_WORDS[dimension]), percent=_percent, mean=_mean,
        own_institution=user.institution.display_name(t.locale)
        if user.role is DeskRole.INSTITUTION and user.institution else None)


def _filters(rounds: tuple[int, ...]) -> tuple[Dimension, int | None, int | None]:
    """The page's filters; a bad one is refused with BadFilter (webhooks/admin/filters.py)."""
    dimension = choice_arg("by", Dimension, default=Dimension.COURSE,
                           words=N_("There is no such view of the follow-up."))
    year = year_arg(default=None)
    round_months = number_arg("round", low=min(rounds, default=0),
                              high=max(rounds, default=0), words=ROUND_WORDS, hint=ROUND_HINT)
    if round_months is not None and round_months not in rounds:
        raise BadFilter(ROUND_WORDS, ROUND_HINT)
    return dimension, year, round_months


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def _mean(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"

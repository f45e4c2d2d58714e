"""The desk's dashboard: a year's targets against what really happened, by category and by
township, as a chart drawn here (inline SVG, nothing from elsewhere) and the same table under
it; the townships' targets by certificate kind (LP2021 附件2) in a table of their own; and the
list of people behind every figure (masked)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from babel.numbers import format_decimal, format_percent
from flask import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from locales import N_
from models.catalogue import Category, Institution
from models.clock import LOCAL_TZ
from models.desk import DeskRole
from models.progress import (
    FUNNEL,
    KIND_TARGETS,
    TARGET_MEASURE,
    TARGETED,
    Measure,
    Progress,
    ProgressFilter,
    ProgressRow,
    people,
    progress,
    region_scope,
)
from models.regions import Region, RegionLevel
from models.targets import GoalMeasure, GoalUnit, PlanGoal, plan_goals
from runtime.services import current
from webhooks.admin.auth import (
    current_desk_user,
    desk_page,
    desk_translator,
    forbidden,
    require_role,
)
from webhooks.admin.blueprint import bp
from webhooks.admin.filters import choice_arg, code_arg, number_arg, year_arg

logger = logging.getLogger(__name__)

ALL_ROLES = (DeskRole.ADMIN, DeskRole.INSPECTOR, DeskRole.INSTITUTION)
LAST_PAGE = 100_000  # 5 million people at 50 a page

MEASURE_WORDS = {
    Measure.REGISTERED: N_("Signed up"),
    Measure.REDEEMED: N_("Enrolled"),
    Measure.COMPLETED: N_("Completed"),
    Measure.CERTIFIED: N_("Certified"),
    Measure.EMPLOYED: N_("Employed"),
    Measure.QUALIFICATION: N_("Qualification certificates"),
    Measure.SPECIAL: N_("Special ability certificates"),
    Measure.FREE: N_("Free trainings"),
}
STATUS_WORDS = {
    "issued": N_("Voucher issued"),
    "redeemed": N_("Enrolled"),
    "completed": N_("Completed"),
    "settled": N_("Completed"),
    "expired": N_("Expired"),
    "cancelled": N_("Cancelled"),
    "revoked": N_("Revoked by the bureau"),
}

# The plans' goals beyond the target tables (models.targets.PlanGoal), in words.
GOAL_WORDS = {
    GoalMeasure.TRAININGS: N_("Trainings of workers"),
    GoalMeasure.QUALIFICATION_CERTS: N_("Qualification (skill-level) certificates obtained"),
    GoalMeasure.SPECIAL_CERTS: N_("Special ability certificates obtained"),
    GoalMeasure.SENIOR_CERTS: N_("Of which senior worker or above"),
    GoalMeasure.EMPLOYMENT_RATE: N_("Employment rate of the certified who had no work"),
    GoalMeasure.SUBSIDIZED_TRAININGS: N_("Subsidized vocational trainings"),
    GoalMeasure.RURAL_SUBSIDIZED: N_("Subsidized trainings of rural workers"),
    GoalMeasure.BY_TECHNICAL_SCHOOLS: N_("Trainings given by technical schools"),
    GoalMeasure.APPRENTICES: N_("New-style apprentices trained"),
    GoalMeasure.SKILLED_SHARE: N_("Skilled workers among the employed"),
    GoalMeasure.HIGH_SKILLED_SHARE: N_("Highly skilled among skilled workers"),
    GoalMeasure.FUNDS: N_("Funds for training"),
}
GOAL_UNITS = {
    GoalUnit.PERSON_TIMES: N_("%(count)s trainings"),
    GoalUnit.PERSONS: N_("%(count)s people"),
    GoalUnit.YUAN: N_("%(count)s yuan"),
}


# The chart's geometry (SVG user units): label column, bar area, figures after the bar.
CHART_LABEL = 170
CHART_BAR = 460
CHART_ROW = 28
CHART_WIDTH = CHART_LABEL + CHART_BAR + 170
CHART_LABEL_UNITS = 24  # what fits in CHART_LABEL at 12px: a CJK character counts 2


# The dashboard's rows by place: townships, or in a deployment of many counties the level under
# the filter (models.progress._by_area).
AREA_WORDS = {
    RegionLevel.TOWNSHIP: {"by": N_("By township"), "one": N_("Township"),
                           "kind": N_("By township and certificate kind")},
    RegionLevel.COUNTY: {"by": N_("By county"), "one": N_("County"),
                         "kind": N_("By county and certificate kind")},
    RegionLevel.PREFECTURE: {"by": N_("By prefecture"), "one": N_("Prefecture"),
                             "kind": N_("By prefecture and certificate kind")},
}


class OtherInstitution(Exception):
    """An institution's user asking for another institution's figures."""


@bp.errorhandler(OtherInstitution)
def _other_institution(_: OtherInstitution) -> Response:
    return forbidden()


@dataclass(frozen=True)
class Choice:
    code: str
    name: str


@dataclass(frozen=True)
class Bar:
    """One row of the chart, in SVG units."""

    label: str
    y: int
    registered: float
    completed: float
    lags: bool
    has_target: bool
    figure: str
    href: str | None
    title: str


@bp.get("/")
@bp.get("/dashboard")
@require_role(*ALL_ROLES)
def dashboard() -> Response:
    """Targets and progress for a year (``?year=``, default this year), with filters by
    ``township``, ``category`` and ``institution`` (codes). Institution staff see their own
    institution's figures only."""
    services = current()
    t = desk_translator()
    with services.read_sessions.begin() as db:  # the replica's, when there is one
        filters, codes = _filters(db)
        result = progress(db, filters=filters, today=services.clock.today())
        choices = _choices(db, t.locale, filters)
        goals = plan_goals(db)
    area = AREA_WORDS[result.area_level]
    # A township's row links to the township's list; a prefecture's or county's to its own.
    area_key = "township" if result.area_level is RegionLevel.TOWNSHIP else "region"
    sections = [
        (t._("By category"), "category", result.by_category),
        (t._(area["by"]), "township", result.by_township),
    ]
    charts = [(title, _bars(rows, area_key if key == "township" else key, codes, result, t))
              for title, key, rows in sections]
    return desk_page("admin/dashboard.html", result=result, codes=codes, choices=choices,
                     sections=sections, charts=charts, measures=FUNNEL,
                     kinds=[(kind, TARGETED[kind]) for kind in KIND_TARGETS],
                     measure_words=_measure_words(t),
                     row_url=lambda key, row, measure: _row_url(
                         codes, area_key if key == "township" else key, row, measure),
                     area_word=t._(area["one"]), area_kind_title=t._(area["kind"]),
                     as_of=(result.as_of.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
                            if result.as_of else None),
                     row_name=lambda row: _row_name(row, t),
                     chart=dict(label=CHART_LABEL, bar=CHART_BAR, row=CHART_ROW,
                                width=CHART_WIDTH),
                     percent=_percent, target_measure=TARGET_MEASURE, goals=goals,
                     goal_words={m: t._(w) for m, w in GOAL_WORDS.items()},
                     goal_figure=lambda goal: _goal_figure(goal, t),
                     forced_institution=current_desk_user().role is DeskRole.INSTITUTION)


@bp.get("/list")
@require_role(*ALL_ROLES)
def people_list() -> Response:
    """The people behind one figure: ``?measure=`` and the dashboard's filters; masked ID and
    phone, 50 a page (``?page=``)."""
    services = current()
    t = desk_translator()
    measure = choice_arg("measure", Measure, default=Measure.REGISTERED,
                         words=N_("There is no such figure."))
    page = number_arg("page", low=1, high=LAST_PAGE, default=1,
                      words=N_("There is no such page."))
    with services.read_sessions.begin() as db:  # the replica's, when there is one
        filters, codes = _filters(db)
        found = people(db, filters=filters, measure=measure, page=page)
        choices = _choices(db, t.locale, filters)
    return desk_page("admin/list.html", found=found, measure=measure, codes=codes,
                     choices=choices, measure_words=_measure_words(t),
                     status_words={k: t._(v) for k, v in STATUS_WORDS.items()},
                     page_url=lambda page: _list_url(codes, measure=measure.value, page=page),
                     back_url="/admin/dashboard?" + urlencode(_present(codes)))


# --- filters -------------------------------------------------------------------------------


def _filters(db: Session) -> tuple[ProgressFilter, dict[str, str]]:
    """The request's filters as ids, and as the codes to put in links. An institution user is
    held to its own institution: asking for another is refused (OtherInstitution); a bad value
    is refused with BadFilter (webhooks/admin/filters.py)."""
    user = current_desk_user()
    year = year_arg(default=current().clock.today().year)
    codes = {"year": str(year)}
    # A province's deployment: one prefecture or county (``?region=``).
    region_id = _lookup(db, Region, "region", codes,
                        Region.level.in_((RegionLevel.PREFECTURE, RegionLevel.COUNTY)),
                        words=N_("There is no such prefecture or county."))
    township_id = _lookup(db, Region, "township", codes,
                          Region.level == RegionLevel.TOWNSHIP,
                          words=N_("There is no such township."))
    category_id = _lookup(db, Category, "category", codes,
                          words=N_("There is no such category."))
    institution_id = _lookup(db, Institution, "institution", codes,
                             words=N_("There is no such institution."))
    if user.role is DeskRole.INSTITUTION:
        if institution_id not in (None, user.institution_id):
            raise OtherInstitution
        institution_id = user.institution_id
        codes["institution"] = user.institution.code
    return ProgressFilter(year=year, township_id=township_id, category_id=category_id,
                          institution_id=institution_id,
                          region=None if region_id is None else region_scope(db, region_id)
                          ), codes


def _measure_words(t) -> dict[Measure, str]:
    return {m: t._(w) for m, w in MEASURE_WORDS.items()}


def _lookup(db: Session, model, name: str, codes: dict[str, str], *conditions,
            words: str) -> int | None:
    found = code_arg(db, model, name, *conditions, words=words)
    if found is None:
        return None
    codes[name] = found[1]
    return found[0]


def _choices(db: Session, locale: str, filters: ProgressFilter) -> dict[str, list[Choice]]:
    def names(model, *conditions, order) -> list[Choice]:
        rows = db.scalars(select(model).where(*conditions).order_by(order)).all()
        return [Choice(row.code, row.display_name(locale)) for row in rows]

    in_region = ([] if filters.region is None
                 else [Region.id.in_(sorted(filters.region.townships))])
    regions = names(Region, Region.level.in_((RegionLevel.PREFECTURE, RegionLevel.COUNTY)),
                    order=Region.code)
    return {
        # Only a deployment of more than one county chooses among them.
        "region": regions if len(regions) > 2 else [],
        "township": names(Region, Region.level == RegionLevel.TOWNSHIP, *in_region,
                          order=Region.code),
        "category": names(Category, order=Category.no),
        "institution": names(Institution, order=Institution.code),
    }


def _present(codes: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in codes.items() if v}


def _list_url(codes: dict[str, str], **more) -> str:
    query = {**_present(codes), **{k: str(v) for k, v in more.items() if v is not None}}
    return "/admin/list?" + urlencode(query)


# --- the chart -----------------------------------------------------------------------------


def _row_url(codes: dict[str, str], key: str, row: ProgressRow, measure: Measure) -> str | None:
    """The list behind one figure of a row; none for people whose township is not known."""
    if row.code is None:
        return None if row.id is None and key in ("township", "region") else _list_url(
            codes, measure=measure.value)
    return _list_url(codes, measure=measure.value, **{key: row.code})


def _goal_figure(goal: PlanGoal, t) -> str:
    """"100,000人次以上", "90%以上", "1,400,000,000元"."""
    if goal.unit is GoalUnit.SHARE:
        figure = format_percent(goal.figure, locale=t.locale)
    else:
        figure = t._(GOAL_UNITS[goal.unit],
                     count=format_decimal(goal.figure.normalize(), locale=t.locale))
    return t._("at least %(figure)s", figure=figure) if goal.is_minimum else figure


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def _bars(rows: list[ProgressRow], key: str, codes: dict[str, str], result: Progress, t
          ) -> list[Bar]:
    """Each row's bars as widths: against its target when it has one (the bar's end is 100%),
    else against the largest figure of the chart."""
    largest = max([row.counts.registered for row in rows] + [1])
    bars = []
    for n, row in enumerate(rows):
        scale = row.target or largest
        name = _row_name(row, t)
        completed = row.counts.of(TARGET_MEASURE)
        figure = (f"{completed}/{row.target} · {_percent(row.share)}" if row.target
                  else t._("%(count)s, no target", count=completed))
        bars.append(Bar(
            label=_short(name), y=n * CHART_ROW,
            registered=min(row.counts.registered / scale, 1.0) * CHART_BAR,
            completed=min(completed / scale, 1.0) * CHART_BAR,
            lags=row.lags(result.elapsed), has_target=bool(row.target), figure=figure,
            href=_row_url(codes, key, row, TARGET_MEASURE),
            title=t._("%(name)s: %(registered)s signed up, %(completed)s completed",
                      name=name, registered=row.counts.registered, completed=completed)))
    return bars


def _short(name: str) -> str:
    """A label that fits the chart's label column (the full name is the bar's tooltip and is
    in the table): about 11 CJK characters or 24 Latin ones."""
    width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in name)
    if width <= CHART_LABEL_UNITS:
        return name
    kept, used = [], 0
    for ch in name:
        used += 2 if ord(ch) > 0x2E80 else 1
        if used > CHART_LABEL_UNITS - 2:
            break
        kept.append(ch)
    return "".join(kept).rstrip("、，, ") + "…"


def _row_name(row: ProgressRow, t) -> str:
    if row.id is None:
        return t._("Township not known")
    return row.display_name(t.locale)

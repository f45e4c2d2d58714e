"""The desk's exports: choose an export and its parameter, the worker makes the file while
the job's page shows the progress, then the file is downloaded by whoever asked for it. Which
role may have which export is models.export_jobs' rule; these views only carry it out."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date

from flask import Response, jsonify, redirect, request, send_file
from sqlalchemy.orm import Session

from locales import N_, Translator
from models.desk import DeskRole, DeskUser
from models.errors import CourseNotFound, DomainError, NotFound
from models.export_jobs import (
    ALWAYS_FULL_IDS,
    BY_COUNTY,
    FULL_IDS_POSSIBLE,
    FULL_IDS_ROLES,
    PARAMETER,
    ExportJob,
    ExportKind,
    ExportRefused,
    ExportStatus,
    export_file,
    job_for,
    jobs_of,
    may_ask,
    queue_export,
)
from models.ledgers import LedgerRefused, Month, Quarter, classes_to_export
from models.regions import counties_by_prefecture, county_name
from runtime.services import current
from webhooks.admin.auth import (
    current_desk_user,
    desk_message,
    desk_page,
    desk_translator,
    forbidden,
    institution_scope,
    require_role,
)
from webhooks.admin.blueprint import bp
from webhooks.admin.dashboard import Choice

logger = logging.getLogger(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The job's page reloads itself this often while the file is being made (no script needed).
REFRESH_SECONDS = 2

KIND_NAMES = {
    ExportKind.LEDGER: N_("Training ledger (培训台账) of a quarter"),
    ExportKind.PROGRESS: N_("Monthly progress against the targets"),
    ExportKind.CLASS_RECORD: N_("Class record"),
    ExportKind.CLAIM: N_("Claim list of a class"),
    ExportKind.PROVINCIAL: N_("File for the provincial platform (凡补必进)"),
}
KIND_HINTS = {
    ExportKind.LEDGER: N_("One row per trainee per class, for the classes that start in the "
                          "quarter: the person, the class, attendance, certificate and "
                          "subsidies."),
    ExportKind.PROGRESS: N_("The year's targets by category and township against what "
                            "happened to the end of the month."),
    ExportKind.CLASS_RECORD: N_("The class, everyone ever enrolled (those who dropped out "
                                "too), each session's attendance, the spot checks."),
    ExportKind.CLAIM: N_("The class's subsidy claim, as signed by the institution."),
    ExportKind.PROVINCIAL: N_("One class in the platform's columns, with full ID numbers and "
                              "phones."),
}
STATUS_WORDS = {
    ExportStatus.QUEUED: N_("waiting for the worker"),
    ExportStatus.RUNNING: N_("being made"),
    ExportStatus.DONE: N_("ready"),
    ExportStatus.FAILED: N_("could not be made"),
}
FAILURES = {
    "course_not_found": N_("The class no longer exists."),
    "not_found": N_("The claim no longer exists."),
}
FAILED_OTHERWISE = N_("Something went wrong while making the file. Please try again; if it "
                      "fails again, tell the bureau's administrator.")
REFUSALS = {
    "course_not_found": (404, N_("No class has the code “%(course)s” among the classes you "
                                 "may see.")),
    "bad_quarter": (400, N_("“%(value)s” is not a quarter: write it like 2026Q4.")),
    "bad_month": (400, N_("“%(value)s” is not a month: write it like 2026-11.")),
    "why_missing": (400, N_("Say why you need the full ID numbers and phones: the reason is "
                            "kept with the export and in the audit log.")),
    "not_claimed": (409, N_("Class %(course)s has no claim yet: its claim list exists once "
                            "the class is claimed.")),
    "not_a_county": (400, N_("“%(value)s” is not a county of this deployment: choose a county "
                             "from the list, or all of them.")),
    "not_by_county": (400, N_("This export is made for the whole deployment, not county by "
                              "county: choose it without a county.")),
}


@dataclass(frozen=True)
class KindChoice:
    kind: ExportKind
    name: str
    hint: str
    parameter: str
    offers_full_ids: bool  # the file may be asked for with full ID numbers
    asks_why: bool  # the file may carry full ID numbers: the form asks why they are needed
    is_always_full: bool  # the file always carries them: the reason is always required
    by_county: bool  # a province's deployment may ask for one county's file


@dataclass(frozen=True)
class CountyGroup:
    """A prefecture's counties, as one group of the county select."""

    prefecture: str | None  # None: counties under no prefecture
    counties: list[Choice]


@bp.get("/exports")
@require_role(*DeskRole)
def exports():
    """The exports this user may ask for, each with its parameter, and their recent jobs."""
    return _exports_page()


@bp.post("/exports")
@require_role(*DeskRole)  # inspectors too: asking for a file changes nothing but the queue
def queue():
    user = current_desk_user()
    try:
        kind = ExportKind(request.form.get("kind", ""))
    except ValueError:
        return _exports_page(status=400, error=desk_translator()._(
            "Choose one of the exports below."))
    services = current()
    try:
        with services.sessions.begin() as db:
            job = queue_export(db, user=user, kind=kind,
                               value=request.form.get("value", "")[:60],
                               with_full_ids=request.form.get("full_ids") == "1",
                               reason=request.form.get("reason", "")[:1000],
                               county=request.form.get("county", "")[:60],
                               locale=desk_translator().locale, now=services.clock.now())
    except ExportRefused as refused:
        if refused.data["reason"] in ("role", "full_ids"):
            return forbidden()
        return _refused(refused)
    except (CourseNotFound, LedgerRefused) as refused:
        return _refused(refused)
    return redirect(f"/admin/exports/{job.id}", code=303)


@bp.get("/exports/<int:job_id>")
@require_role(*DeskRole)
def job_page(job_id: int):
    """The job's progress; the page reloads itself until the file is ready. Asked with
    ``Accept: application/json``: ``{"status", "done", "total", "percent", "download"}``."""
    job = _job(job_id)
    if isinstance(job, Response):
        return job
    if request.accept_mimetypes.best == "application/json":
        return jsonify(status=job.status.value, done=job.done, total=job.total,
                       percent=job.percent,
                       download=f"/admin/exports/{job.id}/file" if job.has_file else None)
    t = desk_translator()
    page = desk_page("admin/export_job.html", job=job, kind_name=t._(KIND_NAMES[job.kind]),
                     status_words=t._(STATUS_WORDS[job.status]),
                     parameter=_parameter_words(job, _county_of(job, t.locale), t),
                     failure=_failure(job, t))
    if not job.is_finished:
        # The browser reloads the page itself (no script, nothing for the CSP to allow).
        page.headers["Refresh"] = str(REFRESH_SECONDS)
    return page


@bp.get("/exports/<int:job_id>/file")
@require_role(*DeskRole)
def download(job_id: int):
    """The finished file, to whoever asked for it and no one else."""
    services = current()
    try:
        with services.sessions.begin() as db:
            filename, content = export_file(db, user=current_desk_user(), job_id=job_id,
                                            vault=services.vault,
                                            now=services.clock.now())
    except ExportRefused:
        return forbidden()
    except NotFound:
        return _not_found()
    response = send_file(io.BytesIO(content), mimetype=XLSX, as_attachment=True,
                         download_name=filename)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- helpers --------------------------------------------------------------------------------

def _exports_page(*, status: int = 200, error: str | None = None) -> Response:
    user = current_desk_user()
    t = desk_translator()
    services = current()
    today = services.clock.today()
    with services.sessions.begin() as db:
        classes = classes_to_export(db, institution_id=institution_scope())
        jobs = jobs_of(db, user=user)
        groups = _county_groups(db, t.locale)
    names = {choice.code: choice.name for group in groups for choice in group.counties}
    # Only a deployment of more than one county chooses among them (as the dashboard's region
    # filter).
    many = len(names) > 1
    return desk_page("admin/exports.html", status=status, error=error,
                     kinds=_choices(user, t), classes=classes, quarters=_quarters(today),
                     county_groups=groups if many else [],
                     chosen_county=request.form.get("county", ""),
                     job_for=lambda job: _job_for(job, names, many, t),
                     this_quarter=str(_quarter_of(today)), this_month=str(Month(
                         today.year, today.month)), jobs=jobs,
                     kind_names={k: t._(v) for k, v in KIND_NAMES.items()},
                     status_words={k: t._(v) for k, v in STATUS_WORDS.items()},
                     chosen_kind=request.form.get("kind"), chosen=request.form.get("value"))


def _choices(user: DeskUser, t: Translator) -> list[KindChoice]:
    choices = []
    for kind in ExportKind:
        if not may_ask(user, kind):
            continue
        offers = (kind in FULL_IDS_POSSIBLE and kind not in ALWAYS_FULL_IDS
                  and user.role in FULL_IDS_ROLES)
        always = kind in ALWAYS_FULL_IDS
        choices.append(KindChoice(kind, t._(KIND_NAMES[kind]), t._(KIND_HINTS[kind]),
                                  PARAMETER[kind], offers, offers or always, always,
                                  kind in BY_COUNTY))
    return choices


def _county_groups(db: Session, locale: str) -> list[CountyGroup]:
    """The deployment's counties by prefecture, for the county select."""
    return [CountyGroup(prefecture.display_name(locale) if prefecture else None,
                        [Choice(row.code, row.display_name(locale)) for row in counties])
            for prefecture, counties in counties_by_prefecture(db)]


def _job_for(job: ExportJob, names: dict[str, str], many: bool, t: Translator) -> str:
    """What a file of the list is for: its parameter, and in a deployment of many counties the
    county (or all of them) for an export made by county."""
    words = [str(job.params.get(PARAMETER[job.kind], ""))]
    code = job.params.get("county")
    if code:
        words.append(names.get(code, code))
    elif many and job.kind in BY_COUNTY:
        words.append(t._("All counties"))
    return ", ".join(words)


def _quarter_of(day: date) -> Quarter:
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def _quarters(today: date) -> list[str]:
    """The next quarter, this one and the seven before, the latest first."""
    current_ = _quarter_of(today)
    index = current_.year * 4 + current_.number - 1 + 1
    return [str(Quarter(n // 4, n % 4 + 1)) for n in range(index, index - 9, -1)]


def _refused(refused: DomainError) -> Response:
    reason = refused.data.get("reason", refused.code)
    status, text = REFUSALS.get(reason, REFUSALS.get(refused.code, (400, N_(
        "This export cannot be made."))))
    params = {k: v for k, v in refused.data.items() if isinstance(v, str)}
    params.setdefault("course", "")
    params.setdefault("value", "")
    return _exports_page(status=status, error=desk_translator()._(text, **params))


def _job(job_id: int) -> ExportJob | Response:
    services = current()
    try:
        with services.sessions.begin() as db:
            return job_for(db, user=current_desk_user(), job_id=job_id)
    except ExportRefused:
        return forbidden()
    except NotFound:
        return _not_found()


def _not_found() -> Response:
    return desk_message(N_("No such export."),
                        N_("It does not exist, or someone else asked for it: an export's "
                           "file is only for whoever asked for it."), status=404)


def _county_of(job: ExportJob, locale: str) -> str | None:
    with current().sessions.begin() as db:
        return county_name(db, job.params.get("county"), locale)


def _parameter_words(job: ExportJob, county_name: str | None, t: Translator) -> str:
    parameter = PARAMETER[job.kind]
    value = job.params.get(parameter, "")
    words = {"quarter": N_("Quarter %(value)s"), "month": N_("Month %(value)s"),
             "course": N_("Class %(value)s")}[parameter]
    text = t._(words, value=value)
    if county_name:
        text += " · " + county_name
    if job.with_full_ids:
        text += " · " + t._("full ID numbers and phones")
    return text


def _failure(job: ExportJob, t: Translator) -> str | None:
    if job.status is not ExportStatus.FAILED:
        return None
    return t._(FAILURES.get(job.error or "", FAILED_OTHERWISE))

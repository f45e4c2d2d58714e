"""The desk's job openings: the list with how far each push has got, a form to post one, an
Excel upload, and withdrawing. The bureau's administrators post and withdraw; inspectors read;
institutions have no business here."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, flash, redirect, request

from locales import N_, Translator
from models.audit import Channel
from models.clerk_sheet import FILE, RowError
from models.desk import DeskRole
from models.errors import JobFileRejected, JobOpeningNotFound, JobOpeningRefused
from models.jobs import (
    FIELDS,
    PUSH_DAYS,
    FieldProblem,
    import_openings,
    list_openings,
    post_opening,
    posting_choices,
    withdraw_opening,
)
from runtime.services import current
from webhooks.admin.auth import (
    current_desk_user,
    desk_message,
    desk_page,
    desk_translator,
    require_role,
)
from webhooks.admin.blueprint import bp

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024

LABELS = {
    "employer": N_("Employer"),
    "occupation": N_("Occupation / job"),
    "category": N_("Training category"),
    "township": N_("Township"),
    "place": N_("Place of work"),
    "wage": N_("Pay"),
    "contact": N_("Contact"),
    "valid_until": N_("Valid until"),
}
PROBLEMS = {
    # a field
    "required": N_("this must be filled in"),
    "too_long": N_("at most %(limit)s characters; this has %(value)s"),
    "unknown_category": N_("“%(value)s” is not a category (its code, its name or its number "
                           "1–12)"),
    "unknown_township": N_("“%(value)s” is not a township of the county (its code or its "
                           "name)"),
    "bad_date": N_("“%(value)s” is not a date like 2026-12-31"),
    "place_required": N_("give the township or the place of work (or both)"),
    "valid_until_past": N_("%(value)s is before today (%(today)s)"),
    "valid_until_far": N_("an opening may be valid for a year at most: until %(limit)s"),
    # the file
    "unknown_extension": N_("only Excel workbooks (.xlsx) can be uploaded, not “%(ext)s”"),
    "unreadable_xlsx": N_("it could not be read as an Excel workbook (.xlsx)"),
    "too_large": N_("the file is larger than %(limit)s MB"),
    "no_header": N_("the first row must name the columns: 用人单位, 职业/工种, 类别, 乡镇, "
                    "工作地点, 工资待遇, 联系方式, 有效期至"),
    "no_rows": N_("there are no openings below the first row"),
    "too_many_rows": N_("at most %(limit)s openings can be uploaded at once; split the file"),
    "unknown_column": N_("this column is not one the upload knows; rename or remove it"),
    "duplicate_column": N_("this column appears twice"),
    "missing_column": N_("this column is missing from the first row"),
    "duplicate_row": N_("the same opening is also on row %(first_row)s"),
}
UNKNOWN_PROBLEM = N_("problem “%(code)s”")
ZH_HEADERS = {f.name: f.zh for f in FIELDS}


@bp.before_app_request
def _room_for_an_upload() -> None:
    # The app takes 64 KiB a request (the WeChat callback); a clerk's workbook needs more. Set
    # before the desk's CSRF check reads the form.
    if request.endpoint == "admin.upload":
        request.max_content_length = MAX_UPLOAD_BYTES + 64 * 1024


@bp.get("/jobs")
@require_role(DeskRole.ADMIN, DeskRole.INSPECTOR)
def jobs():
    """The openings (current ones; ``?all=1`` with withdrawn and expired), and for the
    bureau's administrators the form and the upload."""
    return _jobs_page()


@bp.post("/jobs")
@require_role(DeskRole.ADMIN)
def post():
    values = {f.name: request.form.get(f.name, "")[:300] for f in FIELDS}
    services = current()
    try:
        with services.sessions.begin() as db:
            job = post_opening(db, values=values, desk_user_id=current_desk_user().id,
                               channel=Channel.PAGE, now=services.clock.now(),
                               today=services.clock.today())
    except JobOpeningRefused as refused:
        return _jobs_page(status=422, values=values,
                          problems=_field_problems(refused.data["problems"]))
    flash(desk_translator()._("Posted: %(occupation)s at %(employer)s. It is pushed to "
                              "matching trainees over the next %(days)s days.",
                              occupation=job.occupation, employer=job.employer,
                              days=PUSH_DAYS))
    return redirect("/admin/jobs", code=303)


@bp.post("/jobs/import")
@require_role(DeskRole.ADMIN)
def upload():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _jobs_page(status=400, file_lines=[desk_translator()._(
            "Choose an Excel file (.xlsx) to upload.")])
    content = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    services = current()
    try:
        if len(content) > MAX_UPLOAD_BYTES:
            raise JobFileRejected(errors=[RowError(FILE, None, "too_large", {
                "limit": MAX_UPLOAD_BYTES // (1024 * 1024)})])
        with services.sessions.begin() as db:
            result = import_openings(db, filename=upload.filename, content=content,
                                     desk_user_id=current_desk_user().id, channel=Channel.PAGE,
                                     now=services.clock.now(), today=services.clock.today())
    except JobFileRejected as rejected:
        return _jobs_page(status=422, file_lines=_file_lines(rejected.data["errors"]))
    flash(desk_translator()._("Openings uploaded: %(new)s new, %(unchanged)s posted before.",
                              new=result.new, unchanged=result.unchanged))
    return redirect("/admin/jobs", code=303)


@bp.post("/jobs/<int:job_id>/withdraw")
@require_role(DeskRole.ADMIN)
def withdraw(job_id: int):
    services = current()
    try:
        with services.sessions.begin() as db:
            job = withdraw_opening(db, job_id=job_id, desk_user_id=current_desk_user().id,
                                   channel=Channel.PAGE, now=services.clock.now())
    except JobOpeningNotFound:
        return desk_message(N_("No such opening."), N_("It may have been removed."),
                            status=404)
    flash(desk_translator()._("Withdrawn: %(occupation)s at %(employer)s. It is no longer "
                              "listed or pushed.", occupation=job.occupation,
                              employer=job.employer))
    return redirect("/admin/jobs", code=303)


# --- helpers --------------------------------------------------------------------------------

def _jobs_page(*, status: int = 200, values: dict[str, str] | None = None,
               problems: dict[str, list[str]] | None = None,
               file_lines: list[str] | None = None) -> Response:
    services = current()
    today = services.clock.today()
    show_all = request.args.get("all") == "1"
    with services.sessions.begin() as db:
        rows = list_openings(db, today=today, include_ended=show_all)
        categories, townships = posting_choices(db)
    t = desk_translator()
    return desk_page("admin/jobs.html", status=status, rows=rows, today=today,
                     show_all=show_all, may_post=current_desk_user().role is DeskRole.ADMIN,
                     push_days=PUSH_DAYS,
                     categories=categories, townships=townships,
                     labels={name: t._(text) for name, text in LABELS.items()},
                     headers=[f.zh for f in FIELDS], values=values or {},
                     problems=problems or {}, file_lines=file_lines or [])


def _field_problems(problems: list[FieldProblem]) -> dict[str, list[str]]:
    t = desk_translator()
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.field, []).append(_problem(problem.code, problem.params, t))
    return found


def _file_lines(errors: list[RowError]) -> list[str]:
    """That nothing was saved, then one line per problem with its row and column."""
    t = desk_translator()
    lines = [t._("Nothing was uploaded; correct these problems and upload the file again:")]
    for error in errors:
        problem = _problem(error.code, error.params, t)
        if error.row == FILE:
            lines.append(t._("File: %(problem)s", problem=problem))
        elif error.column is None:
            lines.append(t._("Row %(row)s: %(problem)s", row=error.row, problem=problem))
        else:
            lines.append(t._("Row %(row)s, %(column)s: %(problem)s", row=error.row,
                             column=_column(error.column, t), problem=problem))
    return lines


def _problem(code: str, params: dict[str, Any], t: Translator) -> str:
    return t._(PROBLEMS.get(code, UNKNOWN_PROBLEM), **{"code": code, **params})


def _column(name: str, t: Translator) -> str:
    """The header as the clerk's sheet spells it (the Chinese one), or as the file wrote it."""
    if t.locale.startswith("en"):
        return name
    return ZH_HEADERS.get(name, name)

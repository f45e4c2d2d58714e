"""`flask attendance …`: the sheet a class's teacher signs, the bureau's oversight of classes."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask.cli import AppGroup

from cli.terminal import LANGUAGES, language
from documents.attendance_sheet import attendance_workbook
from locales import translator
from models.attendance import PROXY_SIGNING_SHARE, attendance_sheet, oversight
from models.errors import CourseNotFound
from runtime.services import current

logger = logging.getLogger(__name__)


@click.group("attendance", cls=AppGroup)
def group() -> None:
    """Attendance: the sheet a class's teacher signs, the bureau's oversight of classes."""


@group.command("sheet")
@click.option("--course", "course_code", required=True,
              help="Course code, e.g. lp-2026-today.")
@click.option("--out", "out_file", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The attendance sheet to write (.xlsx), to print and sign.")
@language
def attendance_write_sheet(course_code: str, out_file: Path, lang: str) -> None:
    """Write a class's attendance sheet: every session, every trainee, each mark (check-in
    time, by hand with its reason, absent), the totals and the signature line."""
    services = current()
    t = translator(LANGUAGES[lang])
    try:
        with services.sessions.begin() as db:
            sheet = attendance_sheet(db, course_code=course_code,
                                     now=services.clock.now())
            content = attendance_workbook(sheet, t)
    except CourseNotFound:
        click.echo(t._("No course has the code “%(course)s”.", course=course_code), err=True)
        raise click.exceptions.Exit(1) from None
    try:
        out_file.write_bytes(content)
    except OSError as error:
        click.echo(t._("%(file)s could not be written (%(error)s).", file=out_file,
                       error=error.strerror or error), err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(t._("Attendance sheet of %(course)s: trainees %(trainees)s, sessions "
                   "%(sessions)s, marks made by hand %(manual)s.",
                   course=sheet.course.code, trainees=len(sheet.trainees),
                   sessions=len(sheet.sessions), manual=len(sheet.manual_marks)))
    click.echo(t._("Written to %(file)s.", file=out_file))


@group.command("oversight")
@language
def attendance_oversight(lang: str) -> None:
    """One line per class that has started: its marks, the share made by hand (flagged
    from 20%: a warning sign of 代签) and its spot checks (flagged while there are none:
    every class is checked, YN2021 三(三))."""
    services = current()
    t = translator(LANGUAGES[lang])
    today = services.clock.today()
    lines = []
    with services.sessions.begin() as db:
        for line in oversight(db):
            if line.course.starts_on > today:
                continue
            text = t._("%(code)s %(course)s — marks: %(marks)s, by hand: %(share)s, spot "
                       "checks: %(checks)s", code=line.course.code,
                       course=line.course.display_name(t.locale), marks=line.marks,
                       share=f"{line.manual_share:.0%}", checks=line.spot_checks)
            flags = []
            if line.no_smartphone:
                flags.append(t._("无智能手机 (counted apart): %(count)s",
                                 count=line.no_smartphone))
            if line.marks and line.manual_share >= PROXY_SIGNING_SHARE:
                flags.append(t._("⚠ check for proxy signing"))
            if not line.spot_checks:
                flags.append(t._("⚠ no spot check yet"))
            lines.append("  ".join([text, *flags]))
    for text in lines or [t._("No class has started yet.")]:
        click.echo(text)

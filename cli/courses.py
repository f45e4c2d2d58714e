"""`flask courses …`: publishing the bureau's courses from a file."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask.cli import AppGroup

from cli.terminal import LANGUAGES, language_option
from documents.course_import_report import rejection_lines, summary_line
from locales import translator
from models.audit import Channel
from models.course_import import ImportResult, import_courses
from models.errors import CourseFileRejected
from runtime.services import Services, current

logger = logging.getLogger(__name__)


def import_course_file(services: Services, path: Path) -> ImportResult:
    """Publish every course of the file in one transaction, or none (CourseFileRejected)."""
    with services.sessions.begin() as db:
        return import_courses(db, filename=path.name, content=path.read_bytes(), actor_id=None,
                              channel=Channel.CLI, now=services.clock.now(),
                              today=services.clock.today())


@click.group("courses", cls=AppGroup)
def group() -> None:
    """The courses the bureau publishes."""


@group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@language_option("The language of the report.")


def courses_import(file: Path, lang: str) -> None:
    """Publish the courses of a .csv or .xlsx file: all of them, or none if any row has a
    problem (each is listed; exit code 1)."""
    t = translator(LANGUAGES[lang])
    try:
        result = import_course_file(current(), file)
    except CourseFileRejected as rejected:
        for line in rejection_lines(rejected.data["errors"], t):
            click.echo(line, err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(summary_line(result, t))

"""`flask db …`: the database schema, and partitioning the audit log and attendance (a
maintenance window each)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from flask.cli import AppGroup
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from cli.terminal import LANGUAGES, language_option
from locales import N_, Translator, translator
from models import partitions
from models.partitions import (
    ATTENDANCE,
    AUDIT,
    Outcome,
    Scheme,
    convert,
    waited_too_long,
)
from runtime.config import PROJECT_ROOT
from runtime.services import current

logger = logging.getLogger(__name__)


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (Alembic), on this engine."""
    config = AlembicConfig(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@click.group("db", cls=AppGroup)
def group() -> None:
    """The database schema."""


@group.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration not yet applied."""
    migrate(current().engine)
    click.echo("database is up to date")


@dataclass(frozen=True)
class _Said:
    """What a conversion command says, by outcome (N_: translated when said)."""

    busy: str  # a transaction held the table past LOCK_WAIT: %(wait)s
    not_postgres: str
    already: str
    converted: str  # %(rows)s, %(count)s, %(first)s, %(last)s, %(default)s


SAID = {
    AUDIT: _Said(
        busy=N_("The audit log is in use: a transaction held it for longer than %(wait)s. "
                "Nothing was changed. Stop the app and the worker (a maintenance window), then "
                "run the command again."),
        not_postgres=N_("Nothing to do: the audit log is partitioned on PostgreSQL only; on "
                        "SQLite it stays one table. Nothing was changed."),
        already=N_("The audit log is already partitioned by quarter. Nothing was changed."),
        converted=N_("The audit log is now partitioned by quarter: %(rows)s rows copied into "
                     "%(count)s partitions, %(first)s to %(last)s, and %(default)s for rows of "
                     "quarters without one. The worker makes the next quarters' partitions "
                     "ahead.")),
    ATTENDANCE: _Said(
        busy=N_("Attendance is in use: a transaction held it for longer than %(wait)s. Nothing "
                "was changed. Stop the app and the worker (a maintenance window), then run the "
                "command again."),
        not_postgres=N_("Nothing to do: attendance is partitioned on PostgreSQL only; on SQLite "
                        "it stays one table. Nothing was changed."),
        already=N_("Attendance is already partitioned by year. Nothing was changed."),
        converted=N_("Attendance is now partitioned by year: %(rows)s rows copied into "
                     "%(count)s partitions, %(first)s to %(last)s, and %(default)s for rows of "
                     "years without one. The worker makes the next year's partition ahead.")),
}


@group.command("partition-audit")
@language_option("The language of the output.")
def db_partition_audit(lang: str) -> None:
    """PostgreSQL: turn audit_log into a table partitioned by quarter, in one transaction. It
    locks the audit log while it copies it (minutes for 20 million rows): run it in a
    maintenance window, the app and the worker stopped. Run again, it changes nothing."""
    _partition(AUDIT, translator(LANGUAGES[lang]))


@group.command("partition-attendance")
@language_option("The language of the output.")
def db_partition_attendance(lang: str) -> None:
    """PostgreSQL: turn attendance into a table partitioned by the year of its session's day,
    in one transaction. It locks attendance while it copies it (minutes for 50 million rows):
    run it in a maintenance window, the app and the worker stopped. Run again, it changes
    nothing."""
    _partition(ATTENDANCE, translator(LANGUAGES[lang]))


def _partition(scheme: Scheme, t: Translator) -> None:
    """The conversion in one transaction, and what came of it said; nothing changed, and the
    operator told, when a transaction held the table past LOCK_WAIT."""
    said, services = SAID[scheme], current()
    try:
        with services.sessions.begin() as db:
            done = convert(db, scheme, now=services.clock.now())
    except OperationalError as error:
        if not waited_too_long(error):
            raise
        raise click.ClickException(t._(said.busy, wait=partitions.LOCK_WAIT)) from None
    if done.outcome is Outcome.NOT_POSTGRES:
        click.echo(t._(said.not_postgres))
    elif done.outcome is Outcome.ALREADY:
        click.echo(t._(said.already))
    else:
        click.echo(t._(said.converted, rows=done.rows, count=len(done.made),
                       first=done.made[0], last=done.made[-2], default=done.made[-1]))

"""`flask db …`: the database schema, and partitioning the audit log and attendance (a
maintenance window each)."""

from __future__ import annotations

import logging

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from flask.cli import AppGroup
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from cli.terminal import LANGUAGES, language_option
from locales import Translator, translator
from models import partitions
from models.partitions import (
    ATTENDANCE,
    AUDIT,
    Conversion,
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


@group.command("partition-audit")
@language_option("The language of the output.")
def db_partition_audit(lang: str) -> None:
    """PostgreSQL: turn audit_log into a table partitioned by quarter, in one transaction. It
    locks the audit log while it copies it (minutes for 20 million rows): run it in a
    maintenance window, the app and the worker stopped. Run again, it changes nothing."""
    t = translator(LANGUAGES[lang])
    done = _convert(AUDIT, t, busy=t._(
        "The audit log is in use: a transaction held it for longer than %(wait)s. Nothing "
        "was changed. Stop the app and the worker (a maintenance window), then run the "
        "command again.", wait=partitions.LOCK_WAIT))
    if done.outcome is Outcome.NOT_POSTGRES:
        said = t._("Nothing to do: the audit log is partitioned on PostgreSQL only; on SQLite "
                   "it stays one table. Nothing was changed.")
    elif done.outcome is Outcome.ALREADY:
        said = t._("The audit log is already partitioned by quarter. Nothing was changed.")
    else:
        said = t._("The audit log is now partitioned by quarter: %(rows)s rows copied into "
                   "%(count)s partitions, %(first)s to %(last)s, and %(default)s for rows of "
                   "quarters without one. The worker makes the next quarters' partitions "
                   "ahead.", **_made(done))
    click.echo(said)


@group.command("partition-attendance")
@language_option("The language of the output.")
def db_partition_attendance(lang: str) -> None:
    """PostgreSQL: turn attendance into a table partitioned by the year of its session's day,
    in one transaction. It locks attendance while it copies it (minutes for 50 million rows):
    run it in a maintenance window, the app and the worker stopped. Run again, it changes
    nothing."""
    t = translator(LANGUAGES[lang])
    done = _convert(ATTENDANCE, t, busy=t._(
        "Attendance is in use: a transaction held it for longer than %(wait)s. Nothing was "
        "changed. Stop the app and the worker (a maintenance window), then run the command "
        "again.", wait=partitions.LOCK_WAIT))
    if done.outcome is Outcome.NOT_POSTGRES:
        said = t._("Nothing to do: attendance is partitioned on PostgreSQL only; on SQLite it "
                   "stays one table. Nothing was changed.")
    elif done.outcome is Outcome.ALREADY:
        said = t._("Attendance is already partitioned by year. Nothing was changed.")
    else:
        said = t._("Attendance is now partitioned by year: %(rows)s rows copied into "
                   "%(count)s partitions, %(first)s to %(last)s, and %(default)s for rows of "
                   "years without one. The worker makes the next year's partition ahead.",
                   **_made(done))
    click.echo(said)


def _convert(scheme: Scheme, t: Translator, *, busy: str) -> Conversion:
    """The conversion in one transaction; ``busy`` said, and nothing changed, when a
    transaction held the table past LOCK_WAIT."""
    services = current()
    try:
        with services.sessions.begin() as db:
            return convert(db, scheme, now=services.clock.now())
    except OperationalError as error:
        if not waited_too_long(error):
            raise
        raise click.ClickException(busy) from None


def _made(done: Conversion) -> dict[str, object]:
    """What a conversion's message says of it: rows, partitions, the first, last and DEFAULT."""
    return {"rows": done.rows, "count": len(done.made), "first": done.made[0],
            "last": done.made[-2], "default": done.made[-1]}

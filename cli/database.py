"""`flask db …`: the database schema."""

from __future__ import annotations

import logging

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from flask.cli import AppGroup
from sqlalchemy.engine import Engine

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

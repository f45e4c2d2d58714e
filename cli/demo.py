"""`flask demo …`: the demo county, and its year of made-up history."""

from __future__ import annotations

import logging

import click
from flask.cli import AppGroup

from models.courses import has_courses
from models.demo import load_demo
from models.demo_history import load_history
from runtime.services import Services, current

logger = logging.getLogger(__name__)


class DemoRefused(Exception):
    """The demo's made-up history asked for in production."""


def load_demo_data(services: Services, *, only_if_empty: bool, history: bool = False) -> bool:
    """The demo county, and with ``history`` its year of history (models.demo_history), in one
    transaction. History is made up: never in production (refused with DemoRefused)."""
    if history and services.config.is_production:
        raise DemoRefused()
    with services.sessions.begin() as db:
        if only_if_empty and has_courses(db):
            return False
        load_demo(db, vault=services.vault, now=services.clock.now(),
                  today=services.clock.today())
        if history:
            load_history(db, vault=services.vault, now=services.clock.now())
    return True


@click.group("demo", cls=AppGroup)
def group() -> None:
    """The demo county."""


@group.command("load")
@click.option("--if-empty", is_flag=True, help="Only into a database with no courses.")
@click.option("--history", is_flag=True,
              help="With a year of made-up history (classes, trainees, claims, follow-up, "
                   "job pushes): for a demo only, refused in production.")
def demo_load(if_empty: bool, history: bool) -> None:
    """Load 罗平县, its categories, targets, institutions and courses (idempotent)."""
    try:
        loaded = load_demo_data(current(), only_if_empty=if_empty, history=history)
    except DemoRefused:
        raise click.ClickException(
            "the demo history is made up: it is never loaded with PEIXUN_ENV=production"
        ) from None
    if loaded:
        click.echo("demo data loaded" + (" with a year of history" if history else ""))
    else:
        click.echo("database has courses already; demo data not loaded")

"""Commands of `flask --app wsgi …`: migrate, load the demo, create the menu, run the worker."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.catalogue import Course
from models.demo import load_demo
from webhooks import worker
from webhooks.config import PROJECT_ROOT
from webhooks.services import Services, current
from webhooks.wechat_api import Client

MENU_FILE = PROJECT_ROOT / "bot" / "menu.json"


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (Alembic), on this engine."""
    config = AlembicConfig(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def load_demo_data(services: Services, *, only_if_empty: bool) -> bool:
    with services.sessions.begin() as db:
        if only_if_empty and db.scalar(select(func.count(Course.id))):
            return False
        load_demo(db, now=services.clock.now(), today=services.clock.today())
    return True


def create_menu(services: Services, menu_file: Path = MENU_FILE) -> dict:
    menu = json.loads(menu_file.read_text(encoding="utf-8"))
    Client(services.config, services.kv).menu.create(menu)
    return menu


def register(app: Flask) -> None:
    @app.cli.group("db")
    def db_group() -> None:
        """The database schema."""

    @db_group.command("upgrade")
    def db_upgrade() -> None:
        """Apply every migration not yet applied."""
        migrate(current().engine)
        click.echo("database is up to date")

    @app.cli.group("demo")
    def demo_group() -> None:
        """The demo county."""

    @demo_group.command("load")
    @click.option("--if-empty", is_flag=True, help="Only into a database with no courses.")
    def demo_load(if_empty: bool) -> None:
        """Load 罗平县, its categories, targets, institutions and courses (idempotent)."""
        if load_demo_data(current(), only_if_empty=if_empty):
            click.echo("demo data loaded")
        else:
            click.echo("database has courses already; demo data not loaded")

    @app.cli.group("menu")
    def menu_group() -> None:
        """The official account's menu."""

    @menu_group.command("create")
    @click.option("--file", "menu_file", type=click.Path(exists=True, path_type=Path),
                  default=MENU_FILE, show_default=True)
    def menu_create(menu_file: Path) -> None:
        """Create the menu through WeChat's API from the project's menu file."""
        create_menu(current(), menu_file)
        click.echo("menu created")

    @app.cli.command("worker")
    def run_worker() -> None:
        """Send queued messages until stopped (Ctrl-C)."""
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            worker.run(current(), stop)
        except KeyboardInterrupt:
            stop.set()

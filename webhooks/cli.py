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

from locales import translator
from models.audit import Channel
from models.cadres import INVITATION_DAYS, invite_cadre
from models.catalogue import Course
from models.course_import import ImportResult, import_courses
from models.demo import load_demo
from models.errors import CourseFileRejected
from webhooks import qr, worker
from webhooks.config import PROJECT_ROOT
from webhooks.course_import_report import LANGUAGES, rejection_lines, summary_line
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
        load_demo(db, vault=services.vault, now=services.clock.now(),
                  today=services.clock.today())
    return True


def import_course_file(services: Services, path: Path) -> ImportResult:
    """Publish every course of the file in one transaction, or none (CourseFileRejected)."""
    with services.sessions.begin() as db:
        return import_courses(db, filename=path.name, content=path.read_bytes(), actor_id=None,
                              channel=Channel.CLI, now=services.clock.now(),
                              today=services.clock.today())


def create_menu(services: Services, menu_file: Path = MENU_FILE) -> dict:
    menu = json.loads(menu_file.read_text(encoding="utf-8"))
    Client(services.config, services.kv).menu.create(menu)
    return menu


def invitation_qr_url(services: Services, scene: str) -> str:
    """A temporary WeChat QR code for a one-time scene, valid as long as the invitation."""
    client = Client(services.config, services.kv)
    result = client.qrcode.create({
        "expire_seconds": INVITATION_DAYS * 24 * 3600, "action_name": "QR_STR_SCENE",
        "action_info": {"scene": {"scene_str": scene}}})
    return result["url"]


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

    @app.cli.group("courses")
    def courses_group() -> None:
        """The courses the bureau publishes."""

    @courses_group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default="zh",
                  show_default=True, help="The language of the report.")
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

    @app.cli.group("cadres")
    def cadres_group() -> None:
        """Village cadres."""

    @cadres_group.command("invite")
    @click.option("--township", required=True, help="Township code, e.g. luoxiong.")
    @click.option("--village", required=True, help="The village, e.g. 腊者村.")
    @click.option("--svg", "svg_file", type=click.Path(dir_okay=False, path_type=Path),
                  help="Also write the QR code to this SVG file, for printing.")
    def cadres_invite(township: str, village: str, svg_file: Path | None) -> None:
        """A one-time QR code that binds the cadre who scans it to the village."""
        services = current()
        with services.sessions.begin() as db:
            token = invite_cadre(db, township_code=township, village=village,
                                 now=services.clock.now())
        url = invitation_qr_url(services, f"cadre:{token}")
        click.echo(qr.ascii_art(url))
        click.echo(f"scene cadre:{token} for {village}; valid {INVITATION_DAYS} days, once")
        if svg_file:
            svg_file.write_text(qr.svg(url), encoding="utf-8")
            click.echo(f"written to {svg_file}")

    @app.cli.command("worker")
    def run_worker() -> None:
        """Send queued messages until stopped (Ctrl-C)."""
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            worker.run(current(), stop)
        except KeyboardInterrupt:
            stop.set()

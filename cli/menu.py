"""`flask menu …`: the official account's menu."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
from flask.cli import AppGroup

from runtime.config import PROJECT_ROOT
from runtime.services import Services, current
from runtime.wechat_api import Client

logger = logging.getLogger(__name__)

MENU_FILE = PROJECT_ROOT / "bot" / "menu.json"


def create_menu(services: Services, menu_file: Path = MENU_FILE) -> dict:
    menu = json.loads(menu_file.read_text(encoding="utf-8"))
    Client(services.config, services.kv).menu.create(menu)
    return menu


@click.group("menu", cls=AppGroup)
def group() -> None:
    """The official account's menu."""


@group.command("create")
@click.option("--file", "menu_file", type=click.Path(exists=True, path_type=Path),
              default=MENU_FILE, show_default=True)
def menu_create(menu_file: Path) -> None:
    """Create the menu through WeChat's API from the project's menu file."""
    create_menu(current(), menu_file)
    click.echo("menu created")

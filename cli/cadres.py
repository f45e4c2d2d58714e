"""`flask cadres …`: village cadres, invited by a one-time QR code."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask.cli import AppGroup

from cli.invitations import invitation
from cli.terminal import LANGUAGES
from locales import translator
from models.cadres import invite_cadre
from models.invitations import INVITATION_DAYS
from runtime.services import current
from webhooks import qr

logger = logging.getLogger(__name__)


@click.group("cadres", cls=AppGroup)
def group() -> None:
    """Village cadres."""


@group.command("invite")
@click.option("--township", required=True, help="Township code, e.g. luoxiong.")
@click.option("--village", required=True, help="The village, e.g. 腊者村.")
@click.option("--svg", "svg_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the QR code to this SVG file, for printing.")
def cadres_invite(township: str, village: str, svg_file: Path | None) -> None:
    """A one-time QR code that binds the cadre who scans it to the village."""
    services = current()
    t = translator(LANGUAGES["zh"])
    scene, url = invitation(t, "cadre", lambda db: invite_cadre(
        db, township_code=township, village=village, now=services.clock.now()))
    click.echo(qr.ascii_art(url))
    click.echo(f"scene {scene} for {village}; valid {INVITATION_DAYS} days, once")
    if svg_file:
        svg_file.write_text(qr.svg(url), encoding="utf-8")
        click.echo(f"written to {svg_file}")

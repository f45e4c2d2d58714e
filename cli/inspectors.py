"""`flask inspectors …`: the bureau's inspectors (督查), invited by a one-time QR code."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask.cli import AppGroup

from cli.invitations import invitation
from cli.terminal import LANGUAGES, language
from locales import translator
from models.attendance import invite_inspector
from models.invitations import INVITATION_DAYS
from runtime.services import current
from webhooks import qr

logger = logging.getLogger(__name__)


@click.group("inspectors", cls=AppGroup)
def group() -> None:
    """The bureau's inspectors (督查), who spot-check classes."""


@group.command("invite")
@click.option("--svg", "svg_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the QR code to this SVG file, for printing.")
@language
def inspectors_invite(svg_file: Path | None, lang: str) -> None:
    """A one-time QR code that makes the person who scans it an inspector."""
    services = current()
    t = translator(LANGUAGES[lang])
    scene, url = invitation(t, "inspector", lambda db: invite_inspector(
        db, now=services.clock.now()))
    click.echo(qr.ascii_art(url))
    click.echo(t._("Scene %(scene)s for an inspector; valid %(days)s days, once.",
                   scene=scene, days=INVITATION_DAYS))
    if svg_file:
        svg_file.write_text(qr.svg(url), encoding="utf-8")
        click.echo(t._("Written to %(file)s.", file=svg_file))

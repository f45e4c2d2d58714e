"""`flask staff …`: staff of training institutions, invited by a one-time QR code."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask.cli import AppGroup

from cli.invitations import invitation
from cli.terminal import LANGUAGES, language
from locales import translator
from models.invitations import INVITATION_DAYS
from models.staff import invite_staff
from runtime.services import current
from webhooks import qr

logger = logging.getLogger(__name__)


@click.group("staff", cls=AppGroup)
def group() -> None:
    """Staff of training institutions."""


@group.command("invite")
@click.option("--institution", required=True, help="Institution code, e.g. lp-pes.")
@click.option("--svg", "svg_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the QR code to this SVG file, for printing.")
@language
def staff_invite(institution: str, svg_file: Path | None, lang: str) -> None:
    """A one-time QR code that binds the staff member who scans it to the institution."""
    services = current()
    t = translator(LANGUAGES[lang])
    scene, url = invitation(t, "staff", lambda db: invite_staff(
        db, institution_code=institution, now=services.clock.now()))
    click.echo(qr.ascii_art(url))
    click.echo(t._("Scene %(scene)s for institution %(institution)s; valid %(days)s days, "
                   "once.", scene=scene, institution=institution, days=INVITATION_DAYS))
    if svg_file:
        svg_file.write_text(qr.svg(url), encoding="utf-8")
        click.echo(t._("Written to %(file)s.", file=svg_file))

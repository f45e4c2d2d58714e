"""`flask desk …`: desk users from the terminal (the first admin cannot sign in to make one)."""

from __future__ import annotations

import logging
import sys

import click
from flask.cli import AppGroup

from cli.terminal import LANGUAGES, language_option
from locales import N_, Translator, translator
from models.audit import Channel
from models.desk import PASSWORD_MIN_LENGTH, DeskRole, create_desk_user, disable_desk_user
from models.errors import DeskUserRefused, NotFound
from runtime.services import current

logger = logging.getLogger(__name__)

REFUSALS = {
    "username_taken": N_("The user name %(username)s is taken."),
    "username_invalid": N_("A user name is 2–60 lower-case letters, digits, dots, dashes or "
                           "underscores."),
    "password_too_short": N_("The password needs at least %(minimum)s characters."),
    "institution_unknown": N_("No institution has the code %(institution_code)s."),
    "institution_required": N_("Institution staff need --institution CODE."),
    "institution_not_allowed": N_("Only institution staff belong to an institution."),
}

group = AppGroup("desk", help="Users of the bureau's web desk (/admin/).")

password_stdin = click.option("--password-stdin", is_flag=True,
                              help="Read the password from the first line of standard input.")
language = language_option("The language of the answer.")


@group.command("create-admin")
@click.argument("username")
@password_stdin
@language
def create_admin(username: str, password_stdin: bool, lang: str) -> None:
    """Create a bureau administrator (the first one, or another)."""
    _create(username, DeskRole.ADMIN, None, password_stdin, translator(LANGUAGES[lang]))


@group.command("add-user")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in DeskRole]), required=True)
@click.option("--institution", "institution_code", help="The institution's code (staff only).")
@password_stdin
@language
def add_user(username: str, role: str, institution_code: str | None, password_stdin: bool,
             lang: str) -> None:
    """Create an inspector, institution staff member (with --institution) or administrator."""
    _create(username, DeskRole(role), institution_code, password_stdin,
            translator(LANGUAGES[lang]))


@group.command("disable")
@click.argument("username")
@language
def disable(username: str, lang: str) -> None:
    """Disable a desk user: signed out at once, refused from then on."""
    t = translator(LANGUAGES[lang])
    services = current()
    try:
        with services.sessions.begin() as db:
            disable_desk_user(db, username=username, now=services.clock.now(),
                              channel=Channel.CLI)
    except NotFound:
        raise click.ClickException(t._("No desk user is called %(username)s.",
                                       username=username)) from None
    click.echo(t._("%(username)s is disabled.", username=username))


def _create(username: str, role: DeskRole, institution_code: str | None, from_stdin: bool,
            t: Translator) -> None:
    password = _read_password(from_stdin, t)
    services = current()
    try:
        with services.sessions.begin() as db:
            user = create_desk_user(db, username=username, password=password, role=role,
                                    institution_code=institution_code,
                                    now=services.clock.now(), channel=Channel.CLI)
            name = user.username
    except DeskUserRefused as refused:
        data = {"minimum": PASSWORD_MIN_LENGTH, **refused.data}
        text = REFUSALS[data["reason"]]
        raise click.ClickException(t._(text, **data)) from None
    click.echo(t._("Desk user %(username)s created; sign in at /admin/login.", username=name))


def _read_password(from_stdin: bool, t: Translator) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(t._("Password"), hide_input=True,
                        confirmation_prompt=t._("Password again"))

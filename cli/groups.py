"""`flask groups …`: the groups people declared, verified by the bureau."""

from __future__ import annotations

import logging

import click
from flask.cli import AppGroup

from locales import N_, translator
from models.audit import Channel
from models.errors import DomainError
from models.persons import Group, HouseholdKind
from models.verification import decide_group
from runtime.services import current
from vocabulary.labels import GROUPS

logger = logging.getLogger(__name__)


@click.group("groups", cls=AppGroup)
def group() -> None:
    """The groups people declared (脱贫劳动力, 就业困难人员 …), verified by the bureau."""


@group.command("verify")
@click.option("--id-number", required=True, prompt=True, hide_input=True,
              help="From the ID card in front of you; asked for if not given, not echoed.")
@click.option("--group", "group_code", required=True,
              type=click.Choice([g.value for g in Group]))
@click.option("--document", required=True, help="What was seen, e.g. 扶贫手册 No.123.")
@click.option("--reject", is_flag=True, help="The document does not confirm the group.")
@click.option("--household-kind", "household_kind",
              type=click.Choice([k.value for k in HouseholdKind]),
              help="The household's kind as the household register (户口本) shows it; "
                   "replaces what the person said.")
def groups_verify(id_number: str, group_code: str, document: str, reject: bool,
                  household_kind: str | None) -> None:
    """Verify (or with --reject, refuse) one group of a registered person."""
    services = current()
    t = translator("zh_Hans_CN")
    try:
        with services.sessions.begin() as db:
            person = decide_group(
                db, vault=services.vault, id_number=id_number, group=Group(group_code),
                is_verified=not reject, document=document, decided_by=None,
                channel=Channel.CLI, now=services.clock.now(),
                today=services.clock.today(),
                household_kind=HouseholdKind(household_kind) if household_kind else None)
            masked = person.id_masked
    except DomainError as error:
        words = {"not_registered": N_("No registered person has this ID card number."),
                 "invalid_id_number": N_("This is not a valid ID card number.")}
        fallback = N_("That could not be done (%(code)s).")
        raise click.ClickException(t._(words.get(error.code, fallback), code=error.code)
                                   ) from error
    group = t._(GROUPS[Group(group_code)])
    click.echo(t._("Rejected: %(group)s for %(id)s; the person will be told.", group=group,
                   id=masked) if reject else
               t._("Verified: %(group)s for %(id)s; the person will be told.", group=group,
                   id=masked))

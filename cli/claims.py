"""`flask claims …`: claims of ended classes, their advances, due and payment dates."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask.cli import AppGroup

from cli.terminal import LANGUAGES, language, refuse, write_on_commit
from documents.claim_sheet import claim_summary, claim_workbook
from locales import N_, translator
from locales.amounts import amount_words
from models.audit import Channel
from models.claims import (
    PAY_WITHIN_WORKING_DAYS,
    Claim,
    claim_by_number,
    claim_policy,
    classes_to_claim,
    make_claim,
    mark_paid,
    overdue_claims,
    request_advance,
)
from models.errors import DomainError
from models.persons import Group
from models.policy import settlement_rates
from runtime.services import current
from vocabulary.labels import GROUPS

logger = logging.getLogger(__name__)


@click.group("claims", cls=AppGroup)
def group() -> None:
    """Claims of ended classes (补贴申领): made, followed up, paid."""


@group.command("make")
@click.option("--course", "course_code", required=True, help="Course code, e.g. lp-2026-006.")
@click.option("--out", "out_file", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The claim sheet to write (.xlsx), to print and sign.")
@language
def claims_make(course_code: str, out_file: Path, lang: str) -> None:
    """Claim an ended class's subsidies, trainee by trainee, and write the sheet. A class
    is claimed once; a refused claim writes nothing."""
    services = current()
    t = translator(LANGUAGES[lang])

    def claim_and_write(partial: Path) -> tuple[Claim, int, list[str]]:
        with services.sessions.begin() as db:
            made = make_claim(db, course_code=course_code, now=services.clock.now(),
                              channel=Channel.CLI)
            claim = claim_by_number(db, number=made.number)
            partial.write_bytes(claim_workbook(claim, claim.lines, t))
            return claim, len(claim.lines), claim_summary(claim, t)

    claim, lines, summary = write_on_commit(out_file, claim_and_write, t, not_done=N_(
        "Nothing was claimed: %(file)s could not be written (%(error)s)."), course=course_code)
    click.echo(t.ngettext("Claim %(number)s for %(course)s: %(num)s trainee, %(total)s.",
                          "Claim %(number)s for %(course)s: %(num)s trainees, %(total)s.",
                          lines, number=claim.number, course=claim.course.code,
                          total=amount_words(t, amount=claim.total_yuan,
                                             is_demo=settlement_rates().is_demo)))
    click.echo(t._("Due by %(due)s; to be paid by %(pay)s.", due=t.day(claim.due_by),
                   pay=t.day(claim.pay_by)))
    for text in summary:
        click.echo(text)
    if claim.is_late:
        click.echo(t._("⚠ claimed after its due date"))
    click.echo(t._("Written to %(file)s.", file=out_file))


@group.command("advance")
@click.option("--course", "course_code", required=True, help="Course code, e.g. lp-2026-006.")
@language
def claims_advance(course_code: str, lang: str) -> None:
    """Advance 50% of the training subsidy of a project class for poor workers while it
    runs (QJ2020 五(二), QJ2019 (二十)); the claim after the class pays the balance."""
    services = current()
    t = translator(LANGUAGES[lang])
    try:
        with services.sessions.begin() as db:
            advance = request_advance(db, course_code=course_code,
                                      now=services.clock.now(), channel=Channel.CLI)
            number, amount = advance.number, advance.amount_yuan
            trainees, expected, share = (advance.trainees, advance.expected_yuan,
                                         advance.share)
    except DomainError as error:
        refuse(error, t, course=course_code, groups=t.listing(
            [t._(GROUPS[Group(g)]) for g in error.data.get("groups", ())]))
    click.echo(t.ngettext(
        "Advance %(number)s for %(course)s: %(amount)s, %(share)s of %(expected)s expected "
        "for %(num)s trainee (%(source)s).",
        "Advance %(number)s for %(course)s: %(amount)s, %(share)s of %(expected)s expected "
        "for %(num)s trainees (%(source)s).", trainees, number=number, course=course_code,
        amount=amount_words(t, amount=amount, is_demo=settlement_rates().is_demo),
        share=f"{share * 100:.0f}%", expected=t.money(expected),
        source=claim_policy().advance_source))


@group.command("overdue")
@language
def claims_overdue(lang: str) -> None:
    """Ended classes not claimed yet, with their due dates (flagged once past), and claims
    not paid by their payment date."""
    services = current()
    t = translator(LANGUAGES[lang])
    today = services.clock.today()
    with services.sessions.begin() as db:
        waiting = classes_to_claim(db, today=today)
        unpaid = overdue_claims(db, today=today)
        lines = [t._("%(code)s %(course)s (%(institution)s): ended %(ended)s, to be "
                     "claimed by %(due)s", code=c.course.code,
                     course=c.course.display_name(t.locale),
                     institution=c.course.institution.display_name(t.locale),
                     ended=t.day(c.class_ended_on), due=t.day(c.due_by))
                 + ("  " + t._("⚠ past its due date") if c.is_overdue else "")
                 for c in waiting]
        lines += [t._("⚠ Claim %(number)s (%(course)s, %(institution)s): %(total)s, to be "
                      "paid by %(pay)s, not paid (%(days)s working days from the claim)",
                      number=c.number, course=c.course.code,
                      institution=c.institution.display_name(t.locale),
                      total=t.money(c.total_yuan), pay=t.day(c.pay_by),
                      days=PAY_WITHIN_WORKING_DAYS)
                  for c in unpaid]
    for text in lines or [t._("No class waits for a claim and no claim is overdue.")]:
        click.echo(text)


@group.command("paid")
@click.argument("number")
@language
def claims_paid(number: str, lang: str) -> None:
    """Record that the bureau paid a claim."""
    services = current()
    t = translator(LANGUAGES[lang])
    try:
        with services.sessions.begin() as db:
            claim = mark_paid(db, number=number, now=services.clock.now(),
                              channel=Channel.CLI)
    except DomainError as error:
        refuse(error, t, number=number)
    click.echo(t._("Claim %(number)s marked paid on %(day)s.", number=claim.number,
                   day=t.day(services.clock.today())))

"""`flask vouchers …`: the bureau's side of training vouchers: settling, revoking."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from cli.terminal import DAY, LANGUAGES, language, refuse, write_on_commit
from documents.printed import DEMO_RATES
from documents.settlement_sheet import settlement_workbook
from locales import N_, translator
from locales.amounts import amount_words
from models.audit import Channel
from models.errors import DomainError
from models.settlement import SettlementResult, settle
from models.vouchers import revoke_voucher
from runtime.services import current

logger = logging.getLogger(__name__)


@click.group("vouchers", cls=AppGroup)
def group() -> None:
    """Training vouchers: the bureau's side."""


@group.command("settle")
@click.option("--institution", required=True, help="Institution code, e.g. lp-pes.")
@click.option("--from", "period_start", type=DAY, required=True,
              help="First day of the period (YYYY-MM-DD), local time.")
@click.option("--to", "period_end", type=DAY, required=True,
              help="Last day of the period (YYYY-MM-DD), included.")
@click.option("--out", "out_file", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The settlement sheet to write (.xlsx), to print and sign.")
@language
def vouchers_settle(institution: str, period_start: datetime, period_end: datetime,
                    out_file: Path, lang: str) -> None:
    """Settle the institution's vouchers completed in the period (each once, ever) and
    write the sheet. Nothing to settle: a message, no file, no settlement."""
    services = current()
    t = translator(LANGUAGES[lang])

    def settle_and_write(partial: Path) -> SettlementResult:
        with services.sessions.begin() as db:
            result = settle(db, institution_code=institution,
                            period_start=period_start.date(), period_end=period_end.date(),
                            now=services.clock.now(), channel=Channel.CLI)
            if result.rows:
                partial.write_bytes(settlement_workbook(result, t))
        return result

    result = write_on_commit(out_file, settle_and_write, t, not_done=N_(
        "Nothing was settled: %(file)s could not be written (%(error)s)."))
    if not result.rows:
        click.echo(t._("Nothing to settle: %(institution)s has no completed vouchers from "
                       "%(start)s to %(end)s that are not settled yet. No file was written.",
                       institution=result.institution_display_name(t.locale),
                       start=t.day(result.period_start),
                       end=t.day(result.period_end)))
        return
    click.echo(t.ngettext("Settlement %(number)s for %(institution)s: %(num)s voucher, "
                          "%(total)s.",
                          "Settlement %(number)s for %(institution)s: %(num)s vouchers, "
                          "%(total)s.",
                          result.voucher_count, number=result.settlement_id,
                          institution=result.institution_display_name(t.locale),
                          total=amount_words(t, amount=result.total_yuan,
                                             is_demo=result.is_demo_rates)))
    if result.is_demo_rates:
        click.echo(t._(DEMO_RATES))
    click.echo(t._("Written to %(file)s.", file=out_file))


@group.command("revoke")
@click.argument("number")
@click.option("--reason", required=True, help="Why, in words the holder will read.")
@language
def vouchers_revoke(number: str, reason: str, lang: str) -> None:
    """Take back an issued or enrolled voucher; the holder is told, with the reason."""
    services = current()
    t = translator(LANGUAGES[lang])
    if not reason.strip():
        click.echo(t._("Give the reason for revoking (--reason)."), err=True)
        raise click.exceptions.Exit(1)
    try:
        with services.sessions.begin() as db:
            voucher = revoke_voucher(db, number=number, reason=reason.strip(),
                                     now=services.clock.now())
    except DomainError as error:
        refuse(error, t, number=number)
    click.echo(t._("Voucher %(number)s revoked; the holder will be told.",
                   number=voucher.number))

"""What the commands share: the --lang option, one table of what the bureau reads when an
operation is refused, and writing a file only once its transaction has committed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import click

from locales import N_, Translator
from models.catalogue import CertificateKind
from models.errors import DomainError
from models.persons import DEFAULT_LOCALE
from models.vouchers import VoucherStatus
from vocabulary.labels import CERTIFICATES

logger = logging.getLogger(__name__)

T = TypeVar("T")

# --lang of every command
LANGUAGES = {"zh": DEFAULT_LOCALE, "en": "en"}

DAY = click.DateTime(formats=["%Y-%m-%d"])


def language_option(help: str) -> Callable:
    return click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default="zh",
                        show_default=True, help=help)


language = language_option("The language of the output.")

# What the bureau reads when an operation is refused: (code, reason or kind) -> message.
REFUSALS: dict[tuple[str, str | None], str] = {
    ("not_found", "institution"): N_("No institution has the code “%(institution)s”."),
    ("invitation_invalid", "unknown_institution"): N_(
        "No institution has the code “%(institution)s”."),
    ("voucher_not_found", None): N_("No voucher has the number %(number)s."),
    ("voucher_state_wrong", None): N_(
        "Voucher %(number)s is %(status)s: only a voucher not yet completed can be "
        "revoked."),
    ("settlement_refused", "period_reversed"): N_(
        "The period ends (%(end)s) before it starts (%(start)s)."),
    ("settlement_refused", "no_rate"): N_(
        "Nothing was settled: voucher %(number)s is for a %(certificate)s of level "
        "“%(level)s”, which has no rate in models/data/policy.yaml; correct the course's "
        "level or add the rate."),
    ("settlement_refused", "changed_meanwhile"): N_(
        "Nothing was settled: another settlement took some of these vouchers at the same "
        "time. Run the command again."),
    ("not_found", "claim"): N_("No claim has the number %(number)s."),
    ("course_not_found", None): N_("No course has the code “%(course)s”."),
    ("claim_not_allowed", "class_not_ended"): N_(
        "Class %(course)s ends on %(ends_on)s: it can be claimed from the day after."),
    ("claim_not_allowed", "nothing_to_claim"): N_(
        "Nothing to claim: class %(course)s has no completed vouchers. No file was "
        "written."),
    ("claim_not_allowed", "already_claimed"): N_(
        "Already claimed in claim %(reference)s: a class, and each trainee, is claimed "
        "once (QJ2019 (二十三)). No file was written."),
    ("claim_not_allowed", "already_paid"): N_(
        "Claim %(reference)s was already marked paid (%(paid_at)s)."),
    ("advance_not_allowed", "not_project_training"): N_(
        "Class %(course)s has a fee: an advance is for project training bought by tender, "
        "which is free (%(source)s)."),
    ("advance_not_allowed", "no_project_trainees"): N_(
        "Class %(course)s has no enrolled trainee whose group (%(groups)s) the bureau has "
        "verified: nothing to advance (%(source)s)."),
    ("advance_not_allowed", "class_ended"): N_(
        "Class %(course)s ended on %(ends_on)s: claim it instead of asking for an "
        "advance."),
    ("advance_not_allowed", "already_advanced"): N_(
        "Class %(course)s already had advance %(reference)s: a class is advanced once."),
    ("advance_not_allowed", "already_claimed"): N_(
        "Class %(course)s is already claimed (%(reference)s): no advance any more."),
    ("advance_not_allowed", "no_rate"): N_(
        "The county has set no amount for the certificate of class %(course)s: nothing "
        "to advance."),
}
REFUSED = N_("That could not be done (%(code)s).")
STATUSES = {
    VoucherStatus.ISSUED: N_("issued"),
    VoucherStatus.REDEEMED: N_("enrolled"),
    VoucherStatus.COMPLETED: N_("completed"),
    VoucherStatus.SETTLED: N_("settled"),
    VoucherStatus.CANCELLED: N_("cancelled"),
    VoucherStatus.EXPIRED: N_("expired"),
    VoucherStatus.REVOKED: N_("revoked"),
}


def refuse(error: DomainError, t: Translator, **context: object) -> NoReturn:
    """One clear line on stderr, exit code 1."""
    key = error.data.get("reason") or error.data.get("kind")
    message = (REFUSALS.get((error.code, key)) or REFUSALS.get((error.code, None))
               or REFUSED)
    params = {"code": error.code, **error.data, **context}
    if "status" in params:
        params["status"] = t._(STATUSES[VoucherStatus(params["status"])])
    if "certificate_kind" in params:
        params["certificate"] = t._(CERTIFICATES[CertificateKind(params["certificate_kind"])])
    click.echo(t._(message, **params), err=True)
    raise click.exceptions.Exit(1)


def write_on_commit(out_file: Path, work: Callable[[Path], T], t: Translator, *,
                    not_done: str, **context: object) -> T:
    """``work(partial)`` runs one transaction and writes the file to ``partial``, beside
    ``out_file``, while it is open; the file is renamed into place once it commits: a failed
    write changes nothing, a failed commit leaves no file. A refused operation, or a file that
    cannot be written (``not_done``, with %(file)s and %(error)s): one line on stderr, exit
    code 1."""
    partial = out_file.with_name(out_file.name + ".part")
    partial.unlink(missing_ok=True)  # left by a run that was killed: not this run's file
    is_committed = False
    try:
        result = work(partial)
        is_committed = True
    except DomainError as error:
        refuse(error, t, **context)
    except OSError as error:
        click.echo(t._(not_done, file=out_file, error=error.strerror or error), err=True)
        raise click.exceptions.Exit(1) from None
    finally:
        if not is_committed:
            partial.unlink(missing_ok=True)
    if partial.exists():
        partial.replace(out_file)
    return result

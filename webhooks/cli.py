"""Commands of `flask --app wsgi …`: migrate, load the demo, create the menu, run the worker."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from bot.labels import GROUPS
from locales import N_, Translator, translator
from locales.amounts import amount_words
from models.attendance import PROXY_SIGNING_SHARE, attendance_sheet, invite_inspector, oversight
from models.audit import Channel
from models.cadres import invite_cadre
from models.catalogue import CertificateKind
from models.course_import import ImportResult, import_courses
from models.courses import has_courses
from models.demo import load_demo
from models.demo_history import load_history
from models.errors import CourseFileRejected, CourseNotFound, DomainError
from models.invitations import INVITATION_DAYS
from models.persons import Group, HouseholdKind
from models.settlement import settle, settlement_rates
from models.staff import invite_staff
from models.verification import decide_group
from models.vouchers import VoucherStatus, revoke_voucher
from webhooks import backup_cli, qr, worker
from webhooks.admin import commands as desk_commands
from webhooks.config import PROJECT_ROOT
from webhooks.course_import_report import (
    CERTIFICATES,
    LANGUAGES,
    rejection_lines,
    summary_line,
)
from webhooks.exports import DEMO_RATES, attendance_workbook, settlement_workbook
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


def load_demo_data(services: Services, *, only_if_empty: bool, history: bool = False) -> bool:
    """The demo county, and with ``history`` its year of history (models.demo_history), in one
    transaction. History is made up: never in production (refused with DemoRefused)."""
    if history and services.config.is_production:
        raise DemoRefused()
    with services.sessions.begin() as db:
        if only_if_empty and has_courses(db):
            return False
        load_demo(db, vault=services.vault, now=services.clock.now(),
                  today=services.clock.today())
        if history:
            load_history(db, vault=services.vault, now=services.clock.now())
    return True


class DemoRefused(Exception):
    """The demo's made-up history asked for in production."""


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
    app.cli.add_command(desk_commands.group)
    backup_cli.register(app)

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
    @click.option("--history", is_flag=True,
                  help="With a year of made-up history (classes, trainees, claims, follow-up, "
                       "job pushes): for a demo only, refused in production.")
    def demo_load(if_empty: bool, history: bool) -> None:
        """Load 罗平县, its categories, targets, institutions and courses (idempotent)."""
        try:
            loaded = load_demo_data(current(), only_if_empty=if_empty, history=history)
        except DemoRefused:
            raise click.ClickException(
                "the demo history is made up: it is never loaded with PEIXUN_ENV=production"
            ) from None
        if loaded:
            click.echo("demo data loaded" + (" with a year of history" if history else ""))
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
        t = translator(LANGUAGES["zh"])
        scene, url = invitation(t, "cadre", lambda db: invite_cadre(
            db, township_code=township, village=village, now=services.clock.now()))
        click.echo(qr.ascii_art(url))
        click.echo(f"scene {scene} for {village}; valid {INVITATION_DAYS} days, once")
        if svg_file:
            svg_file.write_text(qr.svg(url), encoding="utf-8")
            click.echo(f"written to {svg_file}")

    # --- the bureau: settling vouchers, revoking one, inviting institution staff ------------

    # What the bureau reads when an operation is refused: (code, reason or kind) -> message.
    bureau_errors: dict[tuple[str, str | None], str] = {
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
    }
    bureau_statuses = {
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
        message = (bureau_errors.get((error.code, key))
                   or bureau_errors.get((error.code, None))
                   or N_("That could not be done (%(code)s)."))
        params = {"code": error.code, **error.data, **context}
        if "status" in params:
            params["status"] = t._(bureau_statuses[VoucherStatus(params["status"])])
        if "certificate_kind" in params:
            params["certificate"] = t._(CERTIFICATES[CertificateKind(params["certificate_kind"])])
        click.echo(t._(message, **params), err=True)
        raise click.exceptions.Exit(1)

    def invitation(t: Translator, kind: str, make: Callable[[Session], str]) -> tuple[str, str]:
        """A one-time invitation (``make`` it, its token) and its WeChat QR code, made together:
        if WeChat's API cannot be reached or refuses, the invitation is rolled back and one clear
        line goes to stderr, exit code 1 — no traceback, nothing half made. Gives (scene, url)."""
        services = current()
        try:
            with services.sessions.begin() as db:
                scene = f"{kind}:{make(db)}"
                url = invitation_qr_url(services, scene)
        except DomainError as error:
            refuse(error, t)
        except WeChatClientException as error:
            click.echo(t._("No invitation was made: WeChat refused to create its QR code (error "
                           "%(code)s). Check WECHAT_APP_ID and WECHAT_APP_SECRET, then run the "
                           "command again.", code=error.errcode or "HTTP"), err=True)
            raise click.exceptions.Exit(1) from None
        except OSError as error:  # requests' connection errors and timeouts are OSErrors
            click.echo(t._("No invitation was made: WeChat's API could not be reached to create "
                           "its QR code (%(error)s). Check the network and WECHAT_API_BASE_URL, "
                           "then run the command again.", error=type(error).__name__), err=True)
            raise click.exceptions.Exit(1) from None
        return scene, url

    language = click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default="zh",
                            show_default=True, help="The language of the output.")
    day = click.DateTime(formats=["%Y-%m-%d"])

    @app.cli.group("vouchers")
    def vouchers_group() -> None:
        """Training vouchers: the bureau's side."""

    @vouchers_group.command("settle")
    @click.option("--institution", required=True, help="Institution code, e.g. lp-pes.")
    @click.option("--from", "period_start", type=day, required=True,
                  help="First day of the period (YYYY-MM-DD), local time.")
    @click.option("--to", "period_end", type=day, required=True,
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
        # Written beside the target while the transaction is open, renamed once it commits:
        # a failed write settles nothing, a failed commit leaves no sheet.
        partial = out_file.with_name(out_file.name + ".part")
        is_committed = False
        try:
            with services.sessions.begin() as db:
                result = settle(db, institution_code=institution,
                                period_start=period_start.date(), period_end=period_end.date(),
                                now=services.clock.now(), channel=Channel.CLI)
                if result.rows:
                    partial.write_bytes(settlement_workbook(result, t))
            is_committed = True
        except DomainError as error:
            refuse(error, t)
        except OSError as error:
            click.echo(t._("Nothing was settled: %(file)s could not be written (%(error)s).",
                           file=out_file, error=error.strerror or error), err=True)
            raise click.exceptions.Exit(1) from None
        finally:
            if not is_committed:
                partial.unlink(missing_ok=True)
        if not result.rows:
            click.echo(t._("Nothing to settle: %(institution)s has no completed vouchers from "
                           "%(start)s to %(end)s that are not settled yet. No file was written.",
                           institution=result.institution_display_name(t.locale),
                           start=t.day(result.period_start),
                           end=t.day(result.period_end)))
            return
        partial.replace(out_file)
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

    @vouchers_group.command("revoke")
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

    @app.cli.group("staff")
    def staff_group() -> None:
        """Staff of training institutions."""

    @staff_group.command("invite")
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

    # --- the bureau: claims of ended classes, their due and payment dates ---------------------
    # Imported here: this section is the only part of the file that needs them.
    from models.claims import (
        PAY_WITHIN_WORKING_DAYS,
        claim_by_number,
        claim_policy,
        classes_to_claim,
        make_claim,
        mark_paid,
        overdue_claims,
        request_advance,
    )
    from webhooks.exports import claim_summary, claim_workbook

    bureau_errors.update({
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
    })

    @app.cli.group("claims")
    def claims_group() -> None:
        """Claims of ended classes (补贴申领): made, followed up, paid."""

    @claims_group.command("make")
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
        # Written beside the target while the transaction is open, renamed once it commits.
        partial = out_file.with_name(out_file.name + ".part")
        is_committed = False
        try:
            with services.sessions.begin() as db:
                made = make_claim(db, course_code=course_code, now=services.clock.now(),
                                  channel=Channel.CLI)
                claim = claim_by_number(db, number=made.number)
                partial.write_bytes(claim_workbook(claim, claim.lines, t))
                lines, summary = len(claim.lines), claim_summary(claim, t)
            is_committed = True
        except DomainError as error:
            refuse(error, t, course=course_code)
        except OSError as error:
            click.echo(t._("Nothing was claimed: %(file)s could not be written (%(error)s).",
                           file=out_file, error=error.strerror or error), err=True)
            raise click.exceptions.Exit(1) from None
        finally:
            if not is_committed:
                partial.unlink(missing_ok=True)
        partial.replace(out_file)
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

    @claims_group.command("advance")
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

    @claims_group.command("overdue")
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

    @claims_group.command("paid")
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

    # --- the bureau: attendance sheets, oversight of classes, inspectors ---------------------

    @app.cli.group("attendance")
    def attendance_group() -> None:
        """Attendance: the sheet a class's teacher signs, the bureau's oversight of classes."""

    @attendance_group.command("sheet")
    @click.option("--course", "course_code", required=True,
                  help="Course code, e.g. lp-2026-today.")
    @click.option("--out", "out_file", required=True,
                  type=click.Path(dir_okay=False, writable=True, path_type=Path),
                  help="The attendance sheet to write (.xlsx), to print and sign.")
    @language
    def attendance_write_sheet(course_code: str, out_file: Path, lang: str) -> None:
        """Write a class's attendance sheet: every session, every trainee, each mark (check-in
        time, by hand with its reason, absent), the totals and the signature line."""
        services = current()
        t = translator(LANGUAGES[lang])
        try:
            with services.sessions.begin() as db:
                sheet = attendance_sheet(db, course_code=course_code,
                                         now=services.clock.now())
                content = attendance_workbook(sheet, t)
        except CourseNotFound:
            click.echo(t._("No course has the code “%(course)s”.", course=course_code), err=True)
            raise click.exceptions.Exit(1) from None
        try:
            out_file.write_bytes(content)
        except OSError as error:
            click.echo(t._("%(file)s could not be written (%(error)s).", file=out_file,
                           error=error.strerror or error), err=True)
            raise click.exceptions.Exit(1) from None
        click.echo(t._("Attendance sheet of %(course)s: trainees %(trainees)s, sessions "
                       "%(sessions)s, marks made by hand %(manual)s.",
                       course=sheet.course.code, trainees=len(sheet.trainees),
                       sessions=len(sheet.sessions), manual=len(sheet.manual_marks)))
        click.echo(t._("Written to %(file)s.", file=out_file))

    @attendance_group.command("oversight")
    @language
    def attendance_oversight(lang: str) -> None:
        """One line per class that has started: its marks, the share made by hand (flagged
        from 20%: a warning sign of 代签) and its spot checks (flagged while there are none:
        every class is checked, YN2021 三(三))."""
        services = current()
        t = translator(LANGUAGES[lang])
        today = services.clock.today()
        lines = []
        with services.sessions.begin() as db:
            for line in oversight(db):
                if line.course.starts_on > today:
                    continue
                text = t._("%(code)s %(course)s — marks: %(marks)s, by hand: %(share)s, spot "
                           "checks: %(checks)s", code=line.course.code,
                           course=line.course.display_name(t.locale), marks=line.marks,
                           share=f"{line.manual_share:.0%}", checks=line.spot_checks)
                flags = []
                if line.no_smartphone:
                    flags.append(t._("无智能手机 (counted apart): %(count)s",
                                     count=line.no_smartphone))
                if line.marks and line.manual_share >= PROXY_SIGNING_SHARE:
                    flags.append(t._("⚠ check for proxy signing"))
                if not line.spot_checks:
                    flags.append(t._("⚠ no spot check yet"))
                lines.append("  ".join([text, *flags]))
        for text in lines or [t._("No class has started yet.")]:
            click.echo(text)

    @app.cli.group("inspectors")
    def inspectors_group() -> None:
        """The bureau's inspectors (督查), who spot-check classes."""

    @inspectors_group.command("invite")
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

    @app.cli.group("groups")
    def groups_group() -> None:
        """The groups people declared (脱贫劳动力, 就业困难人员 …), verified by the bureau."""

    @groups_group.command("verify")
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

    @app.cli.command("worker")
    def run_worker() -> None:
        """Send queued messages until stopped (Ctrl-C)."""
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            worker.run(current(), stop)
        except KeyboardInterrupt:
            stop.set()

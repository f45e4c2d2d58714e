"""A class's subsidy claim, which the institution signs and the bureau pays by (`flask claims
make`, and the desk's claim export)."""

from __future__ import annotations

import logging
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from documents.cells import (
    write,
)
from documents.printed import (
    AMOUNT_FORMAT,
    BOX,
    CENTRE,
    DEMO_RATES,
    HEADER_FILL,
    NOTHING,
    SUBTITLE_ROW,
    TITLE_ROW,
    WRAP,
    signed_and_printable,
    text_line,
)
from locales import N_, Translator
from models.claims import (
    CLAIM_WITHIN_WORKING_DAYS,
    PAY_WITHIN_WORKING_DAYS,
    Claim,
    ClaimLine,
    LineNote,
    claim_policy,
)
from models.policy import settlement_rates

logger = logging.getLogger(__name__)

CLAIM_COLUMNS = (
    (N_("No."), 5),
    (N_("Voucher no."), 16),
    (N_("Name"), 10),
    (N_("ID number (masked)"), 21),
    (N_("Days attended"), 9),
    (N_("Training subsidy (yuan)"), 12),
    (N_("Appraisal subsidy (yuan)"), 12),
    (N_("Living allowance (yuan)"), 12),
    (N_("Transport allowance (yuan)"), 12),
    (N_("Total (yuan)"), 12),
    (N_("Note"), 22),
)
CLAIM_DATES_ROW, CLAIM_HEADER_ROW = 3, 4
FIRST_AMOUNT_COLUMN = 6  # the training subsidy; the amounts run to the total
CLAIM_NOTES = {
    LineNote.GROUP_NOT_VERIFIED: N_("group not verified: no allowance"),
    LineNote.FACTS_MISSING: N_("household kind or places not given: no allowance"),
    LineNote.ALREADY_SETTLED: N_("training already settled"),
    LineNote.SAME_OCCUPATION_LEVEL: N_(
        "same occupation and level paid already: no training subsidy (QJ2019 (十六))"),
}


def claim_workbook(claim: Claim, lines: list[ClaimLine], t: Translator) -> bytes:
    """The claim the institution signs and the bureau pays by: title with its number, the
    class and its dates, the due and payment dates; one row per trainee (masked ID, days
    attended, each amount, total, note); the total row; notes; the signature line. A4
    landscape, one page wide, the header repeated on every page. ``claim`` needs its course
    and institution loaded, each line its voucher and person."""
    book = Workbook()
    sheet = book.active
    sheet.title = t._("Claim")[:31]
    width = len(CLAIM_COLUMNS)
    course = claim.course

    text_line(sheet, TITLE_ROW, width, t._(
        "Subsidy claim %(number)s: %(institution)s", number=claim.number,
        institution=claim.institution.display_name(t.locale)),
        font=Font(bold=True, size=14), alignment=CENTRE)
    sheet.row_dimensions[TITLE_ROW].height = 30
    text_line(sheet, SUBTITLE_ROW, width, t._(
        "Class: %(course)s (%(code)s), %(first)s to %(last)s",
        course=course.display_name(t.locale), code=course.code, first=t.day(course.starts_on),
        last=t.day(claim.class_ended_on)), alignment=CENTRE)
    text_line(sheet, CLAIM_DATES_ROW, width, t._(
        "Claimed on %(claimed)s; due by %(due)s (%(claim_days)s working days after the class "
        "ended); to be paid by %(pay)s (%(pay_days)s working days after the claim)",
        claimed=t.day(claim.claimed_on), due=t.day(claim.due_by),
        claim_days=CLAIM_WITHIN_WORKING_DAYS, pay=t.day(claim.pay_by),
        pay_days=PAY_WITHIN_WORKING_DAYS), alignment=CENTRE)

    for column, (header, chars) in enumerate(CLAIM_COLUMNS, start=1):
        cell = write(sheet, CLAIM_HEADER_ROW, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), HEADER_FILL, BOX, CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = chars
    sheet.row_dimensions[CLAIM_HEADER_ROW].height = 30

    row_no = CLAIM_HEADER_ROW
    for seq, line in enumerate(lines, start=1):
        row_no = CLAIM_HEADER_ROW + seq
        note = t._(CLAIM_NOTES[line.note]) if line.note in CLAIM_NOTES else ""
        values = (seq, line.voucher.number, line.person.name or NOTHING,
                  line.person.id_masked or NOTHING, line.days_attended, line.training_yuan,
                  line.appraisal_yuan, line.living_yuan, line.transport_yuan, line.total_yuan,
                  note)
        for column, value in enumerate(values, start=1):
            cell = write(sheet, row_no, column, value)
            cell.border, cell.alignment = BOX, WRAP
            if FIRST_AMOUNT_COLUMN <= column < width:
                cell.number_format = AMOUNT_FORMAT
        sheet.cell(row_no, 1).alignment = CENTRE

    total_row = row_no + 1
    write(sheet, total_row, 1, t.ngettext("Total (%(num)s trainee)", "Total (%(num)s trainees)",
                                        len(lines)))
    sheet.merge_cells(start_row=total_row, start_column=1, end_row=total_row,
                      end_column=FIRST_AMOUNT_COLUMN - 1)
    sums = [sum((getattr(line, name) for line in lines), Decimal(0)) for name in
            ("training_yuan", "appraisal_yuan", "living_yuan", "transport_yuan", "total_yuan")]
    for offset, value in enumerate(sums):
        write(sheet, total_row, FIRST_AMOUNT_COLUMN + offset, value).number_format = AMOUNT_FORMAT
    for column in range(1, width + 1):
        cell = sheet.cell(total_row, column)
        cell.font, cell.border = Font(bold=True), BOX
    sheet.cell(total_row, 1).alignment = CENTRE
    total_row = _advance_rows(sheet, claim, t, total_row=total_row, width=width)

    notes = [*claim_summary(claim, t),
             t._("Training and appraisal subsidy by the certificate obtained; living and "
                 "transport allowances per day attended, for trainees whose group the bureau "
                 "has verified (QJ2020 五(一)(二)). Each trainee is claimed once for a class "
                 "(QJ2019 (二十三)).")]
    if settlement_rates().is_demo:
        notes.append(t._(DEMO_RATES))
    return signed_and_printable(book, sheet, t, notes=notes, total_row=total_row,
                                width=width, header_row=CLAIM_HEADER_ROW)


def claim_summary(claim: Claim, t: Translator) -> list[str]:
    """The claim's pass rate and what it pays (QJ2020 五(二)), whether those shares are demo
    values, and the advance and balance: for the sheet and the command alike."""
    texts = []
    if claim.pass_rate is not None:
        policy = claim_policy()
        certified = sum(1 for line in claim.lines if line.voucher.certified)
        texts.append(t.ngettext(
            "Pass rate %(rate)s: %(certified)s of %(num)s trainee obtained the certificate; "
            "%(share)s of the training subsidy is paid (%(source)s).",
            "Pass rate %(rate)s: %(certified)s of %(num)s trainees obtained the certificate; "
            "%(share)s of the training subsidy is paid (%(source)s).", len(claim.lines),
            rate=_share(claim.pass_rate), certified=certified,
            share=_share(claim.pass_share or 1), source=policy.pass_rate_source))
        if policy.pass_rate_is_demo and claim.class_ended_on >= policy.effective_from:
            texts.append(t._("Demo amounts (演示金额): the shares paid by pass rate are the "
                             "project's example, not the county's."))
    if claim.advance_yuan:
        texts.append(t._("Advanced while the class ran: %(advance)s (%(source)s). Still to pay: "
                         "%(balance)s.", advance=t.money(claim.advance_yuan),
                         balance=t.money(claim.balance_yuan),
                         source=claim_policy().advance_source)
                     if claim.balance_yuan >= 0 else
                     t._("Advanced while the class ran: %(advance)s (%(source)s), more than the "
                         "claim: %(back)s to pay back.", advance=t.money(claim.advance_yuan),
                         back=t.money(-claim.balance_yuan),
                         source=claim_policy().advance_source))
    return texts


def _share(value: Decimal) -> str:
    return f"{value * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _advance_rows(sheet: Worksheet, claim: Claim, t: Translator, *, total_row: int,
                  width: int) -> int:
    """Under the total: the advance already paid and the balance, as figures in the total's
    column; returns the last row written."""
    if not claim.advance_yuan:
        return total_row
    rows = ((t._("Advance already paid"), -claim.advance_yuan),
            (t._("Balance to pay (below 0: to pay back)"), claim.balance_yuan))
    for offset, (label, amount) in enumerate(rows, start=1):
        row = total_row + offset
        write(sheet, row, 1, label).font = Font(bold=True)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width - 2)
        cell = write(sheet, row, width - 1, amount)
        cell.number_format, cell.font = AMOUNT_FORMAT, Font(bold=True)
        for column in range(1, width + 1):
            sheet.cell(row, column).border = BOX
    return total_row + len(rows)

"""A settlement as the Excel sheet a clerk signs (`flask vouchers settle`)."""

from __future__ import annotations

import logging

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from documents.cells import (
    write,
)
from documents.printed import (
    AMOUNT_FORMAT,
    BOX,
    CENTRE,
    DEMO_RATES,
    HEADER_FILL,
    HEADER_ROW,
    SUBTITLE_ROW,
    TITLE_ROW,
    WRAP,
    signed_and_printable,
    text_line,
)
from locales import N_, Translator
from models.settlement import QJ2019_ONCE, SettlementResult, SettlementRow
from vocabulary.labels import CERTIFICATES

logger = logging.getLogger(__name__)

# (header, column width in characters) in the order of the sheet.
SETTLEMENT_COLUMNS = (
    (N_("No."), 6),
    (N_("Voucher no."), 16),
    (N_("Name"), 10),
    (N_("ID number (masked)"), 21),
    (N_("Course"), 34),
    # The course's planned hours, named as such: attendance is not recorded yet.
    (N_("Course hours"), 10),
    (N_("Certificate"), 26),
    (N_("Certificate no."), 20),
    (N_("Amount (yuan)"), 13),
)


def settlement_workbook(result: SettlementResult, t: Translator) -> bytes:
    """One sheet: title, header, one row per voucher, total, notes, signature line; A4
    landscape, one page wide, the header repeated on every page."""
    book = Workbook()
    sheet = book.active
    sheet.title = t._("Settlement")[:31]
    width = len(SETTLEMENT_COLUMNS)

    text_line(sheet, TITLE_ROW, width, t._(
        "Training voucher settlement: %(institution)s, %(start)s to %(end)s",
        institution=result.institution_display_name(t.locale),
        start=t.day(result.period_start), end=t.day(result.period_end)),
        font=Font(bold=True, size=14), alignment=CENTRE)
    sheet.row_dimensions[TITLE_ROW].height = 30
    text_line(sheet, SUBTITLE_ROW, width, t._(
        "Settlement no. %(number)s, made on %(day)s", number=result.settlement_id or "—",
        day=t.day(result.created_at.date())), alignment=CENTRE)

    for column, (header, chars) in enumerate(SETTLEMENT_COLUMNS, start=1):
        cell = write(sheet, HEADER_ROW, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), HEADER_FILL, BOX, CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = chars

    row_no = HEADER_ROW
    for seq, row in enumerate(result.rows, start=1):
        row_no = HEADER_ROW + seq
        for column, value in enumerate(_cells(seq, row, t), start=1):
            cell = write(sheet, row_no, column, value)
            cell.border, cell.alignment = BOX, WRAP
        sheet.cell(row_no, 1).alignment = CENTRE
        sheet.cell(row_no, width).number_format = AMOUNT_FORMAT

    total_row = row_no + 1
    write(sheet, total_row, 1, t.ngettext("Total (%(num)s voucher)", "Total (%(num)s vouchers)",
                                        result.voucher_count))
    sheet.merge_cells(f"A{total_row}:{get_column_letter(width - 1)}{total_row}")
    total = write(sheet, total_row, width, result.total_yuan)
    total.number_format = AMOUNT_FORMAT
    for column in range(1, width + 1):
        cell = sheet.cell(total_row, column)
        cell.font, cell.border = Font(bold=True), BOX
    sheet.cell(total_row, 1).alignment = CENTRE

    notes = [t._("Amounts: the county's training subsidy by certificate kind and level, with the "
                 "appraisal subsidy; a trainee without a certificate earns none (QJ2020 五(二)).")]
    if result.is_demo_rates:
        notes.append(t._(DEMO_RATES))
    return signed_and_printable(book, sheet, t, notes=notes, total_row=total_row,
                                width=width, header_row=HEADER_ROW)


def _cells(seq: int, row: SettlementRow, t: Translator) -> list[object]:
    return [seq, row.voucher_number, row.trainee_name, row.trainee_id_masked,
            row.course_display_name(t.locale), row.course_hours, _certificate(row, t),
            row.certificate_no or "", row.amount_yuan]


def _certificate(row: SettlementRow, t: Translator) -> str:
    if not row.is_certified:
        return t._("none (appraisal failed)")
    name = t._(CERTIFICATES[row.certificate_kind])
    if row.certificate_level:
        name = t._("%(certificate)s (%(level)s)", certificate=name, level=row.certificate_level)
    if row.paid_with:
        return t._("%(certificate)s: the same occupation and level was paid with voucher "
                   "%(number)s, so nothing is paid (%(source)s)", certificate=name,
                   number=row.paid_with, source=QJ2019_ONCE)
    return name

"""Documents the bureau prints: a settlement as an Excel sheet a clerk signs, in the reader's
language (every visible word through the translator, message ids in English)."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from locales import N_, Translator
from models.settlement import SettlementResult, SettlementRow
from webhooks.course_import_report import CERTIFICATES

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
AMOUNT_FORMAT = "0.00"
TITLE_ROW, SUBTITLE_ROW, HEADER_ROW = 1, 2, 3

_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", start_color="D9D9D9")
_WRAP = Alignment(vertical="center", wrap_text=True)
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


def settlement_workbook(result: SettlementResult, t: Translator) -> bytes:
    """One sheet: title, header, one row per voucher, total, notes, signature line; A4
    landscape, one page wide, the header repeated on every page."""
    book = Workbook()
    sheet = book.active
    sheet.title = t._("Settlement")[:31]
    width = len(SETTLEMENT_COLUMNS)
    last = get_column_letter(width)

    _line(sheet, TITLE_ROW, width, t._(
        "Training voucher settlement: %(institution)s, %(start)s to %(end)s",
        institution=result.institution_display_name(t.locale),
        start=t.day(result.period_start), end=t.day(result.period_end)),
        font=Font(bold=True, size=14), alignment=_CENTRE)
    sheet.row_dimensions[TITLE_ROW].height = 30
    _line(sheet, SUBTITLE_ROW, width, t._(
        "Settlement no. %(number)s, made on %(day)s", number=result.settlement_id or "—",
        day=t.day(result.created_at.date())), alignment=_CENTRE)

    for column, (header, chars) in enumerate(SETTLEMENT_COLUMNS, start=1):
        cell = sheet.cell(HEADER_ROW, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), _HEADER_FILL, _BOX, _CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = chars

    row_no = HEADER_ROW
    for seq, row in enumerate(result.rows, start=1):
        row_no = HEADER_ROW + seq
        for column, value in enumerate(_cells(seq, row, t), start=1):
            cell = sheet.cell(row_no, column, value)
            cell.border, cell.alignment = _BOX, _WRAP
        sheet.cell(row_no, 1).alignment = _CENTRE
        sheet.cell(row_no, width).number_format = AMOUNT_FORMAT

    total_row = row_no + 1
    sheet.cell(total_row, 1, t.ngettext("Total (%(num)s voucher)", "Total (%(num)s vouchers)",
                                        result.voucher_count))
    sheet.merge_cells(f"A{total_row}:{get_column_letter(width - 1)}{total_row}")
    total = sheet.cell(total_row, width, result.total_yuan)
    total.number_format = AMOUNT_FORMAT
    for column in range(1, width + 1):
        cell = sheet.cell(total_row, column)
        cell.font, cell.border = Font(bold=True), _BOX
    sheet.cell(total_row, 1).alignment = _CENTRE

    notes = [t._("Amounts: the county's training subsidy by certificate kind and level, with the "
                 "appraisal subsidy; a trainee without a certificate earns none (QJ2020 五(二)).")]
    if result.is_demo_rates:
        notes.append(t._("These are demo rates, not the county's: do not pay by this sheet."))
    for offset, note in enumerate(notes, start=2):
        _line(sheet, total_row + offset, width, note, alignment=_WRAP)
        sheet.row_dimensions[total_row + offset].height = 30
    signature_row = total_row + len(notes) + 3
    _line(sheet, signature_row, width,
          t._("Prepared by:                Reviewed by:                Date:"),
          font=Font(size=12), alignment=Alignment(vertical="center"))
    sheet.row_dimensions[signature_row].height = 36

    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.print_area = f"A1:{last}{signature_row}"
    sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cells(seq: int, row: SettlementRow, t: Translator) -> list[object]:
    return [seq, row.voucher_number, row.trainee_name, row.trainee_id_masked,
            row.course_display_name(t.locale), row.course_hours, _certificate(row, t),
            row.certificate_no or "", row.amount_yuan]


def _certificate(row: SettlementRow, t: Translator) -> str:
    if not row.is_certified:
        return t._("none (appraisal failed)")
    name = t._(CERTIFICATES[row.certificate_kind])
    if row.certificate_level:
        return t._("%(certificate)s (%(level)s)", certificate=name, level=row.certificate_level)
    return name


def _line(sheet: Worksheet, row: int, width: int, text: str, *, font: Font | None = None,
          alignment: Alignment | None = None) -> None:
    """A line of text across the whole table."""
    cell = sheet.cell(row, 1, text)
    if font:
        cell.font = font
    if alignment:
        cell.alignment = alignment
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)

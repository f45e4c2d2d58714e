"""What every printed sheet shares: the boxes, fills and alignments, the amount format, the
lines across a table, the notes and signature line under it, and a page a clerk prints as it
is (A4 landscape, one page wide, the header repeated on every page)."""

from __future__ import annotations

import io
import logging

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from documents.cells import (
    write,
)
from locales import N_, Translator

logger = logging.getLogger(__name__)

AMOUNT_FORMAT = "0.00"
# Under every sheet whose amounts come from the demo rates (issue 16, item 10).
DEMO_RATES = N_("Demo amounts (演示金额): these are the project's example rates, not the "
                "county's. Do not pay by this sheet until the county loads its own.")


THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", start_color="D9D9D9")
WRAP = Alignment(vertical="center", wrap_text=True)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


NOTHING = "—"  # an empty cell
TITLE_ROW, SUBTITLE_ROW, HEADER_ROW = 1, 2, 3


def text_line(sheet: Worksheet, row: int, width: int, text: str, *, font: Font | None = None,
              alignment: Alignment | None = None) -> None:
    """A line of text across the whole table."""
    cell = write(sheet, row, 1, text)
    if font:
        cell.font = font
    if alignment:
        cell.alignment = alignment
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)


def signed_and_printable(book, sheet, t: Translator, *, notes: list[str], total_row: int,
                         width: int, header_row: int) -> bytes:
    """Notes under the total, a line for the signatures, and a page a clerk prints as it is:
    A4 landscape, one page wide, the header repeated on every page."""
    for offset, note in enumerate(notes, start=2):
        text_line(sheet, total_row + offset, width, note, alignment=WRAP)
        sheet.row_dimensions[total_row + offset].height = 30
    signature_row = total_row + len(notes) + 3
    text_line(sheet, signature_row, width,
              t._("Prepared by:                Reviewed by:                Date:"),
              font=Font(size=12), alignment=Alignment(vertical="center"))
    sheet.row_dimensions[signature_row].height = 36
    return printable(book, sheet, freeze=f"A{header_row + 1}",
                     title_rows=f"{header_row}:{header_row}",
                     area=f"A1:{get_column_letter(width)}{signature_row}")


def printable(book, sheet, *, freeze: str, title_rows: str, area: str) -> bytes:
    """A sheet a clerk prints as it is: A4 landscape, one page wide, the header rows repeated
    on every page; returned as the .xlsx file's bytes."""
    print_setup(sheet, freeze=freeze, title_rows=title_rows, area=area)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def print_setup(sheet, *, freeze: str, title_rows: str, area: str | None) -> None:
    """_printable's page setup, for workbooks of several sheets and write-only ones (where the
    freeze and the fit to page must come before the first row; the area once it is known)."""
    sheet.freeze_panes = freeze
    sheet.print_title_rows = title_rows
    if area:
        sheet.print_area = area
    sheet.page_setup.orientation = Worksheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True

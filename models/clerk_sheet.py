"""A clerk's spreadsheet (CSV or Excel .xlsx), as the course import and the job-openings import
read it: the header row matched to known columns by any of their names (Chinese, English,
aliases), the rows that are not blank numbered as the spreadsheet numbers them, every cell
read by its column's parser. Every problem becomes a RowError (data, not words), collected
row by row and raised together by the caller's exception class: a file is taken whole or not
at all."""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any, Protocol, TypeVar

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

logger = logging.getLogger(__name__)

FILE = 0  # the row of a problem with the whole file
HEADER = 1  # rows are numbered as the spreadsheet numbers them: the header is row 1
SHOWN_CHARS = 40  # a cell quoted in a problem is cut to this length

Cell = str | int | float | bool | datetime | date | time | None
Rows = list[tuple[int, tuple[Cell, ...]]]


@dataclass(frozen=True)
class RowError:
    """One problem: where it is, and what (``code``, with the numbers in ``params``)."""

    row: int  # the spreadsheet's row number; FILE for the file as a whole
    column: str | None  # the column's English name, or a header as the file spells it
    code: str
    params: dict[str, Any] = field(default_factory=dict)


class Refusal(Protocol):
    """The caller's exception for a refused file (CourseFileRejected, JobFileRejected)."""

    def __call__(self, *, errors: list[RowError]) -> Exception: ...


class CellRejected(Exception):
    """A cell that cannot be read; becomes a RowError naming its row and column."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class SheetColumn(Protocol):
    @property
    def name(self) -> str: ...  # the English header, and the field it fills

    @property
    def is_required(self) -> bool: ...

    @property
    def default(self) -> Any: ...  # the value of a blank cell in a column that is not required

    def parse(self, cell: Cell, known: Any, /) -> Any: ...


C = TypeVar("C", bound=SheetColumn)


# --- cells -----------------------------------------------------------------------------------

def key(text: str) -> str:
    """How names and codes are matched: full-width folded, case and outer spaces ignored."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def text(cell: Cell) -> str:
    if isinstance(cell, bool):
        return "1" if cell else "0"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date | time):
        return cell.isoformat()
    return "" if cell is None else str(cell).strip()


def shown(cell: Cell) -> str:
    """A cell as a problem quotes it."""
    found = text(cell)
    return found if len(found) <= SHOWN_CHARS else found[: SHOWN_CHARS - 1] + "…"


def is_blank(cell: Cell) -> bool:
    return text(cell) == ""


DAY = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def day(cell: Cell, known: Any = None) -> date:
    """A date cell, or a date written 2026-12-01, 2026/12/1, 2026年12月1日."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    match = DAY.fullmatch(key(text(cell)))
    if match:
        try:
            return date(*(int(part) for part in match.groups()))
        except ValueError:  # 2026-13-01, 2026-02-30
            pass
    raise CellRejected("bad_date", value=shown(cell))


# --- the file --------------------------------------------------------------------------------

def file_error(refuse: Refusal, code: str, **params: Any) -> Exception:
    return refuse(errors=[RowError(FILE, None, code, params)])


def _decode(content: bytes, refuse: Refusal) -> str:
    """UTF-8 (Excel's "CSV UTF-8" puts a BOM first), else GB18030 (Chinese Windows Excel)."""
    if b"\x00" in content:  # UTF-16, or not text at all
        raise file_error(refuse, "bad_encoding")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise file_error(refuse, "bad_encoding")


def _csv_rows(content: bytes, refuse: Refusal) -> Iterator[tuple[Cell, ...]]:
    reader = csv.reader(io.StringIO(_decode(content, refuse), newline=""))
    try:
        yield from (tuple(row) for row in reader)
    except csv.Error:
        raise file_error(refuse, "unreadable_csv") from None


# What openpyxl raises on a damaged workbook, while opening it and while reading its rows (the
# sheet is parsed lazily): not a zip or a truncated one (BadZipFile), a damaged member
# (zlib.error, EOFError), a missing part (KeyError), broken XML (ParseError is a SyntaxError),
# a cell or reference that is not what it claims (ValueError, TypeError), no sheet (IndexError).
UNREADABLE_XLSX: tuple[type[Exception], ...] = (
    zipfile.BadZipFile, InvalidFileException, KeyError, IndexError, SyntaxError, ValueError,
    TypeError, OSError, EOFError, zlib.error)


def _xlsx_rows(content: bytes, refuse: Refusal) -> Iterator[tuple[Cell, ...]]:
    """The first worksheet's values (data_only: what formulas last computed)."""
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except UNREADABLE_XLSX:
        raise file_error(refuse, "unreadable_xlsx") from None
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # some writers record a wrong size; read what is there
        yield from sheet.iter_rows(values_only=True)
    except UNREADABLE_XLSX:
        raise file_error(refuse, "unreadable_xlsx") from None
    finally:
        book.close()


READERS: dict[str, Callable[[bytes, Refusal], Iterator[tuple[Cell, ...]]]] = {
    ".csv": _csv_rows,
    ".xlsx": _xlsx_rows,
}


def read_sheet(filename: str, content: bytes, *, suffixes: Sequence[str], max_rows: int,
               headers: Mapping[str, C], columns: Sequence[C], refuse: Refusal
               ) -> tuple[tuple[C | None, ...], Rows]:
    """The column each header cell names (see match_columns) and the rows that are not blank,
    numbered as the spreadsheet numbers them; ``refuse`` with the file's problems if it is
    unusable."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in suffixes:
        raise file_error(refuse, "unknown_extension", ext=suffix or PurePath(filename).name)
    with closing(READERS[suffix](content, refuse)) as rows:
        numbered = enumerate(rows, start=HEADER)
        _, header = next(numbered, (HEADER, ()))
        matched = match_columns(header, headers, columns, refuse)
        body: Rows = []
        for number, cells in numbered:
            if all(is_blank(cell) for cell in cells):
                continue
            if len(body) == max_rows:
                raise file_error(refuse, "too_many_rows", limit=max_rows)
            body.append((number, cells))
    if not body:
        raise file_error(refuse, "no_rows")
    return matched, body


def match_columns(header: tuple[Cell, ...], headers: Mapping[str, C], columns: Sequence[C],
                  refuse: Refusal) -> tuple[C | None, ...]:
    """Which column each header cell names (``headers``: every accepted name, by ``key``);
    ``refuse`` with every problem of the header: unknown, twice, or a required one missing."""
    found = tuple(None if is_blank(cell) else headers.get(key(text(cell))) for cell in header)
    if not any(found):
        raise file_error(refuse, "no_header")
    errors = [RowError(HEADER, text(cell), "unknown_column")
              for cell, column in zip(header, found, strict=True)
              if column is None and not is_blank(cell)]
    named = [column.name for column in found if column]
    errors += [RowError(HEADER, name, "duplicate_column")
               for name, count in Counter(named).items() if count > 1]
    errors += [RowError(HEADER, column.name, "missing_column")
               for column in columns if column.is_required and column.name not in named]
    if errors:
        raise refuse(errors=errors)
    return found


def row_values(columns: tuple[C | None, ...], cells: tuple[Cell, ...]) -> dict[str, Cell]:
    """A row's cells by the name of the column they stand in."""
    return {column.name: cell
            for column, cell in zip(columns, cells, strict=False) if column is not None}


def read_values(given: Mapping[str, Cell], columns: Sequence[SheetColumn], known: Any
                ) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """Every column's value (its default where blank or unreadable), and the problems as
    (column, code, params): a required column left blank, or a cell its parser refuses."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str, dict[str, Any]]] = []
    for column in columns:
        cell = given.get(column.name)
        values[column.name] = column.default
        if is_blank(cell):
            if column.is_required:
                problems.append((column.name, "required", {}))
            continue
        try:
            values[column.name] = column.parse(cell, known)
        except CellRejected as problem:
            problems.append((column.name, problem.code, problem.params))
    return values, problems

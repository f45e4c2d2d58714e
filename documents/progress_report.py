"""The monthly progress against the county's targets (issue 8), by category and by township."""

from __future__ import annotations

import logging
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from documents.cells import (
    write,
)
from documents.ledger import SHARE_FORMAT
from documents.printed import BOX, CENTRE, HEADER_FILL, NOTHING, print_setup, printable, text_line
from locales import N_, Translator
from models.progress import Progress, ProgressRow
from models.targets import TargetMeasure

logger = logging.getLogger(__name__)

_LAGGING_FILL = PatternFill("solid", start_color="F8CBAD")


CATEGORY_FIGURES = (
    (N_("Target (trainings)"), 10), (N_("Trainings"), 10), (N_("This month"), 9),
    (N_("Completed"), 10), (N_("Share reached"), 9), (N_("Qualification certificates"), 12),
    (N_("Special ability certificates"), 12), (N_("Free trainings"), 10))
TOWNSHIP_FIGURES = (
    (N_("Target (trainings)"), 10), (N_("Trainings"), 10), (N_("This month"), 9),
    (N_("Completed"), 10), (N_("Share reached"), 9), (N_("Target (qualification)"), 11),
    (N_("Qualification certificates"), 12), (N_("Target (free)"), 9), (N_("Free trainings"), 10),
    (N_("Target (special ability)"), 11), (N_("Special ability certificates"), 12))


def progress_workbook(report: Progress, t: Translator) -> bytes:
    """Two sheets, by category and by township: the year's targets against what happened to
    the month's end (``report.filters.until``), the share reached, highlighted where it lags
    the calendar; the dashboard's figures (models.progress)."""
    book = Workbook()
    first = book.active
    first.title = t._("By category")[:31]
    _progress_sheet(first, report, t, N_("Category"), CATEGORY_FIGURES, [
        (line, _category_values(line)) for line in report.by_category])
    _progress_sheet(book.create_sheet(t._("By township")[:31]), report, t,
                    N_("Household township"), TOWNSHIP_FIGURES, [(line, _township_values(line))
                                       for line in report.by_township])
    return printable(book, first, freeze="C4", title_rows="3:3", area=first.print_area)


def _category_values(line: ProgressRow) -> list[tuple[Any, bool]]:
    """(value, is a share) per figure column; "trainings" are the enrolled (the dashboard's
    redeemed), the share is of completed trainings."""
    c = line.counts
    return [(line.target, False), (c.redeemed, False), (c.redeemed_in_month, False),
            (c.completed, False), (line.share, True), (c.qualification, False),
            (c.special, False), (c.free, False)]


def _township_values(line: ProgressRow) -> list[tuple[Any, bool]]:
    c = line.counts
    values: list[tuple[Any, bool]] = [
        (line.target, False), (c.redeemed, False), (c.redeemed_in_month, False),
        (c.completed, False), (line.share, True)]
    for measure, reached in ((TargetMeasure.QUALIFICATION, c.qualification),
                             (TargetMeasure.FREE, c.free), (TargetMeasure.SPECIAL, c.special)):
        values += [(line.targets.get(measure), False), (reached, False)]
    return values


def _targets_note(report: Progress, t: Translator) -> str:
    """What the dashboard says of the targets compared (webhooks/templates/admin/dashboard.html)."""
    year, targets_year = report.filters.year, report.targets_year
    if targets_year is None:
        return t._("No targets are loaded: figures are shown without them.")
    if targets_year != year:
        return t._("%(year)s has no targets of its own; they are compared with "
                   "%(targets_year)s's, the latest loaded.", year=year,
                   targets_year=targets_year)
    return ""


def _progress_sheet(sheet: Worksheet, report: Progress, t: Translator, name_header: str,
                    figures, lines: list[tuple[ProgressRow, list]]) -> None:
    width = len(figures) + 2
    until = report.filters.until
    assert until is not None  # a monthly report counts to the month's end
    text_line(sheet, 1, width, t._("Progress against the targets, %(year)s, to %(day)s",
                                   year=report.filters.year, day=t.day(until)),
              font=Font(bold=True, size=14), alignment=CENTRE)
    note = t._(
        "%(share)s of the year has passed by then: a share reached below it is highlighted. "
        "— means no target is loaded.", share=f"{report.elapsed:.0%}")
    text_line(sheet, 2, width, " ".join(filter(None, (note, _targets_note(report, t)))),
              alignment=CENTRE)
    headers = ((N_("No."), 5), (name_header, 18), *figures)
    for column, (header, chars) in enumerate(headers, start=1):
        cell = write(sheet, 3, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), HEADER_FILL, BOX, CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = chars
    sheet.row_dimensions[3].height = 45
    for seq, (line, values) in enumerate(lines, start=1):
        row = 3 + seq
        write(sheet, row, 1, seq).alignment = CENTRE
        write(sheet, row, 2, line.display_name(t.locale))
        for offset, (value, is_share) in enumerate(values):
            cell = write(sheet, row, 3 + offset, NOTHING if value is None else value)
            cell.alignment = CENTRE
            if is_share and value is not None:
                cell.number_format = SHARE_FORMAT
                if value < report.elapsed:
                    cell.fill = _LAGGING_FILL
        for column in range(1, width + 1):
            sheet.cell(row, column).border = BOX
    total_row = 4 + len(lines)
    write(sheet, total_row, 2, t._("Total")).font = Font(bold=True)
    for offset, (_header, _chars) in enumerate(figures):
        values = [v[offset][0] for _line_, v in lines]
        is_share = any(v[offset][1] for _line_, v in lines)
        if not is_share:
            cell = write(sheet, total_row, 3 + offset, sum(x for x in values if x is not None))
            cell.font, cell.alignment = Font(bold=True), CENTRE
    for column in range(1, width + 1):
        sheet.cell(total_row, column).border = BOX
    print_setup(sheet, freeze="C4", title_rows="3:3",
                area=f"A1:{get_column_letter(width)}{total_row}")

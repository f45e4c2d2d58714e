"""The training ledger of a quarter (issue 8), streamed: a write-only sheet, rows appended
chunk by chunk; with the columns and words it shares with a class's record. Headers and words
in the clerk's language (message ids in English)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from documents.cells import (
    streamed_cell,
    streamed_row,
)
from documents.printed import (
    AMOUNT_FORMAT,
    BOX,
    CENTRE,
    DEMO_RATES,
    HEADER_FILL,
    HEADER_ROW,
    NOTHING,
    WRAP,
    print_setup,
    printable,
)
from locales import N_, Translator
from models.catalogue import Course
from models.clock import LOCAL_TZ
from models.ledgers import (
    LedgerRow,
    Quarter,
)
from models.persons import GroupStatus
from models.policy import settlement_rates
from vocabulary.labels import CERTIFICATES, GROUPS, VOUCHER_STATUSES

logger = logging.getLogger(__name__)

DATE_FORMAT = "yyyy-mm-dd"
SHARE_FORMAT = "0%"


# --- words shared by the ledger and the class record ---------------------------------------

SEXES = {"M": N_("male"), "F": N_("female")}
GROUP_STATES = {
    GroupStatus.VERIFIED: N_("verified"),
    GroupStatus.SELF_DECLARED: N_("declared, not verified"),
    GroupStatus.REJECTED: N_("not confirmed"),
}
DELETED = N_("personal data deleted at the person's request")
ID_MASKED, ID_FULL = N_("ID number (masked)"), N_("ID number")


def _groups(row: LedgerRow, t: Translator) -> str:
    return "; ".join(t._("%(group)s (%(state)s)", group=t._(GROUPS[g]),
                         state=t._(GROUP_STATES[s])) for g, s in row.groups)


def _certificate(course: Course, t: Translator) -> str:
    name = t._(CERTIFICATES[course.certificate_kind])
    if course.certificate_level:
        return t._("%(certificate)s (%(level)s)", certificate=name, level=course.certificate_level)
    return name


def _result(row: LedgerRow, t: Translator) -> str:
    """What the trainee obtained: the certificate's number, a failed appraisal, or nothing yet."""
    if row.certified:
        return row.certificate_no or ""
    if row.certified is False:
        return t._("none (appraisal failed)")
    return ""


def _note(row: LedgerRow, t: Translator) -> str:
    notes = []
    if row.has_dropped_out:
        notes.append(t._("dropped out: %(reason)s", reason=row.end_reason or NOTHING))
    if row.name is None:
        notes.append(t._(DELETED))
    return "; ".join(notes)


def _local_day(moment: datetime | None) -> date | None:
    return moment.astimezone(LOCAL_TZ).date() if moment else None


# (header, width, value of a row, number format) of the ledger, in order.
Column = tuple[str, int, Callable[[LedgerRow, Translator], Any], str | None]
PERSON_COLUMNS: tuple[Column, ...] = (
    (N_("Voucher no."), 16, lambda r, t: r.voucher_number, None),
    (N_("Name"), 10, lambda r, t: r.name or NOTHING, None),
    (ID_MASKED, 21, lambda r, t: r.id_masked or NOTHING, None),
    (N_("Sex"), 6, lambda r, t: t._(SEXES[r.sex]) if r.sex in SEXES else "", None),
    (N_("Household township"), 12,
     lambda r, t: r.township.display_name(t.locale) if r.township else "", None),
    (N_("Groups"), 26, _groups, None),
)
CLASS_COLUMNS: tuple[Column, ...] = (
    (N_("Class code"), 14, lambda r, t: r.course.code, None),
    (N_("Course"), 30, lambda r, t: r.course.display_name(t.locale), None),
    (N_("Category"), 16, lambda r, t: r.course.category.display_name(t.locale), None),
    (N_("Institution"), 28, lambda r, t: r.course.institution.display_name(t.locale), None),
    (N_("Occupation"), 14, lambda r, t: (r.course.occupation_en if t.locale.startswith("en")
                                         else r.course.occupation), None),
    (N_("Certificate"), 24, lambda r, t: _certificate(r.course, t), None),
    (N_("Course hours"), 8, lambda r, t: r.course.hours, None),
    (N_("Class starts"), 12, lambda r, t: r.course.starts_on, DATE_FORMAT),
    (N_("Class ends"), 12, lambda r, t: r.course.ends_on, DATE_FORMAT),
    (N_("Class township"), 12, lambda r, t: r.course.township.display_name(t.locale), None),
)
OUTCOME_COLUMNS: tuple[Column, ...] = (
    (N_("Status"), 10, lambda r, t: t._(VOUCHER_STATUSES[r.status]), None),
    (N_("Enrolled on"), 12, lambda r, t: _local_day(r.redeemed_at), DATE_FORMAT),
    (N_("Days attended"), 8, lambda r, t: r.days_attended, None),
    (N_("Hours attended"), 8, lambda r, t: r.hours_attended, None),
    (N_("Completed on"), 12, lambda r, t: _local_day(r.completed_at), DATE_FORMAT),
    (N_("Certificate no."), 20, _result, None),
    (N_("Training subsidy (yuan)"), 11, lambda r, t: r.training_yuan, AMOUNT_FORMAT),
    (N_("Appraisal subsidy (yuan)"), 11, lambda r, t: r.appraisal_yuan, AMOUNT_FORMAT),
    (N_("Living allowance (yuan)"), 11, lambda r, t: r.living_yuan, AMOUNT_FORMAT),
    (N_("Transport allowance (yuan)"), 11, lambda r, t: r.transport_yuan, AMOUNT_FORMAT),
    (N_("Claim / settlement no."), 14, lambda r, t: r.paid_by or "", None),
    (N_("Note"), 24, _note, None),
)
LEDGER_COLUMNS = PERSON_COLUMNS + CLASS_COLUMNS + OUTCOME_COLUMNS
# A class's record names the class once, above its trainees.
TRAINEE_COLUMNS = PERSON_COLUMNS + OUTCOME_COLUMNS


def _with_full_ids(columns: tuple[Column, ...]) -> tuple[Column, ...]:
    """The same columns with the full ID number instead of the masked one, and the phone."""
    result: list[Column] = []
    for column in columns:
        if column[0] == ID_MASKED:
            result.append((ID_FULL, 21, lambda r, t: r.id_number or NOTHING, None))
            result.append((N_("Phone"), 13, lambda r, t: r.phone or "", None))
        else:
            result.append(column)
    return tuple(result)


def _header_cells(sheet, columns: Iterable[tuple], t: Translator) -> list[Cell]:
    cells = []
    for header, _width, *_rest in columns:
        cell = streamed_cell(sheet, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), HEADER_FILL, BOX, CENTRE)
        cells.append(cell)
    return cells


def _value_cell(sheet, value: Any, number_format: str | None) -> Cell:
    cell = streamed_cell(sheet, value)
    cell.border, cell.alignment = BOX, WRAP
    if number_format and value is not None:
        cell.number_format = number_format
    return cell


# --- the training ledger (streamed: a write-only sheet, rows appended chunk by chunk) -------

def _title(t: Translator, quarter: Quarter, county: str | None) -> str:
    """The ledger's title; a province's file of one county names it (printed, the pages of two
    counties must not be mixed up)."""
    days = {"quarter": str(quarter), "first": t.day(quarter.first_day),
            "last": t.day(quarter.last_day)}
    if county:
        return t._("Training ledger %(quarter)s of %(county)s: classes starting from %(first)s "
                   "to %(last)s", county=county, **days)
    return t._("Training ledger %(quarter)s: classes starting from %(first)s to %(last)s",
               **days)


class LedgerBook:
    """The quarter's ledger: title, header, then rows as they come; A4 landscape, one page
    wide, the header repeated on every page. Write-only: memory stays flat however long."""

    def __init__(self, t: Translator, *, quarter: Quarter, total: int,
                 full_ids: bool, county: str | None = None) -> None:
        self.t = t
        self.columns = _with_full_ids(LEDGER_COLUMNS) if full_ids else LEDGER_COLUMNS
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(t._("Training ledger")[:31])
        self.rows = 0
        # Freeze and fit to page must come before the first row of a write-only sheet.
        print_setup(self.sheet, freeze=f"A{HEADER_ROW + 1}",
                    title_rows=f"{HEADER_ROW}:{HEADER_ROW}", area=None)
        for column, (_header, width, *_rest) in enumerate(self.columns, start=2):
            self.sheet.column_dimensions[get_column_letter(column)].width = width
        self.sheet.column_dimensions["A"].width = 6
        title = streamed_cell(self.sheet, _title(t, quarter, county))
        title.font = Font(bold=True, size=14)
        self.sheet.append([title])
        subtitle = t.ngettext(
            "%(num)s trainee-class; ID numbers %(how)s", "%(num)s trainee-classes; ID numbers "
            "%(how)s", total, how=t._("in full (keep this file safe)") if full_ids
            else t._("masked"))
        if settlement_rates().is_demo:  # the training and appraisal amounts are demo rates
            subtitle += " " + t._(DEMO_RATES)
        self.sheet.append(streamed_row(self.sheet, [subtitle]))
        self.sheet.append(_header_cells(self.sheet, [(N_("No."), 6)], t)
                          + _header_cells(self.sheet, self.columns, t))

    def add(self, rows: Iterable[LedgerRow]) -> None:
        for row in rows:
            self.rows += 1
            self.sheet.append([_value_cell(self.sheet, self.rows, None)] + [
                _value_cell(self.sheet, value(row, self.t), fmt)
                for _header, _width, value, fmt in self.columns])

    def discard(self) -> None:
        """Drop the rows written so far: a write-only sheet streams them to a temporary file
        (openpyxl's, clear, full ID numbers too) that only saving the workbook removes; a run
        that stops half way leaves nothing behind on the worker's disk."""
        writer = getattr(self.sheet, "_writer", None)  # made with the first row
        if writer is not None:
            self.sheet.close()  # the sheet's end written, its file closed
            writer.cleanup()

    def finish(self) -> bytes:
        last = get_column_letter(len(self.columns) + 1)
        return printable(self.book, self.sheet, freeze=f"A{HEADER_ROW + 1}",
                         title_rows=f"{HEADER_ROW}:{HEADER_ROW}",
                         area=f"A1:{last}{HEADER_ROW + max(self.rows, 1)}")

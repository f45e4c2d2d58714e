"""The desk's exports as Excel files (issue 8): the training ledger of a quarter, a class's
record, the monthly progress against the targets, the file for the provincial platform; and
the worker's step that makes a queued export chunk by chunk, moving its progress. The claim
list is webhooks/exports.py's claim sheet. Headers and words in the clerk's language (message
ids in English), except the provincial file, which speaks the platform's Chinese."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from bot.labels import GROUPS, VOUCHER_STATUSES
from locales import N_, Translator, translator
from models.attendance import MarkHow
from models.catalogue import Course
from models.claims import Claim, claim_by_number
from models.clock import LOCAL_TZ
from models.errors import DomainError
from models.export_jobs import (
    ExportKind,
    claim_next_job,
    fail_job,
    finish_job,
    record_progress,
    release_job,
)
from models.ledgers import (
    ClassRecord,
    LedgerRow,
    Month,
    Quarter,
    class_record,
    find_course,
    ledger_chunk,
    ledger_count,
    progress_report,
)
from models.persons import GroupStatus
from models.pii import Vault
from models.progress import Progress, ProgressRow, region_scope
from models.regions import Region
from models.settlement import settlement_rates
from models.targets import TargetMeasure
from models.vouchers import VoucherStatus
from webhooks.course_import_report import CERTIFICATES
from webhooks.exports import (
    _BOX,
    _CENTRE,
    _HEADER_FILL,
    _WRAP,
    AMOUNT_FORMAT,
    DEMO_RATES,
    NOTHING,
    _line,
    _print_setup,
    _printable,
    claim_workbook,
)
from webhooks.sheet_cells import streamed_cell, streamed_row, write

logger = logging.getLogger(__name__)

CHUNK = 500  # ledger rows read (and written) per short transaction
DATE_FORMAT = "yyyy-mm-dd"
SHARE_FORMAT = "0%"
PROVINCIAL_FILE = Path(__file__).resolve().parent.parent / "models" / "data" / (
    "provincial_columns.yaml")
_LAGGING_FILL = PatternFill("solid", start_color="F8CBAD")
ZH = "zh_Hans_CN"

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
TITLE_ROW, SUBTITLE_ROW, HEADER_ROW = 1, 2, 3


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
            Font(bold=True), _HEADER_FILL, _BOX, _CENTRE)
        cells.append(cell)
    return cells


def _value_cell(sheet, value: Any, number_format: str | None) -> Cell:
    cell = streamed_cell(sheet, value)
    cell.border, cell.alignment = _BOX, _WRAP
    if number_format and value is not None:
        cell.number_format = number_format
    return cell


# --- the training ledger (streamed: a write-only sheet, rows appended chunk by chunk) -------

class LedgerBook:
    """The quarter's ledger: title, header, then rows as they come; A4 landscape, one page
    wide, the header repeated on every page. Write-only: memory stays flat however long."""

    def __init__(self, t: Translator, *, quarter: Quarter, total: int,
                 full_ids: bool) -> None:
        self.t = t
        self.columns = _with_full_ids(LEDGER_COLUMNS) if full_ids else LEDGER_COLUMNS
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(t._("Training ledger")[:31])
        self.rows = 0
        # Freeze and fit to page must come before the first row of a write-only sheet.
        _print_setup(self.sheet, freeze=f"A{HEADER_ROW + 1}",
                     title_rows=f"{HEADER_ROW}:{HEADER_ROW}", area=None)
        for column, (_header, width, *_rest) in enumerate(self.columns, start=2):
            self.sheet.column_dimensions[get_column_letter(column)].width = width
        self.sheet.column_dimensions["A"].width = 6
        title = streamed_cell(self.sheet, t._(
            "Training ledger %(quarter)s: classes starting from %(first)s to %(last)s",
            quarter=str(quarter), first=t.day(quarter.first_day), last=t.day(quarter.last_day)))
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
        return _printable(self.book, self.sheet, freeze=f"A{HEADER_ROW + 1}",
                          title_rows=f"{HEADER_ROW}:{HEADER_ROW}",
                          area=f"A1:{last}{HEADER_ROW + max(self.rows, 1)}")


# --- a class's record ----------------------------------------------------------------------

SESSION_COLUMNS = ((N_("Day"), 12), (N_("Time"), 13), (N_("Opened at"), 16),
                   (N_("Present"), 9), (N_("Marked absent"), 9), (N_("Marked by hand"), 9),
                   (N_("Spot checks"), 9))
MARK_COLUMNS = ((N_("Day"), 12), (N_("Time"), 13), (N_("Voucher no."), 16), (N_("Name"), 10),
                (N_("Mark"), 9), (N_("How"), 10), (N_("Checked in"), 9),
                (N_("Checked out"), 9), (N_("Hours"), 7), (N_("Reason"), 30))
SPOT_CHECK_COLUMNS = ((N_("Day"), 12), (N_("Time"), 13), (N_("Checked at"), 9),
                      (N_("Inspector"), 12), (N_("Head count seen"), 10),
                      (N_("Checked in then"), 10), (N_("Notes"), 40))
HOW = {MarkHow.SCAN: N_("scan"), MarkHow.MANUAL: N_("by hand")}


def class_record_workbook(record: ClassRecord, t: Translator, *, full_ids: bool) -> bytes:
    """Four sheets: the class (its facts, then everyone ever enrolled and what became of
    them), the sessions with their counts, every attendance mark, the spot checks."""
    book = Workbook()
    _class_sheet(book.active, record, t, full_ids=full_ids)
    course = record.course
    spot_counts: dict[int, int] = {}
    for line in record.spot_checks:
        spot_counts[line.session.id] = spot_counts.get(line.session.id, 0) + 1
    _table(book.create_sheet(t._("Sessions")[:31]), t, SESSION_COLUMNS, [
        (s.session.day, _times(s.session, t),
         t.moment(s.session.opened_at) if s.session.opened_at else "", s.present, s.absent,
         s.by_hand, spot_counts.get(s.session.id, 0)) for s in record.sessions],
        title=t._("Sessions of %(code)s", code=course.code))
    _table(book.create_sheet(t._("Attendance")[:31]), t, MARK_COLUMNS, [
        (m.session.day, _times(m.session, t), m.voucher_number, m.name or NOTHING,
         t._("present") if m.mark.is_present else t._("absent"), t._(HOW[m.mark.how]),
         _clock(m.mark.checked_in_at, t), _clock(m.mark.checked_out_at, t), m.mark.hours,
         m.mark.reason or "") for m in record.marks],
        title=t._("Attendance marks of %(code)s", code=course.code))
    _table(book.create_sheet(t._("Spot checks")[:31]), t, SPOT_CHECK_COLUMNS, [
        (c.session.day, _times(c.session, t), _clock(c.check.at, t), c.inspector or NOTHING,
         c.check.present_seen, c.check.checked_in_then, c.check.notes)
        for c in record.spot_checks],
        title=t._("Spot checks of %(code)s", code=course.code))
    book.active = 0
    return _printable(book, book.worksheets[0], freeze="A1", title_rows="1:1",
                      area=book.worksheets[0].print_area)


def _times(session, t: Translator) -> str:
    return f"{t.clock(session.starts)}–{t.clock(session.ends)}"


def _clock(moment: datetime | None, t: Translator) -> str:
    return t.clock(moment.astimezone(LOCAL_TZ).time()) if moment else ""


def _class_facts(record: ClassRecord, t: Translator) -> list[tuple[str, Any]]:
    course = record.course
    enrolled = len(record.trainees)
    finished = [r for r in record.trainees
                if r.status in (VoucherStatus.COMPLETED, VoucherStatus.SETTLED)]
    return [
        (t._("Class code"), course.code),
        (t._("Course"), course.display_name(t.locale)),
        (t._("Institution"), course.institution.display_name(t.locale)),
        (t._("Category"), course.category.display_name(t.locale)),
        (t._("Occupation"), course.occupation_en if t.locale.startswith("en")
         else course.occupation),
        (t._("Certificate"), _certificate(course, t)),
        (t._("Hours"), t._("%(total)s (theory %(theory)s, practice %(practice)s)",
                           total=course.hours, theory=course.theory_hours,
                           practice=course.practice_hours)),
        (t._("Dates"), t._("%(first)s to %(last)s", first=t.day(course.starts_on),
                           last=t.day(course.ends_on))),
        (t._("Class township"), course.township.display_name(t.locale)),
        (t._("Address"), course.address),
        (t._("Capacity"), course.capacity),
        (t._("Fee"), t.money(course.fee_yuan) if course.fee_yuan else t._("free")),
        (t._("Bought by public tender"), t._("yes") if course.is_publicly_procured
         else t._("no")),
        (t._("Teacher"), t._("not recorded")),
        (t._("Sessions opened by"), ", ".join(record.session_openers) or NOTHING),
        (t._("Description"), course.description or NOTHING),
        (t._("Sessions"), len(record.sessions)),
        (t._("Ever enrolled"), enrolled),
        (t._("Dropped out"), record.dropped_out),
        (t._("Completed"), len(finished)),
        (t._("Certified"), sum(1 for r in finished if r.certified)),
        (t._("Claim no."), record.claim_number or NOTHING),
        *([(t._("Amounts"), t._(DEMO_RATES))] if settlement_rates().is_demo else []),
    ]


def _class_sheet(sheet: Worksheet, record: ClassRecord, t: Translator, *,
                 full_ids: bool) -> None:
    sheet.title = t._("Class")[:31]
    columns = _with_full_ids(TRAINEE_COLUMNS) if full_ids else TRAINEE_COLUMNS
    width = len(columns) + 1
    _line(sheet, 1, width, t._("Class record: %(course)s (%(code)s)",
                               course=record.course.display_name(t.locale),
                               code=record.course.code), font=Font(bold=True, size=14))
    row = 2
    for label, value in _class_facts(record, t):
        row += 1
        write(sheet, row, 1, label).font = Font(bold=True)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=2)
        cell = write(sheet, row, 3, value)
        cell.alignment = _WRAP
        sheet.merge_cells(start_row=row, start_column=3, end_row=row, end_column=width)
    header_row = row + 2
    for column, (header, chars, *_rest) in enumerate(((N_("No."), 6), *columns), start=1):
        cell = write(sheet, header_row, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), _HEADER_FILL, _BOX, _CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = max(chars, 10)
    for seq, trainee in enumerate(record.trainees, start=1):
        values = [(seq, None)] + [(value(trainee, t), fmt) for _h, _w, value, fmt in columns]
        for column, (value, fmt) in enumerate(values, start=1):
            cell = write(sheet, header_row + seq, column, value)
            cell.border, cell.alignment = _BOX, _WRAP
            if fmt and value is not None:
                cell.number_format = fmt
    last_row = header_row + max(len(record.trainees), 1)
    _print_setup(sheet, freeze=f"A{header_row + 1}", title_rows=f"{header_row}:{header_row}",
                 area=f"A1:{get_column_letter(width)}{last_row}")


def _table(sheet: Worksheet, t: Translator, columns, rows: list[tuple], *, title: str) -> None:
    """A titled table of plain values, dates as dates; printable."""
    _line(sheet, 1, len(columns), title, font=Font(bold=True, size=12))
    for column, (header, chars) in enumerate(columns, start=1):
        cell = write(sheet, 2, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), _HEADER_FILL, _BOX, _CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = chars
    for offset, values in enumerate(rows, start=3):
        for column, value in enumerate(values, start=1):
            cell = write(sheet, offset, column, value)
            cell.border, cell.alignment = _BOX, _WRAP
            if isinstance(value, date):
                cell.number_format = DATE_FORMAT
    if not rows:
        write(sheet, 3, 1, t._("None recorded."))
    _print_setup(sheet, freeze="A3", title_rows="2:2",
                 area=f"A1:{get_column_letter(len(columns))}{max(len(rows) + 2, 3)}")


# --- the monthly progress report -----------------------------------------------------------

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
    return _printable(book, first, freeze="C4", title_rows="3:3", area=first.print_area)


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
    _line(sheet, 1, width, t._("Progress against the targets, %(year)s, to %(day)s",
                               year=report.filters.year, day=t.day(until)),
          font=Font(bold=True, size=14), alignment=_CENTRE)
    note = t._(
        "%(share)s of the year has passed by then: a share reached below it is highlighted. "
        "— means no target is loaded.", share=f"{report.elapsed:.0%}")
    _line(sheet, 2, width, " ".join(filter(None, (note, _targets_note(report, t)))),
          alignment=_CENTRE)
    headers = ((N_("No."), 5), (name_header, 18), *figures)
    for column, (header, chars) in enumerate(headers, start=1):
        cell = write(sheet, 3, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), _HEADER_FILL, _BOX, _CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = chars
    sheet.row_dimensions[3].height = 45
    for seq, (line, values) in enumerate(lines, start=1):
        row = 3 + seq
        write(sheet, row, 1, seq).alignment = _CENTRE
        write(sheet, row, 2, line.display_name(t.locale))
        for offset, (value, is_share) in enumerate(values):
            cell = write(sheet, row, 3 + offset, NOTHING if value is None else value)
            cell.alignment = _CENTRE
            if is_share and value is not None:
                cell.number_format = SHARE_FORMAT
                if value < report.elapsed:
                    cell.fill = _LAGGING_FILL
        for column in range(1, width + 1):
            sheet.cell(row, column).border = _BOX
    total_row = 4 + len(lines)
    write(sheet, total_row, 2, t._("Total")).font = Font(bold=True)
    for offset, (_header, _chars) in enumerate(figures):
        values = [v[offset][0] for _line_, v in lines]
        is_share = any(v[offset][1] for _line_, v in lines)
        if not is_share:
            cell = write(sheet, total_row, 3 + offset, sum(x for x in values if x is not None))
            cell.font, cell.alignment = Font(bold=True), _CENTRE
    for column in range(1, width + 1):
        sheet.cell(total_row, column).border = _BOX
    _print_setup(sheet, freeze="C4", title_rows="3:3",
                 area=f"A1:{get_column_letter(width)}{total_row}")


# --- the provincial platform's file --------------------------------------------------------

PROVINCIAL_STATUS = {VoucherStatus.REDEEMED: "在训", VoucherStatus.COMPLETED: "结业",
                     VoucherStatus.SETTLED: "结业", VoucherStatus.REVOKED: "退训",
                     VoucherStatus.EXPIRED: "退训", VoucherStatus.CANCELLED: "退训"}
PROVINCIAL_SEX = {"M": "男", "F": "女"}


def _zh() -> Translator:
    return translator(ZH)


# What may fill a provincial column (the ``source`` of models/data/provincial_columns.yaml).
PROVINCIAL_SOURCES: dict[str, Callable[[int, LedgerRow], Any]] = {
    "seq": lambda n, r: n,
    "name": lambda n, r: r.name,
    "id_number": lambda n, r: r.id_number,
    "id_masked": lambda n, r: r.id_masked,
    "sex": lambda n, r: PROVINCIAL_SEX.get(r.sex or ""),
    "birth_date": lambda n, r: r.birth_date,
    "phone": lambda n, r: r.phone,
    "household_township": lambda n, r: r.township.name if r.township else None,
    "verified_groups": lambda n, r: "、".join(
        _zh()._(GROUPS[g]) for g, s in r.groups if s is GroupStatus.VERIFIED),
    "declared_groups": lambda n, r: "、".join(_zh()._(GROUPS[g]) for g, _s in r.groups),
    "institution": lambda n, r: r.course.institution.name,
    "institution_licence": lambda n, r: r.course.institution.licence,
    "class_code": lambda n, r: r.course.code,
    "class_name": lambda n, r: r.course.name,
    "category": lambda n, r: r.course.category.name,
    "occupation": lambda n, r: r.course.occupation,
    "certificate_kind": lambda n, r: _zh()._(CERTIFICATES[r.course.certificate_kind]),
    "certificate_level": lambda n, r: r.course.certificate_level,
    "class_starts_on": lambda n, r: r.course.starts_on,
    "class_ends_on": lambda n, r: r.course.ends_on,
    "class_hours": lambda n, r: r.course.hours,
    "class_address": lambda n, r: r.course.address,
    "class_township": lambda n, r: r.course.township.name,
    "enrolled_on": lambda n, r: _local_day(r.redeemed_at),
    "days_attended": lambda n, r: r.days_attended,
    "hours_attended": lambda n, r: r.hours_attended,
    "status": lambda n, r: PROVINCIAL_STATUS[r.status],
    "completed_on": lambda n, r: _local_day(r.completed_at),
    "certified": lambda n, r: {True: "是", False: "否"}.get(r.certified, ""),
    "certificate_no": lambda n, r: r.certificate_no,
    "training_yuan": lambda n, r: r.training_yuan,
    "appraisal_yuan": lambda n, r: r.appraisal_yuan,
    "living_yuan": lambda n, r: r.living_yuan,
    "transport_yuan": lambda n, r: r.transport_yuan,
    "paid_by": lambda n, r: r.paid_by,
}
FORMATS = {"text": "@", "integer": "0", "decimal": "0.00", "date": DATE_FORMAT}


@dataclass(frozen=True)
class ProvincialColumn:
    header: str
    source: str
    format: str
    width: int


@cache
def provincial_columns() -> tuple[ProvincialColumn, ...]:
    """Read once per process; an unknown source or format stops here, naming the column."""
    with PROVINCIAL_FILE.open(encoding="utf-8") as f:
        return parse_provincial_columns(yaml.safe_load(f))


def parse_provincial_columns(data: dict[str, Any]) -> tuple[ProvincialColumn, ...]:
    columns = []
    for entry in data["columns"]:
        column = ProvincialColumn(header=str(entry["header"]), source=str(entry["source"]),
                                  format=str(entry.get("format", "text")),
                                  width=int(entry.get("width", 12)))
        if column.source not in PROVINCIAL_SOURCES:
            raise ValueError(f"provincial column {column.header}: unknown source "
                             f"{column.source!r}")
        if column.format not in FORMATS:
            raise ValueError(f"provincial column {column.header}: unknown format "
                             f"{column.format!r}")
        columns.append(column)
    if len({c.header for c in columns}) != len(columns):
        raise ValueError("provincial columns: a header is given twice")
    return tuple(columns)


def provincial_workbook(rows: list[LedgerRow]) -> bytes:
    """The header row, then one row per trainee, in the layout of the data file: a plain
    table the platform imports (no title row, no merged cells)."""
    columns = provincial_columns()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("培训人员")
    sheet.freeze_panes = "A2"
    for number, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column.width
    header = []
    for column in columns:
        cell = streamed_cell(sheet, column.header)
        cell.font, cell.fill, cell.border = Font(bold=True), _HEADER_FILL, _BOX
        header.append(cell)
    sheet.append(header)
    for seq, row in enumerate(rows, start=1):
        cells = []
        for column in columns:
            value = _provincial_value(PROVINCIAL_SOURCES[column.source](seq, row), column)
            cell = streamed_cell(sheet, value)
            if value is not None:
                cell.number_format = FORMATS[column.format]
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _provincial_value(value: Any, column: ProvincialColumn) -> Any:
    if value is None or value == "":
        return None
    if column.format == "text":
        return str(value)  # an ID number stays text, never a number Excel rounds
    if column.format == "decimal":
        return Decimal(str(value)).quantize(Decimal("0.01"))
    return value


# --- the worker's step ---------------------------------------------------------------------

@dataclass(frozen=True)
class JobSpec:
    id: int
    kind: ExportKind
    params: dict[str, Any]
    with_full_ids: bool
    locale: str
    chunk: int = CHUNK
    started_at: datetime | None = None  # this run's claim (models.export_jobs._still_ours)
    stop: threading.Event | None = None  # set when the worker is stopping


class _Stopping(Exception):
    """The worker is stopping: the job goes back to the queue."""


class _TakenOver(Exception):
    """The job stood still so long that another worker took it up: this run gives way."""


def run_export_jobs(services, *, chunk: int = CHUNK, stop: threading.Event | None = None,
                    worker: str | None = None) -> int:
    """Make the oldest queued export, if any; return how many were made (0 or 1). Each chunk
    of ``chunk`` rows is read, written and its progress recorded in a short transaction of its
    own; once ``stop`` is set, the job goes back to the queue at the next chunk."""
    now = services.clock.now()
    with services.sessions.begin() as db:
        job = claim_next_job(db, now=now, worker=worker)
        if job is None:
            return 0
        spec = JobSpec(job.id, job.kind, dict(job.params), job.with_full_ids, job.locale,
                       chunk, job.started_at, stop)
    t = translator(spec.locale)
    try:
        filename, content = BUILDERS[spec.kind](services, spec, t)
    except _Stopping:
        with services.sessions.begin() as db:
            release_job(db, job_id=spec.id, started_at=spec.started_at)
        return 0
    except _TakenOver:
        logger.warning("export %s was taken up by another worker; this run gives way", spec.id)
        return 1
    except DomainError as error:
        # Something changed since it was asked for (a class gone): say so on the job's page.
        _fail(services, spec, error.code)
        return 1
    except Exception:
        logger.exception("export %s failed", spec.id)
        _fail(services, spec, "internal_error")
        return 1
    with services.sessions.begin() as db:
        finish_job(db, job_id=spec.id, started_at=spec.started_at, filename=filename,
                   content=content, vault=services.vault, now=services.clock.now())
    return 1


def _fail(services, spec: JobSpec, error: str) -> None:
    with services.sessions.begin() as db:
        fail_job(db, job_id=spec.id, started_at=spec.started_at, error=error,
                 now=services.clock.now())


def _moved(services, spec: JobSpec, *, done: int, total: int) -> None:
    """Record the progress, in a short transaction of its own; stop building here when the
    worker is stopping or the job is no longer this run's."""
    with services.sessions.begin() as db:
        ours = record_progress(db, job_id=spec.id, started_at=spec.started_at, done=done,
                               total=total, now=services.clock.now())
    if not ours:
        raise _TakenOver
    if spec.stop is not None and spec.stop.is_set():
        raise _Stopping


def _vault(services, spec: JobSpec) -> Vault | None:
    return services.vault if spec.with_full_ids else None


def _build_ledger(services, spec: JobSpec, t: Translator) -> tuple[str, bytes]:
    quarter = Quarter.parse(spec.params["quarter"])
    with services.read_sessions.begin() as db:  # the replica's, when there is one
        # A province's deployment: one county's classes (params "county", a region code).
        townships = _county_townships(db, spec.params.get("county"))
        total = ledger_count(db, quarter=quarter, townships=townships)
    _moved(services, spec, done=0, total=total)
    book = LedgerBook(t, quarter=quarter, total=total, full_ids=spec.with_full_ids)
    after = (0, 0)
    try:
        while True:
            with services.read_sessions.begin() as db:
                rows = ledger_chunk(db, quarter=quarter, after=after, limit=spec.chunk,
                                    vault=_vault(services, spec), now=services.clock.now(),
                                    townships=townships)
            book.add(rows)  # outside the transaction: writing takes longer than reading
            _moved(services, spec, done=min(book.rows, total), total=max(total, book.rows))
            if len(rows) < spec.chunk:
                break
            after = rows[-1].key
    except BaseException:
        book.discard()
        raise
    name = t._("Training ledger %(quarter)s", quarter=str(quarter))
    return f"{name}.xlsx", book.finish()


def _county_townships(db, code: str | None) -> frozenset[int] | None:
    if not code:
        return None
    region_id = db.scalar(select(Region.id).where(Region.code == code))
    return region_scope(db, region_id).townships if region_id is not None else frozenset()


def _build_class_record(services, spec: JobSpec, t: Translator) -> tuple[str, bytes]:
    with services.sessions.begin() as db:
        record = class_record(db, course_code=spec.params["course"],
                              vault=_vault(services, spec), now=services.clock.now())
    _moved(services, spec, done=1, total=1)
    content = class_record_workbook(record, t, full_ids=spec.with_full_ids)
    name = t._("Class record %(code)s", code=record.course.code)
    return f"{name}.xlsx", content


def _build_progress(services, spec: JobSpec, t: Translator) -> tuple[str, bytes]:
    month = Month.parse(spec.params["month"])
    with services.read_sessions.begin() as db:
        report = progress_report(db, month=month)
    _moved(services, spec, done=1, total=1)
    name = t._("Progress report %(month)s", month=str(month))
    return f"{name}.xlsx", progress_workbook(report, t)


def _build_claim(services, spec: JobSpec, t: Translator) -> tuple[str, bytes]:
    with services.sessions.begin() as db:
        course = find_course(db, course_code=spec.params["course"])
        number = db.scalar(select(Claim.number).where(Claim.course_id == course.id))
        claim = claim_by_number(db, number=number or "")
        content = claim_workbook(claim, claim.lines, t)
    _moved(services, spec, done=1, total=1)
    name = t._("Claim %(number)s", number=claim.number)
    return f"{name}.xlsx", content


def _build_provincial(services, spec: JobSpec, t: Translator) -> tuple[str, bytes]:
    with services.sessions.begin() as db:
        course = find_course(db, course_code=spec.params["course"])
        rows = ledger_chunk(db, course_id=course.id, limit=None, vault=services.vault,
                           now=services.clock.now())
    _moved(services, spec, done=1, total=1)
    # The platform's name for the file, whatever the clerk's language.
    return f"凡补必进_{course.code}.xlsx", provincial_workbook(rows)


BUILDERS: dict[ExportKind, Callable[[Any, JobSpec, Translator], tuple[str, bytes]]] = {
    ExportKind.LEDGER: _build_ledger,
    ExportKind.CLASS_RECORD: _build_class_record,
    ExportKind.PROGRESS: _build_progress,
    ExportKind.CLAIM: _build_claim,
    ExportKind.PROVINCIAL: _build_provincial,
}

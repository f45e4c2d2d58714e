"""A class's record (issue 8): its facts, sessions, marks and spot checks, in the clerk's
language."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from documents.cells import (
    write,
)
from documents.ledger import DATE_FORMAT, TRAINEE_COLUMNS, _certificate, _with_full_ids
from documents.printed import (
    BOX,
    CENTRE,
    DEMO_RATES,
    HEADER_FILL,
    NOTHING,
    WRAP,
    print_setup,
    printable,
    text_line,
)
from locales import N_, Translator
from models.attendance import MarkHow
from models.clock import LOCAL_TZ
from models.ledgers import (
    ClassRecord,
)
from models.policy import settlement_rates
from models.vouchers import VoucherStatus

logger = logging.getLogger(__name__)

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
    return printable(book, book.worksheets[0], freeze="A1", title_rows="1:1",
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
    text_line(sheet, 1, width, t._("Class record: %(course)s (%(code)s)",
                                   course=record.course.display_name(t.locale),
                                   code=record.course.code), font=Font(bold=True, size=14))
    row = 2
    for label, value in _class_facts(record, t):
        row += 1
        write(sheet, row, 1, label).font = Font(bold=True)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=2)
        cell = write(sheet, row, 3, value)
        cell.alignment = WRAP
        sheet.merge_cells(start_row=row, start_column=3, end_row=row, end_column=width)
    header_row = row + 2
    for column, (header, chars, *_rest) in enumerate(((N_("No."), 6), *columns), start=1):
        cell = write(sheet, header_row, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), HEADER_FILL, BOX, CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = max(chars, 10)
    for seq, trainee in enumerate(record.trainees, start=1):
        values = [(seq, None)] + [(value(trainee, t), fmt) for _h, _w, value, fmt in columns]
        for column, (value, fmt) in enumerate(values, start=1):
            cell = write(sheet, header_row + seq, column, value)
            cell.border, cell.alignment = BOX, WRAP
            if fmt and value is not None:
                cell.number_format = fmt
    last_row = header_row + max(len(record.trainees), 1)
    print_setup(sheet, freeze=f"A{header_row + 1}", title_rows=f"{header_row}:{header_row}",
                area=f"A1:{get_column_letter(width)}{last_row}")


def _table(sheet: Worksheet, t: Translator, columns, rows: list[tuple], *, title: str) -> None:
    """A titled table of plain values, dates as dates; printable."""
    text_line(sheet, 1, len(columns), title, font=Font(bold=True, size=12))
    for column, (header, chars) in enumerate(columns, start=1):
        cell = write(sheet, 2, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), HEADER_FILL, BOX, CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = chars
    for offset, values in enumerate(rows, start=3):
        for column, value in enumerate(values, start=1):
            cell = write(sheet, offset, column, value)
            cell.border, cell.alignment = BOX, WRAP
            if isinstance(value, date):
                cell.number_format = DATE_FORMAT
    if not rows:
        write(sheet, 3, 1, t._("None recorded."))
    print_setup(sheet, freeze="A3", title_rows="2:2",
                area=f"A1:{get_column_letter(len(columns))}{max(len(rows) + 2, 3)}")

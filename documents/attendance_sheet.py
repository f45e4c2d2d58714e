"""A class's attendance sheet, which the teacher and the institution's head sign (`flask
attendance sheet`)."""

from __future__ import annotations

import logging

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from documents.cells import (
    put,
    write,
)
from documents.printed import (
    BOX,
    CENTRE,
    HEADER_FILL,
    NOTHING,
    SUBTITLE_ROW,
    TITLE_ROW,
    WRAP,
    printable,
    text_line,
)
from locales import N_, Translator
from models.attendance import Attendance, AttendanceSheet, MarkHow, SheetTrainee
from models.catalogue import ClassSession
from models.clock import LOCAL_TZ

logger = logging.getLogger(__name__)

# The trainee's columns, then one column per session, then the totals: (header, width).
ATTENDANCE_TRAINEE_COLUMNS = (
    (N_("No."), 5),
    (N_("Voucher no."), 16),
    (N_("Name"), 10),
    (N_("ID number (masked)"), 20),
)
ATTENDANCE_SESSION_WIDTH = 8
ATTENDANCE_TOTAL_COLUMNS = (
    (N_("Sessions attended"), 10),
    (N_("Hours attended"), 10),
)
# Rows: title, subtitle, then two header rows (the day, the session's times).
DAY_ROW, TIMES_ROW = 3, 4
ABSENT = "×"

_MANUAL_FILL = PatternFill("solid", start_color="FFF2CC")
_MUTED = Font(color="808080")


def attendance_workbook(sheet: AttendanceSheet, t: Translator) -> bytes:
    """Trainees down, sessions across: the check-in time in each cell (a scan), "√ by hand"
    with a note number (a mark made by staff; the reason in the cell's comment and in the
    notes under the table), "×" (marked absent) or "—" (nothing recorded); each trainee's
    sessions and hours, each session's count; the legend and the signature line. A4
    landscape, one page wide, the two header rows repeated on every page."""
    book = Workbook()
    ws = book.active
    ws.title = t._("Attendance")[:31]
    course = sheet.course
    first_session = len(ATTENDANCE_TRAINEE_COLUMNS) + 1
    first_total = first_session + len(sheet.sessions)
    width = first_total + len(ATTENDANCE_TOTAL_COLUMNS) - 1

    text_line(ws, TITLE_ROW, width, t._("Attendance sheet: %(course)s (%(code)s)",
                                        course=course.display_name(t.locale), code=course.code),
              font=Font(bold=True, size=14), alignment=CENTRE)
    ws.row_dimensions[TITLE_ROW].height = 30
    text_line(ws, SUBTITLE_ROW, width, t._(
        "%(institution)s · %(first)s to %(last)s · sessions: %(sessions)s, hours: %(hours)s, "
        "trainees: %(trainees)s", institution=course.institution.display_name(t.locale),
        first=t.day(course.starts_on), last=t.day(course.ends_on),
        sessions=len(sheet.sessions), hours=course.hours, trainees=len(sheet.trainees)),
        alignment=CENTRE)

    _attendance_header(ws, sheet, t, first_session, first_total)
    notes = {(s.id, trainee.person_id): n
             for n, (s, trainee, _mark) in enumerate(sheet.manual_marks, start=1)}
    row_no = TIMES_ROW
    for seq, trainee in enumerate(sheet.trainees, start=1):
        row_no = TIMES_ROW + seq
        for column, value in enumerate((seq, trainee.voucher_number, trainee.name or NOTHING,
                                        trainee.id_masked or NOTHING), start=1):
            cell = write(ws, row_no, column, value)
            cell.border, cell.alignment = BOX, WRAP
        ws.cell(row_no, 1).alignment = CENTRE
        for offset, session in enumerate(sheet.sessions):
            cell = ws.cell(row_no, first_session + offset)
            cell.border, cell.alignment = BOX, CENTRE
            mark = sheet.mark(session.id, trainee.person_id)
            _mark_cell(cell, mark, notes.get((session.id, trainee.person_id)), sheet, t)
        _total_cells(ws, row_no, first_total, (sheet.sessions_attended(trainee.person_id),
                                                sheet.hours_attended(trainee.person_id)))

    count_row = row_no + 1
    _count_row(ws, sheet, t, count_row, first_session, first_total, width)
    signature_row = _legend_and_signature(ws, sheet, t, count_row + 2, width)

    return printable(book, ws, freeze=ws.cell(TIMES_ROW + 1, first_session).coordinate,
                     title_rows=f"{DAY_ROW}:{TIMES_ROW}",
                     area=f"A1:{get_column_letter(width)}{signature_row}")


def _count_row(ws: Worksheet, sheet: AttendanceSheet, t: Translator, count_row: int,
               first_session: int, first_total: int, width: int) -> None:
    """Under the trainees: how many were present at each session, and the totals."""
    write(ws, count_row, 1, t._("Present at the session"))
    ws.merge_cells(start_row=count_row, start_column=1, end_row=count_row,
                   end_column=first_session - 1)
    for offset, session in enumerate(sheet.sessions):
        write(ws, count_row, first_session + offset, sheet.present_at(session.id))
    _total_cells(ws, count_row, first_total, (
        sum(sheet.sessions_attended(x.person_id) for x in sheet.trainees),
        round(sum(sheet.hours_attended(x.person_id) for x in sheet.trainees), 2)))
    for column in range(1, width + 1):
        cell = ws.cell(count_row, column)
        cell.font, cell.border, cell.alignment = Font(bold=True), BOX, CENTRE


def _legend_and_signature(ws: Worksheet, sheet: AttendanceSheet, t: Translator, row: int,
                          width: int) -> int:
    """The legend, the notes on the marks made by hand and the signature line, from ``row``;
    returns the signature's row."""
    text_line(ws, row, width, t._(
        "HH:MM: checked in by scanning the class code at that time. √ by hand [n]: marked "
        "present by staff, the reason in note n below and in the cell's comment. ×: marked "
        "absent by staff. —: nothing recorded (not checked in, or the session is still to "
        "come)."), alignment=WRAP)
    ws.row_dimensions[row].height = 32
    if sheet.manual_marks:
        row += 1
        text_line(ws, row, width, t._("Marks made by hand"), font=Font(bold=True))
        for n, (session, trainee, mark) in enumerate(sheet.manual_marks, start=1):
            row += 1
            text_line(ws, row, width, f"[{n}] " + _manual_note(session, trainee, mark, sheet, t),
                      alignment=WRAP)
    signature_row = row + 3
    text_line(ws, signature_row, width,
              t._("Teacher's signature:                Head of institution's signature:"
                  "                Date:"),
              font=Font(size=12), alignment=Alignment(vertical="center"))
    ws.row_dimensions[signature_row].height = 36
    return signature_row


def _attendance_header(ws: Worksheet, sheet: AttendanceSheet, t: Translator,
                       first_session: int, first_total: int) -> None:
    """Two rows: the trainee's and the totals' headers span both; a day spans its sessions."""
    fixed = [(column, header, chars) for column, (header, chars) in enumerate(
        ATTENDANCE_TRAINEE_COLUMNS, start=1)]
    fixed += [(first_total + i, header, chars)
              for i, (header, chars) in enumerate(ATTENDANCE_TOTAL_COLUMNS)]
    for column, header, chars in fixed:
        write(ws, DAY_ROW, column, t._(header))
        ws.merge_cells(start_row=DAY_ROW, start_column=column, end_row=TIMES_ROW,
                       end_column=column)
        ws.column_dimensions[get_column_letter(column)].width = chars
    day_start = first_session
    for offset, session in enumerate(sheet.sessions):
        column = first_session + offset
        ws.column_dimensions[get_column_letter(column)].width = ATTENDANCE_SESSION_WIDTH
        write(ws, TIMES_ROW, column, f"{t.clock(session.starts)}–{t.clock(session.ends)}")
        if offset == 0 or sheet.sessions[offset - 1].day != session.day:
            day_start = column
            write(ws, DAY_ROW, column, t.short_day(session.day))
        is_last_of_day = (offset + 1 == len(sheet.sessions)
                          or sheet.sessions[offset + 1].day != session.day)
        if is_last_of_day and column > day_start:
            ws.merge_cells(start_row=DAY_ROW, start_column=day_start, end_row=DAY_ROW,
                           end_column=column)
    for row in (DAY_ROW, TIMES_ROW):
        for column in range(1, first_total + len(ATTENDANCE_TOTAL_COLUMNS)):
            cell = ws.cell(row, column)
            cell.font, cell.fill, cell.border, cell.alignment = (
                Font(bold=True), HEADER_FILL, BOX, CENTRE)
    ws.row_dimensions[TIMES_ROW].height = 30


def _mark_cell(cell: Cell, mark: Attendance | None, note: int | None, sheet: AttendanceSheet,
               t: Translator) -> None:
    if mark is None:
        put(cell, NOTHING).font = _MUTED
        return
    if mark.how is MarkHow.MANUAL:
        put(cell, (t._("√ by hand") if mark.is_present else ABSENT) + f" [{note}]")
        cell.font, cell.fill = Font(bold=True), _MANUAL_FILL
        comment = Comment(_manual_reason(mark, sheet, t), "Peixun")
        comment.width, comment.height = 240, 90
        cell.comment = comment
        return
    if not mark.is_present:
        put(cell, ABSENT)
        return
    text = _clock(mark.checked_in_at, t)
    if mark.checked_out_at is not None:
        text += "–" + _clock(mark.checked_out_at, t)
    put(cell, text)


def _total_cells(ws: Worksheet, row: int, first_total: int, values: tuple[int, float]) -> None:
    sessions, hours = values
    for column, value in ((first_total, sessions), (first_total + 1, hours)):
        cell = write(ws, row, column, value)
        cell.border, cell.alignment = BOX, CENTRE


def _manual_reason(mark: Attendance, sheet: AttendanceSheet, t: Translator) -> str:
    state = t._("present") if mark.is_present else t._("absent")
    staff = sheet.markers.get(mark.marked_by_id)
    if staff:
        return t._("%(state)s, marked by hand by %(staff)s: %(reason)s", state=state,
                   staff=staff, reason=mark.reason or NOTHING)
    return t._("%(state)s, marked by hand: %(reason)s", state=state,
               reason=mark.reason or NOTHING)


def _manual_note(session: ClassSession, trainee: SheetTrainee, mark: Attendance,
                 sheet: AttendanceSheet, t: Translator) -> str:
    return t._("%(day)s %(start)s–%(end)s, %(name)s (%(number)s): %(why)s",
               day=t.short_day(session.day), start=t.clock(session.starts),
               end=t.clock(session.ends), name=trainee.name or NOTHING,
               number=trainee.voucher_number, why=_manual_reason(mark, sheet, t))


def _clock(moment, t: Translator) -> str:
    return t.clock(moment.astimezone(LOCAL_TZ).time())

"""Documents the bureau prints: a settlement as an Excel sheet a clerk signs, and a class's
attendance sheet the teacher and the institution's head sign, in the reader's language (every
visible word through the translator, message ids in English)."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from locales import N_, Translator
from models.attendance import Attendance, AttendanceSheet, MarkHow, SheetTrainee
from models.catalogue import ClassSession
from models.claims import (
    CLAIM_WITHIN_WORKING_DAYS,
    PAY_WITHIN_WORKING_DAYS,
    Claim,
    ClaimLine,
    LineNote,
    claim_policy,
)
from models.clock import LOCAL_TZ
from models.settlement import QJ2019_ONCE, SettlementResult, SettlementRow, settlement_rates
from vocabulary.labels import CERTIFICATES
from webhooks.sheet_cells import put, write

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
# Under every sheet whose amounts come from the demo rates (issue 16, item 10).
DEMO_RATES = N_("Demo amounts (演示金额): these are the project's example rates, not the "
                "county's. Do not pay by this sheet until the county loads its own.")
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
        cell = write(sheet, HEADER_ROW, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), _HEADER_FILL, _BOX, _CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = chars

    row_no = HEADER_ROW
    for seq, row in enumerate(result.rows, start=1):
        row_no = HEADER_ROW + seq
        for column, value in enumerate(_cells(seq, row, t), start=1):
            cell = write(sheet, row_no, column, value)
            cell.border, cell.alignment = _BOX, _WRAP
        sheet.cell(row_no, 1).alignment = _CENTRE
        sheet.cell(row_no, width).number_format = AMOUNT_FORMAT

    total_row = row_no + 1
    write(sheet, total_row, 1, t.ngettext("Total (%(num)s voucher)", "Total (%(num)s vouchers)",
                                        result.voucher_count))
    sheet.merge_cells(f"A{total_row}:{get_column_letter(width - 1)}{total_row}")
    total = write(sheet, total_row, width, result.total_yuan)
    total.number_format = AMOUNT_FORMAT
    for column in range(1, width + 1):
        cell = sheet.cell(total_row, column)
        cell.font, cell.border = Font(bold=True), _BOX
    sheet.cell(total_row, 1).alignment = _CENTRE

    notes = [t._("Amounts: the county's training subsidy by certificate kind and level, with the "
                 "appraisal subsidy; a trainee without a certificate earns none (QJ2020 五(二)).")]
    if result.is_demo_rates:
        notes.append(t._(DEMO_RATES))
    return _signed_and_printable(book, sheet, t, notes=notes, total_row=total_row,
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


def _line(sheet: Worksheet, row: int, width: int, text: str, *, font: Font | None = None,
          alignment: Alignment | None = None) -> None:
    """A line of text across the whole table."""
    cell = write(sheet, row, 1, text)
    if font:
        cell.font = font
    if alignment:
        cell.alignment = alignment
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)


# --- a class's attendance sheet --------------------------------------------------------------

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
NOTHING, ABSENT = "—", "×"

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

    _line(ws, TITLE_ROW, width, t._("Attendance sheet: %(course)s (%(code)s)",
                                    course=course.display_name(t.locale), code=course.code),
          font=Font(bold=True, size=14), alignment=_CENTRE)
    ws.row_dimensions[TITLE_ROW].height = 30
    _line(ws, SUBTITLE_ROW, width, t._(
        "%(institution)s · %(first)s to %(last)s · sessions: %(sessions)s, hours: %(hours)s, "
        "trainees: %(trainees)s", institution=course.institution.display_name(t.locale),
        first=t.day(course.starts_on), last=t.day(course.ends_on),
        sessions=len(sheet.sessions), hours=course.hours, trainees=len(sheet.trainees)),
        alignment=_CENTRE)

    _attendance_header(ws, sheet, t, first_session, first_total)
    notes = {(s.id, trainee.person_id): n
             for n, (s, trainee, _mark) in enumerate(sheet.manual_marks, start=1)}
    row_no = TIMES_ROW
    for seq, trainee in enumerate(sheet.trainees, start=1):
        row_no = TIMES_ROW + seq
        for column, value in enumerate((seq, trainee.voucher_number, trainee.name or NOTHING,
                                        trainee.id_masked or NOTHING), start=1):
            cell = write(ws, row_no, column, value)
            cell.border, cell.alignment = _BOX, _WRAP
        ws.cell(row_no, 1).alignment = _CENTRE
        for offset, session in enumerate(sheet.sessions):
            cell = ws.cell(row_no, first_session + offset)
            cell.border, cell.alignment = _BOX, _CENTRE
            mark = sheet.mark(session.id, trainee.person_id)
            _mark_cell(cell, mark, notes.get((session.id, trainee.person_id)), sheet, t)
        _total_cells(ws, row_no, first_total, (sheet.sessions_attended(trainee.person_id),
                                                sheet.hours_attended(trainee.person_id)))

    count_row = row_no + 1
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
        cell.font, cell.border, cell.alignment = Font(bold=True), _BOX, _CENTRE

    row = count_row + 2
    _line(ws, row, width, t._(
        "HH:MM: checked in by scanning the class code at that time. √ by hand [n]: marked "
        "present by staff, the reason in note n below and in the cell's comment. ×: marked "
        "absent by staff. —: nothing recorded (not checked in, or the session is still to "
        "come)."), alignment=_WRAP)
    ws.row_dimensions[row].height = 32
    if sheet.manual_marks:
        row += 1
        _line(ws, row, width, t._("Marks made by hand"), font=Font(bold=True))
        for n, (session, trainee, mark) in enumerate(sheet.manual_marks, start=1):
            row += 1
            _line(ws, row, width, f"[{n}] " + _manual_note(session, trainee, mark, sheet, t),
                  alignment=_WRAP)
    signature_row = row + 3
    _line(ws, signature_row, width,
          t._("Teacher's signature:                Head of institution's signature:"
              "                Date:"),
          font=Font(size=12), alignment=Alignment(vertical="center"))
    ws.row_dimensions[signature_row].height = 36

    return _printable(book, ws, freeze=ws.cell(TIMES_ROW + 1, first_session).coordinate,
                      title_rows=f"{DAY_ROW}:{TIMES_ROW}",
                      area=f"A1:{get_column_letter(width)}{signature_row}")


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
                Font(bold=True), _HEADER_FILL, _BOX, _CENTRE)
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
        cell.border, cell.alignment = _BOX, _CENTRE


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


# --- a class's subsidy claim -----------------------------------------------------------------

CLAIM_COLUMNS = (
    (N_("No."), 5),
    (N_("Voucher no."), 16),
    (N_("Name"), 10),
    (N_("ID number (masked)"), 21),
    (N_("Days attended"), 9),
    (N_("Training subsidy (yuan)"), 12),
    (N_("Appraisal subsidy (yuan)"), 12),
    (N_("Living allowance (yuan)"), 12),
    (N_("Transport allowance (yuan)"), 12),
    (N_("Total (yuan)"), 12),
    (N_("Note"), 22),
)
CLAIM_DATES_ROW, CLAIM_HEADER_ROW = 3, 4
FIRST_AMOUNT_COLUMN = 6  # the training subsidy; the amounts run to the total
CLAIM_NOTES = {
    LineNote.GROUP_NOT_VERIFIED: N_("group not verified: no allowance"),
    LineNote.FACTS_MISSING: N_("household kind or places not given: no allowance"),
    LineNote.ALREADY_SETTLED: N_("training already settled"),
    LineNote.SAME_OCCUPATION_LEVEL: N_(
        "same occupation and level paid already: no training subsidy (QJ2019 (十六))"),
}


def claim_workbook(claim: Claim, lines: list[ClaimLine], t: Translator) -> bytes:
    """The claim the institution signs and the bureau pays by: title with its number, the
    class and its dates, the due and payment dates; one row per trainee (masked ID, days
    attended, each amount, total, note); the total row; notes; the signature line. A4
    landscape, one page wide, the header repeated on every page. ``claim`` needs its course
    and institution loaded, each line its voucher and person."""
    book = Workbook()
    sheet = book.active
    sheet.title = t._("Claim")[:31]
    width = len(CLAIM_COLUMNS)
    course = claim.course

    _line(sheet, TITLE_ROW, width, t._(
        "Subsidy claim %(number)s: %(institution)s", number=claim.number,
        institution=claim.institution.display_name(t.locale)),
        font=Font(bold=True, size=14), alignment=_CENTRE)
    sheet.row_dimensions[TITLE_ROW].height = 30
    _line(sheet, SUBTITLE_ROW, width, t._(
        "Class: %(course)s (%(code)s), %(first)s to %(last)s",
        course=course.display_name(t.locale), code=course.code, first=t.day(course.starts_on),
        last=t.day(claim.class_ended_on)), alignment=_CENTRE)
    _line(sheet, CLAIM_DATES_ROW, width, t._(
        "Claimed on %(claimed)s; due by %(due)s (%(claim_days)s working days after the class "
        "ended); to be paid by %(pay)s (%(pay_days)s working days after the claim)",
        claimed=t.day(claim.claimed_on), due=t.day(claim.due_by),
        claim_days=CLAIM_WITHIN_WORKING_DAYS, pay=t.day(claim.pay_by),
        pay_days=PAY_WITHIN_WORKING_DAYS), alignment=_CENTRE)

    for column, (header, chars) in enumerate(CLAIM_COLUMNS, start=1):
        cell = write(sheet, CLAIM_HEADER_ROW, column, t._(header))
        cell.font, cell.fill, cell.border, cell.alignment = (
            Font(bold=True), _HEADER_FILL, _BOX, _CENTRE)
        sheet.column_dimensions[get_column_letter(column)].width = chars
    sheet.row_dimensions[CLAIM_HEADER_ROW].height = 30

    row_no = CLAIM_HEADER_ROW
    for seq, line in enumerate(lines, start=1):
        row_no = CLAIM_HEADER_ROW + seq
        note = t._(CLAIM_NOTES[line.note]) if line.note in CLAIM_NOTES else ""
        values = (seq, line.voucher.number, line.person.name or NOTHING,
                  line.person.id_masked or NOTHING, line.days_attended, line.training_yuan,
                  line.appraisal_yuan, line.living_yuan, line.transport_yuan, line.total_yuan,
                  note)
        for column, value in enumerate(values, start=1):
            cell = write(sheet, row_no, column, value)
            cell.border, cell.alignment = _BOX, _WRAP
            if FIRST_AMOUNT_COLUMN <= column < width:
                cell.number_format = AMOUNT_FORMAT
        sheet.cell(row_no, 1).alignment = _CENTRE

    total_row = row_no + 1
    write(sheet, total_row, 1, t.ngettext("Total (%(num)s trainee)", "Total (%(num)s trainees)",
                                        len(lines)))
    sheet.merge_cells(start_row=total_row, start_column=1, end_row=total_row,
                      end_column=FIRST_AMOUNT_COLUMN - 1)
    sums = [sum((getattr(line, name) for line in lines), Decimal(0)) for name in
            ("training_yuan", "appraisal_yuan", "living_yuan", "transport_yuan", "total_yuan")]
    for offset, value in enumerate(sums):
        write(sheet, total_row, FIRST_AMOUNT_COLUMN + offset, value).number_format = AMOUNT_FORMAT
    for column in range(1, width + 1):
        cell = sheet.cell(total_row, column)
        cell.font, cell.border = Font(bold=True), _BOX
    sheet.cell(total_row, 1).alignment = _CENTRE
    total_row = _advance_rows(sheet, claim, t, total_row=total_row, width=width)

    notes = [*claim_summary(claim, t),
             t._("Training and appraisal subsidy by the certificate obtained; living and "
                 "transport allowances per day attended, for trainees whose group the bureau "
                 "has verified (QJ2020 五(一)(二)). Each trainee is claimed once for a class "
                 "(QJ2019 (二十三)).")]
    if settlement_rates().is_demo:
        notes.append(t._(DEMO_RATES))
    return _signed_and_printable(book, sheet, t, notes=notes, total_row=total_row,
                                 width=width, header_row=CLAIM_HEADER_ROW)


def claim_summary(claim: Claim, t: Translator) -> list[str]:
    """The claim's pass rate and what it pays (QJ2020 五(二)), whether those shares are demo
    values, and the advance and balance: for the sheet and the command alike."""
    texts = []
    if claim.pass_rate is not None:
        policy = claim_policy()
        certified = sum(1 for line in claim.lines if line.voucher.certified)
        texts.append(t.ngettext(
            "Pass rate %(rate)s: %(certified)s of %(num)s trainee obtained the certificate; "
            "%(share)s of the training subsidy is paid (%(source)s).",
            "Pass rate %(rate)s: %(certified)s of %(num)s trainees obtained the certificate; "
            "%(share)s of the training subsidy is paid (%(source)s).", len(claim.lines),
            rate=_share(claim.pass_rate), certified=certified,
            share=_share(claim.pass_share or 1), source=policy.pass_rate_source))
        if policy.pass_rate_is_demo and claim.class_ended_on >= policy.effective_from:
            texts.append(t._("Demo amounts (演示金额): the shares paid by pass rate are the "
                             "project's example, not the county's."))
    if claim.advance_yuan:
        texts.append(t._("Advanced while the class ran: %(advance)s (%(source)s). Still to pay: "
                         "%(balance)s.", advance=t.money(claim.advance_yuan),
                         balance=t.money(claim.balance_yuan),
                         source=claim_policy().advance_source)
                     if claim.balance_yuan >= 0 else
                     t._("Advanced while the class ran: %(advance)s (%(source)s), more than the "
                         "claim: %(back)s to pay back.", advance=t.money(claim.advance_yuan),
                         back=t.money(-claim.balance_yuan),
                         source=claim_policy().advance_source))
    return texts


def _share(value: Decimal) -> str:
    return f"{value * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _advance_rows(sheet: Worksheet, claim: Claim, t: Translator, *, total_row: int,
                  width: int) -> int:
    """Under the total: the advance already paid and the balance, as figures in the total's
    column; returns the last row written."""
    if not claim.advance_yuan:
        return total_row
    rows = ((t._("Advance already paid"), -claim.advance_yuan),
            (t._("Balance to pay (below 0: to pay back)"), claim.balance_yuan))
    for offset, (label, amount) in enumerate(rows, start=1):
        row = total_row + offset
        write(sheet, row, 1, label).font = Font(bold=True)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width - 2)
        cell = write(sheet, row, width - 1, amount)
        cell.number_format, cell.font = AMOUNT_FORMAT, Font(bold=True)
        for column in range(1, width + 1):
            sheet.cell(row, column).border = _BOX
    return total_row + len(rows)


def _signed_and_printable(book, sheet, t: Translator, *, notes: list[str], total_row: int,
                          width: int, header_row: int) -> bytes:
    """Notes under the total, a line for the signatures, and a page a clerk prints as it is:
    A4 landscape, one page wide, the header repeated on every page."""
    for offset, note in enumerate(notes, start=2):
        _line(sheet, total_row + offset, width, note, alignment=_WRAP)
        sheet.row_dimensions[total_row + offset].height = 30
    signature_row = total_row + len(notes) + 3
    _line(sheet, signature_row, width,
          t._("Prepared by:                Reviewed by:                Date:"),
          font=Font(size=12), alignment=Alignment(vertical="center"))
    sheet.row_dimensions[signature_row].height = 36
    return _printable(book, sheet, freeze=f"A{header_row + 1}",
                      title_rows=f"{header_row}:{header_row}",
                      area=f"A1:{get_column_letter(width)}{signature_row}")


def _printable(book, sheet, *, freeze: str, title_rows: str, area: str) -> bytes:
    """A sheet a clerk prints as it is: A4 landscape, one page wide, the header rows repeated
    on every page; returned as the .xlsx file's bytes."""
    _print_setup(sheet, freeze=freeze, title_rows=title_rows, area=area)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _print_setup(sheet, *, freeze: str, title_rows: str, area: str | None) -> None:
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

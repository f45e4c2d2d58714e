"""The bureau's attendance records from the command line: a class's attendance sheet to print
and sign, the oversight of classes (manual marks, spot checks) and inviting inspectors."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from documents.attendance_sheet import ATTENDANCE_TOTAL_COLUMNS, ATTENDANCE_TRAINEE_COLUMNS
from models.attendance import Inspector
from models.catalogue import Course
from models.clock import LOCAL_TZ
from models.persons import Person
from models.vouchers import Voucher
from tests.factories import id_number, invitation_by_command, register_via_chat

STAFF = "demo-staff"
TRAINEE = "demo-trainee"
COURSE = "lp-2026-today"  # sessions today 08:00–12:00 and 13:00–17:00, 20 days
REASON = "phone battery flat, seen in class by the teacher"
INSPECTOR = "o-inspector"
JSON = {"Accept": "application/json"}
LINK = re.compile(r"http://peixun\.test(/p/class/[\w.\-]+)")
MORNING, AFTERNOON = "08:00–12:00", "13:00–17:00"


def at(hour: int, minute: int = 0, *, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LOCAL_TZ)


@pytest.fixture
def voucher_number(db) -> str:
    return db.scalar(select(Voucher.number).join(Person, Person.id == Voucher.person_id)
                     .join(Course, Course.id == Voucher.course_id)
                     .where(Person.openid == TRAINEE, Course.code == COURSE))


@pytest.fixture
def class_day(wechat, client, clock, db):
    """Today's class through the real doors: ``open_class()`` is 开课 (the display's path);
    ``scan_in()`` has demo-trainee, in the training yard, scan the code the display shows."""

    class ClassDay:
        display: str | None = None

        def open_class(self) -> str:
            self.display = LINK.search(wechat.say(STAFF, "开课").text).group(1)
            client.get(self.display)  # the projector opens it: the class's screen
            return self.display

        def code(self) -> str:
            return client.get(self.display, headers=JSON).get_json()["qr"]

        def scan_in(self) -> None:
            course = db.scalar(select(Course).where(Course.code == COURSE))
            wechat.report_location(TRAINEE, course.lat, course.lng)
            assert "✔" in wechat.scan(TRAINEE, "CHECKIN", self.code()).text

    return ClassDay()


@pytest.fixture
def marked(wechat, clock, class_day, voucher_number):
    """demo-trainee marked present by hand in the morning class staff opened (check-in had
    closed at 08:30), then checked in by scanning at 12:50 for the afternoon: one mark of two
    made by hand."""
    class_day.open_class()
    reply = wechat.say(STAFF, f"补签 {voucher_number} {REASON}")
    assert voucher_number in reply.text, reply.text
    clock.set(at(12, 50))
    class_day.open_class()
    class_day.scan_in()


def write_sheet(runner, path, *extra: str):
    result = runner.invoke(args=["attendance", "sheet", "--course", COURSE, "--out", str(path),
                                 *extra])
    assert result.exit_code == 0, result.output
    return result


class Grid:
    """The sheet as a reader finds their way in it: by header, by voucher number."""

    def __init__(self, path) -> None:
        self.ws = load_workbook(path).active
        self.rows = {row[1].value: row[0].row for row in self.ws.iter_rows(min_row=5)
                     if row[1].value}
        self.headers = {}  # header text -> column, first occurrence
        for row in (3, 4):
            for cell in self.ws[row]:
                if isinstance(cell.value, str):
                    self.headers.setdefault(cell.value, cell.column)
        self.totals_row = next(row[0].row for row in self.ws.iter_rows(min_row=5)
                               if row[0].value == "Present at the session")

    def cell(self, voucher_number: str, header: str):
        return self.ws.cell(self.rows[voucher_number], self.headers[header])

    def text(self) -> str:
        return "\n".join(str(cell.value) for row in self.ws.iter_rows() for cell in row
                         if cell.value is not None)


# --- the attendance sheet ------------------------------------------------------------------

def test_the_sheet_shows_scans_by_time_and_manual_marks_with_their_reason(runner, marked,
                                                                          voucher_number,
                                                                          tmp_path, clock):
    result = write_sheet(runner, tmp_path / "attendance.xlsx", "--lang", "en")
    assert "trainees 1, sessions 40, marks made by hand 1" in result.output
    grid = Grid(tmp_path / "attendance.xlsx")

    assert grid.headers["Nov 25"] == len(ATTENDANCE_TRAINEE_COLUMNS) + 1  # the first session
    by_hand = grid.cell(voucher_number, MORNING)
    assert by_hand.value == "√ by hand [1]"
    assert REASON in by_hand.comment.text and "present" in by_hand.comment.text
    assert by_hand.font.bold and by_hand.fill.fgColor.rgb.endswith("FFF2CC")
    assert (f"[1] Nov 25 {MORNING}, 李春花 ({voucher_number}): present, marked by hand: "
            f"{REASON}" in grid.text())  # on paper too, not only in the comment

    assert grid.cell(voucher_number, AFTERNOON).value == "12:50"
    nov_26 = grid.headers["Nov 26"]
    assert grid.ws.cell(grid.rows[voucher_number], nov_26).value == "—"

    assert grid.cell(voucher_number, "Sessions attended").value == 2
    # At 12:50 the afternoon session is still to run: only the morning's hours count yet.
    assert grid.cell(voucher_number, "Hours attended").value == 4
    assert grid.ws.cell(grid.totals_row, grid.headers[MORNING]).value == 1
    assert grid.ws.cell(grid.totals_row, grid.headers[AFTERNOON]).value == 1
    assert grid.ws.cell(grid.totals_row, nov_26).value == 0

    clock.set(at(17))  # the afternoon session has taken place
    write_sheet(runner, tmp_path / "evening.xlsx", "--lang", "en")
    assert Grid(tmp_path / "evening.xlsx").cell(voucher_number, "Hours attended").value == 8


def test_the_sheet_is_ready_to_print_and_sign(runner, marked, tmp_path):
    write_sheet(runner, tmp_path / "attendance.xlsx", "--lang", "en")
    grid = Grid(tmp_path / "attendance.xlsx")
    ws = grid.ws
    assert ws["A1"].value == "Attendance sheet: Excavator operator (entry level) (lp-2026-today)"
    assert "Luoping Secondary Vocational and Technical School" in ws["A2"].value
    headers = [ws.cell(3, c).value for c in range(1, ws.max_column + 1)]
    assert headers[:4] == ["No.", "Voucher no.", "Name", "ID number (masked)"]
    assert headers[-2:] == [h for h, _ in ATTENDANCE_TOTAL_COLUMNS]
    [row] = grid.rows.values()
    assert ws.cell(row, 3).value == "李春花"
    assert ws.cell(row, 4).value.startswith("5303") and "*" in ws.cell(row, 4).value  # masked
    assert "530324199203150028" not in grid.text()
    assert "Teacher's signature:" in grid.text() and "Head of institution's signature:" in (
        grid.text())
    assert "×: marked absent" in grid.text()  # the legend
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$3:$4"


def test_an_absence_marked_by_hand_shows_as_a_cross_with_its_reason(runner, wechat, class_day,
                                                                    voucher_number, tmp_path):
    register_via_chat(wechat, STAFF, name="王老师", id=id_number(seq="051"),
                      phone="13812340051")  # staff who registered: their name is on the note
    class_day.open_class()  # the morning class, at 09:00
    wechat.say(STAFF, f"缺勤 {voucher_number} sick leave, note from the village clinic")
    write_sheet(runner, tmp_path / "attendance.xlsx", "--lang", "en")
    grid = Grid(tmp_path / "attendance.xlsx")
    cell = grid.cell(voucher_number, MORNING)
    assert cell.value == "× [1]"
    assert cell.comment.text == ("absent, marked by hand by 王老师: sick leave, note from the "
                                 "village clinic")
    assert grid.cell(voucher_number, "Sessions attended").value == 0
    assert grid.ws.cell(grid.totals_row, grid.headers[MORNING]).value == 0


def test_the_sheet_in_chinese_has_the_same_grid(runner, marked, voucher_number, tmp_path):
    result = write_sheet(runner, tmp_path / "attendance.xlsx")
    assert result.output.strip()
    ws = load_workbook(tmp_path / "attendance.xlsx").active
    assert ws["A3"].value == "序号" and ws["B3"].value == "券号"
    assert "挖掘机司机（初级）培训班" in ws["A1"].value
    assert ws.cell(4, 5).value == MORNING and ws.cell(4, 6).value == AFTERNOON
    assert ws.cell(5, 2).value == voucher_number and ws.cell(5, 6).value == "12:50"


def test_an_unknown_course_is_one_line(runner, tmp_path):
    result = runner.invoke(args=["attendance", "sheet", "--course", "lp-nowhere", "--out",
                                 str(tmp_path / "x.xlsx"), "--lang", "en"])
    assert result.exit_code == 1
    assert result.output.strip() == "No course has the code “lp-nowhere”."
    assert not (tmp_path / "x.xlsx").exists()


# --- oversight -----------------------------------------------------------------------------

def oversight_lines(runner) -> dict[str, str]:
    result = runner.invoke(args=["attendance", "oversight", "--lang", "en"])
    assert result.exit_code == 0, result.output
    return {line.split(" ", 1)[0]: line for line in result.output.strip().splitlines()}


def test_oversight_flags_a_high_manual_share_and_a_class_never_checked(runner, marked):
    lines = oversight_lines(runner)
    assert list(lines) == [COURSE]  # the only class that has started
    line = lines[COURSE]
    assert "marks: 2, by hand: 50%, spot checks: 0" in line
    assert "⚠ check for proxy signing" in line and "no spot check yet" in line


def test_a_spot_checked_class_without_manual_marks_is_not_flagged(runner, wechat, clock,
                                                                 class_day, fake_wechat):
    clock.set(at(12, 50))
    class_day.open_class()
    class_day.scan_in()
    invite = runner.invoke(args=["inspectors", "invite", "--lang", "en"])
    assert invite.exit_code == 0, invite.output
    scene = re.search(r"inspector:[A-Za-z0-9_-]+", invite.output).group(0)
    wechat.follow(INSPECTOR, scene)
    wechat.scan(INSPECTOR, "CHECKIN", class_day.code())
    wechat.transcript(INSPECTOR, [("1", None),  # trainees seen in the room
                                  ("无", None)])  # no notes

    clock.set(datetime(2026, 12, 3, 9, tzinfo=LOCAL_TZ))  # lp-2026-001 started on Dec 2
    lines = oversight_lines(runner)
    assert "marks: 1, by hand: 0%, spot checks: 1" in lines[COURSE]
    assert "⚠" not in lines[COURSE]
    assert "marks: 0, by hand: 0%, spot checks: 0" in lines["lp-2026-001"]
    assert "no spot check yet" in lines["lp-2026-001"]
    assert "proxy" not in lines["lp-2026-001"]


def test_oversight_before_any_class_has_started(runner, clock):
    clock.set(at(9, day=24))
    result = runner.invoke(args=["attendance", "oversight", "--lang", "en"])
    assert result.exit_code == 0
    assert result.output.strip() == "No class has started yet."


# --- inspectors ----------------------------------------------------------------------------

def test_inspectors_invite_prints_a_one_time_scene_and_asks_wechat_for_its_code(
        runner, fake_wechat, tmp_path, wechat, db):
    scene, output, request = invitation_by_command(runner, fake_wechat, tmp_path / "i.svg",
                                                   "inspectors", "invite", "--lang", "en")
    assert scene.startswith("inspector:") and "valid 14 days, once" in output
    assert request["expire_seconds"] == 14 * 24 * 3600

    wechat.follow(INSPECTOR, scene)
    wechat.follow("o-someone-else", scene)  # the code works once
    inspectors = db.scalars(select(Person.openid).join(Inspector,
                                                       Inspector.person_id == Person.id)).all()
    assert inspectors == [INSPECTOR]

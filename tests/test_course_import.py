"""The bureau publishes courses from a file: every row or none, and every problem named by its
row and column."""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from models.audit import AuditEntry, Channel
from models.catalogue import CertificateKind, ClassSession, Course
from models.course_import import (
    COLUMNS,
    FILE,
    MAX_ROWS,
    ImportResult,
    RowError,
    import_courses,
)
from models.errors import CourseFileRejected
from tests.damaged_files import damaged
from tests.factories import course_csv, course_file

ZH = {column.name: column.zh for column in COLUMNS}

BRICKLAYER = {  # YN2021 二(七): 120 hours for a skill-level certificate, 8 hours a day
    "code": "imp-001", "institution": "lp-pes", "category": "construction",
    "name": "测试砌筑工培训班", "name_en": "Test bricklayer class", "occupation": "砌筑工",
    "occupation_en": "Bricklayer", "certificate_kind": "职业技能等级证书",
    "certificate_level": "初级工", "theory_hours": "36", "practice_hours": "84",
    "capacity": "50", "fee_yuan": "", "is_entrepreneurship": "否", "township": "罗雄街道",
    "address": "罗平县罗雄街道振兴街88号", "lat": "24.8851", "lng": "104.3093",
    "radius_m": "300", "first_day": "2026-12-01", "session_days": "15",
    "daily": "08:30-12:30；14:00-18:00",
}
STARTING_A_BUSINESS = {  # 35 a class for entrepreneurship training; full-width separators
    "code": "imp-002", "institution": "lp-zhongzhi", "category": "10",
    "name": "测试创业培训班", "name_en": "", "occupation": "创业指导",
    "occupation_en": "", "certificate_kind": "培训合格证书", "certificate_level": "",
    "theory_hours": "12", "practice_hours": "28", "capacity": "35", "fee_yuan": "0",
    "is_entrepreneurship": "是", "township": "jiulong", "address": "罗平县九龙街道九龙大道168号",
    "lat": "", "lng": "", "radius_m": "", "first_day": "2026-12-10", "session_days": "5",
    "daily": "09:00～12:00;14:00–19:00",
}


def _row(base: dict[str, str] = BRICKLAYER, **changes: str) -> dict[str, str]:
    return {**base, **changes}


def _csv_text(rows: list[dict[str, str]]) -> str:
    return course_csv(rows, columns=BRICKLAYER)


def _csv_file(tmp_path: Path, rows: list[dict[str, str]], *, encoding: str = "utf-8",
              name: str = "courses.csv") -> Path:
    return course_file(tmp_path / name, rows, columns=BRICKLAYER, encoding=encoding)


def _codes(db, *codes: str) -> set[str]:
    db.expire_all()
    return set(db.scalars(select(Course.code).where(Course.code.in_(codes))))


def _lines(output: str, row: int) -> list[str]:
    """The report's lines about one row, whether the words are Chinese or English."""
    return [line for line in output.splitlines() if re.match(rf"(Row {row}\b|第{row}行)", line)]


def test_a_good_file_is_imported_and_the_bot_lists_its_courses(runner, db, talk, tmp_path):
    path = _csv_file(tmp_path, [BRICKLAYER, STARTING_A_BUSINESS])
    result = runner.invoke(args=["courses", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert re.findall(r"\d+", result.output) == ["2", "0", "0"]  # new, updated, unchanged
    talk("o-imp", [("课程", "共14个")])

    course = db.scalar(select(Course).where(Course.code == "imp-002"))
    assert course.category.code == "tourism" and course.township.code == "jiulong"
    assert course.is_entrepreneurship and course.is_free and course.capacity == 35
    assert course.certificate_kind is CertificateKind.COMPLETION
    assert course.name_en == "测试创业培训班"  # no English name given: the Chinese one
    assert [(s.starts.isoformat("minutes"), s.ends.isoformat("minutes"))
            for s in course.sessions[:2]] == [("09:00", "12:00"), ("14:00", "19:00")]
    assert (course.starts_on.isoformat(), course.ends_on.isoformat()) == ("2026-12-10",
                                                                         "2026-12-14")
    bricklayer = db.scalar(select(Course).where(Course.code == "imp-001"))
    assert bricklayer.township.code == "luoxiong" and bricklayer.hours == 120
    assert bricklayer.radius_m == 300 and bricklayer.lat == pytest.approx(24.8851)
    assert len(bricklayer.sessions) == 30


def test_importing_the_same_file_again_changes_nothing(runner, db, tmp_path):
    path = _csv_file(tmp_path, [BRICKLAYER, STARTING_A_BUSINESS])
    assert runner.invoke(args=["courses", "import", str(path)]).exit_code == 0

    def counts():
        return [db.scalar(select(func.count()).select_from(t))
                for t in (Course, ClassSession, AuditEntry)]

    before = counts()
    again = runner.invoke(args=["courses", "import", str(path), "--lang", "en"])
    assert again.exit_code == 0, again.output
    assert "Courses imported: 0 new, 0 updated, 2 unchanged." in again.output
    assert counts() == before


def test_the_counts_say_what_was_new_changed_or_unchanged(db, clock):
    def run(rows) -> ImportResult:
        with db.begin():
            return import_courses(db, filename="courses.csv",
                                  content=_csv_text(rows).encode(), actor_id=None,
                                  channel=Channel.CLI, now=clock.now(), today=clock.today())

    assert run([BRICKLAYER, STARTING_A_BUSINESS]) == ImportResult(new=2, updated=0, unchanged=0)
    assert run([BRICKLAYER, STARTING_A_BUSINESS]) == ImportResult(new=0, updated=0, unchanged=2)
    moved = _row(daily="08:00-12:00;13:00-17:00")
    assert run([moved, STARTING_A_BUSINESS]) == ImportResult(new=0, updated=1, unchanged=1)
    assert db.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) == \
        "course.republish"


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_csv_from_chinese_excel_and_with_a_bom(runner, db, tmp_path, encoding):
    path = _csv_file(tmp_path, [BRICKLAYER], encoding=encoding)
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
    else:
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    result = runner.invoke(args=["courses", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert db.scalar(select(Course.name).where(Course.code == "imp-001")) == "测试砌筑工培训班"


def test_an_excel_workbook_with_english_headers_and_date_cells(runner, db, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(list(BRICKLAYER))
    sheet.append([{"theory_hours": 36, "practice_hours": 84, "capacity": 50, "lat": 24.8851,
                   "lng": 104.3093, "radius_m": 300, "session_days": 15,
                   "first_day": datetime(2026, 12, 1)}.get(name, value)
                  for name, value in BRICKLAYER.items()])
    sheet.append([])  # a blank row is skipped, and the row numbers keep counting
    sheet.append([{"code": "imp-003", "capacity": 61}.get(name, value)
                  for name, value in STARTING_A_BUSINESS.items()])
    path = tmp_path / "courses.xlsx"
    book.save(path)

    rejected = runner.invoke(args=["courses", "import", str(path), "--lang", "en"])
    assert rejected.exit_code == 1
    assert ("Row 4, capacity: an entrepreneurship class may take at most 35 trainees; "
            "this row has 61 (YN2021 二(七))") in rejected.output

    sheet.delete_rows(4)
    book.save(path)
    result = runner.invoke(args=["courses", "import", str(path)])
    assert result.exit_code == 0, result.output
    course = db.scalar(select(Course).where(Course.code == "imp-001"))
    assert course.starts_on.isoformat() == "2026-12-01" and course.hours == 120


BAD_ROWS = [
    # row 2: a good row, which must not be saved either
    _row(code="imp-101"),
    # row 3: 100 hours are too few for a skill-level certificate
    _row(code="imp-102", theory_hours="30", practice_hours="70", session_days="20",
         daily="08:30-11:00;14:00-16:30"),
    # row 4: 61 trainees
    _row(code="imp-103", capacity="61"),
    # row 5: 36 trainees in entrepreneurship training
    _row(STARTING_A_BUSINESS, code="imp-104", capacity="36"),
    # row 6: 9 hours a day
    _row(code="imp-105", theory_hours="40", practice_hours="95",
         daily="08:00-12:00;13:00-18:00"),
    # row 7: no such township
    _row(code="imp-106", township="nowhere"),
    # row 8: no such day
    _row(code="imp-107", first_day="2026-13-01"),
    # row 9: the code of row 2 again
    _row(code="imp-101", name="另一个班"),
    # row 10: no name
    _row(code="imp-109", name=""),
]
BAD_CODES = ("imp-101", "imp-102", "imp-103", "imp-104", "imp-105", "imp-106", "imp-107",
             "imp-109")


def test_a_bad_file_names_every_problem_and_saves_nothing(runner, db, tmp_path):
    path = _csv_file(tmp_path, BAD_ROWS)
    result = runner.invoke(args=["courses", "import", str(path)])
    assert result.exit_code == 1
    # (row, column, numbers the line must show)
    expected = [
        (3, "理论课时", ["120", "100"]),
        (4, "人数上限", ["60", "61"]),
        (5, "人数上限", ["35", "36"]),
        (6, "每天时段", ["8", "9"]),
        (7, "乡镇", ["nowhere"]),
        (8, "开课日期", ["2026-13-01"]),
        (9, "课程编号", ["imp-101", "2"]),
        (10, "课程名称", []),
    ]
    assert _lines(result.output, 2) == []
    for row, column, shown in expected:
        [line] = _lines(result.output, row)
        assert column in line and all(words in line for words in shown), line
    assert len(result.output.strip().splitlines()) == 1 + len(expected)
    assert _codes(db, *BAD_CODES) == set()


def test_the_report_in_english(runner, tmp_path):
    result = runner.invoke(args=["courses", "import", str(_csv_file(tmp_path, BAD_ROWS)),
                                 "--lang", "en"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == ("Nothing was imported; correct these problems and import the file "
                        "again:")
    assert lines[1:] == [
        "Row 3, theory_hours: a skill-level certificate course needs at least 120 hours; "
        "this row has 100 (YN2021 二(七))",
        "Row 4, capacity: a class may take at most 60 trainees; this row has 61 "
        "(YN2021 二(七))",
        "Row 5, capacity: an entrepreneurship class may take at most 35 trainees; "
        "this row has 36 (YN2021 二(七))",
        "Row 6, daily: at most 8 class hours a day; this timetable has 9 (YN2021 二(七))",
        "Row 7, township: “nowhere” is not a township of the county (its code or its "
        "Chinese name)",
        "Row 8, first_day: “2026-13-01” is not a date like 2026-12-01",
        "Row 9, code: the course code “imp-101” is also on row 2",
        "Row 10, name: this must be filled in",
    ]


def test_a_file_of_another_kind_is_refused(runner, tmp_path):
    path = tmp_path / "courses.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0 an old Excel file")
    result = runner.invoke(args=["courses", "import", str(path), "--lang", "en"])
    assert result.exit_code == 1
    assert "File: only .csv and .xlsx files can be imported, not “.xls”" in result.output


@pytest.mark.parametrize(("filename", "content", "code"), [
    ("courses.csv", b"", "no_header"),
    ("courses.csv", b"\n\nsome,title\n", "no_header"),
    ("courses.csv", "课程编号,机构编号\n".encode(), "missing_column"),
    ("courses.csv", _csv_text([]).encode(), "no_rows"),
    ("courses.csv", b"\xff\xfe\x00\x00", "bad_encoding"),
    ("courses.xlsx", b"not a workbook", "unreadable_xlsx"),
    ("courses", b"", "unknown_extension"),
])
def test_a_file_without_a_usable_header_or_rows_is_refused(db, clock, filename, content, code):
    with pytest.raises(CourseFileRejected) as rejected:
        import_courses(db, filename=filename, content=content, actor_id=None,
                       channel=Channel.CLI, now=clock.now(), today=clock.today())
    assert code in {error.code for error in rejected.value.data["errors"]}


def _workbook(rows: list[dict[str, str]]) -> bytes:
    book = Workbook()
    book.active.append([ZH[name] for name in BRICKLAYER])
    for row in rows:
        book.active.append(list(row.values()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


DAMAGED = damaged(_workbook([BRICKLAYER, STARTING_A_BUSINESS]))


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_workbook_is_refused_as_unreadable_and_saves_nothing(db, clock, content):
    with pytest.raises(CourseFileRejected) as rejected:
        import_courses(db, filename="courses.xlsx", content=content, actor_id=None,
                       channel=Channel.CLI, now=clock.now(), today=clock.today())
    assert rejected.value.data["errors"] == [RowError(FILE, None, "unreadable_xlsx")]
    assert _codes(db, "imp-001", "imp-002") == set()


@pytest.mark.parametrize(("lang", "line"), [
    ("zh", "无法按Excel工作簿（.xlsx）读取"),
    ("en", "File: it could not be read as an Excel workbook (.xlsx)"),
])
def test_the_command_reports_a_damaged_workbook_in_the_chosen_language(runner, db, tmp_path,
                                                                       lang, line):
    path = tmp_path / "courses.xlsx"
    path.write_bytes(DAMAGED["sheet XML broken"])
    result = runner.invoke(args=["courses", "import", str(path), "--lang", lang])
    assert result.exit_code == 1
    assert line in result.output and "Traceback" not in result.output
    assert _codes(db, "imp-001", "imp-002") == set()


def test_a_header_naming_unknown_columns_says_which(db, clock):
    text = _csv_text([BRICKLAYER]).replace("签到半径米", "签到半径")
    with pytest.raises(CourseFileRejected) as rejected:
        import_courses(db, filename="courses.csv", content=text.encode(), actor_id=None,
                       channel=Channel.CLI, now=clock.now(), today=clock.today())
    assert rejected.value.data["errors"] == [RowError(1, "签到半径", "unknown_column")]


def test_more_than_2000_courses_at_once_are_refused(runner, tmp_path):
    path = _csv_file(tmp_path, [BRICKLAYER] * (MAX_ROWS + 1))
    result = runner.invoke(args=["courses", "import", str(path), "--lang", "en"])
    assert result.exit_code == 1
    assert "File: at most 2000 courses can be imported at once" in result.output
    assert len(result.output.strip().splitlines()) == 2


def test_every_cell_problem_of_a_row_is_reported_at_once(db, clock):
    row = _row(capacity="六十", fee_yuan="-5", is_entrepreneurship="maybe", lat="24.9",
               daily="08:30-12:30;12:00-13:00", first_day="2026-11-24", certificate_kind="证书")
    with pytest.raises(CourseFileRejected) as rejected:
        import_courses(db, filename="c.csv", content=_csv_text([row]).encode(), actor_id=None,
                       channel=Channel.CLI, now=clock.now(), today=clock.today())
    found = {(error.column, error.code) for error in rejected.value.data["errors"]}
    assert found == {
        ("certificate_kind", "unknown_certificate_kind"),
        ("capacity", "not_a_whole_number"),
        ("fee_yuan", "bad_amount"),
        ("is_entrepreneurship", "bad_yes_no"),
        ("daily", "periods_overlap"),
        ("first_day", "first_day_past"),
    }
    assert FILE not in {error.row for error in rejected.value.data["errors"]}


def test_reimporting_cannot_remove_a_class_day_that_was_attended(runner, tmp_path, sessions,
                                                                  clock, db):
    """The demo's class running today has attendance once someone checks in; a file that
    moves its days is refused and changes nothing."""
    from sqlalchemy import select as sa_select

    from models.attendance import Attendance, MarkHow
    from models.catalogue import ClassSession, Course
    from models.vouchers import Voucher

    with sessions.begin() as setup:
        course = setup.scalar(sa_select(Course).where(Course.code == "lp-2026-today"))
        first = setup.scalar(sa_select(ClassSession).where(ClassSession.course_id == course.id)
                             .order_by(ClassSession.day, ClassSession.starts))
        voucher = setup.scalar(sa_select(Voucher).where(Voucher.course_id == course.id))
        setup.add(Attendance.of(first, person_id=voucher.person_id, voucher_id=voucher.id,
                                is_present=True, hours=4, how=MarkHow.SCAN))
    header = ("code,institution,category,name,occupation,certificate_kind,certificate_level,"
              "theory_hours,practice_hours,capacity,township,address,first_day,session_days,"
              "daily\n")
    row = ("lp-2026-today,lp-zhongzhi,construction,挖掘机司机（初级）培训班,挖掘机司机,"
           "skill_level,初级工,48,112,40,lashan,腊山,2026-11-26,20,"
           "08:00-12:00;13:00-17:00\n")
    path = tmp_path / "moved.csv"
    path.write_text(header + row, encoding="utf-8")
    result = runner.invoke(args=["courses", "import", str(path), "--lang", "en"])
    assert result.exit_code == 1
    assert "has attendance on 2026-11-25" in result.output
    db.expire_all()
    assert db.scalar(sa_select(ClassSession).where(ClassSession.id == first.id)) is not None


def test_a_class_can_ask_for_check_out_and_its_own_completion_share(runner, tmp_path, db):
    from sqlalchemy import select as sa_select

    from models.catalogue import Course

    header = ("code,institution,category,name,occupation,certificate_kind,theory_hours,"
              "practice_hours,capacity,township,address,first_day,session_days,daily,"
              "requires_checkout,completion_percent\n")
    row = ("lp-2026-201,lp-pes,care,家政服务员（签退班）,家政服务员,completion,2,6,30,"
           "luoxiong,罗雄,2026-12-10,1,08:00-12:00;13:00-17:00,是,80\n")
    path = tmp_path / "checkout.csv"
    path.write_text(header + row, encoding="utf-8")
    result = runner.invoke(args=["courses", "import", str(path)])
    assert result.exit_code == 0, result.output
    course = db.scalar(sa_select(Course).where(Course.code == "lp-2026-201"))
    assert course.requires_checkout is True and course.completion_share == 0.8

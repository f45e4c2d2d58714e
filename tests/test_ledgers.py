"""The bureau's ledgers as a clerk downloads them from the desk: the quarter's training ledger,
a class's record, the monthly progress report, the claim list and the provincial platform's
file. Each is asked for through the desk's form, made by the worker's step, downloaded and
opened with openpyxl."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import select

from documents.provincial_file import (
    PROVINCIAL_FILE,
    PROVINCIAL_SOURCES,
    parse_provincial_columns,
)
from models.attendance import SpotCheck
from models.audit import AuditEntry
from models.catalogue import ClassSession, Course
from models.claims import make_claim
from models.clock import LOCAL_TZ
from models.desk import DeskRole
from models.regions import Region
from models.targets import Target, TargetMeasure
from tests import factories
from tests.desk_fixtures import ask_export, form_token
from worker.exports import run_export_jobs

COURSE = "lp-2026-today"  # lp-zhongzhi, 挖掘机司机 初级工, 腊山街道, from today, 20 days
CLAIMED_COURSE = "lp-2026-006"  # lp-pes, 家政服务, 10 class days from 28 Nov to 7 Dec
DEMO_TRAINEE_ID = "530324199203150028"
DESCRIPTION = "挖掘机基本操作、安全规程与日常保养"


def spot_check(sessions, clock, *, seen: int, notes: str) -> None:
    """An inspector's spot check of the class's first session, added directly as setup."""
    with sessions.begin() as db:
        inspector = factories.inspector(db, openid="o-ledger-inspector", now=clock.now(),
                                        name="督查员老周")
        session = db.scalar(select(ClassSession).join(ClassSession.course)
                            .where(Course.code == COURSE)
                            .order_by(ClassSession.day, ClassSession.starts).limit(1))
        db.add(SpotCheck(session_id=session.id, inspector_person_id=inspector.id,
                         at=clock.now(), present_seen=seen, checked_in_then=1, notes=notes))


@pytest.fixture
def class_of_three(classroom, sessions, clock):
    """lp-2026-today: demo-trainee (李春花, enrolled by the demo), 王五 who attended all 20 days
    and completed with a certificate, 赵六 who enrolled and dropped out; one spot check; the
    class's description as the bureau published it."""
    wang = classroom.enrol(COURSE, "王五", sex="M")
    zhao = classroom.enrol(COURSE, "赵六")
    classroom.complete(wang, "2026530324000123")
    classroom.drop_out(zhao, "搬去昆明")
    spot_check(sessions, clock, seen=2, notes="现场两人，与签到一致")
    with sessions.begin() as db:
        db.scalar(select(Course).where(Course.code == COURSE)).description = DESCRIPTION
    return wang, zhao


def export(client, services, kind: str, value: str, *, full_ids: bool = False):
    """Ask for an export on the desk (saying why, for a file with full ID numbers), let the
    worker's step make it, download it: the workbook, opened."""
    asked = ask_export(client, kind, value, full_ids=full_ids)
    assert asked.status_code == 303, asked.get_data(as_text=True)
    job_url = asked.headers["Location"]
    assert run_export_jobs(services) == 1
    status = client.get(job_url, headers={"Accept": "application/json"}).get_json()
    assert status["status"] == "done", status
    response = client.get(status["download"])
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return load_workbook(io.BytesIO(response.data))


def table(ws, header_row: int) -> tuple[list[str], list[dict[str, object]]]:
    """The headers of a sheet's table and its rows as {header: value}."""
    headers = [c.value for c in ws[header_row]]
    rows = []
    for row in ws.iter_rows(min_row=header_row + 1, values_only=True):
        if row[0] is None:
            break
        rows.append(dict(zip(headers, row, strict=False)))
    return headers, rows


def all_text(book) -> str:
    return "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                     for v in row if v is not None)


# --- the training ledger -------------------------------------------------------------------

def test_a_ledger_read_on_the_first_morning_counts_no_hours_of_a_session_still_running(
        desk_client, services, classroom, class_of_three, clock):
    """Hours (and the allowances paid on them) count once a session has taken place: a ledger
    read while today's session runs shows none of it, the same file read after shows them."""
    _, rows = table(export(desk_client(DeskRole.ADMIN), services, "ledger", "2026Q4").active, 3)
    assert {r["姓名"]: r["出勤学时"] for r in rows if r["培训班编号"] == COURSE}["王五"] == 0
    clock.set(classroom.completed_at)
    _, rows = table(export(desk_client(DeskRole.ADMIN), services, "ledger", "2026Q4").active, 3)
    assert {r["姓名"]: r["出勤学时"] for r in rows if r["培训班编号"] == COURSE}["王五"] == 160


def test_the_quarters_ledger_has_a_row_per_trainee_and_class_with_masked_ids(
        desk_client, services, classroom, class_of_three, clock):
    wang, zhao = class_of_three
    first_day = clock.today()
    clock.set(classroom.completed_at)  # read once the class is over: every session's hours count
    book = export(desk_client(DeskRole.ADMIN), services, "ledger", "2026Q4")
    ws = book.active
    assert ws.title == "培训台账"
    assert ws["A1"].value.startswith("培训台账 2026Q4")
    assert "身份证号已脱敏" in ws["A2"].value
    headers, rows = table(ws, 3)
    assert headers[:7] == ["序号", "券号", "姓名", "身份证号（脱敏）", "性别", "户籍乡镇",
                           "人员类别"]
    for header in ("培训班编号", "课程", "培训类别", "培训机构", "职业（工种）", "证书",
                   "课程学时", "培训开始日期", "培训结束日期", "状态", "出勤天数", "证书编号",
                   "培训补贴（元）", "备注"):
        assert header in headers
    mine = {r["姓名"]: r for r in rows if r["培训班编号"] == COURSE}
    assert set(mine) == {"李春花", "王五", "赵六"}
    assert mine["王五"]["状态"] == "已结业"
    assert mine["王五"]["证书编号"] == "2026530324000123"
    assert mine["王五"]["出勤天数"] == 20 and mine["王五"]["出勤学时"] == 160
    assert mine["王五"]["性别"] == "男" and mine["赵六"]["性别"] == "女"
    assert mine["王五"]["证书"] == "职业技能等级证书（初级工）"
    assert mine["王五"]["课程学时"] == 160
    assert mine["王五"]["培训开始日期"].date() == first_day
    assert mine["王五"]["人员类别"] == "脱贫劳动力（本人申报，未核实）"
    assert mine["赵六"]["状态"] == "已收回" and mine["赵六"]["备注"] == "退训：搬去昆明"
    assert mine["李春花"]["状态"] == "已报到"
    assert mine["李春花"]["身份证号（脱敏）"].startswith("5303")
    assert "*" in mine["李春花"]["身份证号（脱敏）"]
    text = all_text(book)
    for full in (DEMO_TRAINEE_ID, wang.id_number, zhao.id_number):
        assert full not in text
    assert [r["序号"] for r in rows] == list(range(1, len(rows) + 1))
    assert ws.print_title_rows == "$3:$3" and ws.page_setup.orientation == "landscape"
    assert ws.freeze_panes == "A4"


def test_an_admin_may_have_the_ledger_with_full_ids_and_it_is_audited(desk_client, services,
                                                                      class_of_three, db):
    wang, _ = class_of_three
    admin = desk_client(DeskRole.ADMIN)
    book = export(admin, services, "ledger", "2026Q4", full_ids=True)
    headers, rows = table(book.active, 3)
    assert "身份证号" in headers and "联系电话" in headers
    assert "身份证号（脱敏）" not in headers
    mine = {r["姓名"]: r for r in rows}
    assert mine["王五"]["身份证号"] == wang.id_number  # text, not a rounded number
    assert mine["李春花"]["身份证号"] == DEMO_TRAINEE_ID
    assert mine["李春花"]["联系电话"] == "13988880001"
    assert "完整显示" in book.active["A2"].value
    actions = db.scalars(select(AuditEntry.action).where(
        AuditEntry.desk_user_id == admin.desk_user.id, AuditEntry.action.like("export.%"))
        .order_by(AuditEntry.id)).all()
    assert actions == ["export.queue", "export.download"]


def test_a_quarter_without_classes_gives_a_ledger_with_only_its_header(desk_client, services):
    book = export(desk_client(DeskRole.INSPECTOR), services, "ledger", "2025Q1")
    headers, rows = table(book.active, 3)
    assert headers[0] == "序号" and rows == []
    assert "共0人次" in book.active["A2"].value


def test_the_ledger_in_english(desk_client, services, class_of_three):
    client = desk_client(DeskRole.ADMIN)
    client.get("/admin/exports?lang=en")
    book = export(client, services, "ledger", "2026Q4")
    headers, rows = table(book.active, 3)
    assert headers[:4] == ["No.", "Voucher no.", "Name", "ID number (masked)"]
    assert {r["Name"]: r["Status"] for r in rows}["赵六"] == "revoked"


# --- a class's record ----------------------------------------------------------------------

def test_the_class_record_keeps_the_class_and_a_trainee_who_dropped_out(desk_client, services,
                                                                        class_of_three):
    book = export(desk_client(DeskRole.INSPECTOR), services, "class_record", COURSE)
    assert [ws.title for ws in book.worksheets] == ["培训班", "课次", "考勤", "督查"]
    ws = book["培训班"]
    assert ws["A1"].value == f"培训班档案：挖掘机司机（初级）培训班（{COURSE}）"
    facts = {row[0]: row[2] for row in ws.iter_rows(min_row=3, max_row=23, values_only=True)
             if row[0]}
    assert facts["培训内容"] == DESCRIPTION
    assert facts["学时"] == "160（理论48，实操112）"
    assert facts["培训地乡镇"] == "腊山街道"
    assert facts["培训地点"] == "罗平县腊山街道工程机械实训场"
    assert facts["授课教师"] == "未登记"
    assert facts["报到人数（含退训）"] == 3 and facts["退训人数"] == 1
    assert facts["取证人数"] == 1
    header_row = next(r for r in range(20, 40) if ws.cell(r, 1).value == "序号")
    headers, rows = table(ws, header_row)
    assert "培训班编号" not in headers  # the class is named once, above
    by_name = {r["姓名"]: r for r in rows}
    assert by_name["赵六"]["状态"] == "已收回" and by_name["赵六"]["备注"] == "退训：搬去昆明"
    assert by_name["王五"]["证书编号"] == "2026530324000123"

    sessions_headers, session_rows = table(book["课次"], 2)
    assert sessions_headers == ["日期", "时间", "开课时间", "出勤人数", "登记缺勤", "人工登记",
                                "督查"]
    assert len(session_rows) == 40
    assert session_rows[0]["出勤人数"] == 1 and session_rows[0]["督查"] == 1
    _, marks = table(book["考勤"], 2)
    assert len(marks) == 40 and {m["姓名"] for m in marks} == {"王五"}
    assert marks[0]["考勤"] == "出勤" and marks[0]["方式"] == "扫码"
    assert marks[0]["签到"] == "08:00" and marks[0]["学时"] == 4
    _, checks = table(book["督查"], 2)
    assert checks == [{"日期": checks[0]["日期"], "时间": "08:00–12:00", "督查时间": "09:00",
                       "督查人员": "督查员老周", "现场人数": 2, "当时签到人数": 1,
                       "督查记录": "现场两人，与签到一致"}]


def test_an_institution_gets_its_own_class_record(desk_client, services, class_of_three):
    client = desk_client(DeskRole.INSTITUTION, institution_code="lp-zhongzhi")
    book = export(client, services, "class_record", COURSE)
    assert DEMO_TRAINEE_ID not in all_text(book)
    assert book["培训班"]["A1"].value.endswith(f"（{COURSE}）")


# --- the monthly progress report -----------------------------------------------------------

def test_the_monthly_progress_report_counts_by_category_and_township(desk_client, services,
                                                                     class_of_three):
    # 王五 completes in December, once the 20 class days from 25 November have taken place.
    november = export(desk_client(DeskRole.INSPECTOR), services, "progress", "2026-11")
    _, rows = table(november["按类别"], 3)
    construction = next(r for r in rows if r["培训类别"].startswith("砌筑工"))
    assert construction["本月"] == 2 and construction["已结业"] == 0
    book = export(desk_client(DeskRole.INSPECTOR), services, "progress", "2026-12")
    ws = book["按类别"]
    assert ws["A1"].value.startswith("2026年目标任务完成情况")
    headers, rows = table(ws, 3)
    assert headers == ["序号", "培训类别", "目标（培训人次）", "培训人次", "本月", "已结业",
                       "完成率", "职业资格/技能等级证书", "专项职业能力证书", "免费培训"]
    assert len(rows) == 12
    construction = next(r for r in rows if r["培训类别"].startswith("砌筑工"))
    # 李春花 and 王五 trained (赵六 was revoked), 王五 completed with a skill-level
    # certificate; both in a free class. 2026 has no targets: 2022's (the latest loaded)
    # are compared, and the sheet says so, as the dashboard does.
    assert construction["培训人次"] == 2 and construction["本月"] == 0  # taken in in November
    assert construction["已结业"] == 1
    assert construction["职业资格/技能等级证书"] == 1 and construction["免费培训"] == 2
    assert construction["目标（培训人次）"] == 300
    assert construction["完成率"] == pytest.approx(1 / 300)
    assert "2022" in ws["A2"].value and "2026" in ws["A2"].value
    total = next(r for r in ws.iter_rows(min_row=4, values_only=True) if r[1] == "合计")
    assert total[3] == 2
    _, township_rows = table(book["按乡镇"], 3)
    assert len(township_rows) == 13
    by_township = {r["户籍乡镇"]: r for r in township_rows}
    # Counted where the trainees live: 李春花 in 腊山街道, 王五 in 罗雄街道.
    assert by_township["腊山街道"]["培训人次"] == 1 and by_township["腊山街道"]["已结业"] == 0
    assert by_township["罗雄街道"]["培训人次"] == 1 and by_township["罗雄街道"]["已结业"] == 1


def test_a_past_month_leaves_out_what_happened_after_it(desk_client, services,
                                                        class_of_three):
    book = export(desk_client(DeskRole.ADMIN), services, "progress", "2026-10")
    _, rows = table(book["按类别"], 3)
    assert sum(r["培训人次"] for r in rows) == 0


def test_the_progress_report_highlights_a_lagging_share_against_the_targets(
        desk_client, services, class_of_three, sessions):
    with sessions.begin() as db:  # the county loads its 2026 target for 罗雄街道
        luoxiong = db.scalar(select(Region).where(Region.code == "luoxiong"))
        db.add(Target(region_id=luoxiong.id, year=2026, category_id=None,
                      measure=TargetMeasure.TRAININGS, count=100, source="test"))
    book = export(desk_client(DeskRole.ADMIN), services, "progress", "2026-12")
    ws = book["按乡镇"]
    headers, _ = table(ws, 3)
    row = next(r for r in range(4, 20) if ws.cell(r, 2).value == "罗雄街道")
    assert ws.cell(row, headers.index("目标（培训人次）") + 1).value == 100
    share = ws.cell(row, headers.index("完成率") + 1)
    assert share.value == pytest.approx(0.01) and share.number_format == "0%"
    assert share.fill.fgColor.rgb.endswith("F8CBAD")  # 1% by the end of December lags


# --- the claim list ------------------------------------------------------------------------

def claimed_trainee(classroom, clock, certificate_no: str):
    """孙七 completes CLAIMED_COURSE with a certificate; on 8 December the institution claims
    the class. Returns the trainee and the claim (its lines loaded)."""
    trainee = classroom.enrol(CLAIMED_COURSE, "孙七", sex="M")
    classroom.complete(trainee, certificate_no)
    clock.set(datetime(2026, 12, 8, 10, 0, tzinfo=LOCAL_TZ))
    with classroom.sessions.begin() as db:
        claim = make_claim(db, course_code=CLAIMED_COURSE, now=clock.now())
        _ = claim.lines  # read while the session is open
    return trainee, claim


def test_the_claim_list_of_an_ended_class_is_on_the_desk(desk_client, services, classroom,
                                                         clock):
    trainee, claim = claimed_trainee(classroom, clock, "ZX-2026-0001")
    book = export(desk_client(DeskRole.INSTITUTION, institution_code="lp-pes"), services,
                  "claim", CLAIMED_COURSE)
    ws = book.active
    assert claim.number in ws["A1"].value
    headers, rows = table(ws, 4)
    assert headers[:4] == ["序号", "券号", "姓名", "身份证号（脱敏）"]
    assert rows[0]["姓名"] == "孙七" and rows[0]["券号"] == trainee.number


def test_a_class_without_a_claim_has_no_claim_list(desk_client):
    client = desk_client(DeskRole.ADMIN)
    page = client.get("/admin/exports")
    answer = client.post("/admin/exports", data={"kind": "claim", "value": CLAIMED_COURSE,
                                                 "csrf_token": form_token(page.data)})
    assert answer.status_code == 409
    assert f"培训班{CLAIMED_COURSE}尚未申领补贴" in answer.get_data(as_text=True)


# --- the provincial platform's file --------------------------------------------------------

def test_the_provincial_file_follows_the_documented_columns(desk_client, services,
                                                            class_of_three):
    wang, _ = class_of_three
    book = export(desk_client(DeskRole.ADMIN), services, "provincial", COURSE)
    ws = book.active
    layout = yaml.safe_load(PROVINCIAL_FILE.read_text(encoding="utf-8"))
    assert [c.value for c in ws[1]] == [c["header"] for c in layout["columns"]]
    _, rows = table(ws, 1)
    by_name = {r["姓名"]: r for r in rows}
    assert set(by_name) == {"李春花", "王五", "赵六"}
    assert by_name["王五"]["公民身份号码"] == wang.id_number
    assert by_name["王五"]["性别"] == "男" and by_name["王五"]["培训状态"] == "结业"
    assert by_name["王五"]["是否取得证书"] == "是"
    assert by_name["王五"]["证书类型"] == "职业技能等级证书"
    assert by_name["王五"]["培训等级"] == "初级工"
    assert by_name["王五"]["出勤天数"] == 20
    assert by_name["赵六"]["培训状态"] == "退训"
    assert by_name["李春花"]["培训状态"] == "在训"
    assert by_name["李春花"]["公民身份号码"] == DEMO_TRAINEE_ID
    assert by_name["李春花"]["户籍所在乡镇"] == "腊山街道"
    assert by_name["李春花"]["培训开始日期"].date() == services.clock.today()
    assert ws.cell(2, 3).number_format == "@"  # the ID number column is text


def test_every_provincial_source_is_known_and_a_wrong_one_stops_loudly():
    layout = yaml.safe_load(PROVINCIAL_FILE.read_text(encoding="utf-8"))
    assert all(c["source"] in PROVINCIAL_SOURCES for c in layout["columns"])
    with pytest.raises(ValueError, match="公民身份号码: unknown source 'idcard'"):
        parse_provincial_columns({"columns": [{"header": "公民身份号码", "source": "idcard"}]})
    with pytest.raises(ValueError, match="unknown format 'money'"):
        parse_provincial_columns({"columns": [{"header": "x", "source": "name",
                                               "format": "money"}]})


def test_amounts_known_from_a_claim_are_on_the_ledger(desk_client, services, classroom,
                                                      clock):
    _, claim = claimed_trainee(classroom, clock, "ZX-2026-0002")
    expected = claim.lines[0].training_yuan
    book = export(desk_client(DeskRole.ADMIN), services, "ledger", "2026Q4")
    _, rows = table(book.active, 3)
    row = next(r for r in rows if r["姓名"] == "孙七")
    assert row["申领/结算单号"] == claim.number
    assert Decimal(str(row["培训补贴（元）"])) == expected


def test_a_county_s_quarterly_ledger_has_its_own_classes_only(services, class_of_three, clock):
    # A province's deployment: the ledger of one county (the export job's "county").
    from models.ledgers import Quarter, ledger_chunk, ledger_count
    from models.progress import region_scope
    from models.regions import RegionLevel

    quarter = Quarter.parse("2026Q4")
    with services.sessions.begin() as db:
        qujing = db.scalar(select(Region).where(Region.code == "qujing"))
        other = Region(code="shizong", name="师宗县", name_en="Shizong",
                       level=RegionLevel.COUNTY, parent=qujing)
        db.add(other)
        db.flush()
        luoping = region_scope(db, db.scalar(select(Region.id).where(Region.code == "luoping")))
        everything = ledger_count(db, quarter=quarter)
        assert everything > 0
        assert ledger_count(db, quarter=quarter, townships=luoping.townships) == everything
        assert ledger_count(db, quarter=quarter,
                            townships=region_scope(db, other.id).townships) == 0
        rows = ledger_chunk(db, quarter=quarter, townships=luoping.townships, now=clock.now())
        assert {row.course.code for row in rows} >= {COURSE}

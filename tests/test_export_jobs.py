"""Exports as jobs: queued from the desk, made by the worker's step chunk by chunk with its
progress moving, downloaded by whoever asked and nobody else; who may ask for which export;
bad input refused with a clear answer and nothing queued; full ID numbers only with a reason,
audited; files sealed at rest and removed after 7 days by the worker's periodic jobs."""

from __future__ import annotations

import io
import threading

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet._writer import ALL_TEMP_FILES as openpyxl_temporary_files
from sqlalchemy import LargeBinary, String, Text, event, func, select, text

import models
import worker
from models.audit import AuditEntry
from models.catalogue import Course
from models.desk import DeskRole, DeskUser
from models.export_jobs import (
    ExportJob,
    ExportKind,
    ExportStatus,
    claim_next_job,
    remove_old_files,
)
from models.regions import Region
from tests.desk_fixtures import ask_export, form_token, sign_in
from tests.test_ledgers import COURSE, class_of_three  # noqa: F401 (a fixture)
from worker.exports import run_export_jobs

OWN_CLASS = COURSE  # lp-zhongzhi's
OTHERS_CLASS = "lp-2026-001"  # lp-pes's
OTHERS_CLAIMED_CLASS = "lp-2026-006"  # lp-pes's
JSON = {"Accept": "application/json"}




def jobs_count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count(ExportJob.id)))


# --- who may ask for what ------------------------------------------------------------------

@pytest.mark.parametrize(("role", "kind", "value", "full_ids", "status"), [
    # an institution's staff: their own classes' records and claim lists, nothing else
    (DeskRole.INSTITUTION, "ledger", "2026Q4", False, 403),
    (DeskRole.INSTITUTION, "progress", "2026-11", False, 403),
    (DeskRole.INSTITUTION, "provincial", OWN_CLASS, False, 403),
    (DeskRole.INSTITUTION, "class_record", OWN_CLASS, True, 403),
    (DeskRole.INSTITUTION, "class_record", OTHERS_CLASS, False, 404),
    (DeskRole.INSTITUTION, "claim", OTHERS_CLAIMED_CLASS, False, 404),
    (DeskRole.INSTITUTION, "class_record", OWN_CLASS, False, 303),
    # an inspector: reads the ledger (masked) and class records; no claims, no full IDs
    (DeskRole.INSPECTOR, "claim", OWN_CLASS, False, 403),
    (DeskRole.INSPECTOR, "provincial", OWN_CLASS, False, 403),
    (DeskRole.INSPECTOR, "ledger", "2026Q4", True, 403),
    (DeskRole.INSPECTOR, "class_record", OWN_CLASS, True, 403),
    (DeskRole.INSPECTOR, "ledger", "2026Q4", False, 303),
    (DeskRole.INSPECTOR, "progress", "2026-11", False, 303),
    (DeskRole.INSPECTOR, "class_record", OTHERS_CLASS, False, 303),
    # the bureau's admin: everything
    (DeskRole.ADMIN, "ledger", "2026Q4", True, 303),
    (DeskRole.ADMIN, "provincial", OTHERS_CLASS, False, 303),
    (DeskRole.ADMIN, "class_record", OTHERS_CLASS, True, 303),
])
def test_who_may_ask_for_which_export(desk_client, db, role, kind, value, full_ids, status):
    client = desk_client(role, institution_code="lp-zhongzhi"
                         if role is DeskRole.INSTITUTION else None)
    before = jobs_count(db)
    answer = ask_export(client, kind, value, full_ids=full_ids)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert jobs_count(db) == before + (1 if status == 303 else 0)
    if status == 404:
        # Another institution's class is answered as if it did not exist.
        assert f"没有编号为“{value}”的培训班" in answer.get_data(as_text=True)


def test_the_exports_page_offers_each_role_only_its_exports(desk_client):
    institution = desk_client(DeskRole.INSTITUTION, institution_code="lp-zhongzhi")
    page = institution.get("/admin/exports").get_data(as_text=True)
    assert 'id="export-class_record"' in page and 'id="export-claim"' in page
    for kind in ("ledger", "progress", "provincial"):
        assert f'id="export-{kind}"' not in page
    assert f'value="{OWN_CLASS}"' in page and f'value="{OTHERS_CLASS}"' not in page
    assert 'name="full_ids"' not in page

    inspector = desk_client(DeskRole.INSPECTOR).get("/admin/exports").get_data(as_text=True)
    assert 'id="export-ledger"' in inspector and 'id="export-claim"' not in inspector
    assert 'name="full_ids"' not in inspector

    admin = desk_client(DeskRole.ADMIN).get("/admin/exports").get_data(as_text=True)
    for kind in ExportKind:
        assert f'id="export-{kind.value}"' in admin
    assert 'name="full_ids"' in admin and f'value="{OTHERS_CLASS}"' in admin


def test_signed_out_the_exports_lead_to_the_sign_in_form(client):
    for path in ("/admin/exports", "/admin/exports/1", "/admin/exports/1/file"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]


def test_a_form_without_its_token_queues_nothing(desk_client, db):
    client = desk_client(DeskRole.ADMIN)
    answer = client.post("/admin/exports", data={"kind": "ledger", "value": "2026Q4"})
    assert answer.status_code == 400
    assert jobs_count(db) == 0


@pytest.mark.parametrize(("kind", "value", "status", "words"), [
    ("ledger", "2026Q5", 400, "“2026Q5”不是季度，请按2026Q4的格式填写。"),
    ("progress", "2026-13", 400, "“2026-13”不是月份，请按2026-11的格式填写。"),
    ("class_record", "lp-nowhere", 404, "没有编号为“lp-nowhere”的培训班"),
    ("payroll", "2026Q4", 400, "请从下面选择一种导出。"),
])
def test_bad_input_gets_a_clear_answer_and_queues_nothing(desk_client, db, kind, value,
                                                          status, words):
    answer = ask_export(desk_client(DeskRole.ADMIN), kind, value)
    assert answer.status_code == status
    assert words in answer.get_data(as_text=True)
    assert jobs_count(db) == 0


# --- the job: queued, made chunk by chunk, downloaded --------------------------------------

@pytest.mark.usefixtures("class_of_three")  # three trainees in today's class
def test_the_worker_makes_the_ledger_chunk_by_chunk_and_the_page_follows(
        desk_client, services, sessions, classroom):
    classroom.enrol(OTHERS_CLAIMED_CLASS, "孙七", sex="M")  # one in another class of the quarter
    client = desk_client(DeskRole.ADMIN)
    asked = ask_export(client, "ledger", "2026Q4")
    job_url = asked.headers["Location"]
    assert client.get(job_url, headers=JSON).get_json() == {
        "status": "queued", "done": 0, "total": None, "percent": 0, "download": None}
    page = client.get(job_url)
    assert "排队中" in page.get_data(as_text=True) and page.headers["Refresh"] == "2"
    assert "/file" not in page.get_data(as_text=True)

    progress: list[tuple[int, int]] = []

    def watch(state):  # the progress the worker records, as it records it
        statement = state.statement
        if state.is_update and statement.table.name == "export_jobs":
            values = statement.compile().params
            if "done" in values and "status" not in values:
                progress.append((values["done"], values["total"]))

    event.listen(sessions, "do_orm_execute", watch)
    try:
        assert run_export_jobs(services, chunk=1) == 1
    finally:
        event.remove(sessions, "do_orm_execute", watch)
    assert progress[0] == (0, 4) and progress[-1] == (4, 4)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert {1, 2, 3} <= {done for done, _ in progress}  # it moved a chunk at a time

    status = client.get(job_url, headers=JSON).get_json()
    assert status == {"status": "done", "done": 4, "total": 4, "percent": 100,
                      "download": f"{job_url}/file"}
    page = client.get(job_url)
    text = page.get_data(as_text=True)
    assert "Refresh" not in page.headers and "已完成" in text and "培训台账_2026Q4.xlsx" in text
    answer = client.get(status["download"])
    assert answer.headers["Cache-Control"] == "no-store"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(answer.data)).active.iter_rows(min_row=4,
                                                                        values_only=True))
    assert sorted(row[2] for row in rows) == sorted(["李春花", "王五", "赵六", "孙七"])
    assert [row[0] for row in rows] == [1, 2, 3, 4]
    assert run_export_jobs(services) == 0  # nothing left in the queue


def test_the_list_shows_the_users_own_jobs(desk_client, services):
    client = desk_client(DeskRole.INSPECTOR)
    ask_export(client, "progress", "2026-11")
    run_export_jobs(services)
    other = desk_client(DeskRole.INSPECTOR)
    ask_export(other, "ledger", "2026Q4")
    page = client.get("/admin/exports").get_data(as_text=True)
    assert "2026-11" in page and "已完成" in page and "2026Q4" not in page.split('id="jobs"')[1]


def test_nobody_but_the_requester_gets_a_finished_file(desk_client, services, db):
    owner = desk_client(DeskRole.INSTITUTION, institution_code="lp-zhongzhi")
    job_url = ask_export(owner, "class_record", OWN_CLASS).headers["Location"]
    run_export_jobs(services)
    assert owner.get(f"{job_url}/file").status_code == 200
    others = [desk_client(DeskRole.INSTITUTION, institution_code="lp-pes"),
              desk_client(DeskRole.INSTITUTION, institution_code="lp-zhongzhi"),
              desk_client(DeskRole.INSPECTOR), desk_client(DeskRole.ADMIN)]
    for other in others:
        for path in (job_url, f"{job_url}/file"):
            answer = other.get(path)
            assert answer.status_code == 404, (other.desk_user.username, path)
            assert "导出文件只提供给发起人" in answer.get_data(as_text=True)
        assert other.get(job_url, headers=JSON).status_code == 404
    downloads = db.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "export.download",
        AuditEntry.target_id == int(job_url.rsplit("/", 1)[1])))
    assert downloads == 1  # the requester's; the refusals handed nothing out


def test_a_file_with_full_ids_is_refused_once_its_requester_is_no_longer_admin(
        desk_client, services, sessions):
    admin = desk_client(DeskRole.ADMIN)
    job_url = ask_export(admin, "ledger", "2026Q4", full_ids=True).headers["Location"]
    run_export_jobs(services)
    with sessions.begin() as db:
        db.get(DeskUser, admin.desk_user.id).role = DeskRole.INSPECTOR
    answer = admin.get(f"{job_url}/file")
    assert answer.status_code == 403
    assert "PK" not in answer.get_data(as_text=True)[:2]


def test_files_are_removed_after_seven_days(desk_client, services, sessions, clock):
    client = desk_client(DeskRole.ADMIN)
    job_url = ask_export(client, "progress", "2026-11").headers["Location"]
    run_export_jobs(services)
    clock.advance(days=6)
    with sessions.begin() as db:
        assert remove_old_files(db, now=clock.now()) == 0
    clock.advance(days=2)
    with sessions.begin() as db:
        assert remove_old_files(db, now=clock.now()) == 1
    sign_in(client, client.desk_user.username)  # a week later: a new session
    assert client.get(f"{job_url}/file").status_code == 404
    assert "已在生成7天后删除" in client.get(job_url).get_data(as_text=True)


def test_the_worker_s_periodic_jobs_remove_files_a_week_old(desk_client, services, sessions,
                                                            clock):
    """The removal is not only a function: the worker's minute jobs run it."""
    client = desk_client(DeskRole.ADMIN)
    job_id = int(ask_export(client, "ledger", "2026Q4", full_ids=True).headers["Location"]
                 .rsplit("/", 1)[1])
    run_export_jobs(services)
    clock.advance(days=6, hours=23)
    assert worker.run_jobs(services)["export_files_removed"] == 0
    assert stored_file(sessions, job_id) is not None
    clock.advance(hours=2)
    assert worker.run_jobs(services)["export_files_removed"] == 1
    assert stored_file(sessions, job_id) is None
    assert worker.run_jobs(services)["export_files_removed"] == 0


# --- nothing clear at rest; full ID numbers only with a reason ------------------------------

def stored_file(sessions, job_id: int) -> bytes | None:
    """The export_jobs.content column as the database holds it."""
    with sessions() as db:
        return db.scalar(select(ExportJob.content).where(ExportJob.id == job_id))


def test_the_file_is_sealed_in_the_database_and_opens_for_its_requester(
        desk_client, services, sessions, class_of_three):  # noqa: F811 (the fixture)
    wang, _ = class_of_three
    admin = desk_client(DeskRole.ADMIN)
    job_url = ask_export(admin, "ledger", "2026Q4", full_ids=True).headers["Location"]
    job_id = int(job_url.rsplit("/", 1)[1])
    assert run_export_jobs(services) == 1

    raw = stored_file(sessions, job_id)
    assert raw and b"PK\x03\x04" not in raw  # no zip (xlsx) inside, anywhere
    assert wang.id_number.encode() not in raw and "王五".encode() not in raw
    assert b"[Content_Types].xml" not in raw and b"sharedStrings" not in raw

    answer = admin.get(f"{job_url}/file")
    assert answer.status_code == 200 and answer.data.startswith(b"PK\x03\x04")
    rows = list(load_workbook(io.BytesIO(answer.data)).active.iter_rows(min_row=4,
                                                                        values_only=True))
    assert wang.id_number in {cell for row in rows for cell in row}
    other_admin = desk_client(DeskRole.ADMIN)
    assert other_admin.get(f"{job_url}/file").status_code == 404


@pytest.mark.usefixtures("class_of_three")
def test_after_full_id_exports_no_column_holds_a_raw_id_phone_or_clear_file(
        desk_client, services, db):
    """The README's promise, checked where the files are kept: every text column and every
    binary one, once the ledger, the class record and the provincial file are made."""
    admin = desk_client(DeskRole.ADMIN)
    for kind, value in (("ledger", "2026Q4"), ("class_record", OWN_CLASS),
                        ("provincial", OWN_CLASS)):
        ask_export(admin, kind, value, full_ids=kind != "provincial")
        assert run_export_jobs(services) == 1
    raw = ("530324199203150028", "13988880001")  # 李春花's, in all three files
    for table in models.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, LargeBinary):
                values = db.execute(select(column).where(column.is_not(None))).scalars().all()
                assert values, f"{table.name}.{column.name}: no file kept"
                assert not any(b"PK\x03\x04" in value or any(r.encode() in value for r in raw)
                               for value in values), f"{table.name}.{column.name}"
            elif isinstance(column.type, String | Text) or (
                    column.type.__class__.__name__ == "JSON"):
                found = db.execute(text(
                    f'SELECT count(*) FROM {table.name} WHERE CAST("{column.name}" AS TEXT) '
                    f'LIKE :a OR CAST("{column.name}" AS TEXT) LIKE :b'),
                    {"a": f"%{raw[0]}%", "b": f"%{raw[1]}%"}).scalar()
                assert found == 0, f"{table.name}.{column.name}"


def test_a_sealed_file_moved_to_another_job_does_not_open(desk_client, services, sessions):
    """A sealed file is bound to its job: copied into another job's row (by someone with the
    database but not the key) it opens for nobody, and the answer is a plain 404."""
    client = desk_client(DeskRole.ADMIN)
    first = int(ask_export(client, "progress", "2026-11").headers["Location"].rsplit("/", 1)[1])
    second = int(ask_export(client, "progress", "2026-10").headers["Location"].rsplit("/", 1)[1])
    run_export_jobs(services), run_export_jobs(services)
    with sessions.begin() as db:
        db.get(ExportJob, second).content = stored_file(sessions, first)
    assert client.get(f"/admin/exports/{first}/file").status_code == 200
    answer = client.get(f"/admin/exports/{second}/file")
    assert answer.status_code == 404 and "没有这个导出" in answer.get_data(as_text=True)


@pytest.mark.usefixtures("class_of_three")
def test_a_ledger_stopped_half_way_leaves_no_clear_rows_on_disk(desk_client, services, sessions,
                                                                db):
    """A write-only sheet streams its rows to a temporary file until it is saved; a worker
    stopping after the first chunk puts the job back and removes that file."""
    job_id = int(ask_export(desk_client(DeskRole.ADMIN), "ledger", "2026Q4", full_ids=True)
                 .headers["Location"].rsplit("/", 1)[1])
    stop = threading.Event()

    def stop_after_the_first_chunk(state):
        if state.is_update and state.statement.table.name == "export_jobs" and (
                state.statement.compile().params.get("done") or 0) >= 1:
            stop.set()

    temporary_files = len(openpyxl_temporary_files)
    event.listen(sessions, "do_orm_execute", stop_after_the_first_chunk)
    try:
        assert run_export_jobs(services, chunk=1, stop=stop) == 0
    finally:
        event.remove(sessions, "do_orm_execute", stop_after_the_first_chunk)
    db.expire_all()
    assert db.get(ExportJob, job_id).status is ExportStatus.QUEUED
    assert len(openpyxl_temporary_files) == temporary_files


@pytest.mark.parametrize(("kind", "value", "full_ids", "reason"), [
    ("ledger", "2026Q4", True, None),
    ("ledger", "2026Q4", True, "   "),
    ("class_record", OTHERS_CLASS, True, ""),
    ("provincial", OTHERS_CLASS, False, " \t"),  # the provincial file always has full IDs
])
def test_full_ids_without_a_reason_are_refused_in_plain_words(desk_client, db, kind, value,
                                                              full_ids, reason):
    client = desk_client(DeskRole.ADMIN)
    page = client.get("/admin/exports")
    data = {"kind": kind, "value": value, "csrf_token": form_token(page.data)}
    if full_ids:
        data["full_ids"] = "1"
    if reason is not None:
        data["reason"] = reason
    answer = client.post("/admin/exports", data=data)
    assert answer.status_code == 400
    assert "请写明需要完整身份证号和手机号的原因" in answer.get_data(as_text=True)
    assert jobs_count(db) == 0
    assert db.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "export.queue")) == 0


def test_the_form_asks_why_full_ids_are_needed(desk_client):
    page = desk_client(DeskRole.ADMIN).get("/admin/exports").get_data(as_text=True)
    for kind in ("ledger", "class_record", "provincial"):
        assert f'id="reason-{kind}"' in page
    assert 'id="reason-progress"' not in page and 'id="reason-claim"' not in page


def test_a_full_id_export_is_audited_with_its_reason(desk_client, services, db):
    client = desk_client(DeskRole.ADMIN)
    job_url = ask_export(client, "provincial", OTHERS_CLASS,
                         reason="  报省级平台\n凡补必进  ").headers["Location"]
    masked_url = ask_export(client, "class_record", OTHERS_CLASS,
                            reason="不需要").headers["Location"]
    queued = {entry.target_id: entry.after for entry in db.scalars(select(AuditEntry).where(
        AuditEntry.desk_user_id == client.desk_user.id, AuditEntry.action == "export.queue"))}
    job_id, masked_id = (int(url.rsplit("/", 1)[1]) for url in (job_url, masked_url))
    assert queued[job_id]["full_ids"] is True
    assert queued[job_id]["reason"] == "报省级平台 凡补必进"
    assert queued[masked_id]["full_ids"] is False and "reason" not in queued[masked_id]
    assert db.get(ExportJob, job_id).reason == "报省级平台 凡补必进"
    assert db.get(ExportJob, masked_id).reason is None
    assert "原因：报省级平台 凡补必进" in client.get(job_url).get_data(as_text=True)


def test_a_job_whose_class_is_gone_fails_with_a_clear_word(desk_client, services, sessions,
                                                           clock):
    client = desk_client(DeskRole.ADMIN)
    with sessions.begin() as db:  # a job for a class that no longer exists
        job = ExportJob(kind=ExportKind.CLASS_RECORD, params={"course": "lp-gone"},
                        with_full_ids=False, locale="zh_Hans_CN",
                        requested_by_id=client.desk_user.id, status=ExportStatus.QUEUED,
                        done=0, created_at=clock.now())
        db.add(job)
    assert run_export_jobs(services) == 1
    page = client.get(f"/admin/exports/{job.id}").get_data(as_text=True)
    assert "生成失败" in page and "该培训班已不存在。" in page
    assert client.get(f"/admin/exports/{job.id}/file").status_code == 404


def test_a_job_whose_worker_died_is_taken_up_again(desk_client, sessions, clock):
    ask_export(desk_client(DeskRole.ADMIN), "progress", "2026-11")
    with sessions.begin() as db:
        first = claim_next_job(db, now=clock.now())
    assert first.status is ExportStatus.RUNNING
    with sessions.begin() as db:
        assert claim_next_job(db, now=clock.now()) is None  # another worker has it
    clock.advance(minutes=11)  # and has not moved since
    with sessions.begin() as db:
        again = claim_next_job(db, now=clock.now())
    assert again.id == first.id and again.status is ExportStatus.RUNNING


# --- a province's deployment: the ledger of one county (issue 19) ---------------------------

SHIZONG_CLASS = COURSE  # moved to 师宗县's 丹凤街道 by shizong_class below


def ledger_names(client, services, job_url: str) -> tuple[str, list[str], list[str]]:
    """Let the worker make the job's file; its name on the job's page, its title row and the
    names of its trainees."""
    assert run_export_jobs(services) == 1
    status = client.get(job_url, headers=JSON).get_json()
    assert status["status"] == "done", status
    sheet = load_workbook(io.BytesIO(client.get(status["download"]).data)).active
    names = sorted(row[2] for row in sheet.iter_rows(min_row=4, values_only=True))
    return client.get(job_url).get_data(as_text=True), [sheet["A1"].value], names


@pytest.fixture
def shizong_class(second_county, class_of_three, classroom, sessions):  # noqa: F811
    """Today's class (李春花, 王五, 赵六) held in 师宗县 and 孙七 in a class of 罗平县, all
    starting in 2026Q4."""
    classroom.enrol(OTHERS_CLAIMED_CLASS, "孙七", sex="M")
    with sessions.begin() as db:
        danfeng = db.scalar(select(Region.id).where(Region.code == "danfeng"))
        db.scalar(select(Course).where(Course.code == SHIZONG_CLASS)).township_id = danfeng


@pytest.mark.usefixtures("second_county")
def test_a_province_s_form_offers_the_ledger_by_county(desk_client):
    for role in (DeskRole.ADMIN, DeskRole.INSPECTOR):
        page = desk_client(role).get("/admin/exports").get_data(as_text=True)
        ledger = page.split('id="export-ledger"')[1].split('class="card"')[0]
        assert 'name="county"' in ledger and '<option value="">全部县（市、区）</option>' in ledger
        # By prefecture, in code order: 昆明市 (安宁市), then 曲靖市 (罗平县, 师宗县).
        assert ledger.index('label="昆明市"') < ledger.index(">安宁市<") < ledger.index(
            'label="曲靖市"') < ledger.index(">罗平县<") < ledger.index(">师宗县<")
        assert page.count('name="county"') == 1  # the ledger only: no other export is by county


def test_a_county_s_deployment_keeps_its_form_without_a_county_choice(desk_client):
    page = desk_client(DeskRole.ADMIN).get("/admin/exports").get_data(as_text=True)
    assert 'name="county"' not in page and "全部县" not in page


@pytest.mark.usefixtures("shizong_class")
def test_a_county_s_ledger_has_that_county_s_classes_only(desk_client, services, db):
    client = desk_client(DeskRole.INSPECTOR)
    asked = ask_export(client, "ledger", "2026Q4", county="shizong")
    assert asked.status_code == 303, asked.get_data(as_text=True)
    job_url = asked.headers["Location"]
    job = db.get(ExportJob, int(job_url.rsplit("/", 1)[1]))
    assert job.params == {"quarter": "2026Q4", "county": "shizong"}
    page, title, names = ledger_names(client, services, job_url)
    assert names == sorted(["李春花", "王五", "赵六"])
    assert title[0].startswith("师宗县培训台账 2026Q4")
    assert "培训台账_2026Q4_师宗县.xlsx" in page and "季度 2026Q4 · 师宗县" in page

    page, title, names = ledger_names(
        client, services, ask_export(client, "ledger", "2026Q4", county="luoping")
        .headers["Location"])
    assert names == ["孙七"] and "培训台账_2026Q4_罗平县.xlsx" in page
    # "All counties", as the form's first choice sends it: every county, as before.
    page, title, names = ledger_names(
        client, services, ask_export(client, "ledger", "2026Q4", county="")
        .headers["Location"])
    assert len(names) == 4 and "培训台账_2026Q4.xlsx" in page
    assert title[0].startswith("培训台账 2026Q4")

    jobs = client.get("/admin/exports").get_data(as_text=True).split('id="jobs"')[1]
    assert "2026Q4, 师宗县" in jobs and "2026Q4, 罗平县" in jobs
    assert "2026Q4, 全部县（市、区）" in jobs


@pytest.mark.usefixtures("second_county")
@pytest.mark.parametrize(("kind", "value", "county", "words"), [
    ("ledger", "2026Q4", "nowhere", "“nowhere”不是本系统中的县（市、区）"),
    ("ledger", "2026Q4", "qujing", "“qujing”不是本系统中的县（市、区）"),  # a prefecture
    ("ledger", "2026Q4", "danfeng", "“danfeng”不是本系统中的县（市、区）"),  # a township
    ("ledger", "2026Q4", "shi\x00zong", "不是本系统中的县（市、区）"),
    ("progress", "2026-11", "shizong", "该导出只按全部地区生成，不分县"),
    ("class_record", OTHERS_CLASS, "shizong", "该导出只按全部地区生成，不分县"),
])
def test_a_county_that_is_not_one_is_refused_and_nothing_queued(desk_client, db, kind, value,
                                                                county, words):
    answer = ask_export(desk_client(DeskRole.ADMIN), kind, value, county=county)
    assert answer.status_code == 400
    assert words in answer.get_data(as_text=True)
    assert jobs_count(db) == 0
    assert db.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "export.queue")) == 0


@pytest.mark.usefixtures("second_county")
def test_the_county_refusal_is_in_the_clerk_s_language(desk_client, db):
    client = desk_client(DeskRole.ADMIN)
    client.get("/admin/exports?lang=en")  # remembered for the session
    answer = ask_export(client, "ledger", "2026Q4", county="qujing")
    assert answer.status_code == 400
    assert "“qujing” is not a county of this deployment" in answer.get_data(as_text=True)
    assert jobs_count(db) == 0


@pytest.mark.usefixtures("second_county")
def test_a_county_does_not_open_the_ledger_to_an_institution(desk_client, db):
    # No desk role is held to one county; the ledger stays the admins' and inspectors' only.
    institution = desk_client(DeskRole.INSTITUTION, institution_code="lp-zhongzhi")
    assert 'name="county"' not in institution.get("/admin/exports").get_data(as_text=True)
    answer = ask_export(institution, "ledger", "2026Q4", county="shizong")
    assert answer.status_code == 403
    assert jobs_count(db) == 0

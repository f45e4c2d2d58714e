"""The desk's job openings page: who may read and who may post, upload and withdraw; the form
with and without its CSRF token; reasons per field; the Excel upload all or nothing; the push
figures."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from models.desk import DeskRole
from models.jobs import JobOpening
from tests.damaged_files import damaged
from tests.desk_fixtures import form_token
from tests.test_jobs import GOOD, HEADERS, County

FORM = {**GOOD, "township": "luoxiong", "valid_until": "2026-12-31"}


def count_openings(services) -> int:
    with services.sessions() as db:
        return db.scalar(select(func.count(JobOpening.id)))


def opening_named(services, occupation: str) -> JobOpening | None:
    with services.sessions() as db:
        return db.scalar(select(JobOpening).where(JobOpening.occupation == occupation))


def post_form(client, data: dict, *, with_token: bool = True):
    page = client.get("/admin/jobs")
    if with_token:
        data = {**data, "csrf_token": form_token(page.data)}
    return client.post("/admin/jobs", data=data)


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    book.active.append(HEADERS)
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def county(services, clock, fake_wechat) -> County:
    return County(services, clock, fake_wechat)


@pytest.fixture
def posted(county) -> int:
    return county.post(occupation="装载机司机")


# --- who may do what -------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "status", "has_form"), [
    (DeskRole.ADMIN, 200, True),
    (DeskRole.INSPECTOR, 200, False),
    (DeskRole.INSTITUTION, 403, False),
])
def test_admins_and_inspectors_read_the_list_institutions_are_refused(desk_client, posted,
                                                                      role, status, has_form):
    page = desk_client(role).get("/admin/jobs")
    html = page.get_data(as_text=True)
    assert page.status_code == status
    assert ("装载机司机" in html) is (status == 200)
    assert ('action="/admin/jobs/import"' in html) is has_form
    assert (f'action="/admin/jobs/{posted}/withdraw"' in html) is has_form


def test_signed_out_the_page_asks_to_sign_in(client):
    answer = client.get("/admin/jobs")
    assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]


@pytest.mark.parametrize("role", [DeskRole.INSPECTOR, DeskRole.INSTITUTION])
def test_only_admins_post_upload_or_withdraw(desk_client, services, posted, role):
    client = desk_client(role)
    token = form_token(client.get("/admin/jobs").data)  # the sign-out form's, on any page
    before = count_openings(services)
    refused = [
        client.post("/admin/jobs", data={**FORM, "occupation": "偷偷发布", "csrf_token": token}),
        client.post("/admin/jobs/import", data={
            "csrf_token": token, "file": (io.BytesIO(xlsx([])), "a.xlsx")}),
        client.post(f"/admin/jobs/{posted}/withdraw", data={"csrf_token": token}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert count_openings(services) == before
    with services.sessions() as db:
        assert db.get(JobOpening, posted).withdrawn_at is None


# --- the form --------------------------------------------------------------------------------

def test_an_admin_posts_an_opening_through_the_form(desk_client, services):
    client = desk_client(DeskRole.ADMIN)
    answer = post_form(client, {**FORM, "occupation": "水泥窑巡检工", "category": "industry"})
    assert answer.status_code == 303
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "水泥窑巡检工" in page and "已发布" in page
    with services.sessions() as db:
        job = db.scalar(select(JobOpening).where(JobOpening.occupation == "水泥窑巡检工"))
        assert job.category.code == "industry" and job.township.code == "luoxiong"
        assert job.created_by_id == client.desk_user.id


def test_a_form_without_its_csrf_token_is_refused_and_saves_nothing(desk_client, services):
    before = count_openings(services)
    answer = post_form(desk_client(DeskRole.ADMIN), {**FORM, "occupation": "伪造"},
                       with_token=False)
    assert answer.status_code == 400
    assert count_openings(services) == before and opening_named(services, "伪造") is None


def test_a_bad_form_says_what_is_wrong_beside_each_field_and_keeps_the_rest(desk_client,
                                                                           services):
    before = count_openings(services)
    answer = post_form(desk_client(DeskRole.ADMIN), {
        **FORM, "employer": "", "township": "", "place": "", "valid_until": "2026-11-01",
        "wage": "面议"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "必须填写" in html  # employer
    assert "请填写乡镇或工作地点" in html
    assert "早于今天" in html
    assert 'value="面议"' in html  # what was typed stays
    assert count_openings(services) == before


# --- the upload ------------------------------------------------------------------------------

def test_an_excel_upload_posts_every_row(desk_client, services):
    client = desk_client(DeskRole.ADMIN)
    token = form_token(client.get("/admin/jobs").data)
    rows = [["罗平县鲁布革电站", "电工", "6", "鲁布革乡", "", "5000元/月", "0874-5551234",
             date(2026, 12, 20)],
            ["昆明家政公司", "育婴员", "家政", "", "昆明市", "6000元/月", "13700001111",
             "2026/12/31"]]
    answer = client.post("/admin/jobs/import", data={
        "csrf_token": token, "file": (io.BytesIO(xlsx(rows)), "招聘岗位.xlsx")})
    assert answer.status_code == 303
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "新增 2 条" in page and "育婴员" in page and "鲁布革乡" in page


def test_a_bad_upload_lists_each_problem_by_row_and_column_and_posts_nothing(desk_client,
                                                                            services):
    client = desk_client(DeskRole.ADMIN)
    token = form_token(client.get("/admin/jobs").data)
    before = count_openings(services)
    rows = [["罗平县鲁布革电站", "电工", "", "鲁布革乡", "", "5000元/月", "0874-5551234",
             "2026-12-20"],
            ["", "焊工", "", "月球镇", "", "5000元/月", "0874-1", "明年"]]
    answer = client.post("/admin/jobs/import", data={
        "csrf_token": token, "file": (io.BytesIO(xlsx(rows)), "招聘岗位.xlsx")})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "没有导入任何" in html
    assert "第3行「用人单位」" in html
    assert "第3行「乡镇」" in html and "月球镇" in html
    assert "第3行「有效期至」" in html
    assert count_openings(services) == before


@pytest.mark.parametrize("broken", ["cut off", "sheet XML broken", "workbook XML broken",
                                    "spoilt compressed sheet"])
def test_a_damaged_workbook_is_refused_in_words_and_posts_nothing(desk_client, services,
                                                                  broken):
    client = desk_client(DeskRole.ADMIN)
    token = form_token(client.get("/admin/jobs").data)
    before = count_openings(services)
    content = damaged(xlsx([["罗平县鲁布革电站", "电工", "6", "鲁布革乡", "", "5000元/月",
                             "0874-5551234", "2026-12-20"]]))[broken]
    answer = client.post("/admin/jobs/import", data={
        "csrf_token": token, "file": (io.BytesIO(content), "招聘岗位.xlsx")})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "没有导入任何" in html and "无法按Excel工作簿（.xlsx）读取" in html
    assert count_openings(services) == before and opening_named(services, "电工") is None


def test_an_upload_that_is_not_a_workbook_is_refused(desk_client):
    client = desk_client(DeskRole.ADMIN)
    token = form_token(client.get("/admin/jobs").data)
    answer = client.post("/admin/jobs/import", data={
        "csrf_token": token, "file": (io.BytesIO(b"a,b\n"), "jobs.csv")})
    assert answer.status_code == 422 and ".xlsx" in answer.get_data(as_text=True)


# --- withdrawing and the figures -------------------------------------------------------------

def test_the_list_shows_pushed_and_sent_and_withdrawing_takes_an_opening_down(
        desk_client, county, services):
    county.trainee("o-home")
    job_id = county.post(occupation="装载机司机")
    county.push()
    client = desk_client(DeskRole.ADMIN)
    page = client.get("/admin/jobs").get_data(as_text=True)
    row = page[page.index(f'id="job-{job_id}"'):]
    row = row[:row.index("</tr>")]
    assert '<td class="num pushed">' in row
    pushed = int(row.split('<td class="num pushed">')[1].split("<")[0])
    sent = int(row.split('<td class="num sent">')[1].split("<")[0])
    assert pushed >= 1 and sent == pushed
    token = form_token(page)
    answer = client.post(f"/admin/jobs/{job_id}/withdraw", data={"csrf_token": token})
    assert answer.status_code == 303
    assert f'id="job-{job_id}"' not in client.get("/admin/jobs").get_data(as_text=True)
    assert "已撤下" in client.get("/admin/jobs?all=1").get_data(as_text=True)
    with services.sessions() as db:
        assert db.get(JobOpening, job_id).withdrawn_at is not None


def test_withdrawing_an_unknown_opening_is_404(desk_client):
    client = desk_client(DeskRole.ADMIN)
    token = form_token(client.get("/admin/jobs").data)
    assert client.post("/admin/jobs/999999/withdraw",
                       data={"csrf_token": token}).status_code == 404

"""A clerk at the desk in headless Chromium: signs in through the form, asks for the quarter's
training ledger, watches the job's page until the worker has made the file, downloads it and
opens it. The test plays the worker: it runs the worker's export step while the page polls."""

from __future__ import annotations

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from models.catalogue import Course
from models.desk import DeskRole
from models.regions import Region
from tests.desk_fixtures import DESK_PASSWORD
from worker.exports import run_export_jobs

PAGE_WAIT_MS = 20_000  # generous: the page reloads itself every 2 seconds


def _made_and_downloaded(page, server, services, tmp_path) -> tuple[str, Worksheet]:
    """The test plays the worker while the job's page polls, then clicks the download link
    the page shows once the file is made: the file's name, and its sheet."""
    with server.paused():  # the worker's step, between two of the page's reloads
        assert run_export_jobs(services) == 1
    link = page.locator("#download")
    link.wait_for(state="visible", timeout=PAGE_WAIT_MS)
    with page.expect_download() as info:
        link.click()
    download = info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return download.suggested_filename, load_workbook(path).active


def test_a_clerk_makes_the_ledger_and_downloads_it(browser, server, services, make_desk_user,
                                                   tmp_path):
    clerk = make_desk_user(DeskRole.ADMIN, username="clerk-wang")
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(server.url + "/admin/exports")  # signed out: to the sign-in form, and back
    page.fill("input[name=username]", clerk.username)
    page.fill("input[name=password]", DESK_PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/admin/exports")

    ledger = page.locator("#export-ledger")
    assert ledger.get_by_text("季度培训台账").is_visible()
    ledger.locator("select[name=value]").select_option("2026Q4")
    ledger.get_by_role("button", name="生成文件").click()
    page.wait_for_url("**/admin/exports/*")
    assert page.locator("#status").inner_text() == "排队中"
    assert page.locator("#progress").is_visible()

    filename, ws = _made_and_downloaded(page, server, services, tmp_path)
    assert page.locator("#status").inner_text() == "已完成"
    assert filename == "培训台账_2026Q4.xlsx"
    assert ws["A1"].value.startswith("培训台账 2026Q4")
    assert [c.value for c in ws[3]][:4] == ["序号", "券号", "姓名", "身份证号（脱敏）"]
    names = [row[2] for row in ws.iter_rows(min_row=4, values_only=True)]
    assert "李春花" in names  # the demo's trainee, enrolled in today's class
    assert all(url.startswith(server.url + "/") for url in requests), requests
    context.close()


def test_a_province_s_clerk_chooses_a_county_s_ledger(browser, server, services, sessions,
                                                     make_desk_user, second_county, tmp_path):
    # Today's class, where the demo enrolled 李春花, is held in 师宗县's 丹凤街道.
    with sessions.begin() as db:
        danfeng = db.scalar(select(Region.id).where(Region.code == "danfeng"))
        db.scalar(select(Course).where(Course.code == "lp-2026-today")).township_id = danfeng
    clerk = make_desk_user(DeskRole.INSPECTOR, username="clerk-li")
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.goto(server.url + "/admin/login")
    page.fill("input[name=username]", clerk.username)
    page.fill("input[name=password]", DESK_PASSWORD)
    page.click("#sign-in")
    page.goto(server.url + "/admin/exports")

    ledger = page.locator("#export-ledger")
    county = ledger.get_by_label("县", exact=True)
    assert county.is_visible()
    assert county.locator("option:checked").inner_text() == "全部县（市、区）"
    assert county.locator("optgroup").evaluate_all("gs => gs.map(g => g.label)") == [
        "昆明市", "曲靖市"]
    assert page.locator("select[name=county]").count() == 1  # the ledger's only
    ledger.locator("select[name=value]").select_option("2026Q4")
    county.select_option(label="师宗县")
    ledger.get_by_role("button", name="生成文件").click()
    page.wait_for_url("**/admin/exports/*")
    assert "师宗县" in page.locator("main").inner_text()

    filename, ws = _made_and_downloaded(page, server, services, tmp_path)
    assert filename == "培训台账_2026Q4_师宗县.xlsx"
    assert ws["A1"].value.startswith("师宗县培训台账 2026Q4")
    names = [row[2] for row in ws.iter_rows(min_row=4, values_only=True)]
    assert names == ["李春花"]  # 师宗县's one class and its one trainee, nothing of 罗平县
    context.close()

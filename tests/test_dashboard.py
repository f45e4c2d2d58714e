"""The desk's dashboard: a year's targets against what really happened, by category and by
township, the lists behind its figures, and who may see what. Figures are read off the page."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from models.desk import DeskRole
from models.followups import WorkAfter
from models.regions import Region
from models.targets import Target, TargetMeasure
from runtime.config import PROJECT_ROOT

ZH = {"Accept-Language": "zh-CN"}
# Courses of the demo catalogue starting in 2026 (the clock stands on 2026-11-25).
BUILDING = "lp-2026-today"  # construction, 罗平县中等职业技术学校 (lp-zhongzhi)
OUTSIDE = "lp-2026-003"  # outside (转移就业), 滇黔桂人力资源 (lp-hrs)
ECOMMERCE = "lp-2026-007"  # ecommerce, lp-zhongzhi
CARE = "lp-2026-005"  # care, lp-pes


def figure(html: str, table: str, code: str, measure: str) -> int:
    """The figure in one cell of a table (``code``: the row's category or township code)."""
    body = html.split(f'id="table-{table}"', 1)[1].split("</table>", 1)[0]
    row = body.split(f'data-code="{code}"', 1)[1].split("</tr>", 1)[0]
    cell = re.search(rf'data-measure="{measure}">(?:<a href="[^"]*">)?(\d+)', row)
    assert cell, f"no {measure} in row {code}"
    return int(cell.group(1))


def headline(html: str, measure: str) -> int:
    found = re.search(rf'data-measure="{measure}"><span class="n">(\d+)</span>', html)
    assert found, measure
    return int(found.group(1))


def link(html: str, table: str, code: str, measure: str) -> str:
    body = html.split(f'id="table-{table}"', 1)[1].split("</table>", 1)[0]
    row = body.split(f'data-code="{code}"', 1)[1].split("</tr>", 1)[0]
    return re.search(rf'data-measure="{measure}"><a href="([^"]+)"', row).group(1).replace(
        "&amp;", "&")


def page(client, url: str = "/admin/dashboard") -> str:
    response = client.get(url, headers=ZH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


# --- the figures ---------------------------------------------------------------------------


def test_a_voucher_moves_each_figure_as_it_goes_through_the_funnel(desk_client, activity):
    admin = desk_client(DeskRole.ADMIN)
    before = page(admin)
    start = {m: figure(before, "category", "outside", m)
             for m in ("registered", "redeemed", "completed", "certified", "employed")}
    majie = figure(before, "township", "majie", "registered")

    made = activity.voucher(OUTSIDE, township="majie")
    after = page(admin)
    assert figure(after, "category", "outside", "registered") == start["registered"] + 1
    assert figure(after, "township", "majie", "registered") == majie + 1
    assert figure(after, "category", "outside", "redeemed") == start["redeemed"]

    activity.voucher(OUTSIDE, township="majie", to="redeemed")
    after = page(admin)
    assert figure(after, "category", "outside", "redeemed") == start["redeemed"] + 1

    done = activity.voucher(OUTSIDE, township="majie", to="completed",
                            work=WorkAfter.PROVINCE)
    activity.voucher(OUTSIDE, township="majie", to="completed", certified=False,
                     work=WorkAfter.NOT_YET)
    after = page(admin)
    assert figure(after, "category", "outside", "completed") == start["completed"] + 2
    assert figure(after, "category", "outside", "certified") == start["certified"] + 1
    assert figure(after, "category", "outside", "employed") == start["employed"] + 1
    assert figure(after, "township", "majie", "employed") == 1
    assert headline(after, "registered") == headline(before, "registered") + 4
    # An answer saying "employed" for a voucher not completed does not count.
    activity.answered(made, _course_id(activity, OUTSIDE), WorkAfter.LOCAL)
    assert figure(page(admin), "category", "outside", "employed") == start["employed"] + 1
    assert done.number  # (the completed trainee's voucher, listed below)


def _course_id(activity, code: str) -> int:
    from models.catalogue import Course
    return activity.run(lambda db: db.scalar(select(Course.id).where(Course.code == code)))


def test_cancelled_vouchers_and_other_years_do_not_count(desk_client, activity, clock):
    from models.vouchers import cancel_voucher

    admin = desk_client(DeskRole.ADMIN)
    start = figure(page(admin), "category", "care", "registered")
    made = activity.voucher(CARE, township="fule")
    assert figure(page(admin), "category", "care", "registered") == start + 1
    activity.run(cancel_voucher, openid=made.openid, voucher_id=made.voucher_id, now=clock.now())
    assert figure(page(admin), "category", "care", "registered") == start
    assert figure(page(admin, "/admin/dashboard?year=2025"), "category", "care",
                  "registered") == 0


def test_filters_narrow_every_figure(desk_client, activity):
    admin = desk_client(DeskRole.ADMIN)
    activity.voucher(OUTSIDE, township="majie", to="redeemed")
    activity.voucher(ECOMMERCE, township="agang", to="redeemed")
    html = page(admin, "/admin/dashboard?township=majie")
    assert figure(html, "category", "outside", "redeemed") == 1
    assert figure(html, "category", "ecommerce", "redeemed") == 0
    assert 'data-code="agang"' not in html.split('id="table-township"')[1]
    html = page(admin, "/admin/dashboard?institution=lp-zhongzhi")
    assert figure(html, "category", "outside", "redeemed") == 0
    assert figure(html, "category", "ecommerce", "redeemed") == 1
    html = page(admin, "/admin/dashboard?category=ecommerce")
    assert figure(html, "township", "agang", "redeemed") == 1
    assert figure(html, "township", "majie", "redeemed") == 0


def test_a_province_s_dashboard_narrows_to_a_prefecture_or_a_county(desk_client, activity,
                                                                    sessions):
    # A province's deployment: a second county of Qujing (师宗县) with a township of its own.
    from models.regions import RegionLevel

    with sessions.begin() as db:
        qujing = db.scalar(select(Region).where(Region.code == "qujing"))
        county = Region(code="shizong", name="师宗县", name_en="Shizong",
                        level=RegionLevel.COUNTY, parent=qujing)
        db.add(Region(code="danfeng", name="丹凤街道", name_en="Danfeng",
                      level=RegionLevel.TOWNSHIP, parent=county))
        kunming = Region(code="yunnan-other", name="昆明市", name_en="Kunming",
                         level=RegionLevel.PREFECTURE, parent=qujing.parent)
        db.add(Region(code="anning", name="安宁市", name_en="Anning", level=RegionLevel.COUNTY,
                      parent=kunming))
    activity.voucher(OUTSIDE, township="majie", to="redeemed")
    activity.voucher(OUTSIDE, township="danfeng", to="redeemed")
    admin = desk_client(DeskRole.ADMIN)
    whole = page(admin)
    assert 'id="region"' in whole  # more than one county: the page offers them
    assert figure(whole, "category", "outside", "redeemed") == 2
    # The province by prefecture, a prefecture by county, a county by township.
    outside = page(admin, "/admin/dashboard?category=outside")
    assert "按州市" in outside and figure(outside, "township", "qujing", "redeemed") == 2
    assert 'data-code="majie"' not in outside
    prefecture = page(admin, "/admin/dashboard?region=qujing&category=outside")
    assert "按县" in prefecture
    assert figure(prefecture, "township", "luoping", "redeemed") == 1
    assert figure(prefecture, "township", "shizong", "redeemed") == 1
    assert "region=shizong" in link(prefecture, "township", "shizong", "redeemed")
    county = page(admin, "/admin/dashboard?region=shizong")
    assert figure(county, "category", "outside", "redeemed") == 1
    assert figure(county, "township", "danfeng", "redeemed") == 1
    assert 'data-code="majie"' not in county.split('id="table-township"')[1]
    luoping = page(admin, "/admin/dashboard?region=luoping")
    assert figure(luoping, "township", "majie", "redeemed") == 1
    assert 'data-code="danfeng"' not in luoping.split('id="table-township"')[1]
    assert figure(prefecture, "category", "outside", "redeemed") == 2
    listed = page(admin, "/admin/list?measure=redeemed&region=shizong&category=outside")
    assert listed.count("<tr") == 2  # the header and the one trainee of 师宗
    assert page(admin, "/admin/dashboard?region=yunnan-other").count('data-code="majie"') == 0
    refused = admin.get("/admin/dashboard?region=majie", headers=ZH)
    assert refused.status_code == 400


def test_rows_behind_the_calendar_are_highlighted(desk_client, activity, sessions):
    # A target of its own for 2026: 阿岗镇 needs 2 completed trainings, 板桥镇 1.
    with sessions.begin() as db:
        for code, count in (("agang", 2), ("banqiao", 1)):
            region = db.scalar(select(Region).where(Region.code == code))
            db.add(Target(region_id=region.id, year=2026, category_id=None,
                          measure=TargetMeasure.TRAININGS, count=count, source="test"))
    activity.voucher(ECOMMERCE, township="banqiao", to="completed")
    activity.voucher(ECOMMERCE, township="agang", to="completed")
    html = page(desk_client(DeskRole.ADMIN))
    table = html.split('id="table-township"', 1)[1]
    # 25 November: 90% of the year gone. 板桥 has 100%, 阿岗 50%: behind.
    assert re.search(r'<tr data-code="banqiao">', table)
    assert re.search(r'<tr class="lag" data-code="agang">', table)
    assert "100%" in table.split('data-code="banqiao"', 1)[1].split("</tr>", 1)[0]
    assert "50%" in table.split('data-code="agang"', 1)[1].split("</tr>", 1)[0]
    assert "targets-note" not in html  # 2026 has targets of its own now


def test_a_year_without_targets_is_compared_with_the_latest_and_says_so(desk_client):
    html = page(desk_client(DeskRole.ADMIN), "/admin/dashboard?year=2026")
    note = re.search(r'id="targets-note">([^<]+)<', html).group(1)
    assert "2026" in note and "2022" in note
    # LP2021 附件2: 阿岗镇 2022, 360 trainings; nothing completed, all of the year gone.
    agang = html.split('id="table-township"', 1)[1].split('data-code="agang"', 1)[1]
    assert "360" in agang.split("</tr>", 1)[0]
    html = page(desk_client(DeskRole.ADMIN), "/admin/dashboard?year=2021")
    assert "targets-note" not in html
    luoxiong = html.split('id="table-township"', 1)[1].split('data-code="luoxiong"', 1)[1]
    assert "<td class=\"num\">360</td>" in luoxiong.split("</tr>", 1)[0]  # LP2021 附件2, 2021


def test_the_chart_is_drawn_in_the_page_and_links_to_the_lists(desk_client, activity):
    activity.voucher(ECOMMERCE, township="agang", to="completed")
    response = desk_client(DeskRole.ADMIN).get("/admin/dashboard", headers=ZH)
    html = response.get_data(as_text=True)
    assert html.count("<svg") == 2
    assert "按类别" in html and "按乡镇" in html
    assert re.search(r'<a href="/admin/list\?year=2026&amp;measure=completed&amp;'
                     r'category=ecommerce">', html)
    assert "http://" not in html.split("<svg", 1)[1].replace("http://www.w3.org/2000/svg", "")
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"]


def test_the_dashboard_in_english(desk_client):
    html = desk_client(DeskRole.ADMIN).get("/admin/dashboard?lang=en").get_data(as_text=True)
    assert "By category" in html and "Agang" in html and "Share reached" in html


# --- the townships' targets by certificate kind (LP2021 附件2) ------------------------------

KIND_TABLE = "township-kind"
PAID_SKILL = "lp-2026-004"  # a skill-level certificate, 1,800 yuan


def cell(html: str, table: str, code: str, kind: str, measure: str) -> str:
    """The text of one cell: ``kind`` is "target", "measure" (the figure) or "share"."""
    body = html.split(f'id="table-{table}"', 1)[1].split("</table>", 1)[0]
    row = body.split(f'data-code="{code}"', 1)[1].split("</tr>", 1)[0]
    found = re.search(rf'<td class="([^"]*)" data-{kind}="{measure}">(?:<a href="[^"]*">)?'
                      r'([^<]*)<', row)
    assert found, f"no {kind} {measure} in row {code}"
    return found.group(2)


def lags(html: str, code: str, measure: str) -> bool:
    body = html.split(f'id="table-{KIND_TABLE}"', 1)[1].split("</table>", 1)[0]
    row = body.split(f'data-code="{code}"', 1)[1].split("</tr>", 1)[0]
    return bool(re.search(rf'class="num share lag" data-share="{measure}"', row))


def test_the_townships_targets_by_certificate_kind_come_from_the_demo_data(desk_client):
    admin = desk_client(DeskRole.ADMIN)
    html = page(admin)  # 2026: compared with 2022's, the latest loaded
    assert "按乡镇·证书类别" in html
    # LP2021 附件2, 2022: 阿岗镇 220 qualification, no free training, 140 special ability.
    assert [cell(html, KIND_TABLE, "agang", "target", m)
            for m in ("qualification", "free", "special")] == ["220", "0", "140"]
    assert cell(html, KIND_TABLE, "agang", "share", "free") == "—"  # nothing to reach
    # The county's totals of the table: 1900 / 0 / 1100.
    assert [cell(html, KIND_TABLE, "total", "target", m)
            for m in ("qualification", "free", "special")] == ["1900", "0", "1100"]
    html = page(admin, "/admin/dashboard?year=2021")
    assert [cell(html, KIND_TABLE, "luoxiong", "target", m)
            for m in ("qualification", "free", "special")] == ["200", "50", "160"]
    html = page(admin, "/admin/dashboard?year=2021&township=luoxiong")
    assert cell(html, KIND_TABLE, "total", "target", "special") == "160"
    english = admin.get("/admin/dashboard?lang=en").get_data(as_text=True)
    assert "By township and certificate kind" in english
    assert "Special ability certificates" in english


def test_a_completed_voucher_with_a_certificate_moves_its_township_s_kind_figures(
        desk_client, activity):
    admin = desk_client(DeskRole.ADMIN)
    kinds = ("qualification", "free", "special")

    def figures(html: str, code: str) -> dict[str, int]:
        return {m: int(cell(html, KIND_TABLE, code, "measure", m)) for m in kinds}

    before = page(admin)
    agang, total = figures(before, "agang"), figures(before, "total")
    activity.voucher(OUTSIDE, township="agang", to="completed")  # skill level, free
    after = page(admin)
    assert figures(after, "agang") == {**agang, "qualification": agang["qualification"] + 1,
                                       "free": agang["free"] + 1}
    assert figures(after, "total")["qualification"] == total["qualification"] + 1
    assert cell(after, KIND_TABLE, "agang", "share", "qualification") == (
        f"{(agang['qualification'] + 1) / 220 * 100:.0f}%")
    activity.voucher(OUTSIDE, township="agang", to="completed", certified=False)
    activity.voucher(ECOMMERCE, township="agang", to="completed")  # special ability, free
    activity.voucher(PAID_SKILL, township="agang", to="redeemed")  # not free, not certified
    activity.voucher(OUTSIDE, township="agang")  # signed up only
    assert figures(page(admin), "agang") == {"qualification": agang["qualification"] + 1,
                                             "free": agang["free"] + 3,
                                             "special": agang["special"] + 1}


def test_a_township_behind_the_calendar_on_a_certificate_kind_is_highlighted(
        desk_client, activity, sessions):
    # Targets of 2026's own: 板桥镇 1 qualification; 阿岗镇 2 qualification, 1 special ability.
    with sessions.begin() as db:
        for code, measure, count in (("banqiao", TargetMeasure.QUALIFICATION, 1),
                                     ("agang", TargetMeasure.QUALIFICATION, 2),
                                     ("agang", TargetMeasure.SPECIAL, 1)):
            region = db.scalar(select(Region).where(Region.code == code))
            db.add(Target(region_id=region.id, year=2026, category_id=None, measure=measure,
                          count=count, source="test"))
    for township in ("banqiao", "agang"):
        activity.voucher(OUTSIDE, township=township, to="completed")
    activity.voucher(ECOMMERCE, township="agang", to="completed")
    html = page(desk_client(DeskRole.ADMIN))
    # 25 November: 90% of the year gone.
    assert cell(html, KIND_TABLE, "banqiao", "share", "qualification") == "100%"
    assert not lags(html, "banqiao", "qualification")
    assert cell(html, KIND_TABLE, "agang", "share", "qualification") == "50%"
    assert lags(html, "agang", "qualification")
    assert cell(html, KIND_TABLE, "agang", "share", "special") == "100%"
    assert not lags(html, "agang", "special")
    assert cell(html, KIND_TABLE, "banqiao", "target", "special") == "—"  # none set for it
    assert cell(html, KIND_TABLE, "total", "target", "qualification") == "3"


def test_a_kind_figure_links_to_its_people_masked(desk_client, activity):
    admin = desk_client(DeskRole.ADMIN)
    made = activity.voucher(OUTSIDE, township="agang", name="郑十", to="completed")
    activity.voucher(OUTSIDE, township="agang", name="冯一", to="completed", certified=False)
    activity.voucher(ECOMMERCE, township="agang", name="陈二", to="completed")
    html = page(admin)
    url = link(html, KIND_TABLE, "agang", "qualification")
    assert url == "/admin/list?year=2026&measure=qualification&township=agang"
    listing = page(admin, url)
    assert "职业资格/技能等级证书" in listing
    assert "郑十" in listing and "冯一" not in listing and "陈二" not in listing
    assert made.id_number not in listing and made.phone not in listing
    assert made.id_number[:4] + "**********" + made.id_number[-4:] in listing
    special = page(admin, link(html, KIND_TABLE, "agang", "special"))
    assert "陈二" in special and "郑十" not in special
    free = page(admin, link(html, KIND_TABLE, "agang", "free"))
    assert all(name in free for name in ("郑十", "冯一", "陈二"))
    assert link(html, KIND_TABLE, "total", "special") == "/admin/list?year=2026&measure=special"


def test_institution_staff_see_only_their_own_institution_by_certificate_kind(
        desk_client, activity):
    activity.voucher(OUTSIDE, township="agang", name="孙八", to="completed")  # lp-hrs
    activity.voucher(ECOMMERCE, township="agang", name="周九", to="completed")  # lp-zhongzhi
    staff = desk_client(DeskRole.INSTITUTION, institution_code="lp-zhongzhi")
    html = page(staff)
    assert cell(html, KIND_TABLE, "agang", "measure", "qualification") == "0"
    assert cell(html, KIND_TABLE, "agang", "measure", "special") == "1"
    # Targets belong to the townships, not to a school.
    assert cell(html, KIND_TABLE, "agang", "target", "special") == "—"
    url = link(html, KIND_TABLE, "agang", "special")
    assert "institution=lp-zhongzhi" in url
    assert "周九" in page(staff, url)
    listing = page(staff, "/admin/list?year=2026&measure=qualification")
    assert "孙八" not in listing


def test_the_dashboard_counts_in_one_grouped_query(desk_client, activity, stack):
    """Every figure, the kinds included, comes from one GROUP BY: no voucher is read into
    Python (bench/dashboard_volume.py times this query on a province's data)."""
    from sqlalchemy import event

    activity.voucher(OUTSIDE, township="agang", to="completed")
    admin = desk_client(DeskRole.ADMIN)
    statements: list[str] = []

    def seen(conn, cursor, statement, *_):
        statements.append(statement)

    event.listen(stack.engine, "before_cursor_execute", seen)
    try:
        page(admin)
    finally:
        event.remove(stack.engine, "before_cursor_execute", seen)
    on_vouchers = [s for s in statements if "FROM vouchers" in s]
    assert len(on_vouchers) == 1 and "GROUP BY" in on_vouchers[0]


# --- the lists behind the figures ----------------------------------------------------------


def test_the_list_behind_a_figure_shows_its_people_masked(desk_client, activity):
    admin = desk_client(DeskRole.ADMIN)
    made = activity.voucher(OUTSIDE, township="majie", name="赵六", to="completed")
    activity.voucher(OUTSIDE, township="majie", name="钱七")  # signed up only
    url = link(page(admin), "township", "majie", "completed")
    listing = page(admin, url)
    assert "赵六" in listing and "钱七" not in listing
    assert made.number in listing
    assert made.id_number not in listing and made.phone not in listing
    assert made.id_number[:4] + "**********" + made.id_number[-4:] in listing
    assert made.phone[:3] + "****" + made.phone[-4:] in listing
    assert "马街镇" in listing


def test_a_long_list_comes_a_page_at_a_time(desk_client, activity):
    admin = desk_client(DeskRole.ADMIN)
    for n in range(51):
        activity.voucher(BUILDING if n < 30 else ECOMMERCE, township="jiulong")
    first = page(admin, "/admin/list?year=2026&township=jiulong&measure=registered")
    assert "51" in first and "第 1 / 2 页" in first
    assert first.count("<tr>") == 51  # the header and 50 people
    second = page(admin, "/admin/list?year=2026&township=jiulong&measure=registered&page=2")
    assert second.count("<tr>") == 2


@pytest.mark.parametrize("url, words", [
    ("/admin/dashboard?township=atlantis", "没有这个乡镇"),
    ("/admin/dashboard?year=1850", "年份不正确"),
    ("/admin/list?measure=happiness", "没有这项数字"),
    ("/admin/list?category=nothing", "没有这个类别"),
    ("/admin/list?institution=lp-nowhere", "没有这个培训机构"),
])
def test_a_filter_naming_nothing_gets_a_clear_answer(desk_client, url, words):
    response = desk_client(DeskRole.ADMIN).get(url, headers=ZH)
    assert response.status_code == 400
    assert words in response.get_data(as_text=True)


BAD_FILTERS = [
    ("year=²", "年份不正确"),  # a digit to str.isdigit(), not to int()
    ("year=abc", "年份不正确"),  # once taken silently as this year
    ("year=" + "9" * 5000, "年份不正确"),  # beyond what int() reads
    ("year=20261", "年份不正确"),
    ("township=nowhere", "没有这个乡镇"),
    ("township=%00", "没有这个乡镇"),  # PostgreSQL refuses a NUL in a query
    ("township=" + "x" * 5000, "没有这个乡镇"),
]


@pytest.mark.parametrize("path", ["/admin/dashboard", "/admin/list"])
@pytest.mark.parametrize("query, words", BAD_FILTERS)
def test_a_bad_filter_is_refused_on_the_dashboard_and_the_list(desk_client, path, query, words):
    response = desk_client(DeskRole.ADMIN).get(f"{path}?{query}", headers=ZH)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert words in html
    assert "id=\"table-" not in html and "<td" not in html  # no figures, no people


def test_a_bad_year_is_explained_in_english(desk_client):
    response = desk_client(DeskRole.ADMIN).get("/admin/dashboard?year=abc&lang=en")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The year is not valid." in html and "from 2000 to 2100" in html


@pytest.mark.parametrize("page_no", ["abc", "0", "²", "9" * 5000])
def test_a_bad_page_of_the_list_is_refused(desk_client, page_no):
    response = desk_client(DeskRole.ADMIN).get(f"/admin/list?page={page_no}", headers=ZH)
    assert response.status_code == 400
    assert "没有这一页" in response.get_data(as_text=True)


# --- who may see what ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/", "/admin/dashboard", "/admin/list?measure=completed"])
def test_signed_out_the_desk_asks_for_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


@pytest.mark.parametrize("role", [DeskRole.ADMIN, DeskRole.INSPECTOR])
def test_the_bureau_s_roles_see_every_institution(desk_client, activity, role):
    activity.voucher(OUTSIDE, township="majie", name="孙八")
    activity.voucher(ECOMMERCE, township="agang", name="周九")
    viewer = desk_client(role)
    assert figure(page(viewer), "category", "outside", "registered") >= 1
    listing = page(viewer, "/admin/list?year=2026&measure=registered")
    assert "孙八" in listing and "周九" in listing
    assert page(viewer, "/admin/list?institution=lp-hrs&measure=registered").count("孙八") == 1


def test_institution_staff_see_only_their_own_institution(desk_client, activity):
    activity.voucher(OUTSIDE, township="majie", name="孙八")  # lp-hrs
    activity.voucher(ECOMMERCE, township="agang", name="周九")  # lp-zhongzhi
    staff = desk_client(DeskRole.INSTITUTION, institution_code="lp-zhongzhi")
    html = page(staff)
    assert figure(html, "category", "outside", "registered") == 0
    assert figure(html, "category", "ecommerce", "registered") == 1
    assert 'name="institution"' not in html  # no institution to choose
    listing = page(staff, "/admin/list?year=2026&measure=registered")
    assert "周九" in listing and "孙八" not in listing


@pytest.mark.parametrize("url", ["/admin/dashboard?institution=lp-hrs",
                                 "/admin/list?institution=lp-hrs&measure=registered",
                                 "/admin/list?institution=lp-hrs&measure=qualification"])
def test_institution_staff_asking_for_another_institution_are_refused(desk_client, activity,
                                                                      url):
    activity.voucher(OUTSIDE, township="majie", name="孙八")
    staff = desk_client(DeskRole.INSTITUTION, institution_code="lp-zhongzhi")
    response = staff.get(url, headers=ZH)
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "您无权查看此页面" in html and "孙八" not in html
    english = staff.get(url + "&lang=en")
    assert "You are not allowed to see this page." in english.get_data(as_text=True)


# --- in a browser ----------------------------------------------------------------------------


SCREENSHOT = PROJECT_ROOT / "docs" / "dashboard.png"


def test_sign_in_and_read_the_dashboard_in_chromium(browser, server, make_desk_user, activity,
                                                    tmp_path: Path):
    """Through the real form in headless Chromium. With PEIXUN_SCREENSHOTS=1 the picture is
    also written to docs/dashboard.png (the README shows it)."""
    with server.paused():
        user = make_desk_user(DeskRole.ADMIN, username="zhang.clerk")
        _a_busy_autumn(activity)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.goto(server.url + "/admin/")
    assert "/admin/login" in tab.url
    tab.fill("#username", user.username)
    tab.fill("#password", "not it")
    tab.click("#sign-in")
    assert "用户名或密码不正确" in tab.inner_text("#error")
    tab.fill("#password", "correct horse battery")
    tab.click("#sign-in")
    tab.wait_for_selector("svg.chart")
    assert tab.url.endswith("/admin/")  # back where the sign-in form was asked for
    assert tab.locator("svg.chart").count() == 2
    assert tab.locator("svg.chart rect").count() > 20
    assert tab.locator("#table-category tbody tr").count() == 13  # 12 categories and the total
    # The townships by certificate kind: the same lines as by township, three kinds each.
    kinds = tab.locator("#table-township-kind tbody tr")
    assert kinds.count() == tab.locator("#table-township tbody tr").count()
    assert tab.locator("#table-township-kind td[data-share]").count() == kinds.count() * 3
    assert "zhang.clerk" in tab.inner_text("#who")
    shot = tmp_path / "dashboard.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("PEIXUN_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(shot.read_bytes())
    # A figure leads to its list, and signing out ends the session.
    tab.click('#table-category tr[data-code="ecommerce"] td[data-measure="completed"] a')
    tab.wait_for_selector("#people")
    assert "**********" in tab.inner_text("#people")
    tab.go_back()
    tab.click('#table-township-kind tr[data-code="majie"] td[data-measure="qualification"] a')
    tab.wait_for_selector("#people")
    assert "马街镇" in tab.inner_text("#people")
    tab.click("#sign-out")
    tab.wait_for_selector("#sign-in")
    tab.goto(server.url + "/admin/dashboard")
    assert "/admin/login" in tab.url
    context.close()


def _a_busy_autumn(activity) -> None:
    """Enough going on in 2026 for the chart to show something."""
    plan = [
        (ECOMMERCE, "agang", 6, 4, 3), (OUTSIDE, "majie", 9, 7, 5), (CARE, "fule", 5, 2, 2),
        (BUILDING, "lashan", 7, 5, 4), ("lp-2026-002", "jiulong", 6, 4, 2),
        ("lp-2026-006", "zhongshan", 4, 1, 1), ("lp-2026-001", "luoxiong", 5, 3, 2),
    ]
    works = [WorkAfter.LOCAL, WorkAfter.NOT_YET]
    for course, township, signed, completed, employed in plan:
        for n in range(signed):
            to = "completed" if n < completed else ("redeemed" if n % 2 else "issued")
            work = works[0] if n < employed else (works[1] if n < completed else None)
            activity.voucher(course, township=township, to=to, work=work,
                             certified=n != completed - 1)


def test_a_province_s_year_is_read_from_the_counts_the_worker_made(desk_client, activity,
                                                                   sessions, clock):
    # A province's year (here: a rollup made from the demo's few vouchers, least=1) is counted
    # ahead; the page says when, and shows what was counted until the next count.
    from models.progress import refresh_rollup

    admin = desk_client(DeskRole.ADMIN)
    live = page(admin)
    assert 'id="as-of"' not in live  # a county counts live
    start = figure(live, "category", "outside", "redeemed")
    with sessions.begin() as db:
        assert refresh_rollup(db, now=clock.now(), year=2026, least=1) > 0
    counted = page(admin)
    assert 'id="as-of"' in counted and "2026-11-25 09:00" in counted
    assert figure(counted, "category", "outside", "redeemed") == start
    assert figure(page(admin, "/admin/dashboard?township=majie"), "category", "outside",
                  "redeemed") == figure(page(admin, "/admin/dashboard?township=majie&year=2026"),
                                        "category", "outside", "redeemed")
    activity.voucher(OUTSIDE, township="majie", to="redeemed")
    assert figure(page(admin), "category", "outside", "redeemed") == start  # not counted yet
    with sessions.begin() as db:
        refresh_rollup(db, now=clock.now(), year=2026, least=1)
    assert figure(page(admin), "category", "outside", "redeemed") == start + 1
    with sessions.begin() as db:  # below the size of a province: counted live again
        refresh_rollup(db, now=clock.now(), year=2026)
    assert 'id="as-of"' not in page(admin)

"""The desk's follow-up page by role: the bureau sees the county, an institution its own courses
only, nobody signed out sees anything; rows under the 90% goal are marked."""

from __future__ import annotations

import re

import pytest

from models.desk import DeskRole
from tests.followup_fixtures import make_county


@pytest.fixture
def county(sessions, clock) -> dict[str, int]:
    return make_county(sessions, clock)


def rows(html: str) -> dict[str, str]:
    """Each body row of the table by its code: "class | cells as text"."""
    found = {}
    for css, code, cells in re.findall(r'<tr class="([^"]*)" data-code="([^"]*)">(.*?)</tr>',
                                       html, re.S):
        texts = [re.sub(r"<[^>]+>|▼", "", c).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        found[code] = f"{css} | " + " ".join(texts)
    return found


def page(client, query: str = "") -> str:
    response = client.get("/admin/followups" + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_the_bureau_sees_every_course_and_the_rows_below_the_goal(desk_client, county):
    html = page(desk_client(DeskRole.ADMIN), "?by=course&lang=zh")
    table = rows(html)
    assert table["oc-a"].startswith("below |")
    assert "oc-a班 4 3 75% 2 67% 2 1 50%" in table["oc-a"] and table["oc-a"].endswith("3 3.3")
    assert table["oc-b"].startswith(" |") and "2 2 100% 2 100% 2 2 100%" in table["oc-b"]
    assert "oc-c" not in table  # not ended
    total = re.search(r'<tr class="total[^"]*" id="total">(.*?)</tr>', html, re.S).group(1)
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", total)).split()[:10] == [
        "合计", "6", "5", "83%", "4", "80%", "4", "3", "75%", "3"]


def test_an_inspector_sees_the_county_by_township(desk_client, county):
    table = rows(page(desk_client(DeskRole.INSPECTOR), "?by=township"))
    assert "罗雄街道 3 3 100% 3 100% 3 2 67%" in table["luoxiong"]
    assert table["luoxiong"].startswith("below |")
    assert "鲁布革乡 3 2 67% 1 50% 1 1 100%" in table["lubuge"]


def test_an_institution_sees_its_own_figures_only(desk_client, county):
    client = desk_client(DeskRole.INSTITUTION, institution_code="lp-zhongzhi")
    for by in ("course", "institution", "category", "township"):
        html = page(client, f"?by={by}")
        assert "oc-a" not in html and "罗平县公共就业和人才服务中心" not in html.split("</h1>")[1]
    assert list(rows(page(client, "?by=institution"))) == ["lp-zhongzhi"]
    assert list(rows(page(client, "?by=course"))) == ["oc-b"]
    own = desk_client(DeskRole.INSTITUTION, institution_code="lp-pes")
    assert list(rows(page(own, "?by=course"))) == ["oc-a"]
    assert rows(page(own, "?by=course"))["oc-a"].endswith("3 3.3")  # its own averages


def test_signed_out_is_sent_to_sign_in(client, county):
    response = client.get("/admin/followups?by=course")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]
    assert "oc-a" not in response.get_data(as_text=True)


@pytest.mark.parametrize("query, words", [
    ("?by=person", "没有这种回访统计方式"),
    ("?year=abc", "年份不正确"),
    ("?year=²", "年份不正确"),  # a digit to str.isdigit(), not to int(): once a 500
    ("?year=" + "9" * 5000, "年份不正确"),  # beyond what int() reads: once a 500
    ("?year=1800", "年份不正确"),
    ("?round=3", "没有这个回访轮次"),
    ("?round=²", "没有这个回访轮次"),
])
def test_bad_filters_get_a_clear_answer(desk_client, county, query, words):
    response = desk_client(DeskRole.ADMIN).get("/admin/followups" + query,
                                               headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 400, query
    html = response.get_data(as_text=True)
    assert words in html and "oc-a" not in html


def test_a_bad_year_is_explained_in_english(desk_client, county):
    response = desk_client(DeskRole.ADMIN).get("/admin/followups?year=²&lang=en")
    assert response.status_code == 400
    assert "The year is not valid." in response.get_data(as_text=True)


def test_one_round_and_english(desk_client, county):
    html = page(desk_client(DeskRole.ADMIN), "?by=category&round=1&lang=en")
    assert "Employment rate" in html and "Construction" in html
    total = re.search(r'id="total">(.*?)</tr>', html, re.S).group(1)
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", total)).split()
    assert cells[6:9] == ["4", "2", "50%"]  # at one month, 2 of the 4 who answered worked

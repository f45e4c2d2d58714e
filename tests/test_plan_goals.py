"""The plans' goals beyond the target tables (issue 16, item 11): in the targets data with their
clauses, shown on the dashboard beside the county's tables, the ones of the year marked."""

from __future__ import annotations

import html
import re

import pytest
import yaml
from sqlalchemy import func, select

from models.demo import DATA
from models.desk import DeskRole
from models.targets import PlanGoal

GOALS = [
    # (code, region, years, figure as the page says it, clause)
    pytest.param("qj2020-trainings", "曲靖市", "2020–2022", "100,000人次以上", "QJ2020 二",
                 id="QJ2020 二: 100,000 trainings"),
    pytest.param("qj2020-qualification", "曲靖市", "2020–2022", "67,000人次以上", "QJ2020 二",
                 id="QJ2020 二: 67,000 qualification certificates"),
    pytest.param("qj2020-special", "曲靖市", "2020–2022", "33,000人次以上", "QJ2020 二",
                 id="QJ2020 二: 33,000 special ability certificates"),
    pytest.param("qj2020-employment", "曲靖市", "2020–2022", "90%以上", "QJ2020 二",
                 id="QJ2020 二: 90% employed after the certificate"),
    pytest.param("lp2021-qualification", "罗平县", "2020–2022", "6,700人次以上", "LP2021 二",
                 id="LP2021 二: 6,700 qualification certificates"),
    pytest.param("lp2021-special", "罗平县", "2020–2022", "3,300人次以上", "LP2021 二",
                 id="LP2021 二: 3,300 special ability certificates"),
    pytest.param("dx2020-trainings", "东乡族自治县", "2020–2022", "54,115人", "DX2020 一(一)",
                 id="DX2020 一(一): 54,115 people"),
    pytest.param("dx2020-trainings-2020", "东乡族自治县", "2020", "18,039人", "DX2020 一(二)",
                 id="DX2020 一(二): 18,039 in 2020"),
    pytest.param("qj2019-subsidized", "曲靖市", "2019–2021", "180,000人次以上", "QJ2019 (二)",
                 id="QJ2019 (二): 180,000 subsidized trainings"),
    pytest.param("qj2019-apprentices", "曲靖市", "2019–2021", "3,500人", "QJ2019 (三)",
                 id="QJ2019 (三): 3,500 new apprentices"),
    pytest.param("yn2021-trainings", "云南省", "2021", "600,000人次", "YN2021 一",
                 id="YN2021 一: 600,000 trainings"),
    pytest.param("yn2021-qualification", "云南省", "2021", "200,000人次以上", "YN2021 一",
                 id="YN2021 一: at least 200,000 certificates"),
    pytest.param("yn2021-funds", "云南省", "2021", "1,400,000,000元", "YN2021 一",
                 id="YN2021 一: 1.4 billion yuan"),
]


def goal_rows(text: str) -> dict[str, tuple[bool, list[str]]]:
    """The goals table's rows by code: (marked as of the year, each cell's text)."""
    table = re.search(r'<table id="table-goals">(.*?)</table>', text, re.S).group(1)
    rows = {}
    for code, marked, cells in re.findall(
            r'<tr data-code="([\w-]+)"( class="current")?>(.*?)</tr>', table, re.S):
        rows[code] = (bool(marked), [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                                     for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)])
    return rows


@pytest.mark.parametrize(("code", "region", "years", "figure", "clause"), GOALS)
def test_the_dashboard_shows_each_goal_with_its_clause(desk_client, code, region, years,
                                                       figure, clause):
    page = desk_client(DeskRole.INSPECTOR).get("/admin/dashboard?year=2021")
    assert page.status_code == 200
    _marked, cells = goal_rows(page.get_data(as_text=True))[code]
    assert cells[0] == region and cells[1].startswith(years)
    assert cells[3] == figure and cells[4] == clause


@pytest.mark.parametrize(("year", "marked"), [
    (2019, {"qj2019-subsidized", "qj2019-subsidized-2019", "qj2019-skilled-share",
            "qj2019-high-skilled-share", "qj2019-apprentices"}),
    (2026, set()),
])
def test_the_goals_of_the_year_are_marked(desk_client, year, marked):
    page = desk_client(DeskRole.ADMIN).get(f"/admin/dashboard?year={year}")
    rows = goal_rows(page.get_data(as_text=True))
    assert {code for code, (is_marked, _cells) in rows.items() if is_marked} == marked


def test_the_goals_of_2021_include_the_province_s(desk_client):
    rows = goal_rows(desk_client(DeskRole.ADMIN).get("/admin/dashboard?year=2021")
                     .get_data(as_text=True))
    assert rows["yn2021-apprentices"][0] and rows["lp2021-trainings"][0]
    assert rows["dx2020-trainings-2021"][0] and not rows["dx2020-trainings-2020"][0]


def test_the_goals_in_english(desk_client):
    client = desk_client(DeskRole.ADMIN)
    rows = goal_rows(client.get("/admin/dashboard?year=2021&lang=en").get_data(as_text=True))
    assert rows["qj2020-qualification"][1][0] == "Qujing"
    assert rows["qj2020-qualification"][1][3] == "at least 67,000 trainings"
    assert rows["qj2020-employment"][1][3] == "at least 90%"


def test_institution_staff_see_the_goals_too(desk_client):
    page = desk_client(DeskRole.INSTITUTION).get("/admin/dashboard").get_data(as_text=True)
    assert "qj2020-qualification" in goal_rows(page)


def test_every_goal_of_the_data_file_is_loaded_with_its_clause(db):
    rows = yaml.safe_load((DATA / "luoping.yaml").read_text(encoding="utf-8"))["plan_goals"]
    assert db.scalar(select(func.count(PlanGoal.id))) == len(rows)
    loaded = {goal.code: goal for goal in db.scalars(select(PlanGoal))}
    for row in rows:
        goal = loaded[row["code"]]
        assert goal.source == row["source"] and str(goal.figure.normalize()) == \
            str(type(goal.figure)(str(row["value"])).normalize())

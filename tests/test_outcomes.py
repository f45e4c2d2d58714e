"""Outcomes by course, institution, category and township, against figures computed by hand
from a small county: who redeemed, completed, got a certificate, answered the follow-up and
works, and what they thought of the training."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.catalogue import Category, Course, Institution
from models.outcomes import Dimension, outcomes
from tests.followup_fixtures import TODAY, make_county


@pytest.fixture
def county(sessions, clock) -> dict[str, int]:
    return make_county(sessions, clock)


def figures(row) -> tuple:
    return (row.redeemed, row.completed, row.certified, row.answered, row.employed,
            row.ratings, row.rating_mean)


def by_code(table) -> dict:
    return {row.code: row for row in table.rows}


def test_by_course(county, db):
    rows = by_code(outcomes(db, dimension=Dimension.COURSE, today=TODAY))
    # Course a: 4 taken in (the revoked one is not), 3 completed, 2 certified; 2 answered,
    # by their latest round: the first works (6 months: local), the second not yet.
    assert figures(rows["oc-a"]) == (4, 3, 2, 2, 1, 3, 10 / 3)
    assert rows["oc-a"].completion_rate == 0.75 and rows["oc-a"].pass_rate == 2 / 3
    assert rows["oc-a"].employment_rate == 0.5 and rows["oc-a"].is_below_goal
    assert figures(rows["oc-b"]) == (2, 2, 2, 2, 2, 0, None)
    assert rows["oc-b"].employment_rate == 1.0 and not rows["oc-b"].is_below_goal
    assert "oc-c" not in rows  # still running


def test_by_institution_category_and_township(county, db):
    institutions = by_code(outcomes(db, dimension=Dimension.INSTITUTION, today=TODAY))
    assert figures(institutions["lp-pes"]) == (4, 3, 2, 2, 1, 3, 10 / 3)
    assert figures(institutions["lp-zhongzhi"]) == (2, 2, 2, 2, 2, 0, None)
    categories = by_code(outcomes(db, dimension=Dimension.CATEGORY, today=TODAY))
    assert figures(categories["construction"]) == (4, 3, 2, 2, 1, 3, 10 / 3)
    assert figures(categories["care"]) == (2, 2, 2, 2, 2, 0, None)
    townships = by_code(outcomes(db, dimension=Dimension.TOWNSHIP, today=TODAY))
    # The trainees' household townships, whatever the place of the class.
    assert figures(townships["luoxiong"]) == (3, 3, 3, 3, 2, 3, 10 / 3)
    assert figures(townships["lubuge"]) == (3, 2, 1, 1, 1, 0, None)
    assert townships["luoxiong"].employment_rate == 2 / 3


def test_the_total_and_one_round(county, db):
    table = outcomes(db, dimension=Dimension.COURSE, today=TODAY)
    assert figures(table.total) == (6, 5, 4, 4, 3, 3, 10 / 3)
    assert table.total.employment_rate == 0.75 and table.total.is_below_goal
    one_month = outcomes(db, dimension=Dimension.COURSE, today=TODAY, round_months=1).total
    # At one month the first trainee had not found work yet.
    assert (one_month.answered, one_month.employed) == (4, 2)


def test_an_institution_sees_its_own_courses_only(county, db):
    zhongzhi = db.scalar(select(Institution.id).where(Institution.code == "lp-zhongzhi"))
    table = outcomes(db, dimension=Dimension.CATEGORY, today=TODAY, institution_id=zhongzhi)
    assert [row.code for row in table.rows] == ["care"]
    assert figures(table.total) == (2, 2, 2, 2, 2, 0, None)


def test_the_year_filter_and_an_empty_table(county, db):
    assert outcomes(db, dimension=Dimension.COURSE, today=TODAY, year=2025).rows == []
    empty = outcomes(db, dimension=Dimension.COURSE, today=TODAY, year=2025).total
    assert figures(empty) == (0, 0, 0, 0, 0, 0, None)
    assert empty.employment_rate is None and not empty.is_below_goal
    assert outcomes(db, dimension=Dimension.COURSE, today=TODAY, year=2026).rows


def test_category_rows_follow_the_qj2020_order(county, db):
    rows = outcomes(db, dimension=Dimension.CATEGORY, today=TODAY).rows
    order = {code: no for code, no in db.execute(select(Category.code, Category.no)).all()}
    assert [order[r.code] for r in rows] == sorted(order[r.code] for r in rows)
    assert db.scalar(select(Course.id).where(Course.code == "oc-c")) == county["oc-c"]

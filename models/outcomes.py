"""Outcomes of training by course, institution, category or township: completion, certificates,
employment after training against the 90% goal (LP2021 二, QJ2020 二; the ledgers follow
DX2020 三(六)'s model), and the trainees' opinion. Counted by SQL aggregation (GROUP BY), never
by loading vouchers into Python.

The population is the vouchers of courses that have ended (the course's last day is before
``today``) and that the institution took in (redeemed, completed or settled; a voucher revoked
or expired never trained anyone). For each group:

- ``redeemed``: those vouchers.
- ``completed``: of them, completed or settled. Completion rate = completed / redeemed.
- ``certified``: of the completed, with a certificate. Pass rate = certified / completed.
- ``answered``: completed vouchers with an answered follow-up, each counted once, by its
  latest answered round (the 6-month answer where there is one, else the 1-month answer) — or,
  with ``round_months``, by that round only. ``employed``: of them, any answer but "not yet".
  Employment rate = employed / answered; trainees not (yet) reached are not in it, and
  ``answered`` / ``completed`` says how many were.
- ``ratings`` and ``rating_mean``: every rating given (all rounds), its count and mean.

A township is the trainee's household township (where the county counts its people, LP2021
附件2), not the place of the class.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from models.catalogue import Category, Course, Institution
from models.followups import FINISHED, FollowUp, WorkAfter
from models.persons import Person
from models.regions import Region
from models.vouchers import Voucher, VoucherStatus

logger = logging.getLogger(__name__)

# LP2021 二 (as QJ2020 二): 90% or more of those certified by the training in work.
EMPLOYMENT_GOAL = 0.9
TRAINED = (VoucherStatus.REDEEMED, *FINISHED)


class Dimension(enum.StrEnum):
    COURSE = "course"
    INSTITUTION = "institution"
    CATEGORY = "category"
    TOWNSHIP = "township"


@dataclass(frozen=True)
class Outcome:
    """One row of the table; ``key`` is None for the total and for trainees of no township."""

    key: int | None
    code: str | None
    name: str | None
    name_en: str | None
    redeemed: int
    completed: int
    certified: int
    answered: int
    employed: int
    ratings: int
    rating_sum: int

    def display_name(self, locale: str) -> str | None:
        return self.name_en if locale.startswith("en") else self.name

    @property
    def completion_rate(self) -> float | None:
        return _share(self.completed, self.redeemed)

    @property
    def pass_rate(self) -> float | None:
        return _share(self.certified, self.completed)

    @property
    def employment_rate(self) -> float | None:
        return _share(self.employed, self.answered)

    @property
    def rating_mean(self) -> float | None:
        return self.rating_sum / self.ratings if self.ratings else None

    @property
    def is_below_goal(self) -> bool:
        """Below the 90% goal, where anyone answered at all."""
        rate = self.employment_rate
        return rate is not None and rate < EMPLOYMENT_GOAL


@dataclass(frozen=True)
class Outcomes:
    dimension: Dimension
    rows: list[Outcome]
    total: Outcome


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def outcomes(db: Session, *, dimension: Dimension, today: date,
             institution_id: int | None = None, year: int | None = None,
             round_months: int | None = None) -> Outcomes:
    """The table by ``dimension`` and its total; ``institution_id`` keeps one institution's
    courses only (an institution's desk users see nothing else); ``year`` is the year the
    courses started; ``round_months`` counts that follow-up round only."""
    group = _GROUPS[dimension]()
    columns = group["columns"]
    query = _figures(today=today, institution_id=institution_id, year=year,
                     round_months=round_months, columns=columns, joins=group["joins"])
    rows = [_row(r) for r in db.execute(
        query.group_by(*columns).order_by(*group["order"])).all()]
    blank = (literal(None), literal(None), literal(None), literal(None))
    total = _row(db.execute(_figures(today=today, institution_id=institution_id, year=year,
                                     round_months=round_months, columns=blank,
                                     joins=())).one())
    return Outcomes(dimension=dimension, rows=rows, total=total)


def _figures(*, today: date, institution_id: int | None, year: int | None,
             round_months: int | None, columns, joins) -> Select:
    # Per voucher: the round whose answer counts, and its ratings — one row per voucher each,
    # so joining them never counts a voucher twice.
    answered = select(FollowUp.voucher_id, func.max(FollowUp.round_months).label("months")) \
        .where(FollowUp.work.is_not(None))
    if round_months is not None:
        answered = answered.where(FollowUp.round_months == round_months)
    latest = answered.group_by(FollowUp.voucher_id).subquery("latest")
    answer = aliased(FollowUp, name="answer")
    rated = select(FollowUp.voucher_id, func.count(FollowUp.rating).label("n"),
                   func.sum(FollowUp.rating).label("total")) \
        .where(FollowUp.rating.is_not(None)).group_by(FollowUp.voucher_id).subquery("rated")
    finished = Voucher.status.in_(FINISHED)
    query = (
        select(*columns,
               func.count(Voucher.id),
               func.coalesce(func.sum(case((finished, 1), else_=0)), 0),
               func.coalesce(func.sum(case((and_(finished, Voucher.certified.is_(True)), 1),
                                           else_=0)), 0),
               func.count(answer.id),
               func.coalesce(func.sum(case((answer.work != WorkAfter.NOT_YET, 1),
                                           else_=0)), 0),
               func.coalesce(func.sum(rated.c.n), 0),
               func.coalesce(func.sum(rated.c.total), 0))
        .select_from(Voucher)
        .join(Course, Course.id == Voucher.course_id)
        .outerjoin(latest, latest.c.voucher_id == Voucher.id)
        .outerjoin(answer, and_(answer.voucher_id == latest.c.voucher_id,
                                answer.round_months == latest.c.months, finished))
        .outerjoin(rated, rated.c.voucher_id == Voucher.id)
        .where(Voucher.status.in_(TRAINED), Course.ends_on < today)
    )
    for target, on, outer in joins:
        query = query.outerjoin(target, on) if outer else query.join(target, on)
    if institution_id is not None:
        query = query.where(Course.institution_id == institution_id)
    if year is not None:
        query = query.where(Voucher.year == year)
    return query


def _by_course() -> dict:
    return {"columns": (Course.id, Course.code, Course.name, Course.name_en), "joins": (),
            "order": (Course.code,)}


def _by_institution() -> dict:
    return {"columns": (Institution.id, Institution.code, Institution.name, Institution.name_en),
            "joins": ((Institution, Institution.id == Course.institution_id, False),),
            "order": (Institution.code,)}


def _by_category() -> dict:
    return {"columns": (Category.id, Category.code, Category.name, Category.name_en),
            "joins": ((Category, Category.id == Course.category_id, False),),
            "order": (Category.no,)}


def _by_township() -> dict:
    return {"columns": (Region.id, Region.code, Region.name, Region.name_en),
            "joins": ((Person, Person.id == Voucher.person_id, False),
                      (Region, Region.id == Person.township_id, True)),
            "order": (Region.code,)}


_GROUPS = {
    Dimension.COURSE: _by_course,
    Dimension.INSTITUTION: _by_institution,
    Dimension.CATEGORY: _by_category,
    Dimension.TOWNSHIP: _by_township,
}


def _row(values) -> Outcome:
    key, code, name, name_en, *counts = values
    redeemed, completed, certified, answered, employed, ratings, rating_sum = (
        int(n or 0) for n in counts)
    return Outcome(key=key, code=code, name=name, name_en=name_en, redeemed=redeemed,
                   completed=completed, certified=certified, answered=answered,
                   employed=employed, ratings=ratings, rating_sum=rating_sum)

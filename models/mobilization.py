"""A cadre's own figures (QJ2020 五(四)): the people they brought in, and how their training
goes — the basis of the cadre's service subsidy. Counts only; never another cadre's people."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models.cadres import Cadre
from models.catalogue import Course
from models.persons import Person
from models.vouchers import Voucher, VoucherStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CourseFigures:
    course_name: str
    course_name_en: str
    in_training: int
    finished: int
    certified: int


@dataclass(frozen=True)
class CadreFigures:
    mobilized: int
    registered: int
    registered_by_cadre: int
    courses: list[CourseFigures]

    @property
    def in_training(self) -> int:
        return sum(c.in_training for c in self.courses)

    @property
    def finished(self) -> int:
        return sum(c.finished for c in self.courses)

    @property
    def certified(self) -> int:
        return sum(c.certified for c in self.courses)


FINISHED = (VoucherStatus.COMPLETED, VoucherStatus.SETTLED)


def cadre_figures(db: Session, *, cadre: Cadre) -> CadreFigures:
    mine = Person.referred_by_id == cadre.id
    alive = Person.anonymized_at.is_(None)
    rows = db.execute(
        select(Course.name, Course.name_en,
               func.sum(case((Voucher.status == VoucherStatus.REDEEMED, 1), else_=0)),
               func.sum(case((Voucher.status.in_(FINISHED), 1), else_=0)),
               func.sum(case((Voucher.status.in_(FINISHED) & Voucher.certified.is_(True), 1),
                             else_=0)))
        .join(Voucher, Voucher.course_id == Course.id)
        .join(Person, Person.id == Voucher.person_id)
        .where(mine, Voucher.status.in_((VoucherStatus.REDEEMED, *FINISHED)))
        .group_by(Course.id, Course.name, Course.name_en).order_by(Course.name)).all()
    return CadreFigures(
        mobilized=db.scalar(select(func.count(Person.id)).where(mine)) or 0,
        registered=db.scalar(select(func.count(Person.id)).where(
            mine, alive, Person.registered_at.is_not(None))) or 0,
        registered_by_cadre=db.scalar(select(func.count(Person.id)).where(
            Person.registered_by_id == cadre.person_id, alive)) or 0,
        courses=[CourseFigures(name, name_en, int(a or 0), int(b or 0), int(c or 0))
                 for name, name_en, a, b, c in rows],
    )

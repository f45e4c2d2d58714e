"""Progress against the targets (QJ2020 附件, LP2021 附件1–2): what really happened in a year,
counted by the database (GROUP BY), never by loading rows into Python.

Everything is counted on vouchers of the year's courses (``Voucher.year``, the year the course
starts), in one funnel:

- registered (报名): vouchers claimed, less those cancelled by the holder or revoked;
- redeemed (报到): taken in by the institution (redeemed, completed or settled);
- completed (结业): completed or settled;
- certified (取证): completed with a certificate;
- employed (就业): completed, and some answered follow-up says the trainee works.

By category (the course's) and by township (the trainee's household township, which is how
LP2021 附件2 hands out its targets)."""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass, field
from datetime import date
from math import ceil

from sqlalchemy import Index, Select, and_, case, func, literal, select
from sqlalchemy.orm import Session

from models.catalogue import Category, Course, Institution
from models.followups import FollowUp, WorkAfter
from models.persons import Person
from models.regions import Region, RegionLevel
from models.targets import Target, TargetMeasure
from models.vouchers import Voucher, VoucherStatus

LIST_PAGE_SIZE = 50

# The dashboard joins a year's vouchers to their holders for the township: with this index
# PostgreSQL reads both columns from the index alone, not from the wide persons rows (a
# million of them in a province: see bench/dashboard_volume.py).
PERSONS_BY_TOWNSHIP = Index("ix_persons_id_township_id", Person.id, Person.township_id)

REGISTERED_STATUSES = (VoucherStatus.ISSUED, VoucherStatus.REDEEMED, VoucherStatus.COMPLETED,
                       VoucherStatus.SETTLED, VoucherStatus.EXPIRED)
REDEEMED_STATUSES = (VoucherStatus.REDEEMED, VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
COMPLETED_STATUSES = (VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
EMPLOYED_WORK = tuple(work for work in WorkAfter if work.is_employed)


class Measure(enum.StrEnum):
    REGISTERED = "registered"
    REDEEMED = "redeemed"
    COMPLETED = "completed"
    CERTIFIED = "certified"
    EMPLOYED = "employed"


# The measure a target counts (培训人次): a training is delivered when it is completed.
TARGET_MEASURE = Measure.COMPLETED


@dataclass(frozen=True)
class ProgressFilter:
    year: int
    township_id: int | None = None
    category_id: int | None = None
    institution_id: int | None = None


@dataclass(frozen=True)
class Counts:
    registered: int = 0
    redeemed: int = 0
    completed: int = 0
    certified: int = 0
    employed: int = 0

    def of(self, measure: Measure) -> int:
        return getattr(self, measure.value)

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(self.of(m) + other.of(m) for m in Measure))


@dataclass(frozen=True)
class ProgressRow:
    """One line of a table: a category, a township (``id`` None: not known) or the total."""

    id: int | None
    code: str | None
    name: str
    name_en: str
    counts: Counts
    target: int | None  # None: no target for this line (or the filters make it meaningless)

    def display_name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name

    @property
    def share(self) -> float | None:
        """The share of the target reached (completed trainings / target)."""
        if not self.target:
            return None
        return self.counts.of(TARGET_MEASURE) / self.target

    def lags(self, elapsed: float) -> bool:
        """Behind the calendar: less of the target reached than of the year gone."""
        share = self.share
        return share is not None and share < elapsed


@dataclass(frozen=True)
class Progress:
    filters: ProgressFilter
    targets_year: int | None  # the year whose targets are shown (None: no targets at all)
    elapsed: float  # the share of the year gone, 0–1
    total: ProgressRow
    by_category: list[ProgressRow] = field(default_factory=list)
    by_township: list[ProgressRow] = field(default_factory=list)


@dataclass(frozen=True)
class PersonLine:
    voucher_number: str | None
    name: str | None
    id_masked: str | None
    phone_masked: str | None
    township: str | None
    township_en: str | None
    course: str
    course_en: str
    institution: str
    institution_en: str
    status: VoucherStatus
    certified: bool | None


@dataclass(frozen=True)
class PeoplePage:
    lines: list[PersonLine]
    total: int
    page: int
    pages: int


def year_elapsed(year: int, today: date) -> float:
    """The share of ``year`` gone by ``today``: 1 for past years, 0 for years to come."""
    if year < today.year:
        return 1.0
    if year > today.year:
        return 0.0
    days = 366 if calendar.isleap(year) else 365
    return today.timetuple().tm_yday / days


def progress(db: Session, *, filters: ProgressFilter, today: date) -> Progress:
    """The dashboard's figures: totals, by category and by township, with their targets."""
    counts = _counted(db, filters)
    targets_year = _targets_year(db, filters.year)
    category_targets, township_targets = _targets(db, targets_year, filters)
    categories = db.execute(select(Category.id, Category.code, Category.name, Category.name_en)
                            .order_by(Category.no)).all()
    townships = db.execute(select(Region.id, Region.code, Region.name, Region.name_en)
                           .where(Region.level == RegionLevel.TOWNSHIP)
                           .order_by(Region.code)).all()
    by_category = [ProgressRow(c.id, c.code, c.name, c.name_en, counts["category"].get(c.id,
                                                                                         Counts()),
                               category_targets.get(c.id))
                   for c in categories
                   if filters.category_id in (None, c.id)]
    by_township = [ProgressRow(t.id, t.code, t.name, t.name_en,
                               counts["township"].get(t.id, Counts()), township_targets.get(t.id))
                   for t in townships if filters.township_id in (None, t.id)]
    if None in counts["township"] and filters.township_id is None:
        by_township.append(ProgressRow(None, None, "未知乡镇", "Township not known",
                                       counts["township"][None], None))
    total_target = _total_target(filters, category_targets, township_targets)
    total = ProgressRow(None, None, "合计", "Total", counts["total"], total_target)
    return Progress(filters=filters, targets_year=targets_year,
                    elapsed=year_elapsed(filters.year, today), total=total,
                    by_category=by_category, by_township=by_township)


def people(db: Session, *, filters: ProgressFilter, measure: Measure, page: int = 1,
           page_size: int = LIST_PAGE_SIZE) -> PeoplePage:
    """The vouchers (and their holders) behind one figure, newest first, a page at a time."""
    condition = _measure_condition(measure)
    base = _scoped(select(Voucher.id), filters, with_person=True).where(condition)
    total = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, ceil(total / page_size))
    page = min(max(page, 1), pages)
    ids = base.order_by(Voucher.id.desc()).limit(page_size).offset((page - 1) * page_size)
    rows = db.execute(
        select(Voucher.number, Person.name, Person.id_masked, Person.phone_masked,
               Region.name, Region.name_en, Course.name, Course.name_en,
               Institution.name, Institution.name_en, Voucher.status, Voucher.certified)
        .join(Person, Person.id == Voucher.person_id)
        .join(Course, Course.id == Voucher.course_id)
        .join(Institution, Institution.id == Course.institution_id)
        .outerjoin(Region, Region.id == Person.township_id)
        .where(Voucher.id.in_(ids.scalar_subquery()))
        .order_by(Voucher.id.desc())).all()
    return PeoplePage(lines=[PersonLine(*row) for row in rows], total=total, page=page,
                      pages=pages)


# --- the counting --------------------------------------------------------------------------


def _employed_vouchers():
    """Vouchers some answered follow-up says led to work (one row each)."""
    return (select(FollowUp.voucher_id)
            .where(FollowUp.work.in_(EMPLOYED_WORK))
            .group_by(FollowUp.voucher_id)
            .subquery("employed"))


def _measure_condition(measure: Measure):
    if measure is Measure.REGISTERED:
        return literal(True)
    if measure is Measure.REDEEMED:
        return Voucher.status.in_(REDEEMED_STATUSES)
    if measure is Measure.COMPLETED:
        return Voucher.status.in_(COMPLETED_STATUSES)
    if measure is Measure.CERTIFIED:
        return and_(Voucher.status.in_(COMPLETED_STATUSES), Voucher.certified.is_(True))
    employed = select(FollowUp.id).where(FollowUp.voucher_id == Voucher.id,
                                         FollowUp.work.in_(EMPLOYED_WORK)).exists()
    return and_(Voucher.status.in_(COMPLETED_STATUSES), employed)


def _scoped(query: Select, filters: ProgressFilter, *, with_person: bool) -> Select:
    """The year's vouchers that count, narrowed by the filters (courses always joined: the
    category and the institution are the course's; the person only when needed)."""
    query = (query.select_from(Voucher)
             .join(Course, Course.id == Voucher.course_id)
             .where(Voucher.year == filters.year, Voucher.status.in_(REGISTERED_STATUSES)))
    if with_person or filters.township_id is not None:
        query = query.join(Person, Person.id == Voucher.person_id)
    if filters.township_id is not None:
        query = query.where(Person.township_id == filters.township_id)
    if filters.category_id is not None:
        query = query.where(Course.category_id == filters.category_id)
    if filters.institution_id is not None:
        query = query.where(Course.institution_id == filters.institution_id)
    return query


def _count_columns(employed) -> list:
    completed = Voucher.status.in_(COMPLETED_STATUSES)
    return [
        func.count(Voucher.id).label("registered"),
        func.count(case((Voucher.status.in_(REDEEMED_STATUSES), 1))).label("redeemed"),
        func.count(case((completed, 1))).label("completed"),
        func.count(case((and_(completed, Voucher.certified.is_(True)), 1))).label("certified"),
        func.count(case((and_(completed, employed.c.voucher_id.is_not(None)), 1))
                   ).label("employed"),
    ]


def counts_query(filters: ProgressFilter) -> Select:
    """The dashboard's one aggregate query (public for the benchmark's EXPLAIN)."""
    employed = _employed_vouchers()
    query = _scoped(select(Course.category_id, Person.township_id, *_count_columns(employed)),
                    filters, with_person=True)
    return (query.outerjoin(employed, employed.c.voucher_id == Voucher.id)
            .group_by(Course.category_id, Person.township_id))


def _counted(db: Session, filters: ProgressFilter) -> dict[str, dict]:
    """One GROUP BY (category, township) query: at most categories × townships lines come
    back, which add up to the by-category and by-township tables and the total."""
    by_category: dict[int, Counts] = {}
    by_township: dict[int | None, Counts] = {}
    total = Counts()
    for row in db.execute(counts_query(filters)):
        counts = Counts(row.registered, row.redeemed, row.completed, row.certified,
                        row.employed)
        by_category[row.category_id] = by_category.get(row.category_id, Counts()) + counts
        by_township[row.township_id] = by_township.get(row.township_id, Counts()) + counts
        total += counts
    return {"category": by_category, "township": by_township, "total": total}


# --- the targets ---------------------------------------------------------------------------


def _targets_year(db: Session, year: int) -> int | None:
    """The year whose targets apply: ``year``'s own, or else the latest year before it that has
    any (targets are set for several years at a time; LP2021 covers 2020–2022)."""
    return db.scalar(select(func.max(Target.year)).where(Target.year <= year))


def _targets(db: Session, targets_year: int | None, filters: ProgressFilter
             ) -> tuple[dict[int, int], dict[int, int]]:
    """Category targets (the counties' figures, summed) and township targets (培训人次).
    No figure for an institution: targets are the region's, not a school's."""
    if targets_year is None or filters.institution_id is not None:
        return {}, {}
    by_category: dict[int, int] = {}
    if filters.township_id is None:  # no township has targets per category
        by_category = dict(db.execute(
            select(Target.category_id, func.sum(Target.count))
            .join(Region, Region.id == Target.region_id)
            .where(Target.year == targets_year, Target.measure == TargetMeasure.TRAININGS,
                   Target.category_id.is_not(None), Region.level == RegionLevel.COUNTY)
            .group_by(Target.category_id)).all())
    by_township: dict[int, int] = {}
    if filters.category_id is None:  # the township tables have no categories
        by_township = dict(db.execute(
            select(Target.region_id, Target.count)
            .join(Region, Region.id == Target.region_id)
            .where(Target.year == targets_year, Target.measure == TargetMeasure.TRAININGS,
                   Target.category_id.is_(None), Region.level == RegionLevel.TOWNSHIP)).all())
    return by_category, by_township


def _total_target(filters: ProgressFilter, by_category: dict[int, int],
                  by_township: dict[int, int]) -> int | None:
    if filters.township_id is not None:
        return by_township.get(filters.township_id)
    if filters.category_id is not None:
        return by_category.get(filters.category_id)
    return sum(by_category.values()) or sum(by_township.values()) or None

"""Progress against the targets (QJ2020 附件, LP2021 附件1–2): what really happened in a year,
counted by the database (GROUP BY), never by loading rows into Python.

Everything is counted on vouchers of the year's courses (``Voucher.year``, the year the course
starts), in one funnel:

- registered (报名): vouchers claimed, less those cancelled by the holder or revoked;
- redeemed (报到): taken in by the institution (redeemed, completed or settled);
- completed (结业): completed or settled;
- certified (取证): completed with a certificate;
- employed (就业): completed, and some answered follow-up says the trainee works.

and the three figures LP2021 附件2 sets township targets for, by certificate kind:
qualification (completed with a 职业资格证 or 技能等级证), special (completed with a 专项职业能力证)
and free (enrolled in a class without fee, 免费培训).

By category (the course's) and by township (the trainee's household township, which is how
LP2021 附件2 hands out its targets). With ``until`` (the monthly report's month end) nothing
after that day counts: statuses are as they are today, each step counted by when it happened
(a trainee revoked since is no longer counted). The same figures serve the dashboard and the
monthly report (documents/progress_report.py)."""

from __future__ import annotations

import calendar
import enum
import logging
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from math import ceil

from sqlalchemy import Index, Select, and_, case, delete, false, func, insert, literal, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, UTCDateTime
from models.catalogue import Category, CertificateKind, Course, Institution
from models.clock import LOCAL_TZ
from models.followups import FollowUp, WorkAfter
from models.persons import Person
from models.regions import Region, RegionLevel
from models.targets import Target, TargetMeasure
from models.vouchers import Voucher, VoucherStatus

logger = logging.getLogger(__name__)

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
# Certificates that count toward the targets' "qualification" figure (职业资格证/技能等级证).
QUALIFYING = (CertificateKind.QUALIFICATION, CertificateKind.SKILL_LEVEL)


class Measure(enum.StrEnum):
    REGISTERED = "registered"
    REDEEMED = "redeemed"
    COMPLETED = "completed"
    CERTIFIED = "certified"
    EMPLOYED = "employed"
    # By certificate kind (LP2021 附件2's columns); named as the fields of Counts.
    QUALIFICATION = "qualification"
    SPECIAL = "special"
    FREE = "free"


# The trainee's way through a course, step by step (the dashboard's headline and tables).
FUNNEL = (Measure.REGISTERED, Measure.REDEEMED, Measure.COMPLETED, Measure.CERTIFIED,
          Measure.EMPLOYED)
# The measure a target counts (培训人次): a training is delivered when it is completed.
TARGET_MEASURE = Measure.COMPLETED
# The figure each kind of target is compared with.
TARGETED = {
    TargetMeasure.TRAININGS: TARGET_MEASURE,
    TargetMeasure.QUALIFICATION: Measure.QUALIFICATION,
    TargetMeasure.FREE: Measure.FREE,
    TargetMeasure.SPECIAL: Measure.SPECIAL,
}
# The township targets by certificate kind, in LP2021 附件2's order.
KIND_TARGETS = (TargetMeasure.QUALIFICATION, TargetMeasure.FREE, TargetMeasure.SPECIAL)


@dataclass(frozen=True)
class RegionScope:
    """A prefecture's or a county's townships (where trainees live) and counties (which hold
    the category targets)."""

    region_id: int
    townships: frozenset[int]
    counties: frozenset[int]


def region_scope(db: Session, region_id: int) -> RegionScope:
    """The townships and counties under a prefecture or county (or a township's own)."""
    rows = db.execute(select(Region.id, Region.parent_id, Region.level)).all()
    children: dict[int | None, list] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    townships, counties = set(), set()
    level = next(row.level for row in rows if row.id == region_id)
    found = [region_id]
    if level is RegionLevel.TOWNSHIP:
        townships.add(region_id)
    while found:
        for child in (child for parent in found for child in children.get(parent, ())):
            if child.level is RegionLevel.TOWNSHIP:
                townships.add(child.id)
            elif child.level is RegionLevel.COUNTY:
                counties.add(child.id)
        found = [c.id for parent in found for c in children.get(parent, ())]
    if level is RegionLevel.COUNTY:
        counties.add(region_id)
    return RegionScope(region_id, frozenset(townships), frozenset(counties))


def townships_under(db: Session, code: str | None) -> frozenset[int] | None:
    """The townships under a region named by its code (a province's deployment exports one
    county's ledger); None for no code (every township), empty for an unknown code."""
    if not code:
        return None
    region_id = db.scalar(select(Region.id).where(Region.code == code))
    return region_scope(db, region_id).townships if region_id is not None else frozenset()


@dataclass(frozen=True)
class ProgressFilter:
    year: int
    township_id: int | None = None
    category_id: int | None = None
    institution_id: int | None = None
    until: date | None = None  # the last day that counts (None: up to now)
    # A prefecture or county of a province's deployment (region_scope): its townships and
    # counties. None: the whole deployment.
    region: RegionScope | None = None

    @property
    def end(self) -> datetime | None:
        """The first moment that no longer counts."""
        if self.until is None:
            return None
        return datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=LOCAL_TZ)

    @property
    def month_start(self) -> datetime | None:
        """The first moment of the month ``until`` falls in (the report's "this month")."""
        if self.until is None:
            return None
        return datetime.combine(self.until.replace(day=1), time.min, tzinfo=LOCAL_TZ)


@dataclass(frozen=True)
class Counts:
    registered: int = 0
    redeemed: int = 0
    completed: int = 0
    certified: int = 0
    employed: int = 0
    redeemed_in_month: int = 0  # of the redeemed, taken in during ``until``'s month (report)
    qualification: int = 0  # certified with a qualification or skill-level certificate
    special: int = 0  # certified with a special-ability certificate
    free: int = 0  # redeemed in a free class

    def of(self, measure: Measure) -> int:
        return getattr(self, measure.value)

    def __add__(self, other: Counts) -> Counts:
        # Field by field, not dataclasses.astuple (which deep-copies): a province's dashboard
        # adds up thousands of these.
        return Counts(*(getattr(self, name) + getattr(other, name) for name in COUNT_FIELDS))


COUNT_FIELDS = tuple(f.name for f in fields(Counts))


@dataclass(frozen=True)
class ProgressRow:
    """One line of a table: a category, a township (``id`` None: not known) or the total."""

    id: int | None
    code: str | None
    name: str
    name_en: str
    counts: Counts
    target: int | None  # None: no target for this line (or the filters make it meaningless)
    # Every measure the target tables give for the line (LP2021 附件2 gives a township four).
    targets: dict[TargetMeasure, int] = field(default_factory=dict)

    def display_name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name

    @property
    def share(self) -> float | None:
        """The share of the target reached (completed trainings / target)."""
        if not self.target:
            return None
        return self.counts.of(TARGET_MEASURE) / self.target

    def target_of(self, measure: TargetMeasure) -> int | None:
        if measure is TargetMeasure.TRAININGS:
            return self.target
        return self.targets.get(measure)

    def share_of(self, measure: TargetMeasure) -> float | None:
        """The share reached of the line's target for ``measure`` (None: no target, or 0)."""
        target = self.target_of(measure)
        if not target:
            return None
        return self.counts.of(TARGETED[measure]) / target

    def lags(self, elapsed: float, measure: TargetMeasure = TargetMeasure.TRAININGS) -> bool:
        """Behind the calendar: less of the target reached than of the year gone."""
        share = self.share_of(measure)
        return share is not None and share < elapsed


@dataclass(frozen=True)
class Progress:
    filters: ProgressFilter
    targets_year: int | None  # the year whose targets are shown (None: no targets at all)
    elapsed: float  # the share of the year gone, 0–1
    total: ProgressRow
    by_category: list[ProgressRow] = field(default_factory=list)
    # By township; in a deployment of many counties, by the level under the filter instead
    # (the province by prefecture, a prefecture by county): see _by_area.
    by_township: list[ProgressRow] = field(default_factory=list)
    area_level: RegionLevel = RegionLevel.TOWNSHIP
    as_of: datetime | None = None  # counted ahead at this time (a province's year), not live


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
    by_category = [_row(c, counts["category"], category_targets) for c in categories
                   if filters.category_id in (None, c.id)]
    by_township = [_row(t, counts["township"], township_targets) for t in townships
                   if filters.township_id in (None, t.id)
                   and (filters.region is None or t.id in filters.region.townships)]
    if None in counts["township"] and filters.township_id is None:
        by_township.append(ProgressRow(None, None, "未知乡镇", "Township not known",
                                       counts["township"][None], None))
    as_of = counts["as_of"]
    total_targets = _total_targets(filters, category_targets, township_targets)
    total = ProgressRow(None, None, "合计", "Total", counts["total"],
                        total_targets.get(TargetMeasure.TRAININGS), total_targets)
    area_level, by_township = _by_area(db, filters, by_township)
    return Progress(filters=filters, targets_year=targets_year,
                    elapsed=year_elapsed(filters.year, today), total=total,
                    by_category=by_category, by_township=by_township, area_level=area_level,
                    as_of=as_of)


def _by_area(db: Session, filters: ProgressFilter, by_township: list[ProgressRow]
             ) -> tuple[RegionLevel, list[ProgressRow]]:
    """The township rows, or, when the scope spans many counties, the same figures and targets
    added up by prefecture (the whole province) or by county (a prefecture): a page of 1,500
    townships is neither readable nor fast."""
    if filters.township_id is not None:
        return RegionLevel.TOWNSHIP, by_township
    regions = {r.id: r for r in db.execute(
        select(Region.id, Region.code, Region.name, Region.name_en, Region.level,
               Region.parent_id))}
    counties = [r for r in regions.values() if r.level is RegionLevel.COUNTY
                and (filters.region is None or r.id in filters.region.counties)]
    if len(counties) <= 1:
        return RegionLevel.TOWNSHIP, by_township
    prefectures = {r.parent_id for r in counties}
    level = (RegionLevel.PREFECTURE if filters.region is None and len(prefectures) > 1
             else RegionLevel.COUNTY)

    def area_of(region_id: int | None):
        while region_id is not None and regions[region_id].level is not level:
            region_id = regions[region_id].parent_id
        return region_id

    counts: dict[int | None, Counts] = {}
    targets: dict[int | None, dict[TargetMeasure, int]] = {}
    for row in by_township:
        area = area_of(row.id) if row.id is not None else None
        counts[area] = counts.get(area, Counts()) + row.counts
        own = targets.setdefault(area, {})
        for measure, count in row.targets.items():
            own[measure] = own.get(measure, 0) + count
    rows = []
    for area in sorted((a for a in counts if a is not None), key=lambda a: regions[a].code):
        region = regions[area]
        rows.append(ProgressRow(area, region.code, region.name, region.name_en, counts[area],
                                targets[area].get(TargetMeasure.TRAININGS), targets[area]))
    if None in counts:
        rows.append(ProgressRow(None, None, "未知乡镇", "Township not known", counts[None],
                                None))
    return level, rows


def _row(line, counts: dict, targets: dict[int, dict[TargetMeasure, int]]) -> ProgressRow:
    own = targets.get(line.id, {})
    return ProgressRow(line.id, line.code, line.name, line.name_en,
                       counts.get(line.id, Counts()), own.get(TargetMeasure.TRAININGS), own)


def people(db: Session, *, filters: ProgressFilter, measure: Measure, page: int = 1,
           page_size: int = LIST_PAGE_SIZE) -> PeoplePage:
    """The vouchers (and their holders) behind one figure, newest first, a page at a time."""
    condition = _measure_condition(measure, filters)
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


def _employed_answers(filters: ProgressFilter) -> list:
    """Follow-up answers that say the trainee works (answered by ``until``, if given)."""
    conditions = [FollowUp.work.in_(EMPLOYED_WORK)]
    if filters.end is not None:
        conditions.append(FollowUp.answered_at < filters.end)
    return conditions


def _employed_vouchers(filters: ProgressFilter):
    """Vouchers some answered follow-up says led to work (one row each)."""
    return (select(FollowUp.voucher_id)
            .where(*_employed_answers(filters))
            .group_by(FollowUp.voucher_id)
            .subquery("employed"))


def _redeemed(filters: ProgressFilter):
    condition = Voucher.status.in_(REDEEMED_STATUSES)
    if filters.end is not None:
        condition = and_(condition, Voucher.redeemed_at < filters.end)
    return condition


def _completed(filters: ProgressFilter):
    condition = Voucher.status.in_(COMPLETED_STATUSES)
    if filters.end is not None:
        condition = and_(condition, Voucher.completed_at < filters.end)
    return condition


def _certified(filters: ProgressFilter):
    return and_(_completed(filters), Voucher.certified.is_(True))


def _measure_condition(measure: Measure, filters: ProgressFilter):
    """Which of the year's vouchers a figure counts (the lists; the GROUP BY counts the same
    conditions, but employment through an outer join: see _count_columns)."""
    if measure is Measure.REGISTERED:
        return literal(True)
    if measure is Measure.REDEEMED:
        return _redeemed(filters)
    if measure is Measure.COMPLETED:
        return _completed(filters)
    if measure is Measure.CERTIFIED:
        return _certified(filters)
    if measure is Measure.QUALIFICATION:
        return and_(_certified(filters), Course.certificate_kind.in_(QUALIFYING))
    if measure is Measure.SPECIAL:
        return and_(_certified(filters),
                    Course.certificate_kind == CertificateKind.SPECIAL_ABILITY)
    if measure is Measure.FREE:
        return and_(_redeemed(filters), Course.fee_yuan == 0)
    employed = select(FollowUp.id).where(FollowUp.voucher_id == Voucher.id,
                                         *_employed_answers(filters)).exists()
    return and_(_completed(filters), employed)


def _scoped(query: Select, filters: ProgressFilter, *, with_person: bool) -> Select:
    """The year's vouchers that count, narrowed by the filters (courses always joined: the
    category and the institution are the course's; the person only when needed)."""
    query = (query.select_from(Voucher)
             .join(Course, Course.id == Voucher.course_id)
             .where(Voucher.year == filters.year, Voucher.status.in_(REGISTERED_STATUSES)))
    if filters.end is not None:
        query = query.where(Voucher.claimed_at < filters.end)
    if with_person or filters.township_id is not None or filters.region is not None:
        query = query.join(Person, Person.id == Voucher.person_id)
    return _narrowed(query, filters, township=Person.township_id,
                     category=Course.category_id, institution=Course.institution_id)


def _narrowed(query: Select, filters: ProgressFilter, *, township, category,
              institution) -> Select:
    """``query`` narrowed to the filters' township or region, category and institution, on
    the columns that hold them (the live count's people and courses, or the rollup's)."""
    if filters.township_id is not None:
        query = query.where(township == filters.township_id)
    if filters.region is not None:
        query = query.where(township.in_(sorted(filters.region.townships)))
    if filters.category_id is not None:
        query = query.where(category == filters.category_id)
    if filters.institution_id is not None:
        query = query.where(institution == filters.institution_id)
    return query


def _count_columns(employed, filters: ProgressFilter) -> list:
    """One column per field of Counts, in its order."""
    def counted(measure: Measure):
        return func.count(case((_measure_condition(measure, filters), 1))).label(measure.value)

    in_month = (false() if filters.month_start is None
                else and_(_redeemed(filters), Voucher.redeemed_at >= filters.month_start))
    return [
        func.count(Voucher.id).label("registered"),
        counted(Measure.REDEEMED),
        counted(Measure.COMPLETED),
        counted(Measure.CERTIFIED),
        func.count(case((and_(_completed(filters), employed.c.voucher_id.is_not(None)), 1))
                   ).label("employed"),
        func.count(case((in_month, 1))).label("redeemed_in_month"),
        counted(Measure.QUALIFICATION),
        counted(Measure.SPECIAL),
        counted(Measure.FREE),
    ]


def counts_query(filters: ProgressFilter) -> Select:
    """The dashboard's (and the monthly report's) one aggregate query (public for the
    benchmark's EXPLAIN)."""
    employed = _employed_vouchers(filters)
    query = _scoped(select(Course.category_id, Person.township_id,
                           *_count_columns(employed, filters)),
                    filters, with_person=True)
    return (query.outerjoin(employed, employed.c.voucher_id == Voucher.id)
            .group_by(Course.category_id, Person.township_id))


def _counted(db: Session, filters: ProgressFilter) -> dict[str, dict]:
    """One GROUP BY (category, township) query: at most categories × townships lines come
    back, which add up to the by-category and by-township tables and the total. A year with
    a rollup (a province's: see refresh_rollup) is read from it instead."""
    by_category: dict[int, Counts] = {}
    by_township: dict[int | None, Counts] = {}
    total = Counts()
    as_of = rollup_as_of(db, filters)
    if as_of is not None:  # a province: the database adds up by category and by township
        for row in db.execute(_rollup_query(filters, ProgressCount.category_id)):
            by_category[row[0]] = Counts(*row[1:])
        for row in db.execute(_rollup_query(filters, ProgressCount.township_id)):
            by_township[row[0]] = Counts(*row[1:])
        total = sum(by_category.values(), Counts())
        return {"category": by_category, "township": by_township, "total": total,
                "as_of": as_of}
    for row in db.execute(counts_query(filters)):
        counts = Counts(*row[2:])
        by_category[row.category_id] = by_category.get(row.category_id, Counts()) + counts
        by_township[row.township_id] = by_township.get(row.township_id, Counts()) + counts
        total += counts
    return {"category": by_category, "township": by_township, "total": total, "as_of": as_of}


# --- the rollup: a province's year, counted ahead ----------------------------------------------

# A year with this many vouchers (a province: 2 million) is counted ahead by the worker, every
# ROLLUP_EVERY, into progress_counts; the dashboard reads that (a few hundred thousand lines at
# most) and says how old it is. Counting 2 million vouchers with their follow-ups takes tens
# of seconds: no page may wait for that. A county (tens of thousands) keeps counting live.
ROLLUP_FROM = 200_000
ROLLUP_EVERY = timedelta(minutes=5)
ROLLUP_LOCK = 190_002  # the advisory lock key of a year's count (with the year)


class ProgressCount(Base):
    """The counts of a year's vouchers by (category, household township, institution), as the
    dashboard counts them with no ``until`` (models.progress.counts_query)."""

    __tablename__ = "progress_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    category_id: Mapped[int]
    township_id: Mapped[int | None]
    institution_id: Mapped[int]
    registered: Mapped[int]
    redeemed: Mapped[int]
    completed: Mapped[int]
    certified: Mapped[int]
    employed: Mapped[int]
    redeemed_in_month: Mapped[int]
    qualification: Mapped[int]
    special: Mapped[int]
    free: Mapped[int]
    counted_at: Mapped[datetime]


def rollup_as_of(db: Session, filters: ProgressFilter) -> datetime | None:
    """When the year's rollup was counted; None: count live (no rollup, or ``until`` set)."""
    if filters.until is not None:
        return None
    return db.scalar(select(func.max(ProgressCount.counted_at))
                     .where(ProgressCount.year == filters.year))


def _rollup_query(filters: ProgressFilter, by) -> Select:
    columns = [func.sum(getattr(ProgressCount, name)).label(name) for name in COUNT_FIELDS]
    query = (select(by, *columns).where(ProgressCount.year == filters.year).group_by(by))
    return _narrowed(query, filters, township=ProgressCount.township_id,
                     category=ProgressCount.category_id,
                     institution=ProgressCount.institution_id)


def refresh_rollup(db: Session, *, now: datetime, year: int, least: int = ROLLUP_FROM) -> int:
    """Count ``year`` again into progress_counts when it has at least ``least`` vouchers (else
    remove its rollup: it is counted live); return the lines written."""
    _lock_rollup(db, year)
    db.execute(delete(ProgressCount).where(ProgressCount.year == year))
    vouchers = db.scalar(select(func.count(Voucher.id)).where(Voucher.year == year)) or 0
    if vouchers < least:
        return 0
    filters = ProgressFilter(year=year)
    employed = _employed_vouchers(filters)
    counted = (_scoped(select(literal(year), Course.category_id, Person.township_id,
                              Course.institution_id,
                              *_count_columns(employed, filters),
                              literal(now, type_=UTCDateTime())),
                       filters, with_person=True)
               .outerjoin(employed, employed.c.voucher_id == Voucher.id)
               .group_by(Course.category_id, Person.township_id, Course.institution_id))
    names = ["year", "category_id", "township_id", "institution_id", *COUNT_FIELDS,
             "counted_at"]
    db.execute(insert(ProgressCount).from_select(names, counted))
    return db.scalar(select(func.count(ProgressCount.id)).where(ProgressCount.year == year))


def recount_when_due(db: Session, *, now: datetime, year: int) -> int | None:
    """The worker's round for one year: count it again unless another worker is counting it
    (None: left to that one, not waited for) or just did (0); return the lines written."""
    if not _try_lock_rollup(db, year):
        return None
    counted = db.scalar(select(func.max(ProgressCount.counted_at))
                        .where(ProgressCount.year == year))
    if counted is not None and counted > now - ROLLUP_EVERY:
        return 0
    return refresh_rollup(db, now=now, year=year)


def _try_lock_rollup(db: Session, year: int) -> bool:
    """The year's count lock if free (held to the end of the transaction, and taken again by
    refresh_rollup, which is no wait then); True on SQLite (one writer at a time anyway)."""
    if db.get_bind().dialect.name != "postgresql":
        return True
    return bool(db.scalar(select(func.pg_try_advisory_xact_lock(ROLLUP_LOCK, year))))


def _lock_rollup(db: Session, year: int) -> None:
    """One count of a year at a time. Without it two workers each deleted the year (neither
    saw the other's rows, not yet committed) and each inserted its own: every figure twice.
    Taken before the DELETE, whose statement then sees what the other committed. SQLite has
    one writer at a time anyway."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(ROLLUP_LOCK, year)))


def rollups_due(db: Session, *, now: datetime, least: int = ROLLUP_FROM) -> list[int]:
    """The years whose rollup is missing or older than ROLLUP_EVERY, among the years with at
    least ``least`` vouchers, and the years whose rollup should go (fewer vouchers now)."""
    big = {year for year, count in db.execute(
        select(Voucher.year, func.count(Voucher.id)).group_by(Voucher.year)) if count >= least}
    counted = dict(db.execute(select(ProgressCount.year, func.max(ProgressCount.counted_at))
                              .group_by(ProgressCount.year)).all())
    stale = {year for year in big if counted.get(year) is None
             or counted[year] <= now - ROLLUP_EVERY}
    return sorted(stale | (set(counted) - big))


# --- the targets ---------------------------------------------------------------------------


def _targets_year(db: Session, year: int) -> int | None:
    """The year whose targets apply: ``year``'s own, or else the latest year before it that has
    any (targets are set for several years at a time; LP2021 covers 2020–2022)."""
    return db.scalar(select(func.max(Target.year)).where(Target.year <= year))


Targets = dict[int, dict[TargetMeasure, int]]


def _targets(db: Session, targets_year: int | None, filters: ProgressFilter
             ) -> tuple[Targets, Targets]:
    """Category targets (the counties' figures, summed) and township targets, by measure.
    No figure for an institution: targets are the region's, not a school's."""
    if targets_year is None or filters.institution_id is not None:
        return {}, {}
    by_category: Targets = {}
    if filters.township_id is None:  # no township has targets per category
        for category_id, measure, count in db.execute(
                select(Target.category_id, Target.measure, func.sum(Target.count))
                .join(Region, Region.id == Target.region_id)
                .where(Target.year == targets_year, Target.category_id.is_not(None),
                       Region.level == RegionLevel.COUNTY, *_in_scope(Region.id,
                                                                      filters, "counties"))
                .group_by(Target.category_id, Target.measure)):
            by_category.setdefault(category_id, {})[measure] = int(count)
    by_township: Targets = {}
    if filters.category_id is None:  # the township tables have no categories
        for region_id, measure, count in db.execute(
                select(Target.region_id, Target.measure, Target.count)
                .join(Region, Region.id == Target.region_id)
                .where(Target.year == targets_year, Target.category_id.is_(None),
                       Region.level == RegionLevel.TOWNSHIP, *_in_scope(Region.id,
                                                                        filters, "townships"))):
            by_township.setdefault(region_id, {})[measure] = count
    return by_category, by_township


def _in_scope(column, filters: ProgressFilter, kind: str) -> list:
    if filters.region is None:
        return []
    return [column.in_(sorted(getattr(filters.region, kind)))]


def _total_targets(filters: ProgressFilter, by_category: Targets,
                   by_township: Targets) -> dict[TargetMeasure, int]:
    """The total line's targets: trainings (see _total_target) and, by certificate kind, the
    townships' figures added up (only townships have them)."""
    townships = (by_township.values() if filters.township_id is None
                 else [by_township.get(filters.township_id, {})])
    totals: dict[TargetMeasure, int] = {}
    for found in townships:
        for measure in KIND_TARGETS:
            if measure in found:
                totals[measure] = totals.get(measure, 0) + found[measure]
    trainings = _total_target(filters, by_category, by_township)
    if trainings is not None:
        totals[TargetMeasure.TRAININGS] = trainings
    return totals


def _total_target(filters: ProgressFilter, by_category: Targets,
                  by_township: Targets) -> int | None:
    def trainings(targets: Targets) -> dict[int, int]:
        return {key: found[TargetMeasure.TRAININGS] for key, found in targets.items()
                if TargetMeasure.TRAININGS in found}

    categories, townships = trainings(by_category), trainings(by_township)
    if filters.township_id is not None:
        return townships.get(filters.township_id)
    if filters.category_id is not None:
        return categories.get(filters.category_id)
    return sum(categories.values()) or sum(townships.values()) or None

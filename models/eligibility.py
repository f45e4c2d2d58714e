"""Subsidy eligibility, explained (issue 7): which subsidies a person can get, for a course or in
general, and why. Every answer is a list of outcomes whose reasons are codes with their data
and the clause they come from, never sentences: the channels word them.

The policy is data: models.policy reads and checks the ``eligibility`` section of
models/data/policy.yaml, versioned by date; this module applies it to a person and a course.
Every evaluation names the policy version it used, so an answer can be explained later from
the file's history."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, distinct, func, select
from sqlalchemy.orm import Session, joinedload

from models.attendance import Attendance
from models.cadres import Cadre
from models.catalogue import ClassSession, Course
from models.clock import LOCAL_TZ
from models.direct import DirectReads, Rows, rows_on
from models.errors import CourseNotFound, NotRegistered
from models.persons import Group, GroupStatus, HouseholdKind, Person, PersonGroup, registered
from models.places import Place, home_county, places_among
from models.policy import (
    Condition,
    Member,
    PayKind,
    Pays,
    Policy,
    PolicyFileInvalid,
    Rule,
    eligibility_policy,
)
from models.regions import Region, RegionNode, with_parents
from models.vouchers import (
    HOLDING,
    Voucher,
    VoucherStatus,
    same_occupation_level,
    trainings_in_year,
)

logger = logging.getLogger(__name__)


class Status(enum.StrEnum):
    ELIGIBLE = "eligible"
    PROVISIONAL = "provisional"  # yes, once the person shows what ``missing`` lists
    NOT_ELIGIBLE = "not_eligible"


# Vouchers in these states mean the person is in the class (or was): days attended count.
ATTENDING = (VoucherStatus.REDEEMED, VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
CERTIFIED_STATES = (VoucherStatus.COMPLETED, VoucherStatus.SETTLED)


# --- an evaluation ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Reason:
    """Why an outcome is what it is: a code the channels word, its data, the clause it cites."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class Outcome:
    """One subsidy for the person (and course). Amounts are in yuan.

    ``amount`` is per ``per`` (once, day, month, year, person); ``amount_range`` is
    (low, high) where the policy gives a range (high None: open above). For a per-day
    allowance ``days`` is the days attended so far (None before the person is in class) and
    ``days_max`` the course's class days; ``count`` is the people counted (a cadre's subsidy);
    ``periods_max`` the most months or years paid. ``total`` is what is due now (None when
    not eligible or not yet known), ``total_max`` the most it can come to. ``missing`` lists
    what the person could still provide to turn a provisional or a no into a yes."""

    rule_id: str
    title_zh: str
    title_en: str
    kind: PayKind
    payee: str
    status: Status
    amount: Decimal | None
    amount_range: tuple[Decimal, Decimal | None] | None
    per: str | None
    days: int | None
    days_max: int | None
    count: int | None
    periods_max: int | None
    total: Decimal | None
    total_max: Decimal | None
    reasons: tuple[Reason, ...]
    missing: tuple[str, ...]
    source: str
    effective_from: date
    is_demo: bool = False  # the amount is the project's example, not the county's figure

    def display_title(self, locale: str) -> str:
        return self.title_en if locale.startswith("en") else self.title_zh

    @property
    def reason_codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    @property
    def ended_on(self) -> date | None:
        """The last day of a subsidy that has ended (reason ``rule_ended``), else None."""
        return next((r.params["ended_on"] for r in self.reasons if r.code == "rule_ended"),
                    None)


@dataclass(frozen=True)
class Evaluation:
    person_id: int
    course_id: int | None
    on: date
    policy_version: str
    policy_effective_from: date
    outcomes: tuple[Outcome, ...]

    def outcome(self, rule_id: str) -> Outcome:
        for outcome in self.outcomes:
            if outcome.rule_id == rule_id:
                return outcome
        raise KeyError(rule_id)

    def has(self, rule_id: str) -> bool:
        return any(o.rule_id == rule_id for o in self.outcomes)


def evaluate(db: Session, *, person_id: int, course_id: int | None = None, on: date,
             policy: Policy | None = None, course: Course | None = None,
             reads: DirectReads | None = None) -> Evaluation:
    """The subsidies a registered person can get on a day: for a course (joined or not: a
    course without the person's voucher is a "what if"), or, without one, in general (the
    course subsidies with their terms, the ones paid to employers for them, a cadre's own).
    ``policy`` defaults to the county's file. ``course``, when the caller has it read already
    with its institution (the chat's copy, as fresh as the course list), spares reading it.

    The facts (the person, their regions, their vouchers) are read as rows, not loaded as
    objects: on ``reads``, the process's kept connection (models.direct), for a caller whose
    session holds nothing unwritten (the chat's turn); else on the session's connection, after
    writing what it holds, as its own reads would. ``db`` then serves the rarer reads only (a
    course not given, the county, a cadre's count)."""
    policy = policy or eligibility_policy()
    if course is not None:
        course_id = course.id
    if reads is None:
        db.flush()
        rows_of = rows_on(db.connection())
    else:
        rows_of = reads.all
    edition = policy.edition_on(on)
    rules = policy.rules_on(on)
    ended = policy.ended_on(on)
    facts = _Facts.read(db, rows_of, person_id=person_id, course_id=course_id, on=on,
                        region_codes={rule.condition.region for rule in rules.values()
                                      if rule.condition is not None and rule.condition.region})
    person = facts.person
    # The session's reads come after the kept connection's: on SQLite a session's transaction
    # takes the write lock (BEGIN IMMEDIATE), which a read on another connection would wait on.
    if course is None and course_id is not None:
        course = course_with_institution(db, course_id)
        if course is None:
            raise CourseNotFound(course_id=course_id)
    facts.course = course
    outcomes = []
    for rule in policy.latest_on(on).values():
        if rule.pays is None or (course is not None and rule.who.course is None):
            continue
        if rule.who.role == "cadre" and (course is not None or facts.cadre_id is None):
            continue
        if rule.who.role == "employer":
            continue  # asked for an employer's workers (models.employers), not for a person
        if rule.id in ended:
            # An ended subsidy is answered, not dropped: someone asking is told it ended.
            outcomes.append(ended_outcome(rule))
        elif rule.id not in rules:
            continue
        elif rule.who.role == "cadre":
            outcomes.append(_cadre_outcome(db, rule, facts))
        else:
            outcomes.append(_outcome(rule, rules, facts))
    logger.info("eligibility of person %s (course %s) on %s under %s: %s outcomes", person.id,
                course_id, on, edition.version, len(outcomes))
    return Evaluation(person_id=person.id, course_id=course_id, on=on,
                      policy_version=edition.version,
                      policy_effective_from=edition.effective_from, outcomes=tuple(outcomes))


# The statements an evaluation runs, built once (a SQLAlchemy statement costs more to build
# than to run, and the course details and SUBSIDY of every registered person run them), and
# read as rows, not objects: loading objects cost twice the reading. Each carries no value of
# its own (no IN list), so that the kept connection can prepare it once (models.direct).
#
# The person's facts, a row for each group they declared (one with none), and their id as a
# cadre if they are one.
_PERSON = (select(Person.id, Person.registered_at, Person.anonymized_at, Person.birth_date,
                  Person.sex, Person.township_id, Person.household_elsewhere,
                  Person.household_kind, Person.residence_township_id,
                  Person.residence_elsewhere, Person.job_township_id, Person.job_elsewhere,
                  Person.draws_pension,
                  select(Cadre.id).where(Cadre.person_id == Person.id).scalar_subquery()
                  .label("cadre_id"),
                  PersonGroup.group, PersonGroup.status)
           .outerjoin(PersonGroup, PersonGroup.person_id == Person.id)
           .where(Person.id == bindparam("person_id")).order_by(PersonGroup.id))
_WITH_INSTITUTION = joinedload(Course.institution)
# The person's vouchers, those that count (HOLDING) kept in Python: a person has a few.
_VOUCHERS = (select(Voucher.id, Voucher.course_id, Voucher.status, Voucher.year,
                    Voucher.certified, Course.name, Course.name_en, Course.occupation,
                    Course.certificate_level)
             .join(Course, Course.id == Voucher.course_id)
             .where(Voucher.person_id == bindparam("person_id"))
             .order_by(Voucher.id))
# The course's class days, and the days the person was marked present up to the day.
_PERSON_AND_DAYS = _PERSON.add_columns(
    select(func.count(distinct(ClassSession.day)))
    .where(ClassSession.course_id == bindparam("course_id")).scalar_subquery()
    .label("days_max"),
    select(func.count(distinct(ClassSession.day))).select_from(Attendance)
    .join(ClassSession, ClassSession.id == Attendance.session_id)
    .where(Attendance.person_id == Person.id, Attendance.is_present.is_(True),
           ClassSession.course_id == bindparam("course_id"),
           ClassSession.day <= bindparam("on")).scalar_subquery().label("attended"))


@dataclass(frozen=True)
class _GroupHeld:
    group: Group
    status: GroupStatus


@dataclass(frozen=True)
class _Person:
    """The person as the evaluation reads them: their row's facts and their groups."""

    id: int
    birth_date: date | None
    sex: str | None
    township_id: int | None
    household_elsewhere: str | None
    household_kind: HouseholdKind | None
    residence_township_id: int | None
    residence_elsewhere: bool | None
    job_township_id: int | None
    job_elsewhere: bool | None
    draws_pension: bool | None
    groups: tuple[_GroupHeld, ...]

    @classmethod
    def of(cls, rows: list[Mapping[str, Any]]) -> _Person:
        row = rows[0]
        return cls(
            groups=tuple(_GroupHeld(r["group"], r["status"]) for r in rows
                         if r["group"] is not None),
            **{name: row[name] for name in _PERSON_FACTS})


_PERSON_FACTS = ("id", "birth_date", "sex", "township_id", "household_elsewhere",
                 "household_kind", "residence_township_id", "residence_elsewhere",
                 "job_township_id", "job_elsewhere", "draws_pension")


@dataclass(frozen=True)
class _HeldCourse:
    name: str
    name_en: str
    occupation: str
    certificate_level: str | None


@dataclass(frozen=True)
class _Held:
    """A voucher the person holds, with what the evaluation needs of its course: read as
    plain rows, a third of the cost of loading the vouchers and their courses as objects.
    models.vouchers' trainings_in_year and same_occupation_level take it as a Voucher."""

    id: int
    course_id: int
    status: VoucherStatus
    year: int
    certified: bool | None
    course: _HeldCourse

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> _Held:
        return cls(id=row["id"], course_id=row["course_id"], status=row["status"],
                   year=row["year"], certified=row["certified"], course=_HeldCourse(
                       name=row["name"], name_en=row["name_en"],
                       occupation=row["occupation"],
                       certificate_level=row["certificate_level"]))


def course_with_institution(db: Session, course_id: int) -> Course | None:
    """The course with its institution, from the session when it is there already: the
    evaluation and the cost that reads it (models.cost) share one read."""
    return db.get(Course, course_id, options=[_WITH_INSTITUTION])


@dataclass
class _Facts:
    """What an evaluation reads about the person and the course, once."""

    db: Session
    person: _Person
    course: Course | None
    on: date
    held: list[_Held]  # the person's vouchers that count (HOLDING)
    voucher: _Held | None  # the person's voucher for this course, if any
    cadre_id: int | None  # the person's id as a cadre, if they are one
    regions: dict[str, Region | RegionNode | None] = field(default_factory=dict)
    home: Region | None = None
    county_read: bool = False
    # The course's class days, and the days the person was marked present up to the day.
    days: tuple[int, int] | None = None
    # The person's townships and the rules' regions, with every region above them, by id.
    places: dict[int, RegionNode] = field(default_factory=dict)

    @classmethod
    def read(cls, db: Session, rows: Rows, *, person_id: int, course_id: int | None, on: date,
             region_codes: set[str]) -> _Facts:
        """The facts' three reads, all on ``rows`` (NotRegistered for someone who is not);
        the course is the caller's to set."""
        # With a course, the person's rows bring the course's class days and theirs in them.
        found = (rows(_PERSON, {"person_id": person_id}) if course_id is None else
                 rows(_PERSON_AND_DAYS, {"person_id": person_id, "course_id": course_id,
                                         "on": on}))
        if not found or not registered(found[0]["registered_at"], found[0]["anonymized_at"]):
            raise NotRegistered(person_id=person_id)
        person, first = _Person.of(found), found[0]
        # The person's places and the rules' regions, with their parents, in one statement:
        # the place conditions then walk the tree without reading.
        places = {person.township_id, person.residence_township_id, person.job_township_id}
        loaded = with_parents(rows, ids=places - {None}, codes=region_codes)
        held = [_Held.of(row) for row in rows(_VOUCHERS, {"person_id": person.id})
                if row["status"] in HOLDING]
        voucher = next((v for v in held if course_id is not None and v.course_id == course_id),
                       None)
        return cls(db=db, person=person, course=None, on=on, held=held, voucher=voucher,
                   cadre_id=first["cadre_id"],
                   days=((first["days_max"] or 0, first["attended"] or 0)
                         if course_id is not None else None),
                   regions={r.code: r for r in loaded.values() if r.code in region_codes},
                   places=loaded)

    def county(self) -> Region | None:
        """The county this deployment serves (models.places.home_county), read once."""
        if not self.county_read:
            self.home, self.county_read = home_county(self.db), True
        return self.home

    def region(self, code: str, rule: Rule) -> Region | RegionNode:
        if code not in self.regions:
            self.regions[code] = self.db.scalar(select(Region).where(Region.code == code))
        region = self.regions[code]
        if region is None:
            raise PolicyFileInvalid(f"region {code!r} is not a known region", rule=rule.id)
        return region


# A finding is one condition's verdict: FAIL makes a no, SOFT a provisional yes, INFO explains.
FAIL, SOFT, INFO = "fail", "soft", "info"


@dataclass(frozen=True)
class _Finding:
    level: str
    reason: Reason
    missing: tuple[str, ...] = ()


def _outcome(rule: Rule, rules: Mapping[str, Rule], facts: _Facts) -> Outcome:
    # A condition or cap that is not in force on the day (ended, or not begun) does not apply.
    findings = [
        *_group_findings(rule, rules, facts),
        *(f for name in rule.who.conditions if name in rules
          for f in _condition_findings(rules[name], facts)),
        *(f for name in rule.who.caps if name in rules
          for f in _cap_findings(rules[name], facts)),
        *_not_counted_findings(rule, rules),
        *_course_findings(rule, facts),
        *(_Finding(SOFT, Reason("needs_fact", {"fact": fact}, rule.source), (fact,))
          for fact in rule.who.needs),
    ]
    money = _money(rule, facts)
    findings += money.findings
    fails = [f for f in findings if f.level == FAIL]
    softs = [f for f in findings if f.level == SOFT]
    if fails:
        status, shown = Status.NOT_ELIGIBLE, fails
    elif softs:
        status, shown = Status.PROVISIONAL, softs + [f for f in findings if f.level == INFO]
    else:
        status, shown = Status.ELIGIBLE, findings
    missing = tuple(dict.fromkeys(m for f in shown for m in f.missing))
    return Outcome(
        rule_id=rule.id, title_zh=rule.title_zh, title_en=rule.title_en, kind=rule.pays.kind,
        payee=rule.pays.to, status=status, amount=money.amount, amount_range=money.amount_range,
        per=rule.pays.per, days=money.days, days_max=money.days_max, count=None,
        periods_max=rule.pays.max_periods,
        total=None if status is Status.NOT_ELIGIBLE else money.total, total_max=money.total_max,
        reasons=tuple(f.reason for f in shown), missing=missing, source=rule.source,
        effective_from=rule.effective_from, is_demo=money.is_demo)


def ended_outcome(rule: Rule) -> Outcome:
    """A subsidy past its effective_to: not eligible, because it ended on that day."""
    return Outcome(
        rule_id=rule.id, title_zh=rule.title_zh, title_en=rule.title_en, kind=rule.pays.kind,
        payee=rule.pays.to, status=Status.NOT_ELIGIBLE, amount=None, amount_range=None,
        per=rule.pays.per, days=None, days_max=None, count=None, periods_max=None, total=None,
        total_max=None, reasons=(Reason("rule_ended", {"ended_on": rule.effective_to},
                                        rule.source),),
        missing=(), source=rule.source, effective_from=rule.effective_from)


# --- groups -------------------------------------------------------------------------------

_RANK = {GroupStatus.VERIFIED: 3, GroupStatus.SELF_DECLARED: 2, GroupStatus.REJECTED: 1}


@dataclass(frozen=True)
class _Membership:
    group: Group  # the group the person declared
    counts_as: Group  # the group the rule asks for
    status: GroupStatus
    extra: tuple[_Finding, ...] = ()  # age or household facts that let it count

    def level(self, verified_for_yes: bool) -> int:
        """2: it gives a yes; 1: a provisional yes (not verified, or a fact not known); 0: no."""
        if self.status is GroupStatus.REJECTED:
            return 0
        pending = ((self.status is GroupStatus.SELF_DECLARED and verified_for_yes)
                   or any(f.level == SOFT for f in self.extra))
        return 1 if pending else 2


def _group_findings(rule: Rule, rules: Mapping[str, Rule], facts: _Facts) -> list[_Finding]:
    wanted = rule.who.groups_any
    if not wanted:
        return []
    definitions = {r.condition.group: r for r in rules.values()
                   if r.condition is not None and r.condition.group is not None}
    kinds = dict(rule.who.group_kinds)
    held: list[_Membership] = []
    excluded: list[Reason] = []  # ways in that an age or the household's kind closes
    for group in wanted:
        held += _memberships(facts, group, definitions.get(group), excluded,
                             kind=kinds.get(group), source=rule.source)
    if not held:
        groups = [{"group": g.value, "household_kind": kinds[g].value} if g in kinds
                  else g.value for g in wanted]
        return [_Finding(FAIL, Reason("not_in_groups", {"groups": groups}, rule.source),
                         ("declare_group",)),
                *(_Finding(FAIL, reason) for reason in excluded)]
    verified_for_yes = rule.who.verified_for_yes
    best = max(held, key=lambda m: (m.level(verified_for_yes), _RANK[m.status],
                                    m.group == m.counts_as))
    params = {"group": best.group.value}
    if best.counts_as != best.group:
        params["counts_as"] = best.counts_as.value
    if best.status is GroupStatus.REJECTED:
        return [_Finding(FAIL, Reason("group_rejected", params, rule.source))]
    if best.status is GroupStatus.SELF_DECLARED:
        level = SOFT if verified_for_yes else INFO
        return [_Finding(level, Reason("group_self_declared", params, rule.source),
                         ("verify_group",) if level == SOFT else ()), *best.extra]
    return [_Finding(INFO, Reason("group_verified", params, rule.source)), *best.extra]


def _memberships(facts: _Facts, group: Group, definition: Rule | None,
                 excluded: list[Reason], *, kind: HouseholdKind | None,
                 source: str) -> list[_Membership]:
    """The person's ways into a group: holding it, or (where the policy defines the group)
    holding a member group, at the member's age and with its kind of household. ``kind`` is
    the household the rule itself asks of the group (QJ2019 (十八): rural 两后生)."""
    rows = {row.group: row for row in facts.person.groups}
    found: list[_Membership] = []
    if group in rows:
        found += _with_household(facts, _Membership(group, group, rows[group].status), kind,
                                 source, excluded)
    if definition is None:
        return found
    for member in definition.condition.members:
        row = rows.get(member.group)
        if member.group == group or row is None:
            continue
        way = _by_age(facts, member, group, row.status, definition.source, excluded)
        if way is None:
            continue
        for one in _with_household(facts, way, member.household_kind, definition.source,
                                   excluded):
            found += _with_household(facts, one, kind, source, excluded)
    return found


def _by_age(facts: _Facts, member: Member, group: Group, status: GroupStatus, source: str,
            excluded: list[Reason]) -> _Membership | None:
    """A member group that counts as ``group``, where the person's age lets it."""
    if not member.has_age:
        return _Membership(member.group, group, status)
    age_min = member.age_min(facts.person.sex)
    born = facts.person.birth_date
    if age_min is None or born is None:
        return None
    age = age_on(born, facts.on)
    params = {"group": member.group.value, "counts_as": group.value, "age": age,
              "min_age": age_min, "sex": facts.person.sex}
    if age >= age_min:
        return _Membership(member.group, group, status,
                           (_Finding(INFO, Reason("age_threshold_met", params, source)),))
    if status is not GroupStatus.REJECTED:
        excluded.append(Reason("below_age_threshold",
                               {**params, "reaches_on": birthday(born, age_min)}, source))
    return None


def _with_household(facts: _Facts, way: _Membership, kind: HouseholdKind | None, source: str,
                    excluded: list[Reason]) -> list[_Membership]:
    """The way in, if the household is of the kind asked (none asked: as it is). A household
    whose kind we do not know keeps it, provisionally: never a silent yes."""
    if kind is None:
        return [way]
    held = facts.person.household_kind
    params = {"group": way.group.value, "kind": kind.value}
    if way.counts_as != way.group:
        params["counts_as"] = way.counts_as.value
    if held is None:
        return [replace(way, extra=(*way.extra, _Finding(
            SOFT, Reason("household_kind_unknown", params, source), ("household_kind",))))]
    if held is kind:
        return [replace(way, extra=(*way.extra, _Finding(
            INFO, Reason("household_kind_met", params, source))))]
    if way.status is not GroupStatus.REJECTED:
        excluded.append(Reason("household_kind_not_met", {**params, "held": held.value},
                               source))
    return []


def age_on(born: date, day: date) -> int:
    """Age in whole years (周岁) on a day; the birthday itself counts as the new age."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def birthday(born: date, age: int) -> date:
    """The day one reaches an age (1 March for those born on 29 February, in common years)."""
    try:
        return born.replace(year=born.year + age)
    except ValueError:
        return date(born.year + age, 3, 1)


# --- conditions and caps --------------------------------------------------------------------

def _condition_findings(condition_rule: Rule, facts: _Facts) -> list[_Finding]:
    condition, source, person = condition_rule.condition, condition_rule.source, facts.person
    if condition.kind == "no_pension":
        if person.draws_pension:
            return [_Finding(FAIL, Reason("draws_pension", {}, source))]
        if person.draws_pension is None:
            return [_Finding(SOFT, Reason("pension_unknown", {}, source), ("pension_status",))]
        return []
    region = facts.region(condition.region, condition_rule)
    if condition.kind == "place_in_region":
        return _place_findings(condition, region, source, facts)
    household = places_among(person, facts.places)[0]
    verdict = _verdict(household, region, facts)
    if verdict == IN:
        return []
    if verdict == UNKNOWN:
        return [_Finding(SOFT, Reason("township_unknown", {}, source), ("household_township",))]
    township = household.township
    named = household.elsewhere_name or ""
    return [_Finding(FAIL, Reason("outside_region", {
        "township": township.name if township else named,
        "township_en": township.name_en if township else named,
        "region": region.name, "region_en": region.name_en}, source))]


IN, OUT, UNKNOWN = "in", "out", "unknown"


def _within(place: Region | RegionNode | None, region: Region | RegionNode) -> bool:
    while place is not None:
        if place.id == region.id:
            return True
        place = place.parent
    return False


def _verdict(place: Place, region: Region | RegionNode, facts: _Facts) -> str:
    """Is the place in the region? A township: by its chain of parents. Elsewhere (not in this
    county): out when the region lies inside this county, else we cannot tell (a household
    in another county of the prefecture, for a prefecture-wide rule). Not known: unknown."""
    if place.township is not None:
        return IN if _within(place.township, region) else OUT
    # The county is read only for a place elsewhere: most people's places are townships.
    if place.is_elsewhere and (county := facts.county()) is not None and _within(region, county):
        return OUT
    return UNKNOWN


def _place_findings(condition: Condition, region: Region | RegionNode, source: str,
                    facts: _Facts) -> list[_Finding]:
    """QJ2019 (十六): covered when the household, the residence or the place of job seeking
    is in the region; the answer names the first that is."""
    region_words = {"region": region.name, "region_en": region.name_en}
    places = [p for p in places_among(facts.person, facts.places)
              if p.role in condition.places]
    verdicts = [(place, _verdict(place, region, facts)) for place in places]
    for place, verdict in verdicts:
        if verdict == IN:
            return [_Finding(INFO, Reason("place_in_region", {
                "place": place.role.value, "township": place.township.name,
                "township_en": place.township.name_en, **region_words}, source))]
    unanswered = [p.role.value for p, v in verdicts if v == UNKNOWN and not p.is_known]
    unplaced = [p.role.value for p, v in verdicts if v == UNKNOWN and p.is_known]
    found = []
    if unanswered:
        found.append(_Finding(SOFT, Reason("places_unknown", {"places": unanswered}, source),
                              ("places",)))
    if unplaced:
        found.append(_Finding(SOFT, Reason("places_to_check", {"places": unplaced,
                                                               **region_words}, source),
                              ("check_places",)))
    if found:
        return found
    return [_Finding(FAIL, Reason("places_outside_region", {
        "places": [p.role.value for p in places], **region_words}, source), ("places",))]


def _cap_findings(cap_rule: Rule, facts: _Facts) -> list[_Finding]:
    condition, source, course = cap_rule.condition, cap_rule.source, facts.course
    if condition.kind == "yearly_cap":
        year = course.starts_on.year if course is not None else facts.on.year
        # One count for every page (issue 17): "已享受N次" counts every voucher of the year,
        # this course's own too, so 补贴 and 补贴 <course> say the same N; the cap is reached
        # only by the others (the course's own voucher does not bar it).
        counted = trainings_in_year(facts.held, year)
        used = len(counted)
        params = {"used": used, "max": condition.max, "year": year}
        others = [v for v in counted if course is None or v.course_id != course.id]
        if len(others) >= condition.max:
            return [_Finding(FAIL, Reason("yearly_cap_reached", params, source))]
        return [_Finding(INFO, Reason("yearly_count", params, source))]
    if course is None:
        return []
    same = same_occupation_level(facts.held, course)
    if same is None:
        return []
    return [_Finding(FAIL, Reason("same_occupation_level", {
        "course": same.course.name, "course_en": same.course.name_en, "year": same.year,
        "occupation": course.occupation, "occupation_en": course.occupation_en,
        "level": course.certificate_level}, source))]


def _not_counted_findings(rule: Rule, rules: Mapping[str, Rule]) -> list[_Finding]:
    return [_Finding(INFO, Reason("not_counted_in_yearly_cap", {"max": r.condition.max},
                                  r.source))
            for r in rules.values()
            if r.condition is not None and rule.id in r.condition.not_counted]


# --- the course -------------------------------------------------------------------------------

def _course_findings(rule: Rule, facts: _Facts) -> list[_Finding]:
    terms, course, source = rule.who.course, facts.course, rule.source
    if terms is None:
        return []
    if course is None:
        found = [_Finding(INFO, Reason("applies_to_courses", {
            "is_free": terms.is_free, "publicly_procured": terms.publicly_procured,
            "institution_kinds": sorted(k.value for k in terms.institution_kinds),
            "certificate_kinds": sorted(k.value for k in terms.certificate_kinds),
            "needs_certificate": terms.needs_certificate}, source))]
        if terms.needs_certificate:
            found.append(_Finding(SOFT, Reason("certificate_pending", {}, source),
                                  ("obtain_certificate",)))
        return found
    found = []
    if terms.is_free is not None:
        fact = (Reason("course_is_free", {}, source) if course.is_free else
                Reason("course_not_free", {"fee_yuan": course.fee_yuan}, source))
        found.append(_Finding(INFO if course.is_free == terms.is_free else FAIL, fact))
    if terms.publicly_procured is not None:
        procured = course.is_publicly_procured
        found.append(_Finding(INFO if procured == terms.publicly_procured else FAIL, Reason(
            "course_publicly_procured" if procured else "course_not_publicly_procured", {},
            source)))
    if terms.institution_kinds:
        kind = course.institution.kind
        covered = kind in terms.institution_kinds
        found.append(_Finding(INFO if covered else FAIL, Reason(
            "institution_kind_covered" if covered else "institution_kind_not_covered",
            {"institution_kind": kind.value}, source)))
    if terms.certificate_kinds and course.certificate_kind not in terms.certificate_kinds:
        found.append(_Finding(FAIL, Reason("certificate_kind_not_covered",
                                           {"certificate_kind": course.certificate_kind.value},
                                           source)))
    if terms.needs_certificate:
        found.append(_certificate_finding(facts, source))
    return found


def _certificate_finding(facts: _Facts, source: str) -> _Finding:
    course, voucher = facts.course, facts.voucher
    params = {"certificate_kind": course.certificate_kind.value,
              "level": course.certificate_level}
    if voucher is not None and voucher.status in CERTIFIED_STATES:
        if voucher.certified:
            return _Finding(INFO, Reason("certificate_obtained", params, source))
        return _Finding(FAIL, Reason("no_certificate", params, source))
    return _Finding(SOFT, Reason("certificate_pending", params, source), ("obtain_certificate",))


# --- amounts ----------------------------------------------------------------------------------

@dataclass
class _Money:
    amount: Decimal | None = None
    amount_range: tuple[Decimal, Decimal | None] | None = None
    days: int | None = None
    days_max: int | None = None
    total: Decimal | None = None
    total_max: Decimal | None = None
    is_demo: bool = False
    findings: list[_Finding] = field(default_factory=list)


def _money(rule: Rule, facts: _Facts) -> _Money:
    pays, source, course = rule.pays, rule.source, facts.course
    money = _Money()
    if pays.to != "trainee":
        money.findings.append(_Finding(INFO, Reason("paid_to", {"payee": pays.to}, source)))
    if pays.advanced_by:
        money.findings.append(_Finding(INFO, Reason("advanced_by", {"by": pays.advanced_by},
                                                    source)))
    if pays.kind is PayKind.FIXED:
        money.amount = pays.amount
        if pays.per == "once":
            money.total = money.total_max = pays.amount
    elif pays.kind is PayKind.PER_DAY:
        money.amount = pays.amount
        if course is not None:
            _days(money, pays.amount, facts, source)
    elif pays.kind is PayKind.BY_CERTIFICATE:
        _by_certificate(money, pays, facts, source)
    elif pays.kind is PayKind.RANGE:
        money.amount_range = (pays.min, pays.max)
        if pays.max is not None and pays.max_periods is not None:
            money.total_max = pays.max * pays.max_periods
    # A range is the policy's own; only a figure the county has not set is an example.
    if pays.is_demo and money.amount is not None:
        money.is_demo = True
        money.findings.append(_Finding(INFO, Reason("demo_amount", {}, source)))
    return money


def _days(money: _Money, per_day: Decimal, facts: _Facts, source: str) -> None:
    """Days actually attended: distinct class days with a present mark, up to the day."""
    money.days_max, attended = facts.days  # read with the person, for the course
    money.total_max = per_day * money.days_max
    in_class = facts.voucher is not None and facts.voucher.status in ATTENDING
    if attended or in_class:
        money.days, money.total = attended, per_day * attended
        money.findings.append(_Finding(INFO, Reason("days_attended", {
            "days": attended, "days_max": money.days_max}, source)))
    else:
        money.findings.append(_Finding(INFO, Reason("days_not_started", {
            "days_max": money.days_max}, source)))


def _by_certificate(money: _Money, pays: Pays, facts: _Facts, source: str) -> None:
    course = facts.course
    rate = (pays.rates.rate_for(kind=course.certificate_kind, level=course.certificate_level,
                                is_certified=True) if course is not None else None)
    if rate is None:
        money.amount_range = (pays.min, pays.max)
        money.total_max = pays.max + pays.appraisal_max
        params = {"min": pays.min, "max": pays.max, "appraisal_max": pays.appraisal_max}
        if course is not None:
            params |= {"certificate_kind": course.certificate_kind.value,
                       "level": course.certificate_level}
        money.findings.append(_Finding(INFO, Reason(
            "certificate_range" if course is None else "no_rate_for_certificate", params,
            source)))
        return
    money.amount = money.total = money.total_max = rate.total_yuan
    money.findings.append(_Finding(INFO, Reason("certificate_rate", {
        "certificate_kind": course.certificate_kind.value, "level": course.certificate_level,
        "training_yuan": rate.training_yuan, "appraisal_yuan": rate.appraisal_yuan}, source)))


# --- a cadre's subsidy ------------------------------------------------------------------------

def _cadre_outcome(db: Session, rule: Rule, facts: _Facts) -> Outcome:
    """Per person the cadre mobilized who obtained a certificate in the year of the day."""
    year = facts.on.year
    starts = datetime.combine(date(year, 1, 1), time.min, tzinfo=LOCAL_TZ)
    ends = datetime.combine(date(year + 1, 1, 1), time.min, tzinfo=LOCAL_TZ)
    count = db.scalar(
        select(func.count(distinct(Voucher.person_id)))
        .join(Person, Person.id == Voucher.person_id)
        .where(Person.referred_by_id == facts.cadre_id, Voucher.certified.is_(True),
               Voucher.status.in_(CERTIFIED_STATES), Voucher.completed_at >= starts,
               Voucher.completed_at < ends)) or 0
    reasons = [Reason("cadre_certified", {"count": count, "year": year}, rule.source)]
    if rule.pays.is_demo:
        reasons.append(Reason("demo_amount", {}, rule.source))
    return Outcome(
        rule_id=rule.id, title_zh=rule.title_zh, title_en=rule.title_en, kind=rule.pays.kind,
        payee=rule.pays.to, status=Status.ELIGIBLE, amount=rule.pays.amount, amount_range=None,
        per=rule.pays.per, days=None, days_max=None, count=count, periods_max=None,
        total=rule.pays.amount * count, total_max=None, reasons=tuple(reasons), missing=(),
        source=rule.source, effective_from=rule.effective_from, is_demo=rule.pays.is_demo)

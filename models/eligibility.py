"""Subsidy eligibility, explained (issue 7): which subsidies a person can get, for a course or in
general, and why. Every answer is a list of outcomes whose reasons are codes with their data
and the clause they come from, never sentences: the channels word them.

The policy is data, the ``eligibility`` section of models/data/policy.yaml, versioned by date
and checked when it is read (once per process). There is no table for it: the file is the
source of truth, kept in version control with its history, and every evaluation names the
policy version it used, so an answer can be explained later from that history."""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache
from itertools import pairwise
from typing import Any, TypeVar

import yaml
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, joinedload

from models.attendance import Attendance
from models.cadres import Cadre
from models.catalogue import CertificateKind, ClassSession, Course, InstitutionKind
from models.clock import LOCAL_TZ
from models.errors import CourseNotFound, NotRegistered
from models.persons import Group, GroupStatus, HouseholdKind, Person
from models.places import Place, PlaceRole, home_county, places_of
from models.regions import Region
from models.settlement import POLICY_FILE, Rates, parse_rates
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


class PayKind(enum.StrEnum):
    FREE = "free"  # the course costs the person nothing
    FIXED = "fixed"  # amount_yuan per `per`
    PER_DAY = "per_day"  # amount_yuan a day actually attended
    BY_CERTIFICATE = "by_certificate"  # by the course's certificate kind and level
    RANGE = "range"  # from min_yuan to max_yuan (open above without max_yuan) per `per`


PERS = ("once", "day", "month", "year", "person")
PAYEES = ("trainee", "employer", "enterprise", "cadre")
# Paid to an employer or enterprise for its workers: the subsidies models.employers answers.
EMPLOYER_PAYEES = ("employer", "enterprise")
# who.role employer: a rule asked for an employer (models.employers), never in a person's list.
ROLES = ("trainee", "cadre", "employer")
# The kinds of training an employer asks about (who.trainings). A rule paid to an employer
# without `trainings` pays for the training named by its id, if it is one of these.
EMPLOYER_TRAININGS = ("pre_job", "safety", "transfer", "certificate", "work_training",
                      "apprenticeship")
CONDITION_KINDS = ("no_pension", "household_in_region", "place_in_region", "yearly_cap",
                   "once_per_occupation_level", "group_definition")
PERSON_CONDITIONS = ("no_pension", "household_in_region", "place_in_region")
CAPS = ("yearly_cap", "once_per_occupation_level")
# Vouchers in these states mean the person is in the class (or was): days attended count.
ATTENDING = (VoucherStatus.REDEEMED, VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
CERTIFIED_STATES = (VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_E = TypeVar("_E", bound=enum.StrEnum)


class PolicyFileInvalid(ValueError):
    """The policy file cannot be used; ``rule`` names the rule at fault (None: the section)."""

    def __init__(self, problem: str, *, rule: str | None = None, origin: str = "") -> None:
        self.problem, self.rule, self.origin = problem, rule, origin
        where = f"eligibility rule {rule!r}" if rule else "eligibility"
        super().__init__(f"{origin + ': ' if origin else ''}{where}: {problem}")


# --- the policy, as read from the file ----------------------------------------------------

@dataclass(frozen=True)
class Edition:
    version: str
    effective_from: date


@dataclass(frozen=True)
class Member:
    """One way to belong to a defined group: a group held, and an age and a kind of household
    where the text has them (QJ2019 (四): 大龄城镇失业人员 are urban)."""

    group: Group
    men_age_min: int | None = None
    women_age_min: int | None = None
    household_kind: HouseholdKind | None = None

    def age_min(self, sex: str | None) -> int | None:
        return {"M": self.men_age_min, "F": self.women_age_min}.get(sex or "")

    @property
    def has_age(self) -> bool:
        return self.men_age_min is not None or self.women_age_min is not None


@dataclass(frozen=True)
class Condition:
    kind: str
    region: str | None = None  # household_in_region, place_in_region
    places: tuple[PlaceRole, ...] = ()  # place_in_region: any of them in the region
    max: int | None = None  # yearly_cap
    not_counted: tuple[str, ...] = ()  # yearly_cap: rules that do not use up the cap
    group: Group | None = None  # group_definition
    members: tuple[Member, ...] = ()  # group_definition


@dataclass(frozen=True)
class Pays:
    kind: PayKind
    to: str
    amount: Decimal | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    appraisal_max: Decimal | None = None
    per: str | None = None
    max_periods: int | None = None
    rates: Rates | None = None  # by_certificate
    advanced_by: str | None = None
    is_demo: bool = False


@dataclass(frozen=True)
class CourseTerms:
    is_free: bool | None = None
    publicly_procured: bool | None = None  # bought by public tender (QJ2019 (十七))
    institution_kinds: frozenset[InstitutionKind] = frozenset()
    certificate_kinds: frozenset[CertificateKind] = frozenset()
    needs_certificate: bool = False


@dataclass(frozen=True)
class Who:
    role: str = "trainee"
    groups_any: tuple[Group, ...] = ()
    # A group of groups_any that counts only with this kind of household ("“两后生”中的农村学员").
    group_kinds: tuple[tuple[Group, HouseholdKind], ...] = ()
    verified_for_yes: bool = True
    conditions: tuple[str, ...] = ()
    caps: tuple[str, ...] = ()
    course: CourseTerms | None = None
    needs: tuple[str, ...] = ()
    trainings: tuple[str, ...] = ()  # EMPLOYER_TRAININGS an employer's subsidy pays for


@dataclass(frozen=True)
class Rule:
    id: str
    title_zh: str
    title_en: str
    source: str
    effective_from: date
    effective_to: date | None
    condition: Condition | None = None
    pays: Pays | None = None
    who: Who = field(default_factory=Who)

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None
                                               or day <= self.effective_to)


@dataclass(frozen=True)
class Policy:
    version: str  # the newest edition in the file
    editions: tuple[Edition, ...]  # oldest first
    rules: tuple[Rule, ...]  # every entry, in the file's order

    def edition_on(self, day: date) -> Edition:
        started = [e for e in self.editions if e.effective_from <= day]
        if not started:
            raise ValueError(f"no eligibility policy is in force on {day.isoformat()}: the "
                             f"first edition starts {self.editions[0].effective_from}")
        return started[-1]

    def rules_on(self, day: date) -> dict[str, Rule]:
        """The entry of each rule that applies on the day (the latest that has started),
        in the file's order; a rule past its effective_to is left out."""
        return {rid: rule for rid, rule in self.latest_on(day).items() if rule.in_force(day)}

    def ended_on(self, day: date) -> dict[str, Rule]:
        """The entry of each rule that has ended by the day: its latest started entry's
        effective_to is past and no later entry took over. In the file's order."""
        return {rid: rule for rid, rule in self.latest_on(day).items()
                if rule.effective_to is not None and rule.effective_to < day}

    def latest_on(self, day: date) -> dict[str, Rule]:
        """The latest entry of each rule that has started by the day, in the file's order."""
        latest: dict[str, Rule] = {}
        for rule in self.rules:
            if rule.effective_from <= day and (
                    rule.id not in latest or rule.effective_from > latest[rule.id].effective_from):
                latest[rule.id] = rule
        order = list(dict.fromkeys(r.id for r in self.rules))
        return {rid: latest[rid] for rid in order if rid in latest}


def yearly_cap_on(day: date) -> int:
    """How many subsidized trainings a person may take in a year (QJ2019 (十六)), as the
    policy in force on the day says; claiming a voucher and SUBSIDY read the same number."""
    rule = eligibility_policy().rules_on(day).get("yearly_cap")
    return rule.condition.max if rule is not None and rule.condition is not None else 3


@cache
def eligibility_policy() -> Policy:
    """The county's policy, read and checked once per process. Call it at start-up to stop
    early on a bad file."""
    policy = parse_policy(POLICY_FILE.read_text(encoding="utf-8"),
                          origin="models/data/policy.yaml")
    logger.info("eligibility policy %s loaded, %s rule entries", policy.version,
                len(policy.rules))
    return policy


def parse_policy(text: str, *, origin: str = "") -> Policy:
    """Read and check the ``eligibility`` section of a policy document (the whole YAML text,
    since a rule may reuse ``settlement_rates``). A problem raises PolicyFileInvalid naming
    the rule."""
    try:
        return _parse(text)
    except PolicyFileInvalid as error:
        raise PolicyFileInvalid(error.problem, rule=error.rule, origin=origin) from None


def _parse(text: str) -> Policy:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyFileInvalid(f"the file is not valid YAML ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("eligibility"), dict):
        raise PolicyFileInvalid("the file has no `eligibility` section")
    section = document["eligibility"]
    _only(section, {"version", "effective_from", "earlier_versions", "rules"}, None, "section")
    editions = _editions(section)
    raw_rules = section.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise PolicyFileInvalid("`rules` must be a non-empty list")
    rules = tuple(_rule(raw, n, document=document, first_day=editions[0].effective_from)
                  for n, raw in enumerate(raw_rules, start=1))
    _check_dates(rules, editions)
    _check_references(rules)
    return Policy(version=editions[-1].version, editions=editions, rules=rules)


def _editions(section: dict[str, Any]) -> tuple[Edition, ...]:
    current = _edition(section, "the section")
    earlier = section.get("earlier_versions") or []
    if not isinstance(earlier, list):
        raise PolicyFileInvalid("`earlier_versions` must be a list of {version, effective_from}")
    editions = sorted([_edition(e, "earlier_versions") for e in earlier] + [current],
                      key=lambda e: e.effective_from)
    if editions[-1] != current:
        raise PolicyFileInvalid(f"version {current.version!r} must be the newest edition: an "
                                "earlier version starts on or after its effective_from")
    for one, two in pairwise(editions):
        if one.effective_from == two.effective_from:
            raise PolicyFileInvalid(f"versions {one.version!r} and {two.version!r} start on the "
                                    "same day")
    names = [e.version for e in editions]
    if len(set(names)) != len(names):
        raise PolicyFileInvalid(f"a version name is used twice: {names}")
    return tuple(editions)


def _edition(raw: Any, where: str) -> Edition:
    if not isinstance(raw, dict):
        raise PolicyFileInvalid(f"{where}: a version is {{version, effective_from}}")
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        raise PolicyFileInvalid(f"{where}: `version` must be a name such as luoping-2021.1")
    return Edition(version=version.strip(),
                   effective_from=_date(raw.get("effective_from"), None,
                                        f"effective_from of version {version!r}"))


def _rule(raw: Any, position: int, *, document: dict[str, Any], first_day: date) -> Rule:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise PolicyFileInvalid(f"rule number {position} has no `id`", rule=f"#{position}")
    rule_id = raw["id"]
    if not _RULE_ID.match(rule_id):
        raise PolicyFileInvalid("an id is lower-case letters, digits and _", rule=rule_id)
    _only(raw, {"id", "title_zh", "title_en", "source", "effective_from", "effective_to",
                "condition", "pays", "who"}, rule_id, "a rule")
    for key in ("title_zh", "title_en", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise PolicyFileInvalid(f"`{key}` is missing", rule=rule_id)
    if ("condition" in raw) == ("pays" in raw):
        raise PolicyFileInvalid("a rule has either `condition` or `pays`", rule=rule_id)
    effective_from = (_date(raw["effective_from"], rule_id, "effective_from")
                      if "effective_from" in raw else first_day)
    effective_to = (_date(raw["effective_to"], rule_id, "effective_to")
                    if raw.get("effective_to") is not None else None)
    if effective_to is not None and effective_to < effective_from:
        raise PolicyFileInvalid(f"effective_to {effective_to} is before effective_from "
                                f"{effective_from}", rule=rule_id)
    common = {"id": rule_id, "title_zh": raw["title_zh"].strip(),
              "title_en": raw["title_en"].strip(), "source": raw["source"].strip(),
              "effective_from": effective_from, "effective_to": effective_to}
    if "condition" in raw:
        if "who" in raw:
            raise PolicyFileInvalid("a condition has no `who`", rule=rule_id)
        return Rule(**common, condition=_condition(raw["condition"], rule_id))
    return Rule(**common, pays=_pays(raw["pays"], rule_id, document),
                who=_who(raw.get("who") or {}, rule_id))


def _condition(raw: Any, rule_id: str) -> Condition:
    if not isinstance(raw, dict) or raw.get("kind") not in CONDITION_KINDS:
        raise PolicyFileInvalid(f"condition.kind must be one of {', '.join(CONDITION_KINDS)}",
                                rule=rule_id)
    kind = raw["kind"]
    if kind == "no_pension" or kind == "once_per_occupation_level":
        _only(raw, {"kind"}, rule_id, "condition")
        return Condition(kind=kind)
    if kind == "household_in_region":
        _only(raw, {"kind", "region"}, rule_id, "condition")
        return Condition(kind=kind, region=_region_code(raw, rule_id))
    if kind == "place_in_region":
        _only(raw, {"kind", "region", "places"}, rule_id, "condition")
        places = raw.get("places")
        if not isinstance(places, list) or not places:
            raise PolicyFileInvalid("condition.places must list some of "
                                    f"{', '.join(PlaceRole)}", rule=rule_id)
        return Condition(kind=kind, region=_region_code(raw, rule_id),
                         places=tuple(dict.fromkeys(_member_of(PlaceRole, p, rule_id,
                                                               "condition.places")
                                                    for p in places)))
    if kind == "yearly_cap":
        _only(raw, {"kind", "max", "not_counted"}, rule_id, "condition")
        return Condition(kind=kind, max=_count(raw.get("max"), rule_id, "condition.max"),
                         not_counted=_ids(raw.get("not_counted"), rule_id,
                                          "condition.not_counted"))
    _only(raw, {"kind", "group", "members"}, rule_id, "condition")
    members = raw.get("members")
    if not isinstance(members, list) or not members:
        raise PolicyFileInvalid("condition.members must list the groups that make up the group",
                                rule=rule_id)
    return Condition(kind=kind, group=_group(raw.get("group"), rule_id),
                     members=tuple(_member(m, rule_id) for m in members))


def _region_code(raw: dict[str, Any], rule_id: str) -> str:
    if not isinstance(raw.get("region"), str) or not raw["region"]:
        raise PolicyFileInvalid("condition.region must be a region code such as luoping",
                                rule=rule_id)
    return raw["region"]


def _member(raw: Any, rule_id: str) -> Member:
    if not isinstance(raw, dict):
        raise PolicyFileInvalid("a member is {group, men_age_min, women_age_min, "
                                "household_kind}", rule=rule_id)
    _only(raw, {"group", "men_age_min", "women_age_min", "household_kind"}, rule_id,
          "a member")
    ages = {key: _count(raw[key], rule_id, f"members.{key}", at_least=16)
            for key in ("men_age_min", "women_age_min") if raw.get(key) is not None}
    return Member(group=_group(raw.get("group"), rule_id), **ages,
                  household_kind=_household_kind(raw.get("household_kind"), rule_id,
                                                 "members.household_kind"))


def _household_kind(value: Any, rule_id: str, what: str) -> HouseholdKind | None:
    return None if value is None else _member_of(HouseholdKind, value, rule_id, what)


def _group_term(raw: Any, rule_id: str) -> tuple[Group, HouseholdKind | None]:
    """An entry of who.groups_any: a group, or {group, household_kind}."""
    if not isinstance(raw, dict):
        return _group(raw, rule_id), None
    _only(raw, {"group", "household_kind"}, rule_id, "an entry of who.groups_any")
    return (_group(raw.get("group"), rule_id),
            _household_kind(raw.get("household_kind"), rule_id, "who.groups_any.household_kind"))


def _pays(raw: Any, rule_id: str, document: dict[str, Any]) -> Pays:
    kinds = ", ".join(PayKind)
    if not isinstance(raw, dict) or raw.get("kind") not in set(PayKind):
        raise PolicyFileInvalid(f"pays.kind must be one of {kinds}", rule=rule_id)
    kind = PayKind(raw["kind"])
    allowed = {"kind", "to", "advanced_by", "is_demo"} | {
        PayKind.FREE: set(),
        PayKind.FIXED: {"amount_yuan", "per"},
        PayKind.PER_DAY: {"amount_yuan"},
        PayKind.BY_CERTIFICATE: {"min_yuan", "max_yuan", "appraisal_max_yuan", "amounts"},
        PayKind.RANGE: {"min_yuan", "max_yuan", "per", "max_periods"},
    }[kind]
    _only(raw, allowed, rule_id, f"pays of kind {kind}")
    if raw.get("to") not in PAYEES:
        raise PolicyFileInvalid(f"pays.to must be one of {', '.join(PAYEES)}", rule=rule_id)
    if raw.get("advanced_by") not in (None, "institution"):
        raise PolicyFileInvalid("pays.advanced_by can only be institution", rule=rule_id)
    pays = Pays(kind=kind, to=raw["to"], advanced_by=raw.get("advanced_by"),
                is_demo=_flag(raw.get("is_demo", False), rule_id, "pays.is_demo"))
    if kind is PayKind.FREE:
        return pays
    if kind is PayKind.FIXED:
        return replace(pays, amount=_yuan(raw.get("amount_yuan"), rule_id, "pays.amount_yuan"),
                     per=_per(raw.get("per"), rule_id))
    if kind is PayKind.PER_DAY:
        return replace(pays, amount=_yuan(raw.get("amount_yuan"), rule_id, "pays.amount_yuan"),
                     per="day")
    low = _yuan(raw.get("min_yuan"), rule_id, "pays.min_yuan", zero_ok=True)
    high = (_yuan(raw["max_yuan"], rule_id, "pays.max_yuan")
            if raw.get("max_yuan") is not None else None)
    if high is not None and high < low:
        raise PolicyFileInvalid(f"pays.max_yuan {high} is below pays.min_yuan {low}",
                                rule=rule_id)
    if kind is PayKind.RANGE:
        periods = (_count(raw["max_periods"], rule_id, "pays.max_periods")
                   if raw.get("max_periods") is not None else None)
        return replace(pays, min=low, max=high, per=_per(raw.get("per"), rule_id),
                     max_periods=periods)
    if high is None:
        raise PolicyFileInvalid("pays.max_yuan is missing", rule=rule_id)
    appraisal = _yuan(raw.get("appraisal_max_yuan"), rule_id, "pays.appraisal_max_yuan",
                      zero_ok=True)
    rates = _rates(raw.get("amounts"), rule_id, document)
    _check_rates(rates, low=low, high=high, appraisal=appraisal, rule_id=rule_id)
    return replace(pays, min=low, max=high, appraisal_max=appraisal, per="once", rates=rates,
                 is_demo=pays.is_demo or rates.is_demo)


def _rates(raw: Any, rule_id: str, document: dict[str, Any]) -> Rates:
    """``amounts: settlement_rates`` reuses that section; a mapping of the same shape sets the
    rule's own amounts."""
    if raw == "settlement_rates":
        raw = document.get("settlement_rates")
        if not isinstance(raw, dict):
            raise PolicyFileInvalid("pays.amounts names settlement_rates, which the file lacks",
                                    rule=rule_id)
    if not isinstance(raw, dict):
        raise PolicyFileInvalid("pays.amounts must be settlement_rates or a mapping shaped like "
                                "it (range_yuan, rules, no_certificate)", rule=rule_id)
    try:
        return parse_rates(raw)
    except (KeyError, TypeError, ValueError, InvalidOperation) as error:
        raise PolicyFileInvalid(f"pays.amounts: {error!r}", rule=rule_id) from None


def _check_rates(rates: Rates, *, low: Decimal, high: Decimal, appraisal: Decimal,
                 rule_id: str) -> None:
    for name, rate in [*rates.by_level.items(), *((k.value, r) for k, r in rates.by_kind.items())]:
        if not (low <= rate.training_yuan <= high and rate.appraisal_yuan <= appraisal):
            raise PolicyFileInvalid(
                f"the amount for {name} ({rate.training_yuan} + {rate.appraisal_yuan} appraisal) "
                f"lies outside {low}–{high} + at most {appraisal}", rule=rule_id)


def _who(raw: Any, rule_id: str) -> Who:
    if not isinstance(raw, dict):
        raise PolicyFileInvalid("`who` must be a mapping", rule=rule_id)
    _only(raw, {"role", "groups_any", "verified_for_yes", "conditions", "caps", "course",
                "needs", "trainings"}, rule_id, "who")
    role = raw.get("role", "trainee")
    if role not in ROLES:
        raise PolicyFileInvalid(f"who.role must be one of {', '.join(ROLES)}", rule=rule_id)
    groups = raw.get("groups_any") or []
    if not isinstance(groups, list):
        raise PolicyFileInvalid("who.groups_any must be a list of groups", rule=rule_id)
    terms = [_group_term(g, rule_id) for g in groups]
    return Who(role=role, groups_any=tuple(g for g, _ in terms),
               group_kinds=tuple((g, k) for g, k in terms if k is not None),
               verified_for_yes=_flag(raw.get("verified_for_yes", True), rule_id,
                                      "who.verified_for_yes"),
               conditions=_ids(raw.get("conditions"), rule_id, "who.conditions"),
               caps=_ids(raw.get("caps"), rule_id, "who.caps"),
               course=_course_terms(raw["course"], rule_id) if "course" in raw else None,
               needs=_ids(raw.get("needs"), rule_id, "who.needs"),
               trainings=_trainings(raw.get("trainings"), rule_id))


def _trainings(value: Any, rule_id: str) -> tuple[str, ...]:
    names = _ids(value, rule_id, "who.trainings")
    unknown = sorted(set(names) - set(EMPLOYER_TRAININGS))
    if unknown:
        raise PolicyFileInvalid(f"who.trainings: {unknown} not among "
                                f"{', '.join(EMPLOYER_TRAININGS)}", rule=rule_id)
    return names


def _course_terms(raw: Any, rule_id: str) -> CourseTerms:
    if not isinstance(raw, dict):
        raise PolicyFileInvalid("who.course must be a mapping", rule=rule_id)
    _only(raw, {"is_free", "publicly_procured", "institution_kinds", "certificate_kinds",
                "needs_certificate"}, rule_id, "who.course")
    is_free, procured = raw.get("is_free"), raw.get("publicly_procured")
    return CourseTerms(
        is_free=None if is_free is None else _flag(is_free, rule_id, "who.course.is_free"),
        publicly_procured=(None if procured is None else
                           _flag(procured, rule_id, "who.course.publicly_procured")),
        institution_kinds=frozenset(_member_of(InstitutionKind, k, rule_id,
                                               "who.course.institution_kinds")
                                    for k in raw.get("institution_kinds") or []),
        certificate_kinds=frozenset(_member_of(CertificateKind, k, rule_id,
                                               "who.course.certificate_kinds")
                                    for k in raw.get("certificate_kinds") or []),
        needs_certificate=_flag(raw.get("needs_certificate", False), rule_id,
                                "who.course.needs_certificate"))


def _check_dates(rules: tuple[Rule, ...], editions: tuple[Edition, ...]) -> None:
    starts = {e.effective_from for e in editions}
    seen: set[tuple[str, date]] = set()
    sorts: dict[str, bool] = {}
    for rule in rules:
        if rule.effective_from not in starts:
            raise PolicyFileInvalid(
                f"effective_from {rule.effective_from} starts no policy version; add a version "
                "that starts that day (see the comment above `eligibility`)", rule=rule.id)
        if (rule.id, rule.effective_from) in seen:
            raise PolicyFileInvalid(f"two entries start on {rule.effective_from}", rule=rule.id)
        seen.add((rule.id, rule.effective_from))
        if sorts.setdefault(rule.id, rule.condition is not None) != (rule.condition is not None):
            raise PolicyFileInvalid("one entry is a condition and another pays", rule=rule.id)


def _check_references(rules: tuple[Rule, ...]) -> None:
    conditions: dict[str, set[str]] = {}
    paying: set[str] = set()
    defined: dict[Group, str] = {}
    for rule in rules:
        if rule.condition is None:
            paying.add(rule.id)
            continue
        conditions.setdefault(rule.id, set()).add(rule.condition.kind)
        group = rule.condition.group
        if group is not None and defined.setdefault(group, rule.id) != rule.id:
            raise PolicyFileInvalid(f"group {group} is already defined by rule "
                                    f"{defined[group]!r}", rule=rule.id)
    for rule in rules:
        if rule.condition is not None:
            for name in rule.condition.not_counted:
                if name not in paying:
                    raise PolicyFileInvalid(f"not_counted names {name!r}, which is no subsidy "
                                            "in the file", rule=rule.id)
            continue
        for name in rule.who.conditions:
            _check_reference(rule.id, name, PERSON_CONDITIONS, "who.conditions", conditions)
        for name in rule.who.caps:
            _check_reference(rule.id, name, CAPS, "who.caps", conditions)
            if any(rule.id in r.condition.not_counted for r in rules
                   if r.id == name and r.condition is not None):
                raise PolicyFileInvalid(f"it is capped by {name!r}, which says it is not "
                                        "counted", rule=rule.id)
        pays = rule.pays
        if rule.who.role == "cadre" and (pays.kind is not PayKind.FIXED or pays.per != "person"):
            raise PolicyFileInvalid("a cadre's subsidy is fixed, per person", rule=rule.id)
        if (rule.who.role == "employer" or rule.who.trainings) and pays.to not in EMPLOYER_PAYEES:
            raise PolicyFileInvalid("a subsidy asked for an employer (who.role employer, "
                                    "who.trainings) is paid to an employer or enterprise",
                                    rule=rule.id)


def _check_reference(rule_id: str, name: str, kinds: tuple[str, ...], what: str,
                     conditions: dict[str, set[str]]) -> None:
    if name not in conditions:
        raise PolicyFileInvalid(f"{what} names {name!r}, which is no condition in the file",
                                rule=rule_id)
    if not conditions[name] <= set(kinds):
        raise PolicyFileInvalid(f"{what} names {name!r}, which is not one of "
                                f"{', '.join(kinds)}", rule=rule_id)


# Small readers: each names the rule and the field at fault.

def _only(raw: dict[str, Any], allowed: set[str], rule_id: str | None, what: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise PolicyFileInvalid(f"{what} has unknown keys {unknown} (allowed: "
                                f"{sorted(allowed)})", rule=rule_id)


def _date(value: Any, rule_id: str | None, what: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PolicyFileInvalid(f"{what} must be a date (YYYY-MM-DD), not {value!r}",
                                rule=rule_id) from None


def _yuan(value: Any, rule_id: str, what: str, *, zero_ok: bool = False) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise PolicyFileInvalid(f"{what} must be an amount in yuan, not {value!r}", rule=rule_id)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PolicyFileInvalid(f"{what} must be an amount in yuan, not {value!r}",
                                rule=rule_id) from None
    if not amount.is_finite() or amount < 0 or (amount == 0 and not zero_ok):
        raise PolicyFileInvalid(f"{what} must be more than 0, not {value!r}", rule=rule_id)
    return amount


def _count(value: Any, rule_id: str, what: str, *, at_least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < at_least:
        raise PolicyFileInvalid(f"{what} must be a whole number of at least {at_least}, not "
                                f"{value!r}", rule=rule_id)
    return value


def _flag(value: Any, rule_id: str, what: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyFileInvalid(f"{what} must be true or false, not {value!r}", rule=rule_id)
    return value


def _per(value: Any, rule_id: str) -> str:
    if value not in PERS:
        raise PolicyFileInvalid(f"pays.per must be one of {', '.join(PERS)}, not {value!r}",
                                rule=rule_id)
    return value


def _ids(value: Any, rule_id: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyFileInvalid(f"{what} must be a list of names", rule=rule_id)
    return tuple(value)


def _group(value: Any, rule_id: str) -> Group:
    return _member_of(Group, value, rule_id, "group")


def _member_of(kind: type[_E], value: Any, rule_id: str, what: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise PolicyFileInvalid(f"{what}: {value!r} is not one of "
                                f"{', '.join(m.value for m in kind)}", rule=rule_id) from None


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
             policy: Policy | None = None) -> Evaluation:
    """The subsidies a registered person can get on a day: for a course (joined or not: a
    course without the person's voucher is a "what if"), or, without one, in general (the
    course subsidies with their terms, the ones paid to employers for them, a cadre's own).
    ``policy`` defaults to the county's file."""
    policy = policy or eligibility_policy()
    person = db.get(Person, person_id)
    if person is None or not person.is_registered:
        raise NotRegistered(person_id=person_id)
    course = None
    if course_id is not None:
        course = db.scalar(select(Course).where(Course.id == course_id)
                           .options(joinedload(Course.institution)))
        if course is None:
            raise CourseNotFound(course_id=course_id)
    edition = policy.edition_on(on)
    rules = policy.rules_on(on)
    ended = policy.ended_on(on)
    facts = _Facts.gather(db, person=person, course=course, on=on)
    outcomes = []
    for rule in policy.latest_on(on).values():
        if rule.pays is None or (course is not None and rule.who.course is None):
            continue
        if rule.who.role == "cadre" and (course is not None or facts.cadre is None):
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


@dataclass
class _Facts:
    """What an evaluation reads about the person and the course, once."""

    db: Session
    person: Person
    course: Course | None
    on: date
    held: list[Voucher]  # the person's vouchers that count (HOLDING), courses loaded
    voucher: Voucher | None  # the person's voucher for this course, if any
    cadre: Cadre | None
    regions: dict[str, Region | None] = field(default_factory=dict)
    home: Region | None = None
    county_read: bool = False

    @classmethod
    def gather(cls, db: Session, *, person: Person, course: Course | None, on: date) -> _Facts:
        held = list(db.scalars(select(Voucher).where(Voucher.person_id == person.id,
                                                     Voucher.status.in_(HOLDING))
                               .options(joinedload(Voucher.course))
                               .order_by(Voucher.id)).unique())
        voucher = next((v for v in held if course is not None and v.course_id == course.id),
                       None)
        cadre = db.scalar(select(Cadre).where(Cadre.person_id == person.id))
        return cls(db=db, person=person, course=course, on=on, held=held, voucher=voucher,
                   cadre=cadre)

    def county(self) -> Region | None:
        """The county this deployment serves (models.places.home_county), read once."""
        if not self.county_read:
            self.home, self.county_read = home_county(self.db), True
        return self.home

    def region(self, code: str, rule: Rule) -> Region:
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
    household = places_of(person)[0]
    verdict = _verdict(household, region, facts.county())
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


def _within(place: Region | None, region: Region) -> bool:
    while place is not None:
        if place.id == region.id:
            return True
        place = place.parent
    return False


def _verdict(place: Place, region: Region, county: Region | None) -> str:
    """Is the place in the region? A township: by its chain of parents. Elsewhere (not in this
    county): out when the region lies inside this county, else we cannot tell (a household
    in another county of the prefecture, for a prefecture-wide rule). Not known: unknown."""
    if place.township is not None:
        return IN if _within(place.township, region) else OUT
    if place.is_elsewhere and county is not None and _within(region, county):
        return OUT
    return UNKNOWN


def _place_findings(condition: Condition, region: Region, source: str,
                    facts: _Facts) -> list[_Finding]:
    """QJ2019 (十六): covered when the household, the residence or the place of job seeking
    is in the region; the answer names the first that is."""
    region_words = {"region": region.name, "region_en": region.name_en}
    places = [p for p in places_of(facts.person) if p.role in condition.places]
    verdicts = [(place, _verdict(place, region, facts.county())) for place in places]
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
    db, course, person = facts.db, facts.course, facts.person
    money.days_max = db.scalar(select(func.count(distinct(ClassSession.day)))
                               .where(ClassSession.course_id == course.id)) or 0
    money.total_max = per_day * money.days_max
    attended = db.scalar(
        select(func.count(distinct(ClassSession.day))).select_from(Attendance)
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .where(Attendance.person_id == person.id, Attendance.is_present.is_(True),
               ClassSession.course_id == course.id, ClassSession.day <= facts.on)) or 0
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
        .where(Person.referred_by_id == facts.cadre.id, Voucher.certified.is_(True),
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

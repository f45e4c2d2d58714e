"""The county's policy file, models/data/policy.yaml, read and checked: the subsidies and
their conditions (``eligibility``, versioned by date), the rates an institution is paid per
certificate (``settlement_rates``), and how a class's claim is paid (``institution_claims``).

Each section is read once per process and checked when it is read; a bad file stops there,
naming what is wrong. There is no table for the policy: the file is the source of truth, kept
in version control with its history, and every evaluation names the policy version it used.
What the policy means for a person is models.eligibility; for a payment, models.settlement
and models.claims."""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import yaml

from models.catalogue import CertificateKind, InstitutionKind
from models.levels import grade_of, level_name
from models.persons import Group, HouseholdKind
from models.places import PlaceRole

logger = logging.getLogger(__name__)

POLICY_FILE = Path(__file__).resolve().parent / "data" / "policy.yaml"


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
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_E = TypeVar("_E", bound=enum.StrEnum)


class PolicyFileInvalid(ValueError):
    """The policy file cannot be used; ``rule`` names the rule at fault (None: the section)."""

    def __init__(self, problem: str, *, rule: str | None = None, origin: str = "") -> None:
        self.problem, self.rule, self.origin = problem, rule, origin
        where = f"eligibility rule {rule!r}" if rule else "eligibility"
        super().__init__(f"{origin + ': ' if origin else ''}{where}: {problem}")


# --- eligibility: the subsidies and their conditions ----------------------------------------

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


# --- settlement_rates: what a certificate earns the institution ----------------------------

@dataclass(frozen=True)
class Rate:
    training_yuan: Decimal
    appraisal_yuan: Decimal
    source: str

    @property
    def total_yuan(self) -> Decimal:
        return self.training_yuan + self.appraisal_yuan


@dataclass(frozen=True)
class Rates:
    """``settlement_rates`` of models/data/policy.yaml, checked against the policy's range."""

    by_kind: dict[CertificateKind, Rate]
    by_level: dict[str, Rate]  # skill-level certificates, by the catalogue's name of the level
    no_certificate: Rate
    is_demo: bool

    def rate_for(self, *, kind: CertificateKind, level: str | None,
                 is_certified: bool) -> Rate | None:
        """The rate of one voucher; None when the data names none for its certificate."""
        if not is_certified:
            return self.no_certificate
        if kind is CertificateKind.SKILL_LEVEL:
            # 五级 is 初级工: one vocabulary of levels (models/levels.py).
            return self.by_level.get(level_name(level) or "")
        return self.by_kind.get(kind)


@cache
def settlement_rates() -> Rates:
    """Read once per process; a file outside the policy's range stops here, loudly."""
    with POLICY_FILE.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)["settlement_rates"]
    return parse_rates(data)


def parse_rates(data: dict[str, Any]) -> Rates:
    bounds = data["range_yuan"]
    low, high, appraisal_max = (Decimal(str(bounds[k])) for k in ("min", "max", "appraisal_max"))
    by_kind: dict[CertificateKind, Rate] = {}
    by_level: dict[str, Rate] = {}
    for rule in data["rules"]:
        rate = _rate(rule)
        if not (low <= rate.training_yuan <= high and 0 <= rate.appraisal_yuan <= appraisal_max):
            raise ValueError(f"settlement rate outside the policy's range: {rule}")
        kind = CertificateKind(rule["certificate_kind"])
        if kind is CertificateKind.SKILL_LEVEL:
            if "aliases" in rule:
                raise ValueError("settlement rates take no `aliases`: the other names of a "
                                 f"level are in models/levels.py ({rule})")
            grade = grade_of(rule["level"])
            if grade is None:
                raise ValueError(f"skill level {rule['level']!r} is not one of the five grades "
                                 "of models/levels.py")
            if grade.name in by_level:
                raise ValueError(f"skill level {grade.name} has two settlement rates")
            by_level[grade.name] = rate
        elif kind in by_kind:
            raise ValueError(f"certificate kind {kind} has two settlement rates")
        else:
            by_kind[kind] = rate
    missing = set(CertificateKind) - set(by_kind) - {CertificateKind.SKILL_LEVEL}
    if missing or not by_level:
        raise ValueError(f"no settlement rate for {sorted(missing) or 'skill levels'}")
    return Rates(by_kind=by_kind, by_level=by_level, no_certificate=_rate(data["no_certificate"]),
                 is_demo=bool(data.get("is_demo")))


def _rate(rule: dict[str, Any]) -> Rate:
    return Rate(training_yuan=Decimal(str(rule["training_yuan"])),
                appraisal_yuan=Decimal(str(rule["appraisal_yuan"])), source=str(rule["source"]))


# --- institution_claims: pass rate and advance ---------------------------------------------

@dataclass(frozen=True)
class PassBand:
    """From this pass rate up (to the next band), this share of the training subsidy."""

    from_rate: Decimal
    share: Decimal


@dataclass(frozen=True)
class ClaimPolicy:
    """``institution_claims`` of models/data/policy.yaml (QJ2020 五(二), QJ2019 (二十))."""

    effective_from: date  # classes ending on or after it are paid by pass rate
    bands: tuple[PassBand, ...]  # the highest first; the last starts at 0
    pass_rate_is_demo: bool
    pass_rate_source: str
    advance_share: Decimal
    advance_groups: frozenset[Group]
    advance_source: str

    def share_at(self, pass_rate: Decimal, *, class_ended_on: date) -> Decimal:
        """The share of the training subsidy paid for a class with this pass rate."""
        if class_ended_on < self.effective_from:
            return Decimal(1)  # claimed as before: the full rate per certificate
        return next(band.share for band in self.bands if pass_rate >= band.from_rate)


@cache
def claim_policy() -> ClaimPolicy:
    """Read once per process; a bad section stops here, naming what is wrong."""
    with POLICY_FILE.open(encoding="utf-8") as f:
        return parse_claim_policy(yaml.safe_load(f).get("institution_claims"))


def parse_claim_policy(data: Any) -> ClaimPolicy:
    try:
        return _claim_policy(data)
    except (KeyError, TypeError, ValueError, InvalidOperation) as error:
        raise ValueError(f"policy.yaml institution_claims: {error}") from None


def _claim_policy(data: dict[str, Any]) -> ClaimPolicy:
    pass_rate, advance = data["pass_rate"], data["advance"]
    bands = sorted((PassBand(from_rate=_fraction(b["from"]), share=_fraction(b["share"]))
                    for b in pass_rate["bands"]), key=lambda b: b.from_rate, reverse=True)
    if not bands or bands[-1].from_rate != 0:
        raise ValueError("pass_rate.bands need one band from 0")
    if len({b.from_rate for b in bands}) != len(bands):
        raise ValueError("two pass_rate.bands start at the same rate")
    if any(b.share <= 0 for b in bands):
        raise ValueError("a pass_rate band pays a share above 0")
    effective_from = data["effective_from"]
    if not isinstance(effective_from, date):
        effective_from = date.fromisoformat(str(effective_from))
    share = _fraction(advance["share"])
    if share <= 0:
        raise ValueError("advance.share must be above 0")
    return ClaimPolicy(
        effective_from=effective_from, bands=tuple(bands),
        pass_rate_is_demo=bool(pass_rate.get("is_demo")), pass_rate_source=str(pass_rate["source"]),
        advance_share=share, advance_groups=frozenset(Group(g) for g in advance["groups"]),
        advance_source=str(advance["source"]))


def _fraction(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a share between 0 and 1")
    number = Decimal(str(value))
    if not 0 <= number <= 1:
        raise ValueError(f"{value!r} is not a share between 0 and 1")
    return number

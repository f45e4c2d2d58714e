"""What an employer or enterprise can get for training its workers (issue 16, item 7): the
subsidies of the policy file paid to an employer or enterprise — QJ2020 五(三) (an enterprise
that hires rural workers and trains them: by certificate), QJ2019 (十六) (an employer's
pre-job, on-the-job safety and job-transfer training: 800 yuan a person, and the enterprise's
new apprentices), QJ2020 五(三) / QJ2019 (十九) (以工代训) — for N workers and one kind of
training, each with its amount per worker, the sum for N, the clause and what the employer
must still show.

No employer signs in yet: the bureau's staff ask on the desk, institution staff and village
cadres (who meet employers in the field) through the API. The answer reads the same rules as
a person's (models.eligibility), so a rule lives in one place."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cadres import Cadre
from models.catalogue import CertificateKind
from models.eligibility import Outcome, Reason, Status, ended_outcome
from models.errors import DomainError
from models.persons import Group
from models.policy import (
    EMPLOYER_PAYEES,
    EMPLOYER_TRAININGS,
    PayKind,
    Policy,
    Rule,
    claim_policy,
    eligibility_policy,
    settlement_rates,
)
from models.staff import StaffMember

logger = logging.getLogger(__name__)

MAX_WORKERS = 100_000  # more than a county's whole plan: a typing slip, not an employer
MAX_MONTHS = 120
QJ2019_ADVANCE_FOR_ENTERPRISES = "曲政办发〔2019〕112号 (二十)"


class EmployerQuestionInvalid(DomainError):
    """A question that cannot be answered; ``reason`` names the part at fault: ``training`` (no
    subsidy in force pays for it), ``workers`` or ``months`` (out of range, ``max``),
    ``level`` (a level is for a skill-level certificate only)."""

    code = "employer_question_invalid"


class NotStaffOrCadre(DomainError):
    """Only institution staff and village cadres ask for employers through the API."""

    code = "not_staff_or_cadre"


@dataclass(frozen=True)
class EmployerQuestion:
    """For ``workers`` workers and one ``training`` (EMPLOYER_TRAININGS): the certificate they
    take (kind and level, for training by certificate), their group (for rules meant for some
    groups: 以工代训), how many months (for a subsidy paid by the month)."""

    training: str
    workers: int
    certificate_kind: CertificateKind | None = None
    level: str | None = None
    group: Group | None = None
    months: int | None = None


@dataclass(frozen=True)
class EmployerOutcome:
    """One subsidy: ``per_worker`` is an Outcome for one worker (its amount or range, per, the
    reasons, what is missing, whether the amount is a demo value); ``total_low`` to
    ``total_high`` what it comes to for all the workers (``total_high`` None: open above),
    per ``total_per`` (a year for an apprenticeship, else the whole)."""

    per_worker: Outcome
    workers: int
    total_low: Decimal | None
    total_high: Decimal | None
    total_per: str | None

    @property
    def is_demo(self) -> bool:
        return self.per_worker.is_demo


@dataclass(frozen=True)
class EmployerAnswer:
    question: EmployerQuestion
    on: date
    policy_version: str
    outcomes: tuple[EmployerOutcome, ...]


def check_employer_adviser(db: Session, *, person_id: int) -> None:
    """Institution staff and village cadres may ask for an employer; anyone else is refused."""
    is_staff = db.scalar(select(StaffMember.id).where(StaffMember.person_id == person_id))
    is_cadre = db.scalar(select(Cadre.id).where(Cadre.person_id == person_id))
    if not (is_staff or is_cadre):
        raise NotStaffOrCadre()


def employer_trainings(*, on: date, policy: Policy | None = None) -> tuple[str, ...]:
    """The kinds of training some subsidy in force on the day pays an employer for, in the
    vocabulary's order."""
    policy = policy or eligibility_policy()
    # An ended subsidy (以工代训, YN2021 二(四)) is still asked about: the answer says it ended.
    rules = [*policy.rules_on(on).values(), *policy.ended_on(on).values()]
    offered = {t for rule in rules for t in trainings_of(rule)}
    return tuple(t for t in EMPLOYER_TRAININGS if t in offered)


def trainings_of(rule: Rule) -> tuple[str, ...]:
    """The trainings a rule pays an employer for: its who.trainings, else its id where that
    names one (work_training, apprenticeship)."""
    if rule.pays is None or rule.pays.to not in EMPLOYER_PAYEES:
        return ()
    if rule.who.trainings:
        return rule.who.trainings
    return (rule.id,) if rule.id in EMPLOYER_TRAININGS else ()


def employer_subsidies(*, question: EmployerQuestion, on: date,
                       policy: Policy | None = None) -> EmployerAnswer:
    """Every subsidy in force on the day that pays an employer for this training of its
    workers. A training no rule pays for, or numbers out of range, are refused."""
    policy = policy or eligibility_policy()
    _check(question, on=on, policy=policy)
    rules = policy.rules_on(on)
    outcomes = tuple(_outcome(rule, rules, question) for rule in rules.values()
                     if question.training in trainings_of(rule))
    outcomes += tuple(EmployerOutcome(per_worker=ended_outcome(rule), workers=question.workers,
                                      total_low=None, total_high=None, total_per=None)
                      for rule in policy.ended_on(on).values()
                      if question.training in trainings_of(rule))
    logger.info("employer question: %s for %s workers on %s, %s subsidies", question.training,
                question.workers, on, len(outcomes))
    return EmployerAnswer(question=question, on=on,
                          policy_version=policy.edition_on(on).version, outcomes=outcomes)


def _check(question: EmployerQuestion, *, on: date, policy: Policy) -> None:
    if question.training not in employer_trainings(on=on, policy=policy):
        raise EmployerQuestionInvalid(reason="training", training=question.training)
    if not 1 <= question.workers <= MAX_WORKERS:
        raise EmployerQuestionInvalid(reason="workers", max=MAX_WORKERS)
    if question.months is not None and not 1 <= question.months <= MAX_MONTHS:
        raise EmployerQuestionInvalid(reason="months", max=MAX_MONTHS)
    if question.level and question.certificate_kind is not CertificateKind.SKILL_LEVEL:
        raise EmployerQuestionInvalid(reason="level")


# A finding: FAIL makes a no, SOFT a "yes if" (something to show), INFO explains.
FAIL, SOFT, INFO = "fail", "soft", "info"


def _outcome(rule: Rule, rules: Mapping[str, Rule], question: EmployerQuestion
             ) -> EmployerOutcome:
    findings: list[tuple[str, Reason, tuple[str, ...]]] = []
    findings += _group_findings(rule, rules, question)
    findings += [(INFO, Reason("worker_condition", {"title_zh": rules[name].title_zh,
                                                    "title_en": rules[name].title_en},
                               rules[name].source), ())
                 for name in rule.who.conditions if name in rules]
    findings += [(SOFT, Reason("needs_fact", {"fact": fact}, rule.source), (fact,))
                 for fact in rule.who.needs]
    money = _money(rule, question)
    findings += [(INFO, reason, ()) for reason in money.reasons]
    if rule.pays.kind in (PayKind.FIXED, PayKind.BY_CERTIFICATE):
        # QJ2019 (二十): an enterprise training its staff by an approved plan may be paid half
        # first; the same share as an institution's advance, from one setting.
        findings.append((INFO, Reason("advance_by_plan",
                                      {"share": claim_policy().advance_share},
                                      QJ2019_ADVANCE_FOR_ENTERPRISES), ()))
    levels = {level for level, _reason, _missing in findings}
    status = (Status.NOT_ELIGIBLE if FAIL in levels else
              Status.PROVISIONAL if SOFT in levels else Status.ELIGIBLE)
    shown = [f for f in findings if f[0] == FAIL] if status is Status.NOT_ELIGIBLE else findings
    per_worker = Outcome(
        rule_id=rule.id, title_zh=rule.title_zh, title_en=rule.title_en, kind=rule.pays.kind,
        payee=rule.pays.to, status=status, amount=money.amount, amount_range=money.amount_range,
        per=rule.pays.per, days=None, days_max=None, count=question.workers,
        periods_max=rule.pays.max_periods, total=None, total_max=None,
        reasons=tuple(reason for _level, reason, _missing in shown),
        missing=tuple(dict.fromkeys(m for _level, _reason, missing in shown for m in missing)),
        source=rule.source, effective_from=rule.effective_from, is_demo=money.is_demo)
    is_no = status is Status.NOT_ELIGIBLE
    return EmployerOutcome(per_worker=per_worker, workers=question.workers,
                           total_low=None if is_no else money.total_low,
                           total_high=None if is_no else money.total_high,
                           total_per=money.total_per)


def _group_findings(rule: Rule, rules: Mapping[str, Rule], question: EmployerQuestion
                    ) -> list[tuple[str, Reason, tuple[str, ...]]]:
    """A rule for some groups of workers (以工代训): the workers' group asked, or the groups
    to show. A group that counts only from an age (QJ2019 (四)) is a yes once the age is shown."""
    wanted = rule.who.groups_any
    if not wanted:
        return []
    groups = [g.value for g in wanted]
    if question.group is None:
        return [(SOFT, Reason("workers_in_groups", {"groups": groups}, rule.source),
                 ("workers_group",))]
    if question.group in wanted:
        return [(INFO, Reason("workers_group_covered", {"group": question.group.value},
                              rule.source), ())]
    definitions = {r.condition.group: r for r in rules.values()
                   if r.condition is not None and r.condition.group is not None}
    for group in wanted:
        definition = definitions.get(group)
        for member in definition.condition.members if definition is not None else ():
            if member.group is not question.group:
                continue
            params = {"group": question.group.value, "counts_as": group.value}
            if not member.has_age:
                return [(INFO, Reason("workers_group_covered", params, definition.source), ())]
            return [(SOFT, Reason("workers_group_from_age", {
                **params, "men_age_min": member.men_age_min,
                "women_age_min": member.women_age_min}, definition.source), ("workers_age",))]
    return [(FAIL, Reason("workers_not_in_groups", {"group": question.group.value,
                                                    "groups": groups}, rule.source), ())]


@dataclass
class _Money:
    amount: Decimal | None = None
    amount_range: tuple[Decimal, Decimal | None] | None = None
    total_low: Decimal | None = None
    total_high: Decimal | None = None
    total_per: str | None = None
    is_demo: bool = False
    reasons: tuple[Reason, ...] = ()


def _money(rule: Rule, question: EmployerQuestion) -> _Money:
    pays, n, source = rule.pays, Decimal(question.workers), rule.source
    if pays.kind is PayKind.FIXED:
        total = pays.amount * n
        return _Money(amount=pays.amount, total_low=total, total_high=total,
                      is_demo=pays.is_demo,
                      reasons=(Reason("demo_amount", {}, source),) if pays.is_demo else ())
    if pays.kind is PayKind.BY_CERTIFICATE:
        return _by_certificate(rule, question)
    if pays.kind is PayKind.RANGE:
        if pays.max is None:  # open above, per year (an apprentice): the sum of one year
            return _Money(amount_range=(pays.min, None), total_low=pays.min * n,
                          total_per=pays.per)
        periods, reasons = 1, ()
        if pays.max_periods is not None:
            asked = question.months if pays.per == "month" and question.months else None
            periods = min(asked or pays.max_periods, pays.max_periods)
            if asked is not None and asked > pays.max_periods:
                reasons = (Reason("periods_capped", {"asked": asked, "max": pays.max_periods},
                                  source),)
        return _Money(amount_range=(pays.min, pays.max), total_low=pays.min * n * periods,
                      total_high=pays.max * n * periods, reasons=reasons)
    # FREE and PER_DAY are never paid to an employer in the file; nothing to add up.
    return _Money()


def _by_certificate(rule: Rule, question: EmployerQuestion) -> _Money:
    pays, n, source = rule.pays, Decimal(question.workers), rule.source
    kind = question.certificate_kind
    rate = (pays.rates.rate_for(kind=kind, level=question.level, is_certified=True)
            if kind is not None and pays.rates is not None else None)
    if rate is None:  # the policy's own range: no demo value in it
        params = {"min": pays.min, "max": pays.max, "appraisal_max": pays.appraisal_max}
        code = "certificate_range"
        if kind is not None:
            params |= {"certificate_kind": kind.value, "level": question.level}
            code = "no_rate_for_certificate"
        return _Money(amount_range=(pays.min, pays.max), total_low=pays.min * n,
                      total_high=(pays.max + pays.appraisal_max) * n,
                      reasons=(Reason(code, params, source),))
    reasons = (Reason("certificate_rate", {
        "certificate_kind": kind.value, "level": question.level,
        "training_yuan": rate.training_yuan, "appraisal_yuan": rate.appraisal_yuan}, source),)
    if pays.is_demo:
        reasons += (Reason("demo_amount", {}, source),)
    return _Money(amount=rate.total_yuan, total_low=rate.total_yuan * n,
                  total_high=rate.total_yuan * n, is_demo=pays.is_demo, reasons=reasons)


def skill_levels() -> tuple[str, ...]:
    """The skill levels the county's rates name (not their aliases), lowest first."""
    seen: dict[int, str] = {}
    for name, rate in settlement_rates().by_level.items():
        seen.setdefault(id(rate), name)
    return tuple(seen.values())

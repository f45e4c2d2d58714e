"""The words of an employer's answer (models.employers): the kinds of training, each subsidy's
amount per worker and for all of them, the reasons with their clauses, what the employer must
still show. The desk's page and the API word the answer here, so both read the same."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from locales import N_, Translator
from locales.amounts import amount_words
from models.catalogue import CertificateKind
from models.eligibility import Reason, Status
from models.employers import EmployerAnswer, EmployerOutcome
from models.persons import Group
from vocabulary import subsidy
from vocabulary.labels import CERTIFICATES, GROUPS

logger = logging.getLogger(__name__)

TRAININGS = {
    "pre_job": N_("Pre-job training (岗前培训)"),
    "safety": N_("On-the-job safety skills training (在岗安全技能培训)"),
    "transfer": N_("Job-transfer training (转岗转业培训)"),
    "certificate": N_("Training of hired rural workers to a certificate"),
    "work_training": N_("On-the-job training in place of training (以工代训)"),
    "apprenticeship": N_("Enterprise new-style apprenticeship (新型学徒制)"),
}
STATUSES = {
    Status.ELIGIBLE: N_("yes"),
    Status.PROVISIONAL: N_("yes, once the conditions are shown"),
    Status.NOT_ELIGIBLE: N_("no"),
}
PAYEES = {"employer": N_("the employer"), "enterprise": N_("the enterprise")}
REASONS = {
    "worker_condition": N_("Each worker: %(title)s."),
    "workers_in_groups": N_("Only for workers who are: %(groups)s."),
    "workers_group_covered": N_("Workers who are %(group)s are covered."),
    "workers_group_from_age": N_(
        "Workers who are %(group)s count as %(counts_as)s from age %(men_age_min)s (men) or "
        "%(women_age_min)s (women)."),
    "workers_not_in_groups": N_(
        "Workers who are %(group)s are not covered: only %(groups)s."),
    "periods_capped": N_(
        "Paid for at most %(max)s months, not the %(asked)s months asked."),
    "advance_by_plan": N_(
        "Training the staff by an approved plan, the enterprise may be paid %(share)s of it "
        "first."),
    "needs_fact": N_("To show: %(fact)s"),
}
MISSING = {
    "hired_rural_workers": N_("the trainees are rural workers the enterprise hired"),
    "plan_approved": N_("the public employment service approved the training plan"),
    "certificates_obtained": N_(
        "the training has ended and each trainee paid for obtained the certificate"),
    "staff_trained_by_employer": N_("the employer organized the training of its own staff"),
    "hired_by_eligible_employer": N_(
        "the employer is a cooperative, a poverty workshop or an insured enterprise that "
        "hired these workers and trains them on the job"),
    "apprenticeship_contract": N_("each apprentice has a new-style apprenticeship agreement"),
    "workers_group": N_("the workers belong to one of these groups"),
    "workers_age": N_("the workers' age"),
}


def _certificate(t: Translator, code: str) -> str:
    return t._(CERTIFICATES[CertificateKind(code)])


def _percent(t: Translator, share: Any) -> str:
    return f"{share * 100:.0f}%"


WORDING: dict[str, Callable[[Translator, Any], str]] = {
    "group": lambda t, v: t._(GROUPS[Group(v)]),
    "counts_as": lambda t, v: t._(GROUPS[Group(v)]),
    "groups": lambda t, v: t.listing([t._(GROUPS[Group(g)]) for g in v]),
    "certificate_kind": _certificate,
    "fact": lambda t, v: t._(MISSING.get(v, v)),
    "share": _percent,
}


@dataclass(frozen=True)
class OutcomeView:
    """One subsidy as the desk and the API show it."""

    rule_id: str
    title: str
    payee: str
    status: Status
    status_text: str
    per_worker: str
    total: str
    is_demo: bool
    reasons: list[tuple[str, str]]  # (text, clause)
    missing: list[str]
    source: str


def reason_text(t: Translator, reason: Reason) -> str:
    if reason.code == "worker_condition":
        title = reason.params["title_en" if t.locale.startswith("en") else "title_zh"]
        return t._(REASONS["worker_condition"], title=title)
    template = REASONS.get(reason.code)
    if template is None:  # worded as in a person's answer (certificate rates, demo amount)
        return subsidy.reason_text(t, reason.code, reason.params)
    values = {k: (WORDING[k](t, v) if k in WORDING and v is not None else v)
              for k, v in reason.params.items()}
    return t._(template, **values)


def total_text(t: Translator, outcome: EmployerOutcome) -> str:
    if outcome.total_low is None:
        return "—"
    amount = amount_words(t, low=outcome.total_low, high=outcome.total_high,
                          per=outcome.total_per, is_demo=outcome.is_demo)
    return t.ngettext("for %(num)s worker: %(amount)s", "for %(num)s workers: %(amount)s",
                      outcome.workers, amount=amount)


def view(t: Translator, answer: EmployerAnswer) -> list[OutcomeView]:
    return [OutcomeView(
        rule_id=o.per_worker.rule_id, title=o.per_worker.display_title(t.locale),
        payee=t._(PAYEES.get(o.per_worker.payee, o.per_worker.payee)),
        status=o.per_worker.status, status_text=t._(STATUSES[o.per_worker.status]),
        per_worker=subsidy.amount_text(t, o.per_worker), total=total_text(t, o),
        is_demo=o.is_demo,
        reasons=[(reason_text(t, r), r.source) for r in o.per_worker.reasons],
        missing=[t._(MISSING.get(m, m)) for m in o.per_worker.missing],
        source=o.per_worker.source) for o in answer.outcomes]

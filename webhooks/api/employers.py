"""What an employer can get for training its workers (QJ2020 五(三), QJ2019 (十六)(十九)(二十)):
asked by institution staff and village cadres, who meet employers, until employers sign in
themselves. Anyone else signed in is refused by the domain (not_staff_or_cadre)."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict

from models.catalogue import CertificateKind
from models.employers import (
    MAX_MONTHS,
    MAX_WORKERS,
    EmployerQuestion,
    check_employer_adviser,
    employer_subsidies,
)
from models.policy import EMPLOYER_TRAININGS
from runtime.services import current
from vocabulary import employers as employer_words
from webhooks.api.core import AUTH, bp, caller, ok, run, spec, words
from webhooks.api.schemas import GroupIn, In, ReasonOut, answers, text

logger = logging.getLogger(__name__)

TAGS = ("employers",)
CertificateKindIn = Annotated[CertificateKind, Strict(False)]


class EmployerQuery(In):
    training: Literal[EMPLOYER_TRAININGS] = Field(  # type: ignore[valid-type]
        description="pre_job (岗前培训), safety (在岗安全技能培训), transfer (转岗转业培训), "
                    "certificate (hired rural workers trained to a certificate), work_training "
                    "(以工代训), apprenticeship (新型学徒制)")
    workers: int = Field(ge=1, le=MAX_WORKERS, description="how many workers are trained")
    certificate_kind: CertificateKindIn | None = Field(
        default=None, description="for training to a certificate: its kind")
    level: text(20, 1) | None = Field(default=None,
                                      description="a skill-level certificate's level, e.g. 中级工")
    group: GroupIn | None = Field(default=None,
                                  description="the workers' group, for a subsidy meant for some")
    months: int | None = Field(default=None, ge=1, le=MAX_MONTHS,
                               description="months of 以工代训 (paid for at most 6)")


class EmployerOutcomeOut(BaseModel):
    rule_id: str
    title: str
    payee: str = Field(description="who is paid: the employer or the enterprise")
    status: Literal["eligible", "provisional", "not_eligible"]
    status_text: str
    per_worker_text: str = Field(description="the amount per worker with what it is per, e.g. "
                                             "“每人¥800.00”; marked while a demo value")
    total_text: str = Field(description="what it comes to for all the workers")
    total_min_yuan: str | None = Field(description="for all the workers, at least")
    total_max_yuan: str | None = Field(description="for all the workers, at most (none: open "
                                                   "above)")
    is_demo: bool = Field(description="the amount is an example until the county sets its own")
    reasons: list[ReasonOut]
    still_to_show: list[str]
    source: str = Field(description="the clause it comes from")


class EmployerAnswerOut(BaseModel):
    policy_version: str
    on: str
    training: str
    training_text: str
    workers: int
    outcomes: list[EmployerOutcomeOut]


@bp.get("/employers/subsidies")
@spec.validate(query=EmployerQuery, resp=answers(200, EmployerAnswerOut, 401, 403), tags=TAGS,
               security=AUTH)
def employer_subsidy_answer(query: EmployerQuery):
    """What an employer or enterprise can get for training `workers` of its workers in one
    kind of `training`: each subsidy with its amount per worker, the sum, its clause and what
    the employer must still show. For institution staff and village cadres."""
    who = caller()
    t, today = words(), current().clock.today()
    run(check_employer_adviser, person_id=who.person_id)
    answer = employer_subsidies(question=EmployerQuestion(
        training=query.training, workers=query.workers, certificate_kind=query.certificate_kind,
        level=query.level, group=query.group, months=query.months), on=today)
    shown = employer_words.view(t, answer)
    return ok({
        "policy_version": answer.policy_version, "on": answer.on.isoformat(),
        "training": query.training,
        "training_text": t._(employer_words.TRAININGS[query.training]),
        "workers": query.workers,
        "outcomes": [{
            "rule_id": view.rule_id, "title": view.title, "payee": view.payee,
            "status": view.status.value, "status_text": view.status_text,
            "per_worker_text": view.per_worker, "total_text": view.total,
            "total_min_yuan": _yuan(outcome.total_low), "total_max_yuan": _yuan(outcome.total_high),
            "is_demo": view.is_demo,
            "reasons": [{"code": r.code, "text": text_, "source": source}
                        for r, (text_, source) in zip(outcome.per_worker.reasons, view.reasons,
                                                      strict=True)],
            "still_to_show": view.missing, "source": view.source,
        } for view, outcome in zip(shown, answer.outcomes, strict=True)]})


def _yuan(amount) -> str | None:
    return f"{amount:.2f}" if amount is not None else None

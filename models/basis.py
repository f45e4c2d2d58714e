"""Whose rule it is: the county's own basis for each rule it adopts from another county's model
(models/data/policy.yaml, ``adopted_rules``). Read and checked once per process.

The voucher, check-in, completion, job push and follow-up schemes follow DX2020 (东县府办发〔2020〕
57号), the plan of 东乡族自治县 in Gansu. That plan binds no one in 罗平县, so a refusal never cites
it as the rule: it cites the county's notice and clause, which the county names in the policy
file. While the county has named none (``is_demo``), a person reads the demo's stand-in and
the model it follows:
    罗平县人社局培训券管理办法（演示：参照东乡族自治县东县府办发〔2020〕57号 三(一)）
and a rule no seed clause says (overlapping courses) names no model at all."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from models.clauses import Document, Reference, documents, references
from models.policy import POLICY_FILE

logger = logging.getLogger(__name__)

# The rules the product cites through the county's basis, by the id the policy file gives them.
ADOPTED_RULES = (
    "course_open",  # a voucher only for a course still open (the claim's course_closed)
    "one_voucher_per_course",  # already_holds
    "no_overlapping_courses",  # overlap
    "settle_by_voucher",  # the institution is paid by the vouchers it completed
    "check_in_in_person",  # check-in and hand marks without proxy signing, headcounts
    "completion_share",  # 结业 needs the course's share of hours attended
    "job_push",  # job openings pushed to matching trainees
    "follow_up",  # visits and questions after training
    "practice_share",  # practice hours 7:3 at course import (course_rules)
)


@dataclass(frozen=True)
class AdoptedRule:
    id: str
    title_zh: str
    title_en: str
    basis: str  # the county's notice and clause
    modelled_on: Reference | None  # the model's clause, or None where no seed says the rule
    is_demo: bool

    @property
    def citation(self) -> str:
        """What a person reads after “依据：”."""
        if not self.is_demo:
            return self.basis
        if self.modelled_on is None:
            return f"{self.basis}（演示）"
        model = self.modelled_on
        return f"{self.basis}（演示：参照{model.document.place}{model.text}）"


@cache
def adopted_rules() -> dict[str, AdoptedRule]:
    """``adopted_rules`` of the policy file; a rule missing, or citing a clause we do not hold,
    stops here with a message naming it."""
    with POLICY_FILE.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)["adopted_rules"]
    return parse_adopted_rules(data, documents())


def cite(rule_id: str) -> str:
    """The citation of an adopted rule, as a refusal shows it."""
    return adopted_rules()[rule_id].citation


def parse_adopted_rules(data: dict[str, Any],
                        docs: Mapping[str, Document]) -> dict[str, AdoptedRule]:
    found: dict[str, AdoptedRule] = {}
    for raw in data["rules"]:
        rule = _rule(raw, is_demo=bool(raw.get("is_demo", data.get("is_demo", False))),
                     docs=docs)
        if rule.id in found:
            raise ValueError(f"adopted rule {rule.id}: given twice")
        found[rule.id] = rule
    unknown, missing = set(found) - set(ADOPTED_RULES), set(ADOPTED_RULES) - set(found)
    if unknown or missing:
        raise ValueError(f"adopted rules: unknown {sorted(unknown)}, missing {sorted(missing)}")
    return found


def _rule(raw: dict[str, Any], *, is_demo: bool, docs: Mapping[str, Document]) -> AdoptedRule:
    rule_id = str(raw["id"])
    basis = str(raw.get("basis") or "").strip()
    if not basis:
        raise ValueError(f"adopted rule {rule_id}: the county's basis is missing")
    named = references(basis, docs)
    if any(not ref.document.binds_county for ref in named):
        raise ValueError(f"adopted rule {rule_id}: the basis must be the county's own, not "
                         f"another region's plan ({basis})")
    if not is_demo and not any(ref.excerpt for ref in named):
        # The county's own notice is checked like any citation: its clause must be on file.
        raise ValueError(f"adopted rule {rule_id}: no clause of {basis} is in clauses.yaml")
    model = None
    if raw.get("modelled_on"):
        models = references(str(raw["modelled_on"]), docs)
        if len(models) != 1 or models[0].excerpt is None:
            raise ValueError(f"adopted rule {rule_id}: modelled_on must name one clause of "
                             f"clauses.yaml, not {raw['modelled_on']!r}")
        model = models[0]
    return AdoptedRule(id=rule_id, title_zh=str(raw["title_zh"]), title_en=str(raw["title_en"]),
                       basis=basis, modelled_on=model, is_demo=is_demo)

"""What a course will cost a person (issue 17, "one answer everywhere"): the course details, the
claim in the chat and the API's claim all ask this, and it reads the same evaluation SUBSIDY
shows (models.eligibility.evaluate for the course), so no channel can say "free, paid by the
training subsidy" while SUBSIDY says ✘.

The subsidies that pay for the course itself are the FREE ones (the course costs the person
nothing) and BY_CERTIFICATE (the fee, paid back on the certificate); the allowances (living,
transport) pay the person, not the course, and do not count here."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from models.catalogue import Course
from models.direct import DirectReads
from models.eligibility import Outcome, Reason, Status, course_with_institution, evaluate
from models.errors import ClaimRefused
from models.policy import PayKind
from models.vouchers import check_claimable

logger = logging.getLogger(__name__)

COURSE_PAYERS = (PayKind.FREE, PayKind.BY_CERTIFICATE)
# Reasons about the course, not the person: a free course none of whose free subsidies fits
# the course itself is the institution's own free offer, free for everyone.
COURSE_SIDE = frozenset({"course_not_free", "course_is_free", "course_not_publicly_procured",
                         "institution_kind_not_covered", "certificate_kind_not_covered",
                         "rule_ended"})


class CostKind(enum.StrEnum):
    SUBSIDY_PAYS = "subsidy_pays"  # fee 0 and a free subsidy covers the person: free for them
    REFUND = "refund"  # a fee, paid back by the training subsidy on the certificate
    NO_FEE = "no_fee"  # fee 0 and no subsidy is for such a course: the institution's own offer
    NOT_COVERED = "not_covered"  # no subsidy pays for this person: they must confirm first


@dataclass(frozen=True)
class CourseCost:
    kind: CostKind
    fee_yuan: Decimal
    payer: Outcome | None  # the subsidy that pays (SUBSIDY_PAYS, REFUND)
    reasons: tuple[Reason, ...]  # why no subsidy pays (NOT_COVERED), each with its clause

    @property
    def needs_consent(self) -> bool:
        """The person is told the cost and says yes before a voucher is claimed."""
        return self.kind is CostKind.NOT_COVERED

    @property
    def free_for_person(self) -> bool:
        return self.kind in (CostKind.SUBSIDY_PAYS, CostKind.NO_FEE)


def course_cost(db: Session, *, person_id: int, course_id: int, on: date,
                course: Course | None = None, reads: DirectReads | None = None) -> CourseCost:
    """What the registered person pays for the course, and who pays the rest (raises
    NotRegistered / CourseNotFound as models.eligibility.evaluate). ``course`` and ``reads``:
    as evaluate's (the course already read with its institution; the kept connection)."""
    evaluation = evaluate(db, person_id=person_id, course_id=course_id, on=on, course=course,
                          reads=reads)
    # After the evaluation's reads (on SQLite a session's transaction would lock the kept
    # connection's out); found in the session when the evaluation read it.
    course = course or course_with_institution(db, course_id)
    payers = [o for o in evaluation.outcomes if o.kind in COURSE_PAYERS]
    fee = course.fee_yuan
    covering = [o for o in payers if o.status is not Status.NOT_ELIGIBLE]
    if covering:
        kind = CostKind.SUBSIDY_PAYS if fee == 0 else CostKind.REFUND
        return CourseCost(kind=kind, fee_yuan=fee, payer=covering[0], reasons=())
    # The subsidies that fit this course (no course-side refusal) but not this person.
    fitting = [o for o in payers if not COURSE_SIDE & set(o.reason_codes)]
    if fee == 0 and not fitting:
        return CourseCost(kind=CostKind.NO_FEE, fee_yuan=fee, payer=None, reasons=())
    shown = fitting or payers
    reasons: list[Reason] = []
    for reason in (r for o in shown for r in o.reasons):
        if reason not in reasons and (reason.code not in COURSE_SIDE or not fitting):
            reasons.append(reason)  # the same refusal of several subsidies is said once
    return CourseCost(kind=CostKind.NOT_COVERED, fee_yuan=fee, payer=None,
                      reasons=tuple(reasons))


def cost_before_claim(db: Session, *, person_id: int, course_id: int, on: date) -> CourseCost:
    """What a claim would cost, once it is known the claim itself is allowed (the claim's own
    refusals, models.vouchers, come first: a fourth training is refused, not priced)."""
    check_claimable(db, person_id=person_id, course_id=course_id, today=on)
    return course_cost(db, person_id=person_id, course_id=course_id, on=on)


def check_cost_accepted(db: Session, *, person_id: int, course_id: int, on: date,
                        accepted: bool) -> CourseCost:
    """A claim by a channel that cannot ask first (the API): refused, saying the cost and the
    first reason's clause, unless the caller says the person accepted paying it."""
    cost = cost_before_claim(db, person_id=person_id, course_id=course_id, on=on)
    if cost.needs_consent and not accepted:
        first = cost.reasons[0] if cost.reasons else None
        raise ClaimRefused(rule="cost_not_accepted", fee=f"{cost.fee_yuan:.2f}",
                           why=first.code if first else "",
                           source=first.source if first else "")
    return cost

"""The words of models.cost: what a course costs the person, said the same in the course details
and before a claim (the API gives the same codes)."""

from __future__ import annotations

import logging

from bot.turn import Turn
from models.cost import CostKind, CourseCost
from vocabulary.subsidy import reason_text

logger = logging.getLogger(__name__)


def fee_words(turn: Turn, cost: CourseCost, plain: str) -> str:
    """The details' "Fee:" value: ``plain`` (the course's own fee words) unless the course lists
    no fee and still is not free for this person."""
    if cost.kind is CostKind.NOT_COVERED and cost.fee_yuan == 0:
        return turn.t._("no fee listed, but not free for you (see below)")
    return plain


def cost_lines(turn: Turn, cost: CourseCost) -> list[str]:
    """What the person pays and who pays the rest; when no subsidy pays, why (each reason with
    its clause)."""
    t = turn.t
    if cost.kind is CostKind.SUBSIDY_PAYS:
        return [t._("For you: free — the training fee is paid by “%(subsidy)s” (%(source)s).",
                    subsidy=cost.payer.display_title(t.locale), source=cost.payer.source)]
    if cost.kind is CostKind.REFUND:
        return [t._("For you: you pay the fee of %(fee)s; once you obtain the certificate, "
                    "“%(subsidy)s” pays part of it back (%(source)s).",
                    fee=t.money(cost.fee_yuan), subsidy=cost.payer.display_title(t.locale),
                    source=cost.payer.source)]
    if cost.kind is CostKind.NO_FEE:
        return [t._("For you: free — the institution charges no fee. No training subsidy pays "
                    "for this course, so 补贴 lists none for it.")]
    if cost.fee_yuan == 0:
        head = t._("For you: NOT free — the course is free only for people a training subsidy "
                   "covers, and none covers you; ask the institution what it will charge you. "
                   "Why:")
    else:
        head = t._("For you: you pay the whole fee of %(fee)s yourself — no training subsidy "
                   "pays any of it for you. Why:", fee=t.money(cost.fee_yuan))
    return [head, *(t._("· %(reason)s (%(source)s)", reason=reason_text(t, r.code, r.params),
                        source=r.source) for r in cost.reasons)]

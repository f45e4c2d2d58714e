"""An amount of money as a person reads it: always with what it is per (a day, a month, a year,
once, a person) and, where the policy gives only a range, with the range's bounds — "每天¥60.00",
"每人每月最高¥500.00，最多6个月", "每人每年¥4,000.00起" — and marked "演示金额 / demo amount" while
the county has not set the figure (issue 16, items 9 and 10). The chat, the pages, the API and
the desk all word amounts here."""

from __future__ import annotations

import logging
from decimal import Decimal

from locales import N_, Translator

logger = logging.getLogger(__name__)

# What an amount is per (the policy file's `per`), for the person it is about (the trainee:
# "每天"), and for each of several people (paid to an employer for each worker: "每人每天").
PER: dict[str | None, str] = {
    "day": N_("%(amount)s per day"),
    "month": N_("%(amount)s per month"),
    "year": N_("%(amount)s per year"),
    "once": N_("%(amount)s, once"),
    "person": N_("%(amount)s per person"),
}
PER_EACH: dict[str | None, str] = {
    "day": N_("%(amount)s per person per day"),
    "month": N_("%(amount)s per person per month"),
    "year": N_("%(amount)s per person per year"),
    "once": N_("%(amount)s per trainee"),
    "person": N_("%(amount)s per person"),
}
DEMO = N_("%(amount)s (demo amount)")
DEMO_WORDS = N_("demo amount")


def amount_words(t: Translator, *, amount: Decimal | int | None = None,
                 low: Decimal | int | None = None, high: Decimal | int | None = None,
                 per: str | None = None, each: bool = False, periods_max: int | None = None,
                 is_demo: bool = False) -> str:
    """``amount``, or a range from ``low`` to ``high`` (``high`` None: open above; ``low`` 0:
    "at most ``high``"), per ``per`` (day, month, year, once, person; None: a plain sum),
    ``each`` for every one of several people, for at most ``periods_max`` periods, marked as a
    demo amount where ``is_demo``."""
    text = _figure(t, amount=amount, low=low, high=high)
    template = (PER_EACH if each else PER).get(per)
    if template:
        text = t._(template, amount=text)
    if periods_max is not None and per == "month":
        text = t.ngettext("%(amount)s, for at most %(num)s month",
                          "%(amount)s, for at most %(num)s months", periods_max, amount=text)
    elif periods_max is not None and per == "year":
        text = t.ngettext("%(amount)s, for at most %(num)s year",
                          "%(amount)s, for at most %(num)s years", periods_max, amount=text)
    return t._(DEMO, amount=text) if is_demo else text


def _figure(t: Translator, *, amount: Decimal | int | None, low: Decimal | int | None,
            high: Decimal | int | None) -> str:
    if amount is not None:
        return t.money(amount)
    if low is None:
        raise ValueError("an amount or a range is needed")
    if high is None:
        return t._("from %(low)s", low=t.money(low))
    if not low:
        return t._("up to %(high)s", high=t.money(high))
    if low == high:
        return t.money(low)
    return t._("%(low)s to %(high)s", low=t.money(low), high=t.money(high))

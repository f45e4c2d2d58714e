"""URL converters of the whole app (pages, desk, API), and what a log line names of a request."""

from __future__ import annotations

import logging

from flask import request
from werkzeug.routing import Map
from werkzeug.routing.converters import IntegerConverter

logger = logging.getLogger(__name__)

# What a log line names for a path that no route matched: the raw path may hold anything.
UNMATCHED = "<no route>"

# Row ids are 32-bit signed integers on PostgreSQL; SQLite overflows past 64 bits.
ID_MAX = 2**31 - 1


class BoundedInt(IntegerConverter):
    """``<int:…>`` that matches no number past ID_MAX (or the rule's own ``max``): such a path
    is not found (404) instead of overflowing in the database's driver (a 500).

    The bound is in the regex, not only in ``to_python``: werkzeug answers a bare 404 when
    ``to_python`` refuses, while a regex that does not match lets the router go on to the next
    rule (the API's catch-all, which answers 404 in JSON)."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = ID_MAX, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
        if max is not None and not signed and not fixed_digits:
            self.regex = digits_up_to(max)


def digits_up_to(top: int) -> str:
    """A regex of the decimal numbers 0..top (shorter ones with leading zeros too)."""
    digits = str(top)
    options = [rf"\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for at, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - at - 1
            tail = rf"\d{{{rest}}}" if rest else ""
            options.append(f"{digits[:at]}[0-{int(digit) - 1}]{tail}")
    options.append(digits)
    return "(?:" + "|".join(options) + ")"


def route() -> str:
    """What a log line names of this request: its route's template (``/p/voucher/<token>``),
    never the path, which carries a page's token, nor the query (signatures, openids)."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED

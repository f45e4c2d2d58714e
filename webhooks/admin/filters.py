"""The desk's query filters, read one way on every page (dashboard, list, follow-up): a year
within the years the desk knows, numbers as short ASCII digits, choices among known values, codes
of things that exist. A bad value is answered 400 with a page in the user's language saying
which filter is wrong; it never falls back silently to a default."""

from __future__ import annotations

import enum
import logging
import re
from typing import TypeVar

from flask import Response, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from locales import N_
from webhooks.admin.auth import desk_message
from webhooks.admin.blueprint import bp

logger = logging.getLogger(__name__)

FIRST_YEAR, LAST_YEAR = 2000, 2100
# ASCII digits only ("²" and "٣" are digits to str.isdigit() but not to int()), and few of them
# (int() of thousands of digits is slow, and refused beyond 4,300).
NUMBER = re.compile(r"[0-9]{1,9}")
# A code is at most 40 characters (the columns' length) with no control character (PostgreSQL
# refuses a NUL in a query's text).
CODE = re.compile(r"[^\x00-\x1f\x7f]{1,40}")
CHECK = N_("Check the filter and try again.")

E = TypeVar("E", bound=enum.Enum)


class BadFilter(Exception):
    """A filter the page cannot use: ``words`` (a msgid) says which, ``hint`` (a msgid, with
    ``values`` for its placeholders) what would do."""

    def __init__(self, words: str, hint: str = CHECK, **values: object) -> None:
        super().__init__(words)
        self.words, self.hint, self.values = words, hint, values


@bp.errorhandler(BadFilter)
def _bad_filter(bad: BadFilter) -> Response:
    return desk_message(bad.words, bad.hint, status=400, **bad.values)


def _raw(name: str) -> str:
    return request.args.get(name, "").strip()


def number_arg(name: str, *, low: int, high: int, default: int | None = None,
               words: str = N_("A filter needs a number."),
               hint: str = N_("Give a whole number from %(low)s to %(high)s.")) -> int | None:
    """``?name=`` as a whole number from ``low`` to ``high``; ``default`` when absent or blank."""
    value = _raw(name)
    if not value:
        return default
    if not NUMBER.fullmatch(value) or not low <= int(value) <= high:
        raise BadFilter(words, hint, low=low, high=high)
    return int(value)


def year_arg(*, default: int | None) -> int | None:
    """``?year=``: from FIRST_YEAR to LAST_YEAR; ``default`` (this year, or None for all years)
    when absent or blank."""
    return number_arg("year", low=FIRST_YEAR, high=LAST_YEAR, default=default,
                      words=N_("The year is not valid."),
                      hint=N_("Give a year from %(low)s to %(high)s, in digits."))


def choice_arg(name: str, kind: type[E], *, default: E, words: str) -> E:
    """``?name=`` as one of the values of ``kind``."""
    value = _raw(name)
    if not value:
        return default
    try:
        return kind(value)
    except ValueError:
        raise BadFilter(words) from None


def code_arg(db: Session, model, name: str, *conditions, words: str) -> tuple[int, str] | None:
    """``?name=`` as the id and code of the ``model`` row with that code (and ``conditions``);
    None when absent or blank."""
    code = _raw(name)
    if not code:
        return None
    found = db.scalar(select(model.id).where(model.code == code, *conditions)) \
        if CODE.fullmatch(code) else None
    if found is None:
        raise BadFilter(words)
    return found, code

"""Babel catalogues, and the translator every channel speaks through.

Message ids are English; Chinese (``zh_Hans_CN``) is the default language of every person.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton, format_time
from babel.lists import format_list
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

from models.clock import LOCAL_TZ

logger = logging.getLogger(__name__)

CATALOGUES = Path(__file__).resolve().parent
DOMAIN = "messages"
MONEY_REMEMBERED = 1024  # amounts worded, per language, before the memo starts again


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@cache
def _catalogue(locale: str) -> NullTranslations:
    return Translations.load(str(CATALOGUES), [locale], DOMAIN)


class Translator:
    """Words, amounts and dates in one person's language."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._babel_locale = Locale.parse(locale)
        self._t = _catalogue(locale)
        self._money: dict[Decimal | int | str, str] = {}

    def _(self, message: str, **params: Any) -> str:
        text = self._t.gettext(message)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        text = self._t.ngettext(singular, plural, n)
        return text % {"num": n, **params}

    def money(self, amount: Decimal | int) -> str:
        # Babel takes a fifth of a millisecond an amount, and the same few amounts (¥60.00 a
        # day, ¥800.00…) are worded on every SUBSIDY answer: remembered per language.
        key = amount or str(amount)  # 0 and -0 are equal, and worded apart
        try:
            return self._money[key]
        except KeyError:
            text = format_currency(amount, "CNY", locale=self._babel_locale)
            if len(self._money) >= MONEY_REMEMBERED:
                self._money.clear()
            self._money[key] = text
            return text

    def day(self, value: date, fmt: str = "medium") -> str:
        return format_date(value, fmt, locale=self._babel_locale)

    def short_day(self, value: date) -> str:
        # "11月28日" / "Nov 28": the year is plain from context in a list of coming courses.
        return format_skeleton("MMMd", value, locale=self._babel_locale)

    def listing(self, items: list[str]) -> str:
        return format_list(items, locale=self._babel_locale)

    def clock(self, value) -> str:
        return format_time(value, "HH:mm", locale=self._babel_locale)

    def moment(self, value: datetime) -> str:
        return format_datetime(value.astimezone(LOCAL_TZ), "short", locale=self._babel_locale)


@cache
def translator(locale: str) -> Translator:
    # One per language and process: a Translator holds its language and the amounts it has
    # worded (the same for everyone), and making one (Locale.parse) cost each WeChat message 2%
    # of its CPU, twice.
    return Translator(locale)

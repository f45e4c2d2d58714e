"""Working days in China: Monday to Friday, less the public holidays, plus the official make-up
working days (调休上班), from models/data/holidays.yaml (the State Council's notices)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

HOLIDAYS_FILE = Path(__file__).resolve().parent / "data" / "holidays.yaml"


@dataclass(frozen=True)
class WorkCalendar:
    """``holidays`` and ``make_up_workdays`` map a date to its name; ``years`` are the years
    the data covers. Outside them only weekends are skipped."""

    years: frozenset[int]
    holidays: dict[date, str]
    make_up_workdays: dict[date, str]

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_workdays:
            return True
        if day in self.holidays:
            return False
        if day.year not in self.years:
            _warn_uncovered(day.year)
        return day.weekday() < 5


@cache
def _warn_uncovered(year: int) -> None:
    logger.warning("no holiday data for %s in holidays.yaml; counting weekends only", year)


@cache
def work_calendar() -> WorkCalendar:
    """Read once per process; a date listed twice, or in the wrong year, stops here."""
    with HOLIDAYS_FILE.open(encoding="utf-8") as f:
        return parse_calendar(yaml.safe_load(f))


def parse_calendar(data: dict) -> WorkCalendar:
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for year, entry in data["years"].items():
        for key, days in (("holidays", holidays), ("make_up_workdays", workdays)):
            for item in entry.get(key) or []:
                day = item["date"]
                if not isinstance(day, date) or day.year != int(year) or day in days:
                    raise ValueError(f"holidays.yaml: bad or repeated {key} entry {item}")
                days[day] = str(item["name"])
    if clash := set(holidays) & set(workdays):
        raise ValueError(f"holidays.yaml: both holiday and working day: {sorted(clash)}")
    return WorkCalendar(years=frozenset(int(y) for y in data["years"]), holidays=holidays,
                        make_up_workdays=workdays)


def add_working_days(day: date, n: int, calendar: WorkCalendar | None = None) -> date:
    """The n-th working day after ``day`` (before it when n is negative); ``day`` itself is
    not counted, so 10 working days from a Friday end on the second Friday after it."""
    calendar = calendar or work_calendar()
    step = timedelta(days=1 if n >= 0 else -1)
    left = abs(n)
    while left:
        day += step
        left -= calendar.is_working_day(day)
    return day


def working_days_between(a: date, b: date, calendar: WorkCalendar | None = None) -> int:
    """Working days after ``a`` up to and including ``b`` (negative when b is before a):
    ``working_days_between(d, add_working_days(d, n)) == n``."""
    calendar = calendar or work_calendar()
    if b < a:
        return -working_days_between(b, a, calendar)
    return sum(calendar.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))

"""A course in words, as the chat's course details and the class pages show it."""

from __future__ import annotations

import logging

from locales import Translator
from models.catalogue import Course

logger = logging.getLogger(__name__)


def class_times(t: Translator, course: Course) -> str:
    """The daily timetable, e.g. "08:30–12:30, 14:00–18:00" (the first day's, if they differ)."""
    if not course.sessions:
        return "—"
    first_day = course.sessions[0].day
    periods = [s for s in course.sessions if s.day == first_day]
    return t.listing([f"{t.clock(s.starts)}–{t.clock(s.ends)}" for s in periods])

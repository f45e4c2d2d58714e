"""Domain errors: data, not sentences. Each channel turns them into words in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code: str = "domain_error"

    def __init__(self, **data: Any) -> None:
        super().__init__(self.code)
        self.data = data


class NotFound(DomainError):
    code = "not_found"


class CourseNotFound(NotFound):
    code = "course_not_found"


class CourseRuleBroken(DomainError):
    """A course breaks a publishing rule of YN2021 二(七); ``rule`` names which."""

    code = "course_rule_broken"


class UnknownLocale(DomainError):
    code = "unknown_locale"

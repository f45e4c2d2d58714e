"""The language of a page or API request: the reader's Accept-Language, Chinese by default."""

from __future__ import annotations

import logging

from flask import request

from models.persons import DEFAULT_LOCALE

logger = logging.getLogger(__name__)


def request_locale() -> str:
    best = request.accept_languages.best_match(["zh", "en"], default="zh")
    return "en" if best == "en" else DEFAULT_LOCALE

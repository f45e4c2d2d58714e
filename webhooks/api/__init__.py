"""The mini-program's JSON API under ``/api/v1/``: the same domain operations as the bot, as
JSON, described by an OpenAPI 3.1 document generated from the code (spectree + pydantic)."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask

from webhooks.api import (  # noqa: F401
    cadre,
    docs,
    employers,
    errors,
    jobs,
    session,
    staff,
    trainee,
)
from webhooks.api.core import bp

logger = logging.getLogger(__name__)

# Everything else under /api/ answers JSON too (an unknown path, a wrong method).
fallback = Blueprint("api_fallback", __name__, url_prefix="/api")
fallback.add_url_rule("/<path:rest>", view_func=docs.not_here,
                      methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
errors.install(bp)
errors.install(fallback)


def register(app: Flask) -> None:
    """Attach the API to the app."""
    app.register_blueprint(bp)
    app.register_blueprint(fallback)

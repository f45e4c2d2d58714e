"""The bureau's desk under ``/admin/``: sign-in, targets and progress, ledgers and exports,
follow-up and employment, job openings. Every view checks the role of whoever is signed in."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The views register themselves on ``bp``; imported last because they import ``bp``.
from webhooks.admin import (  # noqa: E402, F401
    auth,
    dashboard,
    employers,
    exports,
    filters,
    followups,
    jobs,
    outbox,
    oversight,
)

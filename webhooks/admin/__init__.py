"""The bureau's desk under ``/admin/``: sign-in, targets and progress, ledgers and exports,
follow-up and employment, job openings. Every view checks the role of whoever is signed in."""

# The views register themselves on ``bp`` (webhooks/admin/blueprint.py) when imported.
import logging

from webhooks.admin import (  # noqa: F401
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
from webhooks.admin.blueprint import bp

logger = logging.getLogger(__name__)

__all__ = ["bp"]

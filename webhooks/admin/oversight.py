"""The desk's oversight of attendance: per class, the share of marks made by hand (a warning sign
of 代签) beside the flags on where people checked in from (positions on the class's own point,
many scans from one spot within seconds, no position where the course needs one) and the staff's
headcount against the scans; below, each flagged session with its course and day. For the
bureau's roles only: institutions are the ones being checked."""

from __future__ import annotations

import logging

from flask import Response

from locales import N_
from models.attendance import PROXY_SIGNING_SHARE
from models.basis import cite
from models.desk import DeskRole
from models.presence import (
    AT_CLASS_POINT_DEG,
    BURST_CELL_DEG,
    BURST_SECONDS,
    BURST_SIZE,
    OVERSIGHT_DAYS,
    OVERSIGHT_DAYS_MAX,
    SESSIONS_SHOWN,
    presence_oversight,
)
from runtime.services import current
from webhooks.admin.auth import desk_page, require_role
from webhooks.admin.blueprint import bp
from webhooks.admin.filters import number_arg

logger = logging.getLogger(__name__)

# Degrees of latitude to metres, for the page's explanation of the thresholds.
METRES_PER_DEGREE = 111_320


@bp.get("/oversight")
@require_role(DeskRole.ADMIN, DeskRole.INSPECTOR)
def oversight() -> Response:
    """``?days=`` (1–366, default 14): the sessions of the last so many days, today included."""
    services = current()
    days = number_arg("days", low=1, high=OVERSIGHT_DAYS_MAX, default=OVERSIGHT_DAYS,
                      words=N_("The number of days is not valid."))
    with services.sessions.begin() as db:
        result = presence_oversight(db, today=services.clock.today(), days=days)
    return desk_page(
        "admin/oversight.html", result=result, days=days, proxy_share=PROXY_SIGNING_SHARE,
        burst_size=BURST_SIZE, burst_seconds=BURST_SECONDS, shown=SESSIONS_SHOWN,
        point_m=round(AT_CLASS_POINT_DEG * METRES_PER_DEGREE),
        cell_m=round(BURST_CELL_DEG * METRES_PER_DEGREE), percent=_percent,
        basis=cite("check_in_in_person"))


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"

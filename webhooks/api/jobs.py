"""Job openings for the trainee (the county's rule job_push, on the model of DX2020 三(五)):
those matching them first, then the newest."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from models.jobs import openings_for
from runtime.services import current
from webhooks.api.core import AUTH, bp, caller, ok, run, spec, words
from webhooks.api.schemas import JobList, answers

logger = logging.getLogger(__name__)

# The chat lists a few; a screen can show more.
LIMIT = 50


@bp.get("/jobs")
@spec.validate(resp=answers(200, JobList, 401), tags=("jobs",), security=AUTH)
def jobs():
    """Current job openings posted by the bureau, the ones matching the caller (trained for
    it, or where they want to work) first."""
    who = caller()
    t, today = words(), current().clock.today()

    def act(db: Session) -> dict[str, Any]:
        listed = openings_for(db, person_id=who.person_id, today=today, limit=LIMIT)
        return {"openings": [{
            "id": row.opening.id, "employer": row.opening.employer,
            "occupation": row.opening.occupation, "place": row.opening.where(t.locale),
            "wage": row.opening.wage, "contact": row.opening.contact,
            "valid_until": row.opening.valid_until.isoformat(), "is_match": row.is_match,
        } for row in listed]}

    return ok(run(act))

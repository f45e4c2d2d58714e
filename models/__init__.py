"""State, and every rule that changes it. Importing this package defines the tables and
connects to nothing."""

import logging

from models import (  # noqa: F401
    attendance,
    audit,
    cadres,
    catalogue,
    claims,
    desk,
    displays,
    export_jobs,
    followups,
    invitations,
    jobs,
    miniprogram,
    outbox,
    paper,
    persons,
    presence,
    progress,
    regions,
    staff,
    targets,
    vouchers,
)
from models.base import Base

logger = logging.getLogger(__name__)

metadata = Base.metadata

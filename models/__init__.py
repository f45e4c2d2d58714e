"""State, and every rule that changes it. Importing this package defines the tables and
connects to nothing."""

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

metadata = Base.metadata

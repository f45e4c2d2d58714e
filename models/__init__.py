"""State, and every rule that changes it. Importing this package defines the tables and
connects to nothing."""

from models import audit, cadres, catalogue, outbox, persons, regions, targets  # noqa: F401
from models.base import Base

metadata = Base.metadata

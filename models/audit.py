"""The audit log: who changed what, when, from which channel, before and after."""

from __future__ import annotations

import enum
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, enum_column

logger = logging.getLogger(__name__)


class Channel(enum.StrEnum):
    WECHAT = "wechat"
    API = "api"
    PAGE = "page"
    CLI = "cli"
    WORKER = "worker"


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    # Who acted at the bureau's web desk (desk users are not persons).
    desk_user_id: Mapped[int | None] = mapped_column(ForeignKey("desk_users.id"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[int | None]
    # Field values as they were and became; personal data goes in masked, never raw.
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]


def audit(
    db: Session,
    *,
    actor_id: int | None,
    channel: Channel,
    action: str,
    target: Base,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
    desk_user_id: int | None = None,
) -> AuditEntry:
    db.flush()  # the target needs its id
    values = {"at": at or datetime.now(UTC), "actor_id": actor_id, "desk_user_id": desk_user_id,
              "channel": channel, "action": action, "target_type": target.__tablename__,
              "target_id": getattr(target, "id", None), "before": before, "after": after}
    # Written at once, as a row: the log is only ever appended to, and the unit of work's
    # bookkeeping for one new object cost a check-in scan a tenth of its CPU (issue 19).
    entry = AuditEntry(id=db.connection().execute(_APPEND, values).scalar_one(), **values)
    logger.debug("audit %s %s#%s by %s via %s", action, entry.target_type, entry.target_id,
                 actor_id, channel.value)
    return entry


_APPEND = insert(AuditEntry.__table__).returning(AuditEntry.__table__.c.id)

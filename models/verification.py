"""The bureau verifies (or rejects) the groups people declared, with the document it saw; a
provisional subsidy answer then becomes final, and the person is told."""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Channel, audit
from models.errors import NotRegistered
from models.identity import parse_id_number
from models.outbox import enqueue
from models.persons import Group, GroupStatus, HouseholdKind, Person, PersonGroup
from models.pii import Vault

logger = logging.getLogger(__name__)


def decide_group(db: Session, *, vault: Vault, id_number: str, group: Group, is_verified: bool,
                 document: str, decided_by: int | None, channel: Channel, now: datetime,
                 today: date, household_kind: HouseholdKind | None = None) -> Person:
    """Record the bureau's decision on one of a person's groups, found by the ID number on
    the card the clerk holds; with ``household_kind``, also the kind of household the clerk
    read in the household register (户口本), which replaces what the person said."""
    facts = parse_id_number(id_number, today=today)
    person = db.scalar(select(Person).where(Person.id_hash == vault.digest(facts.number)))
    if person is None or not person.is_registered:
        raise NotRegistered()
    row = next((g for g in person.groups if g.group is group), None)
    before = {"group": group.value, "status": row.status.value if row else None}
    if row is None:
        row = PersonGroup(group=group, status=GroupStatus.SELF_DECLARED, declared_at=now)
        person.groups.append(row)
    row.status = GroupStatus.VERIFIED if is_verified else GroupStatus.REJECTED
    row.decided_by_id, row.decided_at, row.document = decided_by, now, document[:120]
    after = {"group": group.value, "status": row.status.value, "document": row.document}
    if household_kind is not None:
        before["household_kind"] = person.household_kind.value if person.household_kind else None
        person.household_kind, after["household_kind"] = household_kind, household_kind.value
    audit(db, actor_id=decided_by, channel=channel, action="group.decide", target=person,
          before=before, after=after, at=now)
    enqueue(db, person=person, reason=f"group.decided:{person.id}:{group.value}:{now.isoformat()}",
            now=now, notice="group_verified" if is_verified else "group_rejected",
            params={"group": group.value})
    return person

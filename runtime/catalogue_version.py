"""The course list's version in Redis: bumped after every commit that changed what the list
or a course's details show (a course published, edited or closed, its sessions, its
institution; a voucher taken or its seat freed). The callback reads it with its first Redis
round trip (webhooks.dedup.admit) and keys the answers it shares per process with it
(bot.courses), so a change is in the very next 课程 reply of every process, not 5 s later."""

from __future__ import annotations

import logging

from redis import Redis, RedisError
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from models.catalogue import Category, ClassSession, Course, Institution
from models.regions import Region
from models.vouchers import Voucher

logger = logging.getLogger(__name__)

KEY = "peixun:courses:version"
# What the list and the details are made of (a township's place orders the list): any
# change to one of these counts.
SHOWN = (Course, ClassSession, Institution, Category, Region)
_CHANGED = "peixun.courses_changed"


def _changes_list(obj: object, *, is_new: bool) -> bool:
    if isinstance(obj, SHOWN):
        return True
    if isinstance(obj, Voucher):
        # A new voucher takes a seat; a change of status may free it (or take it again).
        return is_new or inspect(obj).attrs.status.history.has_changes()
    return False


def watch(sessions: sessionmaker, kv: Redis) -> None:
    """Bump KEY after each commit of ``sessions`` that changed the courses shown."""

    @event.listens_for(sessions, "before_flush")
    def _note_changes(db: Session, _context, _instances) -> None:
        if db.info.get(_CHANGED):
            return
        # A deleted voucher frees its seat whatever its status: deletions count as new ones.
        if any(_changes_list(o, is_new=True) for o in (*db.new, *db.deleted)) or any(
                _changes_list(o, is_new=False) for o in db.dirty):
            db.info[_CHANGED] = True

    @event.listens_for(sessions, "do_orm_execute")
    def _note_bulk(state) -> None:
        # update()/delete() statements (the worker's expiries) pass by the flush.
        if (state.is_update or state.is_delete) and state.bind_mapper is not None \
                and state.bind_mapper.class_ in (*SHOWN, Voucher):
            state.session.info[_CHANGED] = True

    @event.listens_for(sessions, "after_commit")
    def _bump(db: Session) -> None:
        if db.info.pop(_CHANGED, False):
            bump(kv)

    @event.listens_for(sessions, "after_rollback")
    def _forget(db: Session) -> None:
        db.info.pop(_CHANGED, None)


def bump(kv: Redis) -> None:
    try:
        kv.incr(KEY)
    except RedisError:
        # Without Redis the shared answers still run out after runtime.services.SHARED_SECONDS.
        logger.warning("course list version not bumped: Redis unavailable")

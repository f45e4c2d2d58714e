"""Counts kept in this process, for when Redis (which keeps them for every process) is lost.

A limit that Redis counts (a sender's messages a minute, binding-code guesses a day, sign-in
failures, API calls) is not switched off when Redis goes away: the same limit is counted here,
per process, until Redis is back. The log says so once per outage, not once per request.
"""

from __future__ import annotations

import logging
import threading

from limits.storage import MemoryStorage
from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

_storage = MemoryStorage()
_lost: set[str] = set()
_lock = threading.Lock()


def one_more(kv: Redis, key: str, seconds: int, what: str) -> int:
    """One more try of ``what`` under ``key``, counted in Redis for ``seconds`` (in this process
    while Redis is lost, never unlimited): the count, this one included."""
    try:
        tries = kv.incr(key)
        kv.expire(key, seconds)
    except RedisError:
        lost(what)
        return count(key, seconds)
    back(what)
    return tries


def count(key: str, seconds: int) -> int:
    """One more for ``key`` in its current window of ``seconds``: the count, this one included,
    in this process."""
    return _storage.incr(key, seconds)


def lost(what: str) -> None:
    """Redis failed ``what``: warn, once until it is back (see back)."""
    with _lock:
        first = what not in _lost
        _lost.add(what)
    if first:
        logger.warning("%s: Redis unavailable; counted in this process until it is back", what)


def back(what: str) -> None:
    """Redis served ``what`` again: the next outage is warned about again."""
    if what not in _lost:  # the common case, without the lock
        return
    with _lock:
        was_lost = what in _lost
        _lost.discard(what)
    if was_lost:
        logger.info("%s: Redis is back; counted there again", what)

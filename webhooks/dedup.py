"""WeChat retries a message it got no answer to (after 5 s, three times). The first delivery is
acted on; a retry gets the same answer again and changes nothing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from redis import Redis, RedisError
from redis.commands.core import Script

from runtime import catalogue_version, local_counts
from runtime.scripts import Scripts

logger = logging.getLogger(__name__)

PENDING = "…"
# What admit asks Redis, by name in the log when Redis is lost.
ADMIT_COUNT = "message de-duplication and rate"
# What the nonce key of WeChat's GET check holds: never a message's key, so a POST carrying the
# check's signed query is a replay (see _ADMIT).
CHECKED = "peixun:check"
# The answer kept for retries when the first delivery's went through the outbox (as JSON).
EMPTY_ANSWER = json.dumps("")


def nonce_key(timestamp: str, nonce: str) -> str:
    """The key of a signed query (timestamp and nonce): it carries one request only."""
    return f"peixun:nonce:{timestamp}:{nonce}"


def message_key(raw: dict) -> str:
    """MsgId for messages; for events, which have none, the sender and time as WeChat advises,
    plus the event and what was scanned: two different scans are never one retried event."""
    if raw.get("MsgId"):
        return f"peixun:seen:{raw['MsgId']}"
    scanned = (raw.get("ScanCodeInfo") or {}).get("ScanResult", "") if isinstance(
        raw.get("ScanCodeInfo"), dict) else ""
    parts = (raw.get("FromUserName", ""), raw.get("CreateTime", ""), raw.get("Event", ""),
             raw.get("EventKey", ""), hashlib.sha1(str(scanned).encode()).hexdigest()[:16])
    return "peixun:seen:" + ":".join(str(p) for p in parts)


# Everything a message first asks Redis, in one round trip and atomically: is the signed query
# carrying this message (a replay that swaps the body under a captured query is refused), is
# this the first delivery (WeChat retries get the first one's answer), is the sender within
# their rate (only first deliveries count), and what were they last shown.
# The first delivery's mark ("in progress") lives only ARGV[4] seconds: it is renewed while
# the work runs (pending), so a process that dies leaves no mark to swallow WeChat's retries.
# It also reads the course list's version (runtime.catalogue_version), which keys the answers
# shared per process: a course change shows in the very next reply, at no extra round trip.
# KEYS: nonce, seen, rate, state, course list version. ARGV: de-duplication seconds, rate
# window seconds, PENDING, in-progress seconds.
_ADMIT = Script(None, b"""
if not redis.call('SET', KEYS[1], KEYS[2], 'NX', 'EX', ARGV[1])
    and redis.call('GET', KEYS[1]) ~= KEYS[2] then
  return {'replay', 0, false}
end
if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[4]) then
  return {'retry', 0, false}
end
local hits = redis.call('INCR', KEYS[3])
if hits == 1 then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
return {'first', hits, redis.call('GET', KEYS[4]), redis.call('GET', KEYS[5])}
""")  # the script's text as bytes: its digest needs no client


@dataclass(frozen=True)
class Admission:
    verdict: str  # "first", "retry" or "replay"
    # This sender's first deliveries in the current rate window, this one included.
    hits: int = 1
    # The stored conversation state (bot.state), on a first delivery.
    state: str | None = None
    # The course list's version (runtime.catalogue_version), on a first delivery.
    courses_version: str | None = None


def admit(scripts: Scripts, *, key: str, timestamp: str, nonce: str, rate_key: str,
          rate_seconds: int, state_key: str, ttl_seconds: int,
          pending_seconds: int, processes: int = 1,
          version_key: str = catalogue_version.KEY) -> Admission:
    """What Redis says about a message before it is acted on (see _ADMIT), in one round trip.
    Without Redis the message is acted on: the timestamp window still bounds a replay, and the
    sender's rate is counted in this process (bot.local_counts), never unlimited: each of the
    ``processes`` allows its share of the limit, so together they allow no more than Redis."""
    try:
        verdict, hits, state, *version = scripts.run(
            _ADMIT, [nonce_key(timestamp, nonce), key, rate_key, state_key, version_key],
            [ttl_seconds, rate_seconds, PENDING, pending_seconds])
    except RedisError:
        local_counts.lost(ADMIT_COUNT)
        return Admission("first", hits=local_counts.count(rate_key, rate_seconds) * processes)
    local_counts.back(ADMIT_COUNT)
    return Admission(verdict, hits=int(hits), state=state or None,
                     courses_version=version[0] if version and version[0] else None)


# Extends the in-progress mark, and only that: once the answer is kept, it keeps its own TTL.
# KEYS: seen. ARGV: PENDING, in-progress seconds.
_RENEW = Script(None, b"""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
""")


class Renewer:
    """Renews the in-progress marks of this process's first deliveries while their work runs
    (every third of a mark's life), so a slow but living first delivery keeps its retries from
    acting twice; when its work ends, or the process dies, its mark runs out. One thread a
    process while deliveries are at work, where a thread a message cost as much CPU as the
    Redis calls of the message itself; it stops when it finds nothing at work, so an idle
    process (or an app made and dropped, as tests do) keeps no thread."""

    def __init__(self, kv: Redis, seconds: int) -> None:
        self.kv = kv
        self.seconds = seconds
        self._keys: dict[str, int] = {}  # key -> deliveries at work under it in this process
        self._lock = threading.Lock()
        self._running_in: int | None = None  # the process whose thread renews, if one does
        self.thread: threading.Thread | None = None

    @contextmanager
    def pending(self, key: str) -> Iterator[None]:
        with self._lock:
            # None runs here: first use, a forked child (a fork has no threads), or it stopped.
            if self._running_in != os.getpid():
                self._running_in = os.getpid()
                self.thread = threading.Thread(target=self._run, name="dedup-renew",
                                               daemon=True)
                self.thread.start()
            self._keys[key] = self._keys.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                if self._keys[key] == 1:
                    del self._keys[key]
                else:
                    self._keys[key] -= 1

    def _run(self) -> None:
        while True:
            time.sleep(self.seconds / 3)
            with self._lock:
                keys = list(self._keys)
                if not keys:
                    self._running_in = None  # the next delivery starts another
                    return
            # A mark admitted since the last round is renewed early, which does no harm; none
            # waits longer than a third of its life.
            for key in keys:
                try:
                    _RENEW(keys=[key], args=[PENDING, self.seconds], client=self.kv)
                except RedisError:
                    logger.warning("dedup unavailable; in-progress mark not renewed")
                except Exception:
                    # Anything else must not end the thread: pending() would start no other,
                    # and this process's slow turns would lose their marks to WeChat's retries.
                    logger.exception("in-progress mark not renewed")


def spend_check(kv: Redis, *, timestamp: str, nonce: str, ttl_seconds: int) -> bool:
    """WeChat's GET check spends its signed query: False when a message already carried it.
    In plain mode a message's signature covers only the query, so a check's query that stayed
    unspent could carry any body from any sender. Without Redis the check passes."""
    key = nonce_key(timestamp, nonce)
    try:
        with kv.pipeline(transaction=False) as pipe:
            pipe.set(key, CHECKED, nx=True, ex=ttl_seconds)
            pipe.get(key)
            _, held = pipe.execute()
    except RedisError:
        logger.warning("dedup unavailable; check query not spent")
        return True
    return held == CHECKED


def late_key(key: str) -> str:
    """Set when a retry found the first delivery still at work and answered WeChat empty: the
    first delivery's answer must then go as a customer message (see keep)."""
    return "peixun:late:" + key.removeprefix("peixun:seen:")


# The first delivery's answer, kept for its retries; or, when it came too late to be WeChat's
# reply (too slow, or a retry already answered empty: KEYS[2]), kept as the empty answer, for
# the answer goes through the outbox. Atomic with _GIVE_UP: a retry either reads the answer
# or marks it late, never neither. The conversation state the turn changed is written with it
# (ARGV[5], unless empty), so a message costs one round trip after its work.
# KEYS: seen, late, state. ARGV: the answer (JSON), seconds kept, "1" when too slow, "" as
# JSON, the state or "", the state's seconds.
_KEEP = Script(None, b"""
if ARGV[5] ~= '' then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[6]) end
if ARGV[3] == '1' or redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[2])
  return 1
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 0
""")

# A retry that waited in vain: if the first delivery is still at work, mark its answer late
# and answer empty (ARGV[3]); else whatever is kept (the answer, or nil when the mark ran out).
# KEYS: seen, late. ARGV: PENDING, seconds kept, "" as JSON.
_GIVE_UP = Script(None, b"""
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
  return ARGV[3]
end
return held
""")


def keep(scripts: Scripts, key: str, answer: str, ttl_seconds: int, *,
         state: tuple[str, str, int] | None = None, slow: bool = False) -> bool:
    """Keep the first delivery's answer for its retries, and the conversation state the turn
    changed (``state``: its key, its text, its seconds), in one round trip (one EVALSHA: a
    script in a pipeline costs redis-py a SCRIPT EXISTS round trip each time). True when the
    answer came too late to be WeChat's reply (``slow``, or a retry was answered empty
    meanwhile): the caller sends it another way; retries then get the empty answer."""
    state_key, state_text, state_seconds = state or ("", "", 0)
    try:
        return bool(scripts.run(_KEEP, [key, late_key(key), state_key or late_key(key)],
                                [json.dumps(answer), ttl_seconds, "1" if slow else "",
                                 EMPTY_ANSWER, state_text, state_seconds]))
    except RedisError:
        logger.warning("dedup unavailable; answer not kept")
        return slow


def earlier_answer(kv: Redis, key: str, wait_seconds: float = 4.0,
                   ttl_seconds: int = 300) -> str | None:
    """A retry's answer: the first delivery's. When it is not ready in time, the empty answer
    (WeChat's "success"), and the first delivery is told to send its answer later (late_key).
    None when the first delivery's in-progress mark ran out with no answer kept: the process
    that held it died, and this delivery must act (admit it again)."""
    # The first delivery may still be at work: wait for its answer, within WeChat's 5 s.
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            stored = kv.get(key)
            if stored is None:
                return None
            if stored == PENDING and time.monotonic() >= deadline:
                stored = _GIVE_UP(keys=[key, late_key(key)],
                                  args=[PENDING, ttl_seconds, EMPTY_ANSWER], client=kv)
                return None if stored is None else json.loads(stored)
        except RedisError:
            return ""
        if stored != PENDING:
            return json.loads(stored)
        time.sleep(0.05)

"""WeChat retries a message it got no answer to (after 5 s, three times). The first delivery is
acted on; a retry gets the same answer again and changes nothing."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from redis import Redis, RedisError
from redis.commands.core import Script

logger = logging.getLogger(__name__)

PENDING = "…"
# What the nonce key of WeChat's GET check holds: never a message's key, so a POST carrying the
# check's signed query is a replay (see _ADMIT).
CHECKED = "peixun:check"


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
# KEYS: nonce, seen, rate, state. ARGV: de-duplication seconds, rate window seconds, PENDING,
# in-progress seconds.
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
return {'first', hits, redis.call('GET', KEYS[4])}
""")  # the script's text as bytes: its digest needs no client


@dataclass(frozen=True)
class Admission:
    verdict: str  # "first", "retry" or "replay"
    # This sender's first deliveries in the current rate window, this one included.
    hits: int = 1
    # The stored conversation state (bot.state), on a first delivery.
    state: str | None = None


def admit(kv: Redis, *, key: str, timestamp: str, nonce: str, rate_key: str,
          rate_seconds: int, state_key: str, ttl_seconds: int,
          pending_seconds: int) -> Admission:
    """What Redis says about a message before it is acted on (see _ADMIT), in one round trip.
    Without Redis the message is acted on: the timestamp window still bounds a replay."""
    try:
        verdict, hits, state = _ADMIT(
            keys=[nonce_key(timestamp, nonce), key, rate_key, state_key],
            args=[ttl_seconds, rate_seconds, PENDING, pending_seconds], client=kv)
    except RedisError:
        logger.warning("dedup unavailable; acting without it")
        return Admission("first", hits=0)
    return Admission(verdict, hits=int(hits), state=state or None)


# Extends the in-progress mark, and only that: once the answer is kept, it keeps its own TTL.
# KEYS: seen. ARGV: PENDING, in-progress seconds.
_RENEW = Script(None, b"""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
""")


@contextmanager
def pending(kv: Redis, key: str, seconds: int) -> Iterator[None]:
    """While the block runs, the first delivery's in-progress mark is renewed (every third of
    its life, from a thread beside the request), so a slow but living first delivery keeps its
    retries from acting twice; when the block ends, or the process dies, renewal stops."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(seconds / 3):
            try:
                _RENEW(keys=[key], args=[PENDING, seconds], client=kv)
            except RedisError:
                logger.warning("dedup unavailable; in-progress mark not renewed")

    renewer = threading.Thread(target=renew, name="dedup-renew", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()


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


def keep(kv: Redis, key: str, answer: str, ttl_seconds: int,
         also: Callable[[Redis], None] = lambda _pipe: None) -> None:
    """Keep the first delivery's answer for its retries, and whatever else ``also`` writes to
    the pipeline it gets (the conversation state), in one round trip."""
    try:
        with kv.pipeline(transaction=False) as pipe:
            also(pipe)
            pipe.set(key, json.dumps(answer), ex=ttl_seconds)
            pipe.execute()
    except RedisError:
        logger.warning("dedup unavailable; answer not kept")


def earlier_answer(kv: Redis, key: str, wait_seconds: float = 4.0) -> str:
    """A retry's answer: the first delivery's."""
    # The first delivery may still be at work: wait for its answer, within WeChat's 5 s.
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            stored = kv.get(key)
        except RedisError:
            return ""
        if stored and stored != PENDING:
            return json.loads(stored)
        if time.monotonic() >= deadline:
            return ""
        time.sleep(0.05)

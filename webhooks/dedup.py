"""WeChat retries a message it got no answer to (after 5 s, three times). The first delivery is
acted on; a retry gets the same answer again and changes nothing."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable

from redis import Redis, RedisError

logger = logging.getLogger(__name__)

PENDING = "…"


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


def once(kv: Redis, key: str, ttl_seconds: int, act: Callable[[], str],
         wait_seconds: float = 4.0) -> str:
    """Run ``act`` for the first delivery of ``key``; later deliveries get its answer."""
    try:
        first = kv.set(key, PENDING, nx=True, ex=ttl_seconds)
    except RedisError:
        logger.warning("dedup unavailable; acting without it")
        return act()
    if first:
        answer = act()
        try:
            kv.set(key, json.dumps(answer), ex=ttl_seconds)
        except RedisError:
            logger.warning("dedup unavailable; answer not kept")
        return answer
    return _earlier_answer(kv, key, wait_seconds)


def _earlier_answer(kv: Redis, key: str, wait_seconds: float) -> str:
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


def nonce_fits(kv: Redis, timestamp: str, nonce: str, key: str, ttl_seconds: int) -> bool:
    """One signed query carries one message: WeChat's retries repeat both, a replay that
    swaps the body (plain mode signs only the query) does not."""
    try:
        kv.set(f"peixun:nonce:{timestamp}:{nonce}", key, nx=True, ex=ttl_seconds)
        return kv.get(f"peixun:nonce:{timestamp}:{nonce}") == key
    except RedisError:
        return True  # Redis lost: the timestamp window still bounds a replay

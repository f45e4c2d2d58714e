"""What every request and the worker share: configuration, the database, Redis, the clock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import fakeredis
from cachetools import TTLCache
from flask import current_app
from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter
from limits.util import WindowStats
from redis import Redis, RedisError
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from models.attendance import CHECKIN_CODE_SECONDS
from models.base import make_engine, make_replica_engine, make_sessionmaker
from models.clock import Clock
from models.codes import RotatingCode
from models.direct import DirectReads
from models.pii import Vault
from models.vouchers import CODE_PERIOD_SECONDS
from runtime import catalogue_version, local_counts
from runtime.config import Config
from runtime.scripts import Scripts

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How stale a shared answer may be: seats left on a course list lag a claim by at most this.
SHARED_SECONDS = 5


class SharedAnswers(TTLCache):
    """A TTL cache that threads of one process may share (Flask's threaded server)."""

    def __init__(self, maxsize: int, ttl: float) -> None:
        super().__init__(maxsize=maxsize, ttl=ttl)
        self._lock = threading.RLock()

    def __getitem__(self, key):
        with self._lock:
            return super().__getitem__(key)

    def __setitem__(self, key, value) -> None:
        with self._lock:
            super().__setitem__(key, value)


# What the limiter's Redis raises when it is gone (redis-py's errors, or the socket's).
STORAGE_ERRORS = (RedisError, ConnectionError, TimeoutError, OSError, StorageError)


class Limiter:
    """limits' fixed-window limiter on Redis, one count for every process; with Redis lost, the
    same limits counted in this process (stricter than none), warned once per outage."""

    COUNT = "rate limits (sign-in, API)"

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._shared = FixedWindowRateLimiter(storage)
        self._local = FixedWindowRateLimiter(MemoryStorage())

    def _either(self, call: Callable[[FixedWindowRateLimiter], T]) -> T:
        try:
            result = call(self._shared)
        except STORAGE_ERRORS:
            local_counts.lost(self.COUNT)
            return call(self._local)
        local_counts.back(self.COUNT)
        return result

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._either(lambda limiter: limiter.hit(item, *identifiers, cost=cost))

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._either(lambda limiter: limiter.test(item, *identifiers, cost=cost))

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return self._either(lambda limiter: limiter.get_window_stats(item, *identifiers))


@dataclass
class Services:
    config: Config
    engine: Engine
    sessions: sessionmaker
    kv: Redis
    clock: Clock
    limiter: Limiter
    vault: Vault
    voucher_codes: RotatingCode
    class_codes: RotatingCode
    # Read-mostly answers shared by everyone for a few seconds (the course list), per process.
    shared: SharedAnswers
    # The heavy reads' sessions (dashboard, lists, export files): the replica's when
    # DATABASE_REPLICA_URL is set, else the same as ``sessions``. Never write through them.
    read_sessions: sessionmaker | None = None
    # The sender's read on every message (models.direct): on the sessions' own bind.
    direct: DirectReads | None = None
    # The callback's Redis scripts on every message (runtime.scripts): on ``kv``'s server.
    scripts: Scripts | None = None

    def __post_init__(self) -> None:
        if self.read_sessions is None:
            self.read_sessions = self.sessions
        if self.direct is None:
            self.direct = DirectReads(self.sessions.kw.get("bind") or self.engine)
        if self.scripts is None:
            self.scripts = Scripts(self.kv)


def build_services(config: Config, *, engine: Engine | None = None,
                   sessions: sessionmaker | None = None, kv: Redis | None = None,
                   clock: Clock | None = None) -> Services:
    engine = engine or make_engine(config.database_url)
    kv = kv or make_kv(config.redis_url)
    sessions = sessions or make_sessionmaker(engine)
    catalogue_version.watch(sessions, kv)  # a course change is in the next 课程 reply
    return Services(
        config=config,
        engine=engine,
        sessions=sessions,
        kv=kv,
        clock=clock or Clock(),
        limiter=Limiter(_limit_storage(config.redis_url)),
        vault=Vault(config.data_key),
        voucher_codes=RotatingCode(config.secret_key, prefix="PXV",
                                   period_seconds=CODE_PERIOD_SECONDS),
        class_codes=RotatingCode(config.secret_key, prefix="PXC",
                                 period_seconds=CHECKIN_CODE_SECONDS),
        shared=SharedAnswers(maxsize=512, ttl=SHARED_SECONDS),
        read_sessions=(make_sessionmaker(make_replica_engine(config.database_replica_url))
                       if config.database_replica_url else None),
    )


def make_kv(redis_url: str | None) -> Redis:
    if not redis_url:
        # The in-process stand-in: enough for one process (a county's single server or a test).
        return fakeredis.FakeRedis(decode_responses=True)
    # Short timeouts and no retries: a Redis that is down or hangs must not hold a WeChat
    # reply past 5 s; everything kept there may be lost, so the bot carries on without it.
    return Redis.from_url(redis_url, decode_responses=True, socket_timeout=0.5,
                          socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))


def _limit_storage(redis_url: str | None) -> Storage:
    if not redis_url:
        return MemoryStorage()
    return RedisStorage(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5,
                        retry=Retry(NoBackoff(), 0))


def current() -> Services:
    return current_app.extensions["peixun"]

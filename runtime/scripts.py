"""The callback's two Lua scripts (webhooks.dedup: admit before the turn, keep after it) on a
Redis connection each thread keeps, without redis-py's client around each call.

Every WeChat message runs both. Through the client a call cost 94 µs of CPU, here 36 (issue
19, BENCHMARKS.md "Round 6", the best of many batches): the client's wrappers (Script's
per-call imports, evalsha's deprecation check, the retry wrapper, the pool's lock and its
metrics) and its packing of each argument in Python were more than the command's own work.
What the client does for a call that matters is done here too: the pool checks the connection
as it checks one it hands out (ensure_connection: one the server closed, after a restart, is
opened again before the command is sent, never after), a failed call drops its connection
so that no half-read reply is the next call's, and a script the server forgot (NOSCRIPT: a
restart, a SCRIPT FLUSH) is loaded and run once more. A call is never sent twice (admit's
nonce would read as a replay). Any other client (the in-process fakeredis of development
and tests) runs the scripts through redis-py as before."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from hiredis import pack_command
from redis import Redis
from redis.commands.core import Script
from redis.connection import AbstractConnection
from redis.exceptions import DataError, NoScriptError, ResponseError

logger = logging.getLogger(__name__)


class Scripts:
    """Runs Lua scripts by their digest on a connection this thread keeps, made with the
    client's own settings (its address, timeouts, decoding)."""

    def __init__(self, kv: Redis) -> None:
        self._kv = kv
        pool = kv.connection_pool
        # Only redis-py's own sockets; a stand-in (fakeredis) keeps its client's road.
        self._is_direct = (issubclass(pool.connection_class, AbstractConnection)
                           and pool.connection_class.__module__.startswith("redis."))
        self._local = threading.local()

    def run(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply, as ``script(keys=keys, args=args, client=kv)`` gives it; raises
        RedisError (redis-py's) when Redis cannot be reached or fails."""
        if not self._is_direct:
            return script(keys=keys, args=args, client=self._kv)
        command = _packed(("EVALSHA", script.sha, len(keys), *keys, *args))
        connection = self._ready()
        try:
            try:
                return self._call(connection, command)
            except NoScriptError:
                logger.info("Redis no longer had a script (restarted or flushed): loaded again")
                self._call(connection, _packed(("SCRIPT", "LOAD", script.script)))
                return self._call(connection, command)
        except ResponseError:
            raise  # the script failed; its reply was read whole and the connection is sound
        except BaseException:
            # redis-py drops the connection itself on a timeout or a socket error; anything
            # else that cuts a call short (a signal mid-reply) must too, or the rest of this
            # reply would be read as the next call's.
            connection.disconnect()
            raise

    @staticmethod
    def _call(connection: AbstractConnection, command: bytes) -> Any:
        connection.send_packed_command([command], check_health=False)
        return connection.read_response()

    def _ready(self) -> AbstractConnection:
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            # First use in this thread, or in a forked child: the parent's socket is not ours
            # (redis-py's disconnect leaves another process's socket open for it). Made with
            # the pool's settings but outside its count: the pool would never get it back, and
            # a thread a request (the development server) would use up its 100 for good. A
            # thread's connection closes when the thread ends (redis-py's __del__).
            pool = self._kv.connection_pool
            connection = pool.connection_class(**pool.connection_kwargs)
            local.connection, local.pid = connection, os.getpid()
        # The pool's own check of a connection it hands out: connected, and nothing to read on
        # it while idle (the server closed it, after a restart: opened again before the call).
        self._kv.connection_pool.ensure_connection(connection)
        return connection


def _packed(command: tuple) -> bytes:
    """The command in Redis's protocol, packed by hiredis itself: redis-py's send_command
    checks and encodes each argument in Python first (17 µs of a 44 µs call). An argument of
    another type than str, int, float or bytes is refused as the client refuses it."""
    try:
        return pack_command(command)
    except TypeError as error:
        raise DataError(str(error)) from error

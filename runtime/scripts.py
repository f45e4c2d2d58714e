"""The callback's two Lua scripts (webhooks.dedup: admit before the turn, keep after it) on a
Redis connection each thread keeps, without redis-py's client around each call.

Every WeChat message runs both. Through the client a call cost 94 µs of CPU, here 36 (issue
19, BENCHMARKS.md "Round 6", the best of many batches): the client's wrappers (Script's
per-call imports, evalsha's deprecation check, the retry wrapper, the pool's lock and its
metrics) and its packing of each argument in Python were more than the command's own work.
What the client does for a call that matters is done here too: a connection is
checked as the pool checks one it hands out (one the server closed, after a restart, is
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
from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

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
        connection = self._ready()
        try:
            try:
                return self._evalsha(connection, script.sha, keys, args)
            except NoScriptError:
                logger.info("Redis no longer had a script (restarted or flushed): loaded again")
                connection.send_command("SCRIPT", "LOAD", script.script)
                connection.read_response()
                return self._evalsha(connection, script.sha, keys, args)
        except ResponseError:
            raise  # the script failed; its reply was read whole and the connection is sound
        except BaseException:
            # As the client does: a call cut off mid-reply leaves the rest of the reply on the
            # socket, where the next call would read it as its own.
            connection.disconnect()
            raise

    @staticmethod
    def _evalsha(connection: AbstractConnection, sha: str, keys: Sequence[str],
                 args: Sequence[Any]) -> Any:
        # Packed by hiredis itself (str, int, float, bytes): redis-py's send_command checks
        # and encodes each argument in Python first, 17 µs of a 44 µs call.
        connection.send_packed_command([pack_command(("EVALSHA", sha, len(keys), *keys, *args))],
                                       check_health=False)
        return connection.read_response()

    def _ready(self) -> AbstractConnection:
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            # First use in this thread, or in a forked child: the parent's socket is not ours
            # (redis-py's disconnect leaves another process's socket open for it).
            connection = self._kv.connection_pool.make_connection()
            local.connection, local.pid = connection, os.getpid()
        if not connection.is_connected:
            connection.connect()
        # As redis-py's pool checks a connection before it hands it out: anything to read on
        # an idle connection is the server having closed it (a restart), or a reply left over.
        try:
            if connection.can_read():
                raise ConnectionError("Connection has data")
        except (ConnectionError, TimeoutError, OSError):
            logger.info("the kept Redis connection was closed by the server: opened again")
            connection.disconnect()
            connection.connect()
            if connection.can_read():
                raise ConnectionError("Connection not ready") from None
        return connection

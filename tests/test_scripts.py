"""The callback's Redis scripts on a connection each thread keeps (runtime.scripts): the same
replies as through redis-py's client, and the same care when the connection fails: a server
that closed it, a script it forgot, a reply cut off by the timeout, a fork, threads.

Other test runs may share the Redis server: these tests claim one database of their own for
the module, name their connections and cut only those, and hold the server for at most
0.15 s."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import fakeredis
import pytest
from redis import Redis, RedisError
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from runtime.scripts import Scripts
from runtime.services import make_kv
from tests.conftest import OWNER_KEY, _redis_or_skip

# Echoes its argument and counts its runs: a reply shows whose call it answers.
ECHO_LUA = b"redis.call('INCR', KEYS[1]) return ARGV[1]"
ECHO = Script(None, ECHO_LUA)
# Holds the server for ARGV[1] milliseconds, then replies ARGV[2].
SLOW = Script(None, b"""
local t = redis.call('TIME')
local start = t[1] * 1000 + t[2] / 1000
repeat t = redis.call('TIME') until t[1] * 1000 + t[2] / 1000 - start >= tonumber(ARGV[1])
return ARGV[2]
""")
RUNS = "peixun:test:scripts:runs"
NAME = f"peixun-test-scripts-{os.getpid()}"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    url = _redis_or_skip()
    yield url
    Redis.from_url(url).delete(OWNER_KEY)  # the database is free for another run


def _client(url: str, *, timeout: float = 0.5) -> Redis:
    """As the app makes its client (runtime.services.make_kv: short timeouts, no retries),
    with a name that tells this module's connections from any other run's."""
    return Redis.from_url(url, decode_responses=True, socket_timeout=timeout,
                          socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0),
                          client_name=NAME)


@pytest.fixture
def real_kv(redis_url) -> Redis:
    client = _client(redis_url)
    client.delete(RUNS)
    return client


def _ours(kv: Redis) -> set[str]:
    """This module's connections (their name), the client's own included."""
    return {client["id"] for client in kv.client_list() if client["name"] == NAME}


def _cut(kv: Redis, ids: set[str]) -> None:
    """Close these connections, as a restart of Redis would."""
    for client_id in ids:
        kv.client_kill_filter(_id=client_id)
    time.sleep(0.1)


def test_a_script_replies_on_the_kept_connection_as_through_the_client(real_kv):
    scripts = Scripts(real_kv)
    assert scripts.run(ECHO, [RUNS], ["直接"]) == ECHO(keys=[RUNS], args=["直接"], client=real_kv)
    before = _ours(real_kv)
    for n in range(5):
        assert scripts.run(ECHO, [RUNS], [f"m{n}"]) == f"m{n}"
    assert _ours(real_kv) == before  # one connection, kept
    assert real_kv.get(RUNS) == "7"


def test_the_in_process_stand_in_runs_them_through_its_client():
    kv = fakeredis.FakeRedis(decode_responses=True)
    assert Scripts(kv).run(ECHO, [RUNS], ["stand-in"]) == "stand-in"
    assert kv.get(RUNS) == "1"


def test_a_connection_the_server_closed_is_opened_again_before_the_call(real_kv):
    """Redis restarted between two messages: the next one is answered, and run once."""
    scripts = Scripts(real_kv)
    before = _ours(real_kv)
    scripts.run(ECHO, [RUNS], ["first"])
    kept = _ours(real_kv) - before
    assert len(kept) == 1
    _cut(real_kv, kept)
    assert scripts.run(ECHO, [RUNS], ["after"]) == "after"
    assert real_kv.get(RUNS) == "2"


def test_a_script_the_server_does_not_have_is_loaded_and_run_once(real_kv):
    """After a restart (or SCRIPT FLUSH) Redis has none of them: NOSCRIPT, then loaded. A
    script of this test's own, never loaded, stands for one forgotten."""
    scripts = Scripts(real_kv)
    unknown = Script(None, f"-- {uuid.uuid4()}\n".encode() + ECHO_LUA)
    assert not real_kv.script_exists(unknown.sha)[0]
    assert scripts.run(unknown, [RUNS], ["loaded"]) == "loaded"
    assert real_kv.get(RUNS) == "1"
    assert real_kv.script_exists(unknown.sha)[0]


def test_a_reply_cut_off_by_the_timeout_is_never_the_next_calls(redis_url):
    """The first call gives up (here after 0.05 s) while its script still runs: its reply,
    when it comes, must not be read as the next call's (another person's answer)."""
    kv = _client(redis_url, timeout=0.05)
    scripts = Scripts(kv)
    with pytest.raises(RedisError):
        scripts.run(SLOW, [], [150, "late reply"])
    time.sleep(0.2)  # the late reply has come by now, to whichever socket still waits
    assert scripts.run(ECHO, [RUNS], ["mine"]) == "mine"
    assert scripts.run(ECHO, [RUNS], ["mine again"]) == "mine again"


def test_an_argument_redis_cannot_take_is_refused_as_the_client_refuses_it(real_kv):
    with pytest.raises(RedisError):
        Scripts(real_kv).run(ECHO, [RUNS], [None])
    assert real_kv.get(RUNS) is None


def test_threads_each_keep_their_own_connection(real_kv):
    scripts = Scripts(real_kv)

    def calls(thread: int) -> bool:
        return all(scripts.run(ECHO, [RUNS], [f"{thread}:{n}"]) == f"{thread}:{n}"
                   for n in range(50))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(calls, range(8)))
    assert real_kv.get(RUNS) == "400"


def test_a_thread_a_request_does_not_use_up_the_clients_connections(redis_url):
    """The development server starts a thread for every request: each thread's connection
    is its own and closes with it, and the client's pool (at most 100 here) keeps working."""
    kv = Redis.from_url(redis_url, decode_responses=True, max_connections=100,
                        client_name=NAME)
    kv.delete(RUNS)
    scripts = Scripts(kv)
    for n in range(150):
        thread = threading.Thread(target=scripts.run, args=(ECHO, [RUNS], [str(n)]))
        thread.start()
        thread.join()
    assert kv.ping()
    assert scripts.run(ECHO, [RUNS], ["after"]) == "after"
    assert kv.get(RUNS) == "151"


def test_a_process_forked_after_the_first_call_opens_its_own_connection(real_kv):
    """gunicorn --preload: the parent may have called before the fork. Parent and child then
    call at the same time, each must read its own replies, and the child's exit leaves the
    parent's connection working."""
    scripts = Scripts(real_kv)
    scripts.run(ECHO, [RUNS], ["before the fork"])
    before = _ours(real_kv)
    ready_read, ready_write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(ready_read)
            scripts.run(ECHO, [RUNS], ["child's first"])
            # Its own connection, and the one that lists them: two more than the parent had.
            where = real_kv.get_connection_kwargs()
            opened = _ours(Redis(host=where["host"], port=where["port"], db=where["db"],
                                 decode_responses=True, client_name=NAME)) - before
            os.write(ready_write, b"!")  # the parent calls from now on, as the child does
            os._exit(0 if len(opened) == 2 and _own_replies(scripts, "child") else 1)
        finally:
            os._exit(2)
    os.close(ready_write)
    started = os.read(ready_read, 1)  # b"" when the child ended without starting
    os.close(ready_read)
    try:
        parent_ok = _own_replies(scripts, "parent")
    except RedisError:
        parent_ok = False
    _, status = os.waitpid(child, 0)
    assert started == b"!"
    assert os.waitstatus_to_exitcode(status) == 0
    assert parent_ok
    time.sleep(0.1)
    assert scripts.run(ECHO, [RUNS], ["after the child"]) == "after the child"


def _own_replies(scripts: Scripts, who: str, seconds: float = 0.5) -> bool:
    """Calls for ``seconds``: whether every reply was this caller's own."""
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        n += 1
        if scripts.run(ECHO, [RUNS], [f"{who} {n}"]) != f"{who} {n}":
            return False
    return True


def test_without_redis_a_call_raises_redis_error():
    scripts = Scripts(make_kv("redis://127.0.0.1:1/0"))
    with pytest.raises(RedisError):
        scripts.run(ECHO, [RUNS], ["nobody"])


def test_a_message_after_redis_dropped_the_apps_connections_is_answered_once(
        stack, wechat, kv, caplog):
    """Through the callback: the connection the app keeps for its scripts is cut between two
    messages (a Redis restart); the next message is answered with the course list, without
    the warning of a lost Redis, and WeChat's retry of it gets the same answer."""
    if stack.redis_url is None:
        pytest.skip("the in-process fakeredis has no connection to cut")
    assert "开放报名的课程" in wechat.say("o-scripts-cut", "课程").text
    db = str(kv.get_connection_kwargs()["db"])
    # This run's own database; the app's kept connection is the one that ran EVALSHA last.
    kept = {client["id"] for client in kv.client_list()
            if client["db"] == db and client["cmd"] == "evalsha"}
    assert kept
    _cut(kv, kept)
    first = wechat.say("o-scripts-cut", "课程", msg_id=880001)
    retry = wechat.say("o-scripts-cut", "课程", msg_id=880001)
    assert "开放报名的课程" in first.text
    assert retry.text == first.text
    assert not [r for r in caplog.records if "unavailable" in r.getMessage()]

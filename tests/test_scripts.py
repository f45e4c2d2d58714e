"""The callback's Redis scripts on a connection each thread keeps (runtime.scripts): the same
replies as through redis-py's client, and the same care when the connection fails: a server
that closed it, a script it forgot, a reply cut off by the timeout, a fork, threads."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis import Redis, RedisError
from redis.commands.core import Script

from runtime.scripts import Scripts
from runtime.services import make_kv
from tests.conftest import _redis_or_skip

# Echoes its argument and counts its runs: a reply shows whose call it answers.
ECHO = Script(None, b"redis.call('INCR', KEYS[1]) return ARGV[1]")
# Holds the server for ARGV[1] milliseconds, longer than the client's 0.5 s timeout.
SLOW = Script(None, b"""
local t = redis.call('TIME')
local start = t[1] * 1000 + t[2] / 1000
repeat t = redis.call('TIME') until t[1] * 1000 + t[2] / 1000 - start >= tonumber(ARGV[1])
return ARGV[2]
""")
RUNS = "peixun:test:scripts:runs"


@pytest.fixture
def real_kv() -> Redis:
    client = make_kv(_redis_or_skip())  # as the app makes it: 0.5 s timeouts, no retries
    client.delete(RUNS)
    return client


def _connections(kv: Redis) -> set[str]:
    """The connections to this run's own Redis database (other runs may share the server)."""
    db = str(kv.connection_pool.connection_kwargs.get("db", 0))
    return {client["id"] for client in kv.client_list() if client["db"] == db}


def _another_client(kv: Redis) -> Redis:
    where = kv.get_connection_kwargs()
    return Redis(host=where["host"], port=where["port"], db=where["db"], decode_responses=True)


def _cut(kv: Redis) -> None:
    """Close every other connection to this database, as a restart of Redis would."""
    me = str(kv.client_id())
    for client_id in _connections(kv) - {me}:
        kv.client_kill_filter(_id=client_id)
    time.sleep(0.1)


def test_a_script_replies_on_the_kept_connection_as_through_the_client(real_kv):
    scripts = Scripts(real_kv)
    assert scripts.run(ECHO, [RUNS], ["直接"]) == ECHO(keys=[RUNS], args=["直接"], client=real_kv)
    before = _connections(real_kv)
    for n in range(5):
        assert scripts.run(ECHO, [RUNS], [f"m{n}"]) == f"m{n}"
    assert _connections(real_kv) == before  # one connection, kept
    assert real_kv.get(RUNS) == "7"


def test_a_connection_the_server_closed_is_opened_again_before_the_call(real_kv):
    """Redis restarted between two messages: the next one is answered, and run once."""
    scripts = Scripts(real_kv)
    scripts.run(ECHO, [RUNS], ["first"])
    _cut(real_kv)
    assert scripts.run(ECHO, [RUNS], ["after"]) == "after"
    assert real_kv.get(RUNS) == "2"


def test_a_script_the_server_forgot_is_loaded_and_run_once(real_kv):
    scripts = Scripts(real_kv)
    scripts.run(ECHO, [RUNS], ["first"])
    real_kv.script_flush()
    assert scripts.run(ECHO, [RUNS], ["after"]) == "after"
    assert real_kv.get(RUNS) == "2"


def test_a_reply_cut_off_by_the_timeout_is_never_the_next_calls(real_kv):
    """The first call gives up after 0.5 s while its script still runs: its reply, when it
    comes, must not be read as the next call's (another person's answer)."""
    scripts = Scripts(real_kv)
    with pytest.raises(RedisError):
        scripts.run(SLOW, [], [900, "late reply"])
    assert scripts.run(ECHO, [RUNS], ["mine"]) == "mine"
    assert scripts.run(ECHO, [RUNS], ["mine again"]) == "mine again"


def test_threads_each_keep_their_own_connection(real_kv):
    scripts = Scripts(real_kv)

    def calls(thread: int) -> bool:
        return all(scripts.run(ECHO, [RUNS], [f"{thread}:{n}"]) == f"{thread}:{n}"
                   for n in range(50))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(calls, range(8)))
    assert real_kv.get(RUNS) == "400"


def test_a_process_forked_after_the_first_call_opens_its_own_connection(real_kv):
    """gunicorn --preload: the parent may have called before the fork. Parent and child then
    call at the same time, each must read its own replies, and the child's exit leaves the
    parent's connection working."""
    scripts = Scripts(real_kv)
    scripts.run(ECHO, [RUNS], ["before the fork"])
    before = _connections(real_kv)
    ready_read, ready_write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            scripts.run(ECHO, [RUNS], ["child's first"])
            # Its own connection, and the one that lists them: two more than the parent had.
            opened = _connections(_another_client(real_kv)) - before
            os.write(ready_write, b"!")  # the parent calls from now on, as the child does
            os._exit(0 if len(opened) == 2 and _own_replies(scripts, "child") else 1)
        finally:
            os._exit(2)
    os.read(ready_read, 1)
    try:
        parent_ok = _own_replies(scripts, "parent")
    except RedisError:
        parent_ok = False
    _, status = os.waitpid(child, 0)
    os.close(ready_read)
    os.close(ready_write)
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
    """Through the callback: the connections the app keeps are cut between two messages (a
    Redis restart); the next message is answered with the course list, without the warning of
    a lost Redis, and WeChat's retry of it gets the same answer."""
    if stack.redis_url is None:
        pytest.skip("the in-process fakeredis has no connection to cut")
    assert "开放报名的课程" in wechat.say("o-scripts-cut", "课程").text
    _cut(kv)
    first = wechat.say("o-scripts-cut", "课程", msg_id=880001)
    retry = wechat.say("o-scripts-cut", "课程", msg_id=880001)
    assert "开放报名的课程" in first.text
    assert retry.text == first.text
    assert not [r for r in caplog.records if "unavailable" in r.getMessage()]

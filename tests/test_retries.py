"""WeChat retries a message it got no answer to, 5 s later: a retry is never swallowed by a
first delivery that died (its in-progress mark lives seconds and is renewed while the work
runs), and a first delivery too slow for its own reply sends its answer through the outbox.
With Redis down, the limits Redis counts are counted in the process, never off."""

from __future__ import annotations

import os
import threading
import time

import pytest
from sqlalchemy import func, select, text

import worker
from models.base import STATEMENT_SECONDS, make_sessionmaker, statement_budget
from models.outbox import Outbox
from models.persons import Person
from models.pii import Vault
from models.vouchers import Voucher
from runtime.config import Config
from runtime.services import Limiter
from runtime.wechat_api import Client
from tests.api_fixtures import login_code
from tests.conftest import committed_postgres
from tests.factories import register_via_chat
from tests.wechat_server import WeChatServer
from webhooks import dedup
from webhooks.app import create_app
from webhooks.wechat import TURN_SECONDS

SLOW_DB = f"peixun_slow{os.getpid()}"

# The in-progress mark lives this long in these tests: a "killed" worker's mark runs out fast.
PENDING_SECONDS = 1


@pytest.fixture
def config(config):
    return config.but(pending_seconds=PENDING_SECONDS)


def _vouchers(db, openid: str) -> int:
    db.expire_all()
    return db.scalar(select(func.count(Voucher.id)).join(Person, Voucher.person_id == Person.id)
                     .where(Person.openid == openid))


def test_a_retry_acts_when_the_first_delivery_died_holding_its_mark(wechat, kv, db):
    register_via_chat(wechat, "o-rt1")
    wechat.say("o-rt1", "课程 砌筑")
    wechat.say("o-rt1", "1")
    msg_id = 881_000_001
    # A worker killed during the first delivery of 领券: its mark stays, no answer is kept.
    key = dedup.message_key({"MsgId": str(msg_id)})
    assert kv.set(key, dedup.PENDING, nx=True, ex=PENDING_SECONDS)
    time.sleep(PENDING_SECONDS + 0.2)  # WeChat's retry comes 5 s later; the mark is gone
    retry = wechat.say("o-rt1", "领券", msg_id=msg_id)
    assert "培训券号" in retry.text
    assert _vouchers(db, "o-rt1") == 1
    # WeChat's later retries get that answer; nothing is done twice.
    again = wechat.say("o-rt1", "领券", msg_id=msg_id)
    assert again.text == retry.text
    assert _vouchers(db, "o-rt1") == 1


def test_a_retry_that_comes_while_a_dead_workers_mark_still_lives_waits_and_acts(
        wechat, kv, db):
    """WeChat's retry comes 5 s after the first delivery; a worker killed at 4 s left a mark
    renewed a moment before. The retry waits, sees the mark run out with no answer, and acts:
    never an empty "success" that would make WeChat stop retrying with nothing done."""
    register_via_chat(wechat, "o-rt3")
    wechat.say("o-rt3", "课程 砌筑")
    wechat.say("o-rt3", "1")
    msg_id = 881_000_003
    key = dedup.message_key({"MsgId": str(msg_id)})
    assert kv.set(key, dedup.PENDING, nx=True, ex=2)  # still alive when the retry arrives
    retry = wechat.say("o-rt3", "领券", msg_id=msg_id)
    assert "培训券号" in retry.text
    assert _vouchers(db, "o-rt3") == 1
    assert wechat.say("o-rt3", "领券", msg_id=msg_id).text == retry.text
    assert _vouchers(db, "o-rt3") == 1


def test_the_in_progress_mark_is_short_and_renewed_while_the_work_runs(kv):
    key = dedup.message_key({"MsgId": "881000002"})
    kv.set(key, dedup.PENDING, ex=PENDING_SECONDS)
    with dedup.Renewer(kv, PENDING_SECONDS).pending(key):
        time.sleep(PENDING_SECONDS * 2.5)  # a living first delivery, slower than the mark
        assert kv.get(key) == dedup.PENDING
    time.sleep(PENDING_SECONDS + 0.2)  # once the work ends (or the process dies) it runs out
    assert kv.get(key) is None


def test_a_process_with_nothing_at_work_keeps_no_renewing_thread(kv):
    """Every app (every test's, every worker's) has a renewer; an idle one must not keep a
    thread, or a long-lived process piles them up."""
    renewer = dedup.Renewer(kv, PENDING_SECONDS)
    for n in range(2):  # and it starts again for the next delivery
        with renewer.pending(dedup.message_key({"MsgId": f"88100001{n}"})):
            assert renewer.thread.is_alive()
        renewer.thread.join(PENDING_SECONDS * 5)
        assert not renewer.thread.is_alive()


@pytest.fixture(scope="module")
def slow_engine():
    """A PostgreSQL database of its own, whose transactions really commit: the test holds a
    lock from its own connection while the app's requests run in threads (the app's own
    statement limits: 3 s, longer inside a WeChat turn)."""
    yield from committed_postgres(SLOW_DB, Vault(Config().data_key))


def test_a_wechat_turn_may_wait_on_the_database_longer_than_a_page(slow_engine):
    """A page still gives up after 3 s; a WeChat turn, whose late answer goes through the
    outbox, waits out a slow database instead of apologizing."""
    sessions = make_sessionmaker(slow_engine)

    def limit_ms() -> int:
        with sessions.begin() as db:
            shown = db.scalar(text("SELECT current_setting('statement_timeout')"))
        return int(shown.removesuffix("ms")) if shown.endswith("ms") else int(
            shown.removesuffix("s")) * 1000

    assert limit_ms() == STATEMENT_SECONDS * 1000
    with statement_budget(TURN_SECONDS):
        assert STATEMENT_SECONDS * 1000 < limit_ms() <= TURN_SECONDS * 1000
    # The longer limit lasted the transaction only: the pooled connection is back to 3 s.
    assert limit_ms() == STATEMENT_SECONDS * 1000


def test_a_slow_first_delivery_sends_its_answer_once_through_the_outbox(
        stack, config, kv, clock, fake_wechat, request):
    if not stack.is_postgres:
        pytest.skip("real concurrent transactions: PostgreSQL")
    engine = request.getfixturevalue("slow_engine")
    fake_wechat.state.reset()
    app = create_app(config, engine=engine, sessions=make_sessionmaker(engine), kv=kv,
                     clock=clock)
    services = app.extensions["peixun"]

    def server() -> WeChatServer:
        return WeChatServer(app.test_client(), token=config.wechat_token, clock=clock)

    openid, msg_id = "o-rt-slow", 881_000_003
    register_via_chat(server(), openid)
    server().say(openid, "课程 砌筑")
    server().say(openid, "1")
    answers = {}

    def say(name: str) -> None:
        answers[name] = server().say(openid, "领券", msg_id=msg_id)

    # The database is slow: the test's own transaction holds every course's row, which the
    # 领券 must lock to count seats.
    with engine.connect() as blocker:
        blocker.begin()
        blocker.execute(text("SELECT id FROM courses FOR UPDATE"))
        first = threading.Thread(target=say, args=("first",))
        first.start()
        key = dedup.message_key({"MsgId": str(msg_id)})
        deadline = time.monotonic() + 3
        while kv.get(key) != dedup.PENDING and time.monotonic() < deadline:
            time.sleep(0.02)
        # The first delivery's mark is short (a dead process would not hold it long) ...
        assert kv.get(key) == dedup.PENDING and 0 < kv.ttl(key) <= PENDING_SECONDS
        time.sleep(0.2)  # and it waits on the lock
        retries = [threading.Thread(target=say, args=(name,)) for name in ("retry", "later")]
        retries[0].start()
        # ... and renewed: past its first life, the next delivery is still a retry.
        time.sleep(PENDING_SECONDS * 1.5)
        retries[1].start()
        for thread in retries:
            thread.join(timeout=10)
        blocker.rollback()
    first.join(timeout=10)
    # WeChat got its "success" in time from every delivery; the work was done once.
    assert answers["retry"].is_silent and answers["later"].is_silent
    assert answers["first"].is_silent
    with services.sessions() as db:
        assert _vouchers(db, openid) == 1
        assert db.scalar(select(func.count(Outbox.id)).where(Outbox.openid == openid)) == 1
    # The answer reaches the person, once, as a customer message.
    api = Client(config, kv)
    assert worker.send_due(services, api) == 1
    assert worker.send_due(services, api) == 0
    sent = [m for m in fake_wechat.state.sent if m["touser"] == openid]
    assert len(sent) == 1 and "培训券号" in sent[0]["text"]["content"]
    # A retry after that gets "success" too, and nothing is sent again.
    assert server().say(openid, "领券", msg_id=msg_id).is_silent
    assert worker.send_due(services, api) == 0


# A Redis no one listens on: every call to it fails at once, as when Redis is down.
REDIS_DOWN = "redis://127.0.0.1:1/0"


@pytest.fixture
def without_redis(config, stack, sessions, clock, fake_wechat, wechat):
    """The app with its Redis gone. First a message and a binding guess through the app with
    Redis, so this outage is a new one (warned once)."""
    wechat.say("o-rt-before", "你好")
    wechat.say("o-rt-before", "绑定 000000")
    app = create_app(config.but(redis_url=REDIS_DOWN), engine=stack.engine, sessions=sessions,
                     clock=clock)
    return WeChatServer(app.test_client(), token=config.wechat_token, clock=clock)


def _warnings(caplog, what: str) -> int:
    return sum(1 for record in caplog.records
               if record.levelname == "WARNING" and record.getMessage().startswith(what))


def test_without_redis_the_message_rate_is_still_limited_and_warned_once(without_redis,
                                                                          caplog, stack):
    # Counts kept in this process outlive a test: a sender of this stack's own.
    sent = [without_redis.say(f"o-rt-fast-{stack.name}", "你好").text for _ in range(61)]
    assert all("太快" not in text for text in sent[:60])
    assert "您发消息太快了" in sent[60]
    assert _warnings(caplog, dedup.ADMIT_COUNT) == 1


def test_without_redis_each_of_two_processes_allows_half_the_message_rate(
        config, stack, sessions, clock, caplog):
    """Two gunicorn processes (WORKERS=2) each count alone without Redis: each allows half, so
    a sender whose messages land on both gets no more than the limit."""
    app = create_app(config.but(redis_url=REDIS_DOWN, processes=2), engine=stack.engine,
                     sessions=sessions, clock=clock)
    one_process = WeChatServer(app.test_client(), token=config.wechat_token, clock=clock)
    sent = [one_process.say(f"o-rt-half-{stack.name}", "你好").text for _ in range(31)]
    assert all("太快" not in text for text in sent[:30])
    assert "您发消息太快了" in sent[30]


def test_without_redis_binding_codes_still_get_five_tries_a_day(without_redis, caplog, stack):
    tries = [without_redis.say(f"o-rt-guess-{stack.name}", f"绑定 {100000 + n}").text
             for n in range(6)]
    assert all("输错的次数太多" not in text for text in tries[:5])
    assert "今天输错的次数太多了" in tries[5]
    assert _warnings(caplog, "binding-code tries") == 1


def test_without_redis_the_api_still_limits_binding_code_guesses(config, stack, sessions,
                                                                 clock, client, caplog):
    def guess(web, n: int):
        # Each guess from another mini-program user: only the per-address limit stops them.
        return web.post("/api/v1/session/bind",
                        json={"code": login_code(f"o-rt-guesser-{stack.name}-{n}"),
                              "bind_code": "000000"})

    guess(client, 0)  # with Redis: this outage is a new one
    down = create_app(config.but(redis_url=REDIS_DOWN), engine=stack.engine,
                      sessions=sessions, clock=clock).test_client()
    answers = [guess(down, n).status_code for n in range(1, 7)]
    assert answers == [422] * 5 + [429]
    assert _warnings(caplog, Limiter.COUNT) == 1

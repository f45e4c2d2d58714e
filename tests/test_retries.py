"""WeChat retries a message it got no answer to, 5 s later: a retry is never swallowed by a
first delivery that died (its in-progress mark lives seconds and is renewed while the work
runs), and a first delivery too slow for its own reply sends its answer through the outbox."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from models.persons import Person
from models.vouchers import Voucher
from tests.people import register_via_chat
from webhooks import dedup

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


def test_the_in_progress_mark_is_short_and_renewed_while_the_work_runs(kv):
    key = dedup.message_key({"MsgId": "881000002"})
    kv.set(key, dedup.PENDING, ex=PENDING_SECONDS)
    with dedup.pending(kv, key, PENDING_SECONDS):
        time.sleep(PENDING_SECONDS * 2.5)  # a living first delivery, slower than the mark
        assert kv.get(key) == dedup.PENDING
    time.sleep(PENDING_SECONDS + 0.2)  # once the work ends (or the process dies) it runs out
    assert kv.get(key) is None

"""The outbox worker against the fake WeChat API: sent once, retried when WeChat says so,
a template outside the 48-hour window, failures recorded and never counted as sent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import worker
from models.outbox import Outbox, OutboxStatus, enqueue
from models.persons import meet
from runtime.wechat_api import Client


@pytest.fixture
def queue(services, clock):
    def put(openid: str, reason: str, text: str = "您的培训券已核销。", template=None) -> int:
        with services.sessions.begin() as db:
            person = meet(db, openid=openid, now=clock.now())
            row = enqueue(db, person=person, reason=reason, text=text, now=clock.now(),
                          template=template)
            return row.id if row else None
    return put


@pytest.fixture
def api(services):
    return Client(services.config, services.kv)


def row(services, outbox_id: int) -> Outbox:
    with services.sessions() as db:
        return db.get(Outbox, outbox_id)


def test_a_queued_message_is_sent_once_as_a_customer_message(services, api, queue,
                                                              fake_wechat):
    outbox_id = queue("o-w1", "test:1", "课程明天开始。")
    assert worker.send_due(services, api) == 1
    assert worker.send_due(services, api) == 0  # nothing left: never twice
    assert fake_wechat.state.sent == [
        {"kind": "customer", "touser": "o-w1", "msgtype": "text",
         "text": {"content": "课程明天开始。"}}]
    sent = row(services, outbox_id)
    assert sent.status is OutboxStatus.SENT and sent.sent_as == "customer"


def test_the_same_reason_is_queued_once(queue, services):
    assert queue("o-w2", "voucher.redeemed:7") is not None
    assert queue("o-w2", "voucher.redeemed:7") is None
    with services.sessions() as db:
        assert len(db.scalars(select(Outbox).where(Outbox.openid == "o-w2")).all()) == 1


def test_outside_the_48_hour_window_a_template_message_is_sent(services, api, queue,
                                                               fake_wechat):
    fake_wechat.state.silent_openids.add("o-w3")
    outbox_id = queue("o-w3", "test:3", template={
        "data": {"first": {"value": "培训券已核销"}}, "url": "http://peixun.test/v/1"})
    worker.send_due(services, api)
    [sent] = fake_wechat.state.sent
    assert sent["kind"] == "template" and sent["template_id"] == "tpl-notice"
    assert sent["touser"] == "o-w3" and sent["url"] == "http://peixun.test/v/1"
    assert row(services, outbox_id).sent_as == "template"


def test_outside_the_window_without_a_template_it_fails_and_says_why(services, api, queue,
                                                                     fake_wechat):
    fake_wechat.state.silent_openids.add("o-w4")
    outbox_id = queue("o-w4", "test:4")
    worker.send_due(services, api)
    failed = row(services, outbox_id)
    assert failed.status is OutboxStatus.FAILED
    assert failed.last_error.startswith("45015")
    assert failed.sent_at is None
    assert fake_wechat.state.sent == []


def test_a_busy_wechat_is_retried_later_with_backoff(services, api, queue, fake_wechat,
                                                      clock):
    fake_wechat.state.fail_next.append(-1)  # "system busy", inside a 200
    outbox_id = queue("o-w5", "test:5")
    worker.send_due(services, api)
    waiting = row(services, outbox_id)
    assert waiting.status is OutboxStatus.PENDING and waiting.attempts == 1
    assert waiting.next_attempt_at > clock.now()
    assert worker.send_due(services, api) == 0  # not due yet
    clock.advance(minutes=5)
    worker.send_due(services, api)
    assert row(services, outbox_id).status is OutboxStatus.SENT
    assert len(fake_wechat.state.sent) == 1


def test_a_permanent_error_is_recorded_and_not_retried(services, api, queue, fake_wechat,
                                                        clock):
    fake_wechat.state.fail_next.append(43004)  # "require subscribe": the person left
    outbox_id = queue("o-w6", "test:6")
    worker.send_due(services, api)
    clock.advance(hours=2)
    assert worker.send_due(services, api) == 0
    failed = row(services, outbox_id)
    assert failed.status is OutboxStatus.FAILED and failed.last_error.startswith("43004")


def test_an_expired_token_is_refreshed_once_and_the_message_still_goes(services, api, queue,
                                                                       fake_wechat):
    queue("o-w7", "test:7")
    worker.send_due(services, api)
    fake_wechat.state.current_token = "rotated-by-wechat"  # our cached token is now invalid
    queue("o-w7", "test:8")
    worker.send_due(services, api)
    assert [m["touser"] for m in fake_wechat.state.sent] == ["o-w7", "o-w7"]
    assert fake_wechat.state.token_fetches == 2


def test_workers_share_one_access_token(services, queue, fake_wechat):
    first, second = Client(services.config, services.kv), Client(services.config, services.kv)
    queue("o-w8", "test:9")
    worker.send_due(services, first)
    queue("o-w8", "test:10")
    worker.send_due(services, second)
    assert len(fake_wechat.state.sent) == 2
    assert fake_wechat.state.token_fetches == 1


def test_wechat_unreachable_means_not_sent_and_tried_again(services, queue, clock, fake_wechat):
    down = Client(services.config.but(wechat_api_base_url="http://127.0.0.1:1/"), services.kv)
    outbox_id = queue("o-w9", "test:11")
    worker.send_due(services, down)
    waiting = row(services, outbox_id)
    assert waiting.status is OutboxStatus.PENDING and waiting.last_error.startswith("connection")
    clock.advance(minutes=5)
    worker.send_due(services, Client(services.config, services.kv))
    assert row(services, outbox_id).status is OutboxStatus.SENT


def test_a_failure_before_sending_puts_the_message_back_not_stuck(services, api, clock,
                                                                  fake_wechat):
    with services.sessions.begin() as db:
        person = meet(db, openid="o-w10", now=clock.now())
        row = enqueue(db, person=person, reason="test:12", now=clock.now(),
                      notice="a_notice_nobody_wrote", params={})
        outbox_id = row.id
    worker.send_due(services, api)
    waiting = row_of(services, outbox_id)
    assert waiting.status is OutboxStatus.PENDING
    assert waiting.last_error == "internal error before sending"
    assert fake_wechat.state.sent == []


def row_of(services, outbox_id: int) -> Outbox:
    return row(services, outbox_id)


def test_messages_sent_long_ago_are_pruned_and_the_rest_kept(services, queue, clock,
                                                             fake_wechat):
    from datetime import timedelta

    from models.jobs import JobPush
    from models.outbox import SENT_KEPT
    from tests.test_jobs import County

    now = clock.now()
    old_sent, recent_sent, old_failed, old_uncertain, old_pending, old_pushed = (
        queue(f"o-prune{n}", f"test:prune:{n}") for n in range(6))

    def as_of(outbox_id, status, sent_ago, **more):
        with services.sessions.begin() as db:
            row = db.get(Outbox, outbox_id)
            row.status = status
            row.sent_at = now - sent_ago if status is OutboxStatus.SENT else None
            for name, value in more.items():
                setattr(row, name, value)

    long_ago = SENT_KEPT + timedelta(days=1)
    as_of(old_sent, OutboxStatus.SENT, long_ago)
    as_of(recent_sent, OutboxStatus.SENT, SENT_KEPT - timedelta(days=1))
    as_of(old_failed, OutboxStatus.FAILED, long_ago, last_error="45015")
    as_of(old_uncertain, OutboxStatus.UNCERTAIN, long_ago, is_uncertain=True)
    as_of(old_pushed, OutboxStatus.SENT, long_ago)
    opening = County(services, clock, fake_wechat).post()
    with services.sessions.begin() as db:  # a job push: the opening's figures count it
        person = db.get(Outbox, old_pushed).person_id
        db.add(JobPush(job_id=opening, person_id=person, pushed_on=clock.today(),
                       outbox_id=old_pushed))

    assert worker.run_jobs(services)["outbox_pruned"] == 1
    with services.sessions() as db:
        left = set(db.scalars(select(Outbox.id).where(Outbox.reason.like("test:prune:%"))))
    assert left == {recent_sent, old_failed, old_uncertain, old_pending, old_pushed}
    assert worker.run_jobs(services)["outbox_pruned"] == 0  # again: nothing more to do

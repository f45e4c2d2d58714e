"""Leases on the outbox (issue 15): a message is being sent only while a worker's lease on it
runs, taken just before its own call. A worker killed mid-batch leaves at most the one message
it was sending, which comes back when its lease runs out, marked uncertain (sent again if it is
about the person's own business, not if it is a broadcast); a database lost while recording
leaves the rest of the batch to be sent; two workers never take the same message; the desk
sees the uncertain and failed ones, without personal data."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import create_engine, event, select, update

import worker
from models.audit import AuditEntry
from models.base import make_engine
from models.desk import DeskRole
from models.outbox import (
    LEASE,
    Outbox,
    OutboxStatus,
    begin_attempt,
    due_ids,
    enqueue,
    held_row,
    record_attempt,
    take_lease,
)
from models.persons import Person, meet
from runtime.services import Services
from runtime.wechat_api import Client

DEAD = "host-a:4242:0dead000"  # a worker that takes a lease and is killed before recording
LIVE = "host-b:1717:a1ive000"


@pytest.fixture
def api(services) -> Client:
    return Client(services.config, services.kv)


@pytest.fixture
def queue(services, clock):
    def put(openid: str, text: str, *, broadcast: bool = False) -> int:
        with services.sessions.begin() as db:
            person = meet(db, openid=openid, now=clock.now())
            return enqueue(db, person=person, reason=f"test:{uuid4()}", text=text,
                           now=clock.now(), broadcast=broadcast).id
    return put


def row(services: Services, outbox_id: int) -> Outbox:
    with services.sessions() as db:
        return db.get(Outbox, outbox_id)


def texts(fake_wechat) -> list[str]:
    return sorted(m["text"]["content"] for m in fake_wechat.state.sent)


def cut_off(services: Services, api: Client, outbox_id: int, *, reached_wechat: bool = True):
    """What a worker does up to its call, and the call itself; then it is killed: nothing is
    recorded."""
    with services.sessions.begin() as db:
        attempt = take_lease(db, outbox_id=outbox_id, worker=DEAD, now=services.clock.now())
        begin_attempt(held_row(db, attempt), now=services.clock.now())
        openid, text = db.get(Outbox, outbox_id).openid, db.get(Outbox, outbox_id).text
    if reached_wechat:
        api.message.send_text(openid, text)
    return attempt


# --- the lease ----------------------------------------------------------------------------------

def test_a_lease_is_held_by_one_worker_and_returns_to_the_queue_when_it_runs_out(
        services, queue, clock):
    outbox_id = queue("o-l1", "课程明天开始。")
    with services.sessions.begin() as db:
        attempt = take_lease(db, outbox_id=outbox_id, worker=DEAD, now=clock.now())
    assert attempt is not None and attempt.number == 1
    taken = row(services, outbox_id)
    assert (taken.status, taken.leased_by, taken.lease_until) == (
        OutboxStatus.SENDING, DEAD, clock.now() + LEASE)
    with services.sessions.begin() as db:  # another worker, while the lease runs
        assert outbox_id not in due_ids(db, now=clock.now(), limit=50)
        assert take_lease(db, outbox_id=outbox_id, worker=LIVE, now=clock.now()) is None
    clock.advance(seconds=LEASE.total_seconds() + 1)
    with services.sessions.begin() as db:
        assert outbox_id in due_ids(db, now=clock.now(), limit=50)
        again = take_lease(db, outbox_id=outbox_id, worker=LIVE, now=clock.now())
    assert again.number == 2
    # It died before its call: no doubt about this one.
    assert (row(services, outbox_id).leased_by, row(services, outbox_id).is_uncertain) == (
        LIVE, False)


def test_a_sent_message_gives_its_lease_back(services, api, queue, fake_wechat):
    outbox_id = queue("o-l2", "请带身份证。")
    assert worker.send_due(services, api, worker=LIVE) == 1
    sent = row(services, outbox_id)
    assert (sent.status, sent.lease_until, sent.leased_by, sent.is_uncertain) == (
        OutboxStatus.SENT, None, LIVE, False)
    assert sent.attempt_started_at is not None
    assert texts(fake_wechat) == ["请带身份证。"]


# --- a worker killed mid-batch ------------------------------------------------------------------

def test_a_worker_killed_mid_batch_leaves_one_message_uncertain_and_the_rest_are_sent(
        services, api, queue, clock, fake_wechat):
    first, second, third = (queue("o-l3", f"您的培训券号是 PX-{n}。") for n in (1, 2, 3))
    cut_off(services, api, first)  # WeChat got it; the worker was killed before recording
    worker.send_due(services, api, worker=LIVE)  # another worker, at once
    assert [row(services, n).status for n in (first, second, third)] == [
        OutboxStatus.SENDING, OutboxStatus.SENT, OutboxStatus.SENT]
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert worker.send_due(services, api, worker=LIVE) == 1
    again = row(services, first)
    # About the person's own voucher: sent again, and marked, since it may have come twice.
    assert (again.status, again.is_uncertain, again.attempts) == (OutboxStatus.SENT, True, 2)
    assert texts(fake_wechat) == ["您的培训券号是 PX-1。", "您的培训券号是 PX-1。",
                                  "您的培训券号是 PX-2。", "您的培训券号是 PX-3。"]
    assert not row(services, second).is_uncertain and not row(services, third).is_uncertain
    with services.sessions() as db:
        [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.uncertain",
                                                      AuditEntry.target_id == first)).all()
    assert entry.before["leased_by"] == DEAD and entry.after == {"resent": True}


def test_a_broadcast_cut_off_is_marked_uncertain_and_never_sent_again(
        services, api, queue, clock, fake_wechat):
    push = queue("o-l4", "招聘：装载机司机。", broadcast=True)
    cut_off(services, api, push)
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert worker.send_due(services, api, worker=LIVE) == 1
    clock.advance(hours=1)
    assert worker.send_due(services, api, worker=LIVE) == 0
    left = row(services, push)
    assert (left.status, left.is_uncertain, left.sent_at) == (OutboxStatus.UNCERTAIN, True, None)
    assert texts(fake_wechat) == ["招聘：装载机司机。"]  # the one the killed worker sent


def test_a_row_left_sending_before_leases_existed_is_taken_again_as_uncertain(
        services, api, queue, clock, fake_wechat):
    outbox_id = queue("o-l5", "您的培训券已核销。")
    with services.sessions.begin() as db:  # what the old worker left: 'sending', no lease
        db.execute(update(Outbox).where(Outbox.id == outbox_id)
                   .values(status=OutboxStatus.SENDING, attempts=1))
    worker.send_due(services, api, worker=LIVE)
    assert (row(services, outbox_id).status, row(services, outbox_id).is_uncertain) == (
        OutboxStatus.SENT, True)
    assert texts(fake_wechat) == ["您的培训券已核销。"]


@pytest.fixture
def silent_wechat(services) -> Iterator[Client]:
    """WeChat takes the request and never answers: a client with a short timeout against a
    socket that accepts and says nothing."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    yield Client(services.config.but(wechat_api_base_url=f"http://127.0.0.1:{port}/"),
                 services.kv, timeout=0.3)
    listener.close()


@pytest.mark.parametrize(("broadcast", "status", "copies"), [
    (False, OutboxStatus.SENT, 1),  # the person's own business: sent again, marked
    (True, OutboxStatus.UNCERTAIN, 0),  # a broadcast: left alone, marked
])
def test_wechat_not_answering_marks_the_message_uncertain(
        services, api, queue, clock, fake_wechat, silent_wechat, broadcast, status, copies):
    api.fetch_access_token()  # the shared access token is fetched beforehand
    outbox_id = queue("o-l6", "结业证书已发放。", broadcast=broadcast)
    worker.send_due(services, silent_wechat)
    assert row(services, outbox_id).last_error == "unknown outcome: ReadTimeout"
    clock.advance(minutes=5)
    worker.send_due(services, api)
    result = row(services, outbox_id)
    assert (result.status, result.is_uncertain) == (status, True)
    assert len(fake_wechat.state.sent) == copies


# --- the desk ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "code"), [
    (DeskRole.ADMIN, 200), (DeskRole.INSPECTOR, 200), (DeskRole.INSTITUTION, 403)])
def test_the_desk_lists_uncertain_and_failed_messages_without_personal_data(
        services, api, queue, clock, fake_wechat, desk_client, role, code):
    fake_wechat.state.fail_next.append(43004)  # the person left: failed
    failed = queue("o-l7-secret", "您的培训券号是 PX-77。")
    worker.send_due(services, api, worker=LIVE)
    push = queue("o-l7-secret", "招聘：电工。", broadcast=True)
    cut_off(services, api, push)
    clock.advance(seconds=LEASE.total_seconds() + 1)
    worker.send_due(services, api, worker=LIVE)
    page = desk_client(role).get("/admin/outbox")
    html = page.get_data(as_text=True)
    assert page.status_code == code
    if code != 200:
        assert "message-" not in html
        return
    with services.sessions() as db:
        person_id = db.scalar(select(Person.id).where(Person.openid == "o-l7-secret"))
    assert f'id="message-{failed}"' in html and f'id="message-{push}"' in html
    assert "43004" in html
    assert "不确定" in html and f"<td>{person_id}</td>" in html
    for personal in ("o-l7-secret", "PX-77", "电工"):
        assert personal not in html


def test_the_outbox_page_is_in_the_desk_menu_of_admins_only(desk_client):
    assert 'href="/admin/outbox"' in desk_client(DeskRole.ADMIN).get("/admin/dashboard").get_data(
        as_text=True)
    assert 'href="/admin/outbox"' not in desk_client(DeskRole.INSTITUTION).get(
        "/admin/dashboard").get_data(as_text=True)


# --- really committed: other connections, other workers ------------------------------------------



@pytest.fixture
def other_engine(stack):
    engine = make_engine(stack.engine.url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()


def test_a_database_lost_while_recording_leaves_the_rest_of_the_batch_to_be_sent(
        committed, other_engine, fake_wechat):
    """The database goes away the moment WeChat has the first message: that worker cannot
    record it and ends its round; nothing else of its batch is held. Another worker sends the
    rest at once, and the first once its lease runs out (marked uncertain)."""
    ids = [committed.message(f"第{n}条通知。") for n in range(1, 6)]

    @event.listens_for(other_engine, "before_cursor_execute")
    def down_once_wechat_has_it(conn, cursor, statement, parameters, context, executemany):
        if fake_wechat.state.sent:
            conn.connection.dbapi_connection.close()  # a real connection, really broken

    unlucky = committed.worker_on(other_engine)
    client = Client(unlucky.config, unlucky.kv)
    assert worker.send_due(unlucky, client, worker=DEAD) == 0  # raises nothing
    assert texts(fake_wechat) == ["第1条通知。"]
    assert committed.row(ids[0]).status is OutboxStatus.SENDING
    assert all(committed.row(n).status is OutboxStatus.PENDING for n in ids[1:])

    api = Client(committed.services.config, committed.services.kv)
    assert worker.send_due(committed.services, api, worker=LIVE) == 4
    committed.services.clock.advance(seconds=LEASE.total_seconds() + 1)
    assert worker.send_due(committed.services, api, worker=LIVE) == 1
    assert texts(fake_wechat) == sorted(["第1条通知。"] * 2
                                        + [f"第{n}条通知。" for n in range(2, 6)])
    assert [(committed.row(n).status, committed.row(n).is_uncertain) for n in ids] == [
        (OutboxStatus.SENT, True)] + [(OutboxStatus.SENT, False)] * 4


def test_with_the_database_down_a_round_ends_quietly_and_holds_nothing(committed, stack,
                                                                       fake_wechat):
    ids = [committed.message(f"停机{n}。") for n in range(3)]
    gone = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/gone" if stack.is_postgres
                         else "sqlite:////no/such/dir/peixun.db")
    down = committed.worker_on(gone)
    assert worker.deliver(down, Client(down.config, down.kv), ids, worker=DEAD) == 0
    gone.dispose()
    assert [committed.row(n).status for n in ids] == [OutboxStatus.PENDING] * 3
    assert fake_wechat.state.sent == []


def test_two_workers_never_take_the_same_message(committed, fake_wechat):
    ids = [committed.message(f"并发{n:02d}。") for n in range(30)]
    names = [f"host-{n}:{n}:race" for n in range(2)]
    api = Client(committed.services.config, committed.services.kv)
    api.fetch_access_token()  # fetched once, not raced for
    start = threading.Barrier(len(names))

    def work(name: str) -> int:
        start.wait()
        handled = 0
        while (done := worker.send_due(committed.services, api, worker=name)):
            handled += done
        return handled

    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(work, names))
    assert texts(fake_wechat) == sorted(f"并发{n:02d}。" for n in range(30))
    assert {committed.row(n).status for n in ids} == {OutboxStatus.SENT}


@pytest.mark.parametrize("attempt", range(2))
def test_many_workers_asking_for_one_message_at_once_one_gets_it(committed, attempt):
    outbox_id = committed.message("只发一次。")
    names = [f"host-{n}:{n}:race" for n in range(8)]
    start = threading.Barrier(len(names))

    def lease(name: str) -> bool:
        start.wait()
        with committed.sessions.begin() as db:
            return take_lease(db, outbox_id=outbox_id, worker=name,
                              now=committed.services.clock.now()) is not None

    with ThreadPoolExecutor(len(names)) as pool:
        assert sorted(pool.map(lease, names)) == [False] * 7 + [True]
    assert committed.row(outbox_id).attempts == 1


def test_a_lease_taken_over_after_it_ran_out_does_not_take_the_late_result(committed):
    outbox_id = committed.message("迟到的结果。")
    clock = committed.services.clock
    with committed.sessions.begin() as db:
        late = take_lease(db, outbox_id=outbox_id, worker=DEAD, now=clock.now())
    clock.advance(seconds=LEASE.total_seconds() + 1)
    with committed.sessions.begin() as db:
        assert take_lease(db, outbox_id=outbox_id, worker=LIVE, now=clock.now()) is not None
    with committed.sessions.begin() as db:  # the first worker comes back to life, too late
        assert record_attempt(db, attempt=late, status=OutboxStatus.SENT, now=clock.now(),
                              sent_as="customer") is None
    held = committed.row(outbox_id)
    assert (held.leased_by, held.status) == (LIVE, OutboxStatus.SENDING)
    assert timedelta(0) < held.lease_until - clock.now() <= LEASE

"""A follower's unionid, asked of WeChat's user-info API by the worker after they follow the
account, so that their mini-program signs in without a binding code (issue 9)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

import worker
from models.persons import UNIONID_ATTEMPTS, Person, UnionidLookup
from models.registration import issue_bind_code
from models.staff import invite_staff
from runtime.wechat_api import Client
from tests.api_fixtures import login_code


@pytest.fixture
def learn(services):
    client = Client(services.config, services.kv)
    return lambda: worker.learn_unionids(services, client)


def person(db, openid: str) -> Person:
    db.expire_all()
    return db.scalar(select(Person).where(Person.openid == openid))


def lookup(db, openid: str) -> UnionidLookup | None:
    return db.get(UnionidLookup, person(db, openid).id)


def test_a_new_follower_signs_in_to_the_mini_program_without_a_code(
        client, wechat, fake_wechat, learn, db):
    fake_wechat.state.unionids["o-uf1"] = "union-o-uf1"
    wechat.follow("o-uf1")
    # Not asked in the reply: the worker asks.
    assert fake_wechat.state.user_infos == []
    before = client.post("/api/v1/session", json={"code": login_code("o-uf1")})
    assert before.get_json()["error"]["code"] == "binding_required"

    assert learn() == 1
    assert fake_wechat.state.user_infos == [{"openid": "o-uf1", "lang": "zh_CN"}]
    assert person(db, "o-uf1").unionid == "union-o-uf1"
    assert learn() == 0  # asked once

    answer = client.post("/api/v1/session", json={"code": login_code("o-uf1")})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["person_id"] == person(db, "o-uf1").id


def test_a_refusal_leaves_the_person_unchanged_and_is_tried_again_later(
        wechat, fake_wechat, learn, db, clock):
    wechat.follow("o-uf2")  # the fake does not know them: errcode 40003
    assert learn() == 1
    assert person(db, "o-uf2").unionid is None
    assert lookup(db, "o-uf2").last_error.startswith("40003")
    assert learn() == 0  # not due yet

    clock.advance(minutes=1)
    fake_wechat.state.fail_user_info.append(45009)  # over the daily limit: still not now
    assert learn() == 1
    assert person(db, "o-uf2").unionid is None
    assert lookup(db, "o-uf2").last_error.startswith("45009")

    clock.advance(minutes=2)
    fake_wechat.state.unionids["o-uf2"] = "union-o-uf2"
    assert learn() == 1
    assert person(db, "o-uf2").unionid == "union-o-uf2"
    assert lookup(db, "o-uf2") is None
    assert [a["openid"] for a in fake_wechat.state.user_infos] == ["o-uf2"] * 3


def test_a_lookup_that_keeps_failing_is_given_up(wechat, fake_wechat, learn, db, clock):
    wechat.follow("o-uf3")
    for _ in range(UNIONID_ATTEMPTS):
        assert learn() == 1
        clock.advance(days=1)
    assert learn() == 0
    row = lookup(db, "o-uf3")
    assert row.next_attempt_at is None and row.attempts == UNIONID_ATTEMPTS
    # Following again tries afresh.
    wechat.unfollow("o-uf3")
    wechat.follow("o-uf3")
    assert learn() == 1


def test_a_unionid_another_person_holds_is_not_taken(wechat, fake_wechat, learn, db, caplog):
    fake_wechat.state.unionids["o-uf4"] = "union-demo-trainee"
    wechat.follow("o-uf4")
    with caplog.at_level(logging.WARNING):
        assert learn() == 1
    assert person(db, "o-uf4").unionid is None
    assert person(db, "demo-trainee").unionid == "union-demo-trainee"
    assert lookup(db, "o-uf4") is None  # asking again would answer the same
    assert "held by person" in caplog.text
    assert "union-demo-trainee" not in caplog.text and "o-uf4" not in caplog.text


def test_an_answer_without_a_unionid_ends_the_lookup(wechat, fake_wechat, learn, db):
    # The account has no open-platform account: WeChat answers the user without a unionid.
    fake_wechat.state.unionids["o-uf5"] = None
    wechat.follow("o-uf5")
    assert learn() == 1
    assert person(db, "o-uf5").unionid is None and lookup(db, "o-uf5") is None


def test_a_follower_whose_unionid_is_known_is_not_looked_up(wechat, fake_wechat, learn):
    wechat.unfollow("demo-trainee")
    wechat.follow("demo-trainee")
    assert learn() == 0 and fake_wechat.state.user_infos == []


def test_no_answer_from_wechat_does_not_stop_the_worker(wechat, services, db):
    wechat.follow("o-uf6")
    nowhere = Client(services.config, services.kv)
    nowhere.API_BASE_URL = "http://127.0.0.1:9/cgi-bin/"  # nothing listens: connection refused
    assert worker.learn_unionids(services, nowhere) == 1
    row = lookup(db, "o-uf6")
    assert person(db, "o-uf6").unionid is None and row.last_error == "ConnectionError"


def test_a_record_a_cadre_made_gets_the_unionid_once_its_owner_binds_it(
        wechat, fake_wechat, learn, services, clock, db):
    with services.sessions.begin() as session:
        record = Person(name="王奶奶", created_at=clock.now(), is_following=False)
        session.add(record)
        code = issue_bind_code(session, vault=services.vault, person=record, now=clock.now())
    fake_wechat.state.unionids["o-uf7"] = "union-o-uf7"
    wechat.follow("o-uf7")  # a first-contact row first, then the record takes its openid
    assert "王奶奶" in wechat.say("o-uf7", f"绑定 {code}").text
    assert learn() == 1
    owner = person(db, "o-uf7")
    assert owner.id == record.id and owner.unionid == "union-o-uf7"


def test_following_again_through_a_staff_invitation_counts_as_following(
        wechat, fake_wechat, learn, db, sessions, clock):
    # Someone who left comes back by scanning their institution's staff invitation: they
    # follow again (so broadcasts reach them) and their unionid is asked for like anyone's.
    fake_wechat.state.unionids["o-uf-qr"] = "union-o-uf-qr"
    wechat.follow("o-uf-qr")
    wechat.send(wechat.event("o-uf-qr", "unsubscribe"))
    assert person(db, "o-uf-qr").is_following is False
    with sessions.begin() as setup:
        token = invite_staff(setup, institution_code="lp-zhongzhi", now=clock.now())
    wechat.follow("o-uf-qr", scene=f"staff:{token}")
    assert person(db, "o-uf-qr").is_following is True
    learn()
    assert person(db, "o-uf-qr").unionid == "union-o-uf-qr"

"""The /wechat callback as WeChat's server uses it, and as a forger or a broken client would."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from models.audit import AuditEntry
from models.persons import Person
from runtime.config import Config
from tests.wechat_server import WeChatServer, signature
from webhooks.app import create_app

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx1234567890abcdef"


def persons(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count(Person.id)))


def test_echostr_is_returned_to_a_correctly_signed_check(client, config, clock):
    ts = str(int(clock.now().timestamp()))
    response = client.get("/wechat", query_string={
        "signature": signature(config.wechat_token, ts, "42"), "timestamp": ts, "nonce": "42",
        "echostr": "7431823495628381"})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "7431823495628381"


def test_echostr_check_with_a_wrong_signature_is_refused(client, clock):
    ts = str(int(clock.now().timestamp()))
    response = client.get("/wechat", query_string={
        "signature": "0" * 40, "timestamp": ts, "nonce": "42", "echostr": "x"})
    assert response.status_code == 403
    assert "x" not in response.get_data(as_text=True)


def test_a_forged_signature_is_refused_and_changes_nothing(wechat, db):
    before = persons(db)
    answer = wechat.send(wechat.xml("forger", "text", Content="课程", MsgId=1),
                         query={"signature": "f" * 40})
    assert answer.status == 403
    assert persons(db) == before


def test_a_request_signed_long_ago_is_refused(wechat, clock, db):
    before = persons(db)
    # Correctly signed, but half an hour ago: a replay after the de-duplication window.
    timestamp = str(int(clock.now().timestamp()) - 1800)
    answer = wechat.send(wechat.xml("late", "text", Content="课程", MsgId=2),
                         query={"timestamp": timestamp, "nonce": "1",
                                "signature": signature(wechat.token, timestamp, "1")})
    assert answer.status == 403
    assert persons(db) == before


def test_reply_goes_back_to_the_sender_from_the_account(wechat):
    answer = wechat.say("o-reply", "帮助")
    assert "<ToUserName><![CDATA[o-reply]]></ToUserName>" in answer.body
    assert "<FromUserName><![CDATA[gh_peixun_demo]]></FromUserName>" in answer.body


def test_a_huge_body_is_refused_with_413(wechat, db):
    before = persons(db)
    answer = wechat.say("o-big", "课" * 40_000)
    assert answer.status == 413
    assert persons(db) == before


@pytest.mark.parametrize("body", [
    "<xml><FromUserName>x</FromUserName><MsgType>text",  # cut off
    "not xml at all",
    "<xml><ToUserName>gh</ToUserName><FromUserName>x</FromUserName></xml>",  # no MsgType
    "<xml><MsgType>text</MsgType><Content>hi</Content></xml>",  # no sender
    "<xml>plain</xml>",
    "",
])
def test_malformed_messages_get_400_and_change_nothing(wechat, db, body):
    before = persons(db)
    answer = wechat.send(body)
    assert answer.status == 400
    assert persons(db) == before


def test_an_entity_expansion_trick_is_refused(wechat, db):
    before = persons(db)
    bomb = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            '<xml><FromUserName>bomb</FromUserName><MsgType>text</MsgType>'
            '<Content>&b;</Content><MsgId>3</MsgId></xml>')
    answer = wechat.send(bomb)
    assert answer.status == 400
    assert persons(db) == before


def test_an_external_entity_is_refused(wechat):
    xxe = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY f SYSTEM "file:///etc/passwd">]>'
           '<xml><FromUserName>xxe</FromUserName><MsgType>text</MsgType>'
           '<Content>&f;</Content><MsgId>4</MsgId></xml>')
    answer = wechat.send(xxe)
    assert answer.status == 400
    assert "root:" not in answer.body


@pytest.mark.parametrize("msg_type", ["image", "video", "shortvideo", "link", "file"])
def test_message_types_the_bot_cannot_read_get_a_short_help(wechat, msg_type):
    answer = wechat.send(wechat.xml("o-pic", msg_type, MediaId="m", PicUrl="http://x/p.jpg",
                                    MsgId=99))
    assert answer.status == 200
    assert "我能看懂文字和语音消息" in answer.text
    assert "1. 查课程" in answer.text


def test_an_event_the_account_does_not_use_gets_no_reply(wechat):
    answer = wechat.send(wechat.event("o-evt", "some_future_event", EventKey="k"))
    assert answer.is_silent


def test_a_retried_message_is_acted_on_once_and_answered_the_same(wechat):
    wechat.say("o-retry", "课程")
    first = wechat.say("o-retry", "下一页", msg_id=555_001)
    again = wechat.say("o-retry", "下一页", msg_id=555_001)
    thrice = wechat.say("o-retry", "下一页", msg_id=555_001)
    assert "第2/3页" in first.text
    # Acting twice would have moved on to page 3.
    assert again.text == first.text == thrice.text


def test_a_retried_event_is_acted_on_once(wechat, db):
    xml = wechat.event("o-twice", "subscribe")
    first = wechat.send(xml)
    again = wechat.send(xml)
    assert again.text == first.text
    person = db.scalar(select(Person).where(Person.openid == "o-twice"))
    follows = db.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.target_id == person.id, AuditEntry.action == "person.first_contact"))
    assert follows == 1


def test_the_request_log_has_no_openid_or_signature(wechat, caplog):
    with caplog.at_level(logging.INFO):
        wechat.say("o-private-77", "课程")
    lines = [r.getMessage() for r in caplog.records if r.name == "peixun.request"]
    assert any(line.startswith("POST /wechat 200") for line in lines)
    assert not any("o-private-77" in line or "signature" in line for line in lines)


@pytest.fixture
def safe_wechat(config, stack, sessions, kv, clock):
    safe = config.but(wechat_encoding_aes_key=AES_KEY, wechat_app_id=APP_ID)
    app = create_app(safe, engine=stack.engine, sessions=sessions, kv=kv, clock=clock)
    return WeChatServer(app.test_client(), token=safe.wechat_token, clock=clock,
                        aes_key=AES_KEY, app_id=APP_ID)


def test_safe_mode_decrypts_the_message_and_encrypts_the_reply(safe_wechat):
    answer = safe_wechat.say("o-safe", "课程")
    assert answer.status == 200
    assert "开放报名的课程" in answer.text  # after decrypting with the account's key
    assert "<Encrypt>" in answer.wire and "<MsgSignature>" in answer.wire
    assert "开放报名" not in answer.wire and "o-safe" not in answer.wire


def test_safe_mode_with_a_wrong_msg_signature_is_refused(safe_wechat, db):
    before = persons(db)
    answer = safe_wechat.send(safe_wechat.xml("o-bad", "text", Content="课程", MsgId=8),
                              query={"msg_signature": "0" * 40})
    assert answer.status == 403
    assert persons(db) == before


def test_safe_mode_message_for_another_account_is_refused(config, stack, sessions, kv, clock, db):
    safe = config.but(wechat_encoding_aes_key=AES_KEY, wechat_app_id=APP_ID)
    app = create_app(safe, engine=stack.engine, sessions=sessions, kv=kv, clock=clock)
    other = WeChatServer(app.test_client(), token=safe.wechat_token, clock=clock,
                         aes_key=AES_KEY, app_id="wxanotherappid000")
    answer = other.say("o-other", "课程")
    assert answer.status == 403


def test_an_encrypted_message_without_a_key_configured_is_refused(wechat):
    answer = wechat.send(wechat.xml("o-x", "text", Content="课程", MsgId=9),
                         query={"encrypt_type": "aes", "msg_signature": "0" * 40})
    assert answer.status == 400


def test_a_broken_database_gets_a_polite_reply_not_an_error(tmp_path, config, kv, clock):
    # An empty database without tables: every query fails inside the bot.
    broken = create_app(config.but(database_url=f"sqlite:///{tmp_path / 'empty.db'}"),
                        kv=kv, clock=clock)
    answer = WeChatServer(broken.test_client(), token=config.wechat_token, clock=clock).say(
        "o-broken", "课程")
    assert answer.status == 200
    assert "系统出了点问题" in answer.text
    assert "Traceback" not in answer.body


def test_the_bot_answers_when_redis_is_down(config, stack, sessions, clock):
    from runtime.services import make_kv

    down = make_kv("redis://127.0.0.1:1/0")
    app = create_app(config.but(redis_url="redis://127.0.0.1:1/0"), engine=stack.engine,
                     sessions=sessions, kv=down, clock=clock)
    answer = WeChatServer(app.test_client(), token=config.wechat_token, clock=clock).say(
        "o-noredis", "课程")
    assert answer.status == 200
    assert "开放报名的课程" in answer.text


def test_errors_outside_the_callback_are_short_and_in_the_readers_language(client):
    response = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.get_data(as_text=True) == "This page does not exist."
    response = client.get("/no-such-page")
    assert response.get_data(as_text=True) == "页面不存在。"


def test_production_refuses_to_start_without_secrets():
    from runtime.config import ConfigError

    with pytest.raises(ConfigError) as error:
        Config.from_env({"PEIXUN_ENV": "production", "SECRET_KEY": "s"})
    message = str(error.value)
    assert "WECHAT_TOKEN" in message and "PEIXUN_DATA_KEY" in message
    assert "SECRET_KEY" not in message.split(":")[1]


def test_in_safe_mode_a_plain_body_is_refused(safe_wechat, db):
    before = persons(db)
    server = safe_wechat
    crypto, server.crypto = server.crypto, None  # post as if the account were in plain mode
    try:
        answer = server.say("o-plain-in-safe", "课程")
    finally:
        server.crypto = crypto
    assert answer.status == 403
    assert persons(db) == before


def test_a_signed_query_reused_with_another_body_is_refused(wechat, clock, db):
    timestamp = str(int(clock.now().timestamp()))
    query = {"timestamp": timestamp, "nonce": "777",
             "signature": signature(wechat.token, timestamp, "777")}
    first = wechat.send(wechat.xml("o-n1", "text", Content="帮助", MsgId=9001), query=query)
    assert first.status == 200
    # WeChat's own retry repeats query and body: answered again.
    again = wechat.send(wechat.xml("o-n1", "text", Content="帮助", MsgId=9001), query=query)
    assert again.status == 200 and again.text == first.text
    before = persons(db)
    forged = wechat.send(wechat.xml("o-n2", "text", Content="课程", MsgId=9002), query=query)
    assert forged.status == 403
    assert persons(db) == before


def test_the_checks_signed_query_cannot_carry_a_message(wechat, client, clock, db):
    # In plain mode a message's signature covers the query only: the query of WeChat's GET
    # check, read off a proxy's log, would otherwise carry any body from any sender.
    timestamp = str(int(clock.now().timestamp()))
    query = {"timestamp": timestamp, "nonce": "4242",
             "signature": signature(wechat.token, timestamp, "4242")}
    check = client.get("/wechat", query_string={**query, "echostr": "echo-1"})
    assert check.status_code == 200 and check.get_data(as_text=True) == "echo-1"
    before = persons(db)
    forged = wechat.send(wechat.xml("o-from-check", "text", Content="课程", MsgId=9101),
                         query=query)
    assert forged.status == 403 and forged.text == ""
    assert persons(db) == before
    # A message with a query of its own is answered as ever.
    assert "开放报名的课程" in wechat.say("o-from-check", "课程").text


def test_a_messages_signed_query_cannot_pass_the_check(wechat, client, clock):
    timestamp = str(int(clock.now().timestamp()))
    query = {"timestamp": timestamp, "nonce": "4343",
             "signature": signature(wechat.token, timestamp, "4343")}
    sent = wechat.send(wechat.xml("o-then-check", "text", Content="帮助", MsgId=9102),
                       query=query)
    assert sent.status == 200
    check = client.get("/wechat", query_string={**query, "echostr": "echo-2"})
    assert check.status_code == 403
    assert "echo-2" not in check.get_data(as_text=True)


# --- what the fuzzer found (bench/fuzz.py): bodies WeChat never sends reached the bot -------

@pytest.mark.parametrize("fields", [
    # A repeated field: the openid arrived as a list and failed in the database.
    "<FromUserName>o-twice-a</FromUserName><FromUserName>o-twice-b</FromUserName>"
    "<MsgType>text</MsgType><Content>课程</Content>",
    # A text field with elements inside.
    "<FromUserName>o-nested</FromUserName><MsgType>text</MsgType><Content><b>课程</b></Content>",
    "<FromUserName><id>o-nested</id></FromUserName><MsgType>text</MsgType><Content>课程</Content>",
    # A location that is no number, no place on earth, or missing.
    "<FromUserName>o-loc</FromUserName><MsgType>location</MsgType>"
    "<Location_X>0x1f</Location_X><Location_Y>103.2</Location_Y><Scale>15</Scale>",
    "<FromUserName>o-loc</FromUserName><MsgType>location</MsgType>"
    "<Location_X>nan</Location_X><Location_Y>103.2</Location_Y>",
    "<FromUserName>o-loc</FromUserName><MsgType>location</MsgType>"
    "<Location_X>24.9</Location_X><Location_Y>1e309</Location_Y>",
    "<FromUserName>o-loc</FromUserName><MsgType>location</MsgType><Label>家</Label>",
    "<FromUserName>o-loc</FromUserName><MsgType>event</MsgType><Event>LOCATION</Event>"
    "<Latitude>abc</Latitude><Longitude>103.2</Longitude>",
    "<FromUserName>o-loc</FromUserName><MsgType>event</MsgType><Event>LOCATION</Event>"
    "<Latitude>-91</Latitude><Longitude>103.2</Longitude>",
    "<FromUserName>o-loc</FromUserName><MsgType>event</MsgType><Event>LOCATION</Event>",
    # A scan without what was scanned.
    "<FromUserName>o-scan</FromUserName><MsgType>event</MsgType><Event>scancode_waitmsg</Event>"
    "<EventKey>CHECKIN</EventKey>",
    "<FromUserName>o-scan</FromUserName><MsgType>event</MsgType><Event>scancode_waitmsg</Event>"
    "<EventKey>CHECKIN</EventKey><ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo>",
    "<FromUserName>o-scan</FromUserName><MsgType>event</MsgType><Event>scancode_push</Event>"
    "<EventKey>REDEEM</EventKey><ScanCodeInfo>PXV:1:1:x</ScanCodeInfo>",
    # A time that is no number.
    "<FromUserName>o-time</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType>"
    "<Content>课程</Content>",
])
def test_a_body_wechat_never_sends_gets_400_and_reaches_no_one(wechat, db, caplog, fields):
    before = persons(db)
    with caplog.at_level(logging.INFO):
        answer = wechat.send(f"<xml><ToUserName>gh_peixun_demo</ToUserName>{fields}"
                             "<MsgId>123456</MsgId></xml>")
    assert answer.status == 400
    assert persons(db) == before
    assert not [r for r in caplog.records if r.exc_info]


def test_a_location_sent_on_purpose_is_still_taken(wechat):
    wechat.follow("o-loc-ok")
    answer = wechat.send(wechat.xml("o-loc-ok", "location", Location_X=24.88, Location_Y=103.2,
                                    Scale=15, Label="罗平", MsgId=9201))
    assert answer.status == 200 and answer.text


def test_an_event_wechat_does_send_with_elements_inside_is_answered_success(wechat, db):
    """MASSSENDJOBFINISH carries CopyrightCheckResult with elements inside: WeChat's own event,
    answered "success" (a 400 would make WeChat retry it three times)."""
    before = persons(db)
    answer = wechat.send(
        "<xml><ToUserName>gh_peixun_demo</ToUserName><FromUserName>o-mass</FromUserName>"
        "<CreateTime>1764990000</CreateTime><MsgType>event</MsgType>"
        "<Event>MASSSENDJOBFINISH</Event><MsgID>1000001625</MsgID><Status>send success</Status>"
        "<TotalCount>3</TotalCount><FilterCount>3</FilterCount><SentCount>3</SentCount>"
        "<ErrorCount>0</ErrorCount><CopyrightCheckResult><Count>0</Count><ResultList/>"
        "<CheckState>1</CheckState></CopyrightCheckResult></xml>")
    assert answer.status == 200
    assert persons(db) == before

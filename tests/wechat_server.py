"""Plays WeChat's server: builds the XML it sends, signs it (and encrypts it in safe mode) the
way it does, posts it to /wechat, and reads the reply a person would see."""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from flask.testing import FlaskClient
from wechatpy.crypto import WeChatCrypto

from models.clock import Clock

ACCOUNT = "gh_peixun_demo"
_ids = itertools.count(7_000_000_000_000_000_000)


def signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


@dataclass
class Answer:
    status: int
    body: str  # the reply XML (decrypted in safe mode)
    text: str  # what the person reads; "" when the account says nothing
    wire: str = ""  # exactly what went back over the wire

    @property
    def is_silent(self) -> bool:
        return self.status == 200 and self.text == ""


@dataclass(frozen=True)
class Voice:
    """In a transcript: a voice message, as WeChat's speech recognition made it out."""

    recognition: str


@dataclass(frozen=True)
class Absent:
    """In a transcript: words the reply must not contain."""

    words: str


def absent(words: str) -> Absent:
    return Absent(words)


# What a transcript expects of one reply: words it contains, words it must not contain
# (absent), several of them in a list, or None for a line whose reply is not checked.
Expected = str | Absent | list[str | Absent] | None


def check_reply(said: str, answer: Answer, expected: Expected) -> None:
    for words in [] if expected is None else [expected] if isinstance(
            expected, (str, Absent)) else expected:
        if isinstance(words, Absent):
            assert words.words not in answer.text, (
                f"after {said!r}: {words.words!r} should not be in\n{answer.text}")
        else:
            assert words in answer.text, f"after {said!r}: {words!r} not in\n{answer.text}"


class WeChatServer:
    def __init__(self, client: FlaskClient, *, token: str, clock: Clock,
                 aes_key: str | None = None, app_id: str | None = None) -> None:
        self.client = client
        self.token = token
        self.clock = clock
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None
        self.last_xml: str | None = None

    # --- what people do -------------------------------------------------------------------
    def say(self, openid: str, text: str, *, msg_id: int | None = None) -> Answer:
        return self.send(self.xml(openid, "text", Content=text, MsgId=msg_id or next(_ids)))

    def transcript(self, openid: str, lines: list[tuple]) -> list[Answer]:
        """A dialogue: each line said (typed, or spoken as a Voice) in turn and its reply
        checked; a line may add, third, a list of words the reply must not contain."""
        answers = []
        for said, expected, *refused in lines:
            answer = (self.speak(openid, said.recognition) if isinstance(said, Voice)
                      else self.say(openid, said))
            check_reply(said, answer, expected)
            check_reply(said, answer, [absent(words) for words in refused[0]] if refused else None)
            answers.append(answer)
        return answers

    def speak(self, openid: str, recognition: str) -> Answer:
        return self.send(self.xml(openid, "voice", MediaId="media-1", Format="amr",
                                  Recognition=recognition, MsgId=next(_ids)))

    def click(self, openid: str, key: str) -> Answer:
        return self.send(self.event(openid, "CLICK", EventKey=key))

    def scan(self, openid: str, key: str, result: str) -> Answer:
        xml = self.event(openid, "scancode_waitmsg", EventKey=key, _inner=(
            "<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType>"
            f"<ScanResult><![CDATA[{result}]]></ScanResult></ScanCodeInfo>"))
        return self.send(xml)

    def follow(self, openid: str, scene: str | None = None) -> Answer:
        extra = {"EventKey": f"qrscene_{scene}", "Ticket": "ticket"} if scene else {}
        return self.send(self.event(openid, "subscribe", **extra))

    def unfollow(self, openid: str) -> Answer:
        return self.send(self.event(openid, "unsubscribe"))

    def report_location(self, openid: str, lat: float, lng: float) -> Answer:
        return self.send(self.event(openid, "LOCATION", Latitude=lat, Longitude=lng,
                                    Precision=30))

    def tick(self) -> None:
        """A second passes between two things a person does, as in life; two events in the
        same second from the same person are one event retried (that is how WeChat's
        de-duplication key for events works)."""
        if hasattr(self.clock, "advance"):
            self.clock.advance(seconds=1)

    # --- the wire -------------------------------------------------------------------------
    def xml(self, openid: str, msg_type: str, _inner: str = "", **fields) -> str:
        parts = [f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>",
                 f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
                 f"<CreateTime>{int(self.clock.now().timestamp())}</CreateTime>",
                 f"<MsgType><![CDATA[{msg_type}]]></MsgType>"]
        for name, value in fields.items():
            text = str(value)
            parts.append(f"<{name}><![CDATA[{text}]]></{name}>" if isinstance(value, str)
                         else f"<{name}>{escape(text)}</{name}>")
        return "<xml>" + "".join(parts) + _inner + "</xml>"

    def event(self, openid: str, event: str, _inner: str = "", **fields) -> str:
        return self.xml(openid, "event", _inner=_inner, Event=event, **fields)

    def send(self, xml: str | bytes, *, query: dict | None = None) -> Answer:
        self.tick()
        self.last_xml = xml if isinstance(xml, str) else xml.decode("utf-8", "replace")
        timestamp = str(int(self.clock.now().timestamp()))
        nonce = str(next(_ids))
        params = {"signature": signature(self.token, timestamp, nonce), "timestamp": timestamp,
                  "nonce": nonce, "openid": "ignored"}
        body = xml
        if self.crypto:
            wrapped = self.crypto.encrypt_message(xml, nonce, timestamp)
            encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", wrapped).group(1)
            msg_signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", wrapped).group(1)
            # WeChat posts only ToUserName and Encrypt in the body; the signature is in the URL.
            body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
            params.update(encrypt_type="aes", msg_signature=msg_signature)
        params.update(query or {})
        response = self.client.post("/wechat", query_string=params, data=body,
                                    content_type="text/xml")
        return self.read(response, nonce, timestamp)

    def read(self, response, nonce: str, timestamp: str) -> Answer:
        body = wire = response.get_data(as_text=True)
        if response.status_code != 200 or body in ("", "success"):
            return Answer(response.status_code, body, "", wire)
        if self.crypto:
            signed = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", body).group(1)
            stamp = re.search(r"<TimeStamp>(.*?)</TimeStamp>", body).group(1)
            reply_nonce = re.search(r"<Nonce><!\[CDATA\[(.*?)\]\]>", body).group(1)
            body = self.crypto.decrypt_message(body, signed, stamp, reply_nonce)
        content = re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", body, re.S)
        return Answer(response.status_code, body, content.group(1) if content else "", wire)

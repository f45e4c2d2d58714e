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

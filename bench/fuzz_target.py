"""What the fuzzers drive (bench/fuzz.py with atheris, tests/test_fuzz.py with Hypothesis): the
real app on SQLite and the in-process Redis stand-in, with the demo county loaded, and one
input at a time sent through its doors:

- the WeChat callback, signed as WeChat's server signs (tests/wechat_server.py), in plain mode
  or encrypted (safe mode), so what is fuzzed is the body: its XML, MsgType, Event, EventKey,
  Content, ScanCodeInfo, location fields, odd, huge and unicode values;
- the mini-program API, every JSON endpoint of its OpenAPI document, with the bearer token of
  a signed-in demo trainee, staff member or cadre (or none, or a forged one), bodies built
  from the schema's own field names, with values of the right type or not.

An input is drawn from a ``Source`` (the fuzzer's bytes or Hypothesis's draws), so both
engines share these generators. A finding is a 5xx, a log record with a traceback, or a reply
WeChat could not read."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

import fakeredis
import xmltodict
from sqlalchemy.orm import sessionmaker
from wechatpy.crypto import WeChatCrypto

from cli.database import migrate
from devtools.fake_wechat import FakeWeChatServer
from models.base import make_engine
from models.clock import LOCAL_TZ, FrozenClock
from models.demo import DEMO_OPENIDS, load_demo
from models.pii import Vault
from runtime.config import Config
from webhooks.app import create_app

# The tests' Wednesday morning in Luoping: the demo data is laid out around it.
START = datetime(2026, 11, 25, 9, 0, tzinfo=LOCAL_TZ)
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx1234567890abcdef"
ACCOUNT = "gh_peixun_demo"
# Each message is a second after the one before, through a day's classes (9:00 to 19:00), then
# the day starts over: open sessions, windows and rotating codes all come round.
DAY_SECONDS = 10 * 3600


class Source(Protocol):
    """Where an input's choices come from."""

    def int(self, low: int, high: int) -> int: ...
    def bool(self) -> bool: ...
    def pick(self, options: Sequence[Any]) -> Any: ...
    def text(self, most: int) -> str: ...
    def bytes(self, most: int) -> bytes: ...
    def float(self) -> float: ...


class BytesSource:
    """Choices read from a fuzzer's bytes (atheris's FuzzedDataProvider)."""

    def __init__(self, provider: Any) -> None:
        self.fdp = provider

    def int(self, low: int, high: int) -> int:
        return self.fdp.ConsumeIntInRange(low, high)

    def bool(self) -> bool:
        return self.fdp.ConsumeBool()

    def pick(self, options: Sequence[Any]) -> Any:
        return self.fdp.PickValueInList(list(options))

    def text(self, most: int) -> str:
        return self.fdp.ConsumeUnicodeNoSurrogates(self.fdp.ConsumeIntInRange(0, most))

    def bytes(self, most: int) -> bytes:
        return self.fdp.ConsumeBytes(self.fdp.ConsumeIntInRange(0, most))

    def float(self) -> float:
        return self.fdp.ConsumeFloat()


class DrawSource:
    """Choices drawn by Hypothesis (``st.data()``), which shrinks a failing input."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies

        self.data, self.st = data, strategies

    def int(self, low: int, high: int) -> int:
        return self.data.draw(self.st.integers(low, high))

    def bool(self) -> bool:
        return self.data.draw(self.st.booleans())

    def pick(self, options: Sequence[Any]) -> Any:
        return self.data.draw(self.st.sampled_from(list(options)))

    def text(self, most: int) -> str:
        return self.data.draw(self.st.text(max_size=most))

    def bytes(self, most: int) -> bytes:
        return self.data.draw(self.st.binary(max_size=most))

    def float(self) -> float:
        return self.data.draw(self.st.floats())


# --- what people and forgers type ------------------------------------------------------------

WORDS = (
    "课程", "下一页", "1", "2", "3", "9", "0", "10", "999", "注册", "领券", "我的培训券", "出勤",
    "开课", "点名", "补签", "缺勤", "结业", "撤销报到", "村干部", "代报名", "绑定", "绑定小程序",
    "中文", "English", "帮助", "免费课程", "分类", "推荐", "回访", "招聘", "退订", "订阅", "补贴",
    "签到", "核销", "资料", "课程 电工", "课程电工", "找 焊工", "search welding", "bind 123456",
    "绑定 000000", "补签 PX2026000001 生病", "缺勤 PX2026000001", "结业 PX2026000001 A12345",
    "结业 PX2026000001 不合格", "撤销报到 PX2026000001 错了", "回访 PX2026000012 1",
    "张三", "530324199001011234", "13800138000", "是", "否", "取消", "返回", "y", "n", "+",
    "１２", "一", "十", "-1", "1e9", "٣", "𝟙", "\u200b", " ", "", "]]>", "<xml>", "&amp;",
    "%s", "{0}", "%(code)s", "\\", "'; DROP TABLE persons; --", "课" * 600, "9" * 40,
)
EVENTS = ("subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN", "LOCATION", "scancode_waitmsg",
          "scancode_push", "TEMPLATESENDJOBFINISH", "view_miniprogram", "MASSSENDJOBFINISH",
          "pic_sysphoto", "location_select", "subscribe_msg_popup_event", "")
MENU_KEYS = ("COURSES", "MY_VOUCHERS", "CHECKIN", "SUBSIDY", "PROFILE", "REDEEM", "CADRE",
             "LANGUAGE", "qrscene_", "qrscene_cadre:1", "qrscene_staff:1", "qrscene_x",
             "cadre:1", "staff:1", "cadre:999999999999", "https://peixun.test/", "")
MSG_TYPES = ("text", "voice", "event", "image", "location", "link", "video", "shortvideo",
             "file", "miniprogrampage", "", "TEXT")
NUMBERS = ("0", "1", "25.0", "102.9", "24.88", "24.9", "103.2", "90", "-180", "30", "15",
           "24.8812345678", "-1", "-91", "181", "1e309", "nan", "inf", "-0",
           "0x1f", "999999999999999999999999", "1.5.5", "", " 24.88 ", "二十")


@dataclass
class Generated:
    """Values the app handed out, which inputs reuse: live rotating codes."""

    codes: list[str] = field(default_factory=list)


def rare(src: Source, n: int) -> bool:
    """True once in ``n`` draws; False when the fuzzer's bytes run out (the usual case)."""
    return src.int(0, n - 1) == n - 1


def _value(src: Source, pool: Sequence[str], generated: Generated | None = None) -> str:
    choice = src.int(0, 15)
    if choice <= 10:
        return src.pick(pool)
    if choice == 11 and generated and generated.codes:
        return src.pick(generated.codes)
    if choice == 12:
        return src.pick(pool) * src.int(2, 2000)  # huge
    if choice == 13:
        return src.pick(pool) + " " + src.text(40)
    return src.text(120)


# What XML 1.0 cannot carry: WeChat never sends it, and the parser refuses it.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _field(name: str, value: str, cdata: bool) -> str:
    value = _NOT_XML.sub("", value)
    if cdata and "]]>" not in value:
        return f"<{name}><![CDATA[{value}]]></{name}>"
    return f"<{name}>{escape(value)}</{name}>"


def callback_xml(src: Source, generated: Generated, now: int) -> bytes:
    """A message as WeChat's server would post it, or a mangled one."""
    msg_type = _value(src, MSG_TYPES)
    fields: list[tuple[str, str]] = [("ToUserName", ACCOUNT)]
    if not rare(src, 16):
        fields.append(("FromUserName", _value(src, (*DEMO_OPENIDS, "o-fuzz-1", "o-fuzz-2"))))
    fields.append(("CreateTime", str(now) if not rare(src, 8) else _value(src, NUMBERS)))
    fields.append(("MsgType", msg_type))
    inner = ""
    kind = msg_type if not rare(src, 5) else src.pick(MSG_TYPES)
    if kind == "text":
        fields.append(("Content", _value(src, WORDS, generated)))
    elif kind == "voice":
        fields += [("MediaId", "media-1"), ("Format", "amr"),
                   ("Recognition", _value(src, WORDS, generated))]
    elif kind == "location":
        fields += [(name, _value(src, NUMBERS)) for name in ("Location_X", "Location_Y", "Scale")]
        fields.append(("Label", _value(src, WORDS)))
    elif kind == "event":
        event = _value(src, EVENTS)
        fields.append(("Event", event))
        if not rare(src, 4):
            fields.append(("EventKey", _value(src, MENU_KEYS)))
        if src.bool():
            fields += [(name, _value(src, NUMBERS)) for name in ("Latitude", "Longitude",
                                                                  "Precision")]
        if src.bool():
            fields.append(("Ticket", _value(src, ("ticket", ""))))
        if src.bool():
            result = _value(src, ("PXV:1:1:x", "PXC:1:1:x", "https://peixun.test/p/voucher/x",
                                  "", "PXV", "PXC:::"), generated)
            inner = ("<ScanCodeInfo>" + _field("ScanType", _value(src, ("qrcode", "barcode")),
                                               src.bool())
                     + _field("ScanResult", result, src.bool()) + "</ScanCodeInfo>")
            if rare(src, 6):
                inner = "<ScanCodeInfo>" + escape(result) + "</ScanCodeInfo>"  # no children
    else:
        fields += [("MediaId", "m"), ("PicUrl", "http://x/p.jpg"), ("Title", src.text(20))]
    if not rare(src, 4):
        fields.append(("MsgId", str(next(_msg_ids)) if not rare(src, 8)
                       else _value(src, NUMBERS)))
    if rare(src, 8):  # a field WeChat may add one day, or a repeated one
        fields.insert(src.int(0, len(fields)),
                      (src.pick(("Extra", "Content", "Event", "FromUserName", "MsgType", "a")),
                       _value(src, WORDS)))
    body = "".join(_field(name, value, not rare(src, 4)) for name, value in fields) + inner
    xml = f"<xml>{body}</xml>"
    mangle = src.int(0, 15)
    if mangle == 12:
        xml = xml[: src.int(0, len(xml))]  # cut off
    elif mangle == 13:
        at = src.int(0, len(xml))
        xml = xml[:at] + src.text(30) + xml[at:]  # control characters and all
    elif mangle == 14:
        xml = f"<xml><xml>{body}</xml><b>{src.text(10)}</b></xml>"  # nested, unexpected
    elif mangle == 15:
        return src.bytes(300)
    return xml.encode("utf-8")


_msg_ids = itertools.count(8_000_000_000_000_000_000)
_nonces = itertools.count(10**9)


def signature(token: str, timestamp: str, nonce: str) -> str:
    # As WeChat signs (and tests/wechat_server.py): SHA-1 of the three, sorted and joined.
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


# --- the API -------------------------------------------------------------------------------

ROLES = ("demo-trainee", "demo-staff", "demo-cadre")
STRINGS = ("", "lp-2026-001", "lp-2026-002", "PX2026000001", "PXV:1:1:x", "ELECTRICAL",
           "working", "training", "zh_Hans_CN", "en", "张三", "530324199001011234",
           "13800138000", "luoping", "a" * 300, "0", "-1", "true", "null", "2026-11-25",
           "09:00", "\u0000", "\ud7ff", "😀", "<script>", "=HYPERLINK(\"x\")")
INTEGERS = (0, 1, 2, 3, 5, 10, 50, -1, 2**31 - 1, 2**31, 2**63, -(2**63), 10**30)


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def json_value(src: Source, schema: dict, components: dict, depth: int = 0) -> Any:
    """A value for ``schema``: mostly of its type (or one of its choices), sometimes not."""
    schema = _resolve(schema, components)
    if depth > 4 or rare(src, 8):
        return _any_json(src, depth)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return json_value(src, src.pick(schema[key]), components, depth + 1)
    if "enum" in schema and not rare(src, 4):
        return src.pick(schema["enum"])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return json_object(src, schema, components, depth + 1)
    if kind == "array":
        return [json_value(src, schema.get("items", {}), components, depth + 1)
                for _ in range(src.int(0, 4))]
    if kind == "integer":
        return src.pick(INTEGERS) if src.bool() else src.int(-5, 60)
    if kind == "number":
        return src.pick((25.0, 102.9, 24.88, 0.0, -91.0, 1e308)) if src.bool() else src.float()
    if kind == "boolean":
        return src.bool()
    if kind == "null":
        return None
    return _value(src, STRINGS)


def json_object(src: Source, schema: dict, components: dict, depth: int = 0) -> dict:
    schema = _resolve(schema, components)
    body = {}
    for name, sub in schema.get("properties", {}).items():
        if name in schema.get("required", ()) or not rare(src, 3):
            body[name] = json_value(src, sub, components, depth)
    if rare(src, 4):
        body[src.text(12)] = _any_json(src, depth)
    return body


def _any_json(src: Source, depth: int) -> Any:
    kind = src.int(0, 7 if depth < 3 else 4)
    if kind == 0:
        return None
    if kind == 1:
        return src.bool()
    if kind == 2:
        return src.pick(INTEGERS)
    if kind == 3:
        return src.float()
    if kind == 4:
        return _value(src, STRINGS)
    if kind == 5:
        return [_any_json(src, depth + 1) for _ in range(src.int(0, 3))]
    return {src.text(8): _any_json(src, depth + 1) for _ in range(src.int(0, 3))}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # with {name} placeholders
    secured: bool
    body: dict | None
    query: tuple[tuple[str, dict], ...]
    path_params: tuple[str, ...]


def operations(document: dict) -> list[Operation]:
    """The API's operations, from its OpenAPI document; not those that end the session or
    erase the person (they take no JSON, and would leave the fuzzer without its callers)."""
    found = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            if method == "delete":
                continue
            content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            params = op.get("parameters", [])
            found.append(Operation(
                method.upper(), path, bool(op.get("security")), content.get("schema"),
                tuple((p["name"], p.get("schema", {})) for p in params if p["in"] == "query"),
                tuple(p["name"] for p in params if p["in"] == "path")))
    return found


# --- the harness -----------------------------------------------------------------------------


class Findings(logging.Handler):
    """Counts log records with a traceback: each is a failure the fuzzer found."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.tracebacks.append(self.format(record))


@dataclass
class Outcome:
    door: str  # "callback" or "api"
    status: int
    problem: str = ""  # a reply WeChat could not read


class Harness:
    """The app and its callers; ``one(src)`` sends one input through a door."""

    def __init__(self, directory: Path | None = None) -> None:
        self._tmp = None if directory else tempfile.TemporaryDirectory(prefix="peixun-fuzz-")
        directory = directory or Path(self._tmp.name)
        self.fake = FakeWeChatServer().__enter__()
        self.clock = FrozenClock(START)
        engine = make_engine(f"sqlite:///{directory / 'fuzz.db'}")
        migrate(engine)
        config = Config(testing=True, wechat_api_base_url=self.fake.base_url,
                        public_base_url="http://peixun.test",
                        wechat_notice_template_id="tpl-notice",
                        # The sender's rate limit would answer nearly every input alike.
                        messages_per_minute=10**9)
        with sessionmaker(engine).begin() as db:
            load_demo(db, vault=Vault(config.data_key), now=START, today=START.date())
        self.kv = fakeredis.FakeRedis(decode_responses=True)
        sessions = sessionmaker(engine, expire_on_commit=False)
        self.plain = create_app(config, engine=engine, sessions=sessions, kv=self.kv,
                                clock=self.clock)
        safe_config = config.but(wechat_encoding_aes_key=AES_KEY, wechat_app_id=APP_ID)
        self.safe = create_app(safe_config, engine=engine, sessions=sessions, kv=self.kv,
                               clock=self.clock)
        self.token = config.wechat_token
        self.crypto = WeChatCrypto(self.token, AES_KEY, APP_ID)
        self.findings = Findings()
        logging.getLogger().addHandler(self.findings)
        # The request log of every input would cost more than the input: warnings only.
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake WeChat API's
        self.client = self.plain.test_client()
        self.safe_client = self.safe.test_client()
        self.operations = operations(self.client.get("/api/v1/openapi.json").get_json())
        self.components = self.client.get("/api/v1/openapi.json").get_json()[
            "components"]["schemas"]
        self.tokens: dict[str, str] = {}
        self.generated = Generated()
        self.seconds = itertools.count()
        services = self.plain.extensions["peixun"]
        self.limiter_storage = services.limiter.storage
        self.safe_limiter_storage = self.safe.extensions["peixun"].limiter.storage
        for role in ROLES:
            self._sign_in(role)

    def close(self) -> None:
        logging.getLogger().removeHandler(self.findings)
        self.fake.__exit__(None, None, None)
        if self._tmp:
            self._tmp.cleanup()

    @property
    def tracebacks(self) -> list[str]:
        return self.findings.tracebacks

    def one(self, src: Source) -> Outcome:
        # Rate limits count on the real clock: at a fuzzer's pace they would answer 429 to
        # nearly everything, and what stands behind them would go unexplored.
        self.limiter_storage.reset()
        self.safe_limiter_storage.reset()
        return self.callback(src) if src.bool() else self.api(src)

    # --- the callback ----------------------------------------------------------------------
    def callback(self, src: Source) -> Outcome:
        second = next(self.seconds) % DAY_SECONDS
        self.clock.set(START + timedelta(seconds=second))
        if second % 20 == 0:
            self._show_codes()
        now = int(self.clock.now().timestamp())
        xml = callback_xml(src, self.generated, now)
        timestamp, nonce = str(now), str(next(_nonces))
        query = {"signature": signature(self.token, timestamp, nonce), "timestamp": timestamp,
                 "nonce": nonce, "openid": "o-query"}
        safe = rare(src, 3)
        client, body = self.client, xml
        if safe:
            client = self.safe_client
            wrapped = self.crypto.encrypt_message(xml.decode("utf-8", "replace"), nonce,
                                                  timestamp)
            encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", wrapped).group(1)
            query.update(encrypt_type="aes", msg_signature=re.search(
                r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", wrapped).group(1))
            body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>").encode()
        response = client.post("/wechat", query_string=query, data=body,
                               content_type="text/xml")
        return Outcome("callback", response.status_code,
                       self._unreadable(response, safe, timestamp, nonce))

    def _unreadable(self, response, safe: bool, timestamp: str, nonce: str) -> str:
        """Why WeChat could not read this reply, or ""."""
        text = response.get_data(as_text=True)
        if response.status_code != 200 or text in ("", "success"):
            return ""
        try:
            if safe:
                stamp = re.search(r"<TimeStamp>(.*?)</TimeStamp>", text).group(1)
                signed = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", text).group(1)
                reply_nonce = re.search(r"<Nonce><!\[CDATA\[(.*?)\]\]>", text).group(1)
                text = self.crypto.decrypt_message(text, signed, stamp, reply_nonce)
            reply = xmltodict.parse(text)["xml"]
        except (AttributeError, ExpatError, KeyError, ValueError, TypeError) as error:
            return f"reply not readable ({type(error).__name__}): {text[:200]!r}"
        if reply.get("MsgType") != "text" or not reply.get("Content"):
            return f"reply without text: {text[:200]!r}"
        return ""

    def _show_codes(self) -> None:
        """The codes voucher cards and class displays show now, for inputs to scan."""
        services, now = self.plain.extensions["peixun"], self.clock.now()
        self.generated.codes = [services.voucher_codes.show(i, now).code for i in range(1, 6)] + [
            services.class_codes.show(i, now).code for i in range(1, 40)]

    # --- the API ---------------------------------------------------------------------------
    def _sign_in(self, role: str) -> None:
        answer = self.client.post("/api/v1/session",
                                  json={"code": f"code-{role}~{next(_nonces)}"})
        self.tokens[role] = answer.get_json()["access_token"]

    def api(self, src: Source) -> Outcome:
        op: Operation = src.pick(self.operations)
        path = op.path
        for name in op.path_params:
            value = src.int(1, 30) if not rare(src, 4) else src.pick(INTEGERS)
            path = path.replace("{" + name + "}", str(value) if not rare(src, 8) else
                                src.text(10).replace("/", "").replace("?", "") or "x")
        headers = {"Accept-Language": src.pick(("zh-CN", "en", "fr", "", "zh;q=abc"))}
        role = src.pick((*ROLES, None, "forged"))
        if role == "forged":
            headers["Authorization"] = "Bearer " + _value(src, STRINGS)
        elif role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        if rare(src, 4):
            headers["Idempotency-Key"] = _value(src, ("k1", "k2", "", "x" * 300))
        query = {name: str(json_value(src, schema, self.components))
                 for name, schema in op.query if src.bool()}
        data: bytes | None = None
        if op.method != "GET" or rare(src, 8):
            shape = src.int(0, 9)
            if shape <= 6 and op.body:
                payload: Any = json_object(src, op.body, self.components)
            else:
                payload = _any_json(src, 0)
            data = json.dumps(payload, ensure_ascii=src.bool(),
                              allow_nan=True).encode("utf-8")
            if shape == 9:
                data = src.bytes(200)  # not JSON at all
        # An HTTP header holds no line break: the client would refuse to send one.
        headers = {name: re.sub(r"[\r\n]", " ", value) for name, value in headers.items()}
        response = self.client.open(path, method=op.method, query_string=query or None,
                                    data=data, headers=headers,
                                    content_type=src.pick(("application/json",
                                                           "application/json",
                                                           "text/plain", "")))
        if role in ROLES and response.status_code == 401:
            self._sign_in(role)  # the fuzzer ended its own session (a refresh replayed)
        return Outcome("api", response.status_code)

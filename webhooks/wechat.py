"""The official account's callback: signature, decryption, parsing, de-duplication; then the
bot; then the reply as XML, encrypted in safe mode."""

from __future__ import annotations

import logging
import math
import time
from xml.parsers.expat import ExpatError

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot import state as conversation
from bot.conversation import apologize, respond, slow_down
from bot.turn import Contact, Turn
from models.base import statement_budget
from models.outbox import enqueue_late_answer
from runtime.services import Services, current
from webhooks import dedup

logger = logging.getLogger(__name__)

bp = Blueprint("wechat", __name__)

# What WeChat expects when there is nothing to say.
NO_REPLY = "success"
# The text fields the bot and the de-duplication read: each must come once, as text. Fields
# it never reads may carry anything (WeChat sends elements inside some events' fields, such
# as MASSSENDJOBFINISH's CopyrightCheckResult; refusing those would make WeChat retry them).
TEXT_FIELDS = frozenset({"ToUserName", "FromUserName", "MsgType", "Event", "EventKey",
                         "Content", "Recognition", "MediaId", "Format", "Label", "Ticket",
                         "PicUrl", "Title", "Description", "Url"})
# Fields WeChat sends as numbers, with the range each may take (a latitude, a longitude).
NUMBER_FIELDS = {
    "CreateTime": (0, 2**32), "MsgId": (0, 2**64),
    "Location_X": (-90, 90), "Location_Y": (-180, 180), "Scale": (0, 100),
    "Latitude": (-90, 90), "Longitude": (-180, 180), "Precision": (0, 10**7),
}
# What a message (by MsgType) or an event (by Event) cannot be without.
REQUIRED_FIELDS = {"location": ("Location_X", "Location_Y")}
REQUIRED_EVENT_FIELDS = {"location": ("Latitude", "Longitude"),
                         "scancode_waitmsg": ("ScanCodeInfo",),
                         "scancode_push": ("ScanCodeInfo",)}
# WeChat waits 5 s for a reply: an answer ready later than this goes through the outbox.
LATE_SECONDS = 4.5
# How long a turn may wait on a slow database before it apologizes. Its answer is late after
# LATE_SECONDS anyway and goes through the outbox, so waiting costs the person seconds where an
# apology would cost a second try; gunicorn kills a worker that takes 30 s.
TURN_SECONDS = 20
# How often a retry may find the first delivery's mark run out and try to take it over.
TAKE_OVER_TRIES = 3
# The sender's message rate (config.messages_per_minute) is counted in windows of this length.
RATE_WINDOW_SECONDS = 60


@bp.get("/wechat")
def verify() -> Response:
    """WeChat's check of the server address: echo ``echostr`` if the signature is ours. Its
    signed query is spent here: a message posted with it later is a replay (403)."""
    services = current()
    _check_signature(services)
    if not dedup.spend_check(services.kv, timestamp=request.args.get("timestamp", ""),
                             nonce=request.args.get("nonce", ""),
                             ttl_seconds=services.config.dedup_seconds):
        abort(403)
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@bp.post("/wechat")
def receive() -> Response:
    services = current()
    _check_signature(services)
    timestamp = request.args.get("timestamp", "")
    nonce = request.args.get("nonce", "")
    is_encrypted = request.args.get("encrypt_type") == "aes"
    if services.config.is_safe_mode and not is_encrypted:
        # In safe mode WeChat always encrypts; a plain body is not from WeChat.
        abort(403)
    crypto = _crypto(services) if is_encrypted else None
    xml = _decrypt(crypto, request.get_data(), timestamp, nonce) if crypto else request.get_data()
    message = _parse(xml)
    answer = _act_once(services, message, timestamp, nonce)
    if not answer:
        return Response(NO_REPLY, mimetype="text/plain")
    reply = TextReply(content=answer, message=message).render()
    if crypto:
        reply = crypto.encrypt_message(reply, nonce, timestamp)
    return Response(reply, mimetype="application/xml")


def _act_once(services: Services, message: BaseMessage, timestamp: str, nonce: str) -> str:
    """The first delivery is answered by the bot, a retry gets that answer; Redis is asked
    once before (webhooks.dedup.admit) and written once after."""
    started = time.monotonic()
    kv, config = services.kv, services.config
    key = dedup.message_key(message._data)
    for _ in range(TAKE_OVER_TRIES):
        admission = dedup.admit(
            services.scripts, key=key, timestamp=timestamp, nonce=nonce,
            rate_key=f"peixun:rate:wechat:{message.source}", rate_seconds=RATE_WINDOW_SECONDS,
            state_key=conversation.key(message.source), ttl_seconds=config.dedup_seconds,
            pending_seconds=config.pending_seconds, processes=config.processes)
        if admission.verdict == "replay":
            # The signature covers the query, not the body: a captured query with another body.
            abort(403)
        if admission.verdict != "retry":
            break
        earlier = dedup.earlier_answer(kv, key, ttl_seconds=config.dedup_seconds)
        if earlier is not None:
            return earlier
        # The first delivery's mark ran out with no answer: its process died. Admitted again,
        # this retry acts (of two such retries at once, one wins and the other waits for it).
    else:
        return ""
    turn = Turn(openid=message.source, sessions=services.sessions, direct=services.direct, kv=kv,
                clock=services.clock, vault=services.vault,
                voucher_codes=services.voucher_codes, class_codes=services.class_codes,
                dialogue_seconds=config.dialogue_seconds, base_url=config.base_url,
                secret_key=config.secret_key, shared=services.shared,
                state=conversation.State.parse(admission.state),
                courses_version=admission.courses_version,
                contact=Contact(phone=config.service_phone, hours=config.service_hours))
    renewer = current_app.extensions["peixun.renewer"]
    with renewer.pending(key), statement_budget(TURN_SECONDS):
        answer = _answer(turn, message,
                         within_rate=admission.hits <= config.messages_per_minute)
        late = dedup.keep(services.scripts, key, answer, config.dedup_seconds,
                          state=turn.changed_state(),
                          slow=time.monotonic() - started > LATE_SECONDS)
    if late and answer and _send_later(services, message.source, key, answer):
        # WeChat has stopped waiting (or a retry was answered empty): the person gets the
        # answer once, as a customer message; this reply and the retries' are empty.
        return ""
    return answer


def _send_later(services: Services, openid: str, key: str, answer: str) -> bool:
    """Queue an answer that came too late for WeChat's reply; False when it could not be."""
    try:
        with services.sessions.begin() as db:
            queued = enqueue_late_answer(db, openid=openid, message_key=key, text=answer,
                                         now=services.clock.now())
    except SQLAlchemyError:
        logger.exception("late answer not queued")
        return False
    if queued:
        logger.info("answer came too late for WeChat's reply: sent through the outbox")
    return queued


def _answer(turn: Turn, message: BaseMessage, *, within_rate: bool) -> str:
    if not within_rate:
        return slow_down(turn).text
    try:
        return respond(turn, message).text
    except Exception:
        # The one catch-all: the person gets a polite line, the log gets the traceback.
        logger.exception("bot failed on a %s message", message.type)
        return apologize(turn).text


def _check_signature(services: Services) -> None:
    args = request.args
    try:
        check_signature(services.config.wechat_token, args.get("signature", ""),
                        args.get("timestamp", ""), args.get("nonce", ""))
    except InvalidSignatureException:
        abort(403)
    _check_fresh(services, args.get("timestamp", ""))


def _check_fresh(services: Services, timestamp: str) -> None:
    """A signed request replayed after the de-duplication window has closed is refused: the
    window must outlast the tolerated clock skew, so no replay is acted on twice."""
    try:
        sent = int(timestamp)
    except ValueError:
        abort(403)
    skew = abs(services.clock.now().timestamp() - sent)
    if skew > services.config.dedup_seconds / 2:
        abort(403)


def _crypto(services: Services) -> WeChatCrypto:
    config = services.config
    if not config.is_safe_mode:
        abort(400, "encrypted message, but no WECHAT_ENCODING_AES_KEY is set")
    return WeChatCrypto(config.wechat_token, config.wechat_encoding_aes_key, config.wechat_app_id)


def _decrypt(crypto: WeChatCrypto, body: bytes, timestamp: str, nonce: str) -> bytes:
    _refuse_doctype(body)
    try:
        return crypto.decrypt_message(body, request.args.get("msg_signature", ""), timestamp,
                                      nonce)
    except (InvalidSignatureException, InvalidAppIdException):
        abort(403)
    except (ExpatError, KeyError, ValueError, TypeError, UnicodeDecodeError):
        abort(400, "malformed encrypted message")


def _parse(xml: bytes | str) -> BaseMessage:
    _refuse_doctype(xml)
    try:
        message = parse_message(xml)
    except (ExpatError, KeyError, ValueError, TypeError, AttributeError, UnicodeDecodeError):
        abort(400, "malformed message")
    if message is None or not message._data.get("FromUserName") \
            or not _is_wechat_shaped(message._data):
        abort(400, "malformed message")
    return message


def _is_wechat_shaped(data: dict) -> bool:
    """Each field once and as text, as WeChat sends them: a repeated field is a list and one
    with elements inside a dict, which no reader of a text field expects (a list for an
    openid reached the database); a number where WeChat sends one, within its range (a
    latitude of "abc" or 1e309 failed in the bot)."""
    for name, value in data.items():
        if not _is_field_shaped(name, value):
            return False
    kind = str(data.get("MsgType") or "").lower()
    required = REQUIRED_FIELDS.get(kind, ())
    if kind == "event":
        required = REQUIRED_EVENT_FIELDS.get(str(data.get("Event") or "").lower(), ())
    return all(data.get(name) for name in required)


def _is_field_shaped(name: str, value: object) -> bool:
    if name == "ScanCodeInfo":
        return isinstance(value, dict) and "ScanResult" in value and all(
            isinstance(inner, str | None) for inner in value.values())
    if name in NUMBER_FIELDS:
        return isinstance(value, str) and _is_number_within(value, *NUMBER_FIELDS[name])
    return name not in TEXT_FIELDS or isinstance(value, str | None)


def _is_number_within(text: str | None, low: float, high: float) -> bool:
    try:
        number = float(text or "")
    except ValueError:
        return False
    return math.isfinite(number) and low <= number <= high


def _refuse_doctype(xml: bytes | str) -> None:
    # WeChat never sends a DTD; one here is an entity trick (billion laughs, external files).
    head = xml if isinstance(xml, bytes) else xml.encode("utf-8", "replace")
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
        abort(400, "malformed message")

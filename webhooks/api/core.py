"""What every endpoint shares: the blueprint and its OpenAPI description (spectree), bearer
tokens, the caller, one transaction per operation, rate limits and idempotency."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from flask import Blueprint, Response, g, request
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from limits import RateLimitItem, RateLimitItemPerMinute
from redis import RedisError
from spectree import SecurityScheme, SpecTree
from spectree.models import SecuritySchemeData

from locales import Translator
from models.miniprogram import SessionInvalid, session_person
from runtime.services import Services, current
from webhooks.api.errors import ApiError
from webhooks.locale import request_locale
from webhooks.routing import ID_MAX, route

logger = logging.getLogger(__name__)
T = TypeVar("T")

bp = Blueprint("api", __name__, url_prefix="/api/v1", template_folder="templates")

# An access token lives this long; the refresh token (models.miniprogram) renews it.
ACCESS_SECONDS = 15 * 60
# Per person and per address (a whole village may share one address behind a carrier's NAT).
PERSON_RATE = RateLimitItemPerMinute(120)
ADDRESS_RATE = RateLimitItemPerMinute(600)
# Signed-in calls from one address: generous (a township's phones behind one NAT), yet a bound
# on one address flooding the API with tokens, forged or stolen.
SIGNED_IN_ADDRESS_RATE = RateLimitItemPerMinute(1200)
# Signing in and typing link codes: guessable six-digit codes need a tight limit.
SIGN_IN_RATE = RateLimitItemPerMinute(20)
LINK_RATE = RateLimitItemPerMinute(5)
IDEMPOTENCY_SECONDS = 24 * 3600


def _validation_failed(req, resp, error, instance, model_adapter) -> None:
    if error is not None:
        problems = error.errors() if hasattr(error, "errors") else []
        first = problems[0] if problems else {}
        location = [str(part) for part in first.get("loc", ()) if part != "__root__"]
        raise ApiError(422, "missing" if first.get("type") == "missing" else "validation",
                       field=".".join(location) or None, reason=first.get("type"))


def _response_invalid(req, resp, error, instance, model_adapter) -> None:
    if error is not None:
        logger.error("API response does not match its schema on %s", route())
        raise ApiError(500, "internal")


spec = SpecTree(
    "flask",
    title="Peixun mini-program API",
    version="1.0.0",
    description=(
        "The JSON API of the county's vocational-training service for its WeChat "
        "mini-program. Sign in with the code from wx.login, then send "
        "`Authorization: Bearer <access_token>`. Errors are "
        "`{\"error\": {\"code\", \"message\", \"field\", \"reason\"}}`, the message in the "
        "language of Accept-Language (Chinese by default)."),
    # Only the routes decorated here are described; the document is served by docs.py.
    mode="strict",
    path="api/v1/_spectree",
    page_templates={},
    security_schemes=[SecurityScheme(name="bearer", data=SecuritySchemeData(
        type="http", scheme="bearer", description="the access_token of POST /session"))],
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    before=_validation_failed,
    after=_response_invalid,
)
AUTH = {"bearer": []}
# A row id in a path: the app's <int:…> already stops at ID_MAX; spelled out here so that the
# OpenAPI document states it (spectree reads it from the rule). No `min`: an id of 0 reaches
# the operation, which answers that it does not exist.
ID = f"int(max={ID_MAX})"


# --- tokens --------------------------------------------------------------------------------

class _ClockSigner(TimestampSigner):
    """Token ages measured on the services' clock (tests move it)."""

    def __init__(self, *args: Any, now: Callable[[], datetime], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return int(self._now().timestamp())


def _tokens(services: Services) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services.config.secret_key, salt="peixun-api-access",
                                  signer=_ClockSigner,
                                  signer_kwargs={"now": services.clock.now})


def access_token(services: Services, *, account_id: int, person_id: int, family: str) -> str:
    return _tokens(services).dumps({"a": account_id, "p": person_id, "f": family})


@dataclass(frozen=True)
class Caller:
    """Who is calling: the person (and their official-account openid, which the domain's
    operations take) and the session their token belongs to."""

    person_id: int
    openid: str
    account_id: int
    family: str


def caller() -> Caller:
    """The signed-in caller, or 401."""
    if "caller" in g:
        return g.caller
    # Counted before the token is read: forged tokens cost no database query past the limit.
    within_rate(SIGNED_IN_ADDRESS_RATE, "ip-signed-in", client_address())
    services = current()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
    try:
        claims = _tokens(services).loads(token.strip(), max_age=ACCESS_SECONDS)
    except SignatureExpired:
        raise ApiError(401, "token_expired", headers={"WWW-Authenticate": "Bearer"}) from None
    except BadSignature:
        raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"}) from None
    try:
        person = run(session_person, account_id=int(claims["a"]), family=str(claims["f"]))
    except SessionInvalid:
        # Signed out, or the refresh token was reused: the session's access tokens end now.
        raise ApiError(401, "session_invalid", reason="ended",
                       headers={"WWW-Authenticate": "Bearer"}) from None
    if person.id != claims["p"]:
        # The account was linked to someone else since: this token no longer speaks for them.
        raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
    g.caller = Caller(person_id=person.id, openid=person.openid, account_id=int(claims["a"]),
                      family=str(claims["f"]))
    within_rate(PERSON_RATE, "person", str(person.id))
    return g.caller


# --- one operation, one transaction --------------------------------------------------------

def run(operation: Callable[..., T], **kwargs: Any) -> T:
    with current().sessions.begin() as db:
        return operation(db, **kwargs)


def now() -> datetime:
    return current().clock.now()


def words() -> Translator:
    from locales import translator

    return translator(request_locale())


def ok(payload: Any, status: int = 200) -> tuple[Response, int]:
    """A JSON answer no cache keeps (codes rotate, seats change)."""
    response = Response(json.dumps(payload, ensure_ascii=False), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response, status


# --- rate limits ---------------------------------------------------------------------------

def within_rate(item: RateLimitItem, *keys: str) -> None:
    """Count one hit; 429 with Retry-After past the limit. With Redis lost the limiter counts
    in this process (runtime.services.Limiter); if even that fails the request goes through
    (the database still guards every rule)."""
    limiter = current().limiter
    try:
        if limiter.hit(item, "api", *keys):
            return
        reset = limiter.get_window_stats(item, "api", *keys).reset_time
    except (RedisError, ConnectionError, TimeoutError):
        logger.warning("API rate limiter unavailable; letting the request through")
        return
    # The limiter counts on the real clock, whatever the services' clock says.
    wait = max(1, int(reset - time.time()) + 1)
    wait = min(wait, item.get_expiry())
    raise ApiError(429, "rate_limited", headers={"Retry-After": str(wait)})


def client_address() -> str:
    """The caller's address: behind TRUSTED_PROXY_HOPS proxies, the one they forwarded for
    (ProxyFix in webhooks.app), never a header a client could set itself."""
    return request.remote_addr or "unknown"


def limit_address() -> None:
    within_rate(ADDRESS_RATE, "ip", client_address())


# --- idempotency ---------------------------------------------------------------------------

def idempotent(action: str, who: Caller, perform: Callable[[], tuple[Response, int]]
               ) -> tuple[Response, int]:
    """With an Idempotency-Key, the first answer to this caller's request is kept 24 hours and
    a retry gets it again without acting twice; the same key with another body is refused.
    Refusals (4xx) are kept too: a retry learns the same thing. Without Redis the request
    acts (the database's unique indexes still stop a second voucher or redemption)."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return perform()
    if len(key) > 200:
        raise ApiError(422, "validation", field="Idempotency-Key")
    kv = current().kv
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    slot = f"peixun:api-idem:{who.person_id}:{action}:{digest}"
    fingerprint = hashlib.sha256(request.get_data()).hexdigest()
    try:
        # The first request claims the key; any other finds the claim or the kept answer.
        if kv.set(slot, json.dumps({"fingerprint": fingerprint}), nx=True,
                  ex=IDEMPOTENCY_SECONDS):
            kept = None
        else:
            kept = kv.get(slot) or json.dumps({"fingerprint": fingerprint})
    except RedisError:
        logger.warning("idempotency store unavailable; acting on the request")
        return perform()
    if kept is not None:
        return _replay(json.loads(kept), fingerprint)
    try:
        response, status = _performed(perform)
    except Exception:
        _forget(slot)
        raise
    if status >= 500:
        _forget(slot)
        return response, status
    try:
        kv.set(slot, json.dumps({"fingerprint": fingerprint, "status": status,
                                 "body": response.get_json()}), ex=IDEMPOTENCY_SECONDS)
    except RedisError:
        logger.warning("idempotency store unavailable; answer not kept")
    return response, status


def _performed(perform: Callable[[], tuple[Response, int]]) -> tuple[Response, int]:
    """Run the operation; a domain refusal becomes the answer that is kept."""
    from models.errors import DomainError
    from webhooks.api.errors import api_response, domain_response

    try:
        return perform()
    except DomainError as error:
        status, payload = domain_response(error)
    except ApiError as error:
        if error.status >= 500:
            raise
        status, payload = api_response(error)
    return ok(payload, status)


def _replay(kept: dict[str, Any], fingerprint: str) -> tuple[Response, int]:
    if kept.get("fingerprint") != fingerprint:
        raise ApiError(422, "idempotency_mismatch", field="Idempotency-Key")
    if "status" not in kept:
        raise ApiError(409, "idempotency_in_progress", headers={"Retry-After": "1"})
    response, status = ok(kept["body"], kept["status"])
    response.headers["Idempotent-Replayed"] = "true"
    return response, status


def _forget(slot: str) -> None:
    try:
        current().kv.delete(slot)
    except RedisError:
        logger.warning("idempotency store unavailable; key not released")

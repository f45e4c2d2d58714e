"""Signing in to the desk, and what every desk view uses: the signed-in user, the role check,
the page renderer and the CSRF check on every form.

The session lives in Flask's signed cookie (HttpOnly, SameSite=Lax, Secure when the desk is
served over https), carries the user's id and a stamp of the password hash and of the user's
session generation (a new password, signing out or disabling the user ends every session of the
user, on every browser: a cookie copied before is refused), expires after an hour unused and
twelve hours after sign-in at the latest.
Every admin form carries a CSRF token (Flask-WTF); only this blueprint checks it, so the WeChat
callback, the H5 pages and the API are untouched."""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Response, flash, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from limits import RateLimitItem, RateLimitItemPerMinute
from markupsafe import Markup, escape
from redis.exceptions import RedisError

from locales import N_, Translator, translator
from models.desk import (
    DeskRole,
    DeskUser,
    load_desk_user,
    normalize_username,
    sign_in,
    sign_out,
)
from models.errors import SignInRefused
from models.persons import DEFAULT_LOCALE
from runtime.services import Services, current
from webhooks.admin.blueprint import bp
from webhooks.locale import request_locale

logger = logging.getLogger(__name__)

csrf = CSRFProtect()

# A session ends after this long unused (the signed cookie's age is checked on every request)...
SESSION_IDLE = timedelta(hours=1)
# ...and this long after signing in, however busy.
SESSION_MAX = timedelta(hours=12)
# Failed sign-ins counted over this window. Per user name from one address: guessing one
# account's password stops there, and only there, so someone who knows an admin's name cannot
# lock the admin out from another machine. Per user name from anywhere, a ceiling ten times
# higher: guessing from many machines at once. Per address: trying many accounts from one.
LOGIN_WINDOW_MINUTES = 15
LOGIN_FAILURES_PER_NAME_AND_ADDRESS = RateLimitItemPerMinute(5, LOGIN_WINDOW_MINUTES)
LOGIN_FAILURES_PER_NAME = RateLimitItemPerMinute(50, LOGIN_WINDOW_MINUTES)
LOGIN_FAILURES_PER_ADDRESS = RateLimitItemPerMinute(20, LOGIN_WINDOW_MINUTES)

# Nothing but the page itself: no script, style or font from anywhere else.
DESK_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")

LANGUAGES = {"zh": DEFAULT_LOCALE, "en": "en"}
ROLE_NAMES = {
    DeskRole.ADMIN: N_("Bureau administrator"),
    DeskRole.INSPECTOR: N_("Inspector"),
    DeskRole.INSTITUTION: N_("Institution staff"),
}
# The desk's navigation: path, words, the roles that see the entry.
NAV = (
    ("/admin/dashboard", N_("Dashboard"), frozenset(DeskRole)),
    ("/admin/exports", N_("Exports"), frozenset(DeskRole)),
    ("/admin/followups", N_("Follow-up"), frozenset(DeskRole)),
    ("/admin/jobs", N_("Jobs"), frozenset({DeskRole.ADMIN, DeskRole.INSPECTOR})),
    ("/admin/oversight", N_("Attendance oversight"),
     frozenset({DeskRole.ADMIN, DeskRole.INSPECTOR})),
    ("/admin/outbox", N_("Messages"), frozenset({DeskRole.ADMIN, DeskRole.INSPECTOR})),
    ("/admin/employers", N_("Employers"), frozenset({DeskRole.ADMIN, DeskRole.INSPECTOR})),
)
SIGN_IN_TEXTS = {
    "bad_credentials": N_("The user name or the password is wrong."),
    "disabled": N_("This account is disabled. Ask the bureau's administrator."),
}
# A desk page to return to after signing in is never longer than this.
NEXT_MAX_LENGTH = 500
# Views anyone may open: the sign-in form itself.
OPEN_ENDPOINTS = frozenset({"admin.login"})


@bp.record_once
def _configure(state) -> None:
    app = state.app
    services: Services = app.extensions["peixun"]
    app.config.update(
        SESSION_COOKIE_SECURE=services.config.base_url.startswith("https://"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_IDLE,
        # CSRFProtect checks only what this blueprint asks it to (see _check_csrf).
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_ENABLED=True,
    )
    csrf.init_app(app)


@bp.before_request
def _check_csrf() -> None:
    csrf.protect()  # POST, PUT, PATCH and DELETE of the desk need the form's token


@bp.before_request
def _require_sign_in() -> Response | None:
    # Every desk view needs a signed-in user even if its own role check were forgotten.
    if request.endpoint in OPEN_ENDPOINTS or signed_in_user() is not None:
        return None
    return _to_login()


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Response:
    logger.info("desk form refused: %s", error.description)
    return desk_message(N_("This form has expired or did not come from this desk."),
                        N_("Go back, reload the page and try again."), status=400)


# --- what other desk views use --------------------------------------------------------------


def desk_locale() -> str:
    """``?lang=zh|en`` chooses and is remembered for the session; otherwise Accept-Language."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
    chosen = session.get("lang")
    return LANGUAGES[chosen] if chosen in LANGUAGES else request_locale()


def desk_translator() -> Translator:
    return translator(desk_locale())


def signed_in_user() -> DeskUser | None:
    """The desk user of this request's session, loaded once per request; None when signed out
    (here or on another browser), disabled, the password changed or the session is older than
    SESSION_MAX."""
    if "desk_user" in g:
        return g.desk_user
    g.desk_user = None
    user_id, since = session.get("desk_user"), session.get("desk_since")
    if not isinstance(user_id, int) or not isinstance(since, (int, float)):
        return None
    services = current()
    if services.clock.now().timestamp() - since > SESSION_MAX.total_seconds():
        _forget_user()
        return None
    with services.sessions.begin() as db:
        user = load_desk_user(db, user_id=user_id)
        if user is not None:
            _ = user.institution  # loaded now: the page renders after the transaction
    if user is None or user.session_stamp != session.get("desk_stamp"):
        _forget_user()
        return None
    g.desk_user = user
    return user


def current_desk_user() -> DeskUser:
    """The signed-in desk user; only inside views behind ``require_role``."""
    user = signed_in_user()
    if user is None:
        raise RuntimeError("current_desk_user() outside a signed-in desk view")
    return user


def institution_scope() -> int | None:
    """The institution an INSTITUTION user is confined to; None for the bureau's roles."""
    user = current_desk_user()
    return user.institution_id if user.role is DeskRole.INSTITUTION else None


def require_role(*roles: DeskRole) -> Callable:
    """Signed out: to the sign-in form (and back here after it). Signed in with another role:
    403, a page in the user's language."""
    allowed = frozenset(roles)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any):
            user = signed_in_user()
            if user is None:
                return _to_login()
            if user.role not in allowed:
                logger.info("desk user %s (%s) refused %s", user.id, user.role.value,
                            request.endpoint)
                return forbidden()
            return view(*args, **kwargs)

        return checked

    return decorate


def forbidden() -> Response:
    return desk_message(N_("You are not allowed to see this page."),
                        N_("Your role at the desk does not include it."), status=403)


def desk_page(template: str, *, status: int = 200, **context: Any) -> Response:
    """A desk page: ``template`` extends ``admin/base.html``; ``_``, ``t`` (the translator,
    with money/day helpers), ``user``, ``csrf_token()`` and ``csrf_field`` (the hidden input)
    are available to it."""
    t = desk_translator()
    user = signed_in_user()
    token = generate_csrf()
    body = render_template(
        template, _=t._, t=t, lang="en" if t.locale == "en" else "zh-CN", user=user,
        role_name=t._(ROLE_NAMES[user.role]) if user else "",
        nav=[(path, t._(words), _is_here(path)) for path, words, roles in NAV
             if user and user.role in roles],
        csrf_field=Markup('<input type="hidden" name="csrf_token" value="%s">') % escape(token),
        other_lang="en" if t.locale != "en" else "zh", **context)
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DESK_CSP
    # Desk pages show personal data (masked) and figures: no copy kept anywhere.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _is_here(path: str) -> bool:
    return request.path.startswith(path) or (path == NAV[0][0] and request.path == "/admin/")


def desk_message(title: str, text: str, *, status: int, **values: Any) -> Response:
    """A short page saying why not (titles and texts are msgids; ``values`` fill the text's
    placeholders)."""
    t = desk_translator()
    return desk_page("admin/message.html", status=status, title=t._(title),
                     text=t._(text, **values))


# --- the views ------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form (user name and password)."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if signed_in_user() is not None:
            return redirect(next_url)
        return desk_page("admin/login.html", next_url=next_url, username="")
    username = request.form.get("username", "").strip()[:60]
    password = request.form.get("password", "")[:1000]
    services = current()
    counters = _login_counters(username)
    if not all(_under_limit(services, item, key) for item, key in counters):
        logger.warning("desk sign-in rate-limited")
        error = desk_translator()._(
            "Too many failed sign-ins. Please wait %(minutes)s minutes and try again.",
            minutes=LOGIN_WINDOW_MINUTES)
        return desk_page("admin/login.html", status=429, error=error, next_url=next_url,
                         username=username)
    try:
        with services.sessions.begin() as db:
            user = sign_in(db, username=username, password=password, now=services.clock.now())
    except SignInRefused as refused:
        for item, key in counters:
            _count_failure(services, item, key)
        logger.info("desk sign-in refused: %s", refused.data["reason"])
        text = SIGN_IN_TEXTS[refused.data["reason"]]
        return desk_page("admin/login.html", status=401, next_url=next_url, username=username,
                         error=desk_translator()._(text))
    _remember_user(services, user)
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """Sign out (a form with its CSRF token, so no other site can sign anyone out): every
    session of the user ends, here and on any other browser."""
    user = signed_in_user()
    if user is not None:
        services = current()
        with services.sessions.begin() as db:
            sign_out(db, user_id=user.id, now=services.clock.now())
    _forget_user()
    flash(N_("You have signed out here and on every other browser."))
    return redirect(url_for("admin.login"))


# --- helpers --------------------------------------------------------------------------------


def _remember_user(services: Services, user: DeskUser) -> None:
    lang = session.get("lang")
    session.clear()  # a new session at sign-in: nothing carried over but the language
    if lang:
        session["lang"] = lang
    session.permanent = True
    session["desk_user"] = user.id
    session["desk_stamp"] = user.session_stamp
    session["desk_since"] = services.clock.now().timestamp()
    g.desk_user = user


def _forget_user() -> None:
    for key in ("desk_user", "desk_stamp", "desk_since", "csrf_token"):
        session.pop(key, None)
    g.desk_user = None


def _to_login() -> Response:
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("admin.login", next=target) if target else url_for("admin.login"))


def _safe_next(value: str | None) -> str:
    """Back to a desk page only: a local path under /admin/, never to another site (``//evil``,
    ``/\\evil``, ``https://…``, ``javascript:``), never with a control character (a CR/LF
    would split the Location header), as typed or percent-encoded. Anything else: the
    dashboard."""
    fallback = url_for("admin.dashboard")
    if not value or len(value) > NEXT_MAX_LENGTH or _has_control(value) \
            or _has_control(unquote(value)):
        return fallback
    parts = urlsplit(value)  # which strips leading spaces: the value itself must start with /
    if not value.startswith("/admin/") or parts.scheme or parts.netloc \
            or value.startswith("//") or "\\" in value:
        return fallback
    if parts.path.rstrip("/") in ("/admin/login", "/admin/logout"):
        return fallback
    return value


def _has_control(text: str) -> bool:
    # Cc: C0, DEL and C1; Cf: invisible format marks (bidi overrides); Zl, Zp: line breaks.
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def _login_counters(username: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    name, address = normalize_username(username), request.remote_addr or "-"
    return [(LOGIN_FAILURES_PER_NAME_AND_ADDRESS, ("desk-login-name-address", name, address)),
            (LOGIN_FAILURES_PER_NAME, ("desk-login-name", name)),
            (LOGIN_FAILURES_PER_ADDRESS, ("desk-login-address", address))]


def _under_limit(services: Services, item: RateLimitItem, key: tuple[str, ...]) -> bool:
    try:
        return services.limiter.test(item, *key)
    except (RedisError, ConnectionError, OSError):
        # Redis lost is counted in this process (runtime.services.Limiter); should that fail
        # too, scrypt still makes each guess slow.
        logger.warning("rate limiter unavailable; sign-in not limited")
        return True


def _count_failure(services: Services, item: RateLimitItem, key: tuple[str, ...]) -> None:
    try:
        services.limiter.hit(item, *key)
    except (RedisError, ConnectionError, OSError):
        logger.warning("rate limiter unavailable; failed sign-in not counted")


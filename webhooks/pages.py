"""Pages people open from the bot's links, inside WeChat's browser. Each link carries a signed,
expiring token; a page asks WeChat's API for nothing it already has, and loads nothing from
anywhere else: styles, script and QR codes are all inline.

Two pages show a rotating code and keep it current with one script (templates/live_code.js),
asking their own URL for JSON: the voucher card and the class check-in display. The display's
code reaches only the screen that staff opened: its link is spent by the first browser, which
gets a cookie; any other browser waits for staff to confirm it (templates/screen_wait.js)."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, render_template, request
from wechatpy.exceptions import WeChatClientException

from locales import Translator, translator
from models import links
from models.attendance import CHECKOUT_AFTER, OPENS_BEFORE, DisplayState, display_state
from models.cadres import keep_qr_url, load_cadre, referral_scene
from models.catalogue import Institution, session_bounds
from models.clock import LOCAL_TZ
from models.codes import ShownCode
from models.displays import (
    CONFIRM_SECONDS,
    class_day_end,
    confirmation_code,
    new_screen_secret,
    screen_digest,
    visit_display,
)
from models.eligibility import evaluate
from models.errors import DomainError, NoSessionToday, VoucherNotFound
from models.paper import PaperCard, paper_card, paper_codes
from models.vouchers import Voucher, VoucherStatus, holder_voucher, show_code
from runtime.services import current
from runtime.wechat_api import Client
from vocabulary import subsidy as subsidy_words
from vocabulary.courses import class_times
from vocabulary.labels import VOUCHER_CARD_STATUSES
from webhooks.locale import request_locale
from webhooks.qr import svg

logger = logging.getLogger(__name__)

bp = Blueprint("pages", __name__, url_prefix="/p")

# How long the voucher card link the bot sends stays valid.
VOUCHER_PAGE_SECONDS = 30 * 24 * 3600
# The card asks for a new code at least this often (a code lives one period of 60 s).
VOUCHER_REFRESH_MAX_SECONDS = 60

# The voucher card keeps asking while the voucher is in one of these states (staff may undo an
# enrolment for a while); any other is final.
VOUCHER_ASKS_WHILE = (VoucherStatus.ISSUED, VoucherStatus.REDEEMED)



def _script(name: str) -> tuple[str, str]:
    """A page script, inlined as it is, and the content security policy of a page with it:
    nothing but the page itself, its one script (by its hash) and its own JSON, so nothing is
    ever downloaded from elsewhere. 'unsafe-inline' only serves a browser too old to know hashes
    (CSP 1); every newer one ignores it because a hash is given."""
    script = (Path(__file__).parent / "templates" / name).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return script, (f"default-src 'none'; script-src 'sha256-{digest}' 'unsafe-inline'; "
                    "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
                    "base-uri 'none'; form-action 'none'")


# The script of the pages with a rotating code, and of a display screen waiting for staff.
LIVE_CODE_SCRIPT, LIVE_PAGE_CSP = _script("live_code.js")
SCREEN_WAIT_SCRIPT, SCREEN_WAIT_CSP = _script("screen_wait.js")

# The class display link (开课) is signed to last at most this long; the session's end refuses
# it much sooner.
CLASS_DISPLAY_SECONDS = 24 * 3600
# ...once the session has been over this long: the display shows its code until check-out
# closes, and its link dies then too ("expires with the session").
CLASS_DISPLAY_AFTER_END = CHECKOUT_AFTER
# The display asks for the code and the count this often by default (the count follows the
# trainees' scans), and just after each code turns; ?refresh= may ask for 1 s up to the code's
# period of 30 s.
CLASS_DISPLAY_REFRESH_SECONDS = 10
CLASS_DISPLAY_REFRESH_MAX_SECONDS = 30
# A browser that is the class's screen holds a random secret in this cookie (+ the session's
# id), sent only to the display's route; models.displays keeps its digest. A page waiting for
# staff to confirm it asks every SCREEN_WAIT_SECONDS, and loads a new confirmation code long
# before the one it shows grows too old.
SCREEN_COOKIE = "peixun_screen_"
SCREEN_COOKIE_PATH = "/p/class/"
_SCREEN_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
SCREEN_WAIT_SECONDS = 3
SCREEN_RENEW_SECONDS = CONFIRM_SECONDS // 2
# What the display's JSON answers a browser that is not (or no longer) the class's screen.
NOT_THIS_SCREEN = "screen_not_confirmed"


def _payload(purpose: str, token: str, max_age: int) -> dict:
    try:
        return links.verify(current().config.secret_key, purpose, token, max_age)
    except links.BadSignature:
        abort(403)


@bp.get("/cadre-qr/<token>")
def cadre_qr(token: str):
    """The cadre's referral code, to show on the phone or forward to neighbours."""
    services = current()
    cadre_id = int(_payload(links.CADRE_QR_PURPOSE, token, links.QR_PAGE_SECONDS)["cadre"])
    with services.sessions.begin() as db:
        cadre = load_cadre(db, cadre_id=cadre_id)
        if cadre is None:
            abort(404)
        village, url = cadre.village, cadre.qr_url
    if url is None:
        url = _permanent_qr_url(services, referral_scene(cadre_id))
        with services.sessions.begin() as db:
            keep_qr_url(db, cadre_id=cadre_id, url=url)
    return _page("cadre_qr.html", village=village, qr=svg(url))


@bp.get("/voucher/<token>")
def voucher_card(token: str):
    """The holder's voucher card: what it is for and, while it can be redeemed, its rotating
    code. With ``Accept: application/json`` the same URL answers the card's script:
    ``{"qr": code or null, "expires_in": seconds or null, "status": VoucherStatus value}``,
    plus ``"svg"`` (the code drawn as inline SVG markup) when there is a code.

    ``?refresh=N`` (1–60 s) makes the card ask for a new code at least every N seconds: a
    diagnostic aid, which lets a test see a refresh without waiting a minute."""
    services = current()
    payload = _payload(links.VOUCHER_PURPOSE, token, VOUCHER_PAGE_SECONDS)
    try:
        with services.sessions.begin() as db:
            voucher = holder_voucher(db, voucher_id=int(payload["v"]),
                                     person_id=int(payload["p"]))
    except VoucherNotFound:
        abort(404)
    shown = show_code(services.voucher_codes, voucher, services.clock.now())
    return _live_answer(lambda: _code_json(shown, status=voucher.status.value),
                        lambda: _voucher_page(voucher, shown))


def _voucher_page(voucher: Voucher, shown: ShownCode | None) -> str:
    # The holder's own card speaks the language they chose in the chat, not their phone's.
    t = translator(voucher.person.locale or request_locale())
    course = voucher.course
    statuses = {status.value: t._(words) for status, words in VOUCHER_CARD_STATUSES.items()}
    return _live_page("voucher.html", t, shown, {"status": statuses,
                                                 "offline": t._("Offline, retrying…")},
                      refresh=(VOUCHER_REFRESH_MAX_SECONDS, VOUCHER_REFRESH_MAX_SECONDS),
                      voucher=voucher, course=course.display_name(t.locale),
                      institution=course.institution.display_name(t.locale),
                      dates=t._("%(start)s to %(end)s", start=t.day(course.starts_on),
                                end=t.day(course.ends_on)),
                      times=class_times(t, course),
                      place=t._("%(township)s, %(address)s",
                                township=course.township.display_name(t.locale),
                                address=course.address),
                      status_words=statuses[voucher.status.value],
                      asks_while=" ".join(s.value for s in VOUCHER_ASKS_WHILE))


# The paper voucher card: no script at all, nothing from elsewhere.
PAPER_CARD_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                  "base-uri 'none'; form-action 'none'")


@bp.get("/paper-voucher/<token>")
def paper_voucher(token: str):
    """The paper voucher card of a neighbour without a smartphone, for the cadre who claimed it
    to print (A6): the holder's name and masked ID (the region only: staff read the last
    characters from the ID card itself), the voucher number, its static QR code while it can be
    redeemed, and the class's institution, dates, times and address. The link goes to that
    cadre only (signed, 30 days); any other voucher is 404."""
    services = current()
    payload = _payload(links.CARD_PURPOSE, token, links.CARD_SECONDS)
    try:
        with services.sessions.begin() as db:
            card = paper_card(db, codes=paper_codes(services.config.secret_key),
                              voucher_id=int(payload["v"]), cadre_person_id=int(payload["c"]))
    except VoucherNotFound:
        abort(404)
    response = Response(_paper_page(card))
    response.headers["Content-Security-Policy"] = PAPER_CARD_CSP
    # Personal data behind a bearer link: no copy kept, and the link goes nowhere else.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _paper_page(card: PaperCard) -> str:
    t = translator(request_locale())
    voucher, course = card.voucher, card.voucher.course
    statuses = {status: t._(words) for status, words in VOUCHER_CARD_STATUSES.items()}
    return _page("paper_voucher.html", card=card, voucher=voucher,
                 qr=svg(card.code) if card.code else None,
                 status_words=statuses[voucher.status],
                 course=course.display_name(t.locale),
                 institution=course.institution.display_name(t.locale),
                 dates=t._("%(start)s to %(end)s", start=t.day(course.starts_on),
                           end=t.day(course.ends_on)),
                 times=t.listing([f"{t.clock(a)}–{t.clock(b)}" for a, b in card.times]),
                 place=f"{course.township.display_name(t.locale)} {course.address}",
                 # The last day it can be redeemed (it expires at the start of the next).
                 valid_until=t.day((voucher.expires_at.astimezone(LOCAL_TZ)
                                    - timedelta(seconds=1)).date()))


@bp.get("/class/<token>")
def class_display(token: str):
    """The class's check-in display, for the classroom's projector or tablet: the course, the
    session's day and time, its rotating check-in code as large as the screen allows, and how
    many of the enrolled trainees have checked in. With ``Accept: application/json`` the same
    URL answers the display's script: ``{"qr": code or null, "expires_in": seconds or null,
    "checked_in": n, "enrolled": n}``, plus ``"svg"`` when there is a code (none before the
    check-in window opens or after it closes).

    The code (page and JSON) goes only to the class's screen: the first browser that opens a
    fresh link (each 开课 gives one) becomes it and gets its cookie. Any other browser gets a
    page with a confirmation code for staff to scan (and its JSON is 403 with
    ``{"code": "screen_not_confirmed"}``); once staff confirm it, it is the screen.

    The link expires with its session: refused with 403 once the session has been over for
    ``CLASS_DISPLAY_AFTER_END``. ``?refresh=N`` (1–30 s) makes the display ask at least every
    N seconds (default 10)."""
    services = current()
    payload = _payload(links.DISPLAY_PURPOSE, token, CLASS_DISPLAY_SECONDS)
    session_id, now, wants_json = int(payload["s"]), services.clock.now(), _wants_json()
    cookie = f"{SCREEN_COOKIE}{session_id}"
    secret = request.cookies.get(cookie)
    secret = secret if secret and _SCREEN_SECRET.fullmatch(secret) else None
    # Only a page that is shown spends a link: never its script's JSON, nor a HEAD (a preview).
    spends = not wants_json and request.method == "GET"
    try:
        with services.sessions.begin() as db:
            state = display_state(db, codes=services.class_codes, session_id=session_id,
                                  now=now)
            institution = state.session.course.institution
            if now > session_bounds(state.session)[1] + CLASS_DISPLAY_AFTER_END:
                abort(403)
            visit = visit_display(db, session=state.session, secret=secret,
                                  link_id=_link_id(payload) if spends else None,
                                  link_by=_staff_id(payload), now=now)
    except NoSessionToday:
        abort(404)
    until = class_day_end(state.session)
    if visit.screen is None:
        return _other_screen(state, institution, secret, cookie, until, now)
    response = _live_answer(lambda: _code_json(state.code, checked_in=state.checked_in,
                                               enrolled=state.enrolled),
                            lambda: _class_page(state, institution, now))
    response.vary.add("Cookie")
    if visit.new_secret:
        _keep_screen(response, cookie, visit.new_secret, until, now)
    return response


def _link_id(payload: dict) -> str | None:
    """The random id of a link from 开课; a link without one (made before links were spent
    once) is never exchanged."""
    link = payload.get("k")
    return link if isinstance(link, str) and 0 < len(link) <= 32 else None


def _staff_id(payload: dict) -> int | None:
    staff = payload.get("by")
    return staff if isinstance(staff, int) else None


def _keep_screen(response: Response, cookie: str, secret: str, until: datetime,
                 now: datetime) -> None:
    """The screen's cookie, kept until ``until`` (the end of the class day): as a Max-Age, so
    that a projector's laptop with its clock wrong keeps it all the same."""
    response.set_cookie(cookie, secret, max_age=max(int((until - now).total_seconds()), 0),
                        path=SCREEN_COOKIE_PATH, httponly=True, samesite="Lax",
                        secure=current().config.base_url.startswith("https://"))


def _other_screen(state: DisplayState, institution: Institution, secret: str | None,
                  cookie: str, until: datetime, now: datetime) -> Response:
    """A browser that is not the class's screen: no code and no counts. Its script (JSON) is
    told so with 403; its page asks staff to confirm it, with a code made for the secret in its
    cookie (a new one, kept in the cookie, if it has none)."""
    if _wants_json():
        response = jsonify({"code": NOT_THIS_SCREEN})
        response.status_code = 403
    else:
        t = translator(request_locale())
        session, fresh = state.session, secret is None
        secret = secret or new_screen_secret()
        code = confirmation_code(current().config.secret_key, session_id=session.id,
                                 digest=screen_digest(secret), now=now)
        response = Response(_page(
            "class_screen.html", qr=svg(code), confirmation=code,
            course=session.course.display_name(t.locale),
            institution=institution.display_name(t.locale), day=t.day(session.day, "full"),
            start=t.clock(session.starts), end=t.clock(session.ends),
            wait=SCREEN_WAIT_SECONDS, renew=SCREEN_RENEW_SECONDS,
            screen_wait_script=SCREEN_WAIT_SCRIPT))
        response.headers["Content-Security-Policy"] = SCREEN_WAIT_CSP
        if fresh:
            _keep_screen(response, cookie, secret, until, now)
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept")
    response.vary.add("Cookie")
    return response


def _class_page(state: DisplayState, institution: Institution, now: datetime) -> str:
    t = translator(request_locale())
    session, shown = state.session, state.code
    starts = session_bounds(session)[0]
    closed = t._("Check-in for this session is closed.")
    if shown:
        no_code = ""
    elif now < starts - OPENS_BEFORE:
        no_code = t._("The check-in code appears here at %(time)s.",
                      time=t.clock((starts - OPENS_BEFORE).time()))
    else:
        no_code = closed
    texts = {"closed": closed,
             "offline": t._("Offline, retrying… The code shown still works for a short while.")}
    return _live_page("class_display.html", t, shown, texts,
                      refresh=(CLASS_DISPLAY_REFRESH_SECONDS, CLASS_DISPLAY_REFRESH_MAX_SECONDS),
                      state=state, course=session.course.display_name(t.locale),
                      institution=institution.display_name(t.locale),
                      day=t.day(session.day, "full"), start=t.clock(session.starts),
                      end=t.clock(session.ends), no_code=no_code)


# --- the pages with a rotating code --------------------------------------------------------

def _live_answer(as_json: Callable[[], dict], page: Callable[[], str]) -> Response:
    """A page with a rotating code, or (``Accept: application/json``) what its script asks:
    design.md's contract, made by ``as_json``."""
    if _wants_json():
        response = jsonify(as_json())
    else:
        response = Response(page())
        response.headers["Content-Security-Policy"] = LIVE_PAGE_CSP
    # A code is good for a minute at most and the counts change: no copy may be kept.
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept")
    return response


def _wants_json() -> bool:
    return (request.accept_mimetypes.best_match(["text/html", "application/json"])
            == "application/json")


def _code_json(shown: ShownCode | None, **facts: object) -> dict:
    """The code and how long it lasts (both null when there is none) and the page's other
    ``facts``, plus ``"svg"``, the code drawn as inline SVG markup, when there is a code."""
    body = {"qr": shown.code if shown else None,
            "expires_in": shown.expires_in if shown else None, **facts}
    if shown:
        body["svg"] = svg(shown.code)
    return body


def _live_page(template: str, t: Translator, shown: ShownCode | None, texts: dict, *,
               refresh: tuple[int, int], **context) -> str:
    """``template`` with the code drawn and what live_code.js needs: ``texts`` (all the script
    may have to show, in the reader's language) and how often to ask, ``?refresh=`` within 1 s
    and the page's maximum, ``refresh`` being (the default, the maximum)."""
    texts = {"countdown": t._("New code in %(seconds)s s", seconds="{seconds}"), **texts}
    default, most = refresh
    asked = request.args.get("refresh", default, type=int)
    expires_in = shown.expires_in if shown else ""
    return _page(template, t=t, code=shown.code if shown else "",
                 qr=svg(shown.code) if shown else None, expires_in=expires_in,
                 countdown=texts["countdown"].replace("{seconds}", str(expires_in)),
                 texts=texts, refresh=min(max(asked, 1), most),
                 live_code_script=LIVE_CODE_SCRIPT, **context)


def _page(template: str, t: Translator | None = None, **context):
    """``template`` in ``t``'s language (by default the reader's Accept-Language)."""
    t = t or translator(request_locale())
    return render_template(template, _=t._, lang="en" if t.locale == "en" else "zh-CN",
                           **context)


def _permanent_qr_url(services, scene: str) -> str:
    client = Client(services.config, services.kv)
    try:
        result = client.qrcode.create({"action_name": "QR_LIMIT_STR_SCENE",
                                       "action_info": {"scene": {"scene_str": scene}}})
    except (WeChatClientException, OSError) as error:
        logger.warning("QR code not created: %s", type(error).__name__)
        abort(503)
    return result["url"]


@bp.get("/subsidy/<token>")
def subsidy(token: str):
    """The subsidies a person can get, each with its reasons; the clauses they rest on are
    listed once, at the end, and each subsidy and reason points to its own by number."""
    payload = _payload(links.SUBSIDY_PURPOSE, token, links.SUBSIDY_SECONDS)
    services = current()
    with services.sessions.begin() as db:
        try:
            evaluation = evaluate(db, person_id=int(payload["p"]),
                                  course_id=payload.get("c"), on=services.clock.today())
        except DomainError:
            abort(404)
    t = translator(request_locale())
    clauses = Clauses()
    outcomes = []
    for o in evaluation.outcomes:
        own = clauses.numbers(o.source)  # numbered first: the subsidy's own clauses
        outcomes.append({
            "title": o.display_title(t.locale),
            "mark": subsidy_words.MARKS[o.status],
            "status": t._(subsidy_words.STATUSES[o.status]),
            "status_code": o.status.value,
            "amount": subsidy_words.amount_text(t, o),
            # A reason cites only clauses beyond the subsidy's own; a missing fact is said
            # once, under "still needed".
            "reasons": [(subsidy_words.reason_text(t, r.code, r.params),
                         [n for n in clauses.numbers(r.source) if n not in own])
                        for r in o.reasons
                        if not (r.code == "needs_fact" and r.params.get("fact") in o.missing)],
            "missing": [t._(subsidy_words.MISSING.get(m, m)) for m in o.missing],
            "clauses": own,
        })
    return _page("subsidy.html", outcomes=outcomes, clauses=clauses.listed(),
                 version=evaluation.policy_version, day=t.day(evaluation.on))


class Clauses:
    """The clauses a page cites, each numbered once in the order first cited. A rule's source
    names one or more clauses, separated by semicolons."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}

    def numbers(self, source: str) -> list[int]:
        parts = [part.strip() for part in re.split(r"[;；]", source or "") if part.strip()]
        return list(dict.fromkeys(self._numbers.setdefault(p, len(self._numbers) + 1)
                                  for p in parts))

    def listed(self) -> list[tuple[int, str]]:
        return [(n, clause) for clause, n in self._numbers.items()]

"""The class display: the link staff get with 开课 shows the session's rotating check-in code and
how many trainees have checked in, over HTTP and in headless Chromium on a projector's screen;
only on the screen that opened it first, or that staff confirmed by scanning its code.

Set PEIXUN_CLASS_SCREENSHOT=/some/file.png to keep a picture of the display at 1280×720.
"""

from __future__ import annotations

import os
import re
import time as _time
from dataclasses import replace
from datetime import datetime, time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from models import links
from models.audit import AuditEntry
from models.catalogue import ClassSession, Course
from models.clock import LOCAL_TZ
from models.displays import DisplayScreen, ScreenHow
from models.persons import Person
from tests.browser import qr_markup, scripts_run_only_by_hash, wait_for_a_new_code
from tests.factories import staff_member
from webhooks.app import create_app

STAFF = "demo-staff"
TRAINEE = "demo-trainee"  # holds a redeemed voucher for the class
COURSE = "lp-2026-today"  # sessions today 08:00–12:00 and 13:00–17:00, at lp-zhongzhi
JSON = {"Accept": "application/json"}
ENGLISH = {"Accept-Language": "en"}
PROJECTOR = {"width": 1280, "height": 720}
LINK = re.compile(r"http://peixun\.test(/p/class/[\w.\-]+)")


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour, minute, second, tzinfo=LOCAL_TZ)


def open_class(wechat) -> str:
    """demo-staff says 开课: the path of the display link in the reply."""
    answer = wechat.say(STAFF, "开课")
    match = LINK.search(answer.text)
    assert match, answer.text
    return match.group(1)


def session_id(db, starts: time) -> int:
    return db.scalar(select(ClassSession.id).join(ClassSession.course).where(
        Course.code == COURSE, ClassSession.day == at(0).date(), ClassSession.starts == starts))


def display_path(config, session: int, purpose: str = "class-display") -> str:
    return "/p/class/" + links.sign(config.secret_key, purpose, {"s": session})


@pytest.fixture
def link(wechat, clock) -> str:
    """The afternoon class (13:00–17:00) opened at 12:50, when its check-in is open: the
    display link, not yet opened anywhere."""
    clock.set(at(12, 50))
    return open_class(wechat)


@pytest.fixture
def display(link, client) -> str:
    """The display link, opened by ``client``: the class's screen (the projector)."""
    assert client.get(link).status_code == 200
    return link


@pytest.fixture
def check_in(wechat, db):
    """demo-trainee, standing in the training yard, scans a code with the menu 扫码签到."""

    def run(code: str):
        course = db.scalar(select(Course).where(Course.code == COURSE))
        wechat.report_location(TRAINEE, course.lat, course.lng)
        return wechat.scan(TRAINEE, "CHECKIN", code)

    return run


# --- over HTTP -----------------------------------------------------------------------------

def test_the_link_from_opening_the_class_shows_the_display(client, display):
    answer = client.get(display)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store" and "Accept" in answer.headers["Vary"]
    assert "connect-src 'self'" in answer.headers["Content-Security-Policy"]
    assert scripts_run_only_by_hash(answer)
    html = answer.get_data(as_text=True)
    assert "挖掘机司机（初级）培训班" in html and "罗平县中等职业技术学校" in html
    assert "13:00–17:00" in html and "<svg" in html
    assert 'id="checked-in">0<' in html and 'id="enrolled">1<' in html
    # Nothing is loaded from anywhere: no src or href at all, no stylesheet, no CDN.
    assert not re.search(r"\b(src|href)=", html)


def test_the_json_gives_the_sessions_code_which_turns_every_30_seconds(client, display, clock,
                                                                       services, db):
    afternoon = session_id(db, time(13, 0))
    answer = client.get(display, headers=JSON)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store" and "Accept" in answer.headers["Vary"]
    first = answer.get_json()
    assert set(first) == {"qr", "expires_in", "checked_in", "enrolled", "svg"}
    assert 0 < first["expires_in"] <= 30
    assert (first["checked_in"], first["enrolled"]) == (0, 1)
    assert first["svg"].startswith("<svg")
    assert services.class_codes.read(first["qr"], clock.now()) == afternoon

    clock.advance(seconds=30)
    second = client.get(display, headers=JSON).get_json()
    assert second["qr"] != first["qr"] and second["svg"] != first["svg"]
    assert services.class_codes.read(second["qr"], clock.now()) == afternoon
    assert services.class_codes.read(first["qr"], clock.now()) == afternoon  # still accepted


def test_a_trainee_who_scans_the_code_is_counted(client, display, check_in):
    before = client.get(display, headers=JSON).get_json()
    assert (before["checked_in"], before["enrolled"]) == (0, 1)
    answer = check_in(before["qr"])
    assert "✔" in answer.text, answer.text
    after = client.get(display, headers=JSON).get_json()
    assert (after["checked_in"], after["enrolled"]) == (1, 1)


def test_before_the_check_in_window_there_is_no_code_yet(client, wechat, clock):
    clock.set(at(12, 31))  # the morning is over: 开课 opens the afternoon, not yet showing
    path = open_class(wechat)
    client.get(path)  # the projector opens it
    assert client.get(path, headers=JSON).get_json() == {
        "qr": None, "expires_in": None, "checked_in": 0, "enrolled": 1}
    html = client.get(path, headers=ENGLISH).get_data(as_text=True)
    assert "<svg" not in html and "The check-in code appears here at 12:45." in html

    clock.set(at(12, 45))
    assert client.get(path, headers=JSON).get_json()["qr"]


def test_the_link_expires_with_its_session(client, display, clock):
    clock.set(at(17, 30))  # check-out closes: the display shows its code to the end
    assert client.get(display, headers=JSON).get_json()["qr"]
    clock.set(at(17, 30, 1))
    assert client.get(display, headers=JSON).status_code == 403
    assert client.get(display).status_code == 403


def test_a_link_to_a_session_over_long_ago_is_refused(client, config, clock, db):
    clock.set(at(12, 50))
    morning = display_path(config, session_id(db, time(8, 0)))  # over since 12:00
    assert client.get(morning, headers=JSON).status_code == 403
    assert client.get(morning).status_code == 403


def test_a_tampered_or_foreign_link_is_refused(client, display, config, db):
    assert client.get(display[:-2] + "xx", headers=JSON).status_code == 403
    assert client.get(display[:-2] + "xx").status_code == 403
    afternoon = session_id(db, time(13, 0))
    assert client.get(display_path(config, afternoon, purpose="voucher")).status_code == 403


def test_a_link_to_no_session_is_not_found(client, config, clock):
    assert client.get(display_path(config, 987654), headers=JSON).status_code == 404


def test_the_display_speaks_english_to_an_english_reader(client, display):
    html = client.get(display, headers=ENGLISH).get_data(as_text=True)
    assert "Excavator operator (entry level)" in html
    assert "Luoping Secondary Vocational and Technical School" in html
    assert "Wednesday, November 25, 2026" in html
    assert "checked in" in html and "trainees enrolled" in html


@pytest.mark.parametrize(("asked", "used"), [("", "10"), ("?refresh=2", "2"),
                                             ("?refresh=0", "1"), ("?refresh=999", "30"),
                                             ("?refresh=soon", "10")])
def test_the_refresh_interval_is_capped_between_1_and_30_seconds(client, display, asked, used):
    assert f'data-refresh="{used}"' in client.get(display + asked).get_data(as_text=True)


# --- one screen: the link is spent by the first browser ------------------------------------

CONFIRMATION = re.compile(r'data-confirmation="(PXS:[^"]+)"')
CONFIRMED = "屏幕已确认"  # the staff's reply to a confirmation they scanned
ANOTHER_SCREEN = "This class display is already open on another screen."
ANOTHER_SCREEN_ZH = "这个签到屏幕已经在另一台设备上打开了"


def no_code_in(answer) -> bool:
    """An answer with no check-in code in it, neither drawn nor written."""
    body = answer.get_data(as_text=True)
    return "PXC:" not in body and 'id="qr"' not in body and '"qr"' not in body


def confirmation(answer) -> str:
    """The code an unconfirmed screen shows for staff to scan."""
    match = CONFIRMATION.search(answer.get_data(as_text=True))
    assert match, answer.get_data(as_text=True)
    return match.group(1)


@pytest.fixture
def browser_two(app):
    """Another browser (its own cookies) than ``client``: a phone in a WeChat group, or a
    second screen in the room."""
    return app.test_client()


def screens(db) -> list[DisplayScreen]:
    db.expire_all()
    return db.scalars(select(DisplayScreen).order_by(DisplayScreen.id)).all()


def test_the_first_browser_gets_a_cookie_only_the_display_receives(client, link, db):
    answer = client.get(link)
    assert "<svg" in answer.get_data(as_text=True)
    [cookie] = answer.headers.getlist("Set-Cookie")
    name, _, rest = cookie.partition("=")
    secret = rest.split(";")[0]
    attributes = {part.strip().split("=")[0].lower(): part.strip()
                  for part in cookie.split(";")[1:]}
    assert name.startswith("peixun_screen_") and len(secret) == 43
    assert attributes["path"] == "Path=/p/class/" and "httponly" in attributes
    assert attributes["samesite"] == "SameSite=Lax" and "secure" not in attributes  # http
    # Until local midnight (from 12:50, as a Max-Age so that a wrong clock does not matter).
    assert 11 * 3600 < int(attributes["max-age"].split("=")[1]) <= 11 * 3600 + 10 * 60
    [screen] = screens(db)
    assert screen.how is ScreenHow.LINK and secret not in screen.digest  # its digest only
    assert screen.bound_by_id == db.scalar(select(Person.id).where(Person.openid == STAFF))
    assert db.scalar(select(AuditEntry.action).where(
        AuditEntry.target_type == "display_screens")) == "display.screen_open"


def test_behind_https_the_cookie_is_secure(config, stack, sessions, kv, clock, wechat):
    clock.set(at(12, 50))
    path = open_class(wechat)
    secure = create_app(replace(config, public_base_url="https://peixun.example.cn"),
                        engine=stack.engine, sessions=sessions, kv=kv, clock=clock)
    [cookie] = secure.test_client().get(path).headers.getlist("Set-Cookie")
    assert "Secure" in cookie.split("; ")


def test_a_second_browser_with_the_same_link_gets_no_code(client, display, browser_two):
    page = browser_two.get(display, headers=ENGLISH)
    assert page.status_code == 200 and no_code_in(page)
    html = page.get_data(as_text=True)
    assert ANOTHER_SCREEN in html and "核销（机构）" in html and "开课" in html
    assert scripts_run_only_by_hash(page) and page.headers["Cache-Control"] == "no-store"
    assert ANOTHER_SCREEN_ZH in browser_two.get(display).get_data(as_text=True)
    as_json = browser_two.get(display, headers=JSON)
    assert as_json.status_code == 403 and as_json.get_json() == {"code": "screen_not_confirmed"}
    # The projector still shows its code.
    assert client.get(display, headers=JSON).get_json()["qr"].startswith("PXC:")


def test_json_alone_never_opens_a_display(link, client, browser_two):
    first = browser_two.get(link, headers=JSON)
    assert first.status_code == 403 and no_code_in(first)
    assert not first.headers.getlist("Set-Cookie")
    # ...nor a HEAD (a link preview): the link is still fresh for the projector.
    assert browser_two.head(link).status_code == 200
    assert client.get(link, headers=JSON).status_code == 403
    assert "<svg" in client.get(link).get_data(as_text=True)
    assert client.get(link, headers=JSON).get_json()["qr"]


def test_a_forged_expired_or_old_link_gets_no_code_even_first(client, link, config, db):
    forged = client.get(link[:-2] + "xx")
    assert forged.status_code == 403 and no_code_in(forged)
    assert not forged.headers.getlist("Set-Cookie")
    afternoon = session_id(db, time(13, 0))
    old_signer = type("OldSigner", (TimestampSigner,), {
        "get_timestamp": lambda self: int(_time.time()) - 2 * 24 * 3600})
    expired = "/p/class/" + URLSafeTimedSerializer(
        config.secret_key, salt="peixun-page:class-display", signer=old_signer).dumps(
        {"s": afternoon, "k": "a-fresh-link-id", "by": None})
    for headers in ({}, JSON):
        answer = client.get(expired, headers=headers)
        assert answer.status_code == 403 and no_code_in(answer)
    # A signed link of the old shape (no link id) is never exchanged for a screen.
    old = display_path(config, afternoon)
    assert ANOTHER_SCREEN in client.get(old, headers=ENGLISH).get_data(as_text=True)
    assert no_code_in(client.get(old)) and client.get(old, headers=JSON).status_code == 403
    assert screens(db) == []


def test_staff_confirm_a_second_screen_by_scanning_its_code(client, display, browser_two,
                                                           wechat, db):
    code = confirmation(browser_two.get(display))
    answer = wechat.scan(STAFF, "REDEEM", code)
    assert CONFIRMED in answer.text and "挖掘机司机（初级）培训班" in answer.text, answer.text
    # The confirmed browser shows the code; the projector no longer does, and says so.
    assert browser_two.get(display, headers=JSON).get_json()["qr"].startswith("PXC:")
    assert "<svg" in browser_two.get(display).get_data(as_text=True)
    refused = client.get(display, headers=JSON)
    assert refused.status_code == 403 and refused.get_json() == {"code": "screen_not_confirmed"}
    back = client.get(display)
    assert no_code_in(back) and ANOTHER_SCREEN_ZH in back.get_data(as_text=True)
    # ...until staff confirm it again, this time with the menu the display names.
    assert CONFIRMED in wechat.scan(STAFF, "CHECKIN", confirmation(back)).text
    assert client.get(display, headers=JSON).get_json()["qr"]
    assert browser_two.get(display, headers=JSON).status_code == 403
    first, second = screens(db)
    assert first.retired_at is None and second.retired_at is not None
    assert first.how is second.how is ScreenHow.CONFIRMED
    assert db.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "display.screen_confirm")) == 2


def test_staff_who_opened_the_link_on_their_phone_send_开课_again(client, link, browser_two,
                                                                wechat):
    phone, projector = client, browser_two
    assert "<svg" in phone.get(link).get_data(as_text=True)  # tapped in the chat by habit
    assert no_code_in(projector.get(link))
    reply = wechat.say(STAFF, "开课").text
    assert "只有第一个打开它的屏幕显示签到码" in reply and "再发“开课”" in reply
    fresh = LINK.search(reply).group(1)
    assert fresh != link
    assert "<svg" in projector.get(fresh).get_data(as_text=True)
    assert projector.get(fresh, headers=JSON).get_json()["qr"]
    assert phone.get(link, headers=JSON).status_code == 403  # one screen shows the code


def test_a_trainee_cannot_confirm_a_screen(display, browser_two, wechat, db):
    code = confirmation(browser_two.get(display))
    answer = wechat.scan(TRAINEE, "CHECKIN", code)
    assert "只有本班培训机构的工作人员才能确认" in answer.text, answer.text
    assert browser_two.get(display, headers=JSON).status_code == 403
    assert len(screens(db)) == 1


def test_staff_of_another_institution_cannot_confirm_a_screen(display, browser_two, wechat,
                                                              services, clock, db):
    other = staff_member(services, institution_code="lp-pes", openid="o-pes-staff",
                         now=clock.now())
    answer = wechat.scan(other, "REDEEM", confirmation(browser_two.get(display)))
    assert "只有该机构自己的工作人员" in answer.text, answer.text
    assert browser_two.get(display, headers=JSON).status_code == 403
    assert len(screens(db)) == 1


def test_an_expired_confirmation_cannot_be_used(display, browser_two, wechat, clock, db):
    code = confirmation(browser_two.get(display))
    clock.advance(minutes=10, seconds=1)
    answer = wechat.scan(STAFF, "REDEEM", code)
    assert "超过10分钟" in answer.text, answer.text
    assert browser_two.get(display, headers=JSON).status_code == 403
    # The page shows a new code meanwhile, and that one works.
    assert CONFIRMED in wechat.scan(STAFF, "REDEEM", confirmation(browser_two.get(display))).text
    assert browser_two.get(display, headers=JSON).get_json()["qr"]


def test_a_screen_cannot_be_confirmed_once_its_display_has_closed(display, browser_two, wechat,
                                                                  clock, db):
    clock.set(at(17, 25))
    code = confirmation(browser_two.get(display))
    clock.set(at(17, 30, 1))  # check-out closed: the display too
    assert "这节课已经结束" in wechat.scan(STAFF, "REDEEM", code).text
    assert len(screens(db)) == 1


def test_an_altered_confirmation_is_refused(display, browser_two, wechat, db):
    code = confirmation(browser_two.get(display))
    answer = wechat.scan(STAFF, "REDEEM", code[:-3] + "abc")
    assert "确认码无效" in answer.text, answer.text
    assert len(screens(db)) == 1


def test_the_api_gives_a_link_for_one_screen(api_as, clock, client, browser_two):
    clock.set(at(12, 50))
    opened = api_as("demo-staff").post("/staff/sessions/open", {}).get_json()
    path = opened["display_url"].removeprefix("http://peixun.test")
    assert browser_two.get(path, headers=JSON).status_code == 403
    assert "<svg" in browser_two.get(path).get_data(as_text=True)
    assert browser_two.get(path, headers=JSON).get_json()["qr"]
    assert no_code_in(client.get(path)) and client.get(path, headers=JSON).status_code == 403


# --- in headless Chromium ------------------------------------------------------------------

@pytest.fixture
def projector(browser, server):
    """Open a display on a 1280×720 screen: ``projector(path, query="?refresh=1")``. Every
    request the page makes is recorded in ``page.requests``."""
    contexts = []

    def open_display(path: str, *, locale: str = "en-US", query: str = ""):
        context = browser.new_context(viewport=PROJECTOR, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        page.goto(server.url + path + query)
        return page

    yield open_display
    for context in contexts:
        context.close()


def test_the_projector_shows_a_screen_high_code_and_the_counts(projector, link, server,
                                                              tmp_path):
    page = projector(link, locale="zh-CN")
    code = page.locator("#qr svg")
    code.wait_for(state="visible")
    box = code.bounding_box()
    assert box["height"] >= 0.85 * PROJECTOR["height"] and box["width"] >= 0.85 * box["height"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR["height"]  # no scrolling
    assert box["x"] + box["width"] <= PROJECTOR["width"] / 2 + 100  # the left side
    assert page.locator("#checked-in").inner_text() == "0"
    assert page.locator("#enrolled").inner_text() == "1"
    for figure in ("#checked-in", "#enrolled"):
        assert page.locator(figure).bounding_box()["height"] >= 0.15 * PROJECTOR["height"]
    assert page.get_by_text("挖掘机司机（初级）培训班").is_visible()
    assert page.get_by_text("13:00–17:00").is_visible()
    page.screenshot(path=os.environ.get("PEIXUN_CLASS_SCREENSHOT", tmp_path / "display.png"))
    assert all(url.startswith(server.url + "/") for url in page.requests), page.requests


def test_the_code_turns_by_itself(projector, link, clock):
    page = projector(link, query="?refresh=1")
    before = qr_markup(page)
    page.wait_for_timeout(1500)  # the page asked again, and the code has not turned yet
    assert qr_markup(page) == before
    clock.advance(seconds=30)
    wait_for_a_new_code(page, before)
    assert page.locator("#qr svg").is_visible()


def test_the_count_follows_a_check_in_without_reloading(projector, link, server, services,
                                                        clock, db, check_in):
    page = projector(link, query="?refresh=1")
    page.locator("#qr svg").wait_for(state="visible")
    page.evaluate("window.notReloaded = true")
    with server.paused():  # the code the projector shows
        check_in(services.class_codes.show(session_id(db, time(13, 0)), clock.now()).code)
    page.wait_for_function("() => document.querySelector('#checked-in').textContent === '1'",
                           timeout=10_000)
    assert page.locator("#enrolled").inner_text() == "1"
    assert page.evaluate("window.notReloaded") is True


def test_offline_the_old_code_stays_with_a_note(projector, link, clock):
    page = projector(link, query="?refresh=1")
    before = qr_markup(page)
    page.context.set_offline(True)
    page.get_by_text("Offline, retrying").wait_for(state="visible", timeout=10_000)
    assert qr_markup(page) == before and page.locator("#qr svg").is_visible()
    clock.advance(seconds=30)
    page.context.set_offline(False)
    page.get_by_text("Offline, retrying").wait_for(state="hidden", timeout=10_000)
    wait_for_a_new_code(page, before)


def test_the_display_says_so_when_its_session_is_over(projector, link, clock):
    page = projector(link, query="?refresh=1")
    page.locator("#qr svg").wait_for(state="visible")
    clock.set(at(17, 31))
    page.get_by_text("Check-in for this session is closed.").wait_for(state="visible",
                                                                     timeout=10_000)
    assert page.locator("#qr svg").count() == 0


def test_a_second_browser_waits_for_staff_then_shows_the_code(projector, link, server, wechat,
                                                              clock):
    """The projector opens the link; a phone in a WeChat group opens it too and gets no code;
    once staff scan the phone's confirmation code, the phone shows the code by itself and the
    projector asks to be confirmed."""
    first = projector(link, query="?refresh=1")
    first.locator("#qr svg").wait_for(state="visible")
    second = projector(link, query="?refresh=1")
    second.get_by_text(ANOTHER_SCREEN).wait_for(state="visible")
    assert second.locator("#qr").count() == 0 and "PXC:" not in second.content()
    assert second.locator("#confirm-code svg").is_visible()
    code = second.get_attribute("#confirm-code", "data-confirmation")
    second.wait_for_timeout(3500)  # it asked again meanwhile: still no code
    assert second.locator("#qr").count() == 0

    with server.paused():
        assert CONFIRMED in wechat.scan(STAFF, "REDEEM", code).text
    second.locator("#qr svg").wait_for(state="visible", timeout=10_000)
    assert second.locator("#checked-in").inner_text() == "0"
    first.get_by_text(ANOTHER_SCREEN).wait_for(state="visible", timeout=10_000)
    assert first.locator("#qr").count() == 0

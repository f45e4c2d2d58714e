"""The class display: the link staff get with 开课 shows the session's rotating check-in code and
how many trainees have checked in, over HTTP and in headless Chromium on a projector's screen.

Set PEIXUN_CLASS_SCREENSHOT=/some/file.png to keep a picture of the display at 1280×720.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, time

import pytest
from sqlalchemy import select

from bot import links
from models.catalogue import ClassSession, Course
from models.clock import LOCAL_TZ
from tests.browser import qr_markup, scripts_run_only_by_hash, wait_for_a_new_code

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
def display(wechat, clock) -> str:
    """The afternoon class (13:00–17:00) opened at 12:50, when its check-in is open."""
    clock.set(at(12, 50))
    return open_class(wechat)


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


def test_the_projector_shows_a_screen_high_code_and_the_counts(projector, display, server,
                                                              tmp_path):
    page = projector(display, locale="zh-CN")
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


def test_the_code_turns_by_itself(projector, display, clock):
    page = projector(display, query="?refresh=1")
    before = qr_markup(page)
    page.wait_for_timeout(1500)  # the page asked again, and the code has not turned yet
    assert qr_markup(page) == before
    clock.advance(seconds=30)
    wait_for_a_new_code(page, before)
    assert page.locator("#qr svg").is_visible()


def test_the_count_follows_a_check_in_without_reloading(projector, display, client, server,
                                                        check_in):
    page = projector(display, query="?refresh=1")
    page.locator("#qr svg").wait_for(state="visible")
    page.evaluate("window.notReloaded = true")
    with server.paused():
        check_in(client.get(display, headers=JSON).get_json()["qr"])
    page.wait_for_function("() => document.querySelector('#checked-in').textContent === '1'",
                           timeout=10_000)
    assert page.locator("#enrolled").inner_text() == "1"
    assert page.evaluate("window.notReloaded") is True


def test_offline_the_old_code_stays_with_a_note(projector, display, clock):
    page = projector(display, query="?refresh=1")
    before = qr_markup(page)
    page.context.set_offline(True)
    page.get_by_text("Offline, retrying").wait_for(state="visible", timeout=10_000)
    assert qr_markup(page) == before and page.locator("#qr svg").is_visible()
    clock.advance(seconds=30)
    page.context.set_offline(False)
    page.get_by_text("Offline, retrying").wait_for(state="hidden", timeout=10_000)
    wait_for_a_new_code(page, before)


def test_the_display_says_so_when_its_session_is_over(projector, display, clock):
    page = projector(display, query="?refresh=1")
    page.locator("#qr svg").wait_for(state="visible")
    clock.set(at(17, 31))
    page.get_by_text("Check-in for this session is closed.").wait_for(state="visible",
                                                                     timeout=10_000)
    assert page.locator("#qr svg").count() == 0

"""The voucher card page: the holder's rotating code, over HTTP and in headless Chromium.

Set PEIXUN_VOUCHER_SCREENSHOT=/some/file.png to keep a picture of the card as a phone shows it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from models import links
from models.audit import Channel
from models.catalogue import Course
from models.invitations import bind_by_invitation
from models.persons import Person
from models.staff import StaffMember, invite_staff
from models.vouchers import claim_voucher, redeem_voucher
from tests.browser import qr_markup, scripts_run_only_by_hash, wait_for_a_new_code
from tests.factories import ANSWERS, id_number, register_via_chat

HOLDER = "o-card-holder"
STAFF = "demo-staff"
COURSE = "lp-2026-001"  # starts in a week, at lp-pes
JSON = {"Accept": "application/json"}
PHONE = {"width": 360, "height": 640}


@dataclass(frozen=True)
class Card:
    voucher_id: int
    person_id: int
    number: str
    path: str


def card_path(config, *, voucher_id: int, person_id: int, purpose: str = "voucher") -> str:
    return "/p/voucher/" + links.sign(config.secret_key, purpose,
                                      {"v": voucher_id, "p": person_id})


@pytest.fixture
def card(wechat, sessions, clock, config) -> Card:
    """张三, registered through the chat, holding a voucher for a course starting next week."""
    register_via_chat(wechat, HOLDER)
    with sessions.begin() as db:
        course_id = db.scalar(select(Course.id).where(Course.code == COURSE))
        voucher = claim_voucher(db, openid=HOLDER, course_id=course_id, channel=Channel.WECHAT,
                                now=clock.now(), today=clock.today())
        ids = {"voucher_id": voucher.id, "person_id": voucher.person_id}
        number = voucher.number
    return Card(number=number, path=card_path(config, **ids), **ids)


@pytest.fixture
def english_card(card, wechat) -> Card:
    """The same card, its holder having chosen English in the chat."""
    assert "Language set to English" in wechat.say(HOLDER, "English").text
    return card


@pytest.fixture
def redeem(sessions, services, clock):
    """The institution's staff take the holder in, scanning the code the card shows now."""
    with sessions.begin() as db:
        staff_id = db.scalar(select(Person.id).where(Person.openid == STAFF))
        token = invite_staff(db, institution_code="lp-pes", now=clock.now())
        bind_by_invitation(db, role=StaffMember, person_id=staff_id, token=token, now=clock.now())

    def run(card: Card) -> None:
        code = services.voucher_codes.show(card.voucher_id, clock.now()).code
        with sessions.begin() as db:
            redeem_voucher(db, codes=services.voucher_codes, code=code, staff_openid=STAFF,
                           channel=Channel.WECHAT, now=clock.now())

    return run


# --- over HTTP -----------------------------------------------------------------------------

def test_the_json_gives_the_current_code_which_turns_every_minute(client, card, clock,
                                                                  services):
    answer = client.get(card.path, headers=JSON)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store" and "Accept" in answer.headers["Vary"]
    first = answer.get_json()
    assert set(first) == {"qr", "expires_in", "status", "svg"}
    assert first["status"] == "issued" and 0 < first["expires_in"] <= 60
    assert first["svg"].startswith("<svg")
    assert services.voucher_codes.read(first["qr"], clock.now()) == card.voucher_id

    clock.advance(seconds=60)
    second = client.get(card.path, headers=JSON).get_json()
    assert second["qr"] != first["qr"] and second["svg"] != first["svg"]
    assert services.voucher_codes.read(second["qr"], clock.now()) == card.voucher_id


def test_a_tampered_or_foreign_link_is_refused(client, card, config):
    assert client.get(card.path[:-2] + "xx", headers=JSON).status_code == 403
    assert client.get(card.path[:-2] + "xx").status_code == 403
    cadre_qr = card_path(config, voucher_id=card.voucher_id, person_id=card.person_id,
                         purpose="cadre-qr")
    assert client.get(cadre_qr, headers=JSON).status_code == 403


def test_another_persons_voucher_is_not_found(client, card, config, wechat, db):
    register_via_chat(wechat, "o-card-other", name="李四", id=id_number(seq="041"),
                      phone="13812340041")
    other = db.scalar(select(Person.id).where(Person.openid == "o-card-other"))
    path = card_path(config, voucher_id=card.voucher_id, person_id=other)
    assert client.get(path, headers=JSON).status_code == 404
    assert client.get(path).status_code == 404


def test_the_card_shows_the_holder_but_neither_id_number_nor_phone(client, card, db):
    answer = client.get(card.path)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert "connect-src 'self'" in answer.headers["Content-Security-Policy"]
    assert scripts_run_only_by_hash(answer)
    html = answer.get_data(as_text=True)
    assert ANSWERS["name"] in html and card.number in html and "<svg" in html
    assert "砌筑工（初级）培训班" in html and "罗平县公共就业和人才服务中心" in html
    holder = db.get(Person, card.person_id)
    for secret in (ANSWERS["id"], ANSWERS["phone"], holder.id_masked, holder.phone_masked):
        assert secret not in html
    # Nothing is loaded from anywhere: no src or href at all, no stylesheet, no CDN.
    assert not re.search(r"\b(src|href)=", html)


def test_the_card_speaks_english_to_a_holder_who_chose_english(client, english_card):
    # Issue 17: the language the holder chose in the chat, not their phone's.
    html = client.get(english_card.path, headers={"Accept-Language": "zh-CN,zh;q=0.9"}
                      ).get_data(as_text=True)
    assert "Bricklayer (entry level)" in html
    assert "Show this code at the institution to enrol" in html
    assert '"redeemed": "Enrolled"' in html  # every status's words, for the script
    assert '<html lang="en">' in html


def test_the_card_speaks_chinese_to_a_chinese_holder_on_an_english_phone(client, card):
    html = client.get(card.path, headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(
        as_text=True)
    assert "砌筑工（初级）培训班" in html and "到培训机构出示此码报到" in html
    assert "Bricklayer" not in html and '<html lang="zh-CN">' in html


@pytest.mark.parametrize(("which", "dates", "place"), [
    ("card", "2026年12月2日至2026年12月16日", "地点"),
    ("english_card", "Dec 2, 2026 to Dec 16, 2026", "Place"),
])
def test_the_card_gives_the_class_dates_times_and_address(client, request, which, dates,
                                                          place, db):
    """Issue 17: the card shows when and where the class is, in the holder's language."""
    shown = request.getfixturevalue(which)
    html = client.get(shown.path).get_data(as_text=True)
    course = db.scalar(select(Course).where(Course.code == COURSE))
    assert dates in html
    assert "08:30–12:30" in html and "14:00–18:00" in html
    assert f"{place}</dt>" in html and course.address in html


@pytest.mark.parametrize(("asked", "used"), [("", "60"), ("?refresh=2", "2"),
                                             ("?refresh=0", "1"), ("?refresh=999", "60"),
                                             ("?refresh=soon", "60")])
def test_the_refresh_interval_is_capped_between_1_and_60_seconds(client, card, asked, used):
    assert f'data-refresh="{used}"' in client.get(card.path + asked).get_data(as_text=True)


def test_after_redemption_the_card_shows_no_code(client, card, redeem):
    redeem(card)
    assert client.get(card.path, headers=JSON).get_json() == {
        "qr": None, "expires_in": None, "status": "redeemed"}
    assert "<svg" not in client.get(card.path).get_data(as_text=True)


# --- in headless Chromium ------------------------------------------------------------------

@pytest.fixture
def phone(browser, server):
    """Open the card on a 360×640 phone: ``phone(card, locale="en-US", query="?refresh=1")``.
    Every request the page makes is recorded in ``page.requests``."""
    contexts = []

    def open_card(card: Card, *, locale: str = "zh-CN", query: str = ""):
        context = browser.new_context(viewport=PHONE, locale=locale, device_scale_factor=2,
                                      is_mobile=True, has_touch=True)
        contexts.append(context)
        page = context.new_page()
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        page.goto(server.url + card.path + query)
        return page

    yield open_card
    for context in contexts:
        context.close()


def test_the_phone_shows_a_large_code_and_the_holders_name(phone, card, server, tmp_path):
    page = phone(card)
    code = page.locator("#qr svg")
    code.wait_for(state="visible")
    box = code.bounding_box()
    assert box["width"] >= 0.75 * PHONE["width"] and box["height"] >= 0.75 * PHONE["width"]
    assert box["y"] + box["height"] <= PHONE["height"]  # the whole code without scrolling
    assert page.get_by_text(ANSWERS["name"]).is_visible()
    assert page.get_by_text(card.number).is_visible()
    page.screenshot(path=os.environ.get("PEIXUN_VOUCHER_SCREENSHOT", tmp_path / "voucher.png"))
    assert all(url.startswith(server.url + "/") for url in page.requests), page.requests


def test_the_code_refreshes_by_itself(phone, card, clock):
    page = phone(card, query="?refresh=1")
    before = qr_markup(page)
    page.wait_for_timeout(1500)  # the page asked again, and the code has not turned yet
    assert qr_markup(page) == before
    clock.advance(seconds=60)
    wait_for_a_new_code(page, before)
    assert page.locator("#qr svg").is_visible()


def test_offline_the_old_code_stays_and_the_card_retries(phone, english_card, clock):
    page = phone(english_card, locale="en-US", query="?refresh=1")
    before = qr_markup(page)
    page.context.set_offline(True)
    page.get_by_text("Offline, retrying…").wait_for(state="visible", timeout=10_000)
    assert qr_markup(page) == before
    clock.advance(seconds=60)
    page.context.set_offline(False)
    page.get_by_text("Offline, retrying…").wait_for(state="hidden", timeout=10_000)
    wait_for_a_new_code(page, before)


def test_the_card_follows_a_redemption_without_reloading(phone, english_card, redeem, server):
    card = english_card
    page = phone(card, locale="en-US", query="?refresh=1")
    page.locator("#qr svg").wait_for(state="visible")
    page.evaluate("window.notReloaded = true")
    with server.paused():
        redeem(card)
    page.get_by_text("Enrolled", exact=True).wait_for(state="visible", timeout=10_000)
    assert page.locator("#qr svg").count() == 0
    assert page.evaluate("window.notReloaded") is True


def test_an_english_phone_shows_the_card_in_the_holders_chinese_with_date_and_place(
        phone, card, db):
    """Issue 17: the card followed the phone's language and showed no date or address."""
    course = db.scalar(select(Course).where(Course.code == COURSE))
    page = phone(card, locale="en-US")
    page.locator("#qr svg").wait_for(state="visible")
    assert page.locator("#status").inner_text() == "到培训机构出示此码报到"
    assert page.locator("#dates").inner_text() == "2026年12月2日至2026年12月16日"
    assert page.locator("#place").inner_text().endswith(course.address)
    assert page.locator("#place").is_visible() and page.locator("#times").is_visible()

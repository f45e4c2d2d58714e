"""People without a smartphone (issue 17): a cadre registers a neighbour who has no phone,
claims a voucher for them with their consent (代领券), prints the paper card; staff redeem it
only with the ID card checked; at roll call they mark the trainee 无智能手机, which the bureau's
oversight counts apart. Through the signed callback, the pages over HTTP and in Chromium.

Set PEIXUN_PAPER_CARD_SCREENSHOT=/some/file.png to keep a picture of the card as printed."""

from __future__ import annotations

import os
import re
import time
from datetime import date, datetime

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from models import links
from models.attendance import NO_SMARTPHONE, Attendance, MarkHow
from models.audit import AuditEntry, Channel
from models.catalogue import Course
from models.clock import LOCAL_TZ
from models.desk import DeskRole
from models.errors import ClaimRefused
from models.links import CARD_PURPOSE
from models.paper import ClaimConsent, paper_codes
from models.persons import ConsentHow, Person
from models.vouchers import Voucher, VoucherStatus, claim_voucher
from tests.factories import (
    AFTERNOON,
    ANSWERS,
    bind_staff_via_chat,
    id_number,
    open_afternoon_session,
    register_via_chat,
)
from tests.test_vouchers import _past_course
from webhooks.qr import svg

CADRE = "demo-cadre"  # the demo's cadre of 腊者村, 鲁布革乡
STAFF = "demo-staff"  # staff of lp-zhongzhi, which runs the excavator class today
EXCAVATOR = "lp-2026-today"  # 挖掘机司机（初级）, lp-zhongzhi, from today 08:00–12:00, 13:00–17:00
BRICKLAYER = "lp-2026-001"  # 砌筑工（初级）, lp-pes, from day 7 for 15 days
GRANNY_ID = id_number(born="19560101", seq="013")  # ends …013 + check digit


def register_neighbour(wechat, name: str = "王奶奶", number: str = GRANNY_ID,
                       phone: str = "无") -> str:
    """代报名 through the cadre's menu; returns the last reply."""
    wechat.click(CADRE, "CADRE")
    return wechat.transcript(CADRE, [(answer, None) for answer in (
        "2", name, number, phone, "鲁布革", "1", "0", "1", "0", "0", "1", "1", "1")])[-1].text


def person(db, name: str) -> Person:
    db.expire_all()
    return db.scalar(select(Person).where(Person.name == name))


def vouchers_of(db, name: str) -> list[Voucher]:
    db.expire_all()
    return db.scalars(select(Voucher).join(Voucher.person).where(Person.name == name)
                      .order_by(Voucher.id)).all()


@pytest.fixture
def granny(wechat, db) -> Person:
    """王奶奶, registered by the cadre, without a phone and without WeChat."""
    assert "王奶奶" in register_neighbour(wechat)
    return person(db, "王奶奶")


@pytest.fixture
def claim_for(talk):
    """代领券 as a cadre does it: the neighbour by number, a course by a search word and its
    number, then how the neighbour agreed (1 paper, 2 read aloud, 3 not). Returns the last
    reply."""

    def run(search: str = "挖掘机", *, consent: str = "2", neighbour: str = "1"):
        return talk(CADRE, [("代领券", None), (neighbour, None), (search, None), ("1", None),
                            (consent, None)])[-1]

    return run


def card_url(text: str) -> str:
    return re.search(r"http://peixun\.test(/p/paper-voucher/\S+)", text).group(1)


@pytest.fixture
def paper_voucher(granny, claim_for, db) -> Voucher:
    """王奶奶's voucher for today's excavator class, claimed by the cadre, consent read aloud."""
    assert "券号" in claim_for().text
    [voucher] = vouchers_of(db, "王奶奶")
    return voucher


def paper_code(config, voucher: Voucher) -> str:
    """What the printed card's QR code says."""
    return paper_codes(config.secret_key).make(voucher.id)


# --- registering a neighbour who has no phone ----------------------------------------------

def test_a_cadre_registers_a_neighbour_without_a_phone_and_is_their_contact(talk, db):
    """Issue 17: 无 at the phone step was refused with no alternative."""
    talk(CADRE, [
        ("代报名", "请输入姓名"),
        ("王奶奶", "身份证号"),
        (GRANNY_ID, ["手机号", "如果邻居没有手机，请回复“无”"]),
        ("无", "户籍在哪个乡镇"),
        ("鲁布革", "农村户口还是城镇户口"), ("1", "常住地"), ("0", "就业"), ("1", "求职就业地"),
        ("0", "您属于下面哪些人员"), ("0", "养老金"), ("1", "纸质"),
        ("1", ["手机：无（村干部为联系人）", "身份证：5303"]),
        ("1", "绑定码"),
    ])
    granny = person(db, "王奶奶")
    cadre = db.scalar(select(Person).where(Person.openid == CADRE))
    assert granny.phone_sealed is None and granny.phone_masked is None
    assert granny.registered_by_id == cadre.id and granny.openid is None


def test_someone_registering_on_their_own_wechat_still_needs_a_phone(talk, person_named):
    talk("o-p1", [
        ("注册", "姓名"), ("张三", "身份证号"), (id_number(seq="071"), "手机号"),
        ("无", ["自己用微信登记需要填写手机号", "请找村干部帮您代报名", "手机号"]),
        ("13812345678", "户籍在哪个乡镇"),
    ])
    assert person_named("o-p1").registered_at is None  # nothing saved by the refusal


def test_the_api_takes_a_neighbour_without_a_phone_from_a_cadre_only(cadre_api, newcomer_api,
                                                                       db):
    form = {"name": "赵四", "id_number": id_number(born="19620303", seq="017"), "phone": "无",
            "township": "lubuge", "household_kind": "rural", "residence": "lubuge",
            "job_place": "lubuge", "intent": "local", "groups": [], "draws_pension": False}
    answer = cadre_api.post("/cadre/neighbours", {**form, "consent_on_paper": True})
    assert answer.status_code == 201, answer.get_json()
    assert person(db, "赵四").phone_sealed is None
    own = newcomer_api("o-p2").post("/me/registration", {
        **form, "id_number": id_number(born="19620303", seq="019"), "consent": True})
    assert own.status_code == 422 and own.get_json()["error"]["field"] == "phone"


# --- 代领券: the cadre claims with the neighbour's consent ----------------------------------

def test_the_cadre_claims_for_the_neighbour_with_consent_and_gets_the_paper_card(
        granny, talk, db, client):
    answers = talk(CADRE, [
        ("村干部", "4. 为没有微信的邻居代领培训券"),
        ("4", ["给谁领", "1. 王奶奶 5303"]),
        ("1", ["（为王奶奶）领哪个课程"]),
        ("挖掘机", "1. 挖掘机司机（初级）培训班"),
        ("1", ["请把下面这段话念给王奶奶听", "罗平县中等职业技术学校", "工程机械实训场",
               "您可以不同意", "1. 本人已在纸质同意书上签字", "2. 我已当面念给本人听"]),
        ("2", ["已为王奶奶代领培训券", "打印纸质培训券", "身份证"]),
    ])
    [voucher] = vouchers_of(db, "王奶奶")
    cadre = db.scalar(select(Person).where(Person.openid == CADRE))
    assert voucher.status is VoucherStatus.ISSUED and voucher.claimed_by_id == cadre.id
    assert voucher.number in answers[-1].text
    consent = db.scalar(select(ClaimConsent).where(ClaimConsent.voucher_id == voucher.id))
    assert (consent.person_id, consent.cadre_person_id, consent.how) == (
        granny.id, cadre.id, ConsentHow.READ_ALOUD)
    audited = db.scalar(select(AuditEntry).where(
        AuditEntry.action == "consent.claim_for_neighbour", AuditEntry.target_id == consent.id))
    assert audited.actor_id == cadre.id and audited.after["how"] == "read_aloud"
    assert client.get(card_url(answers[-1].text)).status_code == 200


def test_consent_on_paper_is_recorded_as_such(granny, claim_for, db):
    claim_for(consent="1")
    consent = db.scalar(select(ClaimConsent).where(ClaimConsent.person_id == granny.id))
    assert consent.how is ConsentHow.PAPER


def test_without_the_neighbours_consent_nothing_is_claimed(granny, claim_for, db):
    answer = claim_for(consent="3")
    assert "没有邻居本人同意，不能代领培训券" in answer.text and "个人信息保护法" in answer.text
    assert vouchers_of(db, "王奶奶") == []
    assert db.scalar(select(ClaimConsent).where(ClaimConsent.person_id == granny.id)) is None


def consents_of(db, who: Person) -> int:
    db.expire_all()
    return len(db.scalars(select(ClaimConsent).where(ClaimConsent.person_id == who.id)).all())


def _completed(db, clock, who: Person, course: Course) -> None:
    db.add(Voucher(person_id=who.id, course_id=course.id, status=VoucherStatus.COMPLETED,
                   year=course.starts_on.year, claimed_at=clock.now(),
                   claimed_via=Channel.WECHAT, expires_at=clock.now(),
                   completed_at=clock.now(), certified=True, number=f"PXT{course.id}"))


def _three_this_year(setup, clock, who: Person) -> None:
    for n, month in enumerate((3, 6, 9)):
        _completed(setup, clock, who, _past_course(setup, clock, f"past-{n}", f"工种{n}", None,
                                                   date(2026, month, 1)))


def _brick_before(setup, clock, who: Person) -> None:
    _completed(setup, clock, who, _past_course(setup, clock, "past-brick", "砌筑工", "初级工",
                                               date(2025, 5, 1)))


def _full(setup, clock, who: Person) -> None:
    setup.scalar(select(Course).where(Course.code == BRICKLAYER)).capacity = 0


# The cadre's claim is the same claim as anyone's: each rule refuses it with the same words
# and clause as a person's own 领券 (tests/test_vouchers.py).
SAME_REFUSALS = [
    pytest.param(None, ["砌筑"], "您已经领过这个课程的培训券", "", id="already_holds"),
    pytest.param(None, ["挖掘机"], "时间和您正在参加的", "罗平县人社局培训券管理办法（演示）",
                 id="overlap: the county's own rule"),
    pytest.param(_three_this_year, [], "每人每年最多3次", "曲政办发〔2019〕112号 (十六)",
                 id="yearly_cap QJ2019 (十六)"),
    pytest.param(_brick_before, [], "同一工种同一等级只能享受一次", "曲政办发〔2019〕112号 (十六)",
                 id="same_occupation_level QJ2019 (十六)"),
    pytest.param(_full, [], "名额已满", "二(七)", id="no_seats YN2021 二(七)"),
]


@pytest.mark.parametrize(("setup", "before", "refusal", "clause"), SAME_REFUSALS)
def test_the_cadres_claim_meets_the_same_refusals_as_anyones(granny, claim_for, sessions,
                                                            clock, db, setup, before, refusal,
                                                            clause):
    if setup:
        with sessions.begin() as session:
            setup(session, clock, session.get(Person, granny.id))
    for search in before:
        assert "券号" in claim_for(search).text
    held, consents = len(vouchers_of(db, "王奶奶")), consents_of(db, granny)
    answer = claim_for("砌筑")
    assert answer.text.startswith("（为王奶奶）") and refusal in answer.text
    assert clause in answer.text
    assert len(vouchers_of(db, "王奶奶")) == held  # nothing claimed, no consent kept
    assert consents_of(db, granny) == consents


def test_a_course_that_started_meanwhile_is_refused_to_the_cadre_too(granny, talk, clock,
                                                                      db):
    clock.set(datetime(2026, 11, 25, 23, 50, tzinfo=LOCAL_TZ))
    talk(CADRE, [("代领券", None), ("1", None), ("挖掘机", None),
                 ("1", None)])  # the consent text, read just before midnight…
    clock.advance(minutes=15)  # …and the answer after it, once the course has started
    talk(CADRE, [("2", ["已经开课或关闭", "东县府办发〔2020〕57号"])])
    assert vouchers_of(db, "王奶奶") == []


def test_a_claim_left_half_way_expires_and_says_so(granny, talk, clock, db):
    talk(CADRE, [("代领券", None), ("1", None)])
    clock.advance(minutes=31)
    talk(CADRE, [("1", "时间太久，没有代领")])
    assert vouchers_of(db, "王奶奶") == []


def test_a_cadre_claims_only_for_their_own_neighbours_without_wechat(granny, wechat, talk,
                                                                     services, clock, db,
                                                                     cadre_invitation):
    from models.paper import claim_for_neighbour

    token = cadre_invitation("新寨村")
    wechat.send(wechat.event("o-p-cadre2", "SCAN", EventKey=f"cadre:{token}"))
    talk("o-p-cadre2", [("代领券", "您还没有代报名过没有微信的邻居")])
    course_id = db.scalar(select(Course.id).where(Course.code == EXCAVATOR))
    with pytest.raises(ClaimRefused) as refused, services.sessions.begin() as session:
        claim_for_neighbour(session, cadre_openid="o-p-cadre2", person_id=granny.id,
                            course_id=course_id, consent=ConsentHow.PAPER,
                            channel=Channel.WECHAT, now=clock.now(), today=clock.today())
    assert refused.value.data["rule"] == "not_your_neighbour"
    assert vouchers_of(db, "王奶奶") == []


def test_a_neighbour_who_bound_their_own_wechat_claims_for_themselves(wechat, talk, db):
    code = re.search(r"绑定码：(\d{6})", register_neighbour(wechat)).group(1)
    wechat.follow("o-p-granny")
    wechat.say("o-p-granny", f"绑定 {code}")
    talk(CADRE, [("代领券", "您还没有代报名过没有微信的邻居")])


def test_someone_who_is_not_a_cadre_cannot_claim_for_others(talk):
    talk("o-p3", [("代领券", "这个功能是给村干部用的"), ("邻居的券", "这个功能是给村干部用的")])


def test_a_cadre_who_claimed_nothing_is_told_how(talk):
    talk(CADRE, [("邻居的券", "您还没有为邻居代领培训券。请回复“代领券”")])


def test_the_cadre_lists_the_vouchers_claimed_for_neighbours(paper_voucher, talk):
    answer = talk(CADRE, [("村干部", "5. 我代领的纸质培训券"),
                          ("5", ["您为邻居代领的培训券", "王奶奶", paper_voucher.number])])[-1]
    assert card_url(answer.text)


# --- the paper card --------------------------------------------------------------------------

@pytest.fixture
def card_path(paper_voucher, wechat) -> str:
    return card_url(wechat.say(CADRE, "邻居的券").text)


def test_the_paper_card_shows_what_the_holder_needs_and_only_a_masked_id(
        card_path, paper_voucher, client, config, db):
    page = client.get(card_path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for words in ("培训券（纸质）", "王奶奶", paper_voucher.number, "5303**************",
                  "挖掘机司机（初级）培训班", "罗平县中等职业技术学校", "2026年11月25日",
                  "08:00–12:00", "罗平县腊山街道工程机械实训场", "腊者村村干部", "身份证"):
        assert words in html, words
    assert GRANNY_ID not in html and GRANNY_ID[-4:] not in html  # staff read those off the card
    assert svg(paper_code(config, paper_voucher)) in html  # the card's code, drawn inline
    assert "<svg" in html and "@page" in html and "A6" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert "script-src" not in page.headers["Content-Security-Policy"]


def test_the_card_link_is_the_cadres_only(card_path, paper_voucher, client, config, db):
    assert client.get(card_path[:-3] + "xyz").status_code == 403  # tampered
    someone = db.scalar(select(Person.id).where(Person.openid == STAFF))
    other = links.sign(config.secret_key, CARD_PURPOSE, {"v": paper_voucher.id, "c": someone})
    assert client.get(f"/p/paper-voucher/{other}").status_code == 404  # not their claim
    holder_link = links.sign(config.secret_key, "voucher",
                             {"v": paper_voucher.id, "c": paper_voucher.claimed_by_id})
    assert client.get(f"/p/paper-voucher/{holder_link}").status_code == 403  # another purpose
    old_signer = type("OldSigner", (TimestampSigner,), {
        "get_timestamp": lambda self: int(time.time()) - 31 * 24 * 3600})
    expired = URLSafeTimedSerializer(config.secret_key, salt=f"peixun-page:{CARD_PURPOSE}",
                                     signer=old_signer).dumps(
        {"v": paper_voucher.id, "c": paper_voucher.claimed_by_id})
    assert client.get(f"/p/paper-voucher/{expired}").status_code == 403  # 31 days old


def test_once_redeemed_the_card_shows_no_code(card_path, paper_voucher, wechat, config,
                                              client):
    wechat.scan(STAFF, "REDEEM", paper_code(config, paper_voucher))
    wechat.say(STAFF, GRANNY_ID[-4:])
    html = client.get(card_path).get_data(as_text=True)
    assert "<svg" not in html and "已报到" in html


def test_the_card_prints_on_one_a6_sheet(browser, server, card_path, tmp_path):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(server.url + card_path)
    assert page.locator("#qr svg").is_visible() and page.get_by_text("王奶奶").is_visible()
    assert page.locator("#howto").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("#howto").is_visible()  # the note to the cadre is not printed
    page.set_viewport_size({"width": 359, "height": 522})  # A6 less its margins, at 96 dpi
    page.screenshot(path=os.environ.get("PEIXUN_PAPER_CARD_SCREENSHOT", tmp_path / "card.png"),
                    full_page=True)
    pdf = page.pdf(prefer_css_page_size=True)
    (tmp_path / "card.pdf").write_bytes(pdf)
    pages = re.findall(rb"/Type\s*/Page[^s]", pdf)
    assert len(pages) == 1, f"{len(pages)} pages"
    width, height = (float(x) for x in re.search(
        rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)", pdf).groups())
    assert (round(width), round(height)) == (298, 420)  # A6: 105 × 148 mm in points
    assert all(url.startswith(server.url + "/") for url in requests), requests
    context.close()


# --- redeeming a paper card: the ID card checked ---------------------------------------------

def test_staff_redeem_a_paper_card_only_with_the_id_card_checked(paper_voucher, talk, config,
                                                                 wechat, db):
    prompt = wechat.scan(STAFF, "REDEEM", paper_code(config, paper_voucher))
    assert "纸质培训券" in prompt.text and "王奶奶" in prompt.text
    assert "5303**************" in prompt.text and "后4位" in prompt.text
    assert GRANNY_ID[-4:] not in prompt.text  # they must read it from the card
    talk(STAFF, [
        ("12ab", "请回复身份证号码的后4位"),
        ("9999", ["这不是此人身份证号码的后4位", "没有核销", "后4位"]),
    ])
    assert vouchers_of(db, "王奶奶")[0].status is VoucherStatus.ISSUED
    talk(STAFF, [(GRANNY_ID[-4:], ["报到成功 ✔ 已核验身份证", "王奶奶", paper_voucher.number])])
    [voucher] = vouchers_of(db, "王奶奶")
    assert voucher.status is VoucherStatus.REDEEMED
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "voucher.redeem",
                                               AuditEntry.target_id == voucher.id))
    assert entry.after == {"status": "redeemed", "paper": True, "id_card_checked": True}
    # Once: the same card again is refused.
    again = wechat.scan(STAFF, "REDEEM", paper_code(config, paper_voucher))
    assert "核销过了，不能重复核销" in again.text


def test_three_wrong_id_answers_end_the_check(paper_voucher, talk, config, wechat, db):
    wechat.scan(STAFF, "REDEEM", paper_code(config, paper_voucher))
    talk(STAFF, [("0000", "后4位"), ("1111", "后4位"),
                 ("2222", "请核对身份证后重新扫描纸质培训券")])
    wechat.say(STAFF, GRANNY_ID[-4:])  # the check is over: the right answer now redeems nothing
    assert vouchers_of(db, "王奶奶")[0].status is VoucherStatus.ISSUED


def test_scanning_the_card_again_gives_no_more_guesses_than_five_a_day(paper_voucher, talk,
                                                                      config, wechat, db):
    """A rescan started the three tries again: 10,000 endings could be walked through. Five
    wrong checks of one card in a day, over every scan, and the card is refused for the day."""
    code = paper_code(config, paper_voucher)
    wechat.scan(STAFF, "REDEEM", code)
    talk(STAFF, [("0000", "后4位"), ("1111", "后4位"), ("2222", "重新扫描")])
    wechat.scan(STAFF, "REDEEM", code)
    talk(STAFF, [("3333", "后4位"), ("4444", "错误次数太多")])
    wechat.scan(STAFF, "REDEEM", code)
    [refused] = talk(STAFF, [(GRANNY_ID[-4:], "错误次数太多")])  # even the right answer
    assert "村干部" in refused.text
    assert vouchers_of(db, "王奶奶")[0].status is VoucherStatus.ISSUED


def test_the_cadres_list_of_neighbours_keeps_the_id_check_characters_out(talk, wechat, db):
    register_neighbour(wechat)
    wechat.click(CADRE, "CADRE")
    listing = wechat.say(CADRE, "4").text
    assert "王奶奶" in listing and GRANNY_ID[-4:] not in listing


def test_an_id_check_left_too_long_redeems_nothing(paper_voucher, talk, config, wechat, clock,
                                                   db):
    wechat.scan(STAFF, "REDEEM", paper_code(config, paper_voucher))
    clock.advance(minutes=31)
    talk(STAFF, [(GRANNY_ID[-4:], "时间太久，没有核销。请重新扫描纸质培训券")])
    assert vouchers_of(db, "王奶奶")[0].status is VoucherStatus.ISSUED


@pytest.mark.parametrize(("who", "refusal"), [
    pytest.param("o-p-outsider", "只有培训机构工作人员", id="not staff"),
    pytest.param("o-p-pes", "这张券是别的机构课程的", id="staff of another institution"),
])
def test_a_paper_card_is_useless_to_anyone_but_the_classs_staff(paper_voucher, wechat,
                                                                services, clock, config, db,
                                                                who, refusal):
    if who == "o-p-pes":
        bind_staff_via_chat(wechat, services, clock, who, "lp-pes")
    answer = wechat.scan(who, "REDEEM", paper_code(config, paper_voucher))
    assert refusal in answer.text and "王奶奶" not in answer.text
    wechat.say(who, GRANNY_ID[-4:])  # no ID check was begun for them
    assert vouchers_of(db, "王奶奶")[0].status is VoucherStatus.ISSUED


def test_a_forged_or_moved_paper_code_is_refused(paper_voucher, wechat, config, sessions,
                                                 clock, db):
    code = paper_code(config, paper_voucher)
    forged = code[:-2] + ("00" if not code.endswith("00") else "11")
    assert "被改动过" in wechat.scan(STAFF, "REDEEM", forged).text
    moved = f"PXP:{paper_voucher.id + 1}:{code.rsplit(':', 1)[1]}"
    assert "被改动过" in wechat.scan(STAFF, "REDEEM", moved).text
    # A voucher held on WeChat has no paper card: a signed code for it was never printed.
    register_via_chat(wechat, "o-p4", id=id_number(seq="073"))
    with sessions.begin() as session:
        own = claim_voucher(session, openid="o-p4", course_id=paper_voucher.course_id,
                            channel=Channel.WECHAT, now=clock.now(), today=clock.today())
    assert "被改动过" in wechat.scan(STAFF, "REDEEM", paper_code(config, own)).text
    assert vouchers_of(db, "王奶奶")[0].status is VoucherStatus.ISSUED


# --- roll call: 补签 … 无智能手机, counted apart ----------------------------------------------

@pytest.fixture
def in_class(paper_voucher, wechat, talk, config, clock):
    """王奶奶 enrolled with her paper card; the afternoon session is open."""
    wechat.scan(STAFF, "REDEEM", paper_code(config, paper_voucher))
    talk(STAFF, [(GRANNY_ID[-4:], "报到成功")])
    open_afternoon_session(wechat, clock, STAFF)
    return paper_voucher


def _marks(db, name: str) -> list[Attendance]:
    db.expire_all()
    return db.scalars(select(Attendance).join(Person, Person.id == Attendance.person_id)
                      .where(Person.name == name)).all()


def test_staff_mark_a_trainee_without_a_smartphone_by_name_at_roll_call(in_class, talk, db):
    talk(STAFF, [
        ("点名", ["王奶奶", f"无微信：补签 {in_class.number} 无智能手机"]),
        ("补签 王奶奶 无智能手机", "手工补记"),
    ])
    [mark] = _marks(db, "王奶奶")
    assert mark.is_present and mark.how is MarkHow.MANUAL and mark.reason == NO_SMARTPHONE


def test_the_voucher_number_works_too_and_the_reason_is_kept_in_one_spelling(in_class, talk,
                                                                             db):
    talk(STAFF, [(f"补签 {in_class.number} 没有智能手机", "手工补记")])
    assert _marks(db, "王奶奶")[0].reason == NO_SMARTPHONE


def test_no_smartphone_is_refused_for_a_trainee_with_wechat(in_class, talk, db):
    trainee = db.scalar(select(Voucher).join(Voucher.person).where(
        Person.openid == "demo-trainee", Voucher.status == VoucherStatus.REDEEMED))
    talk(STAFF, [(f"补签 {trainee.number} 无智能手机",
                  ["有自己的微信，应扫码签到", "东县府办发〔2020〕57号 三(六)"])])
    assert db.scalar(select(Attendance).where(Attendance.voucher_id == trainee.id)) is None


@pytest.mark.parametrize(("said", "refusal"), [
    pytest.param("补签 李大爷 无智能手机", "没有叫“李大爷”的已报到学员", id="no such trainee"),
    pytest.param("补签 ! 无智能手机", "已报到学员", id="not a name"),
])
def test_a_name_that_is_no_enrolled_trainee_is_refused(in_class, talk, db, said, refusal):
    talk(STAFF, [(said, refusal)])
    assert _marks(db, "王奶奶") == []


def test_two_trainees_of_the_same_name_need_the_voucher_number(in_class, wechat, talk,
                                                              sessions, clock, db):
    register_via_chat(wechat, "o-p5", name="王奶奶", id=id_number(born="19580101", seq="024"))
    with sessions.begin() as session:
        other = claim_voucher(session, openid="o-p5", course_id=in_class.course_id,
                              channel=Channel.WECHAT, now=clock.now(), today=clock.today())
        other.status = VoucherStatus.REDEEMED
    talk(STAFF, [("补签 王奶奶 无智能手机", "有几位已报到学员都叫“王奶奶”")])
    assert _marks(db, "王奶奶") == []


def test_no_hand_mark_before_the_class_is_opened(paper_voucher, wechat, config, clock, talk,
                                                 db):
    wechat.scan(STAFF, "REDEEM", paper_code(config, paper_voucher))
    wechat.say(STAFF, GRANNY_ID[-4:])
    clock.set(AFTERNOON)  # the session's window is open, but nobody opened the class
    talk(STAFF, [("补签 王奶奶 无智能手机", "这节课还没开课，不能补签")])
    assert _marks(db, "王奶奶") == []


def test_oversight_counts_the_marks_without_a_smartphone_apart(in_class, talk, desk_client,
                                                               db):
    trainee = db.scalar(select(Voucher).join(Voucher.person).where(
        Person.openid == "demo-trainee", Voucher.status == VoucherStatus.REDEEMED))
    talk(STAFF, [("补签 王奶奶 无智能手机", None), (f"补签 {trainee.number} 手机没电", None)])
    html = desk_client(DeskRole.INSPECTOR).get("/admin/oversight?lang=en").get_data(
        as_text=True)
    assert "1 hand marks 无智能手机 in this period" in html
    row = re.search(rf'<tr data-code="{EXCAVATOR}">(.*?)</tr>', html, re.S).group(1)
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', row))
    assert counts == {"no_smartphone": "1", "manual": "1"}
    # The class's share by hand leaves her out: 1 of the 1 mark of trainees who could scan.
    flagged = re.search(rf'<tr class="flagged" data-code="{EXCAVATOR}">(.*?)</tr>', html,
                        re.S).group(1)
    assert re.search(r'data-flag="manual">\s*100%', flagged)
    assert re.search(r'data-flag="no_smartphone">1<', flagged)


def test_the_command_line_oversight_counts_them_apart_too(in_class, wechat, runner):
    wechat.say(STAFF, "补签 王奶奶 无智能手机")
    result = runner.invoke(args=["attendance", "oversight", "--lang", "en"])
    [line] = [x for x in result.output.splitlines() if x.startswith(EXCAVATOR)]
    assert "marks: 1, by hand: 0%" in line and "无智能手机 (counted apart): 1" in line
    assert "proxy" not in line


def test_oversight_without_such_marks_says_so(desk_client):
    html = desk_client(DeskRole.ADMIN).get("/admin/oversight").get_data(as_text=True)
    assert "本期间没有“无智能手机”补签" in html


def test_the_rotating_card_still_redeems_as_before(wechat, services, clock, db):
    """The shared redemption steps serve the phone's rotating code unchanged."""
    register_via_chat(wechat, "o-p6", id=id_number(seq="075"))
    with services.sessions.begin() as session:
        course_id = session.scalar(select(Course.id).where(Course.code == EXCAVATOR))
        voucher = claim_voucher(session, openid="o-p6", course_id=course_id,
                                channel=Channel.WECHAT, now=clock.now(), today=clock.today())
    answer = wechat.scan(STAFF, "REDEEM", services.voucher_codes.show(voucher.id,
                                                                      clock.now()).code)
    assert "报到成功" in answer.text and ANSWERS["name"] in answer.text


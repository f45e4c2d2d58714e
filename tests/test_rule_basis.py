"""Whose rule it is (issue 16, item 13). A refusal under a rule the county took from DX2020's
model cites the county's own basis (the demo's stand-in, naming the model only as 参照), never
“依据：东县府办发〔2020〕57号 三(一)” as if another county's plan bound a Luoping trainee; a rule of
a binding document cites its clause. Through the chat and the API, table-driven: each case
names the citation the person reads, and the refusal changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from models.attendance import Attendance
from models.catalogue import ClassSession, Course
from models.desk import DeskRole
from models.persons import Person
from models.vouchers import Voucher, VoucherStatus
from tests.factories import AFTERNOON, open_afternoon_session, register_via_chat

TRAINEE, STAFF, CADRE = "demo-trainee", "demo-staff", "demo-cadre"
BRICKLAYER = "lp-2026-001"  # 砌筑工（初级）, from day 7 for 15 days
SYB = "lp-2026-011"  # from day 40: no overlap with demo-trainee's class
TODAY_CLASS = "lp-2026-today"  # 挖掘机司机（初级）, demo-trainee's class, from today for 20 days

# What the person reads after 依据：
VOUCHER_RULES = "罗平县人社局培训券管理办法（演示：参照东乡族自治县东县府办发〔2020〕57号 三(一)）"
OVERLAP_RULE = "罗平县人社局培训券管理办法（演示）"  # DX2020 三(一) says nothing of dates
ATTENDANCE_RULES = ("罗平县人社局培训考勤管理办法"
                    "（演示：参照东乡族自治县东县府办发〔2020〕57号 三(六)）")
CLASS_SIZE = "云南省人社厅2021年职业技能提升行动通知 二(七)"  # binding: cited as it is


@pytest.fixture
def door(wechat, db, sessions, clock, services, api_as):
    return SimpleNamespace(wechat=wechat, db=db, sessions=sessions, clock=clock,
                           services=services, api_as=api_as)


def course_id(db, code: str) -> int:
    return db.scalar(select(Course.id).where(Course.code == code))


def voucher_number(db, openid: str, code: str) -> str:
    return db.scalar(select(Voucher.number).join(Voucher.person).join(Voucher.course)
                     .where(Person.openid == openid, Course.code == code))


def full(d, code: str) -> None:
    with d.sessions.begin() as setup:
        setup.scalar(select(Course).where(Course.code == code)).capacity = 0


def state(db) -> tuple[int, int, int]:
    """What a refusal must leave as it was: live vouchers, attendance marks, completions."""
    db.expire_all()
    live = (VoucherStatus.ISSUED, VoucherStatus.REDEEMED, VoucherStatus.COMPLETED)
    return (db.scalar(select(func.count(Voucher.id)).where(Voucher.status.in_(live))),
            db.scalar(select(func.count(Attendance.id))),
            db.scalar(select(func.count(Voucher.id))
                      .where(Voucher.status == VoucherStatus.COMPLETED)))


# --- the chat ------------------------------------------------------------------------------

def claim(d, openid: str, name: str = "砌筑工（初级）培训班") -> str:
    """Search the course, open it by its number in the list, then say 领券."""
    listed = d.wechat.say(openid, f"课程 {name[:2]}").text
    d.wechat.say(openid, re.search(rf"(\d+)\. {re.escape(name)}", listed).group(1))
    return d.wechat.say(openid, "领券").text


def claim_overlapping(d) -> str:
    return claim(d, TRAINEE)  # demo-trainee's class runs 20 days from today


def claim_started(d) -> str:
    register_via_chat(d.wechat, "o-basis-1")
    d.wechat.transcript("o-basis-1", [("课程 挖掘机", None),
                                      ("1", None)])  # the details, read today…
    d.clock.advance(days=1)  # …and the claim tomorrow, once the course has started
    return d.wechat.say("o-basis-1", "领券").text


def claim_full(d) -> str:
    full(d, BRICKLAYER)
    register_via_chat(d.wechat, "o-basis-2")
    return claim(d, "o-basis-2")


def open_class(d) -> str:
    """The afternoon class opened by its staff; its display's code now."""
    open_afternoon_session(d.wechat, d.clock, STAFF)
    course = d.db.scalar(select(Course).where(Course.code == TODAY_CLASS))
    session = d.db.scalar(select(ClassSession).where(
        ClassSession.course_id == course.id, ClassSession.day == d.clock.today(),
        ClassSession.opened_at.is_not(None)))
    d.wechat.report_location(TRAINEE, course.lat + 0.0005, course.lng)  # in the room
    return d.services.class_codes.show(session.id, d.clock.now()).code


def check_in_late(d) -> str:
    open_class(d)
    d.clock.advance(minutes=40)  # 13:35: more than 30 minutes after the start
    course = d.db.scalar(select(Course).where(Course.code == TODAY_CLASS))
    session = d.db.scalar(select(ClassSession).where(
        ClassSession.course_id == course.id, ClassSession.day == d.clock.today(),
        ClassSession.opened_at.is_not(None)))
    return d.wechat.scan(TRAINEE, "CHECKIN",
                         d.services.class_codes.show(session.id, d.clock.now()).code).text


def check_in_not_enrolled(d) -> str:
    code = open_class(d)
    register_via_chat(d.wechat, "o-basis-3")
    return d.wechat.scan("o-basis-3", "CHECKIN", code).text


def mark_unopened(d) -> str:
    d.clock.set(AFTERNOON)  # inside the session's window, but nobody said 开课
    return d.wechat.say(STAFF, f"补签 {voucher_number(d.db, TRAINEE, TODAY_CLASS)} 手机没电").text


def complete_unattended(d) -> str:
    return d.wechat.say(STAFF, f"结业 {voucher_number(d.db, TRAINEE, TODAY_CLASS)} ZS-1").text


@dataclass(frozen=True)
class ChatCase:
    name: str
    run: Callable[[SimpleNamespace], str]
    says: str  # the refusal, in the person's words
    cites: str  # the rule's basis as the person reads it


CHAT_CASES = [
    ChatCase("overlapping course", claim_overlapping, "时间和您正在参加的", OVERLAP_RULE),
    ChatCase("course started", claim_started, "已经开课或关闭", VOUCHER_RULES),
    ChatCase("course full", claim_full, "名额已满", CLASS_SIZE),
    ChatCase("check-in too late", check_in_late, "上课前15分钟到上课后30分钟", ATTENDANCE_RULES),
    ChatCase("check-in not enrolled", check_in_not_enrolled, "您没有报到", ATTENDANCE_RULES),
    ChatCase("hand mark, class not opened", mark_unopened, "还没开课，不能补签", ATTENDANCE_RULES),
    ChatCase("completion short of hours", complete_unattended, "出勤不够", ATTENDANCE_RULES),
]


@pytest.mark.parametrize("case", CHAT_CASES, ids=lambda c: c.name)
def test_a_refusal_in_the_chat_cites_whose_rule_it_is(case, door, db):
    before = state(db)
    text = case.run(door)
    assert case.says in text
    assert f"（依据：{case.cites}）" in text
    assert "依据：东县府办发" not in text  # another county's plan is never the rule
    assert state(db) == before


def test_a_refused_claim_as_a_transcript(talk):
    [*_, refused] = talk(TRAINEE, [
        ("课程 砌筑", "2. 砌筑工（初级）培训班"),
        ("2", "领取这个课程的培训券（领券）"),
        ("领券", ["时间和您正在参加的", "（依据：罗平县人社局培训券管理办法（演示））"]),
    ])
    assert "东县府办发〔2020〕57号" not in refused.text


# --- the API -------------------------------------------------------------------------------

def api_claim(d, code: str, who: str = TRAINEE):
    return d.api_as(who).post("/vouchers", {"course_id": course_id(d.db, code)})


def api_claim_started(d):
    d.clock.advance(days=8)  # the bricklayers' course began yesterday
    return api_claim(d, BRICKLAYER)


def api_claim_full(d):
    full(d, SYB)
    return api_claim(d, SYB)


def api_class_code(d) -> str:
    d.clock.set(AFTERNOON)
    opened = d.api_as(STAFF).post("/staff/sessions/open", {})
    assert opened.status_code == 200, opened.get_json()
    return opened.get_json()["display"]["qr"]


def api_check_in_not_enrolled(d):
    code = api_class_code(d)  # first: the clock moves, and a token lives some hours
    return d.api_as(CADRE).post("/check-ins", {"code": code})


def api_check_in_far(d):
    code = api_class_code(d)
    course = d.db.scalar(select(Course).where(Course.code == TODAY_CLASS))
    return d.api_as(TRAINEE).post("/check-ins", {"code": code, "lat": course.lat + 0.05,
                                                 "lng": course.lng})


def api_mark_unopened(d):
    d.clock.set(AFTERNOON)
    return d.api_as(STAFF).post("/staff/marks", {
        "voucher_number": voucher_number(d.db, TRAINEE, TODAY_CLASS), "present": True,
        "reason": "手机没电"})


def api_complete_unattended(d):
    return d.api_as(STAFF).post("/staff/completions", {
        "voucher_number": voucher_number(d.db, TRAINEE, TODAY_CLASS), "certificate_no": "ZS-1"})


@dataclass(frozen=True)
class ApiCase:
    name: str
    run: Callable[[SimpleNamespace], object]
    code: str
    reason: str | None
    cites: str
    is_in_message: bool = True  # the message names the basis too (some answers are short)


API_CASES = [
    ApiCase("overlapping course", lambda d: api_claim(d, BRICKLAYER), "claim_refused", "overlap",
            OVERLAP_RULE),
    ApiCase("course started", api_claim_started, "claim_refused", "course_closed",
            VOUCHER_RULES),
    ApiCase("voucher held", lambda d: api_claim(d, TODAY_CLASS), "claim_refused",
            "already_holds", VOUCHER_RULES, is_in_message=False),
    ApiCase("course full", api_claim_full, "claim_refused", "no_seats", CLASS_SIZE),
    ApiCase("check-in not enrolled", api_check_in_not_enrolled, "check_in_refused",
            "not_enrolled", ATTENDANCE_RULES),
    ApiCase("check-in too far", api_check_in_far, "check_in_refused", "too_far",
            ATTENDANCE_RULES, is_in_message=False),
    ApiCase("hand mark, class not opened", api_mark_unopened, "mark_refused", "not_open",
            ATTENDANCE_RULES),
    ApiCase("completion short of hours", api_complete_unattended, "attendance_short", None,
            ATTENDANCE_RULES),
]


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: c.name)
def test_a_refusal_of_the_api_carries_the_same_source(case, door, db):
    before = state(db)
    answer = case.run(door)
    error = answer.get_json()["error"]
    assert answer.status_code == 409, error
    assert (error["code"], error["reason"]) == (case.code, case.reason)
    assert error["source"] == case.cites
    assert (f"（依据：{case.cites}）" in error["message"]) is case.is_in_message
    assert state(db) == before


def test_a_course_that_does_not_exist_is_refused_under_the_countys_rule(api_as, db):
    answer = api_as(TRAINEE).post("/vouchers", {"course_id": 2**31 - 1})
    error = answer.get_json()["error"]
    assert (answer.status_code, error["reason"]) == (409, "course_closed")
    assert error["source"] == VOUCHER_RULES


def test_an_error_with_no_rule_behind_it_names_no_source(api_as, db):
    refused = api_as(STAFF).post("/staff/completions", {"voucher_number": "PX2026999999",
                                                        "certificate_no": "ZS-1"})
    assert refused.status_code == 404 and "source" not in refused.get_json()["error"]


def test_english_readers_get_the_same_basis(api_as, db):
    answer = api_as(TRAINEE, locale="en").post("/vouchers",
                                               {"course_id": course_id(db, BRICKLAYER)})
    error = answer.get_json()["error"]
    assert "overlap" in error["message"] and f"({OVERLAP_RULE})" in error["message"]
    assert error["source"] == OVERLAP_RULE


# --- the desk ------------------------------------------------------------------------------

@pytest.mark.parametrize(("page", "cites"), [
    ("/admin/oversight", ATTENDANCE_RULES),  # the flags look for proxy signing (代签)
    ("/admin/followups", "罗政办发〔2021〕2号 二"),  # the 90% goal is the county's own plan's
])
def test_the_desks_notes_cite_the_countys_rules(page, cites, desk_client):
    html = desk_client(DeskRole.ADMIN).get(page).get_data(as_text=True)
    assert cites in html
    assert "DX2020" not in html and "东县府办发〔2020〕三" not in html

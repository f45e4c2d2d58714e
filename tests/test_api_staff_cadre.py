"""Staff and cadres through the mini-program API, and the same authorization matrix as the
chat: a trainee cannot redeem, staff of another institution cannot, cadre endpoints refuse
everyone but cadres."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from models.audit import AuditEntry, Channel
from models.catalogue import Course
from models.clock import LOCAL_TZ
from models.persons import Person
from models.vouchers import Redemption, Voucher, VoucherStatus
from tests.factories import AFTERNOON, afternoon_class, bind_staff_via_chat, id_number

ZHONGZHI_LATER = "lp-2026-007"  # at lp-zhongzhi (demo-staff's institution), from day 12
PES_COURSE = "lp-2026-001"  # at lp-pes
FORM = {"name": "赵四", "id_number": id_number(born="19850707", seq="025"),
        "phone": "13612345678", "township": "luoxiong", "household_kind": "rural",
        "residence": "luoxiong", "job_place": "luoxiong", "intent": "local", "groups": [],
        "draws_pension": False}


@pytest.fixture
def holder(newcomer_api, db):
    """A registered trainee (through the app) holding a voucher for a lp-zhongzhi course."""
    api = newcomer_api("o-holder")
    assert api.post("/me/registration", {**FORM, "consent": True}).status_code == 201
    course = db.scalar(select(Course.id).where(Course.code == ZHONGZHI_LATER))
    # No group declared: free_targeted_groups (曲政办发〔2019〕112号 (十七)) does not pay for
    # this tendered course for them, so the claim says it accepts the cost (models.cost).
    voucher = api.post("/vouchers", {"course_id": course, "accept_cost": True}).get_json()
    return api, voucher


def code_of(api, voucher) -> str:
    return api.get(f"/vouchers/{voucher['id']}").get_json()["code"]["qr"]


def redemptions(db, voucher_id: int) -> int:
    db.expire_all()
    return db.scalar(select(func.count(Redemption.id)).where(
        Redemption.voucher_id == voucher_id))


def test_staff_redeem_once_with_the_holders_name_to_compare(holder, staff_api, db):
    api, voucher = holder
    code = code_of(api, voucher)
    answer = staff_api.post("/staff/redemptions", {"code": code})
    assert answer.status_code == 201, answer.get_json()
    done = answer.get_json()
    assert done["holder_name"] == "赵四" and done["holder_id_masked"].count("*") == 10
    assert FORM["id_number"] not in answer.get_data(as_text=True)
    # The card shows no code once redeemed; the same code scanned again is refused.
    assert api.get(f"/vouchers/{voucher['id']}").get_json()["code"] is None
    again = staff_api.post("/staff/redemptions", {"code": code})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "voucher_already_redeemed"
    assert redemptions(db, voucher["id"]) == 1


def test_a_retried_redemption_answers_the_same_and_redeems_once(holder, staff_api, db, clock):
    api, voucher = holder
    code = code_of(api, voucher)
    key = {"Idempotency-Key": "scan-0001"}
    first = staff_api.post("/staff/redemptions", {"code": code}, headers=key)
    retry = staff_api.post("/staff/redemptions", {"code": code}, headers=key)
    assert first.status_code == retry.status_code == 201
    assert first.get_json() == retry.get_json()
    assert redemptions(db, voucher["id"]) == 1
    db.expire_all()
    assert db.get(Voucher, voucher["id"]).status is VoucherStatus.REDEEMED


def test_a_trainee_cannot_redeem(holder, trainee_api, db):
    api, voucher = holder
    answer = trainee_api.post("/staff/redemptions", {"code": code_of(api, voucher)})
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "not_staff"
    assert redemptions(db, voucher["id"]) == 0


def test_staff_of_another_institution_cannot_redeem(holder, wechat, services, clock,
                                                     newcomer_api, db):
    api, voucher = holder
    bind_staff_via_chat(wechat, services, clock, "o-staff-pes", "lp-pes")
    other = newcomer_api("o-staff-pes")
    answer = other.post("/staff/redemptions", {"code": code_of(api, voucher)})
    assert answer.status_code == 403
    assert answer.get_json()["error"]["code"] == "voucher_wrong_institution"
    assert redemptions(db, voucher["id"]) == 0


def test_an_old_or_altered_code_is_refused(holder, staff_api, clock, db):
    api, voucher = holder
    code = code_of(api, voucher)
    clock.advance(minutes=3)
    stale = staff_api.post("/staff/redemptions", {"code": code})
    assert stale.status_code == 422
    assert stale.get_json()["error"] | {"message": ""} == {
        "code": "code_invalid", "field": "code", "reason": "stale", "message": ""}
    altered = staff_api.post("/staff/redemptions", {"code": code_of(api, voucher)[:-2] + "00"})
    assert altered.status_code == 422 and altered.get_json()["error"]["reason"] == "forged"
    assert redemptions(db, voucher["id"]) == 0


def test_roll_call_marks_and_completion(api_as, clock, db):
    clock.set(AFTERNOON)
    staff = api_as("demo-staff")
    opened = staff.post("/staff/sessions/open", {})
    assert opened.status_code == 200
    state = opened.get_json()
    assert state["display"]["qr"].startswith("PXC:") and state["display"]["enrolled"] >= 1
    assert state["display_url"].startswith("http://peixun.test/p/class/")
    assert db.scalar(select(AuditEntry.channel).where(
        AuditEntry.action == "session.open",
        AuditEntry.target_id == state["session_id"])) is Channel.API
    roll = staff.get("/staff/roll-call").get_json()
    [line] = [x for x in roll["lines"] if x["name"] == "李春花"]
    assert line["state"] == "not_checked_in" and line["id_masked"] == "5303**********0028"
    marked = staff.post("/staff/marks", {"voucher_number": line["voucher_number"],
                                         "present": True, "reason": "手机没电"})
    assert marked.status_code == 201 and marked.get_json()["how"] == "manual"
    roll = staff.get("/staff/roll-call").get_json()
    [line] = [x for x in roll["lines"] if x["name"] == "李春花"]
    assert line["state"] == "present" and line["how"] == "manual"
    short = staff.post("/staff/completions", {"voucher_number": line["voucher_number"],
                                              "certificate_no": "C-1"})
    assert short.status_code == 409 and short.get_json()["error"]["code"] == "attendance_short"


def test_a_mark_needs_an_opened_session_inside_its_window(api_as, clock, db):
    """补签 by the API: refused before 开课, for a session still to come, and long after the
    end (each naming its rule and window, in the caller's language); taken inside the window
    and shortly after the end."""
    number = db.scalar(select(Voucher.number).join(Person, Person.id == Voucher.person_id)
                       .where(Person.openid == "demo-trainee"))
    mark = {"voucher_number": number, "present": True, "reason": "手机没电"}
    clock.set(AFTERNOON)  # the 13:00 session's window, but nobody opened it
    refused = api_as("demo-staff").post("/staff/marks", mark)
    error = refused.get_json()["error"]
    assert refused.status_code == 409
    assert (error["code"], error["reason"]) == ("mark_refused", "not_open")
    assert "还没开课，不能补签" in error["message"]
    assert "（依据：罗平县人社局培训考勤管理办法（演示：参照" in error["message"]
    assert error["source"].startswith("罗平县人社局培训考勤管理办法")
    english = api_as("demo-staff", locale="en").post("/staff/marks", mark).get_json()["error"]
    assert "has not been opened" in english["message"] and "12:45" in english["message"]

    clock.set(datetime(2026, 11, 26, 7, 0, tzinfo=LOCAL_TZ))  # tomorrow, before 07:45
    early = api_as("demo-staff").post("/staff/marks", mark).get_json()["error"]
    assert (early["code"], early["reason"]) == ("mark_refused", "not_started")
    assert "不能提前补签" in early["message"] and "07:45" in early["message"]

    clock.set(AFTERNOON)
    assert api_as("demo-staff").post("/staff/sessions/open", {}).status_code == 200
    clock.set(AFTERNOON.replace(hour=17, minute=20))  # 20 minutes after the end
    assert api_as("demo-staff").post("/staff/marks", mark).status_code == 201
    clock.set(AFTERNOON.replace(hour=18))
    late = api_as("demo-staff").post("/staff/marks", {**mark, "present": False})
    assert late.status_code == 409 and late.get_json()["error"]["reason"] == "too_late"
    assert db.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "attendance.mark")) == 1


def test_completion_by_the_api_waits_for_the_end_of_the_sessions(api_as, newcomer_api,
                                                                 sessions, clock, db):
    clock.set(AFTERNOON)
    afternoon_class(sessions, clock, code="zz-short", institution_code="lp-zhongzhi")
    api = newcomer_api("o-short")
    assert api.post("/me/registration", {**FORM, "consent": True}).status_code == 201
    course = db.scalar(select(Course.id).where(Course.code == "zz-short"))
    voucher = api.post("/vouchers", {"course_id": course}).get_json()
    staff = api_as("demo-staff")
    assert staff.post("/staff/redemptions", {"code": code_of(api, voucher)}).status_code == 201
    number = voucher["number"]
    clock.set(AFTERNOON.replace(hour=14))
    staff = api_as("demo-staff")
    assert staff.post("/staff/sessions/open", {"course_code": "zz-short"}).status_code == 200
    assert staff.post("/staff/marks", {"voucher_number": number, "present": True,
                                       "reason": "手机没电"}).status_code == 201
    complete = {"voucher_number": number, "certificate_no": "C-9"}
    early = staff.post("/staff/completions", complete)
    error = early.get_json()["error"]
    assert early.status_code == 409 and error["code"] == "sessions_not_over"
    assert "结业要等到" in error["message"] and "17:00" in error["message"]
    assert db.scalar(select(Voucher.status).where(Voucher.number == number)) is \
        VoucherStatus.REDEEMED
    clock.set(AFTERNOON.replace(hour=17, minute=5))
    done = api_as("demo-staff").post("/staff/completions", complete)
    assert done.status_code == 200 and done.get_json()["status"] == "completed"


def test_staff_endpoints_refuse_non_staff(api_as, clock):
    clock.set(AFTERNOON)
    for user in ("demo-trainee", "demo-cadre"):
        api = api_as(user)
        for method, path, body in (("POST", "/staff/sessions/open", {}),
                                   ("GET", "/staff/roll-call", None),
                                   ("POST", "/staff/marks", {"voucher_number": "PX1",
                                                             "present": True, "reason": "x"}),
                                   ("POST", "/staff/completions", {"voucher_number": "PX1",
                                                                   "certificate_no": None})):
            answer = api.call(method, path, json=body)
            assert answer.status_code == 403, (user, path, answer.get_json())
            assert answer.get_json()["error"]["code"] == "not_staff"


# --- cadres --------------------------------------------------------------------------------

def test_the_cadres_referral_code_and_figures(cadre_api):
    referral = cadre_api.get("/cadre/referral").get_json()
    assert referral["village"] == "腊者村" and referral["scene"].startswith("ref:")
    assert referral["page_url"].startswith("http://peixun.test/p/cadre-qr/")
    figures = cadre_api.get("/cadre/figures").get_json()
    assert {"mobilized", "registered", "certified"} <= set(figures)


def test_a_cadre_registers_a_neighbour(cadre_api, db):
    neighbour = {**FORM, "id_number": id_number(born="19700101", seq="044"),
                 "consent_on_paper": True}
    answer = cadre_api.post("/cadre/neighbours", neighbour)
    assert answer.status_code == 201, answer.get_json()
    assert len(answer.get_json()["bind_code"]) == 6
    db.expire_all()
    person = db.scalar(select(Person).where(Person.name == "赵四"))
    assert person.openid is None and person.registered_by_id is not None
    assert cadre_api.get("/cadre/figures").get_json()["registered_by_cadre"] == 1
    bad = cadre_api.post("/cadre/neighbours", {**neighbour, "phone": "1"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "phone"


def test_cadre_endpoints_refuse_everyone_else(trainee_api, staff_api):
    for api in (trainee_api, staff_api):
        for method, path, body in (("GET", "/cadre/referral", None),
                                   ("GET", "/cadre/figures", None),
                                   ("POST", "/cadre/neighbours",
                                    {**FORM, "consent_on_paper": True})):
            answer = api.call(method, path, json=body)
            assert answer.status_code == 403, (path, answer.get_json())
            assert answer.get_json()["error"]["code"] == "not_a_cadre"

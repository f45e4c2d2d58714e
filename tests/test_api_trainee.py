"""The trainee's side of the mini-program API, end to end: profile, courses, vouchers (with
idempotent claims), check-in, attendance, subsidies, jobs — and each refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.audit import AuditEntry, Channel
from models.catalogue import ClassSession, Course
from models.persons import Person
from models.vouchers import Voucher, VoucherStatus
from tests.factories import AFTERNOON, id_number

BRICKLAYER = "lp-2026-001"  # 砌筑工（初级）at lp-pes, from day 7
# demo-trainee is in today's class for 20 days: these start later, so no overlap.
SYB = "lp-2026-011"  # 创业培训（SYB）at lp-pes, from day 40
LATER = "lp-2026-008"
TODAY_CLASS = "lp-2026-today"
FORM = {"name": "王小二", "id_number": id_number(born="19880512", seq="013"),
        "phone": "13912345678", "township": "luoxiong", "household_kind": "rural",
        "residence": "luoxiong", "job_place": "majie", "intent": "local",
        "groups": ["poverty_alleviated"], "draws_pension": False, "consent": True}


def course_id(db, code: str) -> int:
    return db.scalar(select(Course.id).where(Course.code == code))


def live_vouchers(db, openid: str, code: str) -> int:
    db.expire_all()
    return db.scalar(select(func.count(Voucher.id)).join(Voucher.person).join(Voucher.course)
                     .where(Person.openid == openid, Course.code == code,
                            Voucher.status == VoucherStatus.ISSUED))


# --- profile -------------------------------------------------------------------------------

def test_the_profile_is_masked(trainee_api):
    answer = trainee_api.get("/me")
    me = answer.get_json()
    assert answer.status_code == 200
    assert me["id_masked"] == "5303**********0028" and me["phone_masked"] == "139****0001"
    assert me["township"]["code"] == "lashan" and me["roles"] == ["trainee"]
    assert me["groups"][0]["status"] == "self_declared"
    text = answer.get_data(as_text=True)
    assert "530324199203150028" not in text and "13988880001" not in text


def test_registering_through_the_app(newcomer_api, db):
    api = newcomer_api("o-reg")
    assert api.get("/me").get_json()["registered"] is False
    answer = api.post("/me/registration", FORM)
    assert answer.status_code == 201, answer.get_json()
    me = answer.get_json()
    assert me["registered"] and me["id_masked"] == FORM["id_number"][:4] + "*" * 10 + \
        FORM["id_number"][-4:]
    assert FORM["id_number"] not in answer.get_data(as_text=True)
    again = api.post("/me/registration", FORM)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_registered"


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"id_number": id_number()[:-1] + ("1" if id_number()[-1] != "1" else "2")}, "id_number",
     "校验码"),
    ({"id_number": "12345"}, "id_number", "18"),
    ({"phone": "12345"}, "phone", "11"),
    ({"name": "1"}, "name", None),
    ({"township": "atlantis"}, "township", None),
])
def test_bad_registration_answers_name_their_field(newcomer_api, db, change, field, words):
    api = newcomer_api("o-bad")
    answer = api.post("/me/registration", {**FORM, **change})
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["field"] == field
    if words:
        assert words in error["message"]
    db.expire_all()
    assert db.scalar(select(Person).where(Person.openid == "o-bad")).registered_at is None


def test_registration_needs_consent_and_a_free_id_number(newcomer_api):
    api = newcomer_api("o-consent")
    refused = api.post("/me/registration", {**FORM, "consent": False})
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "consent"
    taken = api.post("/me/registration", {**FORM, "id_number": "530324199203150028"})
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "id_number_taken"
    assert "身份证号已经登记" in taken.get_json()["error"]["message"]


def test_changing_the_profile_all_or_nothing(trainee_api):
    changed = trainee_api.patch("/me", {"phone": "13700001111", "intent": "province"})
    assert changed.status_code == 200
    assert changed.get_json()["phone_masked"] == "137****1111"
    assert changed.get_json()["intent"] == "province"
    refused = trainee_api.patch("/me", {"intent": "outside", "phone": "555"})
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "phone"
    assert trainee_api.get("/me").get_json()["intent"] == "province"


def test_english_messages_follow_accept_language(api_as):
    api = api_as("demo-trainee", locale="en")
    answer = api.patch("/me", {"phone": "555"})
    assert answer.get_json()["error"]["message"].startswith("A mobile number has 11 digits")


def test_withdrawing_consent(trainee_api):
    answer = trainee_api.delete("/me")
    assert answer.status_code == 200 and answer.get_json()["withdrawn"] is True
    assert trainee_api.get("/me").get_json()["registered"] is False


# --- courses -------------------------------------------------------------------------------

def test_courses_with_search_filters_and_pages(anonymous):
    first = anonymous.get("/courses", per_page=3).get_json()
    assert len(first["courses"]) == 3 and first["pages"] >= 3
    second = anonymous.get("/courses", per_page=3, page=2).get_json()
    assert not {c["id"] for c in first["courses"]} & {c["id"] for c in second["courses"]}
    found = anonymous.get("/courses", q="砌筑").get_json()
    assert BRICKLAYER in [c["code"] for c in found["courses"]]
    assert len(found["courses"]) < first["total"]
    free = anonymous.get("/courses", free="true").get_json()["courses"]
    assert free and all(c["is_free"] for c in free)
    assert anonymous.get("/courses", per_page=500).status_code == 422


def test_a_course_in_detail_and_an_unknown_one(anonymous, db):
    answer = anonymous.get(f"/courses/{course_id(db, BRICKLAYER)}")
    course = answer.get_json()
    assert course["code"] == BRICKLAYER and course["seats_left"] == 50
    assert len(course["sessions"]) >= 15
    missing = anonymous.get("/courses/999999")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "course_not_found"


def test_townships_and_categories(anonymous):
    assert len(anonymous.get("/townships").get_json()["townships"]) == 13
    assert len(anonymous.get("/categories").get_json()["categories"]) == 12


# --- vouchers ------------------------------------------------------------------------------

def test_claim_list_detail_and_cancel(trainee_api, db):
    claimed = trainee_api.post("/vouchers", {"course_id": course_id(db, SYB)})
    assert claimed.status_code == 201, claimed.get_json()
    voucher = claimed.get_json()
    assert voucher["status"] == "issued" and voucher["number"].startswith("PX20")
    listed = trainee_api.get("/vouchers").get_json()["vouchers"]
    assert voucher["id"] in [v["id"] for v in listed]
    detail = trainee_api.get(f"/vouchers/{voucher['id']}").get_json()
    assert detail["code"]["qr"].startswith(f"PXV:{voucher['id']}:")
    assert 0 < detail["code"]["expires_in"] <= 60 and detail["code"]["svg"].startswith("<svg")
    cancelled = trainee_api.post(f"/vouchers/{voucher['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    again = trainee_api.post(f"/vouchers/{voucher['id']}/cancel")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "voucher_state_wrong"
    # The audit says the mini-program did it, not the chat.
    assert db.scalar(select(AuditEntry.channel).where(
        AuditEntry.target_type == "vouchers", AuditEntry.target_id == voucher["id"],
        AuditEntry.action == "voucher.cancelled")) is Channel.API


def test_claim_refusals_cite_their_rule(trainee_api, newcomer_api, db):
    target = course_id(db, SYB)
    assert trainee_api.post("/vouchers", {"course_id": target}).status_code == 201
    twice = trainee_api.post("/vouchers", {"course_id": target})
    assert twice.status_code == 409
    assert twice.get_json()["error"]["code"] == "claim_refused"
    assert twice.get_json()["error"]["reason"] == "already_holds"
    unregistered = newcomer_api("o-unreg").post("/vouchers", {"course_id": target})
    assert unregistered.status_code == 403
    assert unregistered.get_json()["error"]["code"] == "not_registered"


def test_someone_elses_voucher_is_not_found(trainee_api, api_as, db):
    voucher = trainee_api.post("/vouchers", {"course_id": course_id(db, SYB)}).get_json()
    other = api_as("demo-cadre")
    assert other.get(f"/vouchers/{voucher['id']}").status_code == 404
    assert other.post(f"/vouchers/{voucher['id']}/cancel").status_code == 404


def test_a_retried_claim_answers_the_same_and_claims_once(trainee_api, db):
    key = {"Idempotency-Key": "claim-7f3a"}
    body = {"course_id": course_id(db, SYB)}
    first = trainee_api.post("/vouchers", body, headers=key)
    retry = trainee_api.post("/vouchers", body, headers=key)
    assert first.status_code == retry.status_code == 201
    assert first.get_json() == retry.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert live_vouchers(db, "demo-trainee", SYB) == 1
    # The same key for another request is refused; a new key acts (and is refused by the rule).
    other = trainee_api.post("/vouchers", {"course_id": course_id(db, LATER)},
                             headers=key)
    assert other.status_code == 422 and other.get_json()["error"]["code"] == \
        "idempotency_mismatch"
    fresh = trainee_api.post("/vouchers", body, headers={"Idempotency-Key": "claim-8b1c"})
    assert fresh.status_code == 409


def test_idempotency_keys_are_per_person(trainee_api, api_as, db):
    key = {"Idempotency-Key": "same-key"}
    body = {"course_id": course_id(db, SYB)}
    assert trainee_api.post("/vouchers", body, headers=key).status_code == 201
    cadre = api_as("demo-cadre")
    # The cadre is not registered: their own answer, not the trainee's kept one.
    assert cadre.post("/vouchers", body, headers=key).status_code == 403


# --- attendance ----------------------------------------------------------------------------

@pytest.fixture
def open_class(api_as, clock, db):
    clock.set(AFTERNOON)
    answer = api_as("demo-staff").post("/staff/sessions/open", {})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_checking_in_with_the_class_code_and_location(open_class, trainee_api, db, clock,
                                                      api_as):
    course = db.scalar(select(Course).where(Course.code == TODAY_CLASS))
    code = open_class["display"]["qr"]
    far = trainee_api.post("/check-ins", {"code": code, "lat": course.lat + 0.05,
                                          "lng": course.lng})
    assert far.status_code == 409 and far.get_json()["error"]["reason"] == "too_far"
    done = trainee_api.post("/check-ins", {"code": code, "lat": course.lat + 0.0005,
                                           "lng": course.lng})
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["number"] >= 1 and done.get_json()["is_checkout"] is False
    again = trainee_api.post("/check-ins", {"code": code})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_checked_in"
    # The session runs until 17:00: its 4 hours count once it has taken place.
    attendance = trainee_api.get("/attendance").get_json()["courses"]
    assert attendance[0]["attended"] == 1 and attendance[0]["hours"] == 0
    assert attendance[0]["pending_hours"] == 4
    clock.set(AFTERNOON.replace(hour=17))
    attendance = api_as("demo-trainee").get("/attendance").get_json()["courses"]
    assert (attendance[0]["hours"], attendance[0]["pending_hours"]) == (4, 0)


def test_a_forged_class_code_is_refused(open_class, trainee_api):
    forged = open_class["display"]["qr"][:-3] + "abc"
    answer = trainee_api.post("/check-ins", {"code": forged})
    assert answer.status_code == 422 and answer.get_json()["error"]["field"] == "code"


def test_someone_not_enrolled_cannot_check_in(open_class, api_as):
    answer = api_as("demo-cadre").post("/check-ins", {"code": open_class["display"]["qr"]})
    assert answer.status_code == 409 and answer.get_json()["error"]["reason"] == "not_enrolled"


# --- subsidies and jobs --------------------------------------------------------------------

def test_subsidies_with_reasons_and_clauses(trainee_api, db):
    answer = trainee_api.get("/subsidies")
    assert answer.status_code == 200
    evaluation = answer.get_json()
    assert evaluation["policy_version"] and evaluation["outcomes"]
    reasons = [r for o in evaluation["outcomes"] for r in o["reasons"]]
    assert any("〔" in r["source"] for r in reasons)
    assert all(r["text"] for r in reasons)
    what_if = trainee_api.get("/subsidies", course_id=course_id(db, BRICKLAYER)).get_json()
    assert what_if["course_id"] == course_id(db, BRICKLAYER)
    assert trainee_api.get("/subsidies", course_id=999999).status_code == 404


def test_subsidies_need_registration(newcomer_api):
    answer = newcomer_api("o-sub").get("/subsidies")
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "not_registered"


def test_job_openings(trainee_api):
    answer = trainee_api.get("/jobs")
    assert answer.status_code == 200 and isinstance(answer.get_json()["openings"], list)


def test_class_sessions_exist(db):
    assert db.scalar(select(func.count(ClassSession.id))) > 0

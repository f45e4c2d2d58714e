"""Where the person is, and who is in the room (issue 14): each check-in records where its
position came from and how precise it was; the desk's oversight page flags positions that look
made up (on the class point, many from one spot in seconds, none where the course needs one);
staff count the heads at roll call, compared with the scans."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models.attendance import Attendance, MarkHow
from models.audit import AuditEntry, Channel
from models.catalogue import ClassSession, Course
from models.desk import DeskRole
from models.persons import LocationSource, Person
from models.presence import BURST_SIZE, Headcount
from models.vouchers import Voucher
from tests.factories import AFTERNOON, bind_staff_via_chat

TRAINEE, STAFF = "demo-trainee", "demo-staff"
CLASS = "lp-2026-today"
NEAR = 0.0005  # degrees of latitude: about 55 m from the class point, inside its 400 m


def class_code(services, clock, db, course: Course) -> str:
    return services.class_codes.show(session_of(db, clock, course).id, clock.now()).code


def session_of(db, clock, course: Course) -> ClassSession:
    return db.scalar(select(ClassSession).where(
        ClassSession.course_id == course.id, ClassSession.day == clock.today(),
        ClassSession.opened_at.is_not(None)))


def mark_of(db, openid: str) -> Attendance:
    db.expire_all()
    return db.scalar(select(Attendance).join(Person, Person.id == Attendance.person_id)
                     .where(Person.openid == openid))


def headcounts(db) -> list[Headcount]:
    db.expire_all()
    return db.scalars(select(Headcount).order_by(Headcount.id)).all()


def flags_on_page(html: str) -> dict[str, set[str]]:
    """Flagged sessions on the oversight page: course code -> the flags of its session."""
    found = re.findall(r'<tr class="flagged" id="session-\d+" data-course="([^"]+)"\s+'
                       r'data-flags="([^"]*)">', html)
    return {code: set(flags.split()) for code, flags in found}


def class_row(html: str, code: str) -> dict[str, str]:
    row = re.search(rf'<tr class="flagged" data-code="{re.escape(code)}">(.*?)</tr>', html,
                    re.S)
    assert row, f"{code} is not among the flagged classes"
    return {name: re.sub(r"<[^>]+>", "", value).strip() for name, value in
            re.findall(r'data-flag="([a-z_]+)">(.*?)</td>', row.group(1), re.S)}


# --- the source of each check-in's position ------------------------------------------------

def test_a_wechat_location_event_then_a_scan_records_its_source_and_precision(
        wechat, opened, services, clock, db):
    wechat.report_location(TRAINEE, opened.lat + NEAR, opened.lng)  # Precision 30
    located = clock.now()
    answer = wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, opened))
    assert "签到成功" in answer.text
    mark = mark_of(db, TRAINEE)
    assert mark.location_source is LocationSource.WECHAT_EVENT
    assert mark.location_accuracy_m == 30
    assert (mark.location_lat, mark.location_lng) == (opened.lat + NEAR, opened.lng)
    assert mark.located_at == located


def test_a_location_message_is_recorded_as_a_point_chosen_on_a_map(wechat, opened, services,
                                                                    clock, db):
    # A location message is a pin the person may move anywhere: not WeChat's own fix.
    wechat.send(wechat.xml(TRAINEE, "location", Location_X=opened.lat + NEAR,
                           Location_Y=opened.lng, Scale=15, Label="腊山", MsgId=8_000_001))
    wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, opened))
    mark = mark_of(db, TRAINEE)
    assert mark.location_source is LocationSource.WECHAT_MESSAGE
    assert mark.location_accuracy_m is None


def test_an_api_check_in_records_the_mini_programs_position_and_accuracy(
        wechat, opened, services, clock, db, trainee_api):
    answer = trainee_api.post("/check-ins", {"code": class_code(services, clock, db, opened),
                                             "lat": opened.lat + NEAR, "lng": opened.lng,
                                             "accuracy": 65})
    assert answer.status_code == 201, answer.get_json()
    mark = mark_of(db, TRAINEE)
    assert mark.location_source is LocationSource.MINIPROGRAM
    assert mark.location_accuracy_m == 65
    assert mark.location_lat == pytest.approx(opened.lat + NEAR)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "attendance.check_in"))
    assert entry.channel is Channel.API and entry.after["location"] == "miniprogram"


def test_a_bad_accuracy_is_refused_and_nothing_is_recorded(opened, services, clock, db,
                                                           trainee_api):
    answer = trainee_api.post("/check-ins", {"code": class_code(services, clock, db, opened),
                                             "lat": opened.lat, "lng": opened.lng,
                                             "accuracy": -5})
    assert answer.status_code == 422 and answer.get_json()["error"]["field"] == "accuracy"
    assert mark_of(db, TRAINEE) is None


# --- the oversight page --------------------------------------------------------------------

def test_the_class_s_own_coordinates_pass_but_are_flagged_on_the_oversight_page(
        opened, services, clock, db, trainee_api, desk_client):
    # The API accepts them (a server cannot prove a phone's position): recorded, then flagged.
    answer = trainee_api.post("/check-ins", {"code": class_code(services, clock, db, opened),
                                             "lat": opened.lat, "lng": opened.lng,
                                             "accuracy": 5})
    assert answer.status_code == 201
    page = desk_client(DeskRole.ADMIN).get("/admin/oversight?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert flags_on_page(html) == {CLASS: {"at_point"}}
    assert class_row(html, CLASS)["at_point"] == "1"


def test_a_position_a_few_metres_off_is_no_flag(wechat, opened, services, clock, db,
                                                desk_client):
    wechat.report_location(TRAINEE, opened.lat + NEAR, opened.lng)
    wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, opened))
    html = desk_client(DeskRole.ADMIN).get("/admin/oversight?lang=en").get_data(as_text=True)
    assert flags_on_page(html) == {}
    assert "No class has a flag in this period." in html
    assert "1 other classes had sessions in this period and no flag." in html


def test_many_check_ins_from_one_spot_within_seconds_are_flagged(
        wechat, talk, opened, services, clock, db, activity, desk_client):
    mates = [activity.voucher(CLASS, to="redeemed", name=f"张{n}") for n in "一二三四五"]
    spot = (opened.lat + 0.0002, opened.lng - 0.0001)  # 20 m off the class point, not on it
    started = clock.now()
    for mate in mates:
        wechat.report_location(mate.openid, *spot)
        assert "签到成功" in wechat.scan(mate.openid, "CHECKIN",
                                       class_code(services, clock, db, opened)).text
    assert (clock.now() - started).total_seconds() <= 60
    html = desk_client(DeskRole.ADMIN).get("/admin/oversight?lang=en").get_data(as_text=True)
    assert flags_on_page(html) == {CLASS: {"burst"}}
    assert class_row(html, CLASS)["burst"] == "1"
    assert f"<td class=\"num flag\">{BURST_SIZE}</td>" in html


def test_the_same_spot_spread_over_minutes_is_no_burst(wechat, opened, services, clock, db,
                                                       activity, desk_client):
    mates = [activity.voucher(CLASS, to="redeemed", name=f"张{n}") for n in "一二三四五"]
    for mate in mates:
        wechat.report_location(mate.openid, opened.lat + 0.0002, opened.lng)
        wechat.scan(mate.openid, "CHECKIN", class_code(services, clock, db, opened))
        clock.advance(seconds=20)
    html = desk_client(DeskRole.ADMIN).get("/admin/oversight?lang=en").get_data(as_text=True)
    assert flags_on_page(html) == {}


def test_present_without_a_position_where_the_course_needs_one_is_flagged(
        wechat, opened, db, desk_client):
    number = db.scalar(select(Voucher.number).join(Person, Person.id == Voucher.person_id)
                       .where(Person.openid == TRAINEE, Voucher.course_id == opened.id))
    assert "手工补记" in wechat.say(STAFF, f"补签 {number} 手机没电").text
    mark = mark_of(db, TRAINEE)
    assert mark.how is MarkHow.MANUAL and mark.location_source is LocationSource.NONE
    html = desk_client(DeskRole.ADMIN).get("/admin/oversight?lang=en").get_data(as_text=True)
    assert flags_on_page(html) == {CLASS: {"no_position"}}
    row = class_row(html, CLASS)
    assert row["no_position"] == "1" and row["manual"].startswith("100%")


def test_an_inspector_sees_the_page_and_an_institution_is_refused(desk_client):
    assert desk_client(DeskRole.INSPECTOR).get("/admin/oversight").status_code == 200
    institution = desk_client(DeskRole.INSTITUTION)
    refused = institution.get("/admin/oversight?lang=en")
    assert refused.status_code == 403
    assert "not allowed" in refused.get_data(as_text=True)
    assert "/admin/oversight" not in institution.get("/admin/dashboard").get_data(as_text=True)


def test_a_bad_number_of_days_says_so(desk_client):
    page = desk_client(DeskRole.ADMIN).get("/admin/oversight?days=0&lang=en")
    assert page.status_code == 400 and "number of days" in page.get_data(as_text=True)


# --- the staff's headcount -----------------------------------------------------------------

def test_a_headcount_in_the_chat_is_compared_with_the_scans_and_flagged(
        wechat, talk, opened, services, clock, db, activity, desk_client):
    mate = activity.voucher(CLASS, to="redeemed", name="张三")
    for openid in (TRAINEE, mate.openid):
        wechat.report_location(openid, opened.lat + NEAR, opened.lng + NEAR)
        wechat.scan(openid, "CHECKIN", class_code(services, clock, db, opened))
    talk(STAFF, [("点名", "人数"),  # the roll call asks for the count
                 ("人数 1", ["1", "扫码签到 2 人", "⚠"])])
    [count] = headcounts(db)
    assert (count.counted, count.scans_then, count.channel) == (1, 2, Channel.WECHAT)
    assert count.session_id == session_of(db, clock, opened).id
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "session.headcount"))
    assert entry.after == {"session": count.session_id, "counted": 1, "scans": 2}
    html = desk_client(DeskRole.ADMIN).get("/admin/oversight?lang=en").get_data(as_text=True)
    assert flags_on_page(html) == {CLASS: {"extra_scans"}}
    assert "1 scans over heads" in html and class_row(html, CLASS)["extra_scans"] == "1"


def test_a_headcount_through_the_api_and_the_latest_count_stands(
        wechat, opened, services, clock, db, staff_api, desk_client):
    wechat.report_location(TRAINEE, opened.lat + NEAR, opened.lng + NEAR)
    wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, opened))
    slip = staff_api.post("/staff/headcounts", {"count": 0})
    assert slip.status_code == 201 and slip.get_json()["extra_scans"] == 1
    answer = staff_api.post("/staff/headcounts", {"count": 3})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["counted"], body["scans"], body["extra_scans"]) == (3, 1, 0)
    assert body["session_id"] == session_of(db, clock, opened).id
    assert [c.channel for c in headcounts(db)] == [Channel.API, Channel.API]
    html = desk_client(DeskRole.ADMIN).get("/admin/oversight?lang=en").get_data(as_text=True)
    assert flags_on_page(html) == {}


def test_the_headcount_endpoint_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    operation = paths["/api/v1/staff/headcounts"]["post"]
    assert "requestBody" in operation and "201" in operation["responses"]


def test_a_trainee_cannot_record_a_headcount(opened, trainee_api, wechat, db):
    answer = trainee_api.post("/staff/headcounts", {"count": 30})
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "not_staff"
    wechat.say(TRAINEE, "人数 30")
    assert headcounts(db) == []


def test_staff_of_another_institution_cannot_count_this_class(
        opened, wechat, services, clock, db, newcomer_api):
    bind_staff_via_chat(wechat, services, clock, "o-staff-pes", "lp-pes")
    answer = wechat.say("o-staff-pes", f"人数 30 {CLASS}").text
    assert "别的机构" in answer or "其他机构" in answer
    api = newcomer_api("o-staff-pes")
    refused = api.post("/staff/headcounts", {"count": 30, "course_code": CLASS})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "class_wrong_institution"
    assert headcounts(db) == []


def test_no_headcount_for_a_session_not_open(wechat, clock, db, api_as):
    clock.set(AFTERNOON)  # running, but nobody has opened it (开课)
    answer = api_as(STAFF).post("/staff/headcounts", {"count": 12})
    assert answer.status_code == 409
    assert answer.get_json()["error"]["reason"] == "not_running"
    assert "开课" in wechat.say(STAFF, "人数 12").text
    assert headcounts(db) == []


def test_a_headcount_that_is_no_number_of_people_is_refused(opened, talk, staff_api, db):
    too_many = staff_api.post("/staff/headcounts", {"count": 100_000})
    assert too_many.status_code == 422 and too_many.get_json()["error"]["field"] == "count"
    talk(STAFF, [("人数 很多", "人数 23"), ("人数 9999", "0")])
    assert db.scalar(select(func.count(Headcount.id))) == 0

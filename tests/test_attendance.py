"""Check-in without proxy signing, through the official account (the county's check-in rules,
on the model of DX2020 三(六))."""

from __future__ import annotations

import re
from datetime import datetime, time

import pytest
from sqlalchemy import select

from models.attendance import Attendance, MarkHow, SpotCheck, invite_inspector
from models.audit import AuditEntry, Channel
from models.catalogue import ClassSession, Course
from models.clock import LOCAL_TZ
from models.persons import Person
from models.vouchers import Voucher, VoucherStatus, claim_voucher
from tests.factories import (
    AFTERNOON,
    afternoon_class,
    bind_staff_via_chat,
    redeem,
    register_via_chat,
)
from tests.wechat_server import absent

TRAINEE, STAFF = "demo-trainee", "demo-staff"


@pytest.fixture
def at_class(wechat, opened):
    """The afternoon class is open and demo-trainee stands in the room."""
    wechat.report_location(TRAINEE, opened.lat + 0.0005, opened.lng)  # about 55 m away
    return opened


def class_code(services, clock, db, course: Course) -> str:
    session = db.scalar(select(ClassSession).where(
        ClassSession.course_id == course.id, ClassSession.day == clock.today(),
        ClassSession.opened_at.is_not(None)))
    return services.class_codes.show(session.id, clock.now()).code


def marks(db, openid: str) -> list[Attendance]:
    db.expire_all()
    return db.scalars(select(Attendance).join(Person, Person.id == Attendance.person_id)
                      .where(Person.openid == openid)).all()


def test_open_class_gives_the_display_link(wechat, clock):
    clock.set(AFTERNOON)
    answer = wechat.say(STAFF, "开课")
    assert "挖掘机司机（初级）培训班" in answer.text and "13:00–17:00" in answer.text
    assert re.search(r"http://peixun\.test/p/class/\S+", answer.text)


def test_a_trainee_checks_in_by_scanning_the_class_code(wechat, at_class, services, clock, db):
    answer = wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    assert "12:5" in answer.text and "签到成功" in answer.text and "共40次" in answer.text
    [mark] = marks(db, TRAINEE)
    assert mark.is_present and mark.how is MarkHow.SCAN and mark.hours == 4


def test_a_check_in_says_which_session_of_the_course_it_is(wechat, at_class, services, clock,
                                                          db):
    course = db.get(Course, at_class.id)
    today = next(s for s in course.sessions if s.day == clock.today() and s.opened_at)
    number = [s.id for s in course.sessions].index(today.id) + 1  # by day, then start
    assert 1 < number < len(course.sessions)  # neither end: a count from either would show
    answer = wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    assert f"第{number}次课（共{len(course.sessions)}次）" in answer.text


def test_a_second_scan_says_when_and_changes_nothing(wechat, at_class, services, clock, db):
    code = class_code(services, clock, db, at_class)
    wechat.scan(TRAINEE, "CHECKIN", code)
    again = wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    assert "已经签到过了" in again.text and "12:5" in again.text
    assert len(marks(db, TRAINEE)) == 1


def test_the_previous_code_still_counts_but_not_an_older_one(wechat, at_class, services,
                                                            clock, db):
    code = class_code(services, clock, db, at_class)
    clock.advance(seconds=35)  # the display has turned once: a slow network is forgiven
    assert "签到成功" in wechat.scan(TRAINEE, "CHECKIN", code).text
    register_via_chat(wechat, "o-a1")
    old = class_code(services, clock, db, at_class)
    clock.advance(seconds=70)
    assert "二维码太旧" in wechat.scan("o-a1", "CHECKIN", old).text


def test_someone_not_enrolled_is_refused(wechat, at_class, services, clock, db):
    register_via_chat(wechat, "o-a2")
    answer = wechat.scan("o-a2", "CHECKIN", class_code(services, clock, db, at_class))
    assert "您没有报到" in answer.text
    assert marks(db, "o-a2") == []


def test_outside_the_window_is_refused(wechat, at_class, services, clock, db):
    clock.advance(minutes=40)  # 13:35: more than 30 minutes late
    answer = wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    assert "上课前15分钟到上课后30分钟" in answer.text
    assert marks(db, TRAINEE) == []


def test_a_scan_after_an_absent_mark_turns_that_mark_into_a_check_in(wechat, at_class, services,
                                                                    clock, db):
    """Staff marked the trainee absent before they arrived: their scan inside the window
    counts, on the same mark (a session has one mark a trainee), now a scan's."""
    wechat.say(STAFF, f"缺勤 {voucher_number(db, at_class)} 还没到")
    [mark] = marks(db, TRAINEE)
    assert not mark.is_present and mark.how is MarkHow.MANUAL
    answer = wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    assert "签到成功" in answer.text and "共40次" in answer.text
    [mark] = marks(db, TRAINEE)
    assert mark.is_present and mark.how is MarkHow.SCAN and mark.hours == 4
    assert mark.location_source is not None and mark.located_at is not None


def test_a_late_scan_after_an_absent_mark_is_refused_and_the_mark_stays(wechat, at_class,
                                                                       services, clock, db):
    wechat.say(STAFF, f"缺勤 {voucher_number(db, at_class)} 没来")
    clock.advance(minutes=40)  # 13:35: more than 30 minutes late
    answer = wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    assert "上课前15分钟到上课后30分钟" in answer.text
    [mark] = marks(db, TRAINEE)
    assert not mark.is_present and mark.how is MarkHow.MANUAL


def test_outside_the_radius_is_refused(wechat, at_class, services, clock, db):
    wechat.report_location(TRAINEE, at_class.lat + 0.05, at_class.lng)  # 5.5 km away
    answer = wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    assert re.search(r"约\d+米", answer.text) and f"{at_class.radius_m}米以内" in answer.text
    assert marks(db, TRAINEE) == []


def test_without_a_location_the_bot_asks_for_one(wechat, services, clock, db, opened):
    course = opened
    answer = wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, course))
    assert "请先发送您的位置" in answer.text
    sent = wechat.send(wechat.xml(TRAINEE, "location", Location_X=f"{course.lat}",
                                  Location_Y=f"{course.lng}", Scale="15", Label="教室",
                                  MsgId=4242))
    assert "已收到您的位置" in sent.text
    assert "签到成功" in wechat.scan(TRAINEE, "CHECKIN",
                                     class_code(services, clock, db, course)).text


def test_a_code_of_a_class_not_opened_is_refused(wechat, services, clock, db, today_class):
    clock.set(AFTERNOON)
    course = today_class
    session = db.scalar(select(ClassSession).where(ClassSession.course_id == course.id,
                                                   ClassSession.day == clock.today()))
    code = services.class_codes.show(session.id, clock.now()).code
    assert "还没有开课签到" in wechat.scan(TRAINEE, "CHECKIN", code).text


def test_a_forged_or_foreign_code_is_refused(wechat, at_class, services, clock, db):
    code = class_code(services, clock, db, at_class)
    assert "被改动过" in wechat.scan(TRAINEE, "CHECKIN", code[:-2] + "00").text
    voucher_code = services.voucher_codes.show(1, clock.now()).code
    assert "这不是课堂签到二维码" in wechat.scan(TRAINEE, "CHECKIN", voucher_code).text
    assert marks(db, TRAINEE) == []


def test_staff_actions_by_a_trainee_are_refused(talk, clock):
    clock.set(AFTERNOON)
    talk(TRAINEE, [("开课", "只有培训机构工作人员"), ("点名", "只有培训机构工作人员"),
                   ("补签 PX2026000001 在场", "只有培训机构工作人员")])


def test_roll_call_and_a_manual_mark_with_its_reason(talk, at_class, db):
    [roll] = talk(STAFF, [("点名", ["应到1人，实到0人", "李春花", "5303**********0028"])])
    number = re.search(r"(PX\d+) 李春花", roll.text).group(1)
    talk(STAFF, [(f"补签 {number}", absent("需要写原因")),
                 (f"补签 {number} 手机没电，老师核对身份证", "手工补记")])
    [mark] = marks(db, TRAINEE)
    assert mark.how is MarkHow.MANUAL and mark.reason == "手机没电，老师核对身份证"
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "attendance.mark"))
    assert entry.after["reason"] == "手机没电，老师核对身份证"
    talk(STAFF, [("点名", ["已签到", "（手工）"])])


def test_staff_of_another_institution_cannot_mark(wechat, talk, at_class, services, clock,
                                                  sessions, db):
    # lp-pes runs a class this afternoon too, so its staff member has a session of their own.
    afternoon_class(sessions, clock, code="pes-today", institution_code="lp-pes")
    bind_staff_via_chat(wechat, services, clock, "o-a-other", "lp-pes")
    roll = wechat.say(STAFF, "点名").text
    number = re.search(r"(PX\d+) 李春花", roll).group(1)
    talk("o-a-other", [(f"补签 {number} 代签", "别的机构")])
    assert marks(db, TRAINEE) == []


def test_a_manual_mark_finds_its_class_when_two_run_at_once(talk, at_class, clock,
                                                           sessions, db):
    # A second class of the same institution starts at the same minute: the voucher says
    # which of the two the mark is for.
    [today] = [s for s in at_class.sessions if s.day == clock.today() and s.starts.hour == 13]
    assert (today.starts, today.ends) == (time(13), time(17))
    afternoon_class(sessions, clock, code="zz-twin", institution_code="lp-zhongzhi")
    talk(STAFF, [("点名", "zz-twin")])  # a roll call must name its class
    number = db.scalar(select(Voucher.number).join(Person, Person.id == Voucher.person_id)
                       .where(Person.openid == TRAINEE, Voucher.course_id == at_class.id))
    talk(STAFF, [(f"补签 {number} 手机没电", "手工补记")])
    [mark] = marks(db, TRAINEE)
    assert mark.session_id == today.id and mark.how is MarkHow.MANUAL


def test_a_trainee_sees_their_own_attendance(wechat, talk, at_class, services, clock, db):
    wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    # The session runs until 17:00: its hours count once it has taken place.
    talk(TRAINEE, [("出勤", ["已上1次课（共40次）", "已计0学时",
                             "正在上的这节课结束后，再计4学时"])])
    clock.set(AFTERNOON.replace(hour=17, minute=1))
    talk(TRAINEE, [("出勤", ["已上1次课（共40次）", "已计4学时", "结业需要144学时",
                             absent("再计")])])


def test_an_inspector_records_a_spot_check(wechat, talk, at_class, services, clock, db):
    with services.sessions.begin() as setup:
        token = invite_inspector(setup, now=clock.now())
    assert "督查人员" in wechat.send(wechat.event("o-insp", "SCAN",
                                                 EventKey=f"inspector:{token}")).text
    wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    assert "现场实际有多少学员" in wechat.scan("o-insp", "CHECKIN",
                                             class_code(services, clock, db, at_class)).text
    talk("o-insp", [("很多", "请回复数字"), ("2", None)])
    photo = wechat.send(wechat.xml("o-insp", "image", PicUrl="http://x/p.jpg",
                                   MediaId="media-777", MsgId=8888))
    assert "照片已收到" in photo.text
    talk("o-insp", [("按计划授课，一人未签到", "现场2人，系统签到1人")])
    check = db.scalar(select(SpotCheck))
    assert (check.present_seen, check.checked_in_then, check.photo_media_id) == (2, 1,
                                                                                "media-777")
    assert check.notes == "按计划授课，一人未签到"


def test_checkout_records_the_hours_actually_attended(wechat, at_class, services, clock, db,
                                                      sessions):
    with sessions.begin() as setup:
        setup.get(Course, at_class.id).requires_checkout = True
    wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    clock.set(AFTERNOON.replace(hour=16, minute=50))
    wechat.report_location(TRAINEE, at_class.lat, at_class.lng)
    answer = wechat.scan(TRAINEE, "CHECKIN", class_code(services, clock, db, at_class))
    assert "签退成功" in answer.text and "3.83学时" in answer.text
    [mark] = marks(db, TRAINEE)
    assert mark.hours == pytest.approx(3.83) and mark.checked_out_at is not None



def test_a_hand_mark_needs_an_enrolled_trainee(wechat, talk, at_class, db, sessions):
    from models.vouchers import Voucher, VoucherStatus

    roll = wechat.say(STAFF, "点名").text
    number = re.search(r"(PX\d+) 李春花", roll).group(1)
    with sessions.begin() as setup:
        setup.scalar(select(Voucher).where(Voucher.number == number)).status = \
            VoucherStatus.CANCELLED
    talk(STAFF, [(f"补签 {number} 补记", "培训券没有报到")])
    assert marks(db, TRAINEE) == []


# --- attendance that happened: 补签 only in an opened session's window, 结业 after the end ---

def voucher_number(db, course: Course) -> str:
    return db.scalar(select(Voucher.number).join(Person, Person.id == Voucher.person_id)
                     .where(Person.openid == TRAINEE, Voucher.course_id == course.id))


def test_a_hand_mark_before_the_class_is_opened_is_refused(talk, clock, db, today_class):
    clock.set(AFTERNOON)  # inside the 13:00 session's window, but nobody said 开课
    talk(STAFF, [(f"补签 {voucher_number(db, today_class)} 手机没电",
                  ["这节课还没开课，不能补签", "12:45", "17:30",
                   "依据：罗平县人社局培训考勤管理办法"])])
    assert marks(db, TRAINEE) == []


def test_a_hand_mark_for_a_session_still_to_come_is_refused(talk, clock, db, opened):
    clock.set(datetime(2026, 11, 26, 7, 0, tzinfo=LOCAL_TZ))  # tomorrow's 08:00 is next
    talk(STAFF, [(f"补签 {voucher_number(db, opened)} 提前补上",
                  ["下一节课还没开始，不能提前补签", "07:45"])])
    assert marks(db, TRAINEE) == []


def test_a_hand_mark_inside_the_opened_session_counts_once_it_ends(talk, at_class, clock,
                                                                   db):
    number = voucher_number(db, at_class)
    clock.set(AFTERNOON.replace(hour=15))
    talk(STAFF, [(f"补签 {number} 手机没电", "手工补记")])
    [mark] = marks(db, TRAINEE)
    assert mark.how is MarkHow.MANUAL and mark.hours == 4
    talk(TRAINEE, [("出勤", "已计0学时")])  # the session runs until 17:00
    clock.set(AFTERNOON.replace(hour=17, minute=0))
    talk(TRAINEE, [("出勤", "已计4学时")])


def test_a_hand_mark_shortly_after_the_end_is_taken_but_not_long_after(talk, at_class,
                                                                       clock, db):
    number = voucher_number(db, at_class)
    clock.set(AFTERNOON.replace(hour=17, minute=25))  # 25 minutes after the end
    talk(STAFF, [(f"补签 {number} 下课才发现漏签", "手工补记")])
    assert len(marks(db, TRAINEE)) == 1
    clock.set(AFTERNOON.replace(hour=17, minute=31))  # the grace is over
    talk(STAFF, [(f"缺勤 {number} 改成缺勤", ["最近一节课已经结束", "17:30"])])
    [mark] = marks(db, TRAINEE)
    assert mark.is_present  # the refusal changed nothing


def test_completion_waits_until_the_needed_sessions_have_ended(wechat, talk, services, clock,
                                                               db, sessions):
    # A one-session class this afternoon (13:00–17:00, 4 hours: 3.6 needed); o-short enrols.
    clock.set(AFTERNOON)
    afternoon_class(sessions, clock, code="zz-short", institution_code="lp-zhongzhi")
    register_via_chat(wechat, "o-short")
    with sessions.begin() as setup:
        course = setup.scalar(select(Course).where(Course.code == "zz-short"))
        voucher = claim_voucher(setup, openid="o-short", course_id=course.id,
                                channel=Channel.WECHAT, now=clock.now(), today=clock.today())
    redeem(services, voucher_id=voucher.id, staff_openid=STAFF, now=clock.now())
    number = voucher.number
    # Before the class, 结业 is refused: nothing attended yet.
    talk(STAFF, [(f"结业 {number} ZS-2026-0099", "出勤不够")])
    clock.set(AFTERNOON.replace(hour=14))
    talk(STAFF, [("开课 zz-short", "已开课"),
                 (f"补签 {number} 手机没电", "手工补记"),
                 (f"结业 {number} ZS-2026-0099", ["还有课没上完", "结业要等到", "17:00",
                                                  "依据：罗平县人社局培训考勤管理办法"])])
    db.expire_all()
    assert db.get(Voucher, voucher.id).status is VoucherStatus.REDEEMED
    clock.set(AFTERNOON.replace(hour=17, minute=5))
    talk(STAFF, [(f"结业 {number} ZS-2026-0099", "ZS-2026-0099")])
    db.expire_all()
    assert db.get(Voucher, voucher.id).status is VoucherStatus.COMPLETED

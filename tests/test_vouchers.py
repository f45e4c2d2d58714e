"""Training vouchers through the official account: claim, list, cancel, redeem once, complete,
undo, expire — and every refusal."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import worker
from models.attendance import Attendance, MarkHow
from models.audit import AuditEntry, Channel
from models.catalogue import CertificateKind, ClassSession, Course, session_bounds
from models.courses import CourseSpec, publish_course
from models.outbox import Outbox
from models.persons import Person
from models.targets import Target, TargetMeasure
from models.vouchers import Redemption, Voucher, VoucherStatus
from runtime.wechat_api import Client
from tests.factories import bind_staff_via_chat, claim_lines, id_number, register_via_chat

BRICKLAYER = "lp-2026-001"  # 砌筑工（初级）at lp-pes, from day 7, 15 days
EXCAVATOR = "lp-2026-today"  # 挖掘机司机（初级）at lp-zhongzhi, from today


def course_id(db, code: str) -> int:
    return db.scalar(select(Course.id).where(Course.code == code))


def voucher_of(db, openid: str, code: str = BRICKLAYER) -> Voucher | None:
    db.expire_all()
    return db.scalar(select(Voucher).join(Voucher.person).join(Voucher.course).where(
        Person.openid == openid, Course.code == code).order_by(Voucher.id.desc()))


@pytest.fixture
def claim(talk, db):
    """Claim as a person would: search the course, open it by number, then say 领券."""
    def run(openid: str, code: str = BRICKLAYER):
        occupation = db.scalar(select(Course.occupation).where(Course.code == code))
        return talk(openid, claim_lines(occupation))[-1]
    return run


def shown_code(services, clock, voucher: Voucher) -> str:
    return services.voucher_codes.show(voucher.id, clock.now()).code


def test_claiming_from_a_courses_details(wechat, talk, trainee, claim, db):
    details = _details(wechat, trainee)
    assert "1. 领取这个课程的培训券（领券）" in details
    answer = claim(trainee)
    voucher = voucher_of(db, trainee)
    assert voucher.status is VoucherStatus.ISSUED
    assert f"培训券号：{voucher.number}" in answer.text
    assert re.search(r"http://peixun\.test/p/voucher/\S+", answer.text)
    assert answer.text.count(voucher.person.id_masked or "-") == 0  # no personal data in the link
    # The seat is taken.
    talk(trainee, [("课程 砌筑", "剩49个名额")])


def _details(wechat, openid: str) -> str:
    return wechat.transcript(openid, [("课程 砌筑", None), ("1", None)])[-1].text


def test_a_digit_after_the_details_claims_too(talk, trainee, db):
    talk(trainee, [("课程 砌筑", None), ("1", None), ("1", "培训券号")])


def test_claiming_needs_registration(wechat, claim, db):
    assert "请先登记" in claim("o-v-new").text
    assert voucher_of(db, "o-v-new") is None


def test_the_same_course_twice_is_refused(trainee, claim):
    claim(trainee)
    assert "您已经领过这个课程的培训券" in claim(trainee).text


def _past_course(db, clock, code: str, occupation: str, level: str | None, day: date) -> Course:
    spec = CourseSpec(
        code=code, institution_code="lp-pes", category_code="construction", name=f"{code}班",
        name_en=code, occupation=occupation, occupation_en=occupation,
        certificate_kind=CertificateKind.SKILL_LEVEL if level else CertificateKind.COMPLETION,
        certificate_level=level, theory_hours=36 if level else 2,
        practice_hours=84 if level else 6, capacity=30, fee_yuan=Decimal(0),
        is_entrepreneurship=False, township_code="luoxiong", address="某地", lat=None,
        lng=None, radius_m=None,
        sessions=[(day + timedelta(days=n), start, end)
                  for n in range(15 if level else 1)
                  for start, end in ((time(8, 30), time(12, 30)), (time(14), time(18)))],
    )
    return publish_course(db, spec=spec, actor_id=None, channel=Channel.CLI, now=clock.now())


def _completed_voucher(db, clock, openid: str, course: Course) -> None:
    person = db.scalar(select(Person).where(Person.openid == openid))
    db.add(Voucher(person_id=person.id, course_id=course.id, status=VoucherStatus.COMPLETED,
                   year=course.starts_on.year, claimed_at=clock.now(),
                   claimed_via=Channel.WECHAT, expires_at=clock.now(),
                   completed_at=clock.now(), certified=True, number=f"PXT{course.id}"))


def test_at_most_three_subsidized_trainings_a_year(trainee, claim, sessions, clock, db):
    with sessions.begin() as setup:
        for n, month in enumerate((3, 6, 9)):
            course = _past_course(setup, clock, f"past-{n}", f"工种{n}", None,
                                  date(2026, month, 1))
            _completed_voucher(setup, clock, trainee, course)
    answer = claim(trainee)
    assert "每人每年最多3次" in answer.text and "2026年已经有3次" in answer.text
    assert "曲政办发〔2019〕112号 (十六)" in answer.text
    assert voucher_of(db, trainee) is None


def test_the_same_occupation_and_level_only_once(trainee, claim, sessions, clock, db):
    with sessions.begin() as setup:
        course = _past_course(setup, clock, "past-brick", "砌筑工", "初级工", date(2025, 5, 1))
        _completed_voucher(setup, clock, trainee, course)
    answer = claim(trainee)
    assert "同一工种同一等级只能享受一次" in answer.text and "past-brick班" in answer.text
    assert voucher_of(db, trainee) is None


def test_overlapping_courses_are_refused(trainee, claim, db):
    claim(trainee)  # 砌筑工, from day 7 for 15 days
    answer = claim(trainee, "lp-2026-003")  # overlaps it
    assert "时间和您正在参加的" in answer.text
    assert voucher_of(db, trainee, "lp-2026-003") is None


def test_a_full_course_is_refused(wechat, claim, sessions, clock, db):
    with sessions.begin() as setup:
        _past_course(setup, clock, "tiny", "小班工种", None, clock.today() + timedelta(days=5))
        setup.scalar(select(Course).where(Course.code == "tiny")).capacity = 1
    register_via_chat(wechat, "o-v2", id=id_number(seq="041"))
    register_via_chat(wechat, "o-v3", id=id_number(seq="043"))
    assert "培训券号" in claim("o-v2", "tiny").text
    assert "名额已满" in claim("o-v3", "tiny").text


def test_a_course_that_has_started_takes_no_claims(trainee, talk, clock, db):
    talk(trainee, [("课程 挖掘机", None), ("1", None)])  # the details, read today…
    clock.advance(days=1)  # …and the claim tomorrow, once the course has started
    talk(trainee, [("领券", ["已经开课或关闭", "依据：罗平县人社局培训券管理办法"])])
    assert voucher_of(db, trainee, EXCAVATOR) is None


def test_the_category_budget_is_the_countys_target(trainee, claim, sessions, db):
    with sessions.begin() as setup:
        course = setup.scalar(select(Course).where(Course.code == BRICKLAYER))
        county = setup.scalar(select(Person).where(Person.openid == trainee)).township.parent_id
        setup.add(Target(region_id=county, year=2026, category_id=course.category_id,
                         measure=TargetMeasure.TRAININGS, count=0, source="test"))
    assert "名额（计划）已经用完" in claim(trainee).text


def test_my_vouchers_lists_them_and_a_digit_shows_the_card_link(wechat, talk, trainee, claim):
    claim(trainee)
    listing = wechat.click(trainee, "MY_VOUCHERS").text
    assert "1. 砌筑工（初级）培训班" in listing and "待报到" in listing
    talk(trainee, [("1", ["/p/voucher/", "1. 取消这张培训券"])])


def test_cancelling_frees_the_seat(wechat, talk, trainee, claim, db):
    claim(trainee)
    wechat.click(trainee, "MY_VOUCHERS")
    talk(trainee, [("1", None),
                   ("1", "确定取消培训券"),  # asked first (issue 17)
                   ("1", "已取消")])
    assert voucher_of(db, trainee).status is VoucherStatus.CANCELLED
    talk(trainee, [("课程 砌筑", "剩50个名额")])
    assert "培训券号" in claim(trainee).text  # and it can be claimed again


def test_no_vouchers_yet(wechat):
    assert "您还没有培训券" in wechat.click("o-v-none", "MY_VOUCHERS").text


# --- redemption ----------------------------------------------------------------------------

def test_staff_redeem_by_scanning_the_holders_code(wechat, trainee, claim, staff, services,
                                                   clock, db):
    claim(trainee)
    voucher = voucher_of(db, trainee)
    answer = wechat.scan(staff, "REDEEM", shown_code(services, clock, voucher))
    assert "报到成功" in answer.text and "请核对身份证" in answer.text
    assert "姓名：张三" in answer.text and f"身份证：{voucher.person.id_masked}" in answer.text
    assert voucher_of(db, trainee).status is VoucherStatus.REDEEMED
    assert db.scalar(select(Outbox.notice).where(Outbox.person_id == voucher.person_id)) == \
        "voucher_redeemed"


def test_a_second_scan_an_old_code_a_forged_code_each_change_nothing(wechat, trainee, claim,
                                                                    staff, services, clock, db):
    claim(trainee)
    voucher = voucher_of(db, trainee)
    old = shown_code(services, clock, voucher)
    clock.advance(minutes=3)
    assert "二维码太旧" in wechat.scan(staff, "REDEEM", old).text
    fresh = shown_code(services, clock, voucher)
    forged = fresh[:-1] + ("0" if fresh[-1] != "0" else "1")
    assert "被改动过" in wechat.scan(staff, "REDEEM", forged).text
    other = fresh.replace(f":{voucher.id}:", f":{voucher.id + 1}:")
    assert "被改动过" in wechat.scan(staff, "REDEEM", other).text
    assert "不是培训券二维码" in wechat.scan(staff, "REDEEM", "https://example.com/x").text
    assert voucher_of(db, trainee).status is VoucherStatus.ISSUED
    assert "报到成功" in wechat.scan(staff, "REDEEM", fresh).text
    assert "报到核销过了" in wechat.scan(staff, "REDEEM", fresh).text
    assert db.scalar(select(func.count(Redemption.id)).where(
        Redemption.voucher_id == voucher.id)) == 1


def test_staff_of_another_institution_cannot_redeem(wechat, trainee, claim, services, clock,
                                                    db):
    claim(trainee)
    bind_staff_via_chat(wechat, services, clock, "o-staff-other", "lp-zhongzhi")
    voucher = voucher_of(db, trainee)
    answer = wechat.scan("o-staff-other", "REDEEM", shown_code(services, clock, voucher))
    assert "别的机构" in answer.text
    assert voucher_of(db, trainee).status is VoucherStatus.ISSUED


def test_someone_who_is_not_staff_cannot_redeem(wechat, trainee, claim, services, clock, db):
    claim(trainee)
    voucher = voucher_of(db, trainee)
    answer = wechat.scan("o-v-nobody", "REDEEM", shown_code(services, clock, voucher))
    assert "只有培训机构工作人员" in answer.text
    assert voucher_of(db, trainee).status is VoucherStatus.ISSUED


def test_a_retried_scan_message_redeems_once(wechat, trainee, claim, staff, services, clock,
                                            db, kv):
    claim(trainee)
    voucher = voucher_of(db, trainee)
    xml = wechat.event(staff, "scancode_waitmsg", EventKey="REDEEM", _inner=(
        "<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult><![CDATA["
        + shown_code(services, clock, voucher) + "]]></ScanResult></ScanCodeInfo>"))
    first, again = wechat.send(xml), wechat.send(xml)
    assert again.text == first.text and "报到成功" in first.text
    kv.flushdb()  # even with Redis lost, the database refuses a second redemption
    assert "报到核销过了" in wechat.send(xml).text
    assert db.scalar(select(func.count(Redemption.id)).where(
        Redemption.voucher_id == voucher.id)) == 1
    assert db.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "voucher.redeem", AuditEntry.target_id == voucher.id)) == 1


def test_a_staff_invitation_works_once(wechat, services, clock):
    from models.staff import invite_staff

    with services.sessions.begin() as db:
        token = invite_staff(db, institution_code="lp-pes", now=clock.now())
    wechat.send(wechat.event("o-st1", "SCAN", EventKey=f"staff:{token}"))
    assert "这个码无效" in wechat.send(wechat.event("o-st2", "SCAN",
                                                     EventKey=f"staff:{token}")).text


# --- completion, undo, expiry --------------------------------------------------------------

@pytest.fixture
def redeemed(wechat, trainee, claim, staff, services, clock, db):
    claim(trainee)
    voucher = voucher_of(db, trainee)
    wechat.scan(staff, "REDEEM", shown_code(services, clock, voucher))
    return voucher.number


def attend(sessions, clock, voucher_number: str, share: float = 1.0) -> None:
    """The trainee was in class for this share of the course's sessions (scanned in), and time
    passed until the course's last session ended: attended hours count once sessions end."""
    with sessions.begin() as db:
        voucher = db.scalar(select(Voucher).where(Voucher.number == voucher_number))
        days = db.scalars(select(ClassSession).where(ClassSession.course_id == voucher.course_id)
                          .order_by(ClassSession.day, ClassSession.starts)).all()
        for session in days[: round(len(days) * share)]:
            db.add(Attendance.of(session, person_id=voucher.person_id,
                                 voucher_id=voucher.id, is_present=True, hours=session.hours,
                                 how=MarkHow.SCAN))
        clock.set(session_bounds(days[-1])[1] + timedelta(minutes=5))


def test_completion_with_a_certificate_number(wechat, staff, redeemed, db, trainee, sessions,
                                             clock):
    attend(sessions, clock, redeemed)
    answer = wechat.say(staff, f"结业 {redeemed} ZS-2026-0001")
    assert "ZS-2026-0001" in answer.text
    voucher = voucher_of(db, trainee)
    assert voucher.status is VoucherStatus.COMPLETED and voucher.certified
    assert voucher.certificate_no == "ZS-2026-0001"
    assert db.scalar(select(Outbox.notice).where(Outbox.reason ==
                                                 f"voucher.completed:{voucher.id}")) == \
        "voucher_completed"


def test_completion_without_a_certificate(wechat, staff, redeemed, db, trainee, sessions,
                                          clock):
    attend(sessions, clock, redeemed)
    assert "没有取得证书" in wechat.say(staff, f"结业 {redeemed.lower()} 不合格").text
    assert voucher_of(db, trainee).certified is False


def test_completion_needs_an_enrolled_voucher_and_the_right_staff(wechat, talk, trainee,
                                                                  claim, staff, services,
                                                                  clock, db):
    claim(trainee)
    number = voucher_of(db, trainee).number
    talk(staff, [(f"结业 {number} ZS1", "待报到")])
    bind_staff_via_chat(wechat, services, clock, "o-staff-z", "lp-zhongzhi")
    talk("o-staff-z", [(f"结业 {number} ZS1", "别的机构")])
    talk(staff, [("结业 PX2026999999 ZS1", "没有这张培训券"),
                 ("结业 PX2026000001", "结业 <券号>")])


def test_completion_needs_90_percent_attendance(wechat, staff, redeemed, db, trainee,
                                                sessions, clock):
    attend(sessions, clock, redeemed, share=0.8)
    answer = wechat.say(staff, f"结业 {redeemed} ZS1")
    assert "出勤不够" in answer.text and "需要108学时" in answer.text
    assert voucher_of(db, trainee).status is VoucherStatus.REDEEMED


def test_a_trainee_cannot_complete_their_own_voucher(wechat, trainee, claim, db):
    claim(trainee)
    number = voucher_of(db, trainee).number
    assert "只有培训机构工作人员" in wechat.say(trainee, f"结业 {number} ZS1").text


def test_undo_within_the_grace_period(wechat, staff, redeemed, db, trainee, clock):
    answer = wechat.say(staff, f"撤销报到 {redeemed} 扫错人了")
    assert "已撤销" in answer.text
    voucher = voucher_of(db, trainee)
    assert voucher.status is VoucherStatus.ISSUED
    redemption = db.scalar(select(Redemption).where(Redemption.voucher_id == voucher.id))
    assert redemption.undo_reason == "扫错人了"


def test_undo_after_the_grace_period_is_refused(wechat, staff, redeemed, clock, db, trainee):
    clock.advance(hours=3)
    assert "2小时内" in wechat.say(staff, f"撤销报到 {redeemed} 晚了").text
    assert voucher_of(db, trainee).status is VoucherStatus.REDEEMED


def test_unredeemed_vouchers_are_reminded_then_expire(trainee, claim, services, clock, db,
                                                      fake_wechat):
    claim(trainee)
    voucher = voucher_of(db, trainee)
    clock.set(voucher.expires_at - timedelta(hours=12))
    first, again = worker.run_jobs(services), worker.run_jobs(services)
    assert (first["expired"], first["reminded"]) == (0, 1)
    assert (again["expired"], again["reminded"]) == (0, 0)  # once
    clock.set(voucher.expires_at + timedelta(minutes=1))
    assert worker.run_jobs(services)["expired"] == 1
    assert voucher_of(db, trainee).status is VoucherStatus.EXPIRED
    worker.send_due(services, Client(services.config, services.kv))
    texts = [m["text"]["content"] for m in fake_wechat.state.sent]
    assert any("明天到期" in t for t in texts) and any("已过期" in t for t in texts)


def test_notices_are_worded_in_the_holders_language(wechat, talk, trainee, claim, staff,
                                                    services, clock, db, fake_wechat):
    talk(trainee, [("English", None)])
    claim(trainee)
    voucher = voucher_of(db, trainee)
    wechat.scan(staff, "REDEEM", shown_code(services, clock, voucher))
    worker.send_due(services, Client(services.config, services.kv))
    [sent] = fake_wechat.state.sent
    assert sent["touser"] == trainee
    assert "Bricklayer (entry level)" in sent["text"]["content"]
    assert "redeemed" in sent["text"]["content"]


def test_two_different_scans_in_the_same_second_are_two_events(wechat, staff, services,
                                                               clock, db, claim):
    register_via_chat(wechat, "o-v4", id=id_number(seq="051"))
    register_via_chat(wechat, "o-v5", id=id_number(seq="053"))
    claim("o-v4")
    claim("o-v5")
    first, second = voucher_of(db, "o-v4"), voucher_of(db, "o-v5")

    def scan_xml(voucher):
        return wechat.event(staff, "scancode_waitmsg", EventKey="REDEEM", _inner=(
            "<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult><![CDATA["
            + shown_code(services, clock, voucher) + "]]></ScanResult></ScanCodeInfo>"))

    one, two = scan_xml(first), scan_xml(second)  # built in the same second
    assert "报到成功" in wechat.send(one).text and "报到成功" in wechat.send(two).text
    assert voucher_of(db, "o-v5").status is VoucherStatus.REDEEMED


def test_a_suspended_institution_takes_no_new_trainees(wechat, trainee, claim, staff,
                                                       services, clock, db, sessions):
    from models.catalogue import Institution, InstitutionStatus

    claim(trainee)
    voucher = voucher_of(db, trainee)
    with sessions.begin() as setup:
        setup.scalar(select(Institution).where(Institution.code == "lp-pes")).status = \
            InstitutionStatus.SUSPENDED
    answer = wechat.scan(staff, "REDEEM", shown_code(services, clock, voucher))
    assert "暂停" in answer.text
    assert voucher_of(db, trainee).status is VoucherStatus.ISSUED

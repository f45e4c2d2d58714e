"""Follow-up after training through the signed callback and the fake WeChat API: the worker
asks when the round falls due, the trainee answers by digit, rates the training and may add a
sentence; wrong answers change nothing; 退订 holds; cadres and staff record visits."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

import worker
from bot import state as conversation
from bot.followup import await_answer
from bot.turn import STATE_SECONDS
from models.audit import AuditEntry, Channel
from models.clock import LOCAL_TZ
from models.followups import FollowUp, WorkAfter, create_due_followups
from models.outbox import Outbox, OutboxStatus, due_ids
from models.outcomes import Dimension, outcomes
from models.vouchers import VoucherStatus
from runtime.wechat_api import Client
from tests.factories import bind_staff_via_chat, bound_cadre, id_number, register_via_chat
from tests.followup_fixtures import (
    ENDED,
    ONE_MONTH_LATER,
    finished_course,
    person_of,
    voucher_for,
    worker_round,
)

TRAINEE = "o-fu1"


@pytest.fixture
def finished(wechat, sessions, clock):
    """A registered trainee who completed a one-day class that ended on ENDED."""
    register_via_chat(wechat, TRAINEE)
    with sessions.begin() as setup:
        course = finished_course(setup, clock, "fu-weld")
        voucher = voucher_for(setup, clock, person_of(setup, TRAINEE), course)
        return {"course": course.id, "voucher": voucher.id, "number": voucher.number}


def followups(db, voucher_id: int) -> list[FollowUp]:
    db.expire_all()
    return list(db.scalars(select(FollowUp).where(FollowUp.voucher_id == voucher_id)
                           .order_by(FollowUp.round_months)))


def course_figures(services, clock, course_id: int):
    with services.sessions() as db:
        table = outcomes(db, dimension=Dimension.COURSE, today=clock.today())
    return next(row for row in table.rows if row.key == course_id)


def test_a_month_after_the_end_the_trainee_is_asked_and_answers(
        wechat, talk, finished, services, clock, fake_wechat, db):
    before = course_figures(services, clock, finished["course"])
    assert (before.completed, before.answered, before.ratings) == (1, 0, 0)
    clock.set(ONE_MONTH_LATER - timedelta(days=1))
    wechat.say(TRAINEE, "课程")  # the trainee wrote yesterday: the 48-hour window is open
    clock.set(ONE_MONTH_LATER)
    done = worker_round(services)
    assert done["followups_created"] == 1 and done["followups_queued"] == 1
    [question] = [m for m in fake_wechat.state.sent if m["touser"] == TRAINEE]
    assert question["kind"] == "customer"
    text = question["text"]["content"]
    assert "“fu-weld班”" in text and "2026年11月20日" in text
    assert "1. 在本地（县内）就业" in text and "5. 还没有就业" in text
    [round_1] = followups(db, finished["voucher"])
    assert round_1.round_months == 1 and round_1.due_on == ENDED.replace(month=12)
    assert round_1.asked_at == ONE_MONTH_LATER

    talk(TRAINEE, [
        ("1", ["已记录：在本地（县内）就业。如需更改，回复“回访”。", "请回复1到5的数字"]),
        ("4", "一句话"),
        ("老师讲得很清楚，实操多。", ["谢谢您的回答", "请回复数字"]),
        ("1", "课程"),  # digits are the main menu's again
    ])
    [answered] = followups(db, finished["voucher"])
    assert answered.work is WorkAfter.LOCAL and answered.answered_at is not None
    assert answered.rating == 4 and answered.opinion == "老师讲得很清楚，实操多。"
    assert answered.recorded_by_id is None and answered.channel is Channel.WECHAT
    after = course_figures(services, clock, finished["course"])
    assert (after.answered, after.employed, after.employment_rate) == (1, 1, 1.0)
    assert (after.ratings, after.rating_mean) == (1, 4.0)
    actions = db.scalars(select(AuditEntry.action).where(
        AuditEntry.target_type == "follow_ups", AuditEntry.target_id == answered.id)).all()
    assert set(actions) == {"followup.ask", "followup.answer", "followup.rate",
                            "followup.opinion"}


def test_the_question_is_asked_once_however_often_the_worker_runs(finished, services, clock,
                                                                   fake_wechat, db):
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    again = worker_round(services)
    assert again["followups_created"] == 0 and again["followups_queued"] == 0
    assert len([m for m in fake_wechat.state.sent if m["touser"] == TRAINEE]) == 1
    assert db.scalar(select(Outbox).where(Outbox.reason.like("followup:%"))).is_broadcast


def test_outside_the_48_hour_window_it_goes_as_a_template_and_a_digit_still_answers(
        wechat, finished, services, clock, fake_wechat, db):
    clock.set(ONE_MONTH_LATER)  # nothing heard from the trainee for a month
    worker_round(services)
    [sent] = [m for m in fake_wechat.state.sent if m["touser"] == TRAINEE]
    assert sent["kind"] == "template"
    assert "fu-weld班" in sent["data"]["keyword1"]["value"]
    assert "5 还没有就业" in sent["data"]["remark"]["value"]
    assert "已记录：还没有就业。" in wechat.say(TRAINEE, "5").text
    assert followups(db, finished["voucher"])[0].work is WorkAfter.NOT_YET


def test_wrong_answers_get_a_clear_reply_and_change_nothing(wechat, talk, finished, services,
                                                            clock, db):
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    talk(TRAINEE, [
        ("9", ["请回复1到5中的一个数字", "1. 在本地（县内）就业"]),
        ("不知道", ["请回复1到5中的一个数字", "5. 还没有就业"]),
    ])
    assert followups(db, finished["voucher"])[0].work is None
    talk(TRAINEE, [
        ("3", "请回复1到5的数字"),
        ("7", "请回复1到5的数字"),
        ("很好", "请回复1到5的数字"),
    ])
    [followup] = followups(db, finished["voucher"])
    assert followup.work is WorkAfter.OUTSIDE and followup.rating is None
    talk(TRAINEE, [("5", "一句话"), ("跳过", "谢谢您的回答")])
    [followup] = followups(db, finished["voucher"])
    assert followup.rating == 5 and followup.opinion is None


def test_cancel_at_the_sentence_keeps_the_answers(wechat, talk, finished, services, clock, db):
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    talk(TRAINEE, [("2", "1到5"), ("3", "一句话"), ("取消", "谢谢您的回答")])
    [followup] = followups(db, finished["voucher"])
    assert (followup.work, followup.rating, followup.opinion) == (WorkAfter.PROVINCE, 3, None)


def test_a_person_who_moved_on_uses_digits_for_the_new_list(talk, finished, services, clock,
                                                            db):
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    talk(TRAINEE, [("语言", "English"),
                   ("2", "Language set"),  # the new list, not the question
                   ("中文", None)])
    assert followups(db, finished["voucher"])[0].work is None
    # 回访 brings the question back.
    talk(TRAINEE, [("回访", "还没有就业"), ("4", None)])
    assert followups(db, finished["voucher"])[0].work is WorkAfter.SELF_EMPLOYED


def test_with_the_conversation_state_lost_a_digit_brings_the_question_back(
        talk, finished, services, clock, kv, db):
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    kv.delete(f"peixun:state:{TRAINEE}")  # Redis lost what the digits meant
    talk(TRAINEE, [("1", ["请回复1到5中的一个数字", "fu-weld班"])])
    assert followups(db, finished["voucher"])[0].work is None  # not guessed
    talk(TRAINEE, [("1", None)])
    assert followups(db, finished["voucher"])[0].work is WorkAfter.LOCAL


def test_nobody_who_said_unsubscribe_is_asked(wechat, finished, services, clock, fake_wechat,
                                              db):
    wechat.say(TRAINEE, "退订")
    clock.set(ONE_MONTH_LATER)
    done = worker_round(services)
    assert done["followups_created"] == 1 and done["followups_queued"] == 0
    assert [m for m in fake_wechat.state.sent if m["touser"] == TRAINEE] == []
    assert followups(db, finished["voucher"])[0].asked_at is None


def _withdraw_consent(wechat) -> None:
    wechat.click(TRAINEE, "PROFILE")
    wechat.transcript(TRAINEE, [("5", None), ("1", "个人信息已删除")])


@pytest.mark.parametrize("leave, why", [
    (lambda wechat: wechat.say(TRAINEE, "退订"), "unsubscribed before sending"),
    (lambda wechat: wechat.unfollow(TRAINEE), "unfollowed before sending"),
    (_withdraw_consent, "consent withdrawn before sending"),
])
def test_a_question_already_claimed_is_not_sent_to_someone_who_left_meanwhile(
        wechat, finished, services, clock, fake_wechat, db, leave, why):
    clock.set(ONE_MONTH_LATER)
    assert worker.run_jobs(services)["followups_queued"] == 1
    with services.sessions.begin() as tx:  # the worker takes its batch …
        claimed = due_ids(tx, now=clock.now(), limit=50)
    leave(wechat)  # … and the person leaves before it reaches their row
    clock.advance(minutes=10)
    worker.deliver(services, Client(services.config, services.kv), claimed)
    assert [m for m in fake_wechat.state.sent if m["touser"] == TRAINEE] == []
    db.expire_all()
    row = db.scalar(select(Outbox).where(Outbox.reason.like("followup:%")))
    assert row.status is OutboxStatus.FAILED and row.last_error == why
    assert followups(db, finished["voucher"])[0].asked_at is None


def test_the_question_waits_while_a_numbered_list_is_what_digits_mean(
        talk, finished, services, clock, fake_wechat, db):
    clock.set(ONE_MONTH_LATER)
    talk(TRAINEE, [("课程", "2. 创业培训")])  # the main menu's list of courses
    assert worker_round(services)["sent"] == 1  # taken, and put back for a few minutes
    assert [m for m in fake_wechat.state.sent if m["touser"] == TRAINEE] == []
    talk(TRAINEE, [("2", "创业培训")])  # the list's second course
    assert followups(db, finished["voucher"])[0].work is None
    clock.advance(minutes=6)  # the person went quiet: now the question goes, and its digits
    worker_round(services)
    [question] = [m for m in fake_wechat.state.sent if m["touser"] == TRAINEE]
    assert "5. 还没有就业" in question["text"]["content"]
    talk(TRAINEE, [("3", ["已记录：在省外就业。如需更改，回复“回访”。", "请回复1到5的数字"])])
    assert followups(db, finished["voucher"])[0].work is WorkAfter.OUTSIDE


def test_a_dialogue_in_progress_is_left_alone_and_keeps_its_own_lifetime(
        wechat, talk, finished, services, clock, fake_wechat, kv, db):
    clock.set(ONE_MONTH_LATER)
    wechat.click(TRAINEE, "PROFILE")
    talk(TRAINEE, [("5", "删除")])  # a dialogue: it waits for 1 or 2
    clock.advance(minutes=20)  # quiet, but the dialogue (30 minutes) is still open
    worker_round(services)
    assert [m for m in fake_wechat.state.sent if m["touser"] == TRAINEE] == []
    key = f"peixun:state:{TRAINEE}"
    [round_1] = followups(db, finished["voucher"])
    # Even if the question were sent now, its digits would not replace the dialogue, nor
    # would the state (it may hold sealed answers) be kept for the question's seven days.
    assert await_answer(kv, TRAINEE, round_1.id, clock.now()) is False
    assert 0 < kv.ttl(key) <= STATE_SECONDS
    talk(TRAINEE, [("2", "没有做任何修改")])  # the dialogue's answer
    assert followups(db, finished["voucher"])[0].work is None
    clock.advance(minutes=6)
    worker_round(services)
    assert len([m for m in fake_wechat.state.sent if m["touser"] == TRAINEE]) == 1
    talk(TRAINEE, [("2", None)])
    assert followups(db, finished["voucher"])[0].work is WorkAfter.PROVINCE


def test_a_turn_saved_meanwhile_wins_over_the_question(kv):
    key = f"peixun:state:{TRAINEE}"

    def meanwhile(state: conversation.State) -> int:
        kv.set(key, conversation.State(locale="en").dump())  # the person's own turn
        state.locale = "zh_Hans_CN"
        return 60
    assert conversation.update(kv, TRAINEE, meanwhile) is False
    assert conversation.load(kv, TRAINEE).locale == "en"


def test_the_answer_can_be_changed_with_huifang(wechat, talk, finished, services, clock, db):
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    talk(TRAINEE, [("1", "已记录：在本地（县内）就业"), ("4", "一句话"), ("跳过", "谢谢")])
    talk(TRAINEE, [("回访", ["您之前的回答：在本地（县内）就业。", "5. 还没有就业"]),
                   ("3", "已记录：在省外就业。")])
    [followup] = followups(db, finished["voucher"])
    assert followup.work is WorkAfter.OUTSIDE and followup.rating == 4


def test_a_course_ending_on_31_january_is_followed_up_on_28_february(
        wechat, sessions, services, clock, fake_wechat, db):
    register_via_chat(wechat, "o-fu-jan")
    with sessions.begin() as setup:
        course = finished_course(setup, clock, "fu-jan", ends=date(2027, 1, 31))
        voucher = voucher_for(setup, clock, person_of(setup, "o-fu-jan"), course)
    clock.set(datetime(2027, 2, 27, 10, 0, tzinfo=LOCAL_TZ))
    assert worker_round(services)["followups_created"] == 0
    clock.set(datetime(2027, 2, 28, 10, 0, tzinfo=LOCAL_TZ))
    assert worker_round(services)["followups_created"] == 1
    [round_1] = followups(db, voucher.id)
    assert round_1.due_on == date(2027, 2, 28) and round_1.asked_at == clock.now()
    assert [m for m in fake_wechat.state.sent if m["touser"] == "o-fu-jan"] != []


def test_redeemed_but_not_completed_trainees_are_not_asked(wechat, sessions, services, clock,
                                                           fake_wechat, db):
    register_via_chat(wechat, "o-fu-drop")
    with sessions.begin() as setup:
        course = finished_course(setup, clock, "fu-drop")
        voucher = voucher_for(setup, clock, person_of(setup, "o-fu-drop"), course,
                              status=VoucherStatus.REDEEMED)
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    assert followups(db, voucher.id) == []
    assert [m for m in fake_wechat.state.sent if m["touser"] == "o-fu-drop"] == []


def test_the_six_month_round_and_stale_rounds(finished, services, clock, fake_wechat, db):
    # Six months and a day after the end: both rounds are due, the 1-month one long since.
    clock.set(ONE_MONTH_LATER.replace(year=2027, month=5, day=21))
    worker_round(services)
    rounds = followups(db, finished["voucher"])
    assert [f.round_months for f in rounds] == [1, 6]
    assert rounds[0].asked_at is None  # more than 30 days late: not asked any more
    assert rounds[1].asked_at is not None


def test_creating_rounds_resumes_in_chunks(wechat, sessions, services, clock, db):
    with sessions.begin() as setup:
        course = finished_course(setup, clock, "fu-many")
        for n in range(5):
            register_via_chat(wechat, f"o-fu-m{n}", id=id_number(seq=f"{n + 61:03d}"))
        for n in range(5):
            voucher_for(setup, clock, person_of(setup, f"o-fu-m{n}"), course)
    now = ONE_MONTH_LATER
    with sessions.begin() as tx:
        assert create_due_followups(tx, now=now, rounds=(1, 6), limit=2) == 2
    with sessions.begin() as tx:
        assert create_due_followups(tx, now=now, rounds=(1, 6), limit=2) == 2
    with sessions.begin() as tx:
        assert create_due_followups(tx, now=now, rounds=(1, 6), limit=2) == 1
    with sessions.begin() as tx:
        assert create_due_followups(tx, now=now, rounds=(1, 6), limit=2) == 0
    made = db.scalars(select(FollowUp.round_months).where(FollowUp.course_id == course.id)).all()
    assert made == [1] * 5


# --- visits by cadres and staff ------------------------------------------------------------

def test_staff_record_a_visit_for_their_institutions_trainee(wechat, talk, finished,
                                                             services, clock, db):
    bind_staff_via_chat(wechat, services, clock, "o-fu-staff", "lp-pes")
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    talk("o-fu-staff", [(f"回访 {finished['number']} 3", ["已记录", "在省外就业"])])
    [followup] = followups(db, finished["voucher"])
    staff = person_of(db, "o-fu-staff")
    assert followup.work is WorkAfter.OUTSIDE and followup.recorded_by_id == staff.id
    assert followup.channel is Channel.WECHAT
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "followup.answer",
                                               AuditEntry.target_id == followup.id))
    assert entry.actor_id == staff.id and entry.after["recorded_by_id"] == staff.id


def test_staff_of_another_institution_are_refused(wechat, talk, finished, services, clock,
                                                  db):
    bind_staff_via_chat(wechat, services, clock, "o-fu-other", "lp-zhongzhi")
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    talk("o-fu-other", [(f"回访 {finished['number']} 1", "只能为本机构的学员")])
    assert followups(db, finished["voucher"])[0].work is None


def test_a_trainee_cannot_record_for_someone_else(wechat, talk, finished, services, clock,
                                                  db):
    register_via_chat(wechat, "o-fu-nosy", id=id_number(seq="071"))
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    talk("o-fu-nosy", [(f"回访 {finished['number']} 1", "只有村干部和培训机构工作人员")])
    assert followups(db, finished["voucher"])[0].work is None


def test_a_cadre_records_for_people_they_brought_in_only(wechat, talk, sessions, services,
                                                         clock, db):
    from models.cadres import Cadre

    bound_cadre(wechat, services, clock, "o-fu-cadre")
    cadre_id = db.scalar(select(Cadre.id).join(Cadre.person).where(
        Cadre.person.has(openid="o-fu-cadre")))
    wechat.follow("o-fu-ref", scene=f"ref:{cadre_id}")
    register_via_chat(wechat, "o-fu-ref", id=id_number(seq="073"))
    register_via_chat(wechat, "o-fu-stranger", id=id_number(seq="075"))
    with sessions.begin() as setup:
        course = finished_course(setup, clock, "fu-cadre")
        mine = voucher_for(setup, clock, person_of(setup, "o-fu-ref"), course)
        theirs = voucher_for(setup, clock, person_of(setup, "o-fu-stranger"), course)
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    talk("o-fu-cadre", [(f"回访 {mine.number} 5", "已记录"),
                        (f"回访 {theirs.number} 5", "您动员或代报名的人")])
    assert followups(db, mine.id)[0].work is WorkAfter.NOT_YET
    assert followups(db, theirs.id)[0].work is None


def test_visit_refusals_too_early_not_finished_unknown_and_bad_digit(wechat, talk, sessions,
                                                                     services, clock, db):
    bind_staff_via_chat(wechat, services, clock, "o-fu-staff2", "lp-pes")
    register_via_chat(wechat, "o-fu-x", id=id_number(seq="077"))
    with sessions.begin() as setup:
        person = person_of(setup, "o-fu-x")
        ended = voucher_for(setup, clock, person, finished_course(setup, clock, "fu-x1"))
        dropped = voucher_for(setup, clock, person, finished_course(setup, clock, "fu-x2"),
                              status=VoucherStatus.REDEEMED)
    # The course ended 5 days ago:
    talk("o-fu-staff2", [(f"回访 {ended.number} 1", "还没有到回访的时候")])
    clock.set(ONE_MONTH_LATER)
    worker_round(services)
    talk("o-fu-staff2", [(f"回访 {dropped.number} 1", "没有结业"),
                         ("回访 PX2099999999 1", "没有这张培训券"),
                         (f"回访 {ended.number} 9", "格式"),
                         ("回访 PX1", "5. 还没有就业")])
    assert followups(db, ended.id)[0].work is None

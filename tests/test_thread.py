"""Issue 17, "the first hour of a real user": understood in their own words, never stuck.
Transcripts through the signed callback, each named after the item of the issue it proves:
confirm what cannot be undone, keep the thread, 取消报名/退订, and the smaller items (the
staff invite with WeChat unreachable, the subsidy page's clauses once)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import func, select

from models.catalogue import Course
from models.invitations import Invitation
from models.persons import Person
from models.vouchers import Voucher, VoucherStatus
from tests.factories import ANSWERS, id_number, register_via_chat, registration_lines
from tests.wechat_server import absent
from webhooks.app import create_app

BRICKLAYER = "lp-2026-001"  # 砌筑工（初级）培训班, from day 7, 50 seats
BRICKLAYER_NAME = "砌筑工（初级）培训班"
RAPESEED_NAME = "油菜绿色高产栽培技术培训班"  # lp-2026-008, from day 30: no overlap


def vouchers(db, openid: str) -> list[Voucher]:
    db.expire_all()
    return list(db.scalars(select(Voucher).join(Voucher.person).where(Person.openid == openid)
                           .order_by(Voucher.id)))


def course_code_of(db, voucher: Voucher) -> str:
    return db.scalar(select(Course.code).where(Course.id == voucher.course_id))


@pytest.fixture
def holder(wechat, talk):
    """Registered, holding one voucher (砌筑工), claimed from the course's details."""
    register_via_chat(wechat, "o-t1")
    talk("o-t1", [("课程 砌筑", BRICKLAYER_NAME), ("1", "领券"), ("领券", "培训券号")])
    return "o-t1"


def choose(wechat, openid: str, search: str, name: str) -> str:
    """Search the courses and open the one called ``name`` by its number in the list."""
    listing = wechat.say(openid, search).text
    number = re.search(rf"^(\d+)\. {re.escape(name)}$", listing, re.M).group(1)
    details = wechat.say(openid, number).text
    assert f"【{name}】" in details and "领券" in details, details
    return details


# --- confirm what cannot be undone: cancelling a voucher --------------------------------------

def test_one_digit_no_longer_cancels_a_voucher_it_asks_first(holder, talk, db):
    """Issue 17: 我的培训券 → 1 → 1 cancelled the voucher without a question."""
    talk(holder, [
        ("我的培训券", "1. 砌筑工（初级）培训班"),
        ("1", "1. 取消这张培训券"),
        ("1", ["确定取消培训券PX", BRICKLAYER_NAME, "名额会让给别人",
               "取消后可重新领取（如仍有名额）", "回复 1 确定取消，回复 0 不取消"]),
    ])
    assert vouchers(db, holder)[0].status is VoucherStatus.ISSUED  # nothing yet
    talk(holder, [("1", ["已取消，名额已让出", "回复“领券”"])])
    assert vouchers(db, holder)[0].status is VoucherStatus.CANCELLED


@pytest.mark.parametrize("answer", [
    "0",  # the "no" the question offers
    "2",  # another digit
    "好",  # a word that is not an explicit yes
    "取消",  # "cancel" answering "cancel it?" is no explicit yes either
    "课程",  # a top-level word: nothing cancelled, and the word is answered
    "我的培训券",
])
def test_anything_but_an_explicit_yes_leaves_the_voucher_and_says_so(holder, talk, db, answer):
    talk(holder, [("我的培训券", ""), ("1", ""), ("1", "确定取消培训券")])
    [reply] = talk(holder, [(answer, ["没有取消，仍然有效"])])
    assert vouchers(db, holder)[0].status is VoucherStatus.ISSUED
    if answer == "课程":
        assert "开放报名的课程" in reply.text
    # The question is gone: a further 1 no longer cancels anything.
    talk(holder, [("1", "")])
    assert vouchers(db, holder)[0].status is VoucherStatus.ISSUED


@pytest.mark.parametrize("yes", ["1", "确定", "一"])
def test_an_explicit_yes_cancels(holder, talk, db, yes):
    talk(holder, [("我的培训券", ""), ("1", ""), ("1", "确定取消培训券"), (yes, "已取消")])
    assert vouchers(db, holder)[0].status is VoucherStatus.CANCELLED


def test_an_unanswered_confirmation_expires_and_changes_nothing(holder, talk, clock, db):
    talk(holder, [("我的培训券", ""), ("1", ""), ("1", "确定取消培训券")])
    clock.advance(minutes=31)
    talk(holder, [("1", ["这个问题已过期", "没有取消，仍然有效"])])
    assert vouchers(db, holder)[0].status is VoucherStatus.ISSUED


def test_how_to_undo_a_cancellation_claim_the_same_course_again(holder, talk, db):
    talk(holder, [("我的培训券", ""), ("1", ""), ("1", ""), ("1", "已取消"),
                  ("领券", [f"【{BRICKLAYER_NAME}】", "培训券号"])])
    first, again = vouchers(db, holder)
    assert first.status is VoucherStatus.CANCELLED and again.status is VoucherStatus.ISSUED
    assert course_code_of(db, again) == BRICKLAYER


def test_cancelling_in_english(wechat, holder, talk, db):
    talk(holder, [("English", "Language set"), ("my vouchers", ""), ("1", ""),
                  ("1", ["Cancel training voucher PX", "Reply 1 to cancel it; reply 0 to keep it"]),
                  ("0", "was not cancelled; it is still valid")])
    assert vouchers(db, holder)[0].status is VoucherStatus.ISSUED


# --- confirm what cannot be undone: withdrawing consent ---------------------------------------

def test_withdrawing_consent_says_it_cannot_be_undone_and_asks(holder, talk, person_named, db):
    talk(holder, [
        ("我的资料", "5. 撤回同意"),
        ("5", ["无法恢复", "还没使用的培训券会被取消", "回复 1 确定撤回并删除，回复 0 全部保留"]),
    ])
    assert person_named(holder).phone_masked is not None  # nothing yet
    talk(holder, [("1", ["个人信息已删除", "回复“注册”"])])
    assert person_named(holder).phone_masked is None
    assert vouchers(db, holder)[0].status is VoucherStatus.CANCELLED


@pytest.mark.parametrize("answer", ["0", "2", "不", "取消", "课程"])
def test_anything_but_yes_keeps_the_consent_and_says_so(holder, talk, person_named, answer):
    talk(holder, [("我的资料", ""), ("5", "无法恢复"), (answer, "没有做任何修改")])
    assert person_named(holder).phone_masked is not None


def test_withdrawing_in_english(holder, talk, person_named):
    talk(holder, [("English", ""), ("profile", ""),
                  ("5", ["cannot be undone", "Reply 1 to withdraw and delete"]),
                  ("no", "Nothing was changed")])
    assert person_named(holder).phone_masked is not None


# --- keep the thread ----------------------------------------------------------------------------

def test_the_course_chosen_before_registering_survives_registration(wechat, talk, db):
    """Issue 17: course → 注册 → 领券 forgot the course and said it had started or closed."""
    openid = "o-t2"
    choose(wechat, openid, "课程 砌筑", BRICKLAYER_NAME)
    talk(openid, [("注册", "请输入姓名")])
    talk(openid, registration_lines()[1:])
    talk(openid, [("1", ["登记成功", f"您登记前选了“{BRICKLAYER_NAME}”", "回复“领券”"])])
    talk(openid, [("领券", [f"【{BRICKLAYER_NAME}】", "培训券号", absent("已经开课或关闭")])])
    [voucher] = vouchers(db, openid)
    assert course_code_of(db, voucher) == BRICKLAYER


def test_claiming_before_registering_keeps_the_course_for_after(wechat, talk, db):
    openid = "o-t3"
    choose(wechat, openid, "课程 砌筑", BRICKLAYER_NAME)
    talk(openid, [("领券", ["请先登记", f"“{BRICKLAYER_NAME}”", "这个课程会为您记着"]),
                  ("1", "请输入姓名")])  # 1: register, as offered
    talk(openid, registration_lines(id=id_number(seq="051"), phone="13812340051")[1:])
    talk(openid, [("1", f"您登记前选了“{BRICKLAYER_NAME}”"), ("领券", "培训券号")])
    assert course_code_of(db, vouchers(db, openid)[0]) == BRICKLAYER


def test_claim_with_no_course_asks_which(wechat, talk, db):
    """Issue 17: 领券 with no course chosen asks which, instead of a false refusal."""
    register_via_chat(wechat, "o-t4")
    talk("o-t4", [("领券", ["要领哪个课程的培训券", "回复“课程”", absent("已经开课或关闭")])])
    assert vouchers(db, "o-t4") == []


def test_a_top_level_word_inside_registration_is_answered_and_the_dialogue_waits(talk):
    talk("o-t5", [
        ("注册", "请输入姓名"),
        ("张三", "身份证号"),
        ("课程", ["开放报名的课程", "回复“继续”回到刚才的问题", "回复“取消”不再继续"]),
        ("1", "【"),  # the digit picks from the list now on screen: not an answer
        ("继续", ["接着刚才的问题继续", "18位身份证号"]),
        (ANSWERS["id"], "手机号"),  # the name given before the detour is kept
    ])


def test_registration_goes_on_after_a_detour_and_keeps_the_course_chosen_on_it(wechat, talk,
                                                                              db):
    openid = "o-t6"
    talk(openid, [("注册", "姓名"), ("张三", "身份证号"), ("课程", "回复“继续”")])
    choose(wechat, openid, "课程 砌筑", BRICKLAYER_NAME)  # no longer answers: the dialogue waits
    talk(openid, [("注册", ["接着刚才的问题继续", "身份证号"])])
    talk(openid, registration_lines(id=id_number(seq="061"), phone="13812340061")[2:])
    talk(openid, [("1", ["登记成功", f"您登记前选了“{BRICKLAYER_NAME}”"]),
                  ("领券", "培训券号")])
    assert course_code_of(db, vouchers(db, openid)[0]) == BRICKLAYER


@pytest.mark.parametrize(("word", "answered"), [
    ("人工", "12333"),  # a person to talk to: the service centre's phone and the national line
    ("帮助", "您想做什么"),
    ("我的培训券", "您还没有培训券"),
    ("补贴", "60元"),
])
def test_other_top_level_words_are_answered_too_and_say_how_to_come_back(talk, word,
                                                                       answered):
    talk("o-t7", [("注册", "姓名"), ("张三", "身份证号"),
                  (word, [answered, "回复“继续”回到刚才的问题"]),
                  ("继续", "身份证号")])


def test_cancel_inside_registration_leaves_it_and_says_how_to_start_again(talk):
    talk("o-t8", [("注册", "姓名"), ("张三", "身份证号"),
                  ("取消", ["已退出，没有保存任何信息", "想重新开始时回复“注册”"]),
                  ("继续", "没有未答完的问题")])


def test_cancel_during_a_detour_ends_the_paused_dialogue(talk):
    talk("o-t9", [("注册", "姓名"), ("张三", "身份证号"), ("课程", "回复“继续”"),
                  ("取消", "已退出，没有保存任何信息"), ("继续", "没有未答完的问题")])


def test_a_paused_dialogue_still_expires(talk, clock):
    talk("o-t10", [("注册", "姓名"), ("张三", "身份证号"), ("课程", "回复“继续”")])
    clock.advance(minutes=31)
    talk("o-t10", [("继续", ["时间太久", "请输入姓名"])])


def test_a_free_sentence_that_contains_a_top_level_word_stays_an_answer(talk):
    """Only an exact word leaves a dialogue: a name that merely contains one is a name."""
    talk("o-t11", [("注册", "姓名"), ("课程", "回复“继续”"), ("继续", "姓名"),
                   ("张课程", "身份证号")])


def test_in_english_the_detour_says_how_to_come_back(talk):
    talk("o-t12", [("English", ""), ("register", "full name"), ("Li Si", "ID card number"),
                   ("courses", ["Open courses", "reply “继续” to go back to the question"]),
                   ("continue", ["Let us go on where you left off", "ID card number"])])


# --- 取消报名 / 退订 -------------------------------------------------------------------------

def test_cancel_my_booking_asks_to_confirm_the_voucher_held(holder, talk, db):
    """Issue 17: 取消报名 was not understood."""
    talk(holder, [("取消报名", ["确定取消培训券PX", BRICKLAYER_NAME]), ("1", "已取消")])
    assert vouchers(db, holder)[0].status is VoucherStatus.CANCELLED


def test_cancel_my_booking_with_several_vouchers_asks_which(holder, talk, db):
    talk(holder, [("课程 油菜", RAPESEED_NAME), ("1", ""), ("领券", "培训券号")])
    talk(holder, [("取消报名", ["您要取消哪张培训券", "1. ", "2. "]),
                  ("2", "确定取消培训券"), ("1", "已取消")])
    statuses = {course_code_of(db, v): v.status for v in vouchers(db, holder)}
    cancelled = [code for code, status in statuses.items() if status is VoucherStatus.CANCELLED]
    assert len(cancelled) == 1 and len(statuses) == 2


def test_cancel_my_booking_without_a_voucher_says_so(wechat, talk):
    register_via_chat(wechat, "o-t13")
    talk("o-t13", [("取消报名", ["您没有可以取消的培训券", "我的资料"])])


def test_unsubscribe_word_offers_both_meanings_to_a_voucher_holder(holder, talk, person_named,
                                                                   db):
    """Issue 17: 退订 (read as "cancel my booking") only stopped push messages."""
    talk(holder, [("退订", ["您想取消哪一项", f"1. 取消我的培训券（{BRICKLAYER_NAME}）",
                          "2. 不再接收招聘信息和通知"])])
    assert person_named(holder).unsubscribed_at is None  # neither, silently
    assert vouchers(db, holder)[0].status is VoucherStatus.ISSUED
    talk(holder, [("2", ["订阅"])])
    assert person_named(holder).unsubscribed_at is not None
    assert vouchers(db, holder)[0].status is VoucherStatus.ISSUED


def test_unsubscribe_word_can_cancel_the_voucher_after_confirming(holder, talk, person_named,
                                                                 db):
    talk(holder, [("退订", "您想取消哪一项"), ("1", "确定取消培训券"), ("0", "没有取消")])
    assert vouchers(db, holder)[0].status is VoucherStatus.ISSUED
    talk(holder, [("退订", ""), ("1", ""), ("1", "已取消")])
    assert vouchers(db, holder)[0].status is VoucherStatus.CANCELLED
    assert person_named(holder).unsubscribed_at is None


def test_unsubscribe_word_without_a_voucher_stops_the_messages_and_says_how_to_undo(
        wechat, talk, person_named):
    register_via_chat(wechat, "o-t14")
    talk("o-t14", [("退订", ["不再向您推送招聘信息", "回复“订阅”"])])
    assert person_named("o-t14").unsubscribed_at is not None


def test_cancel_booking_in_english(holder, talk, db):
    talk(holder, [("English", ""), ("cancel booking", "Cancel training voucher PX"),
                  ("yes", "is cancelled")])
    assert vouchers(db, holder)[0].status is VoucherStatus.CANCELLED


def test_cancel_with_nothing_under_way_points_to_cancel_booking(holder, talk, db):
    talk(holder, [("取消", ["现在没有正在进行", "回复“取消报名”"])])
    assert vouchers(db, holder)[0].status is VoucherStatus.ISSUED


# --- the smaller items ---------------------------------------------------------------------------

@pytest.fixture
def unreachable_runner(config, stack, sessions, kv, clock):
    """The CLI of an app whose WeChat API address answers nothing."""
    app = create_app(config.but(wechat_api_base_url="http://127.0.0.1:1/"), engine=stack.engine,
                     sessions=sessions, kv=kv, clock=clock)
    return app.test_cli_runner()


@pytest.mark.parametrize(("args", "language", "words"), [
    (["staff", "invite", "--institution", "lp-pes"], "zh", "连不上微信接口"),
    (["staff", "invite", "--institution", "lp-pes", "--lang", "en"], "en",
     "WeChat's API could not be reached"),
    (["inspectors", "invite"], "zh", "连不上微信接口"),
    (["cadres", "invite", "--township", "lubuge", "--village", "腊者村"], "zh", "连不上微信接口"),
])
def test_an_invite_with_wechat_unreachable_is_one_clear_line_and_exit_1(
        unreachable_runner, db, args, language, words):
    """Issue 17: `flask staff invite` printed a traceback when WeChat was unreachable."""
    before = db.scalar(select(func.count(Invitation.id)))
    result = unreachable_runner.invoke(args=args)
    assert result.exit_code == 1
    assert words in result.stderr and "Traceback" not in result.output + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert isinstance(result.exception, SystemExit) and result.stdout == ""
    db.expire_all()
    assert db.scalar(select(func.count(Invitation.id))) == before  # nothing half made


def _page_text(html: str) -> str:
    html = re.sub(r"<(style|script)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize(("openid", "overrides", "accept"), [
    ("o-t20", {}, "zh-CN"),
    ("o-t21", {"groups": "0", "pension": "2"}, "zh-CN"),
    ("o-t22", {}, "en"),
])
def test_the_subsidy_page_shows_each_clause_once(wechat, client, openid, overrides, accept):
    """Issue 17: the subsidy page repeated each clause two or three times (six screens)."""
    register_via_chat(wechat, openid, id=id_number(seq=f"0{openid[-2:]}"),
                      phone=f"138123400{openid[-2:]}", **overrides)
    path = re.search(r"(/p/subsidy/\S+)", wechat.say(openid, "补贴").text).group(1)
    html = client.get(path, headers={"Accept-Language": accept}).get_data(as_text=True)
    listed = re.findall(r'<li id="clause-(\d+)">\[\d+\] ([^<]+)</li>', html)
    assert listed, "the clauses are listed at the end"
    clauses = [clause.strip() for _, clause in listed]
    assert len(clauses) == len(set(clauses))
    text = _page_text(html)
    for clause in clauses:
        assert text.count(clause) == 1, clause
    # Every citation points to a listed clause, and every listed clause is cited.
    cited = set(re.findall(r'href="#clause-(\d+)"', html))
    assert cited == {n for n, _ in listed}
    # A fact still needed is said once (under "still needed"), not again as a reason.
    lines = Counter(line.strip() for line in re.findall(r"<li>([^<]+)", html))
    assert all(n == 1 for line, n in lines.items() if "吸纳就业" in line or "hired" in line)


def test_the_subsidy_page_still_names_each_subsidys_clauses(wechat, client):
    register_via_chat(wechat, "o-t23", id=id_number(seq="023"), phone="13812340023")
    path = re.search(r"(/p/subsidy/\S+)", wechat.say("o-t23", "补贴").text).group(1)
    html = client.get(path).get_data(as_text=True)
    number = {clause: n for n, clause in re.findall(
        r'<li id="clause-(\d+)">\[(?:\d+)\] ([^<]+)</li>', html)}
    heading = re.search(r"<h2[^>]*>[^<]*重点群体免费职业技能培训(.*?)</h2>", html, re.S).group(1)
    assert f'href="#clause-{number["曲政办发〔2019〕112号 (十七)"]}"' in heading

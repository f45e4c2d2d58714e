"""Finding a course through the official account."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

from models.audit import Channel
from models.catalogue import CertificateKind
from models.courses import CourseSpec, publish_course


def test_courses_lists_the_open_courses_with_what_a_person_needs(talk):
    [answer] = talk("o-c1", [("课程", "开放报名的课程（第1/3页，共12个）")])
    text = answer.text
    # name, institution, township, dates, free or fee, seats left, numbered
    assert "1. 挖掘机司机（初级）培训班" in text
    assert "罗平县中等职业技术学校 · 腊山街道" in text
    assert "11月25日–12月14日 · 免费 · 剩39个名额" in text
    assert text.count("\n5. ") == 1 and "\n6. " not in text
    assert "回复“下一页”看更多" in text


def test_the_menu_button_and_the_english_word_give_the_same_list(wechat):
    by_word = wechat.say("o-c2", "课程").text
    assert wechat.click("o-c2", "COURSES").text == by_word
    assert wechat.say("o-c2", "courses").text == by_word
    assert wechat.say("o-c2", "课程。").text == by_word  # a trailing full stop is fine


def test_a_digit_opens_a_courses_details(talk):
    talk("o-c3", [
        ("课程", "开放报名的课程"),
        ("1", ["【挖掘机司机（初级）培训班】", "机构：罗平县中等职业技术学校",
               "地点：腊山街道", "日期：2026年11月25日至2026年12月14日，共20天",
               "上课时间：每天 08:00–12:00和13:00–17:00",
               "课时：160学时（理论48，实操112）",
               "证书：职业技能等级证书（初级工）", "费用：免费", "名额：剩39个（共40个）"]),
    ])


def test_full_width_and_chinese_numerals_pick_from_the_list(talk):
    talk("o-c4", [("课程", "第1/3页"), ("２", "【家政服务专项能力培训班】")])
    talk("o-c4", [("课程", "第1/3页"), ("三", "【育婴员（初级）培训班】")])


def test_next_page_then_the_last_page(talk):
    talk("o-c5", [
        ("课程", "第1/3页"),
        ("下一页", ["第2/3页", "中式烹调师（初级）培训班", "¥1,800.00"]),
        ("更多", "第3/3页"),
        ("下一页", "已经是最后一页了"),
    ])


def test_the_last_page_has_no_next_hint(talk):
    [_, _, last] = talk("o-c6", [("课程", "第1/3页"), ("下一页", "第2/3页"),
                                 ("下一页", "第3/3页")])
    assert "下一页" not in last.text
    assert "回复数字查看详情。" in last.text


def test_digits_on_page_two_open_page_twos_courses(talk):
    talk("o-c7", [("课程", "第1/3页"), ("下一页", "第2/3页"),
                  ("4", "【中式烹调师（初级）培训班】")])


def test_a_number_not_in_the_list_says_so_and_offers_the_menu(talk):
    talk("o-c8", [("课程", "第1/3页"), ("9", ["列表里没有第9项", "1. 查课程"])])


def test_voice_is_understood_like_typed_words(wechat):
    answer = wechat.speak("o-c9", "课程。")
    assert "开放报名的课程" in answer.text


def test_an_unheard_voice_message_asks_again(wechat):
    answer = wechat.speak("o-c9b", "")
    assert "没听清" in answer.text


def test_courses_in_english(talk):
    talk("o-c10", [
        ("English", "Language set to English."),
        ("courses", ["Open courses (page 1 of 3, 12 in all):",
                     "1. Excavator operator (entry level)",
                     "Nov 25–Dec 14 · free · 39 seats left"]),
        ("1", ["Institution: Luoping Secondary Vocational and Technical School",
               "Certificate: skill-level certificate (entry level)",
               "Class times: 08:00–12:00 and 13:00–17:00", "Fee: free"]),
    ])


def _spec(day, **changes) -> CourseSpec:
    base = dict(
        code="t-course", institution_code="lp-pes", category_code="construction",
        name="测试班", name_en="Test class", occupation="砌筑工", occupation_en="Bricklayer",
        certificate_kind=CertificateKind.COMPLETION, certificate_level=None, theory_hours=2,
        practice_hours=6, capacity=20, fee_yuan=Decimal(0), is_entrepreneurship=False,
        township_code="luoxiong", address="某地", lat=None, lng=None, radius_m=None,
        sessions=[(day, time(8), time(12)), (day, time(13), time(17))],
    )
    return CourseSpec(**{**base, **changes})


def test_courses_of_a_suspended_institution_are_not_listed(talk, db, clock):
    tomorrow = clock.today() + timedelta(days=1)
    with db.begin():
        spec = _spec(tomorrow, institution_code="lp-hengfeng", name="停办机构的班")
        publish_course(db, spec=spec, actor_id=None, channel=Channel.CLI, now=clock.now())
    [answer] = talk("o-c11", [("课程", "共12个")])
    assert "停办机构的班" not in answer.text


def test_a_course_that_already_started_is_not_listed(talk, db, clock):
    yesterday = clock.today() - timedelta(days=1)
    with db.begin():
        publish_course(db, spec=_spec(yesterday, name="昨天开课的班"), actor_id=None,
                       channel=Channel.CLI, now=clock.now())
    talk("o-c12", [("课程", "共12个")])


def test_a_new_course_starting_tomorrow_is_listed(talk, db, clock):
    tomorrow = clock.today() + timedelta(days=1)
    with db.begin():
        publish_course(db, spec=_spec(tomorrow, name="明天开课的班"), actor_id=None,
                       channel=Channel.CLI, now=clock.now())
    talk("o-c13", [("课程", "共13个"), ("2", "【明天开课的班】")])

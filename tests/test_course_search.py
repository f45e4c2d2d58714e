"""Searching and filtering courses; nearest first when the person's location is known."""

from __future__ import annotations

from tests.factories import register_via_chat


def test_a_search_in_chinese(talk):
    [answer] = talk("o-s1", [("课程 电工", "电工（初级）")])
    assert "共1个" in answer.text


def test_a_search_without_a_space(talk):
    talk("o-s2", [("课程焊工", "焊工（中级）培训班")])


def test_a_search_in_english_finds_the_same_course(talk):
    talk("o-s3", [("English", "Language set"), ("courses welding", "Welder (intermediate)")])


def test_a_search_by_township(talk):
    [answer] = talk("o-s4", [("课程 鲁布革", "布依族刺绣")])
    assert "共1个" in answer.text


def test_a_search_with_no_result_says_what_to_do(talk):
    talk("o-s5", [("课程 宇航员", ["没有找到和“宇航员”有关的课程", "分类"])])


def test_free_courses_only(wechat):
    text = wechat.say("o-s6", "免费课程").text
    assert "共10个" in text and "¥" not in text
    while "下一页" in text:
        text = wechat.say("o-s6", "下一页").text
        assert "¥" not in text


def test_categories_then_one_category(talk):
    talk("o-s7", [("分类", ["培训类别", "1. 农村致富带头人培训", "12. 省外转移就业岗位技能培训"]),
                  ("7", ["砌筑工（初级）培训班", "挖掘机司机", "共2个"])])


def test_recommended_courses_follow_where_the_person_wants_to_work(wechat):
    register_via_chat(wechat, "o-s8", intent="3")  # 省外
    text = wechat.say("o-s8", "推荐").text
    assert "适合您就业意向的课程" in text
    assert "电工（初级）订单式培训班" in text and "砌筑工" not in text


def test_recommendation_before_registering_invites_to_register(talk):
    talk("o-s9", [("推荐", ["登记后", "开放报名的课程"])])


def test_courses_come_nearest_first_after_the_person_shares_a_location(wechat):
    first_by_date = wechat.say("o-s10", "课程").text.split("\n")[1]
    wechat.report_location("o-s10", 24.7612, 104.5118)  # at 鲁布革
    nearest = wechat.say("o-s10", "课程").text.split("\n")[1]
    assert nearest != first_by_date
    assert "布依族刺绣" in nearest


def test_a_registered_persons_township_orders_courses_without_a_location(wechat):
    register_via_chat(wechat, "o-s11", township="4")  # 富乐镇, in the north
    first = wechat.say("o-s11", "课程").text.split("\n")
    assert "育婴员" in first[1]  # the 富乐镇 course

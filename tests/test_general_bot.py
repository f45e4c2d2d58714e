"""Welcome, help, language: the first things a person meets."""

from __future__ import annotations

from sqlalchemy import select

from models.audit import AuditEntry


def test_following_gets_a_short_welcome_with_the_numbered_menu(wechat, person_named):
    answer = wechat.follow("o-g1")
    assert answer.text.startswith("欢迎关注罗平县职业技能培训！")
    assert "点下方菜单" in answer.text and "回复数字" in answer.text
    assert "1. 查课程" in answer.text and "6. 中文 / English" in answer.text
    assert len(answer.text) < 400  # short, for a small screen
    assert person_named("o-g1").is_following


def test_unfollowing_is_recorded_and_answered_with_silence(wechat, person_named):
    wechat.follow("o-g2")
    answer = wechat.unfollow("o-g2")
    assert answer.is_silent
    assert person_named("o-g2").is_following is False


def test_after_the_welcome_a_digit_picks_from_the_main_menu(wechat, talk):
    wechat.follow("o-g3")
    talk("o-g3", [("1", "开放报名的课程")])


def test_anything_not_understood_gets_help_never_silence(talk):
    for said in ("asdfgh", "今天天气怎么样", "😀", "0", "99"):
        talk("o-g4", [(said, "请回复数字：\n1. 查课程")])


def test_help_words_show_the_menu(talk):
    talk("o-g5", [("帮助", "您想做什么？"), ("menu", "1. 查课程"), ("你好", "1. 查课程")])


def test_language_menu_offers_a_numbered_choice_and_remembers_it(wechat, person_named):
    choice = wechat.click("o-g6", "LANGUAGE")
    assert "1. 中文" in choice.text and "2. English" in choice.text
    answer = wechat.say("o-g6", "2")
    assert answer.text.startswith("Language set to English.")
    assert "1. Find a course" in answer.text
    assert person_named("o-g6").locale == "en"


def test_the_language_choice_survives_losing_redis(talk, kv):
    talk("o-g7", [("English", None)])
    kv.flushdb()  # Redis may be lost at any time: the choice lives in the database
    talk("o-g7", [("help", "What would you like to do?")])


def test_switching_back_to_chinese(talk):
    talk("o-g8", [("English", "Language set to English."), ("中文", "已切换为中文。"),
                  ("课程", "开放报名的课程")])


def test_a_language_change_is_audited_once(talk, db, person_named):
    talk("o-g9", [("English", None), ("English", None)])
    person = person_named("o-g9")
    changes = db.scalars(select(AuditEntry).where(
        AuditEntry.target_id == person.id, AuditEntry.action == "person.set_locale")).all()
    assert [(c.before, c.after, c.channel.value) for c in changes] == [
        ({"locale": "zh_Hans_CN"}, {"locale": "en"}, "wechat")]


def test_a_location_report_gets_no_reply(wechat):
    assert wechat.report_location("o-g11", 24.88, 104.31).is_silent


def test_someone_sending_too_fast_is_asked_to_slow_down(talk, config):
    talk("o-g12", [("帮助", "您想做什么"), *[("帮助", None)] * (config.messages_per_minute - 1),
                   ("帮助", "您发消息太快了")])
    # Another person is not affected.
    talk("o-g13", [("帮助", "您想做什么")])

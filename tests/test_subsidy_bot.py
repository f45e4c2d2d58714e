"""SUBSIDY through the official account, in Chinese and English, and its details page."""

from __future__ import annotations

import re

from tests.factories import register_via_chat


def test_an_unregistered_person_gets_a_general_answer_and_an_invitation(wechat):
    answer = wechat.click("o-sub1", "SUBSIDY").text
    assert "60元" in answer and "800" in answer and "回复“注册”" in answer


def test_a_registered_person_sees_each_subsidy_with_its_status_and_a_link(wechat, talk):
    register_via_chat(wechat, "o-sub2")  # self-declared 脱贫劳动力 and 两后生
    [answer] = talk("o-sub2", [("补贴", ["您能领的补贴", "逐条说明", "/p/subsidy/"])])
    assert re.search(r"生活费补贴.*待核实.*每天¥60\.00", answer.text)


def test_the_page_gives_the_reasons_and_their_clauses(wechat, client):
    register_via_chat(wechat, "o-sub3")
    answer = wechat.say("o-sub3", "补贴").text
    path = re.search(r"http://peixun\.test(/p/subsidy/\S+)", answer).group(1)
    page = client.get(path).get_data(as_text=True)
    assert "您自报为脱贫劳动力，尚待人社部门核实" in page
    assert "曲政发〔2020〕45号" in page
    assert "请到县公共就业服务中心核实您的人员类别" in page
    assert client.get(path[:-3] + "abc").status_code == 403


def test_what_if_for_a_course_not_joined(wechat, talk):
    register_via_chat(wechat, "o-sub4")
    talk("o-sub4", [("补贴 烹调", ["如果参加中式烹调师（初级）培训班", "培训补贴"])])


def test_subsidies_in_english(wechat, talk):
    register_via_chat(wechat, "o-sub5")
    talk("o-sub5", [("English", None),
                    ("subsidy", ["What you can get:", "yes once verified",
                                 "Why, clause by clause"])])


def test_a_person_who_draws_a_pension_is_told_why_not(wechat, client):
    register_via_chat(wechat, "o-sub6", pension="2")
    answer = wechat.say("o-sub6", "补贴").text
    path = re.search(r"(/p/subsidy/\S+)", answer).group(1)
    page = client.get(path).get_data(as_text=True)
    assert "按月领取养老金的人员不在补贴范围内" in page
    assert "曲政办发〔2019〕112号" in page

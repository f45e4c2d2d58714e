"""One answer everywhere (issue 17): the course details, the claim (chat and API) and SUBSIDY
read the same evaluation (models.cost over models.eligibility.evaluate), so a person who gets
no subsidy is told what the course costs them, and why, before a voucher is claimed."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from models.audit import AuditEntry, Channel
from models.catalogue import Course
from models.persons import Group, Person
from models.verification import decide_group
from models.vouchers import Voucher
from tests.factories import ANSWERS, register_via_chat

PENSION = "曲政办发〔2019〕112号 (十六)"  # pension_excluded
WHY_PENSION = "按月领取养老金的人员不在补贴范围内"


def vouchers_of(db, openid: str) -> int:
    db.expire_all()
    return db.scalar(select(func.count(Voucher.id)).join(Voucher.person)
                     .where(Person.openid == openid))


def course_id(db, code: str) -> int:
    return db.scalar(select(Course.id).where(Course.code == code))


def test_a_pensioner_is_told_the_fee_and_why_and_claims_only_after_saying_yes(wechat, talk, db):
    # pension_excluded, 曲政办发〔2019〕112号 (十六): a fee course is paid back by
    # training_subsidy_self_funded to others, not to someone who draws a pension.
    register_via_chat(wechat, "o-one-pension", pension="2")
    talk("o-one-pension", [
        ("烹调", "中式烹调师"),
        ("1", ["费用：¥1,800.00", "培训费¥1,800.00全部由您自己负担", WHY_PENSION, PENSION]),
        ("领券", ["培训费¥1,800.00全部由您自己负担", WHY_PENSION, "仍要领券，请回复1"]),
        ("0", "没有领取“中式烹调师（初级）培训班”的培训券"),
    ])
    assert vouchers_of(db, "o-one-pension") == 0
    talk("o-one-pension", [("领券", "仍要领券，请回复1"), ("1", "领券成功")])
    assert vouchers_of(db, "o-one-pension") == 1


def test_a_pensioner_is_not_told_a_public_free_course_is_free_for_them(wechat, talk, db):
    # free_public_training: 曲政发〔2020〕45号 五(一), with pension_excluded.
    register_via_chat(wechat, "o-one-pension2", pension="2")
    talk("o-one-pension2", [
        ("砌筑", "砌筑工"),
        ("1", ["费用：未标收费，但对您不免费", "对您：不免费", WHY_PENSION]),
        ("领券", ["对您：不免费", "仍要领券，请回复1"]),
        ("1", "领券成功"),
    ])
    assert vouchers_of(db, "o-one-pension2") == 1


def test_a_covered_person_claims_a_free_public_course_at_once(wechat, talk, db):
    # free_public_training, 曲政发〔2020〕45号 五(一): in the county, no pension.
    register_via_chat(wechat, "o-one-free")
    talk("o-one-free", [
        ("砌筑", "砌筑工"),
        ("1", ["费用：免费",
               "对您：个人免费——培训费由“免费参加公共就业服务机构组织的技能培训”支付"]),
        ("领券", "领券成功"),
    ])
    assert vouchers_of(db, "o-one-free") == 1


def test_a_free_course_at_a_private_agency_says_the_same_in_the_details_and_in_subsidy(
        wechat, talk, db):
    # free_public_training needs the public employment service, free_targeted_groups a course
    # bought by public tender (曲政办发〔2019〕112号 (十七)): neither pays for 电工 at lp-hrs,
    # and it costs nothing — the details say so, SUBSIDY shows no subsidy, the claim is direct.
    register_via_chat(wechat, "o-one-hrs")
    details = talk("o-one-hrs", [("电工", "电工"), ("1", "费用：免费")])[1].text
    assert "个人免费——机构不收培训费" in details and "不由培训补贴支付" in details
    assert "培训补贴支付，个人免费" not in details
    subsidy = wechat.say("o-one-hrs", "补贴 电工").text
    # The subsidies that would pay the fee say no; the allowances of free training may still.
    for title in ("免费参加公共就业服务机构组织的技能培训", "重点群体免费职业技能培训"):
        assert re.search(rf"✘ {title}：不符合", subsidy), subsidy
    talk("o-one-hrs", [("电工", "电工"), ("1", "费用：免费"), ("领券", "领券成功")])


def test_a_fee_course_for_a_covered_person_says_the_refund(wechat, talk):
    # training_subsidy_self_funded, 曲政发〔2020〕45号 五(一): paid back on the certificate.
    register_via_chat(wechat, "o-one-fee")
    talk("o-one-fee", [
        ("烹调", "中式烹调师"),
        ("1", ["费用：¥1,800.00", "先由您交培训费¥1,800.00；取得证书后", "退还其中一部分"]),
        ("领券", "领券成功"),
    ])


def test_the_api_refuses_a_pensioners_claim_until_the_cost_is_accepted(wechat, newcomer_api,
                                                                        db):
    register_via_chat(wechat, "o-one-api", pension="2")
    api = newcomer_api("o-one-api")
    cooking = course_id(db, "lp-2026-004")
    refused = api.post("/vouchers", {"course_id": cooking})
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["reason"] == "cost_not_accepted" and error["source"] == PENSION
    assert "1800.00元" in error["message"]
    assert vouchers_of(db, "o-one-api") == 0
    accepted = api.post("/vouchers", {"course_id": cooking, "accept_cost": True})
    assert accepted.status_code == 201, accepted.get_json()
    assert vouchers_of(db, "o-one-api") == 1


def test_the_api_claims_a_covered_persons_course_without_accept_cost(wechat, newcomer_api, db):
    register_via_chat(wechat, "o-one-api2")
    api = newcomer_api("o-one-api2")
    assert api.post("/vouchers", {"course_id": course_id(db, "lp-2026-004")}).status_code == 201


def _page(wechat, client, openid: str, said: str) -> str:
    answer = wechat.say(openid, said).text
    path = re.search(r"http://peixun\.test(/p/subsidy/\S+)", answer).group(1)
    return client.get(path).get_data(as_text=True)


def test_subsidy_and_a_courses_subsidy_count_the_same_trainings(wechat, talk, client):
    # yearly_cap, 曲政办发〔2019〕112号 (十六): one count, the course's own voucher included.
    register_via_chat(wechat, "o-one-count")
    talk("o-one-count", [("电工", "电工"), ("1", "电工"), ("领券", "领券成功")])
    general = _page(wechat, client, "o-one-count", "补贴")
    course = _page(wechat, client, "o-one-count", "补贴 电工")
    other = _page(wechat, client, "o-one-count", "补贴 烹调")
    for page in (general, course, other):
        assert "您2026年已享受1次培训补贴（每年最多3次）" in page
        assert "已享受0次" not in page


# --- correcting what was declared ------------------------------------------------------------

def _audit(db, action: str) -> list[AuditEntry]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)
                           .order_by(AuditEntry.id)))


def _decide(db, services, clock, group: Group, is_verified: bool) -> None:
    decide_group(db, vault=services.vault, id_number=ANSWERS["id"], group=group,
                 is_verified=is_verified, document="户口本", decided_by=None,
                 channel=Channel.PAGE, now=clock.now(), today=clock.today())
    db.commit()


def test_a_person_corrects_their_pension_answer_and_the_course_cost_follows(wechat, talk, db):
    # pension_excluded, 曲政办发〔2019〕112号 (十六): answered wrongly at registration.
    register_via_chat(wechat, "o-one-fix", pension="2")
    talk("o-one-fix", [
        ("我的资料", ["按月领养老金：领取", "9. 是否领取养老金"]),
        ("9", "现在每月领养老金吗"),
        ("1", "已保存"),
        ("我的资料", "按月领养老金：不领取"),
        ("烹调", "中式烹调师"),
        ("1", "取得证书后"),
        ("领券", "领券成功"),
    ])
    [entry] = _audit(db, "person.change_pension")
    assert entry.before == {"draws_pension": True} and entry.after == {"draws_pension": False}
    assert entry.channel is Channel.WECHAT


def test_groups_changed_in_the_profile_keep_verified_ones_and_never_undo_a_rejection(
        wechat, talk, db, services, clock):
    register_via_chat(wechat, "o-one-groups")  # 1 3: 脱贫劳动力, 两后生 (self-declared)
    _decide(db, services, clock, Group.POVERTY_ALLEVIATED, True)
    _decide(db, services, clock, Group.TWO_AFTER, False)
    talk("o-one-groups", [("我的资料", "10. 人员类别"), ("10", "可以多选"),
                          ("1 3 5", ["已保存，但是", "这一认定不变"])])
    [entry] = _audit(db, "person.change_groups")
    assert entry.before == {"groups": {"poverty_alleviated": "verified",
                                       "two_after": "rejected"}}
    assert entry.after == {"groups": {"poverty_alleviated": "verified", "two_after": "rejected",
                                      "veteran": "self_declared"}}
    # Leaving a verified group out removes it: it can only narrow what the person gets.
    talk("o-one-groups", [("我的资料", "人员类别"), ("10", "可以多选"), ("0", "已保存")])
    assert _audit(db, "person.change_groups")[-1].after == {"groups": {"two_after": "rejected"}}


def test_a_wrong_groups_answer_changes_nothing(wechat, talk, db):
    register_via_chat(wechat, "o-one-groups2")
    talk("o-one-groups2", [("我的资料", "人员类别"), ("10", "可以多选"),
                           ("好的", "请回复列表里的数字")])
    assert _audit(db, "person.change_groups") == []


def test_the_api_corrects_pension_and_groups_with_audit(wechat, newcomer_api, db):
    register_via_chat(wechat, "o-one-api3", pension="2")
    api = newcomer_api("o-one-api3")
    changed = api.patch("/me", {"draws_pension": False, "groups": ["veteran"]})
    assert changed.status_code == 200, changed.get_json()
    profile = changed.get_json()
    assert profile["draws_pension"] is False
    assert [(g["group"], g["status"]) for g in profile["groups"]] == [("veteran",
                                                                       "self_declared")]
    assert [e.channel for e in _audit(db, "person.change_pension")] == [Channel.API]
    assert _audit(db, "person.change_groups")[0].after == {"groups": {"veteran": "self_declared"}}
    cooking = course_id(db, "lp-2026-004")
    assert api.post("/vouchers", {"course_id": cooking}).status_code == 201
    refused = api.patch("/me", {"groups": ["astronaut"]})
    assert refused.status_code == 422
    assert len(_audit(db, "person.change_groups")) == 1

"""PROFILE: a person's own details, masked, and the few things they may change."""

from __future__ import annotations

from sqlalchemy import func, select

from models.audit import AuditEntry
from tests.factories import ANSWERS, bind_staff_via_chat, claim_lines, register_via_chat


def test_profile_before_registering_starts_registration(wechat):
    assert "请输入姓名" in wechat.click("o-p1", "PROFILE").text


def test_profile_shows_the_details_masked(wechat):
    register_via_chat(wechat, "o-p2")
    text = wechat.click("o-p2", "PROFILE").text
    assert "【我的资料】" in text and "姓名：张三" in text
    assert f"身份证：{ANSWERS['id'][:4]}**********{ANSWERS['id'][-4:]}" in text
    assert ANSWERS["id"] not in text and "13812345678" not in text
    assert "手机：138****5678" in text
    assert "脱贫劳动力（本人申报，待核实）" in text
    assert "户籍地：罗雄街道" in text and "户口类型：农村户口" in text
    assert "常住地：罗雄街道" in text and "求职就业地：罗雄街道" in text
    # New choices come after the old ones, whose digits keep their meaning.
    assert "2. 户籍地" in text and "5. 撤回同意" in text and "6. 户口类型（农村/城镇）" in text
    assert "7. 常住地" in text and "8. 求职就业地" in text


def test_change_phone(wechat, talk, db, person_named):
    register_via_chat(wechat, "o-p3")
    wechat.click("o-p3", "PROFILE")
    talk("o-p3", [("1", "手机号"), ("110", "手机号是1开头的11位数字"),
                  ("13500002222", "已保存")])
    assert person_named("o-p3").phone_masked == "135****2222"
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "person.change_phone"))
    assert entry.before == {"phone": "138****5678"} and entry.after == {"phone": "135****2222"}


def test_change_township_by_name_and_intent_by_digit(wechat, talk, person_named):
    register_via_chat(wechat, "o-p4")
    wechat.click("o-p4", "PROFILE")
    talk("o-p4", [("2", None), ("鲁布革", "已保存")])
    wechat.click("o-p4", "PROFILE")
    talk("o-p4", [("3", None), ("3", "已保存")])
    person = person_named("o-p4")
    assert person.township.code == "lubuge" and person.intent.value == "outside"


def test_language_from_the_profile(wechat, talk):
    register_via_chat(wechat, "o-p5")
    wechat.click("o-p5", "PROFILE")
    talk("o-p5", [("4", "2. English")])


def test_withdrawing_consent_deletes_the_personal_information(wechat, talk, db, person_named):
    register_via_chat(wechat, "o-p6")
    wechat.click("o-p6", "PROFILE")
    talk("o-p6", [("5", "删除"), ("1", "个人信息已删除")])
    person = person_named("o-p6")
    assert person.anonymized_at is not None and not person.is_registered
    assert (person.name, person.id_sealed, person.id_hash, person.phone_sealed,
            person.id_masked) == (None, None, None, None, None)
    assert person.groups == []
    assert db.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "person.withdraw_consent")) == 1
    # The same ID number can be registered again afterwards.
    assert "登记成功" in register_via_chat(wechat, "o-p6")


def test_saying_no_to_withdrawal_keeps_everything(wechat, talk, person_named):
    register_via_chat(wechat, "o-p7")
    wechat.click("o-p7", "PROFILE")
    talk("o-p7", [("5", None), ("2", "没有做任何修改")])
    assert person_named("o-p7").is_registered


def test_withdrawing_consent_cancels_an_unused_voucher_and_frees_its_seat(wechat, talk, db,
                                                                          person_named):
    from models.vouchers import Voucher, VoucherStatus

    register_via_chat(wechat, "o-p8")
    talk("o-p8", claim_lines(then="培训券号"))
    wechat.click("o-p8", "PROFILE")
    talk("o-p8", [("5", None), ("1", None)])
    person = person_named("o-p8")
    voucher = db.scalar(select(Voucher).where(Voucher.person_id == person.id))
    assert voucher.status is VoucherStatus.CANCELLED
    assert person.name is None and person.phone_sealed is None


def test_after_enrolment_withdrawal_keeps_only_what_the_ledgers_need(wechat, talk, db,
                                                                     person_named, services,
                                                                     clock):
    register_via_chat(wechat, "o-p9")
    talk("o-p9", claim_lines())
    from models.vouchers import Voucher

    person = person_named("o-p9")
    voucher = db.scalar(select(Voucher).where(Voucher.person_id == person.id))
    bind_staff_via_chat(wechat, services, clock, "o-p9-staff", "lp-pes")
    code = services.voucher_codes.show(voucher.id, clock.now()).code
    assert "报到成功" in wechat.scan("o-p9-staff", "REDEEM", code).text
    wechat.click("o-p9", "PROFILE")
    talk("o-p9", [("5", None), ("1", None)])
    person = person_named("o-p9")
    assert person.name == "张三" and person.id_masked and person.id_sealed  # for the ledgers
    assert person.phone_sealed is None and person.phone_masked is None
    assert not person.is_registered


def test_the_profile_lists_trainings_with_their_state(wechat, talk):
    register_via_chat(wechat, "o-p10")
    assert "培训记录：暂无" in wechat.click("o-p10", "PROFILE").text
    talk("o-p10", claim_lines())
    text = wechat.click("o-p10", "PROFILE").text
    assert "· 砌筑工（初级）培训班 · 待报到" in text

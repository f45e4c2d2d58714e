"""Registration through the official account: one question a message, checked on the spot."""

from __future__ import annotations

import logging

from sqlalchemy import String, Text, inspect, select, text

import models
from models.audit import AuditEntry
from models.persons import Group, GroupStatus, HouseholdKind, Person
from tests.factories import (
    ANSWERS,
    id_number,
    register_via_chat,
    registration_lines,
    wrong_check_digit,
)
from tests.wechat_server import WeChatServer, absent
from webhooks.app import create_app


def test_a_person_registers_one_question_at_a_time(talk, person_named, services):
    talk("o-r1", [
        ("注册", ["请输入姓名", "比如：张三", "取消"]),
        ("张三", ["18位身份证号", "比如："]),
        (ANSWERS["id"], ["手机号", "比如：13812345678"]),
        ("13812345678", ["户籍在哪个乡镇", "10. 罗雄街道", "14. 不在罗平县"]),
        ("10", ["农村户口还是城镇户口", "1. 农村户口", "2. 城镇户口", "3. 不清楚"]),
        ("1", ["常住在哪里", "0. 和户籍地相同", "13. 钟山乡", "14. 不在罗平县"]),
        ("0", ["您想在哪里就业", "1. 就近就地（在本县）"]),
        ("1", ["在哪里找工作", "0. 和常住地相同", "14. 不在罗平县"]),
        ("0", ["可以多选", "1. 脱贫劳动力", "3. 两后生", "8. 农村转移就业劳动力",
               "9. 转岗职工"]),
        ("1 3", ["每月领养老金"]),
        ("1", ["只用来给您报名培训", "加密保存", "1. 我同意"]),
        ("1", ["请核对", "姓名：张三", "身份证：5303**********0025"[:6],
               "手机：138****5678", "户籍地：罗雄街道", "户口类型：农村户口",
               "常住地：罗雄街道", "求职就业地：罗雄街道", "脱贫劳动力和两后生",
               "按月领养老金：否", "1. 都对，提交登记", "4. 改手机号", "6. 改户口类型"]),
        ("1", ["张三，登记成功", "推荐"]),
    ])
    person = person_named("o-r1")
    assert person.is_registered and person.name == "张三"
    assert person.id_masked == ANSWERS["id"][:4] + "*" * 10 + ANSWERS["id"][-4:]
    assert person.phone_masked == "138****5678"
    assert services.vault.open(person.id_sealed) == ANSWERS["id"]
    assert services.vault.open(person.phone_sealed) == "13812345678"
    assert person.birth_date.isoformat() == "1990-01-01" and person.sex == "F"
    assert person.township.code == "luoxiong" and person.household_elsewhere is None
    assert person.household_kind is HouseholdKind.RURAL
    assert person.residence_township.code == person.job_township.code == "luoxiong"
    assert {(g.group, g.status) for g in person.groups} == {
        (Group.POVERTY_ALLEVIATED, GroupStatus.SELF_DECLARED),
        (Group.TWO_AFTER, GroupStatus.SELF_DECLARED)}
    assert person.consent_at is not None


def test_a_wrong_check_digit_is_named_and_the_other_answers_are_kept(talk, person_named):
    talk("o-r2", [
        ("注册", "姓名"),
        ("李四", "身份证号"),
        (wrong_check_digit(ANSWERS["id"]), ["身份证号第18位校验码不对", "请输入18位身份证号"]),
        (ANSWERS["id"], "手机号"),
    ])
    assert not person_named("o-r2").is_registered


def test_each_bad_answer_gets_its_own_message(talk):
    talk("o-r3", [
        ("注册", "姓名"),
        ("1", "请按身份证上的写姓名"),
        ("王五", "身份证号"),
        ("53032419900101", "应该是18位，您输入了14位"),
        (id_number(born="19901301"), "出生日期不对"),
        (id_number(born="20150101"), "不满16周岁"),
        (id_number(region="990324"), "省份代码"),
        (id_number(seq="005"), "手机号"),
        ("12345", "手机号是1开头的11位数字"),
        ("１３８ １２３４ ５６７８", "户籍在哪个乡镇"),  # full-width digits and spaces are fine
        ("月球", "列表里没有这个乡镇"),
        ("罗雄", "农村户口还是城镇户口"),  # part of a name is enough when it is unique
        ("4", "请回复列表里的数字"),
        ("居民户口", "请回复列表里的数字"),
        ("城镇", "常住在哪里"),  # the words do too
        ("15", "列表里没有这个乡镇"),
        ("0", "您想在哪里就业"),
        ("7", "请回复列表里的数字"),
        ("3", "在哪里找工作"),
        ("月球", "列表里没有这个乡镇"),
        ("14", "可以多选"),
        ("10", "请回复列表里的数字"),
        ("0", "每月领养老金"),
    ])


def test_cancel_leaves_at_any_step_and_saves_nothing(talk, person_named, kv):
    talk("o-r4", [("注册", "姓名"), ("赵六", "身份证号"), ("取消", ["已退出", "1. 查课程"]),
                  ("1", "开放报名的课程")])
    assert not person_named("o-r4").is_registered


def test_back_goes_to_the_previous_question(talk):
    talk("o-r5", [("注册", "姓名"), ("赵六", "身份证号"), ("上一步", "请输入姓名"),
                  ("赵六六", "身份证号")])


def test_a_field_is_corrected_from_the_summary(talk, person_named):
    talk("o-r6", [*registration_lines(summary="手机：138****5678"),
                  ("4", "手机号"),
                  ("13900001111", ["请核对", "手机：139****1111"]),
                  ("1", "登记成功")])
    assert person_named("o-r6").phone_masked == "139****1111"


def test_no_consent_means_nothing_is_saved(talk, person_named):
    *asked, _consent = registration_lines()
    talk("o-r7", [*asked, ("2", ["没有您的同意", "没有保存"])])
    assert not person_named("o-r7").is_registered
    assert person_named("o-r7").id_hash is None


def test_an_id_number_already_registered_is_refused_without_revealing_whose(wechat, talk,
                                                                            person_named):
    assert "登记成功" in register_via_chat(wechat, "o-r8", name="钱七")
    talk("o-r9", [("注册", None), ("孙八", None),
                  (ANSWERS["id"], ["已经登记过了", "公共就业和人才服务中心",
                                   absent("钱"), absent("138")])])
    assert not person_named("o-r9").is_registered


def test_registering_again_points_to_the_profile(wechat, talk):
    register_via_chat(wechat, "o-r10")
    talk("o-r10", [("注册", "您已经登记过了")])


def test_a_dialogue_that_waited_too_long_starts_over(talk, clock):
    talk("o-r11", [("注册", None), ("周九", None)])
    clock.advance(minutes=31)
    talk("o-r11", [(ANSWERS["id"], ["时间太久", "请输入姓名"])])


def test_the_dialogue_survives_a_restart_of_the_worker(talk, config, stack, sessions, kv,
                                                       clock, person_named):
    talk("o-r12", [("注册", None), ("吴十", None)])
    # Another worker process (a new app over the same database and Redis) takes the next one.
    other = create_app(config, engine=stack.engine, sessions=sessions, kv=kv, clock=clock)
    again = WeChatServer(other.test_client(), token=config.wechat_token, clock=clock)
    again.transcript("o-r12", [(ANSWERS["id"], "手机号")])


def test_voice_answers_work_in_the_dialogue(wechat):
    wechat.say("o-r13", "注册")
    assert "身份证号" in wechat.speak("o-r13", "郑十一。").text


def test_a_menu_tap_leaves_the_dialogue(wechat):
    wechat.say("o-r14", "注册")
    assert "开放报名的课程" in wechat.click("o-r14", "COURSES").text
    assert "开放报名" not in wechat.say("o-r14", "王二").text  # not taken as a name


def test_registration_in_english(talk):
    talk("o-r15", [("English", "Language set"), ("register", "full name"),
                   ("Li Si", "18-character ID card number"),
                   (wrong_check_digit(ANSWERS["id"]), "check digit"),
                   ])


def test_the_raw_id_number_and_phone_are_in_no_column_and_no_log(talk, db, kv, caplog):
    raw_id, raw_phone = id_number(seq="017"), "13712345679"
    with caplog.at_level(logging.DEBUG):
        talk("o-r16", [("注册", None), ("冯十二", None), (raw_id, None), (raw_phone, None)])
        # While the dialogue runs, Redis holds the answers only sealed.
        assert not any(raw_id in (kv.get(k) or "") or raw_phone in (kv.get(k) or "")
                       for k in kv.scan_iter("*") if kv.type(k) == "string")
        talk("o-r16", [(answer, None) for answer in ("10", "1", "0", "1", "0", "0", "1", "1",
                                                      "1")])
    assert db.scalar(select(Person).where(Person.openid == "o-r16")).is_registered
    for table in models.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (String, Text)) or column.type.__class__.__name__ == "JSON":
                found = db.execute(text(
                    f'SELECT count(*) FROM {table.name} WHERE CAST("{column.name}" AS TEXT) '
                    "LIKE :a OR CAST(\"" + column.name + '" AS TEXT) LIKE :b'),
                    {"a": f"%{raw_id}%", "b": f"%{raw_phone}%"}).scalar()
                assert found == 0, f"{table.name}.{column.name}"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert raw_id not in logged and raw_phone not in logged
    assert raw_id[:-4] not in logged


def test_registration_is_audited_with_masked_values(wechat, db, person_named):
    register_via_chat(wechat, "o-r17", id=id_number(seq="019"))
    person = person_named("o-r17")
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "person.register",
                                               AuditEntry.target_id == person.id))
    assert entry.after["id"] == person.id_masked and entry.after["consent"] == "wechat"
    assert entry.channel.value == "wechat"


def test_personal_columns_are_not_plain_text_in_the_schema():
    columns = {c.name for c in inspect(Person).columns}
    assert "id_number" not in columns and "phone" not in columns
    assert {"id_sealed", "id_hash", "id_masked", "phone_sealed", "phone_masked"} <= columns

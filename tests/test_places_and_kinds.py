"""Issue 16, items 1, 2 and 6 (groups), through the real doors: the household's kind (urban
两后生, 大龄城镇失业人员), the three places of QJ2019 (十六), and the two groups (十七) lacked.

One table, each case naming its clause, played twice: registering in the chat (the dialogue,
then 补贴 and the reasons page) and through the mini-program API (POST /me/registration, then
GET /subsidies). The bureau verifies groups with its own command, as for every group. Then the
registration questions themselves: the ID number's hint, profile changes, 代报名, bad answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models.audit import AuditEntry, Channel
from models.catalogue import Course
from models.clock import LOCAL_TZ
from models.eligibility import Status
from models.persons import Group, HouseholdKind, Person
from models.policy import eligibility_policy
from models.regions import Region
from tests.factories import (
    OUTSIDE,
    attend_and_complete,
    id_number,
    redeem,
    register_via_chat,
    staff_member,
)
from vocabulary.labels import GROUP_ORDER

ON = date(2026, 11, 25)  # conftest's START
COURSE = "lp-2026-001"  # 砌筑工（初级）培训班 at the public employment service: free
MARKS = {Status.ELIGIBLE: "✔", Status.PROVISIONAL: "…", Status.NOT_ELIGIBLE: "✘"}
KIND_DIGITS = {"rural": "1", "urban": "2", "unknown": "3"}


@dataclass(frozen=True)
class Row:
    clause: str
    rule: str
    status: Status
    kind: str = "rural"  # rural | urban | unknown (不清楚)
    household: str = "luoxiong"  # a township code, or "elsewhere:<the place>"
    residence: str = "luoxiong"  # a township code, or "elsewhere"
    job_place: str = "luoxiong"
    verified: tuple[Group, ...] = ()  # declared, then verified by the bureau
    declared: tuple[Group, ...] = ()  # declared only
    born: str = "19900101"
    man: bool = True
    says: tuple[str, ...] = ()  # words among the reasons, as the page and the API give them


T, U, P = Group.TWO_AFTER, Group.UNEMPLOYED, Group.POVERTY_ALLEVIATED
R, J = Group.RURAL_TRANSFER, Group.JOB_TRANSFER
LIVING, TRANSPORT = "living_allowance", "transport_allowance"
PUBLIC, TARGETED = "free_public_training", "free_targeted_groups"
GUIZHOU = "elsewhere:贵州省盘州市"

ROWS = [
    # --- 1. the household's kind ------------------------------------------------------------
    Row("QJ2019 (十八) a verified rural 两后生 gets the living allowance", LIVING,
        Status.ELIGIBLE, verified=(T,), says=("您是农村户口",)),
    Row("QJ2019 (十八) an urban 两后生 gets no living allowance", LIVING, Status.NOT_ELIGIBLE,
        kind="urban", verified=(T,), says=("两后生须为农村户口", "您是城镇户口")),
    Row("QJ2020 五(一) an urban 两后生 gets no transport allowance", TRANSPORT,
        Status.NOT_ELIGIBLE, kind="urban", verified=(T,), says=("两后生须为农村户口",)),
    Row("QJ2020 五(一) a 两后生 who does not know the household's kind: yes once known",
        LIVING, Status.PROVISIONAL, kind="unknown", verified=(T,),
        says=("还不知道您的户口类型", "农村户口还是城镇户口")),
    Row("QJ2019 (十八) an urban 脱贫劳动力 keeps the allowance", LIVING, Status.ELIGIBLE,
        kind="urban", verified=(P,)),
    Row("QJ2019 (四) an urban unemployed man of 56 counts as 就业困难人员", LIVING,
        Status.ELIGIBLE, kind="urban", verified=(U,), born="19700101",
        says=("就业困难人员",)),
    Row("QJ2019 (四) a rural unemployed man of 56 is no 大龄城镇失业人员", LIVING,
        Status.NOT_ELIGIBLE, verified=(U,), born="19700101", says=("须为城镇户口",)),
    Row("QJ2019 (十七) free training takes 两后生 whatever the household", TARGETED,
        Status.ELIGIBLE, kind="urban", verified=(T,)),
    # --- 2. the three places ----------------------------------------------------------------
    Row("QJ2019 (十六) household in the county: the household qualifies", PUBLIC,
        Status.ELIGIBLE, residence="elsewhere", job_place="elsewhere",
        says=("户籍地（罗雄街道）属于罗平县",)),
    Row("QJ2019 (十六) household in 贵州, living in 罗雄街道: the residence qualifies", PUBLIC,
        Status.ELIGIBLE, household=GUIZHOU, job_place="elsewhere",
        says=("常住地（罗雄街道）属于罗平县",)),
    Row("QJ2019 (十六) household and home elsewhere, seeking work in 马街镇", PUBLIC,
        Status.ELIGIBLE, household=GUIZHOU, residence="elsewhere", job_place="majie",
        says=("求职就业地（马街镇）属于罗平县",)),
    Row("QJ2019 (十六) no place in the county: not covered", PUBLIC, Status.NOT_ELIGIBLE,
        household=GUIZHOU, residence="elsewhere", job_place="elsewhere",
        says=("都不在罗平县",)),
    Row("QJ2019 (十八) a verified 脱贫劳动力 from 贵州 living here gets the allowance", LIVING,
        Status.ELIGIBLE, household=GUIZHOU, residence="lubuge", verified=(P,),
        says=("常住地（鲁布革乡）",)),
    # --- 6. the groups of QJ2019 (十七) -----------------------------------------------------
    Row("QJ2019 (十七) a verified 农村转移就业劳动力 trains free", TARGETED, Status.ELIGIBLE,
        verified=(R,), says=("经核实，您属于农村转移就业劳动力",)),
    Row("QJ2019 (十七) a verified 转岗职工 trains free", TARGETED, Status.ELIGIBLE,
        verified=(J,), says=("经核实，您属于转岗职工",)),
    Row("QJ2019 (十七) a 转岗职工 not yet verified: yes once verified", TARGETED,
        Status.PROVISIONAL, declared=(J,), says=("您自报为转岗职工",)),
]


def _number(row: Row) -> str:
    return id_number(born=row.born, seq="013" if row.man else "014")


def _township_names(db) -> dict[str, str]:
    return dict(db.execute(select(Region.code, Region.name)).all())


def _chat_place(code: str, names: dict[str, str]) -> str:
    return "外地" if code == "elsewhere" else names[code]


def _register_in_chat(row: Row, openid: str, wechat, db) -> None:
    names = _township_names(db)
    elsewhere = row.household.startswith("elsewhere:")
    groups = [*row.verified, *row.declared]
    answers = {
        "id": _number(row),
        "township": OUTSIDE if elsewhere else names[row.household],
        "household_elsewhere": row.household.removeprefix("elsewhere:"),
        "household_kind": KIND_DIGITS[row.kind],
        "residence": _chat_place(row.residence, names),
        "job_place": _chat_place(row.job_place, names),
        "groups": " ".join(str(GROUP_ORDER.index(g) + 1) for g in groups) or "0",
    }
    assert "登记成功" in register_via_chat(wechat, openid, **answers)


def _chat_answer(row: Row, openid: str, wechat, client) -> tuple[str, str]:
    summary = wechat.say(openid, "补贴 砌筑工（初级）培训班").text
    assert "砌筑工（初级）培训班" in summary, summary
    title = eligibility_policy().rules_on(ON)[row.rule].title_zh
    [line] = [x for x in summary.splitlines() if title in x]
    path = re.search(r"http://peixun\.test(/p/subsidy/\S+)", summary).group(1)
    page = client.get(path).get_data(as_text=True)
    return line, page


def _via_api(row: Row, openid: str, newcomer_api):
    api = newcomer_api(openid)
    elsewhere = row.household.startswith("elsewhere:")
    form = {"name": "王小二", "id_number": _number(row), "phone": "13912345678",
            "household_kind": row.kind, "residence": row.residence, "job_place": row.job_place,
            "intent": "local", "groups": [g.value for g in (*row.verified, *row.declared)],
            "draws_pension": False, "consent": True}
    if elsewhere:
        form["household_elsewhere"] = row.household.removeprefix("elsewhere:")
    else:
        form["township"] = row.household
    answer = api.post("/me/registration", form)
    assert answer.status_code == 201, answer.get_json()
    return api


def _verify(runner, row: Row) -> None:
    for group in row.verified:
        result = runner.invoke(args=["groups", "verify", "--id-number", _number(row), "--group",
                                     group.value, "--document", "证明材料 No.1"])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("via", ["chat", "api"])
@pytest.mark.parametrize("row", ROWS, ids=[r.clause for r in ROWS])
def test_each_rule_through_each_door(row: Row, via: str, wechat, client, db, runner,
                                     newcomer_api):
    openid = f"o-pk-{via}"
    if via == "chat":
        _register_in_chat(row, openid, wechat, db)
        _verify(runner, row)
        line, page = _chat_answer(row, openid, wechat, client)
        assert line.split()[1] == MARKS[row.status], line
        for words in row.says:
            assert words in page, (words, page)
        assert "曲政" in page  # every reason cites its clause
        return
    api = _via_api(row, openid, newcomer_api)
    _verify(runner, row)
    course_id = db.scalar(select(Course.id).where(Course.code == COURSE))
    evaluation = api.get("/subsidies", course_id=course_id).get_json()
    [outcome] = [o for o in evaluation["outcomes"] if o["rule_id"] == row.rule]
    assert outcome["status"] == row.status.value, outcome
    texts = " ".join([*(r["text"] for r in outcome["reasons"]), *outcome["missing"]])
    for words in row.says:
        assert words in texts, (words, outcome)
    assert all(r["source"] for r in outcome["reasons"])


# --- the questions, in the chat -------------------------------------------------------------

def test_the_id_number_suggests_a_household_elsewhere_but_does_not_decide(talk, person_named):
    """QJ2019 (十六): a number first issued in 贵州 is a hint for the household's place."""
    number = id_number(region="520281", seq="017")
    talk("o-pk-hint", [
        ("注册", "姓名"), ("李四", "身份证号"), (number, "手机号"),
        ("13812345678", ["户籍在哪个乡镇", "最初登记在贵州省盘州市", "14. 不在罗平县"]),
        ("14", ["户口在哪里", "或回复1：贵州省盘州市"]),
        ("1", "农村户口还是城镇户口"),
        ("3", ["常住在哪里", "0. 和户籍地相同"]),
        ("罗雄", "您想在哪里就业"),
        ("2", ["在哪里找工作", "0. 和常住地相同"]),
        ("14", "可以多选"),
        ("0", "每月领养老金"),
        ("1", "我同意"),
        ("1", ["户籍地：外地：贵州省盘州市", "户口类型：未填写", "常住地：罗雄街道",
               "求职就业地：不在罗平县"]),
        ("1", "登记成功"),
    ])
    person = person_named("o-pk-hint")
    assert person.township is None and person.household_elsewhere == "贵州省盘州市"
    assert person.household_kind is None  # 不清楚: the rules that need it stay provisional
    assert person.residence_township.code == "luoxiong" and person.residence_elsewhere is False
    assert person.job_township is None and person.job_elsewhere is True


def test_a_hinted_number_with_a_household_here_keeps_the_township(wechat, person_named):
    number = id_number(region="520281", seq="019")
    register_via_chat(wechat, "o-pk-moved", id=number, township="鲁布革")
    person = person_named("o-pk-moved")
    assert person.township.code == "lubuge" and person.household_elsewhere is None


def test_a_household_elsewhere_is_typed_and_checked(talk, person_named):
    talk("o-pk-typed", [
        ("注册", "姓名"), ("王五", "身份证号"), (id_number(seq="021"), "手机号"),
        ("13812345678", "户籍在哪个乡镇"),
        ("外地", "户口在哪里"),  # no hint for a number of this county
        ("1", ["请写出省、市、县", "户口在哪里"]),
        ("四川省成都市", "农村户口还是城镇户口"),
        ("上一步", "户口在哪里"),  # back goes to the question that was asked
        ("四川省成都市金牛区", "农村户口还是城镇户口"),
        ("2", "常住在哪里"),
        ("0", "您想在哪里就业"),  # the same as the household: not in the county
        ("1", "在哪里找工作"),
        ("马街", "可以多选"),
        ("8 9", "每月领养老金"),
        ("1", "我同意"),
        ("1", ["户籍地：外地：四川省成都市金牛区", "户口类型：城镇户口",
               "常住地：外地：四川省成都市金牛区", "求职就业地：马街镇",
               "农村转移就业劳动力和转岗职工"]),
        ("5", "户籍在哪个乡镇"),  # correct the household from the summary
        ("九龙", ["请核对", "户籍地：九龙街道"]),
        ("1", "登记成功"),
    ])
    person = person_named("o-pk-typed")
    assert person.township.code == "jiulong" and person.household_elsewhere is None
    assert person.household_kind is HouseholdKind.URBAN
    assert person.residence_elsewhere is True and person.job_township.code == "majie"
    assert {g.group for g in person.groups} == {Group.RURAL_TRANSFER, Group.JOB_TRANSFER}


def test_a_corrected_household_elsewhere_asks_where_before_the_summary(talk, person_named):
    talk("o-pk-fix", [("注册", "姓名")])
    register = [("张三", "身份证号"), (id_number(seq="023"), "手机号"),
                ("13812345678", "户籍在哪个乡镇"), ("10", "户口"), ("1", "常住"),
                ("0", "就业"), ("1", "找工作"), ("0", "多选"), ("0", "养老金"), ("1", "同意"),
                ("1", "请核对"), ("5", "户籍在哪个乡镇"), ("14", "户口在哪里"),
                ("云南省昆明市", ["请核对", "户籍地：外地：云南省昆明市"]), ("1", "登记成功")]
    talk("o-pk-fix", register)
    person = person_named("o-pk-fix")
    assert person.township is None and person.household_elsewhere == "云南省昆明市"


def test_the_profile_changes_each_place_and_the_kind(wechat, talk, db, person_named):
    register_via_chat(wechat, "o-pk-prof")
    text = wechat.click("o-pk-prof", "PROFILE").text
    assert "户籍地：罗雄街道" in text and "户口类型：农村户口" in text
    talk("o-pk-prof", [("6", None), ("2", "已保存")])
    wechat.click("o-pk-prof", "PROFILE")
    talk("o-pk-prof", [("7", "0. 和户籍地相同"), ("14", "已保存")])
    wechat.click("o-pk-prof", "PROFILE")
    talk("o-pk-prof", [("8", "0. 和常住地相同"),
                       ("0", "已保存")])  # the same: not in the county
    wechat.click("o-pk-prof", "PROFILE")
    talk("o-pk-prof", [("2", None), ("14", "户口在哪里"), ("贵州省盘州市", "已保存")])
    text = wechat.click("o-pk-prof", "PROFILE").text
    assert "户籍地：外地：贵州省盘州市" in text and "户口类型：城镇户口" in text
    assert "常住地：不在罗平县" in text and "求职就业地：不在罗平县" in text
    person = person_named("o-pk-prof")
    assert (person.township, person.household_kind, person.residence_elsewhere,
            person.job_elsewhere) == (None, HouseholdKind.URBAN, True, True)
    actions = set(db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == person.id)))
    assert {"person.change_township", "person.change_household_kind", "person.change_residence",
            "person.change_job_place"} <= actions
    # A household elsewhere is audited as "elsewhere": the place typed is free text.
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "person.change_township",
                                               AuditEntry.target_id == person.id))
    assert entry.after == {"township": "elsewhere"} and "盘州" not in str(entry.after)


def test_a_cadre_registers_an_urban_neighbour_from_elsewhere(wechat, talk, db,
                                                             cadre_invitation):
    token = cadre_invitation()
    wechat.send(wechat.event("o-pk-cadre", "SCAN", EventKey=f"cadre:{token}"))
    wechat.click("o-pk-cadre", "CADRE")
    talk("o-pk-cadre", [
        ("2", "代邻居填写"), ("赵大爷", "身份证号"),
        (id_number(born="19600303", seq="031"), "手机号"), ("13912340003", "户籍在哪个乡镇"),
        ("14", "户口在哪里"), ("贵州省兴义市", "户口"), ("2", ["代邻居填写", "常住在哪里"]),
        ("鲁布革", "就业"), ("1", "找工作"), ("0", "多选"), ("9", "养老金"), ("1", "纸质"),
        ("1", "请核对"), ("1", "绑定码"),
    ])
    neighbour = db.scalar(select(Person).where(Person.name == "赵大爷"))
    assert neighbour.household_elsewhere == "贵州省兴义市"
    assert neighbour.household_kind is HouseholdKind.URBAN
    assert neighbour.residence_township.code == neighbour.job_township.code == "lubuge"
    assert [g.group for g in neighbour.groups] == [Group.JOB_TRANSFER]


# --- the questions, through the API -----------------------------------------------------------

FORM = {"name": "王小二", "id_number": id_number(born="19880512", seq="013"),
        "phone": "13912345678", "household_elsewhere": "贵州省盘州市", "household_kind": "unknown",
        "residence": "luoxiong", "job_place": "elsewhere", "intent": "local",
        "groups": ["rural_transfer", "job_transfer"], "draws_pension": False, "consent": True}


def test_registering_through_the_app_with_a_household_elsewhere(newcomer_api):
    api = newcomer_api("o-pk-app")
    answer = api.post("/me/registration", FORM)
    assert answer.status_code == 201, answer.get_json()
    me = answer.get_json()
    assert me["township"] is None and me["household_elsewhere"] == "贵州省盘州市"
    assert me["household_kind"] is None
    assert me["residence"] == {"code": "luoxiong", "name": "罗雄街道"}
    assert me["job_place"] == {"code": "elsewhere", "name": "不在罗平县"}
    assert {g["label"] for g in me["groups"]} == {"农村转移就业劳动力", "转岗职工"}
    assert {g["status"] for g in me["groups"]} == {"self_declared"}


@pytest.mark.parametrize(("change", "field"), [
    ({"township": "luoxiong"}, "township"),  # a township and a place elsewhere: which?
    ({"household_elsewhere": None}, "township"),  # neither
    ({"household_elsewhere": "123"}, "household_elsewhere"),
    ({"residence": "atlantis"}, "residence"),
    ({"job_place": "atlantis"}, "job_place"),
    ({"household_kind": "farmer"}, "household_kind"),
    ({"household_kind": None}, "household_kind"),
    ({"groups": ["farmer"]}, "groups"),
])
def test_bad_places_and_kinds_are_refused_naming_their_field(newcomer_api, db, change, field):
    api = newcomer_api("o-pk-bad")
    answer = api.post("/me/registration", {**FORM, **change})
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["field"].split(".")[0] == field
    db.expire_all()
    assert db.scalar(select(Person).where(Person.openid == "o-pk-bad")).registered_at is None


def test_changing_places_and_kind_through_the_app_all_or_nothing(trainee_api, db):
    changed = trainee_api.patch("/me", {"household_elsewhere": "贵州省盘州市",
                                        "household_kind": "urban", "residence": "majie",
                                        "job_place": "elsewhere"})
    assert changed.status_code == 200, changed.get_json()
    me = changed.get_json()
    assert (me["township"], me["household_elsewhere"], me["household_kind"]) == (
        None, "贵州省盘州市", "urban")
    assert me["residence"]["code"] == "majie" and me["job_place"]["code"] == "elsewhere"
    refused = trainee_api.patch("/me", {"household_kind": "rural", "residence": "atlantis"})
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "residence"
    assert trainee_api.get("/me").get_json()["household_kind"] == "urban"
    back = trainee_api.patch("/me", {"township": "lashan", "household_kind": "unknown"})
    assert back.get_json()["township"]["code"] == "lashan"
    assert back.get_json()["household_elsewhere"] is None
    assert back.get_json()["household_kind"] is None


def test_a_cadre_registers_a_neighbour_with_places_through_the_app(cadre_api, db):
    form = {key: value for key, value in FORM.items() if key != "consent"}
    answer = cadre_api.post("/cadre/neighbours", {**form, "household_kind": "rural",
                                                   "consent_on_paper": True})
    assert answer.status_code == 201, answer.get_json()
    neighbour = db.scalar(select(Person).where(Person.name == "王小二"))
    assert neighbour.household_elsewhere == "贵州省盘州市"
    assert neighbour.household_kind is HouseholdKind.RURAL
    assert neighbour.residence_township.code == "luoxiong" and neighbour.job_elsewhere is True
    missing = cadre_api.post("/cadre/neighbours", {
        **{k: v for k, v in form.items() if k != "household_kind"}, "consent_on_paper": True})
    assert missing.status_code == 422
    assert missing.get_json()["error"]["field"] == "household_kind"


def test_the_demo_trainee_has_every_place_and_a_rural_household(trainee_api):
    me = trainee_api.get("/me").get_json()
    assert me["household_kind"] == "rural"
    assert me["township"]["code"] == me["residence"]["code"] == me["job_place"]["code"] == \
        "lashan"


# --- the institution's claim follows the same answers -------------------------------------------

CLAIMED = "lp-2026-006"  # lp-pes, free: its 10 class days end on Mon 7 Dec 2026


@pytest.mark.parametrize(("kind", "living", "note"), [
    ("1", 600, None),  # a rural 两后生: 60 yuan a day for 10 days (QJ2019 (十八))
    ("2", 0, None),  # urban: not one of the rule's groups, nothing pending
    ("3", 0, "facts_missing"),  # not known: nothing paid yet, and the sheet says why
])
def test_a_claim_pays_a_two_after_by_the_households_kind(kind, living, note, wechat, runner,
                                                         services, clock, db, tmp_path):
    """QJ2019 (十八): the institution claims the allowances of “两后生”中的农村学员 only."""
    from models.claims import Claim, ClaimLine
    from models.vouchers import claim_voucher

    number = id_number(seq="041")
    register_via_chat(wechat, "o-pk-claim", id=number, groups="3", household_kind=kind)
    assert runner.invoke(args=["groups", "verify", "--id-number", number, "--group",
                               "two_after", "--document", "毕业证"]).exit_code == 0
    staff = staff_member(services, institution_code="lp-pes", openid="o-pk-claim-staff",
                         now=clock.now())
    with services.sessions.begin() as s:
        course_id = s.scalar(select(Course.id).where(Course.code == CLAIMED))
        voucher = claim_voucher(s, openid="o-pk-claim", course_id=course_id,
                                channel=Channel.WECHAT, now=clock.now(), today=clock.today())
        voucher_id, voucher_number = voucher.id, voucher.number
    redeem(services, voucher_id=voucher_id, staff_openid=staff, now=clock.now())
    attend_and_complete(services, staff_openid=staff, voucher_number=voucher_number,
                        certificate_no="ZX-9", now=clock.now())
    clock.set(datetime(2026, 12, 8, 10, 0, tzinfo=LOCAL_TZ))
    sheet = tmp_path / "claim.xlsx"
    result = runner.invoke(args=["claims", "make", "--course", CLAIMED, "--out", str(sheet)])
    assert result.exit_code == 0, result.output
    db.expire_all()
    line = db.scalar(select(ClaimLine).join(Claim).where(ClaimLine.voucher_id == voucher_id))
    assert (line.days_attended, line.living_yuan, line.note) == (10, living, note)
    cells = [str(c) for row in load_workbook(sheet).active.iter_rows(values_only=True)
             for c in row if c is not None]
    assert any("户口类型或地点未填" in c for c in cells) is (note is not None)


def test_courses_come_nearest_to_where_a_person_lives_before_their_household(wechat):
    """Someone registered in 富乐镇 who lives in 鲁布革 sees 鲁布革's course first."""
    register_via_chat(wechat, "o-pk-near", township="4", residence="鲁布革")
    assert "布依族刺绣" in wechat.say("o-pk-near", "课程").text.split("\n")[1]


def test_the_bureau_records_the_household_kind_it_reads_when_it_verifies(wechat, runner, db,
                                                                          client):
    """QJ2019 (十八): a 两后生 who said 不清楚 is settled by the household register."""
    number = id_number(seq="051")
    register_via_chat(wechat, "o-pk-reg", id=number, groups="3", household_kind="3")
    line, _ = _chat_answer(Row("-", LIVING, Status.PROVISIONAL), "o-pk-reg", wechat, client)
    assert line.split()[1] == "…"
    result = runner.invoke(args=["groups", "verify", "--id-number", number, "--group",
                                 "two_after", "--document", "户口本", "--household-kind", "urban"])
    assert result.exit_code == 0, result.output
    line, page = _chat_answer(Row("-", LIVING, Status.NOT_ELIGIBLE), "o-pk-reg", wechat, client)
    assert line.split()[1] == "✘" and "两后生须为农村户口" in page
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "group.decide"))
    assert (entry.before["household_kind"], entry.after["household_kind"]) == (None, "urban")

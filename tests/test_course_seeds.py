"""Issue 16, items 3, 4, 5, 6 (course part) and 12: every yuan by the seeds, through the doors
people use — the chat, the mini-program API, the bureau's course import, settlement and desk.

3  QJ2020 五(一): free or paid, never both; the fee decides the door.
4  QJ2019 (十六): 初级工 and 五级 are one level; the same occupation and level is paid once.
5  YN2021 二(四): 以工代训 ran to December 2021; asked after, the answer says it ended.
6  QJ2019 (十七): free training for the groups must be bought by public tender.
12 DX2020 三(四) (as the county adopts it): practice at least 70% of a course's hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from models.audit import Channel
from models.catalogue import Course
from models.clock import LOCAL_TZ
from models.course_import import import_courses
from models.courses import CourseRulesInvalid, course_rules, parse_course_rules
from models.desk import DeskRole
from models.errors import CourseFileRejected
from models.persons import Person
from models.policy import settlement_rates
from models.vouchers import Voucher, VoucherStatus
from tests.factories import course_file, id_number, register_via_chat
from tests.test_ledgers import export
from tests.wechat_server import absent

QJ2020_51 = "曲政发〔2020〕45号 五(一)"
QJ2019_16 = "曲政办发〔2019〕112号 (十六)"
QJ2019_17 = "曲政办发〔2019〕112号 (十七)"
YN2021_24 = "云南省人社厅2021年职业技能提升行动通知 二(四)"
PRACTICE_SOURCE = "东县府办发〔2020〕57号 三(四)"  # inside the county's own basis, policy.yaml

HEADER = ("code,institution,category,name,occupation,certificate_kind,certificate_level,"
          "theory_hours,practice_hours,capacity,fee_yuan,is_publicly_procured,township,address,"
          "first_day,session_days,daily")
DAILY = "08:00-12:00;13:00-17:00"  # 8 hours a day
# The courses the cases ask about, published by the bureau's import. Occupations are unique
# in the demo county, so "补贴 茶艺师" and "课程 钳工" find them.
COURSE_ROWS = [
    # 900 yuan at the public employment service (item 3)
    "s16-tea,lp-pes,care,茶艺师（初级）班,茶艺师,职业技能等级证书,初级工,36,84,30,900,否,"
    f"luoxiong,罗雄,2026-12-01,15,{DAILY}",
    # free at the public employment service, bought by tender (item 3)
    f"s16-flower,lp-pes,care,插花员班,插花员,培训合格证书,,2,6,30,0,是,luoxiong,罗雄,2026-12-20,1,"
    f"{DAILY}",
    # free at a private school, bought by tender (item 6)
    "s16-pastry,lp-xinyuan,care,面点师班,面点师,培训合格证书,,2,6,30,0,是,lashan,腊山,2026-12-21,1,"
    f"{DAILY}",
    # free at an HR agency, not bought by tender: an employer's order (item 6)
    "s16-cleaner,lp-hrs,care,保洁员订单班,保洁员,培训合格证书,,2,6,30,,否,luoxiong,罗雄,"
    f"2026-12-22,1,{DAILY}",
    # 钳工 at one level under its two names, and at the next level (item 4)
    "s16-fitter,lp-pes,industry,钳工（初级工）班,钳工,职业技能等级证书,初级工,36,84,30,0,是,luoxiong,"
    f"罗雄,2026-12-01,15,{DAILY}",
    "s16-fitter-v,lp-pes,industry,钳工（五级）班,钳工,职业技能等级证书,五级,36,84,30,0,是,luoxiong,"
    f"罗雄,2027-01-04,15,{DAILY}",
    "s16-fitter-iv,lp-pes,industry,钳工（四级）班,钳工,职业技能等级证书,四级,36,84,30,0,是,luoxiong,"
    f"罗雄,2027-02-01,15,{DAILY}",
]


OCCUPATIONS = {row.split(",")[0]: row.split(",")[4] for row in COURSE_ROWS}


@pytest.fixture
def courses(runner, db, tmp_path) -> dict[str, int]:
    """The bureau imports the file; the courses' ids by code."""
    path = tmp_path / "s16.csv"
    path.write_text("\n".join([HEADER, *COURSE_ROWS]) + "\n", encoding="utf-8")
    result = runner.invoke(args=["courses", "import", str(path), "--lang", "en"])
    assert result.exit_code == 0, result.output
    db.expire_all()
    return dict(db.execute(select(Course.code, Course.id).where(Course.code.like("s16-%"))).all())


@pytest.fixture
def person(wechat, newcomer_api):
    """Someone registered through the chat (self-declared 脱贫劳动力 and 两后生, no pension,
    罗雄街道), with the mini-program linked: (openid, Api)."""
    seqs = iter(range(601, 699, 2))

    def make(openid: str):
        register_via_chat(wechat, openid, id=id_number(seq=f"{next(seqs):03d}"))
        return openid, newcomer_api(openid)

    return make


def page_of(client, answer_text: str) -> str:
    """The reasons page the chat's subsidy answer links to."""
    path = re.search(r"http://peixun\.test(/p/subsidy/\S+)", answer_text).group(1)
    return client.get(path).get_data(as_text=True)


# --- items 3, 5, 6: what the chat and the API answer, table-driven -----------------------------

@dataclass(frozen=True)
class Ask:
    clause: str
    course: str | None  # the course asked about (what if); None: the overview
    rule: str
    title: str  # the subsidy's Chinese title, as the chat lists it
    status: str  # eligible | provisional | not_eligible
    words: str  # the status in the chat's Chinese
    reason: str  # a reason code the answer must give …
    says: str  # … in these Chinese words …
    cites: str  # … citing this clause
    amount: str | None = None  # the amount text the chat and the API show, when checked


FREE_PUBLIC = "免费参加公共就业服务机构组织的技能培训"
SELF_FUNDED = "自费培训取得证书后的培训补贴和鉴定补贴"
TARGETED = "重点群体免费职业技能培训"
WORK_TRAINING = "以工代训职业培训补贴（支付给用工单位）"
ASKS = [
    Ask("QJ2020 五(一) 900 yuan at the public employment service: not its free training",
        "s16-tea", "free_public_training", FREE_PUBLIC, "not_eligible", "不符合",
        "course_not_free", "该课程收费900", QJ2020_51),
    Ask("QJ2020 五(一) 900 yuan at the public employment service: the self-funded door",
        "s16-tea", "training_subsidy_self_funded", SELF_FUNDED, "provisional", "待核实",
        "certificate_pending", "取得证书后才能申领", QJ2020_51),
    Ask("QJ2020 五(一) free at the public employment service: its free training",
        "s16-flower", "free_public_training", FREE_PUBLIC, "eligible", "符合",
        "course_is_free", "该课程免费", QJ2020_51, amount="免费培训"),
    Ask("QJ2020 五(一) free at the public employment service: not the self-funded door",
        "s16-flower", "training_subsidy_self_funded", SELF_FUNDED, "not_eligible", "不符合",
        "course_is_free", "该课程免费", QJ2020_51),
    Ask("QJ2019 (十七) free and bought by public tender: the free training of the groups",
        "s16-pastry", "free_targeted_groups", TARGETED, "provisional", "待核实",
        "course_publicly_procured", "公开招标采购", QJ2019_17),
    Ask("QJ2019 (十七) free but not bought by public tender: not it",
        "s16-cleaner", "free_targeted_groups", TARGETED, "not_eligible", "不符合",
        "course_not_publicly_procured", "不是公共就业服务机构公开招标采购的培训", QJ2019_17),
    Ask("YN2021 二(四) 以工代训 asked in 2026: ended on 2021-12-31", None, "work_training",
        WORK_TRAINING, "not_eligible", "不符合", "rule_ended",
        "该补贴已于2021年12月31日结束，不再发放", YN2021_24, amount="已于2021年12月31日结束"),
]


@pytest.mark.parametrize("ask", ASKS, ids=[a.clause for a in ASKS])
def test_the_api_answers_by_the_seeds(ask: Ask, courses, person):
    _, api = person("o-s16-api")
    query = {"course_id": courses[ask.course]} if ask.course else {}
    answer = api.get("/subsidies", **query)
    assert answer.status_code == 200
    [outcome] = [o for o in answer.get_json()["outcomes"] if o["rule_id"] == ask.rule]
    assert outcome["status"] == ask.status and outcome["status_text"] == ask.words
    [reason] = [r for r in outcome["reasons"] if r["code"] == ask.reason]
    assert ask.says in reason["text"] and ask.cites in reason["source"]
    if ask.amount:
        assert outcome["amount_text"] == ask.amount
    if ask.status == "not_eligible":
        assert outcome["total_yuan"] is None


@pytest.mark.parametrize("ask", ASKS, ids=[a.clause for a in ASKS])
def test_the_chat_answers_by_the_seeds(ask: Ask, courses, person, wechat, client):
    openid, _ = person("o-s16-chat")
    answer = wechat.say(openid, f"补贴 {OCCUPATIONS[ask.course]}" if ask.course else "补贴").text
    [line] = [line for line in answer.splitlines() if ask.title in line]
    assert f"{ask.title}：{ask.words}" in line, line
    if ask.amount:
        assert line.endswith(ask.amount), line
    # The page the answer links to gives the reason, and the clause among those it cites.
    page = page_of(client, answer)
    reasons = re.findall(r"<li>([^<]*)", page)
    assert any(ask.says in text for text in reasons), reasons
    clauses = re.findall(r'<li id="clause-\d+">\[\d+\] ([^<]*)</li>', page)
    assert any(ask.cites in clause for clause in clauses), clauses


def test_one_course_is_never_answered_both_free_and_paid(courses, person):
    """QJ2020 五(一): whatever the course, at most one of the two doors says yes."""
    _, api = person("o-s16-doors")
    for code in courses:
        outcomes = {o["rule_id"]: o["status"] for o in
                    api.get("/subsidies", course_id=courses[code]).get_json()["outcomes"]}
        free = outcomes["free_public_training"] != "not_eligible"
        paid = outcomes["training_subsidy_self_funded"] != "not_eligible"
        assert not (free and paid), (code, outcomes)


def test_on_its_last_day_work_training_is_still_offered(courses, person, clock):
    """The end is a date, not a deletion: on its last day 以工代训 is offered (YN2021 二(四))."""
    clock.set(datetime(2021, 12, 31, 10, tzinfo=LOCAL_TZ))
    _, api = person("o-s16-2021")
    [outcome] = [o for o in api.get("/subsidies").get_json()["outcomes"]
                 if o["rule_id"] == "work_training"]
    assert outcome["status"] == "provisional"
    assert outcome["amount_text"] == "每人每月最高¥500.00，最多6个月"


# --- item 6: the course attribute, at import, in the API, the chat and the desk ---------------

def test_public_procurement_is_a_course_attribute_everywhere(courses, anonymous, talk, db,
                                                             desk_client, services):
    procured = dict(db.execute(select(Course.code, Course.is_publicly_procured)
                               .where(Course.code.like("s16-%"))).all())
    assert procured["s16-pastry"] is True and procured["s16-cleaner"] is False
    detail = anonymous.get(f"/courses/{courses['s16-pastry']}").get_json()
    assert detail["is_publicly_procured"] is True and detail["is_free"] is True
    listed = anonymous.get("/courses", q="保洁员").get_json()["courses"]
    assert [c["is_publicly_procured"] for c in listed] == [False]
    talk("o-s16-look", [("课程 面点师", None), ("1", "费用：免费（公开招标采购）"),
                        ("课程 保洁员", None), ("1", ["费用：免费", absent("公开招标")])])
    book = export(desk_client(DeskRole.ADMIN), services, "class_record", "s16-pastry")
    facts = {row[0]: row[2] for row in book["培训班"].iter_rows(min_row=3, max_row=30,
                                                             values_only=True) if row[0]}
    assert facts["公开招标采购"] == "是"


# --- item 4: one level under two names -----------------------------------------------------

def test_the_import_stores_a_level_under_its_catalogue_name(courses, db):
    levels = dict(db.execute(select(Course.code, Course.certificate_level)
                             .where(Course.code.like("s16-fitter%"))).all())
    assert levels == {"s16-fitter": "初级工", "s16-fitter-v": "初级工", "s16-fitter-iv": "中级工"}


@dataclass(frozen=True)
class Second:
    clause: str
    first: str
    second: str
    refused: bool


SECONDS = [
    Second("QJ2019 (十六) 钳工 初级工, then 钳工 五级: the same level, refused", "s16-fitter",
           "s16-fitter-v", True),
    Second("QJ2019 (十六) 钳工 五级, then 钳工 初级工: the same level, refused", "s16-fitter-v",
           "s16-fitter", True),
    Second("QJ2019 (十六) 钳工 初级工, then 钳工 四级 (中级工): another level, claimed",
           "s16-fitter", "s16-fitter-iv", False),
]


@pytest.mark.parametrize("case", SECONDS, ids=[c.clause for c in SECONDS])
def test_a_second_claim_of_the_same_level_through_the_api(case: Second, courses, person):
    _, api = person("o-s16-claim-api")
    assert api.post("/vouchers", {"course_id": courses[case.first]}).status_code == 201
    second = api.post("/vouchers", {"course_id": courses[case.second]})
    if not case.refused:
        assert second.status_code == 201, second.get_json()
        return
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert (error["code"], error["reason"]) == ("claim_refused", "same_occupation_level")
    assert QJ2019_16 in error["message"] and "同一工种同一等级只能享受一次" in error["message"]
    # SUBSIDY counts it too: the same cap, the same clause.
    outcomes = api.get("/subsidies", course_id=courses[case.second]).get_json()["outcomes"]
    [free] = [o for o in outcomes if o["rule_id"] == "free_public_training"]
    [reason] = [r for r in free["reasons"] if r["code"] == "same_occupation_level"]
    assert free["status"] == "not_eligible" and reason["source"] == QJ2019_16


@pytest.mark.parametrize("case", SECONDS, ids=[c.clause for c in SECONDS])
def test_a_second_claim_of_the_same_level_through_the_chat(case: Second, courses, person,
                                                           talk, db):
    openid, _ = person("o-s16-claim-chat")
    order = ["s16-fitter", "s16-fitter-v", "s16-fitter-iv"]  # soonest first in the list

    def claim(code: str) -> str:
        return talk(openid, [("课程 钳工", None), (str(order.index(code) + 1), None),
                             ("领券", None)])[-1].text

    assert "培训券号" in claim(case.first)
    answer = claim(case.second)
    held = db.scalar(select(func.count(Voucher.id)).join(Voucher.person)
                     .where(Person.openid == openid, Voucher.status == VoucherStatus.ISSUED))
    if case.refused:
        assert "同一工种同一等级只能享受一次" in answer and QJ2019_16 in answer
        assert held == 1
    else:
        assert "培训券号" in answer and held == 2


@pytest.fixture
def old_pair(courses, person, sessions, clock):
    """Two certificates of 钳工 初级工 obtained on vouchers claimed before the vocabulary (one
    course still says 五级, as an old row may): the vouchers' numbers."""
    openid, _ = person("o-s16-pair")
    with sessions.begin() as db:
        db.execute(update(Course).where(Course.code == "s16-fitter-v")
                   .values(certificate_level="五级"))
        who = db.scalar(select(Person.id).where(Person.openid == openid))
        for code in ("s16-fitter", "s16-fitter-v"):
            db.add(Voucher(person_id=who, course_id=courses[code], number=f"PXS16-{code}",
                           status=VoucherStatus.COMPLETED, year=2026, claimed_at=clock.now(),
                           claimed_via=Channel.WECHAT, expires_at=clock.now(),
                           completed_at=clock.now(), certified=True,
                           certificate_no=f"ZS-{code}"))
            db.flush()
    return "PXS16-s16-fitter", "PXS16-s16-fitter-v"


def test_settlement_pays_one_level_once_whatever_its_name(old_pair, runner, tmp_path):
    """The run pays the first and 0 for the second, saying why (QJ2019 (十六))."""
    first, second = old_pair
    out = tmp_path / "settle.xlsx"
    result = runner.invoke(args=["vouchers", "settle", "--institution", "lp-pes", "--from",
                                 "2026-11-01", "--to", "2026-11-30", "--out", str(out),
                                 "--lang", "en"])
    assert result.exit_code == 0, result.output
    rows = {row[1]: row for row in load_workbook(out).active.iter_rows(min_row=4,
                                                                       values_only=True)
            if row[1] and str(row[1]).startswith("PXS16-")}
    rate = settlement_rates().by_level["初级工"].total_yuan
    assert Decimal(str(rows[first][8])) == rate
    assert Decimal(str(rows[second][8])) == 0
    assert first in rows[second][6] and QJ2019_16 in rows[second][6]


def test_a_class_claim_pays_one_level_once_whatever_its_name(old_pair, runner, clock,
                                                              tmp_path):
    """The classes' claims (YN2021 二(八)) price by the same vocabulary: the second class's
    line has no training subsidy and says why."""
    first, second = old_pair
    clock.set(datetime(2027, 2, 1, 9, tzinfo=LOCAL_TZ))  # both classes have ended
    amounts = {}
    for code, number in (("s16-fitter", first), ("s16-fitter-v", second)):
        out = tmp_path / f"{code}.xlsx"
        made = runner.invoke(args=["claims", "make", "--course", code, "--out", str(out),
                                   "--lang", "en"])
        assert made.exit_code == 0, made.output
        [line] = [r for r in load_workbook(out).active.iter_rows(min_row=5, values_only=True)
                  if r[1] == number]
        amounts[number] = (Decimal(str(line[5])), line[10])
    assert amounts[first] == (settlement_rates().by_level["初级工"].training_yuan, None)
    assert amounts[second][0] == 0 and "QJ2019 (十六)" in amounts[second][1]


# --- items 4 and 12 at import: the row and the clause, in Chinese and English ----------------

@dataclass(frozen=True)
class Row:
    clause: str
    changes: dict[str, str]
    column_zh: str | None  # None: the row is imported
    zh: str = ""
    en: str = ""


GOOD = {"code": "s16-imp", "institution": "lp-pes", "category": "construction",
        "name": "砌筑工班", "occupation": "砌筑工s16", "certificate_kind": "skill_level",
        "certificate_level": "初级工", "theory_hours": "36", "practice_hours": "84",
        "capacity": "30", "fee_yuan": "0", "is_publicly_procured": "是",
        "township": "luoxiong", "address": "罗雄", "first_day": "2026-12-01",
        "session_days": "15", "daily": DAILY}
ROWS = [
    Row("DX2020 三(四) practice 84 of 120 hours, exactly 7:3: imported", {}, None),
    Row("DX2020 三(四) practice 90 of 120 hours: imported",
        {"theory_hours": "30", "practice_hours": "90"}, None),
    Row("DX2020 三(四) practice 80 of 120 hours (66.7%): refused with the county's basis",
        {"theory_hours": "40", "practice_hours": "80"}, "实操课时",
        zh="实操课时应不少于总课时的70%；本行总课时120，其中实操80（66.7%）",
        en="Row 2, practice_hours: practice must be at least 70% of the hours; this row has 80 "
           "practice hours of 120 (66.7%)"),
    Row("QJ2019 (十六) a level under its grade name (四级) is taken", {"certificate_level": "四级"},
        None),
    Row("QJ2019 (十六) a level that is no grade of the standard is refused",
        {"certificate_level": "特级"}, "等级", zh="“特级”不是技能等级",
        en="Row 2, certificate_level: “特级” is not a skill level; write one of 初级工/五级"),
    Row("QJ2019 (十六) a skill-level certificate without its level is refused",
        {"certificate_level": ""}, "等级", zh="职业技能等级证书的课程须填写等级",
        en="Row 2, certificate_level: a skill-level certificate course needs its level"),
]


def _file(tmp_path: Path, row: dict[str, str], *, zh: bool) -> Path:
    return course_file(tmp_path / "one.csv", [row], zh=zh)


@pytest.mark.parametrize("case", ROWS, ids=[r.clause for r in ROWS])
def test_course_rules_at_import_name_the_row_and_the_clause(case: Row, runner, db, tmp_path):
    row = {**GOOD, **case.changes}
    zh = runner.invoke(args=["courses", "import", str(_file(tmp_path, row, zh=True))])
    if case.column_zh is None:
        assert zh.exit_code == 0, zh.output
        db.expire_all()
        assert db.scalar(select(Course.id).where(Course.code == "s16-imp")) is not None
        return
    assert zh.exit_code == 1
    [line] = [line for line in zh.output.splitlines() if line.startswith("第2行")]
    assert f"「{case.column_zh}」" in line and case.zh in line, line
    en = runner.invoke(args=["courses", "import", str(_file(tmp_path, row, zh=False)),
                             "--lang", "en"])
    assert en.exit_code == 1 and case.en in en.output, en.output
    if case.changes.get("practice_hours"):
        assert PRACTICE_SOURCE in line and PRACTICE_SOURCE in en.output
    db.expire_all()
    assert db.scalar(select(Course.id).where(Course.code == "s16-imp")) is None


def test_the_demo_county_adopts_the_practice_share_and_a_county_may_not(db, clock, tmp_path):
    """DX2020 is another county's plan: the rule applies where the policy file adopts it."""
    share = course_rules().practice_share
    assert share is not None and share.minimum == Decimal("0.7")
    assert PRACTICE_SOURCE in share.source and "罗平县" in share.source
    not_adopted = parse_course_rules({"practice_share": {"adopted": False, "min": 0.7}})
    row = {**GOOD, "code": "s16-free-share", "theory_hours": "60", "practice_hours": "60"}
    content = _file(tmp_path, row, zh=False).read_bytes()
    with pytest.raises(CourseFileRejected):
        import_courses(db, filename="c.csv", content=content, actor_id=None,
                       channel=Channel.CLI, now=clock.now(), today=clock.today())
    result = import_courses(db, filename="c.csv", content=content, actor_id=None,
                            channel=Channel.CLI, now=clock.now(), today=clock.today(),
                            rules=not_adopted)
    assert result.new == 1


@pytest.mark.parametrize("raw", [
    {"practice_share": {"adopted": True, "min": 7}},
    {"practice_share": {"adopted": "yes", "min": 0.7}},
    {"practice_share": {"adopted": True}},
    {"practice_share": {"adopted": True, "min": 0.7, "source": "x"}},
    {"theory_share": {}},
])
def test_a_bad_course_rules_section_stops_loudly(raw):
    with pytest.raises(CourseRulesInvalid, match="course_rules"):
        parse_course_rules(raw)


def test_a_policy_file_without_course_rules_adopts_none():
    assert parse_course_rules(None).practice_share is None


def test_a_day_is_worded_by_babel_in_english(courses, person):
    _, api = person("o-s16-en")
    api.headers["Accept-Language"] = "en"
    [outcome] = [o for o in api.get("/subsidies").get_json()["outcomes"]
                 if o["rule_id"] == "work_training"]
    assert outcome["amount_text"] == "ended on Dec 31, 2021"
    assert outcome["reasons"][0]["text"] == ("This subsidy ended on Dec 31, 2021; it is no "
                                             "longer paid.")
    assert date(2021, 12, 31).isoformat() not in outcome["amount_text"]

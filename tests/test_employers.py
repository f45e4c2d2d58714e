"""What an employer can get for training its workers (issue 16, item 7): QJ2020 五(三) and
QJ2019 (十六)(十九), asked on the desk by the bureau and through the API by institution staff
and village cadres. Each case names its clause; every refusal has a test."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest

from models.desk import DeskRole
from models.policy import POLICY_FILE, PolicyFileInvalid, parse_policy
from tests.factories import register_via_chat

QJ2020_53 = "曲政发〔2020〕45号 五(三)"
QJ2019_16 = "曲政办发〔2019〕112号 (十六)"
QJ2019_19 = "曲政办发〔2019〕112号 (十九)"
YN2021_24 = "云南省人社厅2021年职业技能提升行动通知 二(四)"


@dataclass(frozen=True)
class Case:
    query: dict[str, str | int]
    rule_id: str
    status: str
    per_worker: str
    total: str
    is_demo: bool
    clause: str


CASES = [
    pytest.param(Case({"training": "pre_job", "workers": 10}, "employer_pre_job", "provisional",
                      "每人¥800.00", "10人合计：¥8,000.00", False, QJ2019_16),
                 id="QJ2019 (十六): pre-job training, 800 a person"),
    pytest.param(Case({"training": "safety", "workers": 1}, "employer_pre_job", "provisional",
                      "每人¥800.00", "1人合计：¥800.00", False, QJ2019_16),
                 id="QJ2019 (十六): on-the-job safety training"),
    pytest.param(Case({"training": "transfer", "workers": 3}, "employer_pre_job", "provisional",
                      "每人¥800.00", "3人合计：¥2,400.00", False, QJ2019_16),
                 id="QJ2019 (十六): job-transfer training"),
    pytest.param(Case({"training": "certificate", "workers": 20,
                       "certificate_kind": "skill_level", "level": "中级工"},
                      "enterprise_training", "provisional", "每人次¥2,150.00（演示金额）",
                      "20人合计：¥43,000.00（演示金额）", True, QJ2020_53),
                 id="QJ2020 五(三): hired rural workers to 中级工, the county's demo rate"),
    pytest.param(Case({"training": "certificate", "workers": 2}, "enterprise_training",
                      "provisional", "每人次¥800.00至¥6,000.00", "2人合计：¥1,600.00至¥12,300.00",
                      False, QJ2020_53),
                 id="QJ2020 五(三): certificate not said, the policy's own range"),
    pytest.param(Case({"training": "work_training", "workers": 3}, "work_training",
                      "not_eligible", "已于2021年12月31日结束", "—", False, YN2021_24),
                 id="YN2021 二(四): 以工代训 ran to December 2021, and has ended"),
    pytest.param(Case({"training": "apprenticeship", "workers": 5}, "apprenticeship",
                      "provisional", "每人每年¥4,000.00起", "5人合计：每年¥20,000.00起", False,
                      QJ2019_16),
                 id="QJ2019 (十六): new-style apprentices, 4000 a year or more"),
]


@pytest.mark.parametrize("case", CASES)
def test_the_api_answers_an_employer_s_question_by_the_clause(staff_api, case: Case):
    answer = staff_api.get("/employers/subsidies", **case.query)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["workers"] == case.query["workers"]
    [outcome] = [o for o in body["outcomes"] if o["rule_id"] == case.rule_id]
    assert outcome["status"] == case.status
    assert outcome["per_worker_text"] == case.per_worker
    assert outcome["total_text"] == case.total
    assert outcome["is_demo"] is case.is_demo
    assert case.clause in outcome["source"]
    assert all(r["source"] for r in outcome["reasons"])


@pytest.mark.parametrize("case", CASES)
def test_the_desk_answers_an_employer_s_question_by_the_clause(desk_client, case: Case):
    page = desk_client(DeskRole.ADMIN).get("/admin/employers", query_string=case.query)
    assert page.status_code == 200
    row = answer_rows(page.get_data(as_text=True))[case.rule_id]
    assert case.per_worker in row["per_worker"] and case.total in row["total"]
    assert case.clause in row["clause"]
    assert ("演示金额" in row["per_worker"]) is case.is_demo


def answer_rows(text: str) -> dict[str, dict[str, str]]:
    """The answer table's rows by rule: each cell's text, tags removed."""
    rows = {}
    for rule, cells in re.findall(r'<tr class="\w+" data-rule="(\w+)"[^>]*>(.*?)</tr>', text,
                                  re.S):
        texts = [html.unescape(re.sub(r"<[^>]+>", " ", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        rows[rule] = dict(zip(("title", "payee", "answer", "per_worker", "total", "why",
                               "clause"), texts, strict=True))
    return rows


def test_the_answer_says_what_the_employer_must_show_and_that_half_may_come_first(staff_api):
    body = staff_api.get("/employers/subsidies", training="certificate", workers=4,
                         certificate_kind="special_ability").get_json()
    [outcome] = body["outcomes"]
    assert outcome["payee"] == "企业"
    assert "培训计划已经公共就业服务机构审批" in outcome["still_to_show"]
    advance = next(r for r in outcome["reasons"] if r["code"] == "advance_by_plan")
    assert "50%" in advance["text"] and advance["source"] == "曲政办发〔2019〕112号 (二十)"
    assert any(r["code"] == "demo_amount" for r in outcome["reasons"])


def test_a_village_cadre_may_ask_too_and_in_english(api_as):
    body = api_as("demo-cadre", locale="en").get("/employers/subsidies", training="pre_job",
                                                 workers=2).get_json()
    [outcome] = body["outcomes"]
    assert outcome["per_worker_text"] == "CN¥800.00 per person"
    assert outcome["total_text"] == "for 2 workers: CN¥1,600.00"
    assert body["training_text"] == "Pre-job training (岗前培训)"


def test_a_trainee_is_refused_the_employer_question(api_as):
    answer = api_as("demo-trainee").get("/employers/subsidies", training="pre_job", workers=2)
    assert answer.status_code == 403
    error = answer.get_json()["error"]
    assert error["code"] == "not_staff_or_cadre"
    assert "县公共就业服务中心" in error["message"]


def test_signed_out_the_api_asks_for_sign_in(anonymous):
    answer = anonymous.get("/employers/subsidies", training="pre_job", workers=2)
    assert answer.status_code == 401


@pytest.mark.parametrize(("query", "field"), [
    ({"training": "picnic", "workers": 2}, "training"),
    ({"training": "pre_job", "workers": 0}, "workers"),
    ({"training": "pre_job", "workers": 100001}, "workers"),
    ({"training": "work_training", "workers": 2, "months": 0}, "months"),
    ({"training": "certificate", "workers": 2, "level": "中级工"}, "level"),
])
def test_a_bad_question_gets_a_clear_answer_naming_the_field(staff_api, query, field):
    answer = staff_api.get("/employers/subsidies", **query)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["field"] == field and error["message"]


@pytest.mark.parametrize(("query", "words"), [
    ({"training": "picnic", "workers": "2"}, "没有这类培训"),
    ({"training": "pre_job", "workers": "abc"}, "人数无效"),
    ({"training": "pre_job"}, "请填写参加培训的人数"),
    ({"training": "certificate", "workers": "2", "certificate_kind": "diploma"}, "没有这种证书"),
    ({"training": "certificate", "workers": "2", "certificate_kind": "qualification",
      "level": "中级工"}, "等级只用于职业技能等级证书"),
])
def test_the_desk_refuses_a_bad_question_saying_which(desk_client, query, words):
    page = desk_client(DeskRole.INSPECTOR).get("/admin/employers", query_string=query)
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert words in text and 'id="answer"' not in text


def test_the_bureau_s_roles_see_the_form_and_the_menu_entry(desk_client):
    for role in (DeskRole.ADMIN, DeskRole.INSPECTOR):
        page = desk_client(role).get("/admin/employers").get_data(as_text=True)
        assert 'id="question"' in page and 'href="/admin/employers"' in page
        assert "岗前培训" in page and "以工代训" in page


def test_institution_staff_are_refused_the_employer_page(desk_client):
    client = desk_client(DeskRole.INSTITUTION)
    assert client.get("/admin/employers?training=pre_job&workers=2").status_code == 403
    assert 'href="/admin/employers"' not in client.get("/admin/dashboard").get_data(as_text=True)


def test_signed_out_the_employer_page_asks_for_sign_in(client):
    answer = client.get("/admin/employers")
    assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]


def test_a_trainee_s_own_answer_does_not_list_the_employer_s_subsidies(wechat):
    register_via_chat(wechat, "o-emp1")
    answer = wechat.say("o-emp1", "补贴").text
    assert "生产经营主体" not in answer and "岗前培训" not in answer


def test_an_employer_s_subsidy_paid_to_a_trainee_is_refused_in_the_policy_file():
    text = POLICY_FILE.read_text(encoding="utf-8").replace(
        "pays: {kind: fixed, to: employer, amount_yuan: 800, per: person}",
        "pays: {kind: fixed, to: trainee, amount_yuan: 800, per: person}")
    with pytest.raises(PolicyFileInvalid) as refused:
        parse_policy(text)
    assert refused.value.rule == "employer_pre_job"

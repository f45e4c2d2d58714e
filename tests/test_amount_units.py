"""Every amount a person reads says per what, and an amount the county has not set says it is a
demo amount (issue 16, items 9 and 10): through the chat (补贴), its page and the API, then on
the sheets the bureau prints."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from locales import MONEY_REMEMBERED, translator
from models.catalogue import Course
from models.clock import LOCAL_TZ
from models.desk import DeskRole
from models.policy import eligibility_policy
from tests.factories import register_via_chat

ON = datetime(2026, 11, 25).date()
COOKING = "lp-2026-004"  # 中式烹调师（初级）, 1800 yuan fee, 初级工: self-funded


@dataclass(frozen=True)
class Case:
    rule_id: str
    amount: str  # in Chinese, as the chat, the page and the API word it
    is_demo: bool
    clause: str
    course: str | None = None  # 补贴 <word> asks about this course


CASES = [
    pytest.param(Case("living_allowance", "每天¥60.00", False, "曲政发〔2020〕45号 五(一)"),
                 id="QJ2020 五(一) living allowance: 60 a day"),
    pytest.param(Case("transport_allowance", "每天¥20.00", False, "曲政发〔2020〕45号 五(一)"),
                 id="QJ2020 五(一) transport allowance: 20 a day"),
    pytest.param(Case("work_training", "已于2021年12月31日结束", False,
                      "云南省人社厅2021年职业技能提升行动通知 二(四)"),
                 id="YN2021 二(四) 以工代训: ended in December 2021, and says so"),
    pytest.param(Case("apprenticeship", "每人每年¥4,000.00起", False,
                      "曲政办发〔2019〕112号 (十六)"),
                 id="QJ2019 (十六) apprenticeship: from 4000 a year an apprentice"),
    pytest.param(Case("training_subsidy_self_funded", "一次性¥800.00至¥6,000.00", False,
                      "曲政发〔2020〕45号 五(一)"),
                 id="QJ2020 五(一) self-funded: the policy's own range, no demo"),
    pytest.param(Case("training_subsidy_self_funded", "一次性¥1,650.00（演示金额）", True,
                      "曲政发〔2020〕45号 五(一)", course="烹调"),
                 id="QJ2020 五(一) self-funded 初级工: the demo rate, said as such"),
]


def _title(rule_id: str) -> str:
    return eligibility_policy().latest_on(ON)[rule_id].title_zh  # ended ones too


@pytest.mark.parametrize("case", CASES)
def test_the_chat_and_its_page_say_per_what_and_demo(wechat, client, case: Case):
    openid = f"o-unit-{case.rule_id[:12]}-{bool(case.course)}"
    register_via_chat(wechat, openid)
    answer = wechat.say(openid, "补贴" + (f" {case.course}" if case.course else "")).text
    [line] = [line for line in answer.splitlines() if _title(case.rule_id) in line]
    assert line.endswith(case.amount), line
    path = re.search(r"(/p/subsidy/\S+)", answer).group(1)
    page = client.get(path).get_data(as_text=True)
    assert case.amount in page and case.clause in page
    if case.is_demo:
        assert "金额为示例" in page  # the reason, with its clause


@pytest.mark.parametrize("case", CASES)
def test_the_api_says_per_what_and_demo(trainee_api, db, case: Case):
    query = {}
    if case.course:
        query["course_id"] = db.scalar(select(Course.id).where(Course.code == COOKING))
    outcomes = {o["rule_id"]: o for o in trainee_api.get("/subsidies", **query)
                .get_json()["outcomes"]}
    outcome = outcomes[case.rule_id]
    assert outcome["amount_text"] == case.amount
    assert outcome["is_demo"] is case.is_demo
    assert case.clause in outcome["source"]


def test_amounts_in_english_say_per_what(trainee_api):
    trainee_api.headers["Accept-Language"] = "en"
    outcomes = {o["rule_id"]: o for o in trainee_api.get("/subsidies").get_json()["outcomes"]}
    assert outcomes["living_allowance"]["amount_text"] == "CN¥60.00 per day"
    assert outcomes["work_training"]["amount_text"] == "ended on Dec 31, 2021"
    assert outcomes["apprenticeship"]["amount_text"] == "from CN¥4,000.00 per person per year"


# --- sheets --------------------------------------------------------------------------------

def _texts(book) -> str:
    return " ".join(str(value) for sheet in book.worksheets
                    for row in sheet.iter_rows(values_only=True) for value in row
                    if value is not None)


@pytest.fixture
def completed_voucher(classroom) -> str:
    """A trainee of lp-2026-006 (lp-pes) enrolled, present and completed with a certificate,
    as the chat and the institution's staff make it; returns the course's code."""
    code = "lp-2026-006"
    classroom.completed(code, certificate_no="ZX-U-1")
    return code


def test_the_settlement_sheet_and_command_say_demo(runner, tmp_path, completed_voucher):
    out = tmp_path / "settlement.xlsx"
    result = runner.invoke(args=["vouchers", "settle", "--institution", "lp-pes", "--from",
                                 "2026-11-01", "--to", "2026-12-31", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "（演示金额）" in result.output  # the total, said as a demo amount
    assert "演示金额：" in _texts(load_workbook(out))


def test_the_quarter_s_ledger_and_a_class_record_say_their_amounts_are_demo(
        desk_client, services, completed_voucher):
    from tests.test_ledgers import export

    client = desk_client(DeskRole.ADMIN)
    book = export(client, services, "ledger", "2026Q4")
    assert "演示金额" in book.active["A2"].value
    record = export(client, services, "class_record", completed_voucher)
    assert "演示金额：" in _texts(record)


def test_the_claim_sheet_and_the_command_say_demo(runner, tmp_path, clock, completed_voucher):
    clock.set(datetime(2026, 12, 8, 10, 0, tzinfo=LOCAL_TZ))
    out = tmp_path / "claim.xlsx"
    result = runner.invoke(args=["claims", "make", "--course", completed_voucher, "--out",
                                 str(out)])
    assert result.exit_code == 0, result.output
    assert "（演示金额）" in result.output
    assert "演示金额：" in _texts(load_workbook(out))


def test_each_language_words_an_amount_its_own_way_however_many_it_has_worded():
    # The translator remembers the amounts it worded (for SUBSIDY's speed); what it says
    # must stay each language's own, for 0 and -0 too, past the memo's size.
    zh, en = translator("zh_Hans_CN"), translator("en")
    for n in range(MONEY_REMEMBERED + 10):
        assert zh.money(Decimal(n)) == f"¥{n:,}.00"
        assert en.money(Decimal(n)) == f"CN¥{n:,}.00"
    assert zh.money(Decimal("1234.5")) == "¥1,234.50" == zh.money(Decimal("1234.50"))
    assert zh.money(Decimal("-0")) == "-¥0.00" and zh.money(Decimal("0")) == "¥0.00"

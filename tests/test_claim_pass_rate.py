"""The institution's side of a claim (issue 16, item 8): paid by certificate kind and pass rate,
and 50% of a project class's training subsidy advanced for poor workers (QJ2020 五(二),
QJ2019 (二十)). Through the commands the bureau runs and the claim list on the desk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import select

from models.audit import AuditEntry
from models.catalogue import CertificateKind, Course
from models.claims import Claim, ClaimAdvance
from models.clock import LOCAL_TZ
from models.desk import DeskRole
from models.policy import POLICY_FILE, claim_policy, parse_claim_policy, settlement_rates
from tests.test_ledgers import export, table

PROJECT = "lp-2026-006"  # lp-pes, free, 专项职业能力, 10 class days ending Mon 7 Dec 2026
WITH_FEE = "lp-2026-004"  # 中式烹调师（初级）at lp-xinyuan, 1800 yuan
QJ2020_52 = "曲政发〔2020〕45号 五(二)"
AFTER_THE_CLASS = datetime(2026, 12, 8, 10, 0, tzinfo=LOCAL_TZ)
TRAINING = settlement_rates().by_kind[CertificateKind.SPECIAL_ABILITY].training_yuan  # 1000 demo


def cells(path) -> list[list[object]]:
    return [list(row) for row in load_workbook(path).active.iter_rows(values_only=True)]


def words(sheet: list[list[object]]) -> str:
    return " ".join(str(v) for row in sheet for v in row if v is not None)


# --- by pass rate ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PassCase:
    certified: int  # of 3 trainees
    rate: str
    share: Decimal
    clause: str = QJ2020_52


PASS_CASES = [
    pytest.param(PassCase(3, "100%", Decimal("1")),
                 id="QJ2020 五(二) all 3 certified: the full rate"),
    pytest.param(PassCase(2, "66.7%", Decimal("0.9")),
                 id="QJ2020 五(二) 2 of 3 certified: 90% (demo band from 60%)"),
    pytest.param(PassCase(1, "33.3%", Decimal("0.8")),
                 id="QJ2020 五(二) 1 of 3 certified: 80% (demo band below 60%)"),
]


@pytest.mark.parametrize("case", PASS_CASES)
def test_the_claim_pays_the_training_subsidy_by_pass_rate(runner, classroom, clock, db, tmp_path,
                                                          case: PassCase):
    vouchers = [classroom.enrol(PROJECT) for _ in range(3)]
    for n, voucher in enumerate(vouchers):
        classroom.complete(voucher, f"ZX-PR-{n}" if n < case.certified else None)
    clock.set(AFTER_THE_CLASS)
    out = tmp_path / "claim.xlsx"
    made = runner.invoke(args=["claims", "make", "--course", PROJECT, "--out", str(out)])
    assert made.exit_code == 0, made.output
    said = f"培训合格率{case.rate}：3名学员中{case.certified}名取得证书"
    assert said in made.output and case.clause in made.output
    assert "按培训合格率拨付的比例为系统示例" in made.output  # the bands are demo values

    sheet = cells(out)
    assert said in words(sheet)
    training = [Decimal(str(row[5])) for row in sheet[4:7]]
    assert sorted(training, reverse=True) == (
        [TRAINING * case.share] * case.certified + [Decimal(0)] * (3 - case.certified))
    claim = db.scalar(select(Claim).join(Claim.course).where(Course.code == PROJECT))
    assert claim.pass_share == case.share


def test_the_bands_are_the_county_s_to_set_and_checked():
    data = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))["institution_claims"]
    policy = parse_claim_policy(data)
    assert policy.pass_rate_is_demo and policy.advance_share == Decimal("0.5")
    # A class that ended before the rule took effect keeps the full rate per certificate.
    assert policy.share_at(Decimal("0.3"), class_ended_on=date(2026, 10, 30)) == 1
    assert policy.share_at(Decimal("0.3"), class_ended_on=date(2026, 12, 7)) == Decimal("0.8")
    data["pass_rate"]["bands"] = [{"from": 0.8, "share": 1}]
    with pytest.raises(ValueError, match="one band from 0"):
        parse_claim_policy(data)


# --- the advance of project training for poor workers --------------------------------------

def test_a_project_class_gets_half_its_expected_subsidy_first_and_the_claim_the_rest(
        runner, classroom, clock, db, tmp_path, desk_client, services):
    poor = classroom.enrol(PROJECT)
    classroom.verify(poor)
    declared = classroom.enrol(PROJECT)  # declared 脱贫劳动力, not verified: not counted
    advanced = runner.invoke(args=["claims", "advance", "--course", PROJECT])
    assert advanced.exit_code == 0, advanced.output
    half = TRAINING * claim_policy().advance_share
    assert f"¥{half:,.2f}（演示金额）" in advanced.output
    assert f"为1名学员预计培训补贴¥{TRAINING:,.2f}的50%" in advanced.output
    assert QJ2020_52 in advanced.output
    advance = db.scalar(select(ClaimAdvance).join(ClaimAdvance.course)
                        .where(Course.code == PROJECT))
    assert (advance.trainees, advance.amount_yuan) == (1, half)
    assert db.scalar(select(AuditEntry.action).where(
        AuditEntry.target_type == "claim_advances", AuditEntry.target_id == advance.id)) == \
        "claim.advance"

    again = runner.invoke(args=["claims", "advance", "--course", PROJECT])
    assert again.exit_code == 1 and advance.number in again.output

    classroom.complete(poor, "ZX-AD-1")
    classroom.complete(declared, "ZX-AD-2")
    clock.set(AFTER_THE_CLASS)
    out = tmp_path / "claim.xlsx"
    made = runner.invoke(args=["claims", "make", "--course", PROJECT, "--out", str(out)])
    assert made.exit_code == 0, made.output
    claim = db.scalar(select(Claim).join(Claim.course).where(Course.code == PROJECT))
    assert claim.advance_yuan == half and claim.balance_yuan == claim.total_yuan - half
    assert f"培训期间已预拨¥{half:,.2f}" in made.output
    assert f"尚应拨付：¥{claim.balance_yuan:,.2f}" in made.output

    book = export(desk_client(DeskRole.ADMIN), services, "claim", PROJECT)
    _, rows = table(book.active, 4)
    below = {row[0]: row[9] for row in book.active.iter_rows(values_only=True) if row[0]}
    assert Decimal(str(below["已预拨金额"])) == -half
    assert Decimal(str(below["尚应拨付（负数为应退回）"])) == claim.balance_yuan
    assert [row["序号"] for row in rows][:2] == [1, 2]  # the trainees, then the total


@pytest.mark.parametrize(("setup", "says"), [
    pytest.param("fee", "收取学费：预拨只适用于通过招标采购、免费参加的项目制培训",
                 id="QJ2020 五(二): a class with a fee is no project training"),
    pytest.param("unverified", "没有已报到且经人社部门核实为脱贫劳动力",
                 id="QJ2020 五(二): no verified poor worker enrolled"),
    pytest.param("ended", "请直接申领补贴，不再预拨",
                 id="QJ2020 五(二): an ended class is claimed, not advanced"),
])
def test_an_advance_is_refused_saying_why_and_nothing_is_made(runner, classroom, clock, db, setup,
                                                               says):
    code = WITH_FEE if setup == "fee" else PROJECT
    voucher = classroom.enrol(code)
    if setup != "unverified":
        classroom.verify(voucher)
    if setup == "ended":
        clock.set(AFTER_THE_CLASS)
    refused = runner.invoke(args=["claims", "advance", "--course", code])
    assert refused.exit_code == 1 and says in refused.output
    assert db.scalar(select(ClaimAdvance.id).join(ClaimAdvance.course)
                     .where(Course.code == code)) is None

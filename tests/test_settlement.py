"""The bureau's side of vouchers: settling an institution's completed vouchers into a sheet a
clerk prints and signs, revoking a voucher, inviting institution staff."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from documents.settlement_sheet import SETTLEMENT_COLUMNS
from locales import translator
from models.audit import AuditEntry
from models.catalogue import CertificateKind, Course
from models.clock import LOCAL_TZ
from models.errors import SettlementRefused
from models.invitations import bind_by_invitation
from models.outbox import Outbox
from models.persons import DEFAULT_LOCALE, Person, meet
from models.policy import POLICY_FILE, parse_rates
from models.settlement import settle
from models.staff import StaffMember
from models.vouchers import (
    Settlement,
    Voucher,
    VoucherStatus,
)
from tests.factories import Trainee, invitation_by_command

# The demo's classes end in December: their trainees complete then, once their sessions ended.
DECEMBER = ["--from", "2026-12-01", "--to", "2026-12-31"]
ENGLISH_HEADER = ["No.", "Voucher no.", "Name", "ID number (masked)", "Course", "Course hours",
                  "Certificate", "Certificate no.", "Amount (yuan)"]


def policy_amount(kind: str, level: str | None = None) -> Decimal:
    """Training plus appraisal subsidy, read from the policy file itself."""
    with POLICY_FILE.open(encoding="utf-8") as f:
        rules = yaml.safe_load(f)["settlement_rates"]["rules"]
    [rule] = [r for r in rules if r["certificate_kind"] == kind and r.get("level") == level]
    return Decimal(rule["training_yuan"]) + Decimal(rule["appraisal_yuan"])


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def voucher(db, trainee: Trainee) -> Voucher:
    db.expire_all()
    return db.get_one(Voucher, trainee.voucher_id)


def cells(path: Path) -> list[list[object]]:
    return [list(row) for row in load_workbook(path).active.iter_rows(values_only=True)]


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


# --- settling ------------------------------------------------------------------------------

def test_the_settlement_sheet_lists_the_period_s_vouchers_and_settles_them(
        runner, classroom, db, tmp_path):
    bricklayer = classroom.completed("lp-2026-001", certificate_no="ZS-001", name="李秀英")
    housekeeper = classroom.completed("lp-2026-006", certificate_no="ZX-002", name="王芳",
                                 at=local(2026, 12, 20, 10, 0))  # after the bricklayer's
    failed = classroom.completed("lp-2026-008", certificate_no=None, name="赵强",
                            at=local(2026, 12, 31, 23, 30))  # the last evening, local time
    after = classroom.completed("lp-2026-005", certificate_no="ZS-004",
                           at=local(2027, 1, 1, 0, 10))  # still 31 Dec in UTC
    elsewhere = classroom.completed("lp-2026-002", certificate_no="ZS-005")  # lp-zhongzhi
    settlements_before = count(db, Settlement)

    out = tmp_path / "settlement.xlsx"
    result = runner.invoke(args=["vouchers", "settle", "--institution", "lp-pes", *DECEMBER,
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = [policy_amount("skill_level", "初级工"), policy_amount("special_ability"),
                Decimal(0)]
    zh = translator(DEFAULT_LOCALE)
    assert zh.money(sum(expected)) in result.output
    assert "3" in result.output and str(out) in result.output

    sheet = cells(out)
    assert sheet[2] == [zh._(header) for header, _ in SETTLEMENT_COLUMNS]
    rows = sheet[3:6]
    assert [r[0] for r in rows] == [1, 2, 3]
    assert [r[1] for r in rows] == [bricklayer.number, housekeeper.number, failed.number]
    assert [r[2] for r in rows] == ["李秀英", "王芳", "赵强"]
    masked = [voucher(db, t).person.id_masked for t in (bricklayer, housekeeper, failed)]
    assert [r[3] for r in rows] == masked and all("*" in m for m in masked)
    assert rows[0][4] == "砌筑工（初级）培训班" and rows[0][5] == 120
    assert [r[7] for r in rows] == ["ZS-001", "ZX-002", None]
    assert rows[2][6] == zh._("none (appraisal failed)")
    assert [Decimal(str(r[8])) for r in rows] == expected
    assert Decimal(str(sheet[6][8])) == sum(expected)  # the total row
    assert any(zh._("Prepared by:                Reviewed by:                Date:") == row[0]
               for row in sheet)
    everything = " ".join(str(value) for row in sheet for value in row if value is not None)
    for trainee in (bricklayer, housekeeper, failed):
        assert trainee.id_number not in everything

    db.expire_all()
    [settlement] = db.scalars(select(Settlement).order_by(Settlement.id.desc()).limit(1)).all()
    assert count(db, Settlement) == settlements_before + 1
    assert settlement.voucher_count == 3 and settlement.total_yuan == sum(expected)
    assert (settlement.period_start, settlement.period_end) == (date(2026, 12, 1),
                                                                date(2026, 12, 31))
    for trainee in (bricklayer, housekeeper, failed):
        settled = voucher(db, trainee)
        assert settled.status is VoucherStatus.SETTLED
        assert settled.settlement_id == settlement.id and settled.settled_at is not None
    assert db.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "voucher.settle", AuditEntry.target_type == "vouchers",
        AuditEntry.target_id.in_([bricklayer.voucher_id, housekeeper.voucher_id,
                                  failed.voucher_id]))) == 3
    # Completed after the period (local time), or at another institution: not in this one.
    assert voucher(db, after).status is VoucherStatus.COMPLETED
    assert voucher(db, elsewhere).status is VoucherStatus.COMPLETED


def test_settling_the_same_period_again_lists_nothing_and_makes_no_settlement(
        runner, classroom, db, tmp_path):
    classroom.completed("lp-2026-001", certificate_no="ZS-011")
    first = runner.invoke(args=["vouchers", "settle", "--institution", "lp-pes", *DECEMBER,
                                "--out", str(tmp_path / "first.xlsx"), "--lang", "en"])
    assert first.exit_code == 0, first.output
    assert "1 voucher," in first.output
    settlements = count(db, Settlement)

    again = runner.invoke(args=["vouchers", "settle", "--institution", "lp-pes", *DECEMBER,
                                "--out", str(tmp_path / "again.xlsx"), "--lang", "en"])
    assert again.exit_code == 0, again.output
    assert "Nothing to settle" in again.output
    assert not (tmp_path / "again.xlsx").exists()
    assert not list(tmp_path.glob("*.part"))
    assert count(db, Settlement) == settlements


def test_a_settled_voucher_never_appears_in_a_later_run(classroom, sessions, db, clock):
    trainee = classroom.completed("lp-2026-006", certificate_no="ZX-021")

    def run(start: date, end: date):
        with sessions.begin() as session:
            return settle(session, institution_code="lp-pes", period_start=start,
                          period_end=end, now=clock.now())

    first = run(date(2026, 12, 7), date(2026, 12, 7))  # its last session's day
    assert [r.voucher_number for r in first.rows] == [trainee.number]
    assert first.settlement_id is not None
    settlements = count(db, Settlement)
    wider = run(date(2026, 1, 1), date(2026, 12, 31))  # overlapping, wider period
    assert wider.rows == [] and wider.settlement_id is None and wider.total_yuan == 0
    assert count(db, Settlement) == settlements


def test_the_sheet_in_english_is_ready_to_print(runner, classroom, tmp_path):
    classroom.completed("lp-2026-001", certificate_no="ZS-031")
    out = tmp_path / "en.xlsx"
    result = runner.invoke(args=["vouchers", "settle", "--institution", "lp-pes", *DECEMBER,
                                 "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    amount = policy_amount("skill_level", "初级工")
    assert "Settlement" in result.output and f"{amount:,.2f}" in result.output

    sheet = load_workbook(out).active
    assert "Luoping Public Employment Service Centre" in sheet["A1"].value
    assert [c.value for c in sheet[3]] == ENGLISH_HEADER
    row = [c.value for c in sheet[4]]
    assert row[4] == "Bricklayer (entry level)" and row[5] == 120
    assert row[6] == "skill-level certificate (初级工)"
    assert sheet.cell(4, 9).number_format == "0.00" and sheet.cell(5, 9).number_format == "0.00"
    assert sheet.cell(5, 1).value == "Total (1 voucher)"
    assert sheet.freeze_panes == "A4"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.fitToWidth == 1 and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert all(sheet.column_dimensions[letter].width > 5 for letter in "ABCDEFGHI")
    texts = [c.value for c in sheet["A"] if isinstance(c.value, str)]
    assert "Prepared by:                Reviewed by:                Date:" in texts


def test_a_certificate_without_a_rate_settles_nothing(runner, classroom, db, sessions, tmp_path):
    trainee = classroom.completed("lp-2026-001", certificate_no="ZS-041")
    with sessions.begin() as session:
        session.execute(update(Course).where(Course.code == "lp-2026-001")
                        .values(certificate_level="特级"))
    out = tmp_path / "s.xlsx"
    result = runner.invoke(args=["vouchers", "settle", "--institution", "lp-pes", *DECEMBER,
                                 "--out", str(out), "--lang", "en"])
    assert result.exit_code == 1
    assert f"Nothing was settled: voucher {trainee.number}" in result.output
    assert "特级" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists() and voucher(db, trainee).status is VoucherStatus.COMPLETED


def test_a_sheet_that_cannot_be_written_settles_nothing(runner, classroom, db, tmp_path):
    trainee = classroom.completed("lp-2026-001", certificate_no="ZS-045")
    settlements = count(db, Settlement)
    out = tmp_path / "no-such-folder" / "s.xlsx"
    result = runner.invoke(args=["vouchers", "settle", "--institution", "lp-pes", *DECEMBER,
                                 "--out", str(out), "--lang", "en"])
    assert result.exit_code == 1
    assert result.output.startswith("Nothing was settled:") and str(out) in result.output
    assert voucher(db, trainee).status is VoucherStatus.COMPLETED
    assert count(db, Settlement) == settlements


def test_a_settlement_names_a_known_institution_and_a_period_in_order(runner, db, clock):
    unknown = runner.invoke(args=["vouchers", "settle", "--institution", "lp-nowhere",
                                  *DECEMBER, "--out", "x.xlsx", "--lang", "en"])
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "No institution has the code “lp-nowhere”."
    with pytest.raises(SettlementRefused) as refused, db.begin():
        settle(db, institution_code="lp-pes", period_start=date(2026, 11, 30),
               period_end=date(2026, 11, 1), now=clock.now())
    assert refused.value.data["reason"] == "period_reversed"


def test_every_rate_in_the_policy_file_lies_in_the_policy_s_range():
    with POLICY_FILE.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)["settlement_rates"]
    rates = parse_rates(data)
    assert rates.is_demo  # until the county's own figures replace ours
    assert set(rates.by_kind) == set(CertificateKind) - {CertificateKind.SKILL_LEVEL}
    assert rates.rate_for(kind=CertificateKind.SKILL_LEVEL, level="四级",
                          is_certified=True) == rates.by_level["中级工"]
    assert rates.rate_for(kind=CertificateKind.QUALIFICATION, level=None,
                          is_certified=False).total_yuan == 0
    data["rules"][0]["training_yuan"] = 7000
    with pytest.raises(ValueError, match="range"):
        parse_rates(data)


# --- revoking ------------------------------------------------------------------------------

def test_revoking_an_issued_voucher_tells_the_holder(runner, classroom, db):
    trainee = classroom.issued("lp-2026-009")
    result = runner.invoke(args=["vouchers", "revoke", trainee.number.lower(), "--reason",
                                 "身份信息不符", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert trainee.number in result.output
    assert voucher(db, trainee).status is VoucherStatus.REVOKED
    person = db.scalar(select(Person).where(Person.openid == trainee.openid))
    [notice] = db.scalars(select(Outbox).where(Outbox.person_id == person.id,
                                               Outbox.notice == "voucher_revoked")).all()
    assert notice.params["reason"] == "身份信息不符"


def test_revoking_an_unknown_or_completed_voucher_is_refused(runner, classroom, db):
    unknown = runner.invoke(args=["vouchers", "revoke", "PX2026999999", "--reason", "x",
                                  "--lang", "en"])
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "No voucher has the number PX2026999999."

    trainee = classroom.completed("lp-2026-001", certificate_no="ZS-051")
    late = runner.invoke(args=["vouchers", "revoke", trainee.number, "--reason", "x",
                               "--lang", "en"])
    assert late.exit_code == 1
    assert late.output.strip() == (f"Voucher {trainee.number} is completed: only a voucher not "
                                   "yet completed can be revoked.")
    assert voucher(db, trainee).status is VoucherStatus.COMPLETED

    blank = runner.invoke(args=["vouchers", "revoke", trainee.number, "--reason", " "])
    assert blank.exit_code == 1


# --- inviting staff ------------------------------------------------------------------------

def test_the_staff_invite_prints_a_qr_for_a_one_time_scene(runner, fake_wechat, tmp_path,
                                                          sessions, clock, db):
    scene, _, _ = invitation_by_command(runner, fake_wechat, tmp_path / "staff.svg",
                                        "staff", "invite", "--institution", "lp-xinyuan")
    assert scene.startswith("staff:")

    with sessions.begin() as session:
        person = meet(session, openid="o-new-staff", now=clock.now())
        member = bind_by_invitation(session, role=StaffMember, person_id=person.id,
                                    token=scene.removeprefix("staff:"), now=clock.now())
    assert db.get_one(StaffMember, member.id).institution.code == "lp-xinyuan"


def test_a_staff_invite_for_an_unknown_institution_is_refused(runner, fake_wechat):
    result = runner.invoke(args=["staff", "invite", "--institution", "lp-nowhere",
                                 "--lang", "en"])
    assert result.exit_code == 1
    assert result.output.strip() == "No institution has the code “lp-nowhere”."
    assert fake_wechat.state.qrcodes == []

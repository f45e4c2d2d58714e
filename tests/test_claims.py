"""Claims of ended classes: working days by the State Council's calendar, the amounts per
trainee from certificates and attendance, one claim per class, the follow-up of due and
payment dates, the sheet and the commands."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models.attendance import mark_by_hand, open_session
from models.audit import AuditEntry, Channel
from models.catalogue import CertificateKind, ClassSession, Course, session_bounds
from models.claims import (
    Claim,
    ClaimLine,
    ClaimNotAllowed,
    LineNote,
    classes_to_claim,
    make_claim,
    mark_paid,
    overdue_claims,
)
from models.clock import LOCAL_TZ
from models.policy import settlement_rates
from models.vouchers import Voucher
from models.workdays import add_working_days, work_calendar, working_days_between
from tests.factories import Trainee

# lp-2026-006 (lp-pes, free, 专项职业能力): 10 class days from 28 Nov 2026, the last on Mon 7 Dec.
COURSE = "lp-2026-006"
ENDS_ON = date(2026, 12, 7)
DUE_BY = date(2026, 12, 21)  # 10 working days after Mon 7 Dec: two weeks later
CLAIMED_ON = date(2026, 12, 8)
PAY_BY = date(2026, 12, 22)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


# --- working days ----------------------------------------------------------------------------

def test_working_days_skip_the_weekend():
    calendar = work_calendar()
    friday = date(2026, 11, 27)
    assert add_working_days(friday, 1, calendar) == date(2026, 11, 30)  # Monday
    assert add_working_days(friday, 10, calendar) == date(2026, 12, 11)
    assert working_days_between(friday, date(2026, 11, 30), calendar) == 1
    assert working_days_between(friday, date(2026, 11, 29), calendar) == 0


@pytest.mark.parametrize(("before", "first", "make_up"), [
    # 2025: 1–8 Oct off, Sat 11 Oct worked; 2026: 1–7 Oct off, Sat 10 Oct worked.
    (date(2025, 9, 30), date(2025, 10, 9), date(2025, 10, 11)),
    (date(2026, 9, 30), date(2026, 10, 8), date(2026, 10, 10)),
])
def test_working_days_skip_national_day_and_count_its_make_up_saturday(before, first, make_up):
    calendar = work_calendar()
    assert add_working_days(before, 1, calendar) == first
    assert add_working_days(first, 2, calendar) == make_up
    assert make_up.weekday() == 5
    assert working_days_between(before, make_up, calendar) == 3
    # The make-up Sunday before the holiday is worked too (2025: 28 Sep; 2026: 20 Sep).
    assert calendar.is_working_day(date(before.year, 9, 28 if before.year == 2025 else 20))


# --- a class to claim ------------------------------------------------------------------------

def completed(classroom, course_code: str = COURSE, *, certificate_no: str | None,
              name: str = "张三", days_present: int | None = None,
              is_verified: bool = False) -> Trainee:
    """Enrolled, present every session of the first ``days_present`` class days (all, by
    default; 结业 needs 90% of the hours, 9 of lp-2026-006's 10 days) and marked absent by hand
    the day after, then completed; a verified group set directly, as fixture setup."""
    trainee = classroom.enrol(course_code, name)
    staff = classroom.staff_of("lp-pes")
    if days_present is not None:  # a day marked absent does not count
        course = classroom.course(course_code)
        days = classroom.run(lambda s: s.scalars(select(ClassSession.day).where(
            ClassSession.course_id == course.id).distinct().order_by(ClassSession.day)).all())
        absent = classroom.run(lambda s: s.scalar(select(ClassSession).where(
            ClassSession.course_id == course.id,
            ClassSession.day == days[days_present]).order_by(ClassSession.starts).limit(1)))
        # Staff open that session (开课) and mark the trainee absent in it.
        classroom.run(open_session, staff_openid=staff, now=session_bounds(absent)[0],
                      course_code=course_code)
        classroom.run(mark_by_hand, staff_openid=staff, voucher_number=trainee.number,
                      is_present=False, reason="病假", channel=Channel.WECHAT,
                      now=session_bounds(absent)[0])
    classroom.complete(trainee, certificate_no, days=days_present)
    if is_verified:
        classroom.verify(trainee)
    return trainee


def lines_by_voucher(db, claim: Claim) -> dict[int, ClaimLine]:
    db.expire_all()
    return {line.voucher_id: line for line in db.scalars(
        select(ClaimLine).where(ClaimLine.claim_id == claim.id))}


def test_a_claim_pays_certificates_and_allowances_by_days_attended(classroom, db, clock):
    verified = completed(classroom, certificate_no="ZX-101", days_present=9, is_verified=True)
    unverified = completed(classroom, certificate_no="ZX-102")
    failed = completed(classroom, certificate_no=None, days_present=9, is_verified=True)
    clock.set(local(2026, 12, 8, 10, 0))

    claim = classroom.run(make_claim, course_code=COURSE, now=clock.now())

    assert claim.number == f"CL2026{claim.id:06d}"
    assert (claim.class_ended_on, claim.due_by, claim.pay_by) == (ENDS_ON, DUE_BY, PAY_BY)
    assert claim.paid_at is None and not claim.is_late
    rate = settlement_rates().by_kind[CertificateKind.SPECIAL_ABILITY]
    # 2 of 3 certified: a pass rate of 66.67%, which the demo bands pay at 90% (QJ2020 五(二)).
    assert (claim.pass_rate, claim.pass_share) == (Decimal("0.6667"), Decimal("0.9"))
    lines = lines_by_voucher(db, claim)
    mine = lines[verified.voucher_id]
    assert (mine.training_yuan, mine.appraisal_yuan) == (rate.training_yuan * Decimal("0.9"),
                                                         rate.appraisal_yuan)
    assert (mine.days_attended, mine.living_yuan, mine.transport_yuan) == (9, 540, 180)
    assert mine.note is None
    theirs = lines[unverified.voucher_id]
    assert theirs.training_yuan == mine.training_yuan and theirs.days_attended == 10
    assert (theirs.living_yuan, theirs.transport_yuan) == (0, 0)
    assert theirs.note == LineNote.GROUP_NOT_VERIFIED
    no_certificate = lines[failed.voucher_id]
    assert (no_certificate.training_yuan, no_certificate.appraisal_yuan) == (0, 0)
    assert (no_certificate.living_yuan, no_certificate.transport_yuan) == (540, 180)
    assert claim.total_yuan == sum(line.total_yuan for line in lines.values())
    entry = db.scalar(select(AuditEntry).where(AuditEntry.target_type == "claims",
                                               AuditEntry.target_id == claim.id))
    assert entry.action == "claim.create" and entry.after["lines"] == 3


def test_a_class_is_claimed_once_naming_the_first_claim(classroom, db, clock):
    completed(classroom, certificate_no="ZX-201")
    clock.set(local(2026, 12, 8, 10, 0))
    first = classroom.run(make_claim, course_code=COURSE, now=clock.now())

    with pytest.raises(ClaimNotAllowed) as refused:
        classroom.run(make_claim, course_code=COURSE, now=clock.now())
    assert refused.value.code == "claim_not_allowed"
    assert refused.value.data["reason"] == "already_claimed"
    assert refused.value.data["reference"] == first.number
    assert db.scalar(select(func.count(Claim.id)).where(Claim.course_id == first.course_id)) == 1


def test_a_class_not_ended_is_not_claimed(classroom, clock):
    completed(classroom, certificate_no="ZX-301")
    clock.set(local(2026, 12, 7, 18, 0))  # the last class day
    with pytest.raises(ClaimNotAllowed) as refused:
        classroom.run(make_claim, course_code=COURSE, now=clock.now())
    assert refused.value.data["reason"] == "class_not_ended"


def test_a_class_without_completed_vouchers_has_nothing_to_claim(classroom, clock):
    clock.set(local(2026, 12, 8, 10, 0))
    with pytest.raises(ClaimNotAllowed) as refused:
        classroom.run(make_claim, course_code=COURSE, now=clock.now())
    assert refused.value.data["reason"] == "nothing_to_claim"


def test_classes_to_claim_and_claims_overdue_follow_the_dates(classroom, clock):
    completed(classroom, certificate_no="ZX-401")
    [waiting] = [c for c in classroom.run(classes_to_claim, today=date(2026, 12, 8))
                 if c.course.code == COURSE]
    assert (waiting.due_by, waiting.is_overdue) == (DUE_BY, False)
    [late] = [c for c in classroom.run(classes_to_claim, today=date(2026, 12, 22))
              if c.course.code == COURSE]
    assert late.is_overdue

    clock.set(local(2026, 12, 8, 10, 0))
    claim = classroom.run(make_claim, course_code=COURSE, now=clock.now())
    assert COURSE not in [c.course.code for c in classroom.run(classes_to_claim,
                                                          today=date(2026, 12, 9))]
    assert claim.id not in [c.id for c in classroom.run(overdue_claims, today=PAY_BY)]
    clock.set(local(2026, 12, 23, 9, 0))  # past the payment date, unpaid
    assert claim.id in [c.id for c in classroom.run(overdue_claims, today=clock.today())]

    classroom.run(mark_paid, number=claim.number, now=clock.now())
    assert claim.id not in [c.id for c in classroom.run(overdue_claims, today=clock.today())]
    with pytest.raises(ClaimNotAllowed) as again:
        classroom.run(mark_paid, number=claim.number, now=clock.now())
    assert again.value.data["reason"] == "already_paid"


# --- the sheet and the commands ----------------------------------------------------------------

def cells(path: Path) -> list[list[object]]:
    return [list(row) for row in load_workbook(path).active.iter_rows(values_only=True)]


def test_claims_make_writes_the_sheet_and_refuses_a_second_claim(runner, classroom, db, clock,
                                                                 tmp_path):
    verified = completed(classroom, certificate_no="ZX-501", days_present=9, is_verified=True,
                              name="李秀英")
    unverified = completed(classroom, certificate_no="ZX-502", name="王芳")
    early = runner.invoke(args=["claims", "make", "--course", COURSE, "--out",
                                str(tmp_path / "early.xlsx"), "--lang", "en"])
    assert early.exit_code == 1 and "can be claimed from the day after" in early.output
    assert not (tmp_path / "early.xlsx").exists()

    clock.set(local(2026, 12, 8, 10, 0))
    out = tmp_path / "claim.xlsx"
    result = runner.invoke(args=["claims", "make", "--course", COURSE, "--out", str(out),
                                 "--lang", "en"])
    assert result.exit_code == 0, result.output
    claim = db.scalar(select(Claim).join(Claim.course).where(Course.code == COURSE))
    assert claim.number in result.output and "2 trainees" in result.output

    sheet = cells(out)
    assert claim.number in sheet[0][0]
    assert sheet[3][:5] == ["No.", "Voucher no.", "Name", "ID number (masked)", "Days attended"]
    rows = sheet[4:6]
    numbers = {v.id: v.number for v in db.scalars(select(Voucher).where(
        Voucher.id.in_([verified.voucher_id, unverified.voucher_id])))}
    assert [r[1] for r in rows] == [numbers[verified.voucher_id], numbers[unverified.voucher_id]]
    assert [r[2] for r in rows] == ["李秀英", "王芳"]
    assert all("*" in r[3] for r in rows)
    assert [r[4] for r in rows] == [9, 10]
    assert [Decimal(str(r[7])) for r in rows] == [540, 0]
    assert [Decimal(str(r[8])) for r in rows] == [180, 0]
    assert rows[1][10] == "group not verified: no allowance"
    assert Decimal(str(sheet[6][9])) == claim.total_yuan  # the total row
    assert any(row[0] and str(row[0]).startswith("Prepared by:") for row in sheet)
    everything = " ".join(str(value) for row in sheet for value in row if value is not None)
    assert verified.id_number not in everything and unverified.id_number not in everything

    again = runner.invoke(args=["claims", "make", "--course", COURSE, "--out",
                                str(tmp_path / "again.xlsx"), "--lang", "en"])
    assert again.exit_code == 1
    assert claim.number in again.output and "Already claimed" in again.output
    assert not (tmp_path / "again.xlsx").exists()
    unknown = runner.invoke(args=["claims", "make", "--course", "lp-nope", "--out",
                                  str(tmp_path / "x.xlsx")])
    assert unknown.exit_code == 1


def test_claims_overdue_and_paid_commands(runner, classroom, db, clock, tmp_path):
    completed(classroom, certificate_no="ZX-601")
    clock.set(local(2026, 12, 22, 9, 0))  # past the due date, not claimed
    waiting = runner.invoke(args=["claims", "overdue", "--lang", "en"])
    assert waiting.exit_code == 0, waiting.output
    assert COURSE in waiting.output and "past its due date" in waiting.output

    made = runner.invoke(args=["claims", "make", "--course", COURSE, "--out",
                               str(tmp_path / "c.xlsx"), "--lang", "en"])
    assert made.exit_code == 0 and "claimed after its due date" in made.output
    claim = db.scalar(select(Claim).join(Claim.course).where(Course.code == COURSE))
    clock.set(local(2027, 1, 20, 9, 0))
    overdue = runner.invoke(args=["claims", "overdue", "--lang", "en"])
    assert claim.number in overdue.output and "not paid" in overdue.output

    paid = runner.invoke(args=["claims", "paid", claim.number, "--lang", "en"])
    assert paid.exit_code == 0, paid.output
    assert claim.number not in runner.invoke(args=["claims", "overdue", "--lang", "en"]).output
    assert runner.invoke(args=["claims", "paid", claim.number]).exit_code == 1
    assert runner.invoke(args=["claims", "paid", "CL2026999999"]).exit_code == 1


def test_local_time_of_the_claim_decides_its_day(classroom, clock):
    completed(classroom, certificate_no="ZX-701")
    clock.set(datetime.combine(date(2026, 12, 8), time(0, 30), tzinfo=LOCAL_TZ))  # 7 Dec UTC
    claim = classroom.run(make_claim, course_code=COURSE, now=clock.now())
    assert claim.claimed_on == CLAIMED_ON and claim.pay_by == PAY_BY


def test_a_voucher_in_a_claim_is_not_settled_again(classroom, db, clock):
    from models.settlement import settle

    completed(classroom, certificate_no="ZX-901")
    clock.set(local(2026, 12, 8, 10, 0))
    classroom.run(make_claim, course_code=COURSE, now=clock.now())
    result = classroom.run(settle, institution_code="lp-pes", period_start=date(2026, 11, 1),
                      period_end=date(2026, 12, 31), now=clock.now())
    assert result.rows == [] and result.settlement_id is None

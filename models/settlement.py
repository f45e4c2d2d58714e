"""Settlement (凭券结算: the county's rule settle_by_voucher, on the model of DX2020 三(一)): the
bureau pays an institution for the vouchers it completed in a period, at the county's rates by
certificate kind and level (QJ2020 五(二), read by models.policy); each voucher is settled once,
in one run, never again; and a person's occupation at one level is paid once (QJ2019 (十六)),
whichever name the level goes by."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, contains_eager, joinedload

from models.audit import Channel, audit
from models.catalogue import CertificateKind, Course, Institution
from models.claims import ClaimLine, paid_already
from models.clock import LOCAL_TZ
from models.errors import NotFound, SettlementRefused
from models.policy import Rate, Rates, settlement_rates
from models.vouchers import Settlement, Voucher, VoucherStatus

logger = logging.getLogger(__name__)

# "同一职业同一等级不可重复享受": a second certificate of the same occupation and level earns
# no training subsidy, in a settlement run or in a class's claim.
QJ2019_ONCE = "曲政办发〔2019〕112号 (十六)"


# --- a settlement run ----------------------------------------------------------------------

@dataclass(frozen=True)
class SettlementRow:
    voucher_number: str
    trainee_name: str
    trainee_id_masked: str
    course_code: str
    course_name: str
    course_name_en: str
    course_hours: int  # the course's planned hours; attendance is not recorded yet
    certificate_kind: CertificateKind
    certificate_level: str | None
    is_certified: bool
    certificate_no: str | None
    training_yuan: Decimal
    appraisal_yuan: Decimal
    # The voucher that was paid for the same occupation and level already: this one pays 0.
    paid_with: str | None = None

    @property
    def amount_yuan(self) -> Decimal:
        return self.training_yuan + self.appraisal_yuan

    def course_display_name(self, locale: str) -> str:
        return self.course_name_en if locale.startswith("en") else self.course_name


@dataclass(frozen=True)
class SettlementResult:
    """One run. Nothing to settle gives no rows and no Settlement (``settlement_id`` None)."""

    settlement_id: int | None
    institution_code: str
    institution_name: str
    institution_name_en: str
    period_start: date
    period_end: date
    created_at: datetime
    rows: list[SettlementRow]
    is_demo_rates: bool

    @property
    def voucher_count(self) -> int:
        return len(self.rows)

    @property
    def total_yuan(self) -> Decimal:
        return sum((row.amount_yuan for row in self.rows), Decimal(0))

    def institution_display_name(self, locale: str) -> str:
        return self.institution_name_en if locale.startswith("en") else self.institution_name


def settle(db: Session, *, institution_code: str, period_start: date, period_end: date,
           now: datetime, actor_id: int | None = None,
           channel: Channel = Channel.CLI) -> SettlementResult:
    """Settle the institution's completed vouchers whose completion falls on a local day of the
    period (both ends included), in the caller's one transaction: one Settlement row, every
    voucher SETTLED with an audit row. An empty run changes nothing and creates no row."""
    if period_end < period_start:
        raise SettlementRefused(reason="period_reversed", start=period_start.isoformat(),
                                end=period_end.isoformat())
    institution = db.scalar(select(Institution).where(Institution.code == institution_code))
    if institution is None:
        raise NotFound(kind="institution", institution=institution_code)
    vouchers = _due(db, institution_id=institution.id, period_start=period_start,
                    period_end=period_end)
    rates = settlement_rates()
    paid = paid_already(db, vouchers)
    rows = [_row(voucher, rates, paid.get(voucher.id)) for voucher in vouchers]
    result = SettlementResult(
        settlement_id=None, institution_code=institution.code, institution_name=institution.name,
        institution_name_en=institution.name_en, period_start=period_start,
        period_end=period_end, created_at=now, rows=rows, is_demo_rates=rates.is_demo)
    if not rows:
        return result
    settlement = Settlement(institution_id=institution.id, period_start=period_start,
                            period_end=period_end, created_at=now, voucher_count=len(rows),
                            total_yuan=result.total_yuan)
    db.add(settlement)
    db.flush()
    # The rows are locked; the condition on the status is the same promise where they are not.
    changed = db.execute(
        update(Voucher).where(Voucher.id.in_([v.id for v in vouchers]),
                              Voucher.status == VoucherStatus.COMPLETED,
                              Voucher.settlement_id.is_(None))
        .values(status=VoucherStatus.SETTLED, settled_at=now, settlement_id=settlement.id)
        .execution_options(synchronize_session="fetch")).rowcount
    if changed != len(vouchers):
        raise SettlementRefused(reason="changed_meanwhile")
    for voucher, row in zip(vouchers, rows, strict=True):
        audit(db, actor_id=actor_id, channel=channel, action="voucher.settle", target=voucher,
              before={"status": VoucherStatus.COMPLETED.value},
              after={"status": VoucherStatus.SETTLED.value, "settlement_id": settlement.id,
                     "amount_yuan": str(row.amount_yuan)}, at=now)
    audit(db, actor_id=actor_id, channel=channel, action="settlement.create", target=settlement,
          after={"institution": institution.code, "period_start": period_start.isoformat(),
                 "period_end": period_end.isoformat(), "voucher_count": len(rows),
                 "total_yuan": str(result.total_yuan)}, at=now)
    logger.info("settlement %s: institution %s, %s vouchers", settlement.id, institution.id,
                len(rows))
    return replace(result, settlement_id=settlement.id)


def _due(db: Session, *, institution_id: int, period_start: date,
         period_end: date) -> list[Voucher]:
    """The vouchers to settle, locked: a second clerk settling at once waits, then finds them
    settled and leaves them out."""
    starts = datetime.combine(period_start, time.min, tzinfo=LOCAL_TZ)
    ends = datetime.combine(period_end + timedelta(days=1), time.min, tzinfo=LOCAL_TZ)
    return list(db.scalars(
        select(Voucher).join(Voucher.course)
        .where(Course.institution_id == institution_id,
               Voucher.status == VoucherStatus.COMPLETED, Voucher.settlement_id.is_(None),
               # A voucher whose training subsidy went into a class's claim is paid already.
               Voucher.id.not_in(select(ClaimLine.voucher_id)),
               Voucher.completed_at >= starts, Voucher.completed_at < ends)
        .options(contains_eager(Voucher.course), joinedload(Voucher.person))
        .order_by(Voucher.completed_at, Voucher.id)
        .with_for_update(of=Voucher)).unique())


def _row(voucher: Voucher, rates: Rates, paid_with: str | None = None) -> SettlementRow:
    course, person = voucher.course, voucher.person
    is_certified = bool(voucher.certified)
    rate = rates.rate_for(kind=course.certificate_kind, level=course.certificate_level,
                          is_certified=is_certified)
    if paid_with is not None:
        rate = Rate(training_yuan=Decimal(0), appraisal_yuan=Decimal(0), source=QJ2019_ONCE)
    if rate is None:
        raise SettlementRefused(reason="no_rate", number=voucher.number,
                                certificate_kind=course.certificate_kind.value,
                                level=course.certificate_level or "")
    return SettlementRow(
        voucher_number=voucher.number, trainee_name=person.name or "",
        trainee_id_masked=person.id_masked or "", course_code=course.code,
        course_name=course.name, course_name_en=course.name_en, course_hours=course.hours,
        certificate_kind=course.certificate_kind, certificate_level=course.certificate_level,
        is_certified=is_certified, certificate_no=voucher.certificate_no,
        training_yuan=rate.training_yuan, appraisal_yuan=rate.appraisal_yuan,
        paid_with=paid_with)

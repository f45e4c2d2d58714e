"""Settlement (凭券结算: the county's rule settle_by_voucher, on the model of DX2020 三(一)): the
bureau pays an institution for the vouchers it completed in a period, at the county's rates by
certificate kind and level (QJ2020 五(二)); each voucher is settled once, in one run, never
again."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session, contains_eager, joinedload

from models.audit import Channel, audit
from models.catalogue import CertificateKind, Course, Institution
from models.clock import LOCAL_TZ
from models.errors import NotFound, SettlementRefused
from models.vouchers import Settlement, Voucher, VoucherStatus

logger = logging.getLogger(__name__)

POLICY_FILE = Path(__file__).resolve().parent / "data" / "policy.yaml"




# --- the county's rates --------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    training_yuan: Decimal
    appraisal_yuan: Decimal
    source: str

    @property
    def total_yuan(self) -> Decimal:
        return self.training_yuan + self.appraisal_yuan


@dataclass(frozen=True)
class Rates:
    """``settlement_rates`` of models/data/policy.yaml, checked against the policy's range."""

    by_kind: dict[CertificateKind, Rate]
    by_level: dict[str, Rate]  # skill-level certificates, by level and each alias
    no_certificate: Rate
    is_demo: bool

    def rate_for(self, *, kind: CertificateKind, level: str | None,
                 is_certified: bool) -> Rate | None:
        """The rate of one voucher; None when the data names none for its certificate."""
        if not is_certified:
            return self.no_certificate
        if kind is CertificateKind.SKILL_LEVEL:
            return self.by_level.get((level or "").strip())
        return self.by_kind.get(kind)


@cache
def settlement_rates() -> Rates:
    """Read once per process; a file outside the policy's range stops here, loudly."""
    with POLICY_FILE.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)["settlement_rates"]
    return parse_rates(data)


def parse_rates(data: dict[str, Any]) -> Rates:
    bounds = data["range_yuan"]
    low, high, appraisal_max = (Decimal(str(bounds[k])) for k in ("min", "max", "appraisal_max"))
    by_kind: dict[CertificateKind, Rate] = {}
    by_level: dict[str, Rate] = {}
    for rule in data["rules"]:
        rate = _rate(rule)
        if not (low <= rate.training_yuan <= high and 0 <= rate.appraisal_yuan <= appraisal_max):
            raise ValueError(f"settlement rate outside the policy's range: {rule}")
        kind = CertificateKind(rule["certificate_kind"])
        if kind is CertificateKind.SKILL_LEVEL:
            for name in [rule["level"], *rule.get("aliases", [])]:
                if name in by_level:
                    raise ValueError(f"skill level {name} has two settlement rates")
                by_level[name] = rate
        elif kind in by_kind:
            raise ValueError(f"certificate kind {kind} has two settlement rates")
        else:
            by_kind[kind] = rate
    missing = set(CertificateKind) - set(by_kind) - {CertificateKind.SKILL_LEVEL}
    if missing or not by_level:
        raise ValueError(f"no settlement rate for {sorted(missing) or 'skill levels'}")
    return Rates(by_kind=by_kind, by_level=by_level, no_certificate=_rate(data["no_certificate"]),
                 is_demo=bool(data.get("is_demo")))


def _rate(rule: dict[str, Any]) -> Rate:
    return Rate(training_yuan=Decimal(str(rule["training_yuan"])),
                appraisal_yuan=Decimal(str(rule["appraisal_yuan"])), source=str(rule["source"]))


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
    rows = [_row(voucher, rates) for voucher in vouchers]
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
    # models.claims prices its lines from this module's rates, hence the late import.
    from models.claims import ClaimLine

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


def _row(voucher: Voucher, rates: Rates) -> SettlementRow:
    course, person = voucher.course, voucher.person
    is_certified = bool(voucher.certified)
    rate = rates.rate_for(kind=course.certificate_kind, level=course.certificate_level,
                          is_certified=is_certified)
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
        training_yuan=rate.training_yuan, appraisal_yuan=rate.appraisal_yuan)

"""结业: completing a voucher needs the course's share of hours attended (DX2020 三(六); the
course's completion_share, 90% by default); then the certificate, or its absence, is recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from models.attendance import check_attendance_for_completion
from models.audit import Channel
from models.vouchers import Voucher, VoucherStatus, complete_voucher, staff_voucher


def complete(db: Session, *, staff_openid: str, number: str, certificate_no: str | None,
             now: datetime, channel: Channel) -> Voucher:
    voucher, _ = staff_voucher(db, staff_openid=staff_openid, number=number)
    if voucher.status is VoucherStatus.REDEEMED:
        check_attendance_for_completion(db, voucher=voucher, now=now)
    return complete_voucher(db, staff_openid=staff_openid, number=number,
                            certificate_no=certificate_no, now=now, channel=channel)

"""结业: completing a voucher needs the course's share of hours attended (the county's rule
completion_share, on the model of DX2020 三(六); the course's completion_share, 90% by
default); then the certificate, or its absence, is recorded.
This is the only way a voucher is completed."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from models.attendance import check_attendance_for_completion
from models.audit import Channel, audit
from models.errors import VoucherStateWrong
from models.outbox import enqueue
from models.vouchers import Voucher, VoucherStatus, staff_voucher

logger = logging.getLogger(__name__)


def complete(db: Session, *, staff_openid: str, number: str, certificate_no: str | None,
             now: datetime, channel: Channel) -> Voucher:
    """The course's certificate with its number, or, without a number, a failed appraisal."""
    voucher, staff_person_id = staff_voucher(db, staff_openid=staff_openid, number=number)
    if voucher.status is not VoucherStatus.REDEEMED:
        raise VoucherStateWrong(status=voucher.status.value)
    check_attendance_for_completion(db, voucher=voucher, now=now)
    voucher.status, voucher.completed_at, voucher.completed_by_id = (
        VoucherStatus.COMPLETED, now, staff_person_id)
    voucher.certified = bool(certificate_no)
    voucher.certificate_no = certificate_no[:40] if certificate_no else None
    audit(db, actor_id=staff_person_id, channel=channel, action="voucher.complete",
          target=voucher, before={"status": "redeemed"},
          after={"status": "completed", "certified": voucher.certified,
                 "certificate_no": voucher.certificate_no}, at=now)
    enqueue(db, person=voucher.person, reason=f"voucher.completed:{voucher.id}", now=now,
            notice="voucher_completed" if voucher.certified else "voucher_failed",
            params={"course": voucher.course.name, "course_en": voucher.course.name_en,
                    "certificate_no": voucher.certificate_no or ""})
    return voucher

"""The desk's outbox page: how many messages wait, are being sent, went out, failed or are
uncertain (an attempt cut off: its worker died during the call, or WeChat did not answer), and
the failed and uncertain ones with why. The bureau's administrators and inspectors read it;
institutions have no business here. Nothing personal: the person by number, never the
message's words or openid."""

from __future__ import annotations

import logging

from locales import N_
from models.desk import DeskRole
from models.outbox import OutboxStatus, outbox_overview
from runtime.services import current
from webhooks.admin.auth import desk_page, require_role
from webhooks.admin.blueprint import bp

logger = logging.getLogger(__name__)

STATUS_WORDS = {
    OutboxStatus.PENDING: N_("Waiting"),
    OutboxStatus.SENDING: N_("Being sent"),
    OutboxStatus.SENT: N_("Sent"),
    OutboxStatus.FAILED: N_("Failed"),
    OutboxStatus.UNCERTAIN: N_("Uncertain, not sent again"),
}
# What a message is about, by the name of its reason (models.outbox.Outbox.reason).
KIND_WORDS = {
    "voucher.redeemed": N_("Voucher used for enrolment"),
    "voucher.revoked": N_("Voucher revoked"),
    "voucher.expired": N_("Voucher expired"),
    "voucher.expiring": N_("Voucher about to expire"),
    "group.decided": N_("Group status decided"),
    "job.push": N_("Job opening"),
    "followup": N_("Follow-up question"),
}


@bp.get("/outbox")
@require_role(DeskRole.ADMIN, DeskRole.INSPECTOR)
def outbox():
    services = current()
    with services.sessions.begin() as db:
        overview = outbox_overview(db, now=services.clock.now())
    return desk_page("admin/outbox.html", overview=overview, statuses=list(OutboxStatus),
                     status_words=STATUS_WORDS, kind_words=KIND_WORDS)

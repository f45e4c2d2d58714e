"""Names of the domain's values, in the person's language."""

from __future__ import annotations

from locales import N_
from models.catalogue import Intent as WorkIntent
from models.persons import Group, GroupStatus
from models.vouchers import VoucherStatus

INTENTS = {
    WorkIntent.LOCAL: N_("near home (in the county)"),
    WorkIntent.PROVINCE: N_("elsewhere in Yunnan"),
    WorkIntent.OUTSIDE: N_("outside Yunnan"),
}
INTENT_ORDER = (WorkIntent.LOCAL, WorkIntent.PROVINCE, WorkIntent.OUTSIDE)

GROUPS = {
    Group.POVERTY_ALLEVIATED: N_("lifted out of poverty (脱贫劳动力)"),
    Group.EMPLOYMENT_DIFFICULTY: N_("with difficulty finding work (就业困难人员)"),
    Group.TWO_AFTER: N_("school leaver not in further study (两后生)"),
    Group.DISABLED: N_("person with a disability"),
    Group.VETERAN: N_("veteran"),
    Group.RELOCATED: N_("relocated for poverty alleviation (易地搬迁)"),
    Group.UNEMPLOYED: N_("unemployed"),
}
GROUP_ORDER = tuple(GROUPS)

GROUP_STATUSES = {
    GroupStatus.SELF_DECLARED: N_("declared by yourself, to be verified"),
    GroupStatus.VERIFIED: N_("verified"),
    GroupStatus.REJECTED: N_("not confirmed"),
}

VOUCHER_STATUSES = {
    VoucherStatus.ISSUED: N_("to enrol"),
    VoucherStatus.REDEEMED: N_("enrolled"),
    VoucherStatus.COMPLETED: N_("completed"),
    VoucherStatus.SETTLED: N_("completed"),
    VoucherStatus.CANCELLED: N_("cancelled"),
    VoucherStatus.EXPIRED: N_("expired"),
    VoucherStatus.REVOKED: N_("revoked"),
}

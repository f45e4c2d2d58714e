"""Names of the domain's values (groups, households, places, voucher statuses, certificates,
skill levels), one table each, for every channel."""

from __future__ import annotations

import logging

from locales import N_
from models.catalogue import CertificateKind
from models.catalogue import Intent as WorkIntent
from models.persons import Group, GroupStatus, HouseholdKind
from models.places import PlaceRole
from models.vouchers import VoucherStatus

logger = logging.getLogger(__name__)

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
    Group.RURAL_TRANSFER: N_("rural worker moving into other work (农村转移就业劳动力)"),
    Group.JOB_TRANSFER: N_("worker moving to another post (转岗职工)"),
}
GROUP_ORDER = tuple(GROUPS)  # new groups go last: digits people learnt keep their meaning

HOUSEHOLD_KINDS = {
    HouseholdKind.RURAL: N_("rural household (农村户口)"),
    HouseholdKind.URBAN: N_("urban household (城镇户口)"),
    None: N_("not known yet"),
}
HOUSEHOLD_KIND_ORDER = (HouseholdKind.RURAL, HouseholdKind.URBAN, None)

PLACE_ROLES = {
    PlaceRole.HOUSEHOLD: N_("household registration"),
    PlaceRole.RESIDENCE: N_("place of residence"),
    PlaceRole.JOB_SEEKING: N_("place of job seeking"),
}

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
# The voucher card's headline (webhooks/pages.py): the same statuses, said to the holder.
VOUCHER_CARD_STATUSES = {
    VoucherStatus.ISSUED: N_("Show this code at the institution to enrol"),
    VoucherStatus.REDEEMED: N_("Enrolled"),
    VoucherStatus.COMPLETED: N_("Completed"),
    VoucherStatus.SETTLED: N_("Completed"),
    VoucherStatus.CANCELLED: N_("Cancelled"),
    VoucherStatus.EXPIRED: N_("Expired"),
    VoucherStatus.REVOKED: N_("Revoked by the bureau"),
}

CERTIFICATES = {
    CertificateKind.QUALIFICATION: N_("vocational qualification certificate"),
    CertificateKind.SKILL_LEVEL: N_("skill-level certificate"),
    CertificateKind.SPECIAL_ABILITY: N_("special vocational ability certificate"),
    CertificateKind.SPECIAL_OPERATION: N_("special operation certificate"),
    CertificateKind.COMPLETION: N_("training completion certificate"),
}

# Skill levels of 职业技能等级证书, as the catalogue names them (QJ2019 (十六)); a level read
# through models/levels.py (五级 is 初级工) finds its words here.
LEVELS = {
    "初级工": N_("entry level"),
    "中级工": N_("intermediate level"),
    "高级工": N_("advanced level"),
    "技师": N_("technician"),
    "高级技师": N_("senior technician"),
}

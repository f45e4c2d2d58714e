"""Names of the domain's values, in the person's language."""

from __future__ import annotations

from locales import N_
from models.catalogue import CertificateKind
from models.catalogue import Intent as WorkIntent
from models.persons import Group, GroupStatus, HouseholdKind
from models.places import PlaceRole
from models.vouchers import VoucherStatus

CERTIFICATES = {
    CertificateKind.QUALIFICATION: N_("vocational qualification certificate"),
    CertificateKind.SKILL_LEVEL: N_("skill-level certificate"),
    CertificateKind.SPECIAL_ABILITY: N_("special vocational ability certificate"),
    CertificateKind.SPECIAL_OPERATION: N_("special operation certificate"),
    CertificateKind.COMPLETION: N_("training completion certificate"),
}

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

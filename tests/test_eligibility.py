"""Subsidy eligibility, explained: one table of cases, each naming the clause it checks, built
through the domain (registration, published courses) with vouchers and attendance marks as
fixtures; then the policy file's own checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from models.attendance import Attendance, MarkHow
from models.audit import Channel
from models.cadres import Cadre
from models.catalogue import CertificateKind, ClassSession, Course
from models.catalogue import Intent as WorkIntent
from models.clock import LOCAL_TZ
from models.courses import CourseSpec, publish_course
from models.eligibility import Evaluation, Status, evaluate
from models.errors import CourseNotFound, NotRegistered
from models.persons import ConsentHow, Group, GroupStatus, HouseholdKind, Person, meet
from models.pii import Vault
from models.places import ELSEWHERE
from models.policy import (
    POLICY_FILE,
    PolicyFileInvalid,
    eligibility_policy,
    parse_policy,
    settlement_rates,
)
from models.regions import Region, RegionLevel
from models.registration import RegistrationForm, register
from models.vouchers import Voucher, VoucherStatus
from tests.factories import id_number

ON = date(2026, 11, 25)  # the day of conftest's START
VERSION = "luoping-2026.1"
# The edition before it, in force until 2026-10-31: a case of a day before names it.
EARLIER = ("luoping-2021.1", date(2026, 11, 1))
ANY: Any = object()  # an expectation the case does not check
# 以工代训 ran until 2021-12-31 (YN2021 二(四)): its cases of amounts and groups are of a day then.
WORK_TRAINING_RAN = date(2021, 6, 1)
IN_CLASS = (VoucherStatus.REDEEMED, VoucherStatus.COMPLETED, VoucherStatus.SETTLED)

P, E, T = Group.POVERTY_ALLEVIATED, Group.EMPLOYMENT_DIFFICULTY, Group.TWO_AFTER
U, D, V = Group.UNEMPLOYED, Group.DISABLED, Group.VETERAN
R, J = Group.RURAL_TRANSFER, Group.JOB_TRANSFER
RURAL, URBAN = HouseholdKind.RURAL, HouseholdKind.URBAN
OUT = ELSEWHERE  # a residence or place of job seeking outside the county
YES, SELF, NO = GroupStatus.VERIFIED, GroupStatus.SELF_DECLARED, GroupStatus.REJECTED

# The county's demo amounts, read from the policy file itself.
RATE_MIDDLE = settlement_rates().by_level["中级工"].total_yuan
RATE_SPECIAL = settlement_rates().by_kind[CertificateKind.SPECIAL_ABILITY].total_yuan
CADRE_AMOUNT = eligibility_policy().rules_on(ON)["cadre_service_subsidy"].pays.amount


@dataclass(frozen=True)
class CourseShape:
    institution: str
    occupation: str
    kind: CertificateKind
    level: str | None
    fee: int
    first_day: date
    days: int
    procured: bool = False  # bought by public tender (QJ2019 (十七))


COURSES = {
    # 县公共就业和人才服务中心, free, 砌筑工 初级工, from next week
    "pes": CourseShape("lp-pes", "砌筑工", CertificateKind.SKILL_LEVEL, "初级工", 0,
                       date(2026, 12, 2), 15, procured=True),
    # a private school's free course (bought by tender), running since 18 November
    "free_private": CourseShape("lp-xinyuan", "育婴员", CertificateKind.COMPLETION, None, 0,
                                date(2026, 11, 18), 5, procured=True),
    # a private school's free course nobody bought by tender (an employer pays for it)
    "free_untendered": CourseShape("lp-xinyuan", "育婴员", CertificateKind.COMPLETION, None, 0,
                                   date(2026, 11, 18), 5),
    # 900 yuan at the public employment service: self-funded, not its free training
    "pes_with_fee": CourseShape("lp-pes", "电工", CertificateKind.SKILL_LEVEL, "初级工", 900,
                                date(2026, 12, 2), 15),
    # a private school's course with a fee: self-funded
    "self_funded": CourseShape("lp-xinyuan", "电工", CertificateKind.SKILL_LEVEL, "中级工", 1800,
                               date(2026, 12, 7), 15),
    "self_funded_special": CourseShape("lp-zhongzhi", "中式面点", CertificateKind.SPECIAL_ABILITY,
                                       None, 600, date(2026, 10, 12), 5),
}


@dataclass(frozen=True)
class Held:
    """Another voucher the person holds (or held)."""

    year: int
    occupation: str | None = None  # None: an occupation of its own
    level: str | None = None
    status: VoucherStatus = VoucherStatus.COMPLETED


@dataclass(frozen=True)
class Case:
    clause: str
    rule: str
    status: Status | None  # None: the rule is not in the evaluation
    # the person
    born: str = "19900101"
    sex: str = "M"
    groups: tuple[tuple[Group, GroupStatus], ...] = ()
    pension: bool | None = False
    township: str = "luoxiong"  # the household's township; OUT: elsewhere (贵州省盘州市)
    household_kind: HouseholdKind | None = RURAL
    residence: str | None = None  # a township code, OUT, or None (not known)
    job_place: str | None = None
    # the course (None: the general overview) and the person's part in it
    course: str | None = "pes"
    joined: str | None = None  # issued | redeemed | certified | failed
    present_days: int = 0
    held: tuple[Held, ...] = ()
    cadre: tuple[tuple[int, bool], ...] | None = None  # (year, certified) per person mobilized
    on: date = ON
    policy: str | None = None
    # what the outcome must say
    amount: Any = ANY
    amount_range: Any = ANY
    days: Any = ANY
    days_max: Any = ANY
    total: Any = ANY
    total_max: Any = ANY
    count: Any = ANY
    reasons: tuple[str, ...] = ()  # codes that must be among the reasons
    missing: Any = ANY
    qualified_by: str | None = None  # the place the scope's answer names (place_in_region)
    version: str | None = None  # default: the edition in force on `on`


def in_2026(n: int) -> tuple[Held, ...]:
    return tuple(Held(2026) for _ in range(n))


CASES = [
    # --- groups: verified, self-declared, rejected (QJ2020 五(一), QJ2019 (十八)) ---------
    Case("QJ2020 五(一) living allowance: verified 脱贫劳动力 in free training, before class",
         "living_allowance", Status.ELIGIBLE, groups=((P, YES),), amount=Decimal(60), days=None,
         days_max=15, total=None, total_max=Decimal(900),
         reasons=("group_verified", "course_is_free", "days_not_started", "yearly_count",
                  "advanced_by"), missing=()),
    Case("QJ2020 五(一) living allowance: a self-declared 脱贫劳动力 is provisional",
         "living_allowance", Status.PROVISIONAL, groups=((P, SELF),),
         reasons=("group_self_declared",), missing=("verify_group",)),
    Case("QJ2020 五(一) living allowance: a rejected 脱贫劳动力 is not eligible",
         "living_allowance", Status.NOT_ELIGIBLE, groups=((P, NO),), total=None,
         reasons=("group_rejected",), missing=()),
    Case("QJ2020 五(一) living allowance: verified 两后生", "living_allowance", Status.ELIGIBLE,
         groups=((T, YES),), reasons=("group_verified",)),
    Case("QJ2020 五(一) living allowance: self-declared 两后生", "living_allowance",
         Status.PROVISIONAL, groups=((T, SELF),), missing=("verify_group",)),
    Case("QJ2020 五(一) living allowance: verified 就业困难人员", "living_allowance",
         Status.ELIGIBLE, groups=((E, YES),)),
    Case("QJ2020 五(一) living allowance: rejected 就业困难人员", "living_allowance",
         Status.NOT_ELIGIBLE, groups=((E, NO),), reasons=("group_rejected",)),
    Case("QJ2020 五(一) living allowance: a veteran is in none of its groups",
         "living_allowance", Status.NOT_ELIGIBLE, groups=((V, YES),),
         reasons=("not_in_groups",), missing=("declare_group",)),
    Case("QJ2020 五(一) living allowance: a verified group outweighs a rejected one",
         "living_allowance", Status.ELIGIBLE, groups=((T, NO), (P, YES))),
    Case("QJ2019 (四) a verified disabled person counts as 就业困难人员", "living_allowance",
         Status.ELIGIBLE, groups=((D, YES),), reasons=("group_verified",)),
    Case("QJ2020 五(一) transport allowance: 20 yuan a day for a verified 脱贫劳动力",
         "transport_allowance", Status.ELIGIBLE, groups=((P, YES),), amount=Decimal(20),
         total_max=Decimal(300)),
    Case("QJ2020 五(一) transport allowance: self-declared 两后生 provisional",
         "transport_allowance", Status.PROVISIONAL, groups=((T, SELF),),
         missing=("verify_group",)),
    # --- employment difficulty by age: the birthday counts (QJ2019 (四)) -----------------
    Case("QJ2019 (四) unemployed man, the day before his 50th birthday", "living_allowance",
         Status.NOT_ELIGIBLE, born="19761125", groups=((U, YES),), on=date(2026, 11, 24),
         reasons=("not_in_groups", "below_age_threshold")),
    Case("QJ2019 (四) unemployed man, on his 50th birthday", "living_allowance",
         Status.ELIGIBLE, born="19761125", household_kind=URBAN,
         groups=((U, YES),), on=date(2026, 11, 25),
         reasons=("group_verified", "age_threshold_met")),
    Case("QJ2019 (四) unemployed woman, the day before her 40th birthday", "living_allowance",
         Status.NOT_ELIGIBLE, born="19861125", sex="F", groups=((U, YES),),
         on=date(2026, 11, 24), reasons=("below_age_threshold",)),
    Case("QJ2019 (四) unemployed woman, on her 40th birthday", "living_allowance",
         Status.ELIGIBLE, born="19861125", sex="F", household_kind=URBAN,
         groups=((U, YES),), on=date(2026, 11, 25),
         reasons=("age_threshold_met",)),
    Case("QJ2019 (四) an unemployed man of 45: the women's threshold is not his",
         "living_allowance", Status.NOT_ELIGIBLE, born="19810601", groups=((U, YES),),
         household_kind=URBAN),
    # --- the household's kind (QJ2019 (四)(十八), QJ2020 五(一)) ------------------------------
    Case("QJ2019 (四) 大龄城镇失业人员: an unemployed man of 50 with a rural household is not one",
         "living_allowance", Status.NOT_ELIGIBLE, born="19760101", groups=((U, YES),),
         reasons=("not_in_groups", "household_kind_not_met")),
    Case("QJ2019 (四) 大龄城镇失业人员: household kind unknown gives a provisional yes",
         "living_allowance", Status.PROVISIONAL, born="19760101", groups=((U, YES),),
         household_kind=None, reasons=("age_threshold_met", "household_kind_unknown"),
         missing=("household_kind",)),
    Case("QJ2019 (四) a verified 就业困难人员 with a rural household keeps the allowance",
         "living_allowance", Status.ELIGIBLE, groups=((E, YES),), household_kind=RURAL),
    Case("QJ2019 (四) a disabled person counts as 就业困难人员 whatever the household",
         "living_allowance", Status.ELIGIBLE, groups=((D, YES),), household_kind=URBAN),
    Case("QJ2019 (十八) “两后生”中的农村学员: an urban 两后生 gets no living allowance",
         "living_allowance", Status.NOT_ELIGIBLE, groups=((T, YES),), household_kind=URBAN,
         total=None, reasons=("not_in_groups", "household_kind_not_met"),
         missing=("declare_group",)),
    Case("QJ2020 五(一) an urban 两后生 gets no transport allowance either",
         "transport_allowance", Status.NOT_ELIGIBLE, groups=((T, YES),), household_kind=URBAN,
         reasons=("household_kind_not_met",)),
    Case("QJ2019 (十八) a verified rural 两后生: eligible, saying the household counted",
         "living_allowance", Status.ELIGIBLE, groups=((T, YES),), household_kind=RURAL,
         reasons=("group_verified", "household_kind_met"), missing=()),
    Case("QJ2019 (十八) a 两后生 whose household kind is not known: provisional, asking for it",
         "living_allowance", Status.PROVISIONAL, groups=((T, YES),), household_kind=None,
         reasons=("household_kind_unknown",), missing=("household_kind",)),
    Case("QJ2020 五(一) transport allowance: 两后生 of unknown household, provisional",
         "transport_allowance", Status.PROVISIONAL, groups=((T, YES),), household_kind=None,
         missing=("household_kind",)),
    Case("QJ2019 (十八) a self-declared 两后生 of unknown household needs both",
         "living_allowance", Status.PROVISIONAL, groups=((T, SELF),), household_kind=None,
         missing=("verify_group", "household_kind")),
    Case("QJ2019 (十八) 贫困劳动力 have no household condition: urban and verified, eligible",
         "living_allowance", Status.ELIGIBLE, groups=((P, YES),), household_kind=URBAN),
    Case("QJ2019 (十八) an urban 两后生 who is also a verified 脱贫劳动力 gets it as that",
         "living_allowance", Status.ELIGIBLE, groups=((T, YES), (P, YES)),
         household_kind=URBAN, reasons=("group_verified",)),
    Case("QJ2019 (十八) unknown household, also a verified 脱贫劳动力: eligible, nothing asked",
         "living_allowance", Status.ELIGIBLE, groups=((T, YES), (P, YES)), household_kind=None,
         missing=()),
    Case("QJ2019 (十七) free training has no household condition: an urban 两后生 is in",
         "free_targeted_groups", Status.ELIGIBLE, groups=((T, YES),), household_kind=URBAN,
         course="free_private"),
    Case("versioning: before luoping-2026.1 an urban 两后生 still got the living allowance",
         "living_allowance", Status.ELIGIBLE, groups=((T, YES),), household_kind=URBAN,
         on=date(2026, 10, 31)),
    Case("QJ2019 (四) an unemployed man of 50 who only declared it: provisional",
         "living_allowance", Status.PROVISIONAL, born="19760101", household_kind=URBAN,
         groups=((U, SELF),),
         reasons=("group_self_declared", "age_threshold_met"), missing=("verify_group",)),
    Case("QJ2019 (四) born 29 February: not yet 50 on 28 February of a common year",
         "living_allowance", Status.NOT_ELIGIBLE, born="19760229", groups=((U, YES),),
         on=date(2026, 2, 28), course=None, reasons=("below_age_threshold",)),
    Case("QJ2019 (四) born 29 February: 50 on 1 March of a common year", "living_allowance",
         Status.ELIGIBLE, born="19760229", groups=((U, YES),), on=date(2026, 3, 1),
         course=None),
    # --- pension and residence (QJ2019 (十六)) ---------------------------------------------
    Case("QJ2019 (十六) pension excluded", "free_public_training", Status.NOT_ELIGIBLE,
         pension=True, reasons=("draws_pension",)),
    Case("QJ2019 (十六) pension excluded from the living allowance too", "living_allowance",
         Status.NOT_ELIGIBLE, pension=True, groups=((P, YES),), reasons=("draws_pension",)),
    Case("QJ2019 (十六) pension not known yet: provisional", "free_public_training",
         Status.PROVISIONAL, pension=None, reasons=("pension_unknown",),
         missing=("pension_status",)),
    Case("QJ2019 (十六) residence: household township in the county", "free_public_training",
         Status.ELIGIBLE, township="lubuge"),
    Case("QJ2019 (十六) residence: household township in another county",
         "free_public_training", Status.NOT_ELIGIBLE, township="danfeng", residence=OUT,
         job_place=OUT, reasons=("places_outside_region",), missing=("places",)),
    # --- the three places of QJ2019 (十六) ---------------------------------------------------
    Case("QJ2019 (十六) household in the county: the household qualifies",
         "free_public_training", Status.ELIGIBLE, residence=OUT, job_place=OUT,
         reasons=("place_in_region",), qualified_by="household"),
    Case("QJ2019 (十六) household elsewhere, living in 罗雄街道: the residence qualifies",
         "free_public_training", Status.ELIGIBLE, township=OUT, residence="luoxiong",
         job_place=OUT, reasons=("place_in_region",), qualified_by="residence"),
    Case("QJ2019 (十六) household and residence elsewhere, seeking work in 马街镇",
         "free_public_training", Status.ELIGIBLE, township=OUT, residence=OUT,
         job_place="majie", qualified_by="job_seeking"),
    Case("QJ2019 (十六) household in another county, living here: covered by residence",
         "living_allowance", Status.ELIGIBLE, township="danfeng", residence="lubuge",
         job_place=OUT, groups=((P, YES),), qualified_by="residence"),
    Case("QJ2019 (十六) none of the three places in the county: not covered",
         "free_public_training", Status.NOT_ELIGIBLE, township=OUT, residence=OUT,
         job_place=OUT, reasons=("places_outside_region",), missing=("places",)),
    Case("QJ2019 (十六) household elsewhere, other places not known yet: provisional",
         "free_public_training", Status.PROVISIONAL, township=OUT,
         reasons=("places_unknown",), missing=("places",)),
    Case("QJ2019 (十六) the self-funded subsidy follows the same three places",
         "training_subsidy_self_funded", Status.NOT_ELIGIBLE, township=OUT, residence=OUT,
         job_place=OUT, course="self_funded", reasons=("places_outside_region",)),
    Case("QJ2019 (十六) a city-wide rule cannot place a household elsewhere: checked by hand",
         "free_public_training", Status.PROVISIONAL, township=OUT, residence=OUT,
         job_place=OUT, policy="scope_qujing", reasons=("places_to_check",),
         missing=("check_places",)),
    Case("QJ2019 (十六) a city-wide rule: a household in another county of the city qualifies",
         "free_public_training", Status.ELIGIBLE, township="danfeng", residence=OUT,
         job_place=OUT, policy="scope_qujing", qualified_by="household"),
    Case("versioning: before luoping-2026.1 only the household counted",
         "free_public_training", Status.NOT_ELIGIBLE, township=OUT, residence="luoxiong",
         job_place="luoxiong", on=date(2026, 10, 31), reasons=("outside_region",)),
    # --- yearly cap (QJ2019 (十六), YN2021 二(四)) -------------------------------------------
    Case("QJ2019 (十六) yearly cap: 3 vouchers in 2026 already", "free_public_training",
         Status.NOT_ELIGIBLE, held=in_2026(3), reasons=("yearly_cap_reached",)),
    Case("QJ2019 (十六) yearly cap: 2 in 2026 and 1 in 2025 leave room", "free_public_training",
         Status.ELIGIBLE, held=(*in_2026(2), Held(2025)), reasons=("yearly_count",)),
    Case("QJ2019 (十六) yearly cap: a cancelled voucher does not count", "free_public_training",
         Status.ELIGIBLE, held=(*in_2026(2), Held(2026, status=VoucherStatus.CANCELLED))),
    Case("QJ2019 (十六) yearly cap: the course's own voucher does not count against it",
         "free_public_training", Status.ELIGIBLE, held=in_2026(2), joined="issued"),
    Case("QJ2019 (十六) yearly cap: no living allowance for a fourth training",
         "living_allowance", Status.NOT_ELIGIBLE, groups=((P, YES),), held=in_2026(3),
         reasons=("yearly_cap_reached",)),
    Case("QJ2019 (十六) yearly cap in the overview: 3 this year", "living_allowance",
         Status.NOT_ELIGIBLE, groups=((P, YES),), held=in_2026(3), course=None,
         reasons=("yearly_cap_reached",)),
    Case("YN2021 二(四) 以工代训 is not counted in the 3 a year (while it ran, in 2021)",
         "work_training", Status.PROVISIONAL, groups=((P, YES),),
         held=(Held(2021), Held(2021), Held(2021)), course=None, on=WORK_TRAINING_RAN,
         reasons=("not_counted_in_yearly_cap", "needs_fact")),
    # --- same occupation and level (QJ2019 (十六)) -----------------------------------------
    Case("QJ2019 (十六) same occupation and level only once", "free_public_training",
         Status.NOT_ELIGIBLE, held=(Held(2025, "砌筑工", "初级工"),),
         reasons=("same_occupation_level",)),
    Case("QJ2019 (十六) same occupation at another level", "free_public_training",
         Status.ELIGIBLE, held=(Held(2025, "砌筑工", "中级工"),)),
    Case("QJ2019 (十六) 五级 is 初级工: the same level under its other name",
         "free_public_training", Status.NOT_ELIGIBLE, held=(Held(2025, "砌筑工", "五级"),),
         reasons=("same_occupation_level",)),
    # --- versions by date ------------------------------------------------------------------
    Case("versioning: the day before a later rule starts, the old amount and version",
         "living_allowance", Status.ELIGIBLE, groups=((P, YES),), policy="living_70_in_2027",
         on=date(2026, 12, 31), amount=Decimal(60), version=VERSION),
    Case("versioning: from the day a later rule starts, the new amount and version",
         "living_allowance", Status.ELIGIBLE, groups=((P, YES),), policy="living_70_in_2027",
         on=date(2027, 1, 1), amount=Decimal(70), total_max=Decimal(1050),
         version="luoping-2027.1"),
    Case("versioning: a rule on its effective_to still applies", "work_training",
         Status.PROVISIONAL, groups=((P, YES),), course=None, on=date(2021, 12, 31)),
    Case("versioning: a rule past its effective_to answers that it ended", "work_training",
         Status.NOT_ELIGIBLE, groups=((P, YES),), course=None, on=date(2022, 1, 1),
         total=None, total_max=None, reasons=("rule_ended",), missing=()),
    Case("YN2021 二(四) 以工代训 ended with 2021: in 2026 it is not offered, saying so",
         "work_training", Status.NOT_ELIGIBLE, groups=((P, YES),), course=None,
         amount_range=None, total_max=None, reasons=("rule_ended",), missing=()),
    # --- free training (QJ2020 五(一), QJ2019 (十七)) ---------------------------------------
    Case("QJ2020 五(一) free training at the public employment service, for anyone",
         "free_public_training", Status.ELIGIBLE, amount=None,
         reasons=("institution_kind_covered",), missing=()),
    Case("QJ2020 五(一) a private school is not the public employment service",
         "free_public_training", Status.NOT_ELIGIBLE, course="free_private",
         reasons=("institution_kind_not_covered",)),
    Case("QJ2019 (十七) free training for a verified unemployed person", "free_targeted_groups",
         Status.ELIGIBLE, groups=((U, YES),), course="free_private",
         reasons=("group_verified", "course_is_free")),
    Case("QJ2019 (十七) free training: not for a person in none of the groups",
         "free_targeted_groups", Status.NOT_ELIGIBLE, course="free_private",
         reasons=("not_in_groups",)),
    Case("QJ2019 (十七) free training: a course with a fee is not it", "free_targeted_groups",
         Status.NOT_ELIGIBLE, groups=((V, YES),), course="self_funded",
         reasons=("course_not_free",)),
    Case("QJ2019 (十七) free training: a free course not bought by public tender is not it",
         "free_targeted_groups", Status.NOT_ELIGIBLE, groups=((U, YES),),
         course="free_untendered", reasons=("course_not_publicly_procured",)),
    Case("QJ2019 (十七) before luoping-2026.1 any free course was taken as it",
         "free_targeted_groups", Status.ELIGIBLE, groups=((U, YES),), course="free_untendered",
         on=date(2026, 10, 31)),
    Case("QJ2020 五(一) a course with a fee at the public employment service is not free",
         "free_public_training", Status.NOT_ELIGIBLE, course="pes_with_fee",
         reasons=("course_not_free",)),
    Case("QJ2020 五(一) … it is the self-funded door: the subsidy on its certificate",
         "training_subsidy_self_funded", Status.PROVISIONAL, course="pes_with_fee",
         reasons=("course_not_free", "certificate_pending"), missing=("obtain_certificate",)),
    Case("QJ2019 (十七) free training for a verified 农村转移就业劳动力", "free_targeted_groups",
         Status.ELIGIBLE, groups=((R, YES),), course="free_private",
         reasons=("group_verified",)),
    Case("QJ2019 (十七) free training for a verified 转岗职工", "free_targeted_groups",
         Status.ELIGIBLE, groups=((J, YES),), course="free_private",
         reasons=("group_verified",)),
    Case("QJ2019 (十七) a self-declared 转岗职工 waits for the bureau", "free_targeted_groups",
         Status.PROVISIONAL, groups=((J, SELF),), course="free_private",
         missing=("verify_group",)),
    Case("QJ2019 (十七) a rejected 农村转移就业劳动力 is not in", "free_targeted_groups",
         Status.NOT_ELIGIBLE, groups=((R, NO),), course="free_private",
         reasons=("group_rejected",)),
    Case("QJ2019 (十八) 农村转移就业劳动力 are not among the living allowance's groups",
         "living_allowance", Status.NOT_ELIGIBLE, groups=((R, YES),),
         reasons=("not_in_groups",)),
    Case("versioning: before luoping-2026.1 转岗职工 were not among (十七)'s groups",
         "free_targeted_groups", Status.NOT_ELIGIBLE, groups=((J, YES),),
         course="free_private", on=date(2026, 10, 31), reasons=("not_in_groups",)),
    # --- self-funded with a certificate (QJ2020 五(一)) --------------------------------------
    Case("QJ2020 五(一) self-funded 中级工 before the certificate: provisional at its rate",
         "training_subsidy_self_funded", Status.PROVISIONAL, course="self_funded",
         amount=RATE_MIDDLE, total=RATE_MIDDLE,
         reasons=("certificate_pending", "certificate_rate", "demo_amount"),
         missing=("obtain_certificate",)),
    Case("QJ2020 五(一) self-funded 中级工 with the certificate", "training_subsidy_self_funded",
         Status.ELIGIBLE, course="self_funded", joined="certified", amount=RATE_MIDDLE,
         total=RATE_MIDDLE, reasons=("certificate_obtained", "certificate_rate"), missing=()),
    Case("QJ2020 五(一) self-funded: appraisal failed, no certificate",
         "training_subsidy_self_funded", Status.NOT_ELIGIBLE, course="self_funded",
         joined="failed", total=None, reasons=("no_certificate",)),
    Case("QJ2020 五(一) self-funded special ability certificate, at its rate",
         "training_subsidy_self_funded", Status.ELIGIBLE, course="self_funded_special",
         joined="certified", amount=RATE_SPECIAL, total=RATE_SPECIAL),
    Case("QJ2020 五(一) self-funded: a free course is not self-funded",
         "training_subsidy_self_funded", Status.NOT_ELIGIBLE, reasons=("course_is_free",)),
    Case("QJ2020 五(一) self-funded in general: 800 to 6000 by certificate, ≤150 appraisal",
         "training_subsidy_self_funded", Status.PROVISIONAL, course=None, amount=None,
         amount_range=(Decimal(800), Decimal(6000)), total_max=Decimal(6150),
         reasons=("certificate_range", "applies_to_courses"), missing=("obtain_certificate",)),
    # --- allowances by days actually attended (QJ2020 五(一)) -------------------------------
    Case("QJ2020 五(一) living allowance: 3 days present → 180", "living_allowance",
         Status.ELIGIBLE, groups=((P, YES),), course="free_private", joined="redeemed",
         present_days=3, amount=Decimal(60), days=3, days_max=5, total=Decimal(180),
         total_max=Decimal(300), reasons=("days_attended",)),
    Case("QJ2020 五(一) transport allowance: 3 days present → 60", "transport_allowance",
         Status.ELIGIBLE, groups=((P, YES),), course="free_private", joined="redeemed",
         present_days=3, days=3, total=Decimal(60)),
    Case("QJ2020 五(一) living allowance: in class, no day present yet → 0",
         "living_allowance", Status.ELIGIBLE, groups=((T, YES),), course="free_private",
         joined="redeemed", days=0, total=Decimal(0)),
    Case("QJ2020 五(一) living allowance: self-declared, 3 days → 180 provisionally",
         "living_allowance", Status.PROVISIONAL, groups=((P, SELF),), course="free_private",
         joined="redeemed", present_days=3, total=Decimal(180)),
    Case("QJ2020 五(一) living allowance: not in free training", "living_allowance",
         Status.NOT_ELIGIBLE, groups=((P, YES),), course="self_funded",
         reasons=("course_not_free",)),
    # --- subsidies paid to others (QJ2020 五(三)(四), QJ2019 (十六)) ------------------------
    Case("QJ2020 五(三) 以工代训: ≤500 a month for ≤6 months, to the employer",
         "work_training", Status.PROVISIONAL, groups=((P, YES),), course=None,
         on=WORK_TRAINING_RAN,
         amount_range=(Decimal(0), Decimal(500)), total_max=Decimal(3000),
         reasons=("paid_to", "group_verified"), missing=("hired_by_eligible_employer",)),
    Case("QJ2020 五(三) 以工代训: not for a person outside its groups", "work_training",
         Status.NOT_ELIGIBLE, groups=((T, YES),), course=None, on=WORK_TRAINING_RAN,
         reasons=("not_in_groups",)),
    Case("QJ2019 (十六) apprenticeship: at least 4000 a year, to the enterprise",
         "apprenticeship", Status.PROVISIONAL, course=None,
         amount_range=(Decimal(4000), None), reasons=("paid_to",),
         missing=("apprenticeship_contract",)),
    Case("QJ2020 五(四) cadre service subsidy: per person mobilized certified this year",
         "cadre_service_subsidy", Status.ELIGIBLE, course=None,
         cadre=((2026, True), (2026, True), (2026, False), (2025, True)),
         amount=CADRE_AMOUNT, count=2, total=CADRE_AMOUNT * 2,
         reasons=("cadre_certified", "demo_amount")),
    Case("QJ2020 五(四) cadre service subsidy: none certified yet", "cadre_service_subsidy",
         Status.ELIGIBLE, course=None, cadre=(), count=0, total=Decimal(0)),
    Case("QJ2020 五(四) a person who is no cadre gets no cadre subsidy",
         "cadre_service_subsidy", None, course=None),
    Case("QJ2020 五(四) a course's evaluation leaves the cadre subsidy out",
         "cadre_service_subsidy", None, cadre=((2026, True),)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.clause for c in CASES])
def test_eligibility(case: Case, db, clock):
    world = World(db, clock)
    person = world.person(case)
    course = world.course(COURSES[case.course]) if case.course else None
    for n, held in enumerate(case.held):
        world.hold(person, held, n)
    if course is not None and case.joined:
        voucher = world.join(person, course, case.joined)
        world.attend(person, course, voucher, case.present_days)
    if case.cadre is not None:
        world.cadre(person, case.cadre)
    db.flush()

    evaluation = evaluate(db, person_id=person.id, course_id=course.id if course else None,
                          on=case.on, policy=POLICIES[case.policy]())

    expected = case.version or (EARLIER[0] if case.on < EARLIER[1] else VERSION)
    assert evaluation.policy_version == expected
    if case.status is None:
        assert not evaluation.has(case.rule)
        return
    outcome = evaluation.outcome(case.rule)
    assert outcome.status is case.status, outcome.reasons
    for name in ("amount", "amount_range", "days", "days_max", "total", "total_max", "count",
                 "missing"):
        expected = getattr(case, name)
        if expected is not ANY:
            assert getattr(outcome, name) == expected, (name, outcome)
    codes = outcome.reason_codes
    assert set(case.reasons) <= set(codes), codes
    assert all(r.source for r in outcome.reasons)
    if case.qualified_by:
        [place] = [r for r in outcome.reasons if r.code == "place_in_region"]
        assert place.params["place"] == case.qualified_by, place


def test_there_are_enough_cases_and_each_names_its_clause():
    assert len(CASES) >= 40
    assert len({c.clause for c in CASES}) == len(CASES)
    assert all(c.clause.split()[0] in ("QJ2019", "QJ2020", "YN2021", "versioning:")
               for c in CASES)


# --- the world a case runs in ---------------------------------------------------------------

class World:
    """People, courses, vouchers and marks, made through the domain where it has a door."""

    def __init__(self, db, clock) -> None:
        self.db, self.clock = db, clock
        self.vault = Vault("eligibility-tests")
        self.codes = 0
        self.seqs = iter(range(11, 999, 2))

    def person(self, case: Case, *, seq: int | None = None) -> Person:
        if case.township == "danfeng":
            self._other_county()
        odd = seq if seq is not None else 1
        number = id_number(born=case.born, seq=f"{odd if case.sex == 'M' else odd + 1:03d}")
        elsewhere = case.township == OUT
        form = RegistrationForm(name="测试", id_number=number, phone="13812345678",
                                township_code=None if elsewhere else case.township,
                                household_elsewhere="贵州省盘州市" if elsewhere else None,
                                household_kind=case.household_kind, residence=case.residence,
                                job_place=case.job_place, intent=WorkIntent.LOCAL,
                                groups=frozenset(g for g, _ in case.groups),
                                draws_pension=bool(case.pension))
        person = register(self.db, vault=self.vault, form=form, openid=None,
                          consent=ConsentHow.PAPER, channel=Channel.CLI, now=self.clock.now(),
                          today=self.clock.today())
        decided = dict(case.groups)
        for row in person.groups:
            row.status = decided[row.group]
            if row.status is not GroupStatus.SELF_DECLARED:
                row.decided_at = self.clock.now()
        if case.pension is None:
            person.draws_pension = None
        self.db.flush()
        return person

    def _other_county(self) -> None:
        qujing = self.db.scalar(select(Region).where(Region.code == "qujing"))
        county = Region(code="shizong", name="师宗县", name_en="Shizong",
                        level=RegionLevel.COUNTY, parent=qujing)
        self.db.add_all([county, Region(code="danfeng", name="丹凤街道", name_en="Danfeng",
                                        level=RegionLevel.TOWNSHIP, parent=county)])
        self.db.flush()

    def course(self, shape: CourseShape) -> Course:
        self.codes += 1
        hours = shape.days * 8
        spec = CourseSpec(
            code=f"elig-{self.codes}", institution_code=shape.institution,
            category_code="construction", name=f"{shape.occupation}班",
            name_en=f"{shape.occupation} class", occupation=shape.occupation,
            occupation_en=shape.occupation, certificate_kind=shape.kind,
            certificate_level=shape.level, theory_hours=hours * 3 // 10,
            practice_hours=hours - hours * 3 // 10, capacity=30, fee_yuan=Decimal(shape.fee),
            is_publicly_procured=shape.procured,
            is_entrepreneurship=False, township_code="luoxiong", address="某地", lat=None,
            lng=None, radius_m=None,
            sessions=[(shape.first_day + timedelta(days=n), start, end)
                      for n in range(shape.days)
                      for start, end in ((time(8, 30), time(12, 30)), (time(14), time(18)))])
        return publish_course(self.db, spec=spec, actor_id=None, channel=Channel.CLI,
                              now=self.clock.now())

    def hold(self, person: Person, held: Held, n: int) -> None:
        occupation = held.occupation or f"工种{n}"
        kind = CertificateKind.SKILL_LEVEL if held.level else CertificateKind.COMPLETION
        course = self.course(CourseShape("lp-pes", occupation, kind, held.level, 0,
                                         date(held.year, 3 + 2 * n, 1), 15 if held.level else 1))
        self._voucher(person, course, held.status, certified=True)

    def join(self, person: Person, course: Course, how: str) -> Voucher:
        status = {"issued": VoucherStatus.ISSUED, "redeemed": VoucherStatus.REDEEMED,
                  "certified": VoucherStatus.COMPLETED, "failed": VoucherStatus.COMPLETED}[how]
        return self._voucher(person, course, status, certified=how == "certified")

    def _voucher(self, person: Person, course: Course, status: VoucherStatus, *,
                 certified: bool, completed_at: datetime | None = None) -> Voucher:
        now = self.clock.now()
        done = status in (VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
        voucher = Voucher(person_id=person.id, course_id=course.id, status=status,
                          year=course.starts_on.year, claimed_at=now, claimed_via=Channel.WECHAT,
                          expires_at=now, number=f"PXT-{course.code}-{person.id}",
                          redeemed_at=now if status in IN_CLASS else None,
                          completed_at=(completed_at or now) if done else None,
                          certified=certified if done else None,
                          ended_at=now if status is VoucherStatus.CANCELLED else None)
        self.db.add(voucher)
        self.db.flush()
        return voucher

    def attend(self, person: Person, course: Course, voucher: Voucher, days: int) -> None:
        """Present on the first ``days`` class days (both sittings of the first, the morning of
        the others), absent the day after: only distinct days with a present mark count."""
        sessions = self.db.scalars(select(ClassSession).where(ClassSession.course_id == course.id)
                                   .order_by(ClassSession.day, ClassSession.starts)).all()
        class_days = sorted({s.day for s in sessions})
        for session in sessions:
            index = class_days.index(session.day)
            first_sitting = session.starts == time(8, 30)
            if index < days and (index == 0 or first_sitting):
                self._mark(person, voucher, session, present=True)
            elif index == days and first_sitting:
                self._mark(person, voucher, session, present=False)

    def _mark(self, person: Person, voucher: Voucher, session: ClassSession, *,
              present: bool) -> None:
        self.db.add(Attendance.of(session, person_id=person.id, voucher_id=voucher.id,
                                  is_present=present, hours=session.hours if present else 0,
                                  how=MarkHow.SCAN))

    def cadre(self, person: Person, mobilized: tuple[tuple[int, bool], ...]) -> None:
        cadre = Cadre(person_id=person.id, township_id=person.township_id, village="腊者村",
                      bound_at=self.clock.now())
        self.db.add(cadre)
        self.db.flush()
        courses: dict[int, Course] = {}
        for year, certified in mobilized:
            neighbour = self.person(Case("neighbour", "-", None), seq=next(self.seqs))
            neighbour.referred_by_id = cadre.id
            if year not in courses:
                courses[year] = self.course(CourseShape("lp-pes", f"工种{year}",
                                                        CertificateKind.COMPLETION, None, 0,
                                                        date(year, 5, 4), 1))
            self._voucher(neighbour, courses[year], VoucherStatus.COMPLETED,
                          certified=certified,
                          completed_at=datetime(year, 5, 5, 18, tzinfo=LOCAL_TZ))


# --- policies the cases run under -------------------------------------------------------------

def _document() -> dict[str, Any]:
    return yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))


def _entry(document: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """The rule's newest entry (a rule changed by an edition has one entry per edition)."""
    entries = [r for r in document["eligibility"]["rules"] if r["id"] == rule_id]
    return max(entries, key=lambda r: r.get("effective_from", date.min))


def _dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def _new_edition(document: dict[str, Any], version: str, starts: date) -> None:
    section = document["eligibility"]
    section["earlier_versions"] = [*section.get("earlier_versions", []),
                                   {"version": section["version"],
                                    "effective_from": section["effective_from"]}]
    section["version"], section["effective_from"] = version, starts


@cache
def _living_70_in_2027():
    """The county raises the living allowance to 70 yuan a day from 1 January 2027."""
    document = _document()
    _new_edition(document, "luoping-2027.1", date(2027, 1, 1))
    raised = {**_entry(document, "living_allowance"), "effective_from": date(2027, 1, 1)}
    raised["pays"] = {**raised["pays"], "amount_yuan": 70}
    document["eligibility"]["rules"].append(raised)
    return parse_policy(_dump(document))


@cache
def _scope_qujing():
    """A city-wide scope (QJ2019 (十六) says 在曲靖): the county reaches only so far."""
    document = _document()
    for entry in document["eligibility"]["rules"]:
        if entry["id"] == "residence_scope":
            entry["condition"] = {**entry["condition"], "region": "qujing"}
    return parse_policy(_dump(document))


POLICIES = {
    None: eligibility_policy,
    "living_70_in_2027": _living_70_in_2027,
    "scope_qujing": _scope_qujing,
}


# --- beyond the table ---------------------------------------------------------------------------

def test_an_evaluation_names_the_version_and_lists_the_overview(db, clock):
    person = World(db, clock).person(Case("overview", "-", None, groups=((P, YES),)))
    evaluation = evaluate(db, person_id=person.id, on=ON)
    assert isinstance(evaluation, Evaluation)
    assert (evaluation.policy_version, evaluation.policy_effective_from) == (
        VERSION, date(2026, 11, 1))
    assert [o.rule_id for o in evaluation.outcomes] == [
        "free_public_training", "free_targeted_groups", "training_subsidy_self_funded",
        "living_allowance", "transport_allowance", "work_training", "apprenticeship"]
    assert evaluation.outcome("living_allowance").display_title("en") == (
        "Living allowance during training")


def test_a_person_who_is_not_registered_gets_no_evaluation(db, clock):
    stranger = meet(db, openid="o-elig-stranger", now=clock.now())
    db.flush()
    with pytest.raises(NotRegistered):
        evaluate(db, person_id=stranger.id, on=ON)
    with pytest.raises(NotRegistered):
        evaluate(db, person_id=-1, on=ON)


def test_an_unknown_course(db, clock):
    person = World(db, clock).person(Case("unknown course", "-", None))
    with pytest.raises(CourseNotFound):
        evaluate(db, person_id=person.id, course_id=-1, on=ON)


def test_the_shipped_policy_covers_the_issue(db):
    rules = eligibility_policy().rules_on(ON)
    assert {"free_public_training", "free_targeted_groups", "training_subsidy_self_funded",
            "living_allowance", "transport_allowance", "yearly_cap", "same_occupation_level",
            "pension_excluded", "residence_scope", "employment_difficulty",
            "apprenticeship", "cadre_service_subsidy"} <= set(rules)
    # YN2021 二(四): 以工代训 ran to December 2021, and is answered as ended since.
    ended = eligibility_policy().ended_on(ON)["work_training"]
    assert ended.effective_to == date(2021, 12, 31) and "二(四)" in ended.source
    assert all(rule.source for rule in rules.values())
    assert rules["yearly_cap"].condition.max == 3
    assert db.scalar(select(Region.id).where(
        Region.code == rules["residence_scope"].condition.region)) is not None


@dataclass(frozen=True)
class Bad:
    what: str
    rule: str
    change: Any  # (document) -> None
    says: str
    extra: dict[str, Any] = field(default_factory=dict)


def _set(rule_id: str, path: str, value: Any):
    def change(document: dict[str, Any]) -> None:
        node = _entry(document, rule_id)
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return change


def _drop(rule_id: str, key: str):
    return lambda document: _entry(document, rule_id).pop(key)


BAD = [
    Bad("an unknown kind of payment", "living_allowance", _set("living_allowance", "pays.kind",
                                                               "monthly"), "pays.kind"),
    Bad("an amount that is no number", "living_allowance",
        _set("living_allowance", "pays.amount_yuan", "sixty"), "pays.amount_yuan"),
    Bad("a negative amount", "transport_allowance",
        _set("transport_allowance", "pays.amount_yuan", -20), "pays.amount_yuan"),
    Bad("a misspelt key", "cadre_service_subsidy",
        _set("cadre_service_subsidy", "pays.amout_yuan", 50), "amout_yuan"),
    Bad("an unknown group", "living_allowance",
        _set("living_allowance", "who.groups_any", ["poverty_alleviated", "farmer"]), "farmer"),
    Bad("a condition that does not exist", "free_public_training",
        _set("free_public_training", "who.conditions", ["pension_exclude"]), "pension_exclude"),
    Bad("a rule without its clause", "apprenticeship", _drop("apprenticeship", "source"),
        "source"),
    Bad("a change from a day that starts no version", "living_allowance",
        _set("living_allowance", "effective_from", "2027-01-01"), "starts no policy version"),
    Bad("an end before the start", "work_training",
        _set("work_training", "effective_to", "2020-01-01"), "effective_to"),
    Bad("a rate outside the rule's range", "training_subsidy_self_funded",
        _set("training_subsidy_self_funded", "pays.min_yuan", 2000), "outside"),
    Bad("capped by the cap that does not count it", "work_training",
        _set("work_training", "who.caps", ["yearly_cap"]), "not counted"),
    Bad("an unknown institution kind", "free_public_training",
        _set("free_public_training", "who.course.institution_kinds", ["town_hall"]),
        "town_hall"),
    Bad("an age threshold that is no age", "employment_difficulty",
        _set("employment_difficulty", "condition.members",
             [{"group": "unemployed", "men_age_min": "fifty"}]), "men_age_min"),
]


@pytest.mark.parametrize("bad", BAD, ids=[b.what for b in BAD])
def test_a_bad_rule_stops_with_a_message_naming_it(bad: Bad):
    document = _document()
    bad.change(document)
    with pytest.raises(PolicyFileInvalid) as caught:
        parse_policy(_dump(document), origin="policy.yaml")
    assert caught.value.rule == bad.rule
    message = str(caught.value)
    assert message.startswith(f"policy.yaml: eligibility rule {bad.rule!r}: ")
    assert bad.says in message


def test_a_file_that_is_no_policy_says_so():
    with pytest.raises(PolicyFileInvalid, match="not valid YAML"):
        parse_policy("eligibility: [unclosed")
    with pytest.raises(PolicyFileInvalid, match="no `eligibility` section"):
        parse_policy("settlement_rates: {}")
    document = _document()
    document["eligibility"]["rules"].append({"title_zh": "无名"})
    with pytest.raises(PolicyFileInvalid, match="has no `id`"):
        parse_policy(_dump(document))


def test_what_the_session_holds_unwritten_is_what_is_evaluated(db, clock):
    # The evaluation reads past the session (rows, not objects): a change made in the same
    # transaction and not yet flushed must count all the same, as the session's reads would.
    person = World(db, clock).person(Case("unflushed", "-", None, groups=((P, YES),)))
    before = evaluate(db, person_id=person.id, on=ON)
    assert not any("draws_pension" in o.reason_codes for o in before.outcomes)
    person.draws_pension = True
    person.groups[0].status = GroupStatus.REJECTED
    after = evaluate(db, person_id=person.id, on=ON)
    assert any("draws_pension" in o.reason_codes for o in after.outcomes)
    assert any("group_rejected" in o.reason_codes for o in after.outcomes)

"""The demo county, loaded from the project's data files: 罗平县 with its 13 townships, the 12
categories with their targets, institutions and courses. Loading twice changes nothing."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Channel
from models.cadres import Cadre
from models.catalogue import (
    Category,
    CertificateKind,
    Course,
    Institution,
    InstitutionKind,
    InstitutionStatus,
)
from models.catalogue import Intent as WorkIntent
from models.courses import CourseSpec, publish_course
from models.desk import DeskRole, create_desk_user
from models.persons import ConsentHow, Group, HouseholdKind, Person, meet
from models.pii import Vault
from models.regions import Region, RegionLevel
from models.registration import RegistrationForm, register
from models.staff import StaffMember
from models.targets import GoalMeasure, GoalUnit, PlanGoal, Target, TargetMeasure
from models.vouchers import HOLDING, Redemption, Voucher, VoucherStatus, claim_voucher

logger = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data"
DEMO_OPENIDS = ("demo-trainee", "demo-cadre", "demo-staff", "demo-admin")
# The desk's demo users, one a role, all with this public password: loaded by `make run` into
# an empty database, never in production (cli.demo.load_demo_data).
DEMO_DESK_PASSWORD = "peixun-demo"
DEMO_DESK_USERS = (("demo-admin", DeskRole.ADMIN, None),
                   ("demo-inspector", DeskRole.INSPECTOR, None),
                   ("demo-zhongzhi", DeskRole.INSTITUTION, "lp-zhongzhi"))
TOWNSHIP_MEASURES = {
    "total": TargetMeasure.TRAININGS,
    "qualification": TargetMeasure.QUALIFICATION,
    "free": TargetMeasure.FREE,
    "special": TargetMeasure.SPECIAL,
}


def read_yaml(name: str) -> dict[str, Any]:
    with (DATA / name).open(encoding="utf-8") as f:
        return yaml.safe_load(f)


# A rural household of 腊山街道 who lives and looks for work there (issue 16: every place known).
DEMO_TRAINEE = RegistrationForm(
    name="李春花", id_number="530324199203150028", phone="13988880001",
    township_code="lashan", household_kind=HouseholdKind.RURAL, residence="lashan",
    job_place="lashan", intent=WorkIntent.LOCAL,
    groups=frozenset({Group.POVERTY_ALLEVIATED}))
DEMO_VILLAGE = ("lubuge", "腊者村")
DEMO_STAFF_INSTITUTION = "lp-zhongzhi"  # runs the course that has a class today
DEMO_TODAY_COURSE = "lp-2026-today"


def load_demo(db: Session, *, vault: Vault, now: datetime, today: date) -> None:
    region = read_yaml("luoping.yaml")
    regions = _load_regions(db, region["regions"])
    _load_categories(db, region["categories"], regions)
    _load_township_targets(db, region["township_targets"], regions)
    _load_plan_goals(db, region["plan_goals"], regions)
    catalogue = read_yaml("demo_catalogue.yaml")
    _load_institutions(db, catalogue["institutions"], regions)
    for course in catalogue["courses"]:
        publish_course(db, spec=course_spec(course, today), actor_id=None, channel=Channel.CLI,
                       now=now)
    people = {openid: meet(db, openid=openid, now=now) for openid in DEMO_OPENIDS}
    for openid, person in people.items():
        # The fake code2session (devtools.fake_wechat) answers "code-<openid>" with this
        # unionid, so the demo people sign in to the mini-program API at once.
        person.unionid = person.unionid or f"union-{openid}"
    _demo_roles(db, people, vault=vault, now=now, today=today)


def course_spec(row: dict[str, Any], today: date) -> CourseSpec:
    first = today + timedelta(days=int(row["start_in_days"]))
    periods = [(_time(a), _time(b)) for a, b in row["daily"]]
    sessions = [
        (first + timedelta(days=n), starts, ends)
        for n in range(int(row["session_days"]))
        for starts, ends in periods
    ]
    return CourseSpec(
        code=row["code"],
        institution_code=row["institution"],
        category_code=row["category"],
        name=row["name"],
        name_en=row["name_en"],
        occupation=row["occupation"],
        occupation_en=row["occupation_en"],
        certificate_kind=CertificateKind(row["certificate_kind"]),
        certificate_level=row.get("certificate_level"),
        theory_hours=int(row["theory_hours"]),
        practice_hours=int(row["practice_hours"]),
        capacity=int(row["capacity"]),
        fee_yuan=Decimal(str(row.get("fee_yuan", 0))),
        is_publicly_procured=bool(row.get("is_publicly_procured", False)),
        is_entrepreneurship=bool(row.get("is_entrepreneurship", False)),
        township_code=row["township"],
        address=row["address"],
        lat=row.get("lat"),
        lng=row.get("lng"),
        radius_m=row.get("radius_m"),
        sessions=sessions,
        description=row.get("description", ""),
    )


def _time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _upsert(db: Session, model: type, key: str, value: Any, **fields: Any):
    row = db.scalar(select(model).where(getattr(model, key) == value))
    if row is None:
        row = model(**{key: value})
        db.add(row)
    for name, field_value in fields.items():
        if getattr(row, name) != field_value:
            setattr(row, name, field_value)
    return row


def _load_regions(db: Session, rows: list[dict[str, Any]]) -> dict[str, Region]:
    regions: dict[str, Region] = {}
    for row in rows:
        parent = regions.get(row.get("parent", ""))
        regions[row["code"]] = _upsert(
            db, Region, "code", row["code"], name=row["name"], name_en=row["name_en"],
            level=RegionLevel(row["level"]), parent=parent, lat=row.get("lat"),
            lng=row.get("lng"),
        )
    db.flush()
    return regions


def _load_categories(db: Session, rows: list[dict[str, Any]], regions: dict[str, Region]) -> None:
    for row in rows:
        category = _upsert(db, Category, "code", row["code"], no=int(row["no"]),
                           name=row["name"], name_en=row["name_en"],
                           intent=WorkIntent(row["intent"]))
        db.flush()
        for region_code, by_year in row["targets"].items():
            for year, count in by_year.items():
                _set_target(db, regions[region_code], int(year), category,
                            TargetMeasure.TRAININGS, int(count), row["source"])


def _load_township_targets(db: Session, table: dict[str, Any],
                           regions: dict[str, Region]) -> None:
    for code, by_year in table["townships"].items():
        for year, figures in by_year.items():
            for name, measure in TOWNSHIP_MEASURES.items():
                _set_target(db, regions[code], int(year), None, measure, int(figures[name]),
                            table["source"])


def _set_target(db: Session, region: Region, year: int, category: Category | None,
                measure: TargetMeasure, count: int, source: str) -> None:
    category_id = category.id if category else None
    target = db.scalar(select(Target).where(
        Target.region_id == region.id, Target.year == year, Target.measure == measure,
        Target.category_id.is_(None) if category_id is None else Target.category_id == category_id,
    ))
    if target is None:
        target = Target(region_id=region.id, year=year, category_id=category_id, measure=measure)
        db.add(target)
    target.count = count
    target.source = source


def _load_plan_goals(db: Session, rows: list[dict[str, Any]],
                     regions: dict[str, Region]) -> None:
    for no, row in enumerate(rows, start=1):
        region = row.get("region")
        if region is not None and region not in regions:
            raise ValueError(f"plan goal {row['code']}: no region {region!r}")
        first, last = (int(year) for year in row["years"])
        _upsert(db, PlanGoal, "code", row["code"], no=no, scope=row["scope"],
                scope_en=row["scope_en"], region_code=region, first_year=first, last_year=last,
                measure=GoalMeasure(row["measure"]), unit=GoalUnit(row["unit"]),
                figure=Decimal(str(row["value"])), is_minimum=bool(row["at_least"]),
                source=row["source"])
    db.flush()


def _load_institutions(db: Session, rows: list[dict[str, Any]],
                       regions: dict[str, Region]) -> None:
    for row in rows:
        _upsert(db, Institution, "code", row["code"], name=row["name"], name_en=row["name_en"],
                kind=InstitutionKind(row["kind"]), licence=str(row["licence"]),
                township=regions[row["township"]], address=row["address"],
                status=InstitutionStatus(row["status"]))
    db.flush()


def _demo_roles(db: Session, people: dict[str, Person], *, vault: Vault, now: datetime,
                today: date) -> None:
    """demo-trainee is registered and enrolled in today's class (so check-in can be tried at
    once); demo-staff works for that class's institution; demo-cadre serves 腊者村."""
    trainee, staff, cadre = (people["demo-trainee"], people["demo-staff"],
                             people["demo-cadre"])
    if not trainee.is_registered:
        register(db, vault=vault, form=DEMO_TRAINEE, openid=trainee.openid,
                 consent=ConsentHow.WECHAT, channel=Channel.CLI, now=now, today=today)
    institution = db.scalar(select(Institution).where(
        Institution.code == DEMO_STAFF_INSTITUTION))
    if db.scalar(select(StaffMember).where(StaffMember.person_id == staff.id)) is None:
        db.add(StaffMember(person_id=staff.id, institution_id=institution.id, bound_at=now))
    if db.scalar(select(Cadre).where(Cadre.person_id == cadre.id)) is None:
        township = db.scalar(select(Region).where(Region.code == DEMO_VILLAGE[0]))
        db.add(Cadre(person_id=cadre.id, township_id=township.id, village=DEMO_VILLAGE[1],
                     bound_at=now))
    course = db.scalar(select(Course).where(Course.code == DEMO_TODAY_COURSE))
    held = db.scalar(select(Voucher).where(Voucher.person_id == trainee.id,
                                           Voucher.course_id == course.id,
                                           Voucher.status.in_(HOLDING)))
    if held is None and course.starts_on >= today:
        voucher = claim_voucher(db, openid=trainee.openid, course_id=course.id,
                                channel=Channel.CLI, now=now, today=today)
        voucher.status, voucher.redeemed_at, voucher.redeemed_by_id = (
            VoucherStatus.REDEEMED, now, staff.id)
        db.add(Redemption(voucher_id=voucher.id, staff_person_id=staff.id,
                          institution_id=institution.id, at=now, channel=Channel.CLI))


def load_demo_desk(db: Session, *, now: datetime) -> None:
    """The desk's demo users, so that the dashboard can be tried at once."""
    for username, role, institution_code in DEMO_DESK_USERS:
        create_desk_user(db, username=username, password=DEMO_DESK_PASSWORD, role=role,
                         institution_code=institution_code, now=now)

"""The demo county, loaded from the project's data files: 罗平县 with its 13 townships, the 12
categories with their targets, institutions and courses. Loading twice changes nothing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Channel
from models.catalogue import (
    Category,
    CertificateKind,
    Institution,
    InstitutionKind,
    InstitutionStatus,
)
from models.catalogue import Intent as WorkIntent
from models.courses import CourseSpec, publish_course
from models.persons import meet
from models.regions import Region, RegionLevel
from models.targets import Target, TargetMeasure

DATA = Path(__file__).resolve().parent / "data"
DEMO_OPENIDS = ("demo-trainee", "demo-cadre", "demo-staff", "demo-admin")
TOWNSHIP_MEASURES = {
    "total": TargetMeasure.TRAININGS,
    "qualification": TargetMeasure.QUALIFICATION,
    "free": TargetMeasure.FREE,
    "special": TargetMeasure.SPECIAL,
}


def read_yaml(name: str) -> dict[str, Any]:
    with (DATA / name).open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_demo(db: Session, *, now: datetime, today: date) -> None:
    region = read_yaml("luoping.yaml")
    regions = _load_regions(db, region["regions"])
    _load_categories(db, region["categories"], regions)
    _load_township_targets(db, region["township_targets"], regions)
    catalogue = read_yaml("demo_catalogue.yaml")
    _load_institutions(db, catalogue["institutions"], regions)
    for course in catalogue["courses"]:
        publish_course(db, spec=course_spec(course, today), actor_id=None, channel=Channel.CLI,
                       now=now)
    for openid in DEMO_OPENIDS:
        meet(db, openid=openid, now=now)


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


def _load_institutions(db: Session, rows: list[dict[str, Any]],
                       regions: dict[str, Region]) -> None:
    for row in rows:
        _upsert(db, Institution, "code", row["code"], name=row["name"], name_en=row["name_en"],
                kind=InstitutionKind(row["kind"]), licence=str(row["licence"]),
                township=regions[row["township"]], address=row["address"],
                status=InstitutionStatus(row["status"]))
    db.flush()

"""Regions: province → prefecture → county → township → village; and distances on the map."""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ForeignKey, Integer, Select, String, bindparam, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, enum_column
from models.direct import Rows

logger = logging.getLogger(__name__)


class RegionLevel(enum.StrEnum):
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(60))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    lat: Mapped[float | None]
    lng: Mapped[float | None]

    parent: Mapped[Region | None] = relationship(remote_side=[id])

    def display_name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name


@dataclass(eq=False)  # one node a region, compared by identity as the ORM's are
class RegionNode:
    """A region as plain values, linked to its parent: what a reader that walks the tree
    needs (models.eligibility), without loading ORM objects into a session."""

    id: int
    code: str
    name: str
    name_en: str
    level: RegionLevel
    parent_id: int | None
    parent: RegionNode | None = None

    def display_name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name


def with_parents(rows: Rows, *, ids: set[int], codes: set[str]) -> dict[int, RegionNode]:
    """The regions of these ids (at most PLACE_SLOTS) and codes and every region above them,
    by id, each linked to its parent: one statement (a recursive one) instead of one a level.
    ``rows`` reads it: on the process's kept connection (models.direct) or a session's."""
    if not ids and not codes:
        return {}
    if len(ids) > PLACE_SLOTS:
        raise ValueError(f"at most {PLACE_SLOTS} regions by id")
    params: dict[str, Any] = dict.fromkeys((f"id{n}" for n in range(PLACE_SLOTS)), None)
    params |= {f"id{n}": region_id for n, region_id in enumerate(sorted(ids))}
    params |= {f"code{n}": code for n, code in enumerate(sorted(codes))}
    nodes = {row["id"]: RegionNode(id=row["id"], code=row["code"], name=row["name"],
                                   name_en=row["name_en"], level=row["level"],
                                   parent_id=row["parent_id"])
             for row in rows(_with_parents(len(codes)), params)}
    for node in nodes.values():
        node.parent = nodes.get(node.parent_id)
    return nodes


PLACE_SLOTS = 3  # a person's three places (household, residence, job seeking)


@cache
def _with_parents(codes: int) -> Select:
    # Built once for each number of codes (a policy names a few regions): a recursive
    # statement costs more to build than to run, and one of fixed text can be prepared once
    # on the kept connection (which takes no IN list of varying length).
    start = Region.id.in_([bindparam(f"id{n}", type_=Integer) for n in range(PLACE_SLOTS)])
    if codes:
        start = or_(start, Region.code.in_([bindparam(f"code{n}", type_=String)
                                            for n in range(codes)]))
    chain = select(Region.id, Region.parent_id).where(start).cte("chain", recursive=True)
    chain = chain.union(select(Region.id, Region.parent_id)
                        .join(chain, Region.id == chain.c.parent_id))
    return (select(Region.id, Region.code, Region.name, Region.name_en, Region.level,
                   Region.parent_id)
            .where(Region.id.in_(select(chain.c.id))))


# A region's code is at most this long (the column's length).
CODE_LENGTH = 40


def county(db: Session, code: str) -> Region | None:
    """The county with this code; None for an unknown code or a region of another level."""
    if not code or len(code) > CODE_LENGTH or not code.isprintable():
        return None  # PostgreSQL refuses a NUL in a query's text: not asked at all
    return db.scalar(select(Region).where(Region.code == code,
                                          Region.level == RegionLevel.COUNTY))


def county_name(db: Session, code: str | None, locale: str) -> str | None:
    """The name of the county an export is for (its params' "county"), in ``locale``; None for
    the whole deployment; the code itself if no county has it any more."""
    if not code:
        return None
    found = county(db, code)
    return found.display_name(locale) if found else code


def counties_by_prefecture(db: Session) -> list[tuple[Region | None, list[Region]]]:
    """The deployment's counties under their prefectures, both in code order (a region code
    list's own order: GB/T 2260's numbers, or the slugs' pinyin); a county with no prefecture
    above it (a province's directly administered one) comes under None, last."""
    rows = db.scalars(select(Region).where(Region.level == RegionLevel.COUNTY)
                      .order_by(Region.code)).all()
    prefectures = {row.id: row for row in db.scalars(select(Region).where(
        Region.level == RegionLevel.PREFECTURE))}
    groups: dict[int | None, list[Region]] = {}
    for row in rows:
        groups.setdefault(row.parent_id if row.parent_id in prefectures else None,
                          []).append(row)
    ordered = sorted((key for key in groups if key is not None),
                     key=lambda key: prefectures[key].code)
    result: list[tuple[Region | None, list[Region]]] = [
        (prefectures[key], groups[key]) for key in ordered]
    if None in groups:
        result.append((None, groups[None]))
    return result


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine), good to a few metres at a county's scale."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(h))

"""Where a person belongs: their household registration (户籍地), where they live (常住地) and
where they seek work (求职就业地). QJ2019 (十六) covers workers any one of whose three places is
in the city, so each is recorded and the policy's scope test reads all three
(models.eligibility, condition ``place_in_region``).

A household may be anywhere in China: a township of this county, or a place elsewhere as the
person names it. Where a person lives and seeks work is a township of this county or "not
here". The ID number's region code tells where the number was first issued, which is only a
hint: people move their household (户口迁移) and keep their number."""

from __future__ import annotations

import enum
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import numdb

from models.errors import InvalidAnswer
from models.regions import Region, RegionLevel, RegionNode

logger = logging.getLogger(__name__)

# The answer "not in this county", for where a person lives or seeks work (and, in the API,
# the household's place when it is named apart).
ELSEWHERE = "elsewhere"
# A place named by the person: Chinese characters, letters, digits, spaces and the few marks
# addresses carry (贵州省盘州市, 云南省曲靖市师宗县, Guangdong).
_PLACE = re.compile(r"^[\u3400-\u9fffA-Za-z0-9 ·()（）\-]{2,30}$")
_YEARS = re.compile(r"^\[[^\]]*\]")  # stdnum marks historic codes: "[1999-2017]盘县"


class PlaceRole(enum.StrEnum):
    """The three places of QJ2019 (十六), in the clause's order."""

    HOUSEHOLD = "household"  # 户籍地
    RESIDENCE = "residence"  # 常住地
    JOB_SEEKING = "job_seeking"  # 求职就业地


@dataclass(frozen=True)
class Place:
    """One of a person's places: a township of this county, elsewhere (with the name the
    person gave, for a household), or not known (neither)."""

    role: PlaceRole
    township: Region | RegionNode | None
    is_elsewhere: bool
    elsewhere_name: str | None = None

    @property
    def is_known(self) -> bool:
        return self.township is not None or self.is_elsewhere


class PlacesHeld(Protocol):
    """What a person's places are made of: a Person, or its columns read as plain values."""

    township_id: int | None
    household_elsewhere: str | None
    residence_township_id: int | None
    residence_elsewhere: bool | None
    job_township_id: int | None
    job_elsewhere: bool | None


def places_among(person: PlacesHeld,
                 regions: Mapping[int, Region | RegionNode]) -> tuple[Place, Place, Place]:
    """The person's household, residence and job-seeking place, in that order, their townships
    found by id in ``regions``, read beforehand (models.regions.with_parents)."""
    household, residence, job = (regions.get(person.township_id),
                                 regions.get(person.residence_township_id),
                                 regions.get(person.job_township_id))
    return (
        Place(PlaceRole.HOUSEHOLD, household, person.household_elsewhere is not None,
              person.household_elsewhere),
        Place(PlaceRole.RESIDENCE, residence, bool(person.residence_elsewhere)),
        Place(PlaceRole.JOB_SEEKING, job, bool(person.job_elsewhere)),
    )


@dataclass(frozen=True)
class PlaceChoices:
    """What a place question offers: the county's townships, in their order, and the county
    (for “not in 罗平县”)."""

    townships: list[Region]
    county: Region | None

    def county_name(self, locale: str) -> str:
        return self.county.display_name(locale) if self.county is not None else ""


def place_choices(db: Session) -> PlaceChoices:
    return PlaceChoices(list(db.scalars(select(Region).where(Region.level == RegionLevel.TOWNSHIP)
                                        .order_by(Region.id))), home_county(db))


def home_county(db: Session) -> Region | None:
    """The county this deployment serves: the one loaded first (its townships are the ones a
    person picks from)."""
    return db.scalar(select(Region).where(Region.level == RegionLevel.COUNTY)
                     .order_by(Region.id).limit(1))


def clean_place(text: str) -> str:
    """A place outside the county as a person names it (province, city, county)."""
    place = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip(" 。.，,")
    if not _PLACE.match(place) or not re.search(r"[\u3400-\u9fffA-Za-z]", place):
        raise InvalidAnswer(reason="place")
    return place


def id_region_hint(number: str) -> str | None:
    """Where an ID number was first issued (province and county, from GB/T 2260 as
    python-stdnum ships it), e.g. 贵州省盘县: a suggestion for the household's place, never the
    answer. None when the code is not known."""
    parts = numdb.get("cn/loc").info(number[:6])
    # A code renamed over the years lists each name with its years; the last is today's.
    names = {key: _YEARS.sub("", value.split(",")[-1]) for _, info in parts
             for key, value in info.items()}
    province, county = names.get("province"), names.get("county")
    if not province:
        return None
    if not county or county == province:
        return province
    return province + county

"""The one vocabulary of skill levels (技能等级): the national five grades and their older names.

初级工 is 五级, 中级工 四级, 高级工 三级, 技师 二级, 高级技师 一级 (the national occupational skill
standards name each grade both ways). A course file, a clerk or an old row may write either, so
everything that compares or prices levels reads them through this module: claiming (QJ2019
(十六) "同一职业同一等级不可重复享受"), eligibility's cap, settlement and claims' rates, and
course import, which stores the name of ``GRADES`` (the catalogue's spelling).

Text that names no grade (for example 特级) is kept as written and compared as written: it is
not a grade of the national standard, and settlement finds no rate for it.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grade:
    number: int  # 5 (初级工/五级) … 1 (高级技师/一级)
    name: str  # the catalogue's spelling, stored on courses and keyed in settlement_rates
    other_names: tuple[str, ...]


GRADES: tuple[Grade, ...] = (
    Grade(5, "初级工", ("初级", "五级", "5级", "国家职业资格五级", "职业技能等级五级")),
    Grade(4, "中级工", ("中级", "四级", "4级", "国家职业资格四级", "职业技能等级四级")),
    Grade(3, "高级工", ("高级", "三级", "3级", "国家职业资格三级", "职业技能等级三级")),
    Grade(2, "技师", ("二级", "2级", "国家职业资格二级", "职业技能等级二级")),
    Grade(1, "高级技师", ("一级", "1级", "国家职业资格一级", "职业技能等级一级")),
)
_BY_NAME: dict[str, Grade] = {name: grade for grade in GRADES
                              for name in (grade.name, *grade.other_names)}
# "初级工（五级）", "五级/初级工": both names of one grade, as some files write them.
_PARTS = re.compile(r"[()/、,;]")


def _clean(text: str) -> str:
    # NFKC folds full-width brackets, digits and spaces (（５级）→ (5级)).
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def grade_of(text: str | None) -> Grade | None:
    """The grade a level's text names, or None (blank, or no grade of the standard)."""
    if not text:
        return None
    parts = {part for part in _PARTS.split(_clean(text)) if part}
    grades = {_BY_NAME.get(part) for part in parts}
    if len(grades) != 1 or None in grades:
        return None  # blank, unknown, or two different grades
    return grades.pop()


def level_name(text: str | None) -> str | None:
    """The catalogue's name of a level (初级工 for 五级), the text stripped where it names no
    grade, None when blank."""
    if text is None or not text.strip():
        return None
    grade = grade_of(text)
    return grade.name if grade is not None else text.strip()


def same_level(one: str | None, other: str | None) -> bool:
    """Whether two levels are the same (two blanks are: courses without a level)."""
    return (level_name(one) or "") == (level_name(other) or "")


def accepted_names() -> str:
    """Every name the vocabulary knows, for a message that lists them."""
    return "、".join(f"{g.name}/{'一二三四五'[g.number - 1]}级" for g in GRADES)

"""Courses the bureau publishes from a file (CSV or Excel .xlsx): every row is checked, then all
of them are published, or none.

The first row names the columns, in Chinese or English (COLUMNS). Every problem in the file is
collected as a RowError (data, not words) and raised together as CourseFileRejected; only a file
without any problem is published, in the caller's transaction. The file, its header and its
cells are read as models.clerk_sheet reads every clerk's sheet.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import clerk_sheet
from models.audit import Channel
from models.catalogue import Category, CertificateKind, Course, Institution
from models.clerk_sheet import (
    FILE,
    Cell,
    RowError,
    read_values,
    row_values,
)
from models.clerk_sheet import CellRejected as _Rejected
from models.clerk_sheet import day as _day
from models.clerk_sheet import key as _key
from models.clerk_sheet import shown as _shown
from models.clerk_sheet import text as _text
from models.courses import (
    CourseRules,
    CourseSpec,
    PublishOutcome,
    course_rule_breaks,
    course_rules,
    publish_course_spec,
)
from models.errors import CourseFileRejected, CourseRuleBroken
from models.levels import accepted_names, grade_of
from models.regions import Region, RegionLevel

logger = logging.getLogger(__name__)

MAX_ROWS = 2000


@dataclass(frozen=True)
class ImportResult:
    new: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class Known:
    """What rows may refer to, each by any of its accepted keys (see _key)."""

    institutions: dict[str, str]  # code or name → code
    categories: dict[str, str]  # code, name or number → code
    townships: dict[str, str]  # code or name → code
    course_codes: frozenset[str]  # courses published already


Parser = Callable[[Cell, Known], Any]


@dataclass(frozen=True)
class Column:
    name: str  # the English header, and the field it fills
    zh: str  # the Chinese header
    parse: Parser  # reads a cell that is not blank
    is_required: bool = True  # the column must be there and filled in
    default: Any = None  # the value of a blank cell in a column that is not required


@dataclass(frozen=True)
class Sheet:
    columns: tuple[Column | None, ...]  # by position; None for a blank header cell
    rows: tuple[tuple[int, tuple[Cell, ...]], ...]  # (row number, cells), blank rows left out


# --- reading cells ---------------------------------------------------------------------------

def _plain(number: float | int | Decimal) -> int | float | str:
    """A number as a message shows it: 9 rather than 9.0."""
    if isinstance(number, Decimal):
        return str(number.normalize()) if number % 1 else int(number)
    return int(number) if float(number).is_integer() else round(float(number), 2)


def _decimal(cell: Cell, code: str) -> Decimal:
    if isinstance(cell, bool | datetime | date | time):
        raise _Rejected(code, value=_shown(cell))
    text = _key(_text(cell)).replace(",", "").replace(" ", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _Rejected(code, value=_shown(cell)) from None
    if not number.is_finite():
        raise _Rejected(code, value=_shown(cell))
    return number


def _within(number: Decimal, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise _Rejected("too_small", limit=minimum, value=_plain(number))
    if maximum is not None and number > maximum:
        raise _Rejected("too_large", limit=maximum, value=_plain(number))


def _words(limit: int) -> Parser:
    def parse(cell: Cell, known: Known) -> str:
        text = _text(cell)
        if len(text) > limit:
            raise _Rejected("too_long", limit=limit, value=len(text))
        return text

    return parse


def _whole(minimum: int, maximum: int | None) -> Parser:
    def parse(cell: Cell, known: Known) -> int:
        number = _decimal(cell, "not_a_whole_number")
        if number % 1:
            raise _Rejected("not_a_whole_number", value=_shown(cell))
        _within(number, minimum, maximum)
        return int(number)

    return parse


def _degrees(limit: int) -> Parser:
    def parse(cell: Cell, known: Known) -> float:
        number = _decimal(cell, "not_a_number")
        _within(number, -limit, limit)
        return float(number)

    return parse


def _yuan(cell: Cell, known: Known) -> Decimal:
    text = _text(cell).strip("¥￥元 ") if isinstance(cell, str) else cell
    number = _decimal(text, "bad_amount")
    if number < 0 or number >= 10**8 or number != number.quantize(Decimal("0.01")):
        raise _Rejected("bad_amount", value=_shown(cell))
    return number


YES_NO = {"是": True, "否": False, "yes": True, "no": False, "y": True, "n": False,
          "1": True, "0": False, "true": True, "false": False}


def _yes_no(cell: Cell, known: Known) -> bool:
    answer = YES_NO.get(_key(_text(cell)))
    if answer is None:
        raise _Rejected("bad_yes_no", value=_shown(cell))
    return answer


CERTIFICATE_KINDS: dict[str, CertificateKind] = {
    **{kind.value: kind for kind in CertificateKind},
    "职业资格证书": CertificateKind.QUALIFICATION,
    "职业技能等级证书": CertificateKind.SKILL_LEVEL,
    "专项职业能力证书": CertificateKind.SPECIAL_ABILITY,
    "特种作业操作证书": CertificateKind.SPECIAL_OPERATION,
    "培训合格证书": CertificateKind.COMPLETION,
}


def _level(cell: Cell, known: Known) -> str:
    """A skill level under either of its names (五级 or 初级工), stored as the catalogue names
    it: QJ2019 (十六) subsidizes an occupation at a level once, whatever the file calls it."""
    grade = grade_of(_text(cell))
    if grade is None:
        raise _Rejected("unknown_level", value=_shown(cell), names=accepted_names())
    return grade.name


def _one_of(table: Callable[[Known], dict[str, Any]], code: str) -> Parser:
    def parse(cell: Cell, known: Known) -> Any:
        found = table(known).get(_key(_text(cell)))
        if found is None:
            raise _Rejected(code, value=_shown(cell))
        return found

    return parse


PERIOD = re.compile(r"(\d{1,2}):(\d{2})\s*[-~–—〜]\s*(\d{1,2}):(\d{2})")
PERIOD_SEPARATORS = re.compile(r"[;,]")  # after NFKC, which folds ；，～－： to ;,~-:


def _periods(cell: Cell, known: Known) -> tuple[tuple[time, time], ...]:
    text = unicodedata.normalize("NFKC", _text(cell))
    periods = sorted(_period(part.strip(), cell)
                     for part in PERIOD_SEPARATORS.split(text) if part.strip())
    if not periods:
        raise _Rejected("bad_daily", value=_shown(cell))
    for (_, ends), (starts, _) in pairwise(periods):
        if starts < ends:
            raise _Rejected("periods_overlap", value=_shown(cell))
    return tuple(periods)


def _period(text: str, cell: Cell) -> tuple[time, time]:
    match = PERIOD.fullmatch(text)
    if not match:
        raise _Rejected("bad_daily", value=_shown(cell))
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    try:
        starts, ends = time(h1, m1), time(h2, m2)
    except ValueError:  # 25:00, 08:61
        raise _Rejected("bad_daily", value=_shown(cell)) from None
    if ends <= starts:
        raise _Rejected("period_ends_first", value=text)
    return starts, ends


COLUMNS: tuple[Column, ...] = (
    Column("code", "课程编号", _words(40)),
    Column("institution", "机构编号", _one_of(lambda k: k.institutions, "unknown_institution")),
    Column("category", "类别", _one_of(lambda k: k.categories, "unknown_category")),
    Column("name", "课程名称", _words(120)),
    Column("name_en", "英文名称", _words(160), is_required=False),  # blank: the Chinese name
    Column("occupation", "工种", _words(60)),
    Column("occupation_en", "工种英文", _words(80), is_required=False),  # blank: the Chinese
    Column("certificate_kind", "证书类型",
           _one_of(lambda _: CERTIFICATE_KINDS, "unknown_certificate_kind")),
    Column("certificate_level", "等级", _level, is_required=False),  # a skill level needs one
    Column("theory_hours", "理论课时", _whole(0, 5000)),
    Column("practice_hours", "实操课时", _whole(0, 5000)),
    Column("capacity", "人数上限", _whole(1, None)),  # the YN2021 caps: check_course_rules
    Column("fee_yuan", "费用", _yuan, is_required=False, default=Decimal(0)),
    # QJ2019 (十七): free training bought by public tender; blank means it was not.
    Column("is_publicly_procured", "公开招标采购", _yes_no, is_required=False, default=False),
    Column("is_entrepreneurship", "创业培训", _yes_no, is_required=False, default=False),
    Column("township", "乡镇", _one_of(lambda k: k.townships, "unknown_township")),
    Column("address", "地址", _words(200)),
    Column("lat", "纬度", _degrees(90), is_required=False),
    Column("lng", "经度", _degrees(180), is_required=False),
    Column("radius_m", "签到半径米", _whole(10, 5000), is_required=False),
    Column("first_day", "开课日期", _day),
    Column("session_days", "上课天数", _whole(1, 366)),
    Column("daily", "每天时段", _periods),
    Column("description", "课程介绍", _words(2000), is_required=False, default=""),
    Column("requires_checkout", "需要签退", _yes_no, is_required=False, default=False),
    # The share is the county's (rule completion_share); 90% unless the class says otherwise.
    Column("completion_percent", "结业出勤比例", _whole(50, 100), is_required=False, default=90),
)
HEADERS: dict[str, Column] = {_key(header): column for column in COLUMNS
                              for header in (column.name, column.zh)}
RULE_FIELDS = {"certificate_kind", "theory_hours", "practice_hours", "capacity",
               "is_entrepreneurship", "first_day", "session_days", "daily"}
# A broken rule (CourseRuleBroken.rule: YN2021 二(七), or the county's course_rules) → the
# column it is shown on, and its code
RULE_PROBLEMS: dict[str, tuple[str, str]] = {
    "min_hours": ("theory_hours", "min_hours"),
    "capacity": ("capacity", "max_trainees"),
    "hours_a_day": ("daily", "hours_a_day"),
    "sessions_hours": ("daily", "sessions_hours"),
    "practice_share": ("practice_hours", "practice_share"),
}  # "session_times" cannot reach check_course_rules: _period refuses such a period first


# --- reading the file ------------------------------------------------------------------------

def read_sheet(filename: str, content: bytes) -> Sheet:
    """The header and the rows that are not blank; CourseFileRejected if the file is unusable."""
    columns, body = clerk_sheet.read_sheet(
        filename, content, suffixes=(".csv", ".xlsx"), max_rows=MAX_ROWS, headers=HEADERS,
        columns=COLUMNS, refuse=CourseFileRejected)
    return Sheet(columns=columns, rows=tuple(body))


# --- checking rows ---------------------------------------------------------------------------

def known_references(db: Session) -> Known:
    def index(rows: Iterable[Sequence[Any]]) -> dict[str, str]:
        return {_key(str(key)): row[0] for row in rows for key in row}

    townships = select(Region.code, Region.name).where(Region.level == RegionLevel.TOWNSHIP)
    return Known(
        institutions=index(db.execute(select(Institution.code, Institution.name))),
        categories=index(db.execute(select(Category.code, Category.name, Category.no))),
        townships=index(db.execute(townships)),
        course_codes=frozenset(db.scalars(select(Course.code))),
    )


def check_rows(sheet: Sheet, *, known: Known, today: date,
               rules: CourseRules | None = None) -> list[CourseSpec]:
    """A spec for every row, or CourseFileRejected with every problem of every row. ``rules``:
    the county's course rules (default: the policy file's)."""
    rules = rules if rules is not None else course_rules()
    specs: list[CourseSpec] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    for number, cells in sheet.rows:
        values, row_errors = _read_row(number, sheet.columns, cells, known)
        row_errors += _cross_checks(number, values, row_errors, known, today, rules)
        code = values["code"]
        if code in first_row_of:
            row_errors.append(RowError(number, "code", "duplicate_code",
                                       {"value": code, "first_row": first_row_of[code]}))
        elif code:
            first_row_of[code] = number
        errors += row_errors
        if not row_errors:
            specs.append(_spec(values))
    if errors:
        raise CourseFileRejected(errors=errors)
    return specs


def _read_row(number: int, columns: tuple[Column | None, ...], cells: tuple[Cell, ...],
              known: Known) -> tuple[dict[str, Any], list[RowError]]:
    """Every column's value (its default where blank or unreadable), and the problems."""
    values, problems = read_values(row_values(columns, cells), COLUMNS, known)
    return values, [RowError(number, *problem) for problem in problems]


def _cross_checks(number: int, values: dict[str, Any], errors: list[RowError], known: Known,
                  today: date, rules: CourseRules) -> list[RowError]:
    """Problems between columns; only among columns that could be read."""
    failed = {error.column for error in errors}
    found: list[RowError] = []
    if (values["lat"] is None) != (values["lng"] is None) and not failed & {"lat", "lng"}:
        missing = "lat" if values["lat"] is None else "lng"
        found.append(RowError(number, missing, "lat_lng_pair"))
    # Settlement pays a skill-level certificate by its level: without one it could not be paid.
    if (values["certificate_kind"] is CertificateKind.SKILL_LEVEL
            and values["certificate_level"] is None and "certificate_level" not in failed):
        found.append(RowError(number, "certificate_level", "level_required",
                              {"names": accepted_names()}))
    first_day = values["first_day"]
    if first_day and first_day < today and values["code"] not in known.course_codes:
        found.append(RowError(number, "first_day", "first_day_past",
                              {"value": first_day.isoformat(), "today": today.isoformat()}))
    if not failed & RULE_FIELDS:
        found += _rule_errors(number, _spec(values), rules)
    return found


def _rule_errors(number: int, spec: CourseSpec, rules: CourseRules) -> list[RowError]:
    errors = []
    for broken in course_rule_breaks(spec, rules=rules):
        rule = broken.data["rule"]
        column, code = RULE_PROBLEMS.get(rule, (None, rule))
        if code == "max_trainees" and spec.is_entrepreneurship:
            code = "max_trainees_entrepreneurship"
        params = {name: _plain(value) if isinstance(value, int | float) else value
                  for name, value in broken.data.items() if name != "rule"}
        errors.append(RowError(number, column, code,
                               {**params, "certificate_kind": spec.certificate_kind.value}))
    return errors


def _spec(values: dict[str, Any]) -> CourseSpec:
    """The course a row describes; with a failed column in it, only fit for checking rules."""
    first_day: date = values["first_day"]
    sessions = [(first_day + timedelta(days=n), starts, ends)
                for n in range(values["session_days"]) for starts, ends in values["daily"]]
    return CourseSpec(
        code=values["code"],
        institution_code=values["institution"],
        category_code=values["category"],
        name=values["name"],
        name_en=values["name_en"] or values["name"],
        occupation=values["occupation"],
        occupation_en=values["occupation_en"] or values["occupation"],
        certificate_kind=values["certificate_kind"],
        certificate_level=values["certificate_level"],
        theory_hours=values["theory_hours"],
        practice_hours=values["practice_hours"],
        capacity=values["capacity"],
        fee_yuan=values["fee_yuan"],
        is_publicly_procured=values["is_publicly_procured"],
        is_entrepreneurship=values["is_entrepreneurship"],
        township_code=values["township"],
        address=values["address"],
        lat=values["lat"],
        lng=values["lng"],
        radius_m=values["radius_m"],
        sessions=sessions,
        description=values["description"],
        requires_checkout=values["requires_checkout"],
        completion_share=values["completion_percent"] / 100,
    )


# --- the operation ---------------------------------------------------------------------------

def import_courses(db: Session, *, filename: str, content: bytes, actor_id: int | None,
                   channel: Channel, now: datetime, today: date,
                   rules: CourseRules | None = None) -> ImportResult:
    """Publish every course of a CSV or .xlsx file, or none: CourseFileRejected lists every
    problem of the file. Runs in the caller's transaction. ``rules``: the county's course
    rules (default: the policy file's)."""
    rules = rules if rules is not None else course_rules()
    sheet = read_sheet(filename, content)
    try:
        specs = check_rows(sheet, known=known_references(db), today=today, rules=rules)
    except CourseFileRejected as rejected:
        logger.info("course file rejected: %s problems in %s rows", len(rejected.data["errors"]),
                    len(sheet.rows))
        raise
    try:
        outcomes = Counter(
            publish_course_spec(db, spec=spec, actor_id=actor_id, channel=channel,
                                now=now, rules=rules).outcome
            for spec in specs
        )
    except CourseRuleBroken as broken:  # a class day that trainees attended would vanish
        raise CourseFileRejected(errors=[RowError(FILE, None, broken.data["rule"],
                                                  dict(broken.data))]) from None
    result = ImportResult(new=outcomes[PublishOutcome.CREATED],
                          updated=outcomes[PublishOutcome.UPDATED],
                          unchanged=outcomes[PublishOutcome.UNCHANGED])
    logger.info("course file imported: %s new, %s updated, %s unchanged", result.new,
                result.updated, result.unchanged)
    return result

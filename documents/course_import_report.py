"""A course file's import in words: one line per problem, or the counts, in the reader's language.

Problems are RowError data (models/course_import.py); each code has one message here.
"""

from __future__ import annotations

import logging
from typing import Any

from locales import N_, Translator
from models.catalogue import CertificateKind
from models.course_import import COLUMNS, FILE, ImportResult, RowError
from vocabulary.labels import CERTIFICATES

logger = logging.getLogger(__name__)

PROBLEMS: dict[str, str] = {
    # the file
    "unknown_extension": N_("only .csv and .xlsx files can be imported, not “%(ext)s”; in Excel, "
                            "save it as “CSV UTF-8” or “Excel Workbook (.xlsx)”"),
    "bad_encoding": N_("the text is neither UTF-8 nor GB18030; in Excel, save it as “CSV UTF-8”"),
    "unreadable_csv": N_("it could not be read as a CSV file"),
    "unreadable_xlsx": N_("it could not be read as an Excel workbook (.xlsx)"),
    "no_header": N_("the first row must name the columns (课程编号, 机构编号, … or code, "
                    "institution, …)"),
    "no_rows": N_("there are no courses below the first row"),
    "too_many_rows": N_("at most %(limit)s courses can be imported at once; split the file"),
    # the first row
    "unknown_column": N_("this column is not one the import knows; rename or remove it"),
    "duplicate_column": N_("this column appears twice"),
    "missing_column": N_("this column is missing from the first row"),
    # a cell
    "required": N_("this must be filled in"),
    "too_long": N_("at most %(limit)s characters; this has %(value)s"),
    "not_a_number": N_("“%(value)s” is not a number"),
    "not_a_whole_number": N_("“%(value)s” is not a whole number"),
    "too_small": N_("must be at least %(limit)s; this row has %(value)s"),
    "too_large": N_("must be at most %(limit)s; this row has %(value)s"),
    "bad_amount": N_("“%(value)s” is not an amount in yuan (0 or blank means free)"),
    "bad_yes_no": N_("“%(value)s” should be 是 or 否 (yes or no)"),
    "bad_date": N_("“%(value)s” is not a date like 2026-12-01"),
    "bad_daily": N_("“%(value)s” is not a list of class times like 08:30-12:30;14:00-18:00"),
    "period_ends_first": N_("the period “%(value)s” ends before it starts"),
    "periods_overlap": N_("the periods “%(value)s” overlap"),
    "unknown_institution": N_("no institution has the code “%(value)s”"),
    "unknown_category": N_("“%(value)s” is not a category (its code, its name or its number "
                           "1–12)"),
    "unknown_township": N_("“%(value)s” is not a township of the county (its code or its "
                           "Chinese name)"),
    "unknown_level": N_("“%(value)s” is not a skill level; write one of %(names)s"),
    "unknown_certificate_kind": N_("“%(value)s” is not a certificate type (职业资格证书, "
                                   "职业技能等级证书, 专项职业能力证书, 特种作业操作证书 or "
                                   "培训合格证书)"),
    # between cells and rows
    "duplicate_code": N_("the course code “%(value)s” is also on row %(first_row)s"),
    "lat_lng_pair": N_("give both latitude and longitude, or neither"),
    "first_day_past": N_("the first day, %(value)s, is before today (%(today)s)"),
    "level_required": N_("a skill-level certificate course needs its level: one of %(names)s"),
    # YN2021 二(七)
    "min_hours": N_("a %(certificate)s course needs at least %(limit)s hours; this row has "
                    "%(value)s (YN2021 二(七))"),
    "max_trainees": N_("a class may take at most %(limit)s trainees; this row has %(value)s "
                       "(YN2021 二(七))"),
    "max_trainees_entrepreneurship": N_("an entrepreneurship class may take at most %(limit)s "
                                        "trainees; this row has %(value)s (YN2021 二(七))"),
    "hours_a_day": N_("at most %(limit)s class hours a day; this timetable has %(value)s "
                      "(YN2021 二(七))"),
    "sessions_hours": N_("the class times add up to %(value)s hours, but theory and practice "
                         "hours to %(limit)s"),
    # the county's course_rules (policy.yaml), citing the county's basis
    "practice_share": N_("practice must be at least %(limit)s%% of the hours; this row has "
                         "%(practice)s practice hours of %(hours)s (%(value)s%%) (%(source)s)"),
    "session_has_attendance": N_("course %(value)s has attendance on %(day)s; a class day "
                                 "trainees attended cannot be moved or removed by an import"),
}
UNKNOWN_PROBLEM = N_("problem “%(code)s”")

ZH_HEADERS = {column.name: column.zh for column in COLUMNS}


def rejection_lines(errors: list[RowError], t: Translator) -> list[str]:
    """What a rejected file's importer reads: that nothing was saved, then every problem."""
    return [t._("Nothing was imported; correct these problems and import the file again:"),
            *(problem_line(error, t) for error in errors)]


def problem_line(error: RowError, t: Translator) -> str:
    problem = t._(PROBLEMS.get(error.code, UNKNOWN_PROBLEM), **_params(error, t))
    if error.row == FILE:
        return t._("File: %(problem)s", problem=problem)
    if error.column is None:
        return t._("Row %(row)s: %(problem)s", row=error.row, problem=problem)
    return t._("Row %(row)s, %(column)s: %(problem)s", row=error.row,
               column=_column(error.column, t), problem=problem)


def summary_line(result: ImportResult, t: Translator) -> str:
    return t._("Courses imported: %(new)s new, %(updated)s updated, %(unchanged)s unchanged.",
               new=result.new, updated=result.updated, unchanged=result.unchanged)


def _params(error: RowError, t: Translator) -> dict[str, Any]:
    params: dict[str, Any] = {"code": error.code, **error.params}
    if "certificate_kind" in params:
        params["certificate"] = t._(CERTIFICATES[CertificateKind(params["certificate_kind"])])
    return params


def _column(name: str, t: Translator) -> str:
    """The header as the reader's version of the template spells it; unknown ones as written."""
    return name if t.locale.startswith("en") else ZH_HEADERS.get(name, name)

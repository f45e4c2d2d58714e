"""Fixtures of the bureau desk: desk users and signing in (issue 8).

``desk_client(DeskRole.ADMIN)`` makes a desk user in the test's transaction and signs in
through the real form (with the CSRF token read from it), returning a Flask test client of its
own: several roles can be signed in side by side in one test. ``form_token(html)`` reads the
CSRF token out of any desk page, for a test that posts a desk form."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from models.audit import Channel
from models.catalogue import Course, Institution
from models.catalogue import Intent as WorkIntent
from models.demo import DEMO_STAFF_INSTITUTION
from models.desk import DeskRole, DeskUser, create_desk_user
from models.followups import FollowUp, WorkAfter
from models.persons import ConsentHow
from models.regions import Region, RegionLevel
from models.registration import RegistrationForm, register
from models.vouchers import claim_voucher
from tests.factories import Setup, attend_and_complete, id_number, redeem

DESK_PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_numbers = itertools.count(1)


def form_token(html: bytes | str) -> str:
    """The CSRF token of the (first) form on a desk page."""
    text = html.decode() if isinstance(html, bytes) else html
    found = _TOKEN.search(text)
    assert found, "no CSRF token on this page"
    return found.group(1)


EXPORT_WHY = "年度补贴资金核查"  # the reason an admin gives for full ID numbers


def ask_export(client: FlaskClient, kind: str, value: str, *, full_ids: bool = False,
               reason: str | None = None, county: str | None = None):
    """Send the desk's exports form; a file with full ID numbers (asked for, or always: the
    provincial file) says why (EXPORT_WHY, unless ``reason`` says otherwise); ``county``, a
    county's code, as the form's county select sends it. Returns the POST's response: 303 to
    the job's page when the export is queued."""
    page = client.get("/admin/exports")
    data = {"kind": kind, "value": value, "csrf_token": form_token(page.data)}
    if county is not None:
        data["county"] = county
    if full_ids:
        data["full_ids"] = "1"
    if reason is None and (full_ids or kind == "provincial"):
        reason = EXPORT_WHY
    if reason is not None:
        data["reason"] = reason
    return client.post("/admin/exports", data=data)


def sign_in(client: FlaskClient, username: str, password: str = DESK_PASSWORD):
    """Open the sign-in form and send it, as a person would; returns the POST's response."""
    page = client.get("/admin/login")
    return client.post("/admin/login", data={"username": username, "password": password,
                                             "csrf_token": form_token(page.data)})


@pytest.fixture
def make_desk_user(sessions, clock) -> Callable[..., DeskUser]:
    """``make_desk_user(role, username=…, institution_code=…, password=…)``."""

    def make(role: DeskRole = DeskRole.ADMIN, *, username: str | None = None,
             institution_code: str | None = None,
             password: str = DESK_PASSWORD) -> DeskUser:
        if role is DeskRole.INSTITUTION and institution_code is None:
            institution_code = DEMO_STAFF_INSTITUTION
        with sessions.begin() as db:
            return create_desk_user(
                db, username=username or f"{role.value}-{next(_numbers)}", password=password,
                role=role, institution_code=institution_code, now=clock.now())

    return make


@pytest.fixture
def desk_client(app, make_desk_user) -> Callable[..., FlaskClient]:
    """``desk_client(role, institution_code=None)``: a test client signed in with that role;
    ``client.desk_user`` is the user."""

    def signed_in(role: DeskRole = DeskRole.ADMIN, *, institution_code: str | None = None,
                  username: str | None = None) -> FlaskClient:
        user = make_desk_user(role, username=username, institution_code=institution_code)
        client = app.test_client()
        response = sign_in(client, user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        client.desk_user = user
        return client

    return signed_in


@pytest.fixture
def second_county(sessions) -> None:
    """A province's deployment, as issue 19 has it: beside the demo's 罗平县 a second county
    of 曲靖市 (师宗县, with its township 丹凤街道) and a county of another prefecture (昆明市
    安宁市)."""
    with sessions.begin() as db:
        qujing = db.scalar(select(Region).where(Region.code == "qujing"))
        shizong = Region(code="shizong", name="师宗县", name_en="Shizong",
                         level=RegionLevel.COUNTY, parent=qujing)
        kunming = Region(code="kunming", name="昆明市", name_en="Kunming",
                         level=RegionLevel.PREFECTURE, parent=qujing.parent)
        db.add_all([shizong, kunming,
                    Region(code="danfeng", name="丹凤街道", name_en="Danfeng",
                           level=RegionLevel.TOWNSHIP, parent=shizong),
                    Region(code="anning", name="安宁市", name_en="Anning",
                           level=RegionLevel.COUNTY, parent=kunming)])


# --- something to count: trainees and vouchers made through the domain ----------------------


@dataclass
class Made:
    person_id: int
    openid: str
    id_number: str
    phone: str
    voucher_id: int
    number: str


class Activity(Setup):
    """Trainees registered and vouchers claimed, redeemed, completed and followed up through
    the domain functions, as the bot and institution staff would make them."""

    staff_openid = "o-desk-staff-{}"

    def __init__(self, sessions, services, clock) -> None:
        super().__init__(services, sessions, clock)
        self._seq = itertools.count(101)

    def trainee(self, township: str = "luoxiong",
                name: str = "王小明") -> tuple[int, str, str, str]:
        n = next(self._seq)
        openid, number, phone = f"o-desk-{n}", id_number(seq=f"{n:03d}"), f"139{n:08d}"
        form = RegistrationForm(name=name, id_number=number, phone=phone, township_code=township,
                                intent=WorkIntent.LOCAL)
        person = self.run(register, vault=self.services.vault, form=form, openid=openid,
                          consent=ConsentHow.WECHAT, channel=Channel.WECHAT,
                          now=self.clock.now(), today=self.clock.today())
        return person.id, openid, number, phone

    def voucher(self, course_code: str, *, township: str = "luoxiong", name: str = "王小明",
                to: str = "issued", certified: bool = True, work: WorkAfter | None = None
                ) -> Made:
        """A voucher taken ``to`` "issued", "redeemed" or "completed" (with or without a
        certificate), and, with ``work``, an answered follow-up a month after."""
        person_id, openid, number, phone = self.trainee(township, name)
        now = self.clock.now()
        course = self.run(lambda db: db.scalar(select(Course).where(
            Course.code == course_code)))
        voucher = self.run(claim_voucher, openid=openid, course_id=course.id,
                           channel=Channel.WECHAT, now=now, today=self.clock.today())
        made = Made(person_id, openid, number, phone, voucher.id, voucher.number)
        if to in ("redeemed", "completed"):
            staff = self.staff_of(self.run(lambda db: db.get(Institution,
                                                             course.institution_id).code))
            redeem(self.services, voucher_id=voucher.id, staff_openid=staff, now=now)
            if to == "completed":
                attend_and_complete(self.services, staff_openid=staff,
                                    voucher_number=voucher.number, now=now,
                                    certificate_no=f"C{voucher.id:08d}" if certified else None)
        if work is not None:
            self.answered(made, course.id, work)
        return made

    def answered(self, made: Made, course_id: int, work: WorkAfter) -> None:
        """A follow-up answered (the follow-up dialogue is another part's; this is its row)."""
        now = self.clock.now()
        with self.sessions.begin() as db:
            db.add(FollowUp(voucher_id=made.voucher_id, person_id=made.person_id,
                            course_id=course_id, round_months=1, due_on=self.clock.today(),
                            asked_at=now, answered_at=now, work=work, channel=Channel.WECHAT))


@pytest.fixture
def activity(sessions, services, clock) -> Activity:
    return Activity(sessions, services, clock)

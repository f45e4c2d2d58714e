"""The demo that lives (issue 17): a year of history in the demo county, made the same way on
every run, that keeps every rule the real operations keep and gives every desk page and export
figures; and a class whose check-in is open whenever the demo server starts.

The history is loaded once per backend into a database of its own (it takes a while), then each
test runs in a transaction that is rolled back, like the rest of the suite."""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from itertools import pairwise
from pathlib import Path

import fakeredis
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from cli.database import migrate
from devtools.devserver import demo_session
from models.attendance import (
    CHECKOUT_AFTER,
    LATE_AFTER,
    LOCATION_FRESH,
    OPENS_BEFORE,
    Attendance,
    MarkHow,
    SpotCheck,
    check_attendance_for_completion,
)
from models.audit import AuditEntry
from models.base import make_engine
from models.cadres import Cadre
from models.catalogue import ClassSession, Course, session_bounds
from models.claims import CLAIMABLE, Claim, ClaimLine
from models.clock import LOCAL_TZ, FrozenClock
from models.courses import MAX_HOURS_A_DAY, MIN_HOURS_FOR_CERTIFICATE
from models.demo import (
    DEMO_DESK_PASSWORD,
    DEMO_OPENIDS,
    DEMO_TODAY_COURSE,
    load_demo,
    load_demo_desk,
)
from models.demo_history import (
    DEMO_SESSION_ACTION,
    HistoryLoaded,
    demo_sessions,
    load_history,
    place_demo_session,
)
from models.demo_plan import ENDED_CLASSES, GRADUATE, OPENID_PREFIX, RUNNING_CLASSES, TRAINEES
from models.followups import FINISHED, FollowUp, add_months
from models.identity import parse_id_number
from models.jobs import JobOpening, JobPush
from models.outbox import Outbox, OutboxStatus
from models.persons import LocationSource, Person
from models.pii import Vault, mask_id
from models.policy import yearly_cap_on
from models.regions import distance_km
from models.vouchers import HOLDING, Settlement, Voucher, VoucherStatus
from runtime.config import Config
from tests.browser import live_server
from tests.conftest import (
    POSTGRES_URL,
    RUN_DB,
    STACKS,
    _admin_postgres,
    _unavailable,
    rolled_back,
)
from tests.desk_fixtures import form_token, sign_in
from tests.wechat_server import WeChatServer
from webhooks.app import create_app
from worker.exports import run_export_jobs

# The suite's morning (conftest's START): the live class's 08:00 session has had its check-in
# closed since 08:30, so the demo placed a session of its own.
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=LOCAL_TZ)
TODAY = NOW.date()
HISTORY_CODES = "lp-%-h%"
ZH = {"Accept-Language": "zh-CN"}
JSON = {"Accept": "application/json"}
LINK = re.compile(r"http://peixun\.test(/p/class/[\w.\-]+)")


@dataclass
class History:
    engine: Engine
    loaded: HistoryLoaded
    vault: Vault


def _load(engine: Engine, vault: Vault) -> HistoryLoaded:
    migrate(engine)
    with sessionmaker(engine).begin() as db:
        load_demo(db, vault=vault, now=NOW, today=TODAY)
        loaded = load_history(db, vault=vault, now=NOW)
        load_demo_desk(db, now=NOW)
    return loaded


@pytest.fixture(scope="module", params=STACKS)
def history(request, tmp_path_factory) -> Iterator[History]:
    """The demo county with its year, on a database of its own."""
    vault = Vault(Config().data_key)
    name = f"{RUN_DB}_history"
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('history') / 'peixun.db'}")
    else:
        admin = _admin_postgres()
        try:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
                connection.execute(text(f"CREATE DATABASE {name}"))
        except Exception as error:  # any failure to reach it means "not here"
            _unavailable("PostgreSQL at " + POSTGRES_URL, error)
        engine = make_engine(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
    yield History(engine, _load(engine, vault), vault)
    engine.dispose()
    if request.param != "sqlite":
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def h_sessions(history) -> Iterator[sessionmaker]:
    yield from rolled_back(history.engine)


@pytest.fixture
def h_db(h_sessions) -> Iterator[Session]:
    with h_sessions() as session:
        yield session


@pytest.fixture
def h_clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def h_app(history, h_sessions, h_clock, fake_wechat):
    fake_wechat.state.reset()
    config = Config(testing=True, wechat_api_base_url=fake_wechat.base_url,
                    wechat_notice_template_id="tpl-notice", public_base_url="http://peixun.test")
    return create_app(config, engine=history.engine, sessions=h_sessions,
                      kv=fakeredis.FakeRedis(decode_responses=True), clock=h_clock)


@pytest.fixture
def h_services(h_app):
    return h_app.extensions["peixun"]


@pytest.fixture
def desk(h_app):
    """A client signed in to the desk as one of the demo's desk users."""

    def signed_in(username: str = "demo-admin"):
        client = h_app.test_client()
        assert sign_in(client, username, DEMO_DESK_PASSWORD).status_code == 302
        return client

    return signed_in


@pytest.fixture
def h_wechat(h_app, h_clock) -> WeChatServer:
    return WeChatServer(h_app.test_client(), token=h_app.extensions["peixun"].config.wechat_token,
                        clock=h_clock)


def page(client, url: str) -> str:
    response = client.get(url, headers=ZH)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def history_courses(db: Session) -> list[Course]:
    return list(db.scalars(select(Course).where(Course.code.like(HISTORY_CODES))
                           .order_by(Course.starts_on)))


# --- a year of it ----------------------------------------------------------------------------

def test_the_demo_county_has_a_year_behind_it(h_db, history):
    courses = history_courses(h_db)
    ended = [c for c in courses if c.ends_on < TODAY]
    assert len(ended) == ENDED_CLASSES
    assert len(courses) - len(ended) == RUNNING_CLASSES
    assert (TODAY - courses[0].starts_on).days >= 330  # about a year
    trainees = h_db.scalar(select(func.count(Person.id)).where(
        Person.openid.like(f"{OPENID_PREFIX}%"), Person.registered_at.is_not(None)))
    assert trainees >= TRAINEES
    by_status = dict(h_db.execute(select(Voucher.status, func.count(Voucher.id))
                                  .join(Voucher.course).where(Course.ends_on < TODAY)
                                  .group_by(Voucher.status)).all())
    took_part = sum(by_status.get(s, 0) for s in (VoucherStatus.REDEEMED, *FINISHED))
    finished = sum(by_status.get(s, 0) for s in FINISHED)
    assert 0.85 <= finished / took_part <= 0.97  # completions about 90%
    assert by_status[VoucherStatus.SETTLED] and by_status[VoucherStatus.EXPIRED]
    assert by_status[VoucherStatus.CANCELLED]
    claims = h_db.scalars(select(Claim)).all()
    assert len(claims) >= 0.9 * ENDED_CLASSES - 3
    assert sum(1 for c in claims if c.paid_at) >= 0.75 * len(claims)
    assert sum(c.total_yuan for c in claims) > 100_000
    assert h_db.scalar(select(func.count(Settlement.id))) > 5
    answered = dict(h_db.execute(select(FollowUp.round_months, func.count(FollowUp.id))
                                 .where(FollowUp.work.is_not(None))
                                 .group_by(FollowUp.round_months)).all())
    assert answered[1] > 300 and answered[6] > 150
    assert h_db.scalar(select(func.count(SpotCheck.id))) >= 0.8 * len(courses)
    assert history.loaded.marks > 10_000


def test_a_job_opening_reached_the_trainees_it_matches(h_db):
    pushes = Counter(h_db.execute(select(JobPush.job_id, Outbox.status)
                                  .join(Outbox, Outbox.id == JobPush.outbox_id)).all())
    jobs = h_db.scalars(select(JobOpening).order_by(JobOpening.created_at)).all()
    assert len(jobs) == 3
    older, newest = jobs[:2], jobs[-1]
    for job in older:  # went out at the time
        assert pushes[(job.id, OutboxStatus.SENT)] > 30
    # the newest is on its way: the demo server's worker sends it to the fake WeChat
    assert pushes[(newest.id, OutboxStatus.PENDING)] > 30
    graduate = h_db.scalar(select(Person).where(Person.openid == GRADUATE))
    assert h_db.scalar(select(JobPush.id).where(JobPush.job_id == newest.id,
                                                JobPush.person_id == graduate.id))


# --- every desk page shows figures ------------------------------------------------------------

def _headline(html: str, measure: str) -> int:
    found = re.search(rf'data-measure="{measure}"><span class="n">(\d+)</span>', html)
    assert found, measure
    return int(found.group(1))


def _total_row(html: str) -> list[str]:
    row = html.split('id="total"', 1)[1].split("</tr>", 1)[0]
    return re.findall(r'<td class="num[^"]*">([^<]*)', row)


def test_the_dashboard_shows_the_year_s_figures(desk):
    html = page(desk(), "/admin/dashboard")
    figures = {m: _headline(html, m) for m in
               ("registered", "redeemed", "completed", "certified", "employed")}
    assert figures["registered"] > figures["redeemed"] > figures["completed"] > 300
    assert figures["completed"] > figures["certified"] > 0 and figures["employed"] > 100
    assert html.count("<rect") > 20  # the chart's bars
    # an institution sees its own, and has some
    own = page(desk("demo-zhongzhi"), "/admin/dashboard")
    assert 0 < _headline(own, "completed") < figures["completed"]


def test_the_list_behind_a_figure_has_its_people(desk):
    html = page(desk(), "/admin/list?measure=employed")
    assert html.count("**********") >= 50  # a full page of masked ID numbers


def test_the_follow_up_page_shows_employment_after_training(desk):
    cells = _total_row(page(desk(), "/admin/followups"))
    redeemed, completed, rate, certified, _, answered, employed = (cells[i] for i in range(7))
    assert int(redeemed) > int(completed) > int(certified) > 0
    assert int(answered) > int(employed) > 0
    assert re.fullmatch(r"(8\d|9\d)%", rate)
    by_category = page(desk(), "/admin/followups?by=category&round=6")
    assert int(_total_row(by_category)[5]) > 0  # six-month answers too


def test_the_jobs_page_shows_who_each_opening_reached(desk):
    html = page(desk(), "/admin/jobs")
    pushed = [int(n) for n in re.findall(r'<td class="num pushed">(\d+)', html)]
    sent = [int(n) for n in re.findall(r'<td class="num sent">(\d+)', html)]
    assert len(pushed) == 3 and min(pushed) > 30
    assert sorted(sent)[0] == 0 and sum(n > 0 for n in sent) == 2  # the newest: on its way


def test_the_oversight_page_flags_what_an_inspector_should_look_at(desk):
    html = page(desk(), "/admin/oversight")
    assert "lp-2026-h" in html
    assert re.search(r'data-flag="manual">\d+% ⚠', html)  # a class with many marks by hand
    assert re.search(r'class="num flag" data-flag="burst">[1-9]', html)  # one phone, six scans
    assert re.search(r'class="num flag" data-flag="extra_scans">[1-9]', html)


def _export(client, services, kind: str, value: str):
    """Asked for on the desk, made by the worker's step, downloaded: the workbook."""
    form = client.get("/admin/exports")
    asked = client.post("/admin/exports", data={"kind": kind, "value": value,
                                                "csrf_token": form_token(form.data)})
    assert asked.status_code == 303, asked.get_data(as_text=True)
    assert run_export_jobs(services) == 1
    status = client.get(asked.headers["Location"], headers=JSON).get_json()
    assert status["status"] == "done", status
    return load_workbook(io.BytesIO(client.get(status["download"]).data))


def _rows(sheet) -> list[tuple]:
    return [row for row in sheet.iter_rows(values_only=True) if any(v is not None for v in row)]


def test_the_ledgers_have_rows_hours_and_money(desk, h_services, h_db):
    admin = desk()
    ledger = _export(admin, h_services, "ledger", "2026Q3").worksheets[0]
    assert len(_rows(ledger)) > 100
    text_of = "\n".join(str(v) for row in _rows(ledger) for v in row if v is not None)
    assert "CL2026" in text_of  # paid by a class's claim
    claimed = h_db.scalar(select(Course.code).join(Claim, Claim.course_id == Course.id)
                          .order_by(Claim.id.desc()).limit(1))
    record = _export(admin, h_services, "class_record", claimed)
    assert len(record.worksheets) >= 3 and len(_rows(record.worksheets[2])) > 100  # marks
    claim = _export(admin, h_services, "claim", claimed)
    assert len(_rows(claim.worksheets[0])) > 10
    progress = _export(admin, h_services, "progress", "2026-10")
    assert len(_rows(progress.worksheets[0])) > 12


def test_the_claims_command_lists_what_waits_and_what_is_overdue(h_app):
    result = h_app.test_cli_runner().invoke(args=["claims", "overdue", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "lp-2026-h" in result.output and "⚠ Claim CL2026" in result.output
    oversight = h_app.test_cli_runner().invoke(args=["attendance", "oversight", "--lang", "en"])
    assert "lp-2026-h" in oversight.output and "check for proxy signing" in oversight.output


def test_the_dashboard_with_a_year_in_chromium(browser, h_app):
    with live_server(h_app) as server:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.goto(server.url + "/admin/")
        tab.fill("#username", "demo-admin")
        tab.fill("#password", DEMO_DESK_PASSWORD)
        tab.click("#sign-in")
        tab.wait_for_selector("svg.chart")
        assert tab.locator("svg.chart rect").count() > 20
        completed = tab.locator('a[data-measure="completed"] span.n').first.inner_text()
        assert int(completed) > 300
        context.close()


# --- the same figures on every run ----------------------------------------------------------

def _figures(db: Session) -> dict[str, object]:
    """What the desk shows, and the names behind it: equal for two loads of one moment."""
    def grouped(*columns):
        # sorted here: the backends put NULL at different ends
        return sorted(tuple(str(v) for v in row) for row in db.execute(
            select(*columns, func.count()).group_by(*columns)).all())

    return {
        "vouchers": grouped(Voucher.status, Voucher.year),
        "numbers": db.scalars(select(Voucher.number).order_by(Voucher.number)).all(),
        "people": sorted(map(str, db.execute(select(Person.openid, Person.name,
                                                    Person.id_masked)).all())),
        "marks": grouped(Attendance.how),
        "hours": str(db.scalar(select(func.sum(Attendance.hours)))),
        "claims": [str(v) for v in db.scalars(select(Claim.total_yuan).order_by(Claim.number))],
        "answers": grouped(FollowUp.round_months, FollowUp.work, FollowUp.rating),
        "outbox": grouped(Outbox.status),
        "pushes": db.scalar(select(func.count(JobPush.id))),
    }


def test_two_loads_at_one_moment_give_the_same_figures(history, h_db, tmp_path, fake_wechat):
    """The second one through the command a demo operator types, on SQLite; the first is the
    module's (SQLite or PostgreSQL): the same year either way."""
    engine = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    migrate(engine)
    app = create_app(Config(testing=True, wechat_api_base_url=fake_wechat.base_url),
                     engine=engine, sessions=sessionmaker(engine, expire_on_commit=False),
                     kv=fakeredis.FakeRedis(decode_responses=True), clock=FrozenClock(NOW))
    result = app.test_cli_runner().invoke(args=["demo", "load", "--history"])
    assert result.exit_code == 0 and "with a year of history" in result.output, result.output
    with sessionmaker(engine)() as again:
        assert _figures(again) == _figures(h_db)
    engine.dispose()


def test_the_history_is_made_up_so_production_never_gets_it(h_app):
    production = replace(h_app.extensions["peixun"].config, env="production")
    app = create_app(production, engine=h_app.extensions["peixun"].engine,
                     sessions=h_app.extensions["peixun"].sessions,
                     kv=fakeredis.FakeRedis(decode_responses=True), clock=FrozenClock(NOW))
    result = app.test_cli_runner().invoke(args=["demo", "load", "--history"])
    assert result.exit_code != 0 and "PEIXUN_ENV=production" in result.output
    assert demo_session(app.extensions["peixun"]) is None


# --- the rules the bulk rows keep -----------------------------------------------------------

def test_every_mark_lies_in_its_session_s_window(h_db):
    """A scan counts from OPENS_BEFORE its start to LATE_AFTER it; a mark by hand from the
    check-in's opening to CHECKOUT_AFTER the end (DX2020 三(六)); none in the future."""
    rows = h_db.execute(select(Attendance, ClassSession).join(
        ClassSession, ClassSession.id == Attendance.session_id)).all()
    assert len(rows) > 10_000
    for mark, session in rows:
        starts, ends = session_bounds(session)
        assert mark.checked_in_at <= NOW and mark.is_present
        if mark.how is MarkHow.SCAN:
            assert starts - OPENS_BEFORE <= mark.checked_in_at <= starts + LATE_AFTER, mark.id
        else:
            assert mark.reason and mark.marked_by_id, mark.id
            assert starts - OPENS_BEFORE <= mark.checked_in_at <= ends + CHECKOUT_AFTER, mark.id
        assert session.opened_at is not None and session.opened_at <= mark.checked_in_at
        assert float(mark.hours) == session.hours


def test_every_mark_is_an_enrolled_trainee_s_from_near_the_class(h_db):
    rows = h_db.execute(select(Attendance, Voucher, Course).join(
        Voucher, Voucher.id == Attendance.voucher_id).join(Course, Course.id == Voucher.course_id)
    ).all()
    sessions = dict(h_db.execute(select(ClassSession.id, ClassSession.course_id)).all())
    for mark, voucher, course in rows:
        assert voucher.person_id == mark.person_id and sessions[mark.session_id] == course.id
        assert voucher.status in (VoucherStatus.REDEEMED, *FINISHED)
        assert voucher.redeemed_at <= mark.checked_in_at
        if mark.how is MarkHow.SCAN:
            assert mark.location_source is LocationSource.WECHAT_EVENT
            metres = distance_km((mark.location_lat, mark.location_lng),
                                 (course.lat, course.lng)) * 1000
            assert 1 < metres <= course.radius_m, mark.id
            assert mark.checked_in_at - LOCATION_FRESH <= mark.located_at <= mark.checked_in_at


def test_every_completion_had_its_share_of_hours_when_it_was_made(h_db):
    """The rule of 结业 (models.attendance), asked at each completion's own moment."""
    finished = h_db.scalars(select(Voucher).where(Voucher.status.in_(FINISHED))).all()
    assert len(finished) > 500
    for voucher in finished:
        last = max(session_bounds(s)[1] for s in voucher.course.sessions)
        assert last < voucher.completed_at <= NOW
        check_attendance_for_completion(h_db, voucher=voucher, now=voucher.completed_at)
        assert bool(voucher.certificate_no) == voucher.certified


def test_claims_of_vouchers_keep_the_caps_seats_and_dates(h_db):
    """QJ2019 (十六): three a year, an occupation and level once; DX2020: never two classes at
    once; YN2021: no more than the seats; a claim before the class starts."""
    held = h_db.scalars(select(Voucher).where(Voucher.status.in_(HOLDING))).all()
    by_person: dict[int, list[Voucher]] = defaultdict(list)
    for voucher in held:
        by_person[voucher.person_id].append(voucher)
        course = voucher.course
        assert voucher.number == f"PX{voucher.year}{voucher.id:06d}"
        assert voucher.year == course.starts_on.year
        assert voucher.claimed_at.astimezone(LOCAL_TZ).date() <= course.starts_on
    for vouchers in by_person.values():
        years = Counter(v.year for v in vouchers)
        assert max(years.values()) <= yearly_cap_on(TODAY)
        levels = [(v.course.occupation, v.course.certificate_level or "") for v in vouchers]
        assert len(levels) == len(set(levels))
        spans = sorted((v.course.starts_on, v.course.ends_on) for v in vouchers)
        assert all(a[1] < b[0] for a, b in pairwise(spans))
    seats = Counter(v.course_id for v in held)
    for course in h_db.scalars(select(Course)):
        assert seats[course.id] <= course.capacity


def test_money_is_paid_only_for_completed_training(h_db):
    for voucher in h_db.scalars(select(Voucher).where(Voucher.status == VoucherStatus.SETTLED)):
        assert voucher.completed_at <= voucher.settled_at and voucher.settlement_id
    lines = h_db.execute(select(ClaimLine, Claim, Voucher).join(
        Claim, Claim.id == ClaimLine.claim_id).join(Voucher, Voucher.id == ClaimLine.voucher_id)
    ).all()
    assert len(lines) > 500
    for _, claim, voucher in lines:
        assert voucher.status in CLAIMABLE and voucher.course_id == claim.course_id
        assert claim.created_at.astimezone(LOCAL_TZ).date() > claim.class_ended_on
        assert voucher.completed_at < claim.created_at
        assert claim.paid_at is None or claim.created_at < claim.paid_at <= NOW


def test_follow_up_answers_come_after_their_question(h_db):
    rows = h_db.execute(select(FollowUp, Voucher, Course).join(
        Voucher, Voucher.id == FollowUp.voucher_id).join(Course, Course.id == Voucher.course_id)
    ).all()
    for followup, voucher, course in rows:
        assert voucher.status in FINISHED
        assert followup.due_on == add_months(course.ends_on, followup.round_months) <= TODAY
        if followup.work is not None:
            assert followup.asked_at is not None
            assert followup.asked_at <= followup.answered_at <= NOW
        if followup.rating is not None:  # only the trainee rates
            assert followup.recorded_by_id is None


def test_people_are_registered_as_registration_would_have_them(h_db, history):
    people = h_db.scalars(select(Person).where(
        Person.openid.like(f"{OPENID_PREFIX}%") | (Person.openid == GRADUATE)
        | Person.registered_by_id.is_not(None))).all()
    assert len(people) > TRAINEES
    cadres = {c.id: c for c in h_db.scalars(select(Cadre))}
    first_claim = dict(h_db.execute(select(Voucher.person_id, func.min(Voucher.claimed_at))
                                    .group_by(Voucher.person_id)).all())
    for person in people:
        number = history.vault.open(person.id_sealed)
        facts = parse_id_number(number, today=person.registered_at.date())
        assert person.id_hash == history.vault.digest(number)
        assert person.id_masked == mask_id(number) and person.sex == facts.sex
        assert history.vault.open(person.phone_sealed)[-4:] == person.phone_masked[-4:]
        assert person.registered_at <= first_claim.get(person.id, NOW)
        if person.referred_by_id is not None:
            assert cadres[person.referred_by_id].bound_at <= person.referred_at


def test_every_change_has_its_audit_row(h_db):
    def audited(action: str) -> set[int]:
        return set(h_db.scalars(select(AuditEntry.target_id).where(AuditEntry.action == action)))

    # the history's (models.demo enrols demo-trainee in the live class without one)
    vouchers = h_db.execute(select(Voucher.id, Voucher.status).join(Voucher.person)
                            .where(Person.openid.not_in(DEMO_OPENIDS))).all()
    assert {v for v, _ in vouchers} <= audited("voucher.claim")
    redeemed = {v for v, s in vouchers if s in (VoucherStatus.REDEEMED, *FINISHED)}
    assert redeemed <= audited("voucher.redeem")
    assert {v for v, s in vouchers if s in FINISHED} <= audited("voucher.complete")
    marks = set(h_db.scalars(select(Attendance.id)))
    assert marks <= audited("attendance.check_in") | audited("attendance.mark")
    answered = set(h_db.scalars(select(FollowUp.id).where(FollowUp.work.is_not(None))))
    assert answered <= audited("followup.answer")


def test_courses_of_the_year_keep_the_yn2021_limits(h_db):
    demo = {s.id for c in h_db.scalars(select(Course)) for s in demo_sessions(h_db,
                                                                              course_id=c.id)}
    live = h_db.scalar(select(Course).where(Course.code == DEMO_TODAY_COURSE))
    for course in [*history_courses(h_db), live]:
        regular = [s for s in course.sessions if s.id not in demo]
        assert sum(s.hours for s in regular) == course.hours, course.code
        days = Counter()
        for session in regular:
            days[session.day] += session.hours
        assert max(days.values()) <= MAX_HOURS_A_DAY
        if course.certificate_kind.value in ("qualification", "skill_level"):
            assert course.hours >= MIN_HOURS_FOR_CERTIFICATE


def test_messages_went_out_when_they_were_sent(h_db):
    fresh = h_db.scalar(select(JobOpening.id).order_by(JobOpening.created_at.desc()).limit(1))
    waiting = set(h_db.scalars(select(JobPush.outbox_id).where(JobPush.job_id == fresh)))
    for row in h_db.scalars(select(Outbox)):
        if row.status is OutboxStatus.SENT:
            assert row.created_at <= row.sent_at <= NOW
        else:
            assert row.status is OutboxStatus.PENDING, row.reason
            assert row.id in waiting or row.created_at > NOW - timedelta(hours=1), row.reason
    unsubscribed = h_db.execute(select(Person.id, Person.unsubscribed_at)
                                .where(Person.unsubscribed_at.is_not(None))).all()
    assert unsubscribed
    for person_id, since in unsubscribed:  # 退订 holds for every broadcast after it
        assert not h_db.scalar(select(Outbox.id).where(
            Outbox.person_id == person_id, Outbox.is_broadcast.is_(True),
            Outbox.created_at > since))


# --- check-in open at any hour -------------------------------------------------------------

@pytest.mark.parametrize("hour, minute", [
    (22, 0),  # the evening: "签到码将于 07:45 在此显示" no more
    (23, 50),  # the day's last minutes: the session stays within the day
    (3, 0),
    (12, 40),  # between the morning and the afternoon session
])
def test_at_any_hour_the_live_class_has_its_check_in_open(h_db, hour, minute):
    moment = datetime.combine(TODAY, time(hour, minute), tzinfo=LOCAL_TZ)
    session = place_demo_session(h_db, now=moment)
    starts = session_bounds(session)[0]
    assert starts - OPENS_BEFORE <= moment <= starts + LATE_AFTER
    assert session.day == TODAY and session.starts < session.ends
    assert session.opened_at == moment and session.course.code == DEMO_TODAY_COURSE
    assert session in demo_sessions(h_db, course_id=session.course_id)
    assert h_db.scalar(select(AuditEntry.id).where(AuditEntry.action == DEMO_SESSION_ACTION,
                                                   AuditEntry.target_id == session.id))
    # starting the server again a minute later finds it open: nothing more is added
    count = len(session.course.sessions)
    assert place_demo_session(h_db, now=moment + timedelta(minutes=1)) is session
    assert len(session.course.sessions) == count


def test_a_regular_session_with_its_check_in_open_is_used_as_it_is(h_db):
    moment = datetime.combine(TODAY, time(12, 50), tzinfo=LOCAL_TZ)  # 13:00's check-in is open
    session = place_demo_session(h_db, now=moment)
    assert session.starts == time(13, 0)
    assert session not in demo_sessions(h_db, course_id=session.course_id)


def _open_class(wechat) -> str:
    answer = wechat.say("demo-staff", "开课")
    found = LINK.search(answer.text)
    assert found, answer.text
    return found.group(1)


def test_the_display_shows_a_code_at_once_and_the_trainee_checks_in(h_app, h_wechat, h_db):
    """At the suite's 09:00 (the regular session's check-in closed at 08:30): the demo session
    the load placed, with trainees of the history checked in already."""
    client = h_app.test_client()
    link = _open_class(h_wechat)
    html = client.get(link).get_data(as_text=True)
    assert "<svg" in html and "挖掘机司机（初级）培训班" in html
    checked_in = int(re.search(r'id="checked-in">(\d+)<', html).group(1))
    enrolled = int(re.search(r'id="enrolled">(\d+)<', html).group(1))
    assert 0 < checked_in < enrolled
    code = client.get(link, headers=JSON).get_json()["qr"]
    course = h_db.scalar(select(Course).where(Course.code == DEMO_TODAY_COURSE))
    h_wechat.report_location("demo-trainee", course.lat + 0.0003, course.lng - 0.0002)
    answer = h_wechat.scan("demo-trainee", "CHECKIN", code)
    assert "签到成功" in answer.text, answer.text
    assert client.get(link, headers=JSON).get_json()["checked_in"] == checked_in + 1


def test_at_ten_in_the_evening_the_demo_server_opens_a_session_to_try(h_app, h_wechat, h_clock,
                                                                      h_services):
    h_clock.set(datetime.combine(TODAY, time(22, 0), tzinfo=LOCAL_TZ))
    session = demo_session(h_services)
    assert (session.starts, session.ends) == (time(22, 10), time(23, 59))
    html = h_app.test_client().get(_open_class(h_wechat)).get_data(as_text=True)
    assert "<svg" in html and "22:10" in html
    assert "签到码将于" not in html


def test_the_readme_tells_how_to_try_each_role():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Try each role in five minutes", 1)[1].split("\n## ", 1)[0]
    for who in ("demo-trainee", "demo-graduate", "demo-staff", "demo-cadre", "demo-admin",
                "demo-zhongzhi", "demo-inspector", "开课", "回访", "招聘"):
        assert who in section, who

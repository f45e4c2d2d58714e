"""A year of history for the demo county, and a class whose check-in is open whenever the demo
server starts: only for the demo (``make run`` into an empty database, or ``flask demo load
--history``), never in production data.

``load_history`` carries out models.demo_plan's plan in the order things happened, with the
clock set to each moment. The operations that decide something run as themselves: publishing
the classes (YN2021's limits), cancelling vouchers, letting the unused ones expire, spot checks
and headcounts, settling (凭券结算), claiming and paying classes (the amounts by
models.eligibility), making and queueing the rounds of follow-up, visits, posting job
openings and pushing them to the trainees they match (one a day), 退订, a cadre's 代报名, the
live class's redemptions and check-ins. What happens by the thousand (registrations, claims,
redemptions, attendance marks, completions, answers) is written in bulk by models.demo_rows,
with the audit and outbox rows of its operation; tests/test_demo_history.py checks that those
rows keep the rules their operations keep.

``place_demo_session`` gives the demo's live class (lp-2026-today) a session starting a few
minutes from now, opened by its institution's staff member, so that the check-in display shows
a code at any hour. Such a session is labelled by an audit row (action ``session.demo``) and
by the demo server's start-up log; the course's regular timetable stays as published."""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from models.attendance import (
    LATE_AFTER,
    OPENS_BEFORE,
    Attendance,
    Inspector,
    Position,
    check_in,
    invite_inspector,
    record_spot_check,
)
from models.audit import AuditEntry, Channel, audit
from models.cadres import Cadre, invite_cadre, register_neighbour
from models.catalogue import ClassSession, Course, Institution, InstitutionStatus, session_bounds
from models.catalogue import Intent as WorkIntent
from models.claims import Claim, make_claim, mark_paid
from models.clock import LOCAL_TZ
from models.codes import RotatingCode
from models.courses import publish_course
from models.demo import DEMO_OPENIDS, DEMO_STAFF_INSTITUTION, DEMO_TODAY_COURSE, read_yaml
from models.demo_plan import (
    CAST_COUNTY_CODE,
    GRADUATE,
    OPENID_PREFIX,
    ROUNDS,
    SEED,
    ClassPlan,
    PersonPlan,
    Plan,
    SeatPlan,
    Upcoming,
    id_number,
    make_plan,
)
from models.demo_rows import (
    DOCUMENTS,
    Holder,
    MarkRow,
    Registration,
    Reply,
    Rows,
    answer_followups,
    ask_followups,
    claim_vouchers,
    complete_vouchers,
    open_sessions,
    redeem_vouchers,
    register_people,
    write_marks,
)
from models.followups import (
    add_months,
    create_due_followups,
    queue_followup_questions,
    record_visit,
)
from models.invitations import bind_by_invitation
from models.jobs import PUSH_DAYS, post_opening, push_due_openings
from models.outbox import Outbox, OutboxStatus, unsubscribe
from models.persons import ConsentHow, LocationSource, Person, meet
from models.pii import Vault
from models.presence import record_headcount
from models.regions import Region, RegionLevel
from models.registration import RegistrationForm, bind_with_code, register
from models.settlement import settle
from models.staff import StaffMember, invite_staff
from models.verification import decide_group
from models.vouchers import Voucher, cancel_voucher, expire_vouchers, redeem_voucher

logger = logging.getLogger(__name__)

HISTORY_FILE = "demo_history.yaml"
DEMO_STAFF = "demo-staff"
DEMO_CADRE = "demo-cadre"
# What labels a demo session (an audit row on it), and how long one lasts.
DEMO_SESSION_ACTION = "session.demo"
DEMO_SESSION_LENGTH = timedelta(hours=2)
# A demo session starts this long after the moment, rounded down to 5 minutes: its check-in
# opens at once (OPENS_BEFORE) and stays open for about LATE_AFTER + this.
DEMO_SESSION_LEAD = timedelta(minutes=10)
# A regular session whose check-in closes within this long is no use to someone about to try.
CHECK_IN_LEFT = timedelta(minutes=15)
LAST_START = time(23, 30)  # a session lies within one day; a later start would cross midnight
# Institutions that settle each voucher soon after it is completed (凭券结算); the others are
# paid by the class's claim only (YN2021 二(八)).
SETTLING = ("lp-xinyuan", "lp-zhongzhi")
# Messages queued in this last stretch before the load stay in the outbox for the worker of
# the demo server to send; older ones went out at the time.
STILL_QUEUED = timedelta(hours=1)
# The live class's session was opened this long before the load; scans came since.
LIVE_SCANS = timedelta(minutes=4)
CHUNK = 500


@dataclass(frozen=True)
class HistoryLoaded:
    persons: int
    classes: int
    vouchers: int
    marks: int
    demo_session_id: int | None


def has_history(db: Session) -> bool:
    return db.scalar(select(Person.id).where(Person.openid == GRADUATE)) is not None


def load_history(db: Session, *, vault: Vault, now: datetime,
                 seed: int = SEED) -> HistoryLoaded | None:
    """A year of history before ``now`` in a database holding the demo (models.demo); None
    when it holds the history already. The same seed and ``now`` give the same figures."""
    if has_history(db):
        return None
    data = read_yaml(HISTORY_FILE)
    plan = make_plan(now=now, seed=seed, data=data, townships=_townships(db),
                     upcoming=_upcoming(db, now))
    replay = Replay(db, vault=vault, plan=plan, data=data, seed=seed)
    with _quietly():
        replay.run()
        # opened a few minutes ago: some trainees of the history have scanned it since
        session = place_demo_session(db, now=now, opened_at=now - LIVE_SCANS)
        replay.check_in_live(session)
    logger.info("demo history loaded: %s people, %s classes, %s vouchers, %s marks",
                len(plan.persons), len(plan.classes), len(replay.vouchers), replay.marks)
    return HistoryLoaded(persons=len(plan.persons), classes=len(plan.classes),
                         vouchers=len(replay.vouchers), marks=replay.marks,
                         demo_session_id=session.id if session else None)


@contextmanager
def _quietly() -> Iterator[None]:
    """The operations log each step (a claim, an evaluation, a push): thousands of lines for a
    year; the load says what it did in one."""
    models_logger = logging.getLogger("models")
    level = models_logger.level
    models_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        models_logger.setLevel(level)


def _townships(db: Session) -> dict[str, tuple[float, float]]:
    return {code: (lat, lng) for code, lat, lng in db.execute(
        select(Region.code, Region.lat, Region.lng).where(Region.level == RegionLevel.TOWNSHIP))}


def _upcoming(db: Session, now: datetime) -> list[Upcoming]:
    today = now.astimezone(LOCAL_TZ).date()
    taken = dict(db.execute(select(Voucher.course_id, func.count(Voucher.id))
                            .group_by(Voucher.course_id)).all())
    courses = db.scalars(select(Course).join(Course.institution)
                         .where(Course.starts_on >= today,
                                Institution.status == InstitutionStatus.ACTIVE)
                         .order_by(Course.starts_on, Course.code)).all()
    return [Upcoming(code=c.code, institution=c.institution.code, starts_on=c.starts_on,
                     ends_on=c.ends_on, capacity=c.capacity,
                     level=(c.occupation, c.certificate_level or ""), taken=taken.get(c.id, 0))
            for c in courses]


# --- the demo session ------------------------------------------------------------------------

def demo_session_times(now: datetime) -> tuple[date, time, time]:
    """A few minutes from now, rounded down to 5 minutes, two hours long, within today."""
    local = now.astimezone(LOCAL_TZ).replace(second=0, microsecond=0)
    base = local.replace(minute=local.minute - local.minute % 5) + DEMO_SESSION_LEAD
    day = local.date()
    starts = min(base.time() if base.date() == day else LAST_START, LAST_START)
    ends = (datetime.combine(day, starts) + DEMO_SESSION_LENGTH).time()
    if ends <= starts:  # past midnight: the day's last minute
        ends = time(23, 59)
    return day, starts, ends


def _check_in_open(session: ClassSession, now: datetime) -> bool:
    """Check-in open now and for a while yet."""
    starts = session_bounds(session)[0]
    return starts - OPENS_BEFORE <= now <= starts + LATE_AFTER - CHECK_IN_LEFT


def demo_sessions(db: Session, *, course_id: int) -> list[ClassSession]:
    """The course's sessions that a demo placed (labelled by their audit row)."""
    labelled = select(AuditEntry.target_id).where(AuditEntry.action == DEMO_SESSION_ACTION,
                                                  AuditEntry.target_type == "class_sessions")
    return list(db.scalars(select(ClassSession).where(ClassSession.course_id == course_id,
                                                      ClassSession.id.in_(labelled))
                           .order_by(ClassSession.day, ClassSession.starts)))


def place_demo_session(db: Session, *, now: datetime,
                       opened_at: datetime | None = None) -> ClassSession | None:
    """The session of the demo's live class whose check-in is open now, opened by the
    institution's demo staff member (at ``opened_at``, default now): a regular one if its
    check-in is open for a while yet, else a demo session placed for now (a demo session of
    today that nobody attended is moved rather than another added). None when the demo is
    not loaded."""
    course = db.scalar(select(Course).where(Course.code == DEMO_TODAY_COURSE)
                       .options(selectinload(Course.sessions)))
    staff = db.scalar(select(StaffMember).join(StaffMember.person)
                      .where(Person.openid == DEMO_STAFF))
    if course is None or staff is None:
        return None
    session = next((s for s in course.sessions if _check_in_open(s, now)), None)
    if session is None:
        session = _demo_session(db, course, now)
    if session.opened_at is None:
        opened_at = opened_at or now
        session.opened_at, session.opened_by_id = opened_at, staff.person_id
        audit(db, actor_id=staff.person_id, channel=Channel.WECHAT, action="session.open",
              target=session, after={"course": course.code, "day": session.day.isoformat()},
              at=opened_at)
    return session


def _demo_session(db: Session, course: Course, now: datetime) -> ClassSession:
    day, starts, ends = demo_session_times(now)
    taken = {(s.day, s.starts) for s in course.sessions}
    while (day, starts) in taken:  # a regular session starting then: its check-in is closing
        starts = (datetime.combine(day, starts) + timedelta(minutes=5)).time()
    attended = set(db.scalars(select(Attendance.session_id).where(
        Attendance.session_id.in_([s.id for s in course.sessions]))))
    session = next((s for s in demo_sessions(db, course_id=course.id)
                    if s.day == day and s.id not in attended), None)
    if session is None:
        session = ClassSession(day=day, starts=starts, ends=ends)
        course.sessions.append(session)
    session.starts, session.ends, session.opened_at = starts, ends, None
    audit(db, actor_id=None, channel=Channel.CLI, action=DEMO_SESSION_ACTION, target=session,
          after={"course": course.code, "day": day.isoformat(), "starts": starts.isoformat(),
                 "ends": ends.isoformat(), "label": "demo session, not in the timetable"},
          at=now)
    return session


def is_demo_session(db: Session, session: ClassSession) -> bool:
    return session in demo_sessions(db, course_id=session.course_id)


# --- carrying out the plan -------------------------------------------------------------------

class Replay:
    """The plan's events in time order (``now`` set to each event's moment)."""

    def __init__(self, db: Session, *, vault: Vault, plan: Plan, data: dict[str, Any],
                 seed: int) -> None:
        self.db, self.vault, self.plan, self.data = db, vault, plan, data
        self.now = plan.now
        self.since = plan.now - timedelta(days=450)  # before anyone of the plan registers
        self.rng = random.Random(seed + 1)
        self.rows = Rows(db)
        # Codes are shown and read within one event: a key of the load's own is enough.
        self.voucher_codes = RotatingCode(f"history-{seed}", prefix="hv", period_seconds=60)
        self.session_codes = RotatingCode(f"history-{seed}", prefix="hs", period_seconds=30)
        self.queue: list[tuple[datetime, int, Callable[[datetime], None]]] = []
        self.order = itertools.count()
        self.person_ids: dict[int, int] = {}  # plan number -> person id
        self.vouchers: dict[int, tuple[int, str]] = {}  # id(seat) -> (voucher id, number)
        self.seat_of: dict[int, SeatPlan] = {}  # voucher id -> seat
        self.staff: dict[str, tuple[str, int]] = {}  # institution -> (openid, person id)
        self.cadres: list[tuple[int, str]] = []  # (cadre id, openid), the demo's own first
        self.inspector = f"{OPENID_PREFIX}inspector"
        self.courses: dict[str, Course] = {}
        self.bind_codes: dict[int, str] = {}  # a neighbour's plan number -> binding code
        self.job_ids: dict[int, int] = {}  # the data's job number -> the opening's id
        self.fresh_jobs: list[int] = []
        self.marks = 0

    def at(self, moment: datetime | None, act: Callable[[datetime], None]) -> None:
        """Schedule ``act`` for ``moment``, if that is before now."""
        if moment is not None and moment < self.now:
            heapq.heappush(self.queue, (moment, next(self.order), act))

    def run(self) -> None:
        self.set_up()
        self.register_people()
        self.schedule()
        while self.queue:
            moment, _, act = heapq.heappop(self.queue)
            act(moment)
        self.rows.flush()
        self.db.flush()
        self.mark_sent_long_ago()

    # --- the cast --------------------------------------------------------------------------

    def set_up(self) -> None:
        """The demo's staff member and cadre have served since the history began, and the
        catalogue was published three weeks ago; the other institutions' staff, four more
        cadres and an inspector join them."""
        db, since = self.db, self.since
        for person in db.scalars(select(Person).where(Person.openid.in_(DEMO_OPENIDS))):
            person.created_at = min(person.created_at, since)
        for row in db.scalars(select(StaffMember)):
            row.bound_at = min(row.bound_at, since)
        for row in db.scalars(select(Cadre)):
            row.bound_at = min(row.bound_at, since)
        self._backdate_catalogue(self.now - timedelta(days=21))
        demo_staff = db.scalar(select(Person.id).where(Person.openid == DEMO_STAFF))
        self.staff = {DEMO_STAFF_INSTITUTION: (DEMO_STAFF, demo_staff)}
        codes = db.scalars(select(Institution.code)
                           .where(Institution.status == InstitutionStatus.ACTIVE)
                           .order_by(Institution.code)).all()
        for i, code in enumerate(c for c in codes if c != DEMO_STAFF_INSTITUTION):
            openid = f"{OPENID_PREFIX}staff-{code}"
            person_id = self._person(openid, 900 + i)
            token = invite_staff(db, institution_code=code, now=since)
            bind_by_invitation(db, role=StaffMember, person_id=person_id, token=token, now=since)
            self.staff[code] = (openid, person_id)
        demo_cadre = db.scalar(select(Cadre).join(Person, Person.id == Cadre.person_id)
                               .where(Person.openid == DEMO_CADRE))
        self.cadres = [(demo_cadre.id, DEMO_CADRE)]
        for i, row in enumerate(self.data["cadres"]):
            openid = f"{OPENID_PREFIX}cadre-{row['township']}"
            person_id = self._person(openid, 920 + i)
            token = invite_cadre(db, township_code=row["township"], village=row["village"],
                                 now=since)
            cadre = bind_by_invitation(db, role=Cadre, person_id=person_id, token=token, now=since)
            db.flush()
            self.cadres.append((cadre.id, openid))
        bind_by_invitation(db, role=Inspector, person_id=self._person(self.inspector, 940),
                       token=invite_inspector(db, now=since), now=since)

    def _backdate_catalogue(self, published: datetime) -> None:
        ids = select(Course.id).where(Course.published_at >= self.now - timedelta(minutes=1))
        self.db.execute(update(AuditEntry).where(AuditEntry.action == "course.publish",
                                                 AuditEntry.target_id.in_(ids))
                        .values(at=published).execution_options(synchronize_session=False))
        self.db.execute(update(Course).where(Course.id.in_(ids)).values(published_at=published)
                        .execution_options(synchronize_session=False))

    def _person(self, openid: str, n: int) -> int:
        """A registered person of the cast (staff, cadre, inspector); returns their id."""
        rng = random.Random(n)
        form = RegistrationForm(
            name=rng.choice(self.data["surnames"]) + rng.choice(self.data["given_m"])
            + rng.choice(self.data["given_f"]),
            id_number=id_number(date(1975 + n % 20, 1 + n % 12, 1 + n % 27), n, "MF"[n % 2],
                                county=CAST_COUNTY_CODE),
            phone=f"1390874{n:04d}", township_code="luoxiong", intent=WorkIntent.LOCAL)
        meet(self.db, openid=openid, now=self.since)
        return register(self.db, vault=self.vault, form=form, openid=openid,
                        consent=ConsentHow.WECHAT, channel=Channel.WECHAT, now=self.since,
                        today=self.since.date()).id

    def register_people(self) -> None:
        """Everyone who registered through WeChat, at their moments (the cadres' neighbours
        register on paper, as events of their own)."""
        townships = dict(self.db.execute(select(Region.code, Region.id)
                                         .where(Region.level == RegionLevel.TOWNSHIP)).all())
        people = [p for p in self.plan.persons if not p.by_cadre]
        ids = register_people(self.db, vault=self.vault, rows=self.rows, people=[
            Registration(openid=p.openid, name=p.form.name, id_number=p.form.id_number,
                         phone=p.form.phone, township_code=p.form.township_code,
                         township_id=townships[p.form.township_code], intent=p.form.intent,
                         groups=p.form.groups, at=p.registered_at,
                         cadre_id=self.cadres[p.cadre][0] if p.cadre is not None else None,
                         verified_at=p.verify_at) for p in people])
        self.person_ids.update({p.n: ids[p.openid] for p in people})

    # --- the schedule ----------------------------------------------------------------------

    def schedule(self) -> None:
        for person in self.plan.persons:
            self.schedule_person(person)
        for klass in self.plan.classes:
            self.schedule_class(klass)
        upcoming: dict[str, list[SeatPlan]] = {}
        for seat in self.plan.upcoming:
            upcoming.setdefault(seat.code, []).append(seat)
        for code, seats in upcoming.items():
            self.schedule_claims(code, seats)
            for seat in seats:
                self.at(seat.redeem_at, lambda now, seat=seat: self.redeem(seat, now))
        for day in self.followup_days():
            self.at(datetime.combine(day, time(10), tzinfo=LOCAL_TZ), self.followup_round)
        for n, job in enumerate(self.data["jobs"]):
            self.schedule_job(n, job)

    def schedule_person(self, person: PersonPlan) -> None:
        if person.by_cadre:
            self.at(person.registered_at, lambda now: self.register_neighbour(person, now))
            self.at(person.bind_at, lambda now: bind_with_code(
                self.db, vault=self.vault, openid=person.openid,
                code=self.bind_codes[person.n], now=now))
            self.at(person.verify_at, lambda now: self.verify(person, now))
        self.at(person.unsubscribe_at, lambda now: unsubscribe(
            self.db, person_id=self.person_ids[person.n], channel=Channel.WECHAT, now=now))

    def schedule_class(self, klass: ClassPlan) -> None:
        opens = datetime.combine(klass.starts_on - timedelta(days=30), time(9), tzinfo=LOCAL_TZ)
        self.at(opens, lambda now: self.publish(klass, now))
        self.schedule_claims(klass.code, klass.seats)
        first, last = klass.sessions[0], klass.sessions[-1]
        self.at(first.at(-10), lambda now: self.redeem_class(klass, now))
        # the worker's run after the unused vouchers expired (REDEEM_GRACE after the first day)
        self.at(datetime.combine(klass.starts_on + timedelta(days=3), time(0, 30),
                                 tzinfo=LOCAL_TZ), lambda now: expire_vouchers(self.db, now=now))
        self.at(min(last.end + timedelta(minutes=1), self.now - timedelta(seconds=1)),
                lambda now: self.attend(klass, now))
        self.at(last.end + timedelta(minutes=71), lambda now: self.complete_class(klass, now))
        if klass.institution in SETTLING:
            self.at(datetime.combine(klass.ends_on + timedelta(days=1), time(11),
                                     tzinfo=LOCAL_TZ), lambda now: self.settle(klass, now))
        self.at(klass.claim_at, lambda now: make_claim(self.db, course_code=klass.code, now=now))
        self.at(klass.paid_at, lambda now: self.pay(klass, now))

    def schedule_claims(self, code: str, seats: list[SeatPlan]) -> None:
        """The class's claims, written together at the last one's moment, each with its own
        (nothing reads a class's vouchers before it starts but its own cancellations, made
        then with their own moments too, or later as events)."""
        if seats:
            self.at(max(s.claim_at for s in seats), lambda now: self.claim(code, seats, now))

    def cancel(self, seat: SeatPlan, now: datetime) -> None:
        cancel_voucher(self.db, openid=seat.person.openid,
                       voucher_id=self.vouchers[id(seat)][0], now=now)

    def followup_days(self) -> list[date]:
        """The days a round fell due: the worker asked those rounds then."""
        days = {add_months(seat.ends_on, months)
                for klass in self.plan.classes for seat in klass.seats
                if seat.fate == "complete" for months in ROUNDS}
        return sorted(d for d in days if d <= self.plan.today)

    def schedule_job(self, n: int, job: dict[str, Any]) -> None:
        posted = datetime.combine(self.plan.today - timedelta(days=int(job["posted_days_ago"])),
                                  time(9, 30), tzinfo=LOCAL_TZ)
        self.at(posted, lambda now: self.post(n, job, now))
        for day in range(PUSH_DAYS):
            self.at(posted + timedelta(days=day, minutes=30),
                    lambda now: self.push(n, job, now))

    # --- people ----------------------------------------------------------------------------

    def register_neighbour(self, person: PersonPlan, now: datetime) -> None:
        """代报名: the demo's cadre registers a neighbour on paper (consent signed there)."""
        self.bind_codes[person.n] = register_neighbour(
            self.db, vault=self.vault, cadre_openid=DEMO_CADRE, form=person.form, now=now,
            today=now.astimezone(LOCAL_TZ).date())
        self.person_ids[person.n] = self.db.scalar(select(Person.id).where(
            Person.id_hash == self.vault.digest(person.form.id_number)))

    def verify(self, person: PersonPlan, now: datetime) -> None:
        for group in sorted(person.form.groups):
            decide_group(self.db, vault=self.vault, id_number=person.form.id_number,
                         group=group, is_verified=True, document=DOCUMENTS[group],
                         decided_by=None, channel=Channel.CLI, now=now,
                         today=now.astimezone(LOCAL_TZ).date())

    def holder(self, seat: SeatPlan) -> Holder:
        return Holder(person_id=self.person_ids[seat.person.n], openid=seat.person.openid)

    # --- classes ---------------------------------------------------------------------------

    def publish(self, klass: ClassPlan, now: datetime) -> None:
        township = self.db.scalar(select(Region.name).where(Region.code == klass.township))
        site = self.data["site"].format(township=township)
        self.courses[klass.code] = publish_course(
            self.db, spec=klass.spec(site, int(self.data["radius_m"])), actor_id=None,
            channel=Channel.CLI, now=now)
        self.db.flush()

    def course(self, code: str) -> Course:
        if code not in self.courses:
            self.courses[code] = self.db.scalar(select(Course).where(Course.code == code))
        return self.courses[code]

    def claim(self, code: str, seats: list[SeatPlan], now: datetime) -> None:
        numbers = claim_vouchers(self.db, course=self.course(code), rows=self.rows,
                                 claims=[(self.holder(s), s.claim_at) for s in seats])
        for seat in seats:
            self.vouchers[id(seat)] = numbers[self.person_ids[seat.person.n]]
            self.seat_of[self.vouchers[id(seat)][0]] = seat
        for seat in sorted((s for s in seats if s.cancel_at), key=lambda s: s.cancel_at):
            if seat.cancel_at <= now:
                self.cancel(seat, seat.cancel_at)
            else:
                self.at(seat.cancel_at, lambda at, seat=seat: self.cancel(seat, at))

    def redeem_class(self, klass: ClassPlan, now: datetime) -> None:
        redeem_vouchers(self.db, course=self.course(klass.code),
                        staff_person_id=self.staff[klass.institution][1], rows=self.rows,
                        redeemed=[(self.holder(s), self.vouchers[id(s)][0], s.redeem_at)
                                  for s in klass.seats if s.redeem_at is not None])

    def redeem(self, seat: SeatPlan, now: datetime) -> None:
        """One redemption through the real operation (the live class, this morning)."""
        voucher_id = self.vouchers[id(seat)][0]
        institution = self.db.scalar(select(Institution.code).join(Course).join(Voucher)
                                     .where(Voucher.id == voucher_id))
        redeem_voucher(self.db, codes=self.voucher_codes,
                       code=self.voucher_codes.show(voucher_id, now).code,
                       staff_openid=self.staff[institution][0], channel=Channel.WECHAT, now=now)

    def attend(self, klass: ClassPlan, upto: datetime) -> None:
        """The class's sessions opened by staff, its marks, then the inspector's spot check
        and the staff's headcounts (which count the marks made by then)."""
        course = self.course(klass.code)
        sessions = sorted(course.sessions, key=lambda s: (s.day, s.starts))
        staff_person = self.staff[klass.institution][1]
        opened = [(s, plan.at(-20)) for s, plan in zip(sessions, klass.sessions, strict=True)
                  if plan.at(-20) < upto]
        open_sessions(self.db, sessions=opened, staff_person_id=staff_person,
                      course_code=klass.code, rows=self.rows)
        marks = [MarkRow(session=sessions[m.session], person_id=self.person_ids[s.person.n],
                         voucher_id=self.vouchers[id(s)][0], at=m.at, reason=m.reason,
                         lat=m.lat, lng=m.lng, accuracy_m=m.accuracy_m)
                 for s in klass.seats for m in s.marks if m.at <= upto]
        self.marks += write_marks(self.db, marks=marks, staff_person_id=staff_person,
                                  rows=self.rows)
        if klass.spot_check is not None:
            i, moment = klass.spot_check
            present = sum(1 for m in marks if m.session is sessions[i])
            record_spot_check(self.db, session_id=sessions[i].id, openid=self.inspector,
                              present_seen=present, notes="", photo_media_id=None, now=moment)
        for _, moment, counted in klass.headcounts:
            record_headcount(self.db, staff_openid=self.staff[klass.institution][0],
                             counted=counted, now=moment, channel=Channel.WECHAT,
                             course_code=klass.code)

    def complete_class(self, klass: ClassPlan, now: datetime) -> None:
        done = [s for s in klass.seats if s.complete_at is not None]
        complete_vouchers(self.db, course=self.course(klass.code),
                          staff_person_id=self.staff[klass.institution][1], rows=self.rows,
                          completed=[(self.holder(s), self.vouchers[id(s)][0], s.complete_at,
                                      f"{klass.code.upper()}-{self.vouchers[id(s)][0]:06d}"
                                      if s.is_certified else None) for s in done])

    def settle(self, klass: ClassPlan, now: datetime) -> None:
        settle(self.db, institution_code=klass.institution, period_start=klass.ends_on,
               period_end=klass.ends_on, now=now)

    def pay(self, klass: ClassPlan, now: datetime) -> None:
        number = self.db.scalar(select(Claim.number).join(Claim.course)
                                .where(Course.code == klass.code))
        mark_paid(self.db, number=number, now=now)

    # --- follow-up -------------------------------------------------------------------------

    def followup_round(self, now: datetime) -> None:
        """The worker's run of the day: make the rounds that fell due and queue their
        questions (the real operations), which went out at once; then the answers, as they
        came (visits as events of their own)."""
        while create_due_followups(self.db, now=now, rounds=ROUNDS, limit=CHUNK) == CHUNK:
            pass
        while queue_followup_questions(self.db, now=now, limit=CHUNK) == CHUNK:
            pass
        asked = now + timedelta(minutes=1)
        replies = []
        for followup in ask_followups(self.db, asked=asked, rows=self.rows):
            seat = self.seat_of.get(followup.voucher_id)
            answer = seat.answers.get(followup.round_months) if seat else None
            if answer is None or asked + answer.after >= self.now:
                continue
            if answer.by_visit:
                self.at(asked + answer.after, lambda at, s=seat, a=answer: self.visit(s, a, at))
            else:
                replies.append(Reply(followup=followup, at=asked + answer.after,
                                     work=answer.work, rating=answer.rating,
                                     opinion=answer.opinion))
        answer_followups(self.db, replies=replies, rows=self.rows)

    def visit(self, seat: SeatPlan, answer, now: datetime) -> None:
        """A cadre who brought the trainee in, else the institution's staff, visited."""
        cadre = seat.person.cadre
        visitor = self.cadres[cadre][1] if cadre is not None else self.staff[
            seat.klass.institution][0]
        record_visit(self.db, visitor_openid=visitor, number=self.vouchers[id(seat)][1],
                     work=answer.work, channel=Channel.WECHAT, now=now)

    # --- job openings ----------------------------------------------------------------------

    def post(self, n: int, job: dict[str, Any], now: datetime) -> None:
        until = now.astimezone(LOCAL_TZ).date() + timedelta(days=int(job["valid_days"]))
        values = {"employer": job["employer"], "occupation": job["occupation"],
                  "category": job.get("category", ""), "township": job.get("township", ""),
                  "place": job.get("place", ""), "wage": job["wage"],
                  "contact": job["contact"], "valid_until": until}
        opening = post_opening(self.db, values=values, desk_user_id=None, channel=Channel.CLI,
                               now=now, today=now.astimezone(LOCAL_TZ).date())
        self.db.flush()
        self.job_ids[n] = opening.id
        if not job.get("sent"):
            self.fresh_jobs.append(opening.id)

    def push(self, n: int, job: dict[str, Any], now: datetime) -> None:
        """The worker's push run of the day; an older opening's messages went out then."""
        while push_due_openings(self.db, now=now, limit=CHUNK) == CHUNK:
            pass
        if job.get("sent"):
            self.db.execute(update(Outbox).where(
                Outbox.status == OutboxStatus.PENDING,
                Outbox.reason.like(f"job.push:{self.job_ids[n]}:%"))
                .values(status=OutboxStatus.SENT, sent_at=now + timedelta(minutes=1),
                        attempts=1, sent_as="customer")
                .execution_options(synchronize_session=False))

    # --- the end ---------------------------------------------------------------------------

    def mark_sent_long_ago(self) -> None:
        """Messages queued before the last hour went out at the time (the worker would have
        sent them); the newest opening's pushes and the last hour's notices wait for the
        demo server's worker, which sends them to the fake WeChat."""
        waiting = [Outbox.reason.like(f"job.push:{job_id}:%") for job_id in self.fresh_jobs]
        self.db.execute(update(Outbox).where(
            Outbox.status == OutboxStatus.PENDING, Outbox.created_at < self.now - STILL_QUEUED,
            ~or_(false(), *waiting))
            .values(status=OutboxStatus.SENT, sent_at=Outbox.created_at, attempts=1,
                    sent_as="customer").execution_options(synchronize_session=False))

    def check_in_live(self, session: ClassSession | None) -> None:
        """About half of those who enrolled in the live class this morning have scanned the
        demo session's code already (the real check-in): the display counts them."""
        if session is None:
            return
        course = self.db.get(Course, session.course_id)
        starts = session_bounds(session)[0]
        seats = [s for s in self.plan.upcoming
                 if s.code == DEMO_TODAY_COURSE and s.redeem_at is not None]
        opened = max(session.opened_at, starts - OPENS_BEFORE)
        for seat in seats[::2]:
            moment = max(opened, self.now - timedelta(
                seconds=self.rng.randint(10, int(LIVE_SCANS.total_seconds()))))
            lat = course.lat + self.rng.uniform(-4e-4, 4e-4)
            lng = course.lng + self.rng.uniform(-4e-4, 4e-4)
            check_in(self.db, codes=self.session_codes,
                     code=self.session_codes.show(session.id, moment).code,
                     openid=seat.person.openid, now=moment,
                     position=Position(lat=lat, lng=lng, source=LocationSource.WECHAT_EVENT,
                                       at=moment, accuracy_m=25.0))

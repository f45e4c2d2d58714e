"""The plan of the demo county's year of history: who registers, which classes run when, who
takes which class and how each of them fares. Pure Python, drawn from one seeded random
generator, so that the same seed and the same moment give the same plan on every run. Nothing
here touches the database: models.demo_history carries the plan out through the project's own
operations, which check every rule again.

The plan keeps the rules a real year would: a person takes at most three classes a year
(QJ2019 (十六)), never the same occupation and level twice, never two classes at once, never
more people than seats; a trainee who completes attended at least the course's share of hours
(DX2020 三(六)); scans fall inside a session's check-in window; a class is claimed after it
ends (YN2021 二(八))."""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from stdnum.cn import ric

from models.attendance import LATE_AFTER, OPENS_BEFORE
from models.catalogue import CertificateKind
from models.catalogue import Intent as WorkIntent
from models.clock import LOCAL_TZ
from models.courses import CourseSpec
from models.followups import WorkAfter, add_months
from models.persons import Group
from models.registration import RegistrationForm
from models.workdays import add_working_days

logger = logging.getLogger(__name__)

SEED = 17
ENDED_CLASSES = 40
RUNNING_CLASSES = 3
TRAINEES = 600
OPENID_PREFIX = "demo-hist-"
# A trainee of the history with a follow-up question waiting and a job push on its way, for
# the README's five-minute tour.
GRADUATE = "demo-graduate"
GRADUATE_ENDED_DAYS_AGO = 35
COUNTY_CODE = "530324"  # 罗平县: the first six digits of an ID number issued there
# The staff, cadres and inspector of the history came from 曲靖市麒麟区: their numbers never meet
# a trainee's.
CAST_COUNTY_CODE = "530302"
COMPLETION_SHARE = 0.9
ROUNDS = (1, 6)  # follow-up rounds, months after a class's last day (Config.followup_months)
# The institution of the demo's live class: none of its other classes runs today, so that its
# staff's 开课 finds the demo session without naming the course.
LIVE_INSTITUTION = "lp-zhongzhi"
GROUP_SHARES = ((Group.POVERTY_ALLEVIATED, 0.35), (Group.EMPLOYMENT_DIFFICULTY, 0.08),
                (Group.TWO_AFTER, 0.08), (Group.RELOCATED, 0.05), (Group.VETERAN, 0.03),
                (Group.UNEMPLOYED, 0.05), (Group.DISABLED, 0.02))
INTENTS = ((WorkIntent.LOCAL, 0.55), (WorkIntent.PROVINCE, 0.25), (WorkIntent.OUTSIDE, 0.20))
# Where trainees work after training, by the intent they registered (not yet: apart).
WORK_BY_INTENT = {
    WorkIntent.LOCAL: ((WorkAfter.LOCAL, 55), (WorkAfter.SELF_EMPLOYED, 30),
                       (WorkAfter.PROVINCE, 10), (WorkAfter.OUTSIDE, 5)),
    WorkIntent.PROVINCE: ((WorkAfter.PROVINCE, 60), (WorkAfter.LOCAL, 25),
                          (WorkAfter.SELF_EMPLOYED, 10), (WorkAfter.OUTSIDE, 5)),
    WorkIntent.OUTSIDE: ((WorkAfter.OUTSIDE, 75), (WorkAfter.PROVINCE, 15),
                         (WorkAfter.LOCAL, 10)),
}
NOT_YET = {1: 0.14, 6: 0.07}
RATINGS = ((5, 50), (4, 35), (3, 10), (2, 4), (1, 1))
CERTIFIED = {CertificateKind.COMPLETION: 0.98, CertificateKind.SPECIAL_OPERATION: 0.9}
MANUAL_REASONS = ("手机没电", "手机坏了", "忘带手机", "扫码失败，现场确认")
METRES_PER_DEGREE = 111_320


@dataclass
class PersonPlan:
    n: int
    openid: str | None
    form: RegistrationForm
    seats: list[SeatPlan] = field(default_factory=list)
    registered_at: datetime | None = None
    cadre: int | None = None  # index into the cadres (0: the demo's own, demo-cadre)
    by_cadre: bool = False  # registered by the cadre on paper (代报名)
    bind_at: datetime | None = None  # when such a person bound their own WeChat
    verify_at: datetime | None = None  # when the bureau verified the declared groups
    unsubscribe_at: datetime | None = None


@dataclass(frozen=True)
class SessionPlan:
    day: date
    starts: time
    ends: time

    @property
    def hours(self) -> float:
        return (datetime.combine(self.day, self.ends)
                - datetime.combine(self.day, self.starts)).seconds / 3600

    def at(self, minutes: float = 0) -> datetime:
        """The session's start plus ``minutes``, local time."""
        start = datetime.combine(self.day, self.starts, tzinfo=LOCAL_TZ)
        return start + timedelta(minutes=minutes)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.day, self.ends, tzinfo=LOCAL_TZ)


@dataclass(frozen=True)
class Mark:
    """One present mark: a scan from near the class, or by hand with a reason."""

    session: int  # index in the class's sessions
    at: datetime
    reason: str | None = None  # by hand, when given
    lat: float | None = None
    lng: float | None = None
    accuracy_m: float | None = None


@dataclass(frozen=True)
class Answer:
    """How a round of follow-up is answered: by the trainee (``by_visit`` False) or recorded
    by a visitor, ``after`` its question was asked."""

    after: timedelta
    work: WorkAfter
    by_visit: bool = False
    rating: int | None = None
    opinion: str | None = None


@dataclass
class ClassPlan:
    n: int
    kind: dict[str, Any]
    code: str
    township: str
    lat: float
    lng: float
    sessions: list[SessionPlan]
    capacity: int
    seats: list[SeatPlan] = field(default_factory=list)
    spot_check: tuple[int, datetime] | None = None  # (session, when) an inspector came
    headcounts: list[tuple[int, datetime, int]] = field(default_factory=list)
    claim_at: datetime | None = None
    paid_at: datetime | None = None

    @property
    def starts_on(self) -> date:
        return self.sessions[0].day

    @property
    def ends_on(self) -> date:
        return self.sessions[-1].day

    @property
    def institution(self) -> str:
        return self.kind["institution"]

    @property
    def level(self) -> tuple[str, str]:
        return self.kind["occupation"], self.kind.get("certificate_level") or ""

    @property
    def hours(self) -> int:
        return int(self.kind["theory_hours"]) + int(self.kind["practice_hours"])

    def spec(self, address: str, radius_m: int) -> CourseSpec:
        kind = self.kind
        return CourseSpec(
            code=self.code, institution_code=kind["institution"],
            category_code=kind["category"], name=kind["name"], name_en=kind["name_en"],
            occupation=kind["occupation"], occupation_en=kind["occupation_en"],
            certificate_kind=CertificateKind(kind["certificate_kind"]),
            certificate_level=kind.get("certificate_level"),
            theory_hours=int(kind["theory_hours"]), practice_hours=int(kind["practice_hours"]),
            capacity=self.capacity, fee_yuan=Decimal(str(kind.get("fee_yuan", 0))),
            is_entrepreneurship=bool(kind.get("is_entrepreneurship", False)),
            township_code=self.township, address=address, lat=self.lat, lng=self.lng,
            radius_m=radius_m, sessions=[(s.day, s.starts, s.ends) for s in self.sessions],
            completion_share=COMPLETION_SHARE)


@dataclass(frozen=True)
class Upcoming:
    """A course of the catalogue that has not started yet: people sign up for it."""

    code: str
    institution: str
    starts_on: date
    ends_on: date
    capacity: int
    level: tuple[str, str]
    taken: int  # seats already held


@dataclass
class SeatPlan:
    """One claim of a class by a person, and what became of it. ``fate``: cancel (by the
    holder before the class), expire (never came), dropout (came, stopped), complete, or
    enrolled (the class still runs, or has not started)."""

    person: PersonPlan
    code: str
    starts_on: date
    ends_on: date
    level: tuple[str, str]
    claim_at: datetime
    fate: str
    klass: ClassPlan | None = None  # None: a course of the catalogue
    cancel_at: datetime | None = None
    redeem_at: datetime | None = None
    marks: list[Mark] = field(default_factory=list)
    complete_at: datetime | None = None
    is_certified: bool = False
    answers: dict[int, Answer] = field(default_factory=dict)  # round months -> answer


@dataclass
class Plan:
    now: datetime
    persons: list[PersonPlan]
    classes: list[ClassPlan]  # ended and running, by start
    upcoming: list[SeatPlan]  # sign-ups for the catalogue's courses

    @property
    def today(self) -> date:
        return self.now.astimezone(LOCAL_TZ).date()


# --- the plan --------------------------------------------------------------------------------

def make_plan(*, now: datetime, seed: int, data: dict[str, Any],
              townships: dict[str, tuple[float, float]], upcoming: list[Upcoming]) -> Plan:
    """The whole year, drawn from ``seed``: the same arguments give the same plan."""
    rng = random.Random(seed)
    today = now.astimezone(LOCAL_TZ).date()
    taken: set[str] = set()
    persons = [make_person(rng, data, n, today, taken) for n in range(TRAINEES)]
    star = graduate(taken, today)
    everyone = [*persons, star]
    assign_cadres(rng, everyone, data)
    classes = plan_classes(rng, data, today, townships)
    for klass in classes:
        first = star if klass.ends_on == today - timedelta(days=GRADUATE_ENDED_DAYS_AGO) else None
        fill_class(rng, klass, persons, now, first=first)
        plan_class_events(rng, klass, now, data)
    signups = [seat for course in upcoming for seat in sign_up(rng, course, persons, now)]
    for person in everyone:
        plan_person_events(rng, person, now)
    for klass in classes:
        for seat in klass.seats:
            plan_answers(rng, seat, now, data, silent=seat.person is star)
    return Plan(now=now, persons=everyone, classes=classes, upcoming=signups)


# --- people ----------------------------------------------------------------------------------

def _weighted(rng: random.Random, pairs) -> Any:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def id_number(born: date, serial: int, sex: str, *, county: str = COUNTY_CODE) -> str:
    """A GB 11643 number issued in ``county`` (罗平县 by default): the birth date, a serial
    whose last digit is odd for a man and even for a woman, and the check digit."""
    digit = (serial % 5) * 2 + (1 if sex == "M" else 0)
    body = f"{county}{born:%Y%m%d}{serial // 5 % 100:02d}{digit}"
    return body + ric.calc_check_digit(body + "0")


def make_person(rng: random.Random, data: dict[str, Any], n: int, today: date,
                taken: set[str]) -> PersonPlan:
    sex = rng.choice("MF")
    given = data["given_m" if sex == "M" else "given_f"]
    name = rng.choice(data["surnames"]) + "".join(
        rng.choice(given) for _ in range(rng.choice((1, 2, 2))))
    while True:
        born = today - timedelta(days=rng.randint(18 * 366, 55 * 365))
        number = id_number(born, rng.randrange(500), sex)
        if number not in taken:
            taken.add(number)
            break
    phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}{(n * 7919 + 1234567) % 10**8:08d}"
    township = _weighted(rng, data["township_weights"].items())
    groups = frozenset(g for g, share in GROUP_SHARES if rng.random() < share)
    form = RegistrationForm(name=name, id_number=number, phone=phone, township_code=township,
                            intent=_weighted(rng, INTENTS), groups=groups)
    return PersonPlan(n=n, openid=f"{OPENID_PREFIX}{n:04d}", form=form)


def graduate(taken: set[str], today: date) -> PersonPlan:
    """The history's named trainee: finished an elderly carers' class five weeks ago."""
    number = id_number(date(today.year - 31, 4, 12), 8, "F")
    taken.add(number)
    form = RegistrationForm(name="王春燕", id_number=number, phone="13988880002",
                            township_code="lashan", intent=WorkIntent.PROVINCE,
                            groups=frozenset({Group.POVERTY_ALLEVIATED}))
    return PersonPlan(n=TRAINEES, openid=GRADUATE, form=form)


def assign_cadres(rng: random.Random, persons: list[PersonPlan], data: dict[str, Any]) -> None:
    """Most people of a township with a cadre were brought in by them; the demo cadre (鲁布革乡)
    also registered six neighbours on paper, four of whom bound their own WeChat later."""
    townships = ["lubuge", *(c["township"] for c in data["cadres"])]
    for person in persons:
        if person.form.township_code in townships and rng.random() < 0.6:
            person.cadre = townships.index(person.form.township_code)
    neighbours = [p for p in persons if p.cadre == 0 and p.openid != GRADUATE][:6]
    for i, person in enumerate(neighbours):
        person.by_cadre = True
        if i >= 4:
            person.openid = None  # never bound: no WeChat, so no claim either


def plan_person_events(rng: random.Random, person: PersonPlan, now: datetime) -> None:
    """Registration before the first claim (a cadre's neighbour binds before it too), the
    bureau's verification of the declared groups, and now and then a 退订."""
    first = min((s.claim_at for s in person.seats), default=None)
    if first is None:
        first = now - timedelta(days=rng.uniform(5, 300))
    registered = first - timedelta(days=rng.uniform(3, 25))
    person.registered_at = registered.replace(hour=rng.randint(8, 20), microsecond=0)
    if person.registered_at >= first:
        person.registered_at = first - timedelta(hours=2)
    if person.by_cadre and person.openid is not None:
        person.bind_at = person.registered_at + (first - person.registered_at) / 2
    if person.form.groups and rng.random() < 0.8:
        person.verify_at = _before(now, person.registered_at + timedelta(days=rng.uniform(1, 10)))
    if rng.random() < 0.02 and person.openid != GRADUATE:
        person.unsubscribe_at = person.registered_at + (now - person.registered_at) * rng.random()


def _before(now: datetime, moment: datetime) -> datetime | None:
    return moment if moment < now else None


# --- classes ---------------------------------------------------------------------------------

def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def sessions_of(kind: dict[str, Any], first: date) -> list[SessionPlan]:
    periods = [(_clock(a), _clock(b)) for a, b in kind["daily"]]
    per_day = sum(SessionPlan(first, a, b).hours for a, b in periods)
    hours = int(kind["theory_hours"]) + int(kind["practice_hours"])
    days = round(hours / per_day)
    if abs(days * per_day - hours) > 0.01:
        raise ValueError(f"course kind {kind['key']}: {hours} h is not whole days of {per_day} h")
    return [SessionPlan(first + timedelta(days=d), a, b) for d in range(days) for a, b in periods]


def _days_of(kind: dict[str, Any]) -> int:
    return len({s.day for s in sessions_of(kind, date(2000, 1, 3))})


def _class(rng: random.Random, kind: dict[str, Any], n: int, first: date,
           townships: dict[str, tuple[float, float]]) -> ClassPlan:
    township = rng.choice(kind["townships"])
    lat, lng = townships[township]
    # The training site is near the township's seat, never on it.
    lat = round(lat + rng.uniform(-0.004, 0.004), 5)
    lng = round(lng + rng.uniform(-0.004, 0.004), 5)
    capacity = min(int(kind["capacity"]), 35 if kind.get("is_entrepreneurship") else 60)
    return ClassPlan(n=n, kind=kind, code=f"lp-{first.year}-h{n + 1:02d}", township=township,
                     lat=lat, lng=lng, sessions=sessions_of(kind, first), capacity=capacity)


def plan_classes(rng: random.Random, data: dict[str, Any], today: date,
                 townships: dict[str, tuple[float, float]]) -> list[ClassPlan]:
    """ENDED_CLASSES classes ending from about a year ago to three days ago (one of them, an
    elderly carers' class, GRADUATE_ENDED_DAYS_AGO days ago), and RUNNING_CLASSES started in
    the last fortnight and running today."""
    kinds = list(data["course_kinds"])
    order = [kinds[i % len(kinds)] for i in range(ENDED_CLASSES)]
    rng.shuffle(order)
    classes = []
    for i, kind in enumerate(order):
        back = 3 + round((ENDED_CLASSES - 1 - i) * 355 / (ENDED_CLASSES - 1))
        ends = today - timedelta(days=back)
        classes.append(_class(rng, kind, i, ends - timedelta(days=_days_of(kind) - 1), townships))
    ends = today - timedelta(days=GRADUATE_ENDED_DAYS_AGO)
    nearest = min(classes, key=lambda c: (abs((c.ends_on - ends).days), c.n))
    carer = next(k for k in kinds if k["key"] == "elderly_carer")
    classes[nearest.n] = _class(rng, carer, nearest.n,
                                ends - timedelta(days=_days_of(carer) - 1), townships)
    elsewhere = [k for k in kinds if k["institution"] != LIVE_INSTITUTION]
    for j, back in enumerate((10, 6, 3)[:RUNNING_CLASSES]):
        kind = rng.choice([k for k in elsewhere if _days_of(k) > back + 1])
        classes.append(_class(rng, kind, ENDED_CLASSES + j, today - timedelta(days=back),
                              townships))
    classes.sort(key=lambda c: (c.starts_on, c.n))
    return classes


# --- who takes which class -------------------------------------------------------------------

def _fits(person: PersonPlan, starts: date, ends: date, level: tuple[str, str]) -> bool:
    """The claim rules the plan keeps: three a year, an occupation and level once, never two
    classes at once."""
    same_year = sum(1 for s in person.seats if s.starts_on.year == starts.year)
    return (person.openid is not None and same_year < 3
            and all(s.level != level for s in person.seats)
            and all(s.ends_on < starts or ends < s.starts_on for s in person.seats))


def _pick(rng: random.Random, people: list[PersonPlan], township: str, count: int,
          starts: date, ends: date, level: tuple[str, str]) -> list[PersonPlan]:
    """People who may take the class, those with fewer classes and from its township first."""
    scored = sorted(
        (len(p.seats) * 4 + (0 if p.form.township_code == township else 2) + rng.random() * 3,
         p.n, p) for p in people if _fits(p, starts, ends, level))
    return [p for *_, p in scored[:count]]


def _moment(rng: random.Random, earliest: datetime, latest: datetime) -> datetime:
    return (earliest + (latest - earliest) * rng.random()).replace(microsecond=0)


def fill_class(rng: random.Random, klass: ClassPlan, people: list[PersonPlan], now: datetime,
               *, first: PersonPlan | None = None) -> None:
    """Sign-ups in the month before the class, each with its fate."""
    wanted = round(klass.capacity * rng.uniform(0.42, 0.75))
    chosen = _pick(rng, people, klass.township, wanted, klass.starts_on, klass.ends_on,
                   klass.level)
    if first is not None:
        chosen = [first, *(p for p in chosen if p is not first)][:wanted]
    opens = datetime.combine(klass.starts_on - timedelta(days=30), time(10), tzinfo=LOCAL_TZ)
    closes = datetime.combine(klass.starts_on - timedelta(days=1), time(21), tzinfo=LOCAL_TZ)
    running = klass.ends_on >= now.astimezone(LOCAL_TZ).date()
    for person in chosen:
        fate = "complete" if person is first else _fate(rng, running)
        seat = SeatPlan(person=person, code=klass.code, starts_on=klass.starts_on,
                        ends_on=klass.ends_on, level=klass.level, klass=klass,
                        claim_at=_moment(rng, opens, closes), fate=fate)
        person.seats.append(seat)
        klass.seats.append(seat)
    klass.seats.sort(key=lambda s: (s.claim_at, s.person.n))


def _fate(rng: random.Random, running: bool) -> str:
    roll = rng.random()
    if roll < 0.04:
        return "cancel"
    if roll < 0.07:
        return "expire"
    if running:
        return "enrolled"
    return "dropout" if roll < 0.14 else "complete"


def sign_up(rng: random.Random, course: Upcoming, people: list[PersonPlan],
            now: datetime) -> list[SeatPlan]:
    """Claims of a catalogue course in the last three weeks (before it starts)."""
    wanted = max(0, round(course.capacity * rng.uniform(0.3, 0.6)) - course.taken)
    chosen = _pick(rng, people, "", wanted, course.starts_on, course.ends_on, course.level)
    latest = min(now - timedelta(minutes=50),
                 datetime.combine(course.starts_on, time(7), tzinfo=LOCAL_TZ))
    seats = []
    for person in chosen:
        seat = SeatPlan(person=person, code=course.code, starts_on=course.starts_on,
                        ends_on=course.ends_on, level=course.level, fate="enrolled",
                        claim_at=_moment(rng, latest - timedelta(days=20), latest))
        if course.starts_on > now.astimezone(LOCAL_TZ).date():
            seat.fate = "cancel" if rng.random() < 0.05 else "issued"
        else:  # the live class: they came to its first session
            seat.redeem_at = _moment(rng, now - timedelta(minutes=45), now - timedelta(minutes=15))
        if seat.fate == "cancel":
            seat.cancel_at = _moment(rng, seat.claim_at, now)
        person.seats.append(seat)
        seats.append(seat)
    return seats


# --- what happened in a class ----------------------------------------------------------------

def plan_class_events(rng: random.Random, klass: ClassPlan, now: datetime,
                      data: dict[str, Any]) -> None:
    manual_share = 0.25 if klass.n == ENDED_CLASSES - 2 else 0.01  # one class to look into
    for seat in klass.seats:
        plan_seat(rng, klass, seat, now, manual_share)
    burst = klass.n == ENDED_CLASSES  # one running class: one phone checked in several people
    if burst:
        make_burst(rng, klass, now)
    begun = [i for i, s in enumerate(klass.sessions) if s.at(150) < now]
    if begun and rng.random() < 0.9:
        i = rng.choice(begun)
        klass.spot_check = (i, klass.sessions[i].at(rng.uniform(40, 150)))
    if klass.ends_on >= now.astimezone(LOCAL_TZ).date():
        plan_headcounts(rng, klass, now)
    else:
        plan_claim(rng, klass, now)


def plan_seat(rng: random.Random, klass: ClassPlan, seat: SeatPlan, now: datetime,
              manual_share: float) -> None:
    first = klass.sessions[0]
    if seat.fate == "cancel":
        seat.cancel_at = _moment(rng, seat.claim_at, first.at(-60))
        return
    if seat.fate == "expire":
        return
    seat.redeem_at = _moment(rng, first.at(-60), first.at(-16))  # before check-in opens
    attended = _attended(rng, klass, seat.fate)
    seat.marks = [_mark(rng, klass, i, manual_share) for i in attended]
    seat.marks = [m for m in seat.marks if m.at < now]
    if seat.fate == "complete":
        seat.complete_at = _moment(rng, klass.sessions[-1].end + timedelta(minutes=10),
                                   klass.sessions[-1].end + timedelta(minutes=70))
        kind = CertificateKind(klass.kind["certificate_kind"])
        seat.is_certified = seat.person.openid == GRADUATE or rng.random() < CERTIFIED.get(
            kind, 0.88)


def _attended(rng: random.Random, klass: ClassPlan, fate: str) -> list[int]:
    """The sessions a trainee came to: all but a few (within the share of hours a completion
    needs), the first ones only for someone who dropped out."""
    sessions = klass.sessions
    if fate == "dropout":
        return list(range(rng.randint(1, max(1, math.floor(len(sessions) * 0.6)))))
    spare = klass.hours * (1 - COMPLETION_SHARE)
    missed: set[int] = set()
    for _ in range(_weighted(rng, ((0, 65), (1, 25), (3, 10)))):
        i = rng.randrange(len(sessions))
        if sum(sessions[j].hours for j in missed | {i}) <= spare + 1e-9:
            missed.add(i)
    return [i for i in range(len(sessions)) if i not in missed]


def _mark(rng: random.Random, klass: ClassPlan, i: int, manual_share: float) -> Mark:
    session = klass.sessions[i]
    if rng.random() < manual_share:
        # by hand, while the session runs: the scan did not work, or the phone
        return Mark(i, session.at(rng.uniform(10, 90)).replace(microsecond=0),
                    reason=rng.choice(MANUAL_REASONS))
    opens = -OPENS_BEFORE.total_seconds() / 60
    closes = LATE_AFTER.total_seconds() / 60 - 0.5
    minutes = min(max(rng.gauss(-5, 6), opens), closes)
    lat, lng = _near(rng, klass.lat, klass.lng, rng.uniform(8, 150))
    return Mark(i, session.at(minutes).replace(microsecond=0), lat=lat, lng=lng,
                accuracy_m=round(rng.uniform(10, 65), 1))


def _near(rng: random.Random, lat: float, lng: float, metres: float) -> tuple[float, float]:
    angle = rng.uniform(0, 2 * math.pi)
    dlat = metres * math.cos(angle) / METRES_PER_DEGREE
    dlng = metres * math.sin(angle) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lng + dlng, 6)


def make_burst(rng: random.Random, klass: ClassPlan, now: datetime) -> None:
    """Six trainees' scans of one session from one spot within 40 s: one phone (or a script)
    checking in for several people, which the desk's oversight flags (models.presence)."""
    begun = [i for i, s in enumerate(klass.sessions) if s.at(30) < now - timedelta(days=1)]
    if not begun:
        return
    i = begun[-1]
    spot = _near(rng, klass.lat, klass.lng, 60)
    at = klass.sessions[i].at(-3).replace(microsecond=0)
    marked = [s for s in klass.seats if any(m.session == i and m.reason is None
                                            for m in s.marks)][:6]
    for k, seat in enumerate(marked):
        seat.marks = [Mark(i, at + timedelta(seconds=7 * k), lat=spot[0], lng=spot[1],
                           accuracy_m=30.0) if m.session == i else m for m in seat.marks]


def plan_headcounts(rng: random.Random, klass: ClassPlan, now: datetime) -> None:
    """Staff count heads in the first session of each day; once, two scans too many."""
    for i, session in enumerate(klass.sessions):
        if session.starts != klass.sessions[0].starts or session.at(45) >= now:
            continue
        present = sum(1 for s in klass.seats for m in s.marks if m.session == i)
        short = 2 if i == 0 and klass.n == ENDED_CLASSES + 1 else 0
        klass.headcounts.append((i, session.at(rng.uniform(35, 60)).replace(microsecond=0),
                                 max(0, present - short)))


def plan_claim(rng: random.Random, klass: ClassPlan, now: datetime) -> None:
    """The institution claims within 10 working days of the end (now and then late, and one
    class not at all yet); the bureau pays within 10 working days of the claim, mostly."""
    if not any(s.fate == "complete" for s in klass.seats) or rng.random() < 0.05:
        return
    days = rng.randint(2, 9) if rng.random() < 0.9 else rng.randint(11, 14)
    day = add_working_days(klass.ends_on, days)
    klass.claim_at = _before(now, datetime.combine(day, time(10), tzinfo=LOCAL_TZ)
                             + timedelta(minutes=rng.randint(0, 300)))
    if klass.claim_at is not None and rng.random() < 0.9:
        paid = add_working_days(day, rng.randint(3, 9))
        klass.paid_at = _before(now, datetime.combine(paid, time(15), tzinfo=LOCAL_TZ))


def plan_answers(rng: random.Random, seat: SeatPlan, now: datetime, data: dict[str, Any], *,
                 silent: bool) -> None:
    """Follow-up of a completed trainee, each round that fell due: most answer within days;
    some are recorded by a visiting cadre or staff member weeks later; some never answer.
    ``silent``: asked, not answered yet (the README's graduate)."""
    if seat.fate != "complete" or silent:
        return
    for months in ROUNDS:
        due = add_months(seat.ends_on, months)
        if due > now.astimezone(LOCAL_TZ).date():
            continue
        roll = rng.random()
        if roll < 0.12:
            continue  # never reached
        work = (WorkAfter.NOT_YET if rng.random() < NOT_YET[months]
                else _weighted(rng, WORK_BY_INTENT[seat.person.form.intent]))
        if roll < 0.2:
            seat.answers[months] = Answer(after=timedelta(days=rng.uniform(8, 25)), work=work,
                                          by_visit=True)
            continue
        rating = _weighted(rng, RATINGS) if rng.random() < 0.75 else None
        opinion = rng.choice(data["opinions"]) if rating and rng.random() < 0.3 else None
        seat.answers[months] = Answer(after=timedelta(minutes=rng.uniform(5, 3 * 24 * 60)),
                                      work=work, rating=rating, opinion=opinion)

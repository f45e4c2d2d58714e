"""Finished courses and vouchers for the follow-up tests, and one worker round."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

import worker
from models.audit import Channel
from models.catalogue import CertificateKind, Course
from models.clock import LOCAL_TZ
from models.courses import CourseSpec, publish_course
from models.followups import FollowUp, WorkAfter, add_months
from models.persons import Person
from models.regions import Region
from models.vouchers import Voucher, VoucherStatus
from runtime.wechat_api import Client

ENDED = date(2026, 11, 20)  # five days before the tests' START
# The day after the 1-month round fell due (ENDED + 1 month), in the morning.
ONE_MONTH_LATER = datetime(2026, 12, 21, 10, 0, tzinfo=LOCAL_TZ)


def finished_course(db, clock, code: str, *, institution: str = "lp-pes",
                    category: str = "construction", township: str = "luoxiong",
                    ends: date = ENDED, days: int = 1) -> Course:
    first = ends - timedelta(days=days - 1)
    spec = CourseSpec(
        code=code, institution_code=institution, category_code=category, name=f"{code}班",
        name_en=f"{code} class", occupation=f"{code}工", occupation_en=code,
        certificate_kind=CertificateKind.COMPLETION, certificate_level=None, theory_hours=2,
        practice_hours=8 * days - 2, capacity=30, fee_yuan=Decimal(0), is_entrepreneurship=False,
        township_code=township, address="某地", lat=None, lng=None, radius_m=None,
        sessions=[(first + timedelta(days=n), start, end) for n in range(days)
                  for start, end in ((time(8, 30), time(12, 30)), (time(14), time(18)))],
    )
    return publish_course(db, spec=spec, actor_id=None, channel=Channel.CLI, now=clock.now())


def voucher_for(db, clock, person: Person, course: Course, *,
                status: VoucherStatus = VoucherStatus.COMPLETED,
                certified: bool | None = True) -> Voucher:
    """A voucher in the state the institution left it (claim, redemption and completion have
    their own tests)."""
    done = status in (VoucherStatus.COMPLETED, VoucherStatus.SETTLED)
    voucher = Voucher(person_id=person.id, course_id=course.id, status=status,
                      year=course.starts_on.year, claimed_at=clock.now(),
                      claimed_via=Channel.WECHAT, expires_at=clock.now(),
                      redeemed_at=clock.now(),
                      completed_at=clock.now() if done else None,
                      certified=certified if done else None)
    db.add(voucher)
    db.flush()
    voucher.number = f"PX2026{voucher.id:06d}"
    return voucher


def person_of(db, openid: str) -> Person:
    return db.scalar(select(Person).where(Person.openid == openid))


def worker_round(services) -> dict[str, int]:
    """What the worker does every minute: its jobs, then sending what is due."""
    done = worker.run_jobs(services)
    done["sent"] = worker.send_due(services, Client(services.config, services.kv))
    return done


# --- a small county with hand-computed outcomes (tests/test_outcomes.py says them) ---------

TODAY = date(2026, 11, 25)
C, R, S = VoucherStatus.COMPLETED, VoucherStatus.REDEEMED, VoucherStatus.SETTLED

# (course, township, status, certified, {round: (work, rating)})
COUNTY = [
    ("oc-a", "luoxiong", C, True, {1: (WorkAfter.NOT_YET, 5), 6: (WorkAfter.LOCAL, 3)}),
    ("oc-a", "luoxiong", C, True, {1: (WorkAfter.NOT_YET, 2)}),
    ("oc-a", "lubuge", C, False, {1: (None, None)}),  # asked, never answered
    ("oc-a", "lubuge", R, None, {}),  # dropped out
    ("oc-a", "luoxiong", VoucherStatus.REVOKED, None, {}),  # never counted
    ("oc-b", "luoxiong", C, True, {1: (WorkAfter.SELF_EMPLOYED, None)}),
    ("oc-b", "lubuge", S, True, {1: (WorkAfter.OUTSIDE, None)}),
    ("oc-c", "luoxiong", R, None, {}),  # its course has not ended: not yet an outcome
]


def make_county(sessions, clock) -> dict[str, int]:
    """COUNTY, made in its own transaction; returns the course ids by code."""
    with sessions.begin() as setup:
        courses = {
            "oc-a": finished_course(setup, clock, "oc-a"),
            "oc-b": finished_course(setup, clock, "oc-b", institution="lp-zhongzhi",
                                    category="care"),
            "oc-c": finished_course(setup, clock, "oc-c", ends=date(2026, 11, 30), days=3),
        }
        for n, (code, township, status, certified, rounds) in enumerate(COUNTY):
            region = setup.scalar(select(Region).where(Region.code == township))
            person = Person(openid=f"o-oc{n}", created_at=clock.now(), township_id=region.id)
            setup.add(person)
            setup.flush()
            course = courses[code]
            voucher = voucher_for(setup, clock, person, course, status=status,
                                  certified=certified)
            for months, (work, rating) in rounds.items():
                setup.add(FollowUp(voucher_id=voucher.id, person_id=person.id,
                                   course_id=course.id, round_months=months,
                                   due_on=add_months(course.ends_on, months),
                                   asked_at=clock.now(), work=work, rating=rating,
                                   answered_at=clock.now() if work else None))
        return {code: course.id for code, course in courses.items()}

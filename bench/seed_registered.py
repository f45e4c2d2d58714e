"""Registered people and a class running now, for bench/profile_callback.py's other messages
(issue 19): ``oBenchReg000000``… registered through the domain, the first CLASS_SIZE of them
enrolled in ``bench-class`` (voucher redeemed, a fresh location inside its radius) whose
session of today is open, the next CLASS_SIZE holding a voucher for ``bench-redeem``. Built
with bench/scenarios.py's helpers; idempotent (people already registered are left)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from runtime.services import Services

CLASS_SIZE = 60


def openid(n: int) -> str:
    return f"oBenchReg{n:06d}"


def seed(services: Services, count: int) -> int:
    """Registered people ``openid(0..count-1)``; returns the id of the open class session."""
    from bench.people import register_bench_person
    from bench.scenarios import _bench_staff, _publish_bench_courses
    from models.attendance import Attendance, open_session, session_bounds
    from models.audit import Channel
    from models.catalogue import Course
    from models.clock import LOCAL_TZ
    from models.persons import LocationSource, Person
    from models.vouchers import VoucherStatus, claim_voucher

    now = services.clock.now().astimezone(LOCAL_TZ)  # the class's times are local
    with services.sessions.begin() as db:
        course = db.scalar(select(Course).where(Course.code == "bench-class"))
        # A class that started 5 minutes ago, so that check-in is open (until 30 minutes after
        # the start): published again, its check-ins undone, once it is 25 minutes old.
        if course is None or not any(
                session_bounds(s)[0] <= now <= session_bounds(s)[0] + timedelta(minutes=25)
                for s in course.sessions):
            if course is not None:
                db.execute(delete(Attendance).where(Attendance.session_id.in_(
                    [s.id for s in course.sessions])))
            _publish_bench_courses(db, now=now, class_size=CLASS_SIZE)
    with services.sessions.begin() as db:
        courses = {c.code: c for c in db.scalars(
            select(Course).where(Course.code.in_(("bench-class", "bench-redeem"))))}
        known = set(db.scalars(select(Person.openid).where(
            Person.openid.like("oBenchReg%"), Person.registered_at.is_not(None))))
        for n in range(count):
            if openid(n) in known:
                continue
            register_bench_person(db, vault=services.vault, openid=openid(n), n=30000 + n, now=now)
            if n < 2 * CLASS_SIZE:
                code = "bench-class" if n < CLASS_SIZE else "bench-redeem"
                voucher = claim_voucher(db, openid=openid(n), course_id=courses[code].id,
                                        channel=Channel.CLI, now=now, today=now.date())
                if n < CLASS_SIZE:
                    voucher.status, voucher.redeemed_at = VoucherStatus.REDEEMED, now
        db.flush()
        for person in db.scalars(select(Person).where(
                Person.openid.in_([openid(n) for n in range(min(count, CLASS_SIZE))]))):
            person.last_lat, person.last_lng = 24.8851, 104.3092
            person.located_at, person.location_source = now, LocationSource.WECHAT_EVENT
    with services.sessions.begin() as db:
        staff = _bench_staff(db, now=now, count=1)[0] if db.scalar(select(Person.id).where(
            Person.openid == "bench-staff-0")) is None else "bench-staff-0"
        course = db.scalar(select(Course).where(Course.code == "bench-class"))
        session = course.sessions[0]
        if session.opened_at is None:
            open_session(db, staff_openid=staff, now=now, course_code="bench-class")
        return session.id


def forget_checkins(services: Services, session_id: int) -> None:
    """The class's check-ins undone (between timed rounds: a second scan is a check-out)."""
    from models.attendance import Attendance

    with services.sessions.begin() as db:
        db.execute(delete(Attendance).where(Attendance.session_id == session_id))


def present(services: Services, session_id: int) -> int:
    """How many of the class are checked in."""
    from sqlalchemy import func

    from models.attendance import Attendance

    with services.sessions() as db:
        return db.scalar(select(func.count()).select_from(Attendance).where(
            Attendance.session_id == session_id, Attendance.is_present.is_(True)))


def fresh_locations(services: Services, now: datetime) -> None:
    from models.persons import Person

    with services.sessions.begin() as db:
        for person in db.scalars(select(Person).where(
                Person.openid.in_([openid(n) for n in range(CLASS_SIZE)]))):
            person.located_at = now

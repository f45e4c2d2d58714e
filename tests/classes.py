"""A class as it really runs: the trainee scans the class code in every session, then the
institution's staff record 结业 — the one door to completion, with its attendance rule."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from models.attendance import check_in, open_session
from models.audit import Channel
from models.catalogue import CertificateKind, ClassSession, session_bounds
from models.completion import complete
from models.courses import CourseSpec, publish_course
from models.invitations import bind_by_invitation
from models.persons import meet, note_location
from models.staff import StaffMember, invite_staff
from models.vouchers import Voucher, redeem_voucher


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

"""Attendance without proxy signing (on the model of DX2020 三(六); the county's basis:
models.basis, check_in_in_person): staff open a session and show its rotating
code; a trainee's own WeChat scans it inside the session's window (and radius, where the course
asks); staff mark by hand only with a reason, audited; inspectors record spot checks."""

from __future__ import annotations

import enum
import logging
import re
import unicodedata
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    ForeignKeyConstraint,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.orm import (
    Mapped,
    Session,
    joinedload,
    make_transient_to_detached,
    mapped_column,
    relationship,
)

from models.audit import Channel, audit
from models.base import CONFLICT_INSERTS, Base, enum_column
from models.basis import cite
from models.catalogue import (
    ClassSession,
    Course,
    has_geofence,
    session_bounds,
    sitting_hours,
)
from models.clock import LOCAL_TZ
from models.codes import RotatingCode, ShownCode
from models.direct import DirectReads
from models.errors import (
    AlreadyCheckedIn,
    AttendanceShort,
    CheckInRefused,
    CourseNotFound,
    DomainError,
    MarkRefused,
    NoSessionToday,
    NotInspector,
    SessionsNotOver,
    SeveralClassesNow,
    TraineeNotFound,
    VoucherNotFound,
    VoucherWrongInstitution,
)
from models.identity import clean_name
from models.invitations import InvitationKind, InvitedRole, create_invitation
from models.persons import LocationSource, Person
from models.regions import distance_km
from models.staff import StaffMember, staff_of
from models.vouchers import Voucher, VoucherStatus

logger = logging.getLogger(__name__)

CHECKIN_CODE_SECONDS = 30
OPENS_BEFORE = timedelta(minutes=15)  # check-in opens this long before the session starts
LATE_AFTER = timedelta(minutes=30)  # and closes this long after it starts
CHECKOUT_BEFORE = timedelta(minutes=15)  # check-out opens this long before the end
CHECKOUT_AFTER = timedelta(minutes=30)
LOCATION_FRESH = timedelta(hours=2)  # a location older than this is asked for again
# A manual mark may be made from the session's check-in opening until this long after its end:
# the same grace as a check-out scan, time enough to mark the trainee whose phone died once
# the class is over, too short to mark a class later from the office.
MARK_AFTER = CHECKOUT_AFTER
# The reason of a hand mark for a trainee who cannot scan: no WeChat of their own (a neighbour a
# cadre registered, holding a paper voucher, models.paper). Counted apart from other hand marks
# (models.presence), and taken only for such a trainee, so it cannot hide proxy signing.
NO_SMARTPHONE = "无智能手机"
NO_SMARTPHONE_WORDS = frozenset({NO_SMARTPHONE, "没有智能手机", "无智能机", "no smartphone",
                                 "without smartphone", "without a smartphone"})
_VOUCHER_NUMBER = re.compile(r"PX\d{4,}", re.IGNORECASE)


class MarkHow(enum.StrEnum):
    SCAN = "scan"
    MANUAL = "manual"


class Attendance(Base):
    """A trainee's mark of one class session. ``day`` is the session's, copied when the mark is
    made (``Attendance.of``; a session keeps its day: models.courses._replace_sessions): on
    PostgreSQL the table is partitioned by it, a year a partition (`flask db
    partition-attendance`), and a partitioned table's unique key must hold it."""

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("session_id", "person_id", "day"),
        # The day is its session's, held by the database for every writer: so the key above
        # refuses a second mark of a session, as (session_id, person_id) did before the day.
        ForeignKeyConstraint(["session_id", "day"], ["class_sessions.id", "class_sessions.day"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(index=True)
    day: Mapped[date] = mapped_column()
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    is_present: Mapped[bool]
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    hours: Mapped[float] = mapped_column(Numeric(5, 2, asdecimal=False), default=0)
    how: Mapped[MarkHow] = mapped_column(enum_column(MarkHow))
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    reason: Mapped[str | None] = mapped_column(String(200))
    # Where the person was said to be when the check-in counted, and how we know (a server
    # cannot prove a phone's position: it is recorded, and the desk flags what looks made up).
    location_source: Mapped[LocationSource] = mapped_column(
        enum_column(LocationSource), default=LocationSource.NONE,
        server_default=LocationSource.NONE.value)
    location_lat: Mapped[float | None]
    location_lng: Mapped[float | None]
    location_accuracy_m: Mapped[float | None]  # metres, where the sender gave it
    located_at: Mapped[datetime | None]  # when the position was taken (reached us)

    session: Mapped[ClassSession] = relationship()

    # The ORM writes a mark back by (id, day), so that PostgreSQL touches one year's partition
    # (a check-out, a hand mark), not every year's and DEFAULT's.
    __mapper_args__: ClassVar = {"primary_key": [id, day]}

    @classmethod
    def of(cls, session: ClassSession, **fields: Any) -> Attendance:
        """A new mark of ``session`` (flushed: it has its id), with its day."""
        if session.id is None:
            raise ValueError("a mark needs its session's id: flush the session first")
        return cls(session_id=session.id, day=session.day, **fields)


class Inspector(InvitedRole, Base):
    """A bureau inspector (督查): records spot checks of classes (每班必查, YN2021 三(三))."""

    __tablename__ = "inspectors"
    invitation_kind = InvitationKind.INSPECTOR


class SpotCheck(Base):
    __tablename__ = "spot_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_sessions.id"), index=True)
    inspector_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    at: Mapped[datetime]
    present_seen: Mapped[int]
    checked_in_then: Mapped[int]
    notes: Mapped[str] = mapped_column(Text, default="")
    photo_media_id: Mapped[str | None] = mapped_column(String(128))


# --- opening a session and showing its code ------------------------------------------------

def current_session(db: Session, *, staff_openid: str, now: datetime,
                    course_code: str | None = None) -> ClassSession:
    """The session of the staff's institution that is running now (inside its check-in and
    check-out window; the latest to start if two overlap), else the next one today. With two
    classes at once the staff member names the course."""
    staff = staff_of(db, openid=staff_openid)
    today = now.astimezone(LOCAL_TZ).date()
    query = (select(ClassSession).join(ClassSession.course)
             .where(Course.institution_id == staff.institution_id, ClassSession.day == today)
             .options(joinedload(ClassSession.course)).order_by(ClassSession.starts))
    if course_code:
        query = query.where(Course.code == course_code.strip())
    sessions = db.scalars(query).all()
    running = [s for s in sessions
               if session_bounds(s)[0] - OPENS_BEFORE <= now <= session_bounds(s)[1]
               + CHECKOUT_AFTER]
    if running:
        latest = max(session_bounds(s)[0] for s in running)
        running = [s for s in running if session_bounds(s)[0] == latest]
        if len({s.course_id for s in running}) > 1:
            raise SeveralClassesNow(codes=", ".join(sorted(s.course.code for s in running)))
        return running[0]
    upcoming = [s for s in sessions if session_bounds(s)[0] - OPENS_BEFORE > now]
    if not upcoming:
        raise NoSessionToday()
    return upcoming[0]


def open_session(db: Session, *, staff_openid: str, now: datetime,
                 course_code: str | None = None,
                 channel: Channel = Channel.WECHAT) -> ClassSession:
    """开课: open the current (or next) session for check-in."""
    staff = staff_of(db, openid=staff_openid)
    session = current_session(db, staff_openid=staff_openid, now=now, course_code=course_code)
    if session.opened_at is None:
        session.opened_at, session.opened_by_id = now, staff.person_id
        audit(db, actor_id=staff.person_id, channel=channel, action="session.open",
              target=session, after={"course": session.course.code,
                                     "day": session.day.isoformat()}, at=now)
    return session


@dataclass(frozen=True)
class DisplayState:
    code: ShownCode | None
    checked_in: int
    enrolled: int
    session: ClassSession


def display_state(db: Session, *, codes: RotatingCode, session_id: int,
                  now: datetime) -> DisplayState:
    session = db.scalar(select(ClassSession).where(ClassSession.id == session_id)
                        .options(joinedload(ClassSession.course)))
    if session is None:
        raise NoSessionToday()
    starts, ends = session_bounds(session)
    is_open = session.opened_at is not None
    showing = is_open and starts - OPENS_BEFORE <= now <= ends + CHECKOUT_AFTER
    return DisplayState(code=codes.show(session.id, now) if showing else None,
                        checked_in=_present_count(db, session.id),
                        enrolled=_enrolled_count(db, session.course_id), session=session)


def _present_count(db: Session, session_id: int) -> int:
    return db.scalar(select(func.count(Attendance.id)).where(
        Attendance.session_id == session_id, Attendance.is_present.is_(True))) or 0


def _enrolled_count(db: Session, course_id: int) -> int:
    return db.scalar(select(func.count(Voucher.id)).where(
        Voucher.course_id == course_id, Voucher.status == VoucherStatus.REDEEMED)) or 0


# --- the trainee's scan --------------------------------------------------------------------

@dataclass(frozen=True)
class Position:
    """A position as it reached us: WeChat's LOCATION event, a location message or the
    mini-program's wx.getLocation, with its accuracy in metres where known."""

    lat: float
    lng: float
    source: LocationSource
    at: datetime
    accuracy_m: float | None = None


@dataclass(frozen=True)
class ScannedClass:
    """A class session as a scan reads it, with what its course asks of a check-in."""

    id: int
    course_id: int
    day: date
    starts: time
    ends: time
    opened_at: datetime | None
    course_name: str
    course_name_en: str
    requires_checkout: bool
    lat: float | None
    lng: float | None
    radius_m: int | None
    number: int  # which session of the course this is (by day and start)
    total: int

    @property
    def hours(self) -> float:
        return sitting_hours(self.starts, self.ends)

    @property
    def requires_location(self) -> bool:
        return has_geofence(self.lat, self.lng, self.radius_m)

    def display_name(self, locale: str) -> str:
        """The course's name in the reader's language."""
        return self.course_name_en if locale.startswith("en") else self.course_name


@dataclass(frozen=True)
class CheckInResult:
    session: ScannedClass
    attendance: Attendance
    is_checkout: bool

    @property
    def number(self) -> int:
        return self.session.number

    @property
    def total(self) -> int:
        return self.session.total


def check_in(db: Session, *, codes: RotatingCode, code: str, openid: str,
             now: datetime, position: Position | None = None,
             channel: Channel = Channel.WECHAT) -> CheckInResult:
    """CHECKIN: counts only with a current code of an open session, an enrolled scanner,
    inside the window, and inside the radius where the course asks for it. The position is
    the one sent with the scan (the mini-program's), else the person's last fresh one (WeChat's
    LOCATION event or a location message); it is recorded with its source and accuracy.

    Every trainee of a class scans within the same few minutes, so the first scan, the common
    one, takes three statements: one row of the session, its course and the scanner with their
    voucher; the mark's insert (a second scan finds the mark the insert ran into); its audit
    row. Rows, not objects: the ORM's loading cost more than the statements themselves."""
    db.flush()  # the rows are read past the session: what the caller changed in it counts
    found = db.connection().execute(
        _SCAN, {"session_id": codes.read(code, now), "openid": openid}).first()
    if found is None or found.opened_at is None:
        raise CheckInRefused(rule="not_open", source=cite("check_in_in_person"))
    session = ScannedClass(*found[:_SCANNED_CLASS])
    if found.voucher_id is None:
        raise CheckInRefused(rule="not_enrolled", source=cite("check_in_in_person"),
                             course=session.course_name)
    starts, ends = session_bounds(session)
    in_window = starts - OPENS_BEFORE <= now <= starts + LATE_AFTER
    place = position or _last_position(found, now)
    refusal = _check_in_refusal(session, place, starts, in_window)
    fields = {"is_present": True, "checked_in_at": now, "how": MarkHow.SCAN,
              "hours": 0 if session.requires_checkout else session.hours,
              **_place_fields(place)}
    record = None if refusal else _first_mark(db, session, found.person_id, found.voucher_id,
                                              fields)
    if record is None:
        # A mark is there already (or the scan is refused): a scan of a trainee who is present
        # is their check-out; an absent mark made by staff is turned into this check-in.
        existing = db.scalar(select(Attendance).where(*mark_of(session, found.person_id))
                             .with_for_update())
        if existing is not None and existing.is_present:
            return _check_out(db, session, existing, found.person_id, now, ends, channel)
        if refusal:
            raise refusal
        if existing is None:
            # The mark the insert ran into was gone by the time it was read (another
            # transaction removed it): the trainee has none, so this scan writes it.
            record = _first_mark(db, session, found.person_id, found.voucher_id, fields)
            if record is None:
                raise AlreadyCheckedIn(at="")
        else:
            for name, value in fields.items():
                setattr(existing, name, value)
            record = existing
    audit(db, actor_id=found.person_id, channel=channel, action="attendance.check_in",
          target=record, after={"session": session.id, "location": record.location_source.value},
          at=now)
    return CheckInResult(session=session, attendance=record, is_checkout=False)


# A scan's one read, built once (SQLAlchemy then finds its compiled form at once): the session,
# its place among its course's sessions (by day and start), what the course asks of a check-in,
# and the scanner with their voucher of the course if it is redeemed (NULL when not, or when
# there is no such person).
_SESSIONS, _COURSES = ClassSession.__table__.c, Course.__table__.c
_PERSONS, _VOUCHERS, _MARKS = Person.__table__.c, Voucher.__table__.c, Attendance.__table__.c
_OTHER = ClassSession.__table__.alias("other").c
_SCAN = (
    select(_SESSIONS.id, _SESSIONS.course_id, _SESSIONS.day, _SESSIONS.starts, _SESSIONS.ends,
           _SESSIONS.opened_at, _COURSES.name.label("course_name"),
           _COURSES.name_en.label("course_name_en"), _COURSES.requires_checkout, _COURSES.lat,
           _COURSES.lng, _COURSES.radius_m,
           select(func.count(_OTHER.id))
           .where(_OTHER.course_id == _SESSIONS.course_id,
                  or_(_OTHER.day < _SESSIONS.day,
                      and_(_OTHER.day == _SESSIONS.day, _OTHER.starts <= _SESSIONS.starts)))
           .scalar_subquery().label("number"),
           select(func.count(_OTHER.id)).where(_OTHER.course_id == _SESSIONS.course_id)
           .scalar_subquery().label("total"),
           _PERSONS.id.label("person_id"), _PERSONS.last_lat, _PERSONS.last_lng,
           _PERSONS.located_at, _PERSONS.location_source, _PERSONS.location_accuracy_m,
           _VOUCHERS.id.label("voucher_id"))
    .select_from(ClassSession.__table__
                 .join(Course.__table__, _COURSES.id == _SESSIONS.course_id)
                 .outerjoin(Person.__table__, _PERSONS.openid == bindparam("openid"))
                 .outerjoin(Voucher.__table__, and_(_VOUCHERS.person_id == _PERSONS.id,
                                                    _VOUCHERS.course_id == _SESSIONS.course_id,
                                                    _VOUCHERS.status == VoucherStatus.REDEEMED)))
    .where(_SESSIONS.id == bindparam("session_id")))
# The row's first columns are ScannedClass's fields, in their order (made positionally: by name
# it cost a scan 0.08 ms).
_SCANNED_CLASS = len(dataclass_fields(ScannedClass))
if [c.key for c in _SCAN.selected_columns][:_SCANNED_CLASS] != [
        field.name for field in dataclass_fields(ScannedClass)]:
    raise RuntimeError("_SCAN's first columns must be ScannedClass's fields, in order")
# A mark's first write, giving its id; on conflict (a mark is there) nothing.
_FIRST_MARK = {dialect: insert(Attendance.__table__).on_conflict_do_nothing().returning(_MARKS.id)
               for dialect, insert in CONFLICT_INSERTS.items()}


def _check_in_refusal(session: ScannedClass, place: Position | None, starts: datetime,
                      in_window: bool) -> CheckInRefused | None:
    """Why this scan cannot check the trainee in, if it cannot (it may still check them out)."""
    if not in_window:
        return CheckInRefused(rule="window", source=cite("check_in_in_person"),
                              opens=(starts - OPENS_BEFORE).isoformat(),
                              closes=(starts + LATE_AFTER).isoformat())
    # Coordinates equal to the class's own point pass: they are recorded and flagged on the
    # desk's oversight page (models.presence), not refused, since no server can tell a real
    # fix from a made-up one.
    if not session.requires_location:
        return None
    if place is None:
        return CheckInRefused(rule="location_needed", source=cite("check_in_in_person"))
    metres = distance_km((place.lat, place.lng), (session.lat, session.lng)) * 1000
    if metres > session.radius_m:
        return CheckInRefused(rule="too_far", source=cite("check_in_in_person"),
                              metres=int(metres), radius=session.radius_m)
    return None


def _first_mark(db: Session, session: ScannedClass, person_id: int, voucher_id: int,
                fields: dict[str, Any]) -> Attendance | None:
    """The mark's first write, or None when a mark of the trainee's is there already: made
    before, or by their other scan of the same instant (a double tap), which the unique key
    holds back until it commits. No savepoint: the insert does nothing on conflict."""
    values = {"session_id": session.id, "day": session.day, "person_id": person_id,
              "voucher_id": voucher_id, "checked_out_at": None, "marked_by_id": None,
              "reason": None, **fields}
    inserted = db.connection().execute(_FIRST_MARK[db.get_bind().dialect.name], values).first()
    if inserted is None:
        return None
    # The mark as the session would have loaded it, without reading back what was just written.
    record = Attendance(id=inserted.id, **values)
    make_transient_to_detached(record)
    db.add(record)
    return record


def _check_out(db: Session, session: ScannedClass, record: Attendance, person_id: int,
               now: datetime, ends: datetime, channel: Channel) -> CheckInResult:
    if (not session.requires_checkout or record.checked_out_at is not None
            or not ends - CHECKOUT_BEFORE <= now <= ends + CHECKOUT_AFTER):
        raise AlreadyCheckedIn(at=record.checked_in_at.isoformat() if record.checked_in_at
                               else "")
    record.checked_out_at = now
    stayed = (min(now, ends) - max(record.checked_in_at, session_bounds(session)[0]))
    record.hours = round(max(0.0, min(session.hours, stayed.total_seconds() / 3600)), 2)
    audit(db, actor_id=person_id, channel=channel, action="attendance.check_out",
          target=record, after={"hours": record.hours}, at=now)
    return CheckInResult(session=session, attendance=record, is_checkout=True)


def mark_of(session: ClassSession | ScannedClass,
            person_id: int) -> tuple[ColumnElement[bool], ...]:
    """Where the person's mark of the session is; the day lets PostgreSQL read one year's
    partition."""
    return (Attendance.session_id == session.id, Attendance.day == session.day,
            Attendance.person_id == person_id)


def _last_position(person: Any, now: datetime) -> Position | None:
    """The person's last position while fresh; one kept before sources were recorded (no
    source) counts as none, and is asked for again. ``person`` is a Person or a row of its
    position's columns."""
    if (person.last_lat is None or person.last_lng is None or person.located_at is None
            or person.location_source is None or now - person.located_at > LOCATION_FRESH):
        return None
    return Position(lat=person.last_lat, lng=person.last_lng, source=person.location_source,
                    at=person.located_at, accuracy_m=person.location_accuracy_m)


def _place_fields(place: Position | None) -> dict[str, Any]:
    """The mark's columns of where the trainee was said to be."""
    return {"location_source": place.source if place else LocationSource.NONE,
            "location_lat": place.lat if place else None,
            "location_lng": place.lng if place else None,
            "location_accuracy_m": place.accuracy_m if place else None,
            "located_at": place.at if place else None}


# --- staff: roll call and manual marks -----------------------------------------------------

@dataclass(frozen=True)
class RollLine:
    voucher_number: str
    name: str
    id_masked: str
    attendance: Attendance | None
    has_wechat: bool = True  # without: they cannot scan; staff mark them 无智能手机


def roll_call(db: Session, *, staff_openid: str, now: datetime,
              course_code: str | None = None) -> tuple[ClassSession, list[RollLine]]:
    session = current_session(db, staff_openid=staff_openid, now=now, course_code=course_code)
    vouchers = db.scalars(select(Voucher).where(Voucher.course_id == session.course_id,
                                                Voucher.status == VoucherStatus.REDEEMED)
                          .options(joinedload(Voucher.person)).order_by(Voucher.id)).all()
    marks = {a.person_id: a for a in db.scalars(
        select(Attendance).where(Attendance.session_id == session.id))}
    return session, [RollLine(v.number, v.person.name, v.person.id_masked,
                              marks.get(v.person_id), has_wechat=v.person.openid is not None)
                     for v in vouchers]


def mark_window(session: ClassSession) -> tuple[datetime, datetime]:
    """When a manual mark can be made for a session: from its check-in opening until
    MARK_AFTER past its end."""
    starts, ends = session_bounds(session)
    return starts - OPENS_BEFORE, ends + MARK_AFTER


def session_to_mark(db: Session, *, course: Course, now: datetime) -> ClassSession:
    """The session of ``course`` a manual mark made now is for: one inside its mark window and
    opened (开课), the latest to start if two windows meet. Never a session still to come, one
    nobody opened, or one long over: each refusal names its window."""
    sessions = db.scalars(select(ClassSession).where(ClassSession.course_id == course.id)
                          .order_by(ClassSession.day, ClassSession.starts)).all()
    if not sessions:
        raise NoSessionToday()
    inside = [s for s in sessions if mark_window(s)[0] <= now <= mark_window(s)[1]]
    opened = [s for s in inside if s.opened_at is not None]
    if opened:
        return opened[-1]
    if inside:
        raise _mark_refusal("not_open", course, inside[-1])
    coming = [s for s in sessions if mark_window(s)[0] > now]
    past = [s for s in sessions if mark_window(s)[1] < now]
    # Name the session nearest to now: the next one's opening, or the last one's close.
    if coming and (not past or mark_window(coming[0])[0] - now <= now - mark_window(past[-1])[1]):
        raise _mark_refusal("not_started", course, coming[0])
    raise _mark_refusal("too_late", course, past[-1])


def _mark_refusal(rule: str, course: Course, session: ClassSession) -> MarkRefused:
    opens, closes = mark_window(session)
    return MarkRefused(rule=rule, course=course.name, opens=opens.isoformat(),
                      closes=closes.isoformat(), source=cite("check_in_in_person"))


def mark_by_hand(db: Session, *, staff_openid: str, voucher_number: str, is_present: bool,
                 reason: str, now: datetime, channel: Channel) -> Attendance:
    """A manual mark, with a reason, for the voucher's session that staff opened and that runs
    now (or ended a short while ago, MARK_AFTER); audited, and counted apart (a high share of
    manual marks is a warning sign of 代签). Its hours count once the session has taken place
    (``has_taken_place``), like a scan's."""
    staff = staff_of(db, openid=staff_openid)
    voucher = _voucher_to_mark(db, staff=staff, named=voucher_number, now=now)
    if voucher.course.institution_id != staff.institution_id:
        raise VoucherWrongInstitution()
    if voucher.status is not VoucherStatus.REDEEMED:
        # The same rule as a scan: only an enrolled trainee's attendance counts.
        raise CheckInRefused(rule="mark_not_enrolled", source=cite("check_in_in_person"),
                             course=voucher.course.name)
    reason = mark_reason(reason)
    if reason == NO_SMARTPHONE and voucher.person.openid is not None:
        # Their own WeChat scans: a hand mark for them is an ordinary one, counted as such.
        raise MarkRefused(rule="has_wechat", course=voucher.course.name,
                          name=voucher.person.name or voucher.number,
                          source=cite("check_in_in_person"))
    # The voucher names the class, so two classes of the institution at once are no puzzle.
    session = session_to_mark(db, course=voucher.course, now=now)
    record = db.scalar(select(Attendance).where(*mark_of(session, voucher.person_id)))
    before = {"present": record.is_present, "how": record.how.value} if record else None
    if record is None:
        record = Attendance.of(session, person_id=voucher.person_id, voucher_id=voucher.id)
        db.add(record)
    record.is_present, record.how = is_present, MarkHow.MANUAL
    record.marked_by_id, record.reason = staff.person_id, reason[:200]
    record.hours = session.hours if is_present else 0
    record.checked_in_at = record.checked_in_at or (now if is_present else None)
    db.flush()
    audit(db, actor_id=staff.person_id, channel=channel, action="attendance.mark",
          target=record, before=before,
          after={"present": is_present, "reason": reason[:200], "session": session.id}, at=now)
    return record


def mark_reason(reason: str) -> str:
    """A hand mark's reason as kept: the ways of writing 无智能手机 become that one word."""
    words = unicodedata.normalize("NFKC", reason or "").strip(" \t\n。.，,！!").lower()
    return NO_SMARTPHONE if words in NO_SMARTPHONE_WORDS else (reason or "").strip()[:200]


def _voucher_to_mark(db: Session, *, staff: StaffMember, named: str, now: datetime) -> Voucher:
    """The voucher a hand mark names: its number (PX…), or the trainee's name, which must be
    one enrolled trainee of the staff's institution with a class today (a name at roll call is
    what staff have in front of them; two of the same name need the number)."""
    words = (named or "").strip()
    if _VOUCHER_NUMBER.fullmatch(words):
        voucher = db.scalar(select(Voucher).where(Voucher.number == words.upper()))
        if voucher is None:
            raise VoucherNotFound(number=words)
        return voucher
    try:
        name = clean_name(words)
    except DomainError:
        raise TraineeNotFound(reason="none", name=words[:30]) from None
    today = now.astimezone(LOCAL_TZ).date()
    found = db.scalars(select(Voucher).join(Voucher.course).join(Voucher.person).where(
        Course.institution_id == staff.institution_id, Voucher.status == VoucherStatus.REDEEMED,
        Person.name == name, Course.id.in_(select(ClassSession.course_id)
                                           .where(ClassSession.day == today)))).all()
    if len(found) != 1:
        raise TraineeNotFound(reason="several" if found else "none", name=name)
    return found[0]


# --- what a trainee has attended, and completion -------------------------------------------
# One rule for hours, wherever they are summed (completion, the trainee's own record, the
# attendance sheet, the ledgers, the allowances' days): a present mark's hours count once its
# session has taken place, i.e. its end has passed. A scan or a manual mark made while the
# session runs records what it will be worth; until the end it counts nothing.

def has_taken_place(session: ClassSession, now: datetime) -> bool:
    return session_bounds(session)[1] <= now


def taken_place_by(now: datetime) -> ColumnElement[bool]:
    """``has_taken_place`` in SQL, over ClassSession (its day and end are local wall-clock)."""
    local = now.astimezone(LOCAL_TZ)
    return or_(ClassSession.day < local.date(),
               and_(ClassSession.day == local.date(), ClassSession.ends <= local.time()))


def counted_hours(mark: Attendance | None, session: ClassSession, now: datetime) -> float:
    """The hours a mark counts now: a present mark's, once its session has taken place."""
    if mark is None or not mark.is_present or not has_taken_place(session, now):
        return 0.0
    return float(mark.hours)


@dataclass(frozen=True)
class CourseAttendance:
    course: Course
    attended: int  # sessions with a present mark, including one running now
    missed: int  # sessions already over without attendance
    total: int
    hours: float  # of sessions attended that have taken place
    needed_hours: float
    pending_hours: float = 0.0  # of sessions attended that have not ended yet


def attendance_of(db: Session, *, person_id: int, course: Course,
                  now: datetime) -> CourseAttendance:
    sessions, marks = _sessions_and_marks(db, person_id=person_id, course=course)
    attended = [s for s in sessions if s.id in marks and marks[s.id].is_present]
    over = [s for s in sessions if has_taken_place(s, now)]
    return CourseAttendance(
        course=course, attended=len(attended),
        missed=len([s for s in over if s not in attended]), total=len(sessions),
        hours=round(sum(counted_hours(marks[s.id], s, now) for s in attended), 2),
        needed_hours=round(course.hours * course.completion_share, 2),
        pending_hours=round(sum(float(marks[s.id].hours) for s in attended
                                if not has_taken_place(s, now)), 2))


def _sessions_and_marks(db: Session, *, person_id: int, course: Course
                        ) -> tuple[list[ClassSession], dict[int, Attendance]]:
    sessions = db.scalars(select(ClassSession).where(ClassSession.course_id == course.id)
                          .order_by(ClassSession.day, ClassSession.ends)).all()
    marks = {a.session_id: a for a in db.scalars(select(Attendance).where(
        Attendance.person_id == person_id,
        Attendance.session_id.in_([s.id for s in sessions])))}
    return list(sessions), marks


def my_attendance(db: Session, *, openid: str, now: datetime) -> list[CourseAttendance]:
    person = db.scalar(select(Person).where(Person.openid == openid))
    if person is None:
        return []
    courses = db.scalars(select(Course).join(Voucher, Voucher.course_id == Course.id).where(
        Voucher.person_id == person.id,
        Voucher.status.in_((VoucherStatus.REDEEMED, VoucherStatus.COMPLETED,
                            VoucherStatus.SETTLED)))).all()
    return [attendance_of(db, person_id=person.id, course=c, now=now) for c in courses]


def check_attendance_for_completion(db: Session, *, voucher: Voucher, now: datetime) -> None:
    """结业 needs the course's share of hours attended (default 90%; the county's rule, on the
    model of DX2020 三(六)), in sessions
    that have taken place: while the sessions that would make up the share still run, it waits
    for their end (SessionsNotOver, naming when); without enough attendance it is refused."""
    course = voucher.course
    summary = attendance_of(db, person_id=voucher.person_id, course=course, now=now)
    needed = summary.needed_hours
    if summary.hours + 1e-9 >= needed:
        return
    if summary.hours + summary.pending_hours + 1e-9 >= needed:
        sessions, marks = _sessions_and_marks(db, person_id=voucher.person_id, course=course)
        hours = summary.hours
        for session in sessions:  # in the order they end
            if has_taken_place(session, now) or not (m := marks.get(session.id)) \
                    or not m.is_present:
                continue
            hours += float(m.hours)
            if hours + 1e-9 >= needed:
                raise SessionsNotOver(attended=f"{summary.hours:g}", needed=f"{needed:g}",
                                      until=session_bounds(session)[1].isoformat(),
                                      source=cite("completion_share"))
    raise AttendanceShort(attended=f"{summary.hours:g}", needed=f"{needed:g}",
                          source=cite("completion_share"))


# --- inspectors ----------------------------------------------------------------------------

# Built once: compiled once per process by models.direct.
_INSPECTOR_ID = (select(Inspector.__table__.c.id)
                 .where(Inspector.__table__.c.person_id == bindparam("person_id")))


def is_inspector(reads: DirectReads, *, person_id: int) -> bool:
    """Whether the person is a bureau inspector (their scan of a class code is a spot check):
    one statement on the process's kept connection, since every trainee's scan asks it."""
    return reads.first(_INSPECTOR_ID, {"person_id": person_id}) is not None


def inspector_of(db: Session, *, openid: str) -> Inspector:
    inspector = db.scalar(select(Inspector).join(Person, Person.id == Inspector.person_id)
                          .where(Person.openid == openid))
    if inspector is None:
        raise NotInspector()
    return inspector


def spot_check_session(db: Session, *, codes: RotatingCode, code: str, openid: str,
                      now: datetime) -> int:
    """The session an inspector is standing in: its display's code, scanned now."""
    inspector_of(db, openid=openid)
    session_id = codes.read(code, now)
    session = db.get(ClassSession, session_id)
    if session is None or session.opened_at is None:
        raise CheckInRefused(rule="not_open", source=cite("check_in_in_person"))
    return session_id


def record_spot_check(db: Session, *, session_id: int, openid: str, present_seen: int,
                      notes: str, photo_media_id: str | None, now: datetime) -> SpotCheck:
    inspector = inspector_of(db, openid=openid)
    check = SpotCheck(session_id=session_id, inspector_person_id=inspector.person_id, at=now,
                      present_seen=present_seen, checked_in_then=_present_count(db, session_id),
                      notes=notes[:2000], photo_media_id=photo_media_id)
    db.add(check)
    audit(db, actor_id=inspector.person_id, channel=Channel.WECHAT, action="spot_check.record",
          target=check, after={"session": session_id, "present_seen": present_seen,
                               "checked_in": check.checked_in_then}, at=now)
    return check


def invite_inspector(db: Session, *, now: datetime) -> str:
    return create_invitation(db, kind=InvitationKind.INSPECTOR, now=now, described={})


@dataclass(frozen=True)
class ClassOversight:
    """What the bureau watches per class: manual marks (a warning sign of 代签) and whether
    any spot check was made (每班必查)."""

    course: Course
    marks: int
    manual_marks: int  # other than 无智能手机
    spot_checks: int
    no_smartphone: int = 0  # hand marks of trainees without WeChat (NO_SMARTPHONE)

    @property
    def manual_share(self) -> float:
        """Hand marks among the marks of trainees who could scan."""
        could_scan = self.marks - self.no_smartphone
        return self.manual_marks / could_scan if could_scan else 0.0


def is_no_smartphone_mark() -> ColumnElement[bool]:
    """A hand mark of a trainee without WeChat, in SQL over Attendance."""
    # (A reason is never empty on a hand mark; coalesce keeps NOT of this true for scans.)
    return and_(Attendance.how == MarkHow.MANUAL,
                func.coalesce(Attendance.reason, "") == NO_SMARTPHONE)


def oversight(db: Session) -> list[ClassOversight]:
    marks = dict(db.execute(select(ClassSession.course_id, func.count(Attendance.id))
                            .join(Attendance, Attendance.session_id == ClassSession.id)
                            .group_by(ClassSession.course_id)).all())
    manual = dict(db.execute(select(ClassSession.course_id, func.count(Attendance.id))
                             .join(Attendance, Attendance.session_id == ClassSession.id)
                             .where(Attendance.how == MarkHow.MANUAL,
                                    ~is_no_smartphone_mark())
                             .group_by(ClassSession.course_id)).all())
    paperless = dict(db.execute(select(ClassSession.course_id, func.count(Attendance.id))
                                .join(Attendance, Attendance.session_id == ClassSession.id)
                                .where(is_no_smartphone_mark())
                                .group_by(ClassSession.course_id)).all())
    checks = dict(db.execute(select(ClassSession.course_id, func.count(SpotCheck.id))
                             .join(SpotCheck, SpotCheck.session_id == ClassSession.id)
                             .group_by(ClassSession.course_id)).all())
    courses = db.scalars(select(Course).order_by(Course.starts_on, Course.code)).all()
    return [ClassOversight(c, marks.get(c.id, 0), manual.get(c.id, 0), checks.get(c.id, 0),
                           paperless.get(c.id, 0)) for c in courses]


# --- the bureau's attendance sheet ---------------------------------------------------------

# A class with at least this share of its marks made by hand is flagged (a warning sign of 代签).
PROXY_SIGNING_SHARE = 0.2
# The vouchers whose holders are on a class's attendance sheet.
SHEET_STATUSES = (VoucherStatus.REDEEMED, VoucherStatus.COMPLETED, VoucherStatus.SETTLED)


@dataclass(frozen=True)
class SheetTrainee:
    person_id: int
    voucher_number: str
    name: str | None  # None once the person withdrew consent and their details were deleted
    id_masked: str | None


@dataclass(frozen=True)
class AttendanceSheet:
    """A class's attendance as the bureau prints it: the sessions in order, the trainees who
    hold its vouchers, and every mark recorded (no mark: nothing was recorded)."""

    course: Course
    sessions: list[ClassSession]
    trainees: list[SheetTrainee]
    marks: dict[tuple[int, int], Attendance]  # (session id, person id) -> the mark
    markers: dict[int, str | None]  # person id -> the name of staff who marked by hand
    now: datetime  # when the sheet is read: hours count for sessions that have taken place

    def mark(self, session_id: int, person_id: int) -> Attendance | None:
        return self.marks.get((session_id, person_id))

    def sessions_attended(self, person_id: int) -> int:
        return sum(1 for s in self.sessions if (m := self.mark(s.id, person_id)) and m.is_present)

    def hours_attended(self, person_id: int) -> float:
        return round(sum(counted_hours(self.mark(s.id, person_id), s, self.now)
                         for s in self.sessions), 2)

    def present_at(self, session_id: int) -> int:
        return sum(1 for t in self.trainees
                   if (m := self.mark(session_id, t.person_id)) and m.is_present)

    @property
    def manual_marks(self) -> list[tuple[ClassSession, SheetTrainee, Attendance]]:
        """Marks made by hand, session by session, in the order of the sheet."""
        return [(s, t, m) for s in self.sessions for t in self.trainees
                if (m := self.mark(s.id, t.person_id)) and m.how is MarkHow.MANUAL]


def attendance_sheet(db: Session, *, course_code: str, now: datetime) -> AttendanceSheet:
    course = db.scalar(select(Course).where(Course.code == course_code)
                       .options(joinedload(Course.institution)))
    if course is None:
        raise CourseNotFound(course_code=course_code)
    sessions = db.scalars(select(ClassSession).where(ClassSession.course_id == course.id)
                          .order_by(ClassSession.day, ClassSession.starts)).all()
    vouchers = db.scalars(select(Voucher).where(Voucher.course_id == course.id,
                                                Voucher.status.in_(SHEET_STATUSES))
                          .options(joinedload(Voucher.person)).order_by(Voucher.id)).all()
    trainees = [SheetTrainee(v.person_id, v.number, v.person.name, v.person.id_masked)
                for v in vouchers]
    marks = {(a.session_id, a.person_id): a for a in db.scalars(select(Attendance).where(
        Attendance.session_id.in_([s.id for s in sessions]),
        Attendance.person_id.in_([t.person_id for t in trainees])))}
    marker_ids = {a.marked_by_id for a in marks.values()
                  if a.how is MarkHow.MANUAL and a.marked_by_id is not None}
    markers = dict(db.execute(select(Person.id, Person.name)
                              .where(Person.id.in_(marker_ids))).all()) if marker_ids else {}
    return AttendanceSheet(course=course, sessions=list(sessions), trainees=trainees,
                           marks=marks, markers=markers, now=now)

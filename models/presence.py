"""Who was really in the room (YN2021 三(三) 每班必查; the county's check-in rules, on the model
of DX2020 三(六)): staff count the heads at roll call, and the bureau's oversight flags sessions
whose check-ins look made up — positions on the class's own point, many trainees from one spot
within seconds, no position where the course needs one, more scans than heads counted — next
to the share of marks made by hand.

A server cannot prove where a phone is: check-ins are recorded with their position and its
source (models.attendance), never refused for looking made up; these flags send an inspector."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Float, ForeignKey, and_, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column
from sqlalchemy.sql.expression import FunctionElement

from models.attendance import (
    CHECKOUT_AFTER,
    OPENS_BEFORE,
    PROXY_SIGNING_SHARE,
    Attendance,
    MarkHow,
    SpotCheck,
    current_session,
    is_no_smartphone_mark,
)
from models.audit import Channel, audit
from models.base import Base, enum_column
from models.basis import cite
from models.catalogue import ClassSession, Course, session_bounds
from models.errors import ClassWrongInstitution, HeadcountRefused
from models.persons import LocationSource
from models.staff import staff_of

logger = logging.getLogger(__name__)

# Nobody counts more people than this in one class room (classes hold at most 60, YN2021 二(七)):
# a bigger number is a slip of the finger, refused so that it cannot hide a real shortfall.
HEADCOUNT_MAX = 500

# A position within this many degrees (≈1 m) of the class's stored point is the point itself.
# Real GPS scatters by metres, indoors by tens of metres, and never lands on the coordinates an
# institution typed into the catalogue; a phone that reports them was given them (a location
# faker, or an API call that copies the course's coordinates from the course page).
AT_CLASS_POINT_DEG = 0.00001
# A burst: at least BURST_SIZE scans of one session within BURST_SECONDS from one spot of about
# BURST_CELL_DEG (≈5 m: 0.00005° is 5.6 m of latitude and 5.0 m of longitude at 25°N). A room
# fills over minutes and phones scatter; five identical positions inside a minute is one phone
# (or one script) checking in for several people. Phones that locate by the same Wi-Fi can share
# a point, so this is a flag to look at with the headcount and a spot check, not a refusal.
BURST_SIZE = 5
BURST_SECONDS = 60
BURST_CELL_DEG = 0.00005
# The oversight page looks at the sessions of the last OVERSIGHT_DAYS days by default (an
# inspector's fortnight; 360,000 marks in 30 days read in about 1 s on PostgreSQL, within the 3 s
# statement timeout), and lists at most SESSIONS_SHOWN flagged sessions (the latest first); the
# per-class summary counts all.
OVERSIGHT_DAYS = 14
OVERSIGHT_DAYS_MAX = 366
SESSIONS_SHOWN = 200

POSITIONED = (LocationSource.WECHAT_EVENT, LocationSource.WECHAT_MESSAGE,
              LocationSource.MINIPROGRAM)


class Headcount(Base):
    """Staff's count of the people in the room during a session; the latest count stands."""

    __tablename__ = "headcounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_sessions.id"), index=True)
    counted: Mapped[int]
    scans_then: Mapped[int]  # trainees checked in by scan when the count was recorded
    by_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    at: Mapped[datetime]
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))


# --- the staff's headcount -----------------------------------------------------------------

@dataclass(frozen=True)
class HeadcountResult:
    headcount: Headcount
    session: ClassSession

    @property
    def extra_scans(self) -> int:
        """Scans beyond the heads counted: someone checked in who is not in the room."""
        return max(0, self.headcount.scans_then - self.headcount.counted)


def record_headcount(db: Session, *, staff_openid: str, counted: int, now: datetime,
                     channel: Channel, course_code: str | None = None) -> HeadcountResult:
    """人数: staff of the class's own institution record how many people they see in the room,
    while the session runs (opened, between its check-in opening and its check-out closing)."""
    staff = staff_of(db, openid=staff_openid)
    if not 0 <= counted <= HEADCOUNT_MAX:
        raise HeadcountRefused(rule="range", limit=HEADCOUNT_MAX)
    if course_code and db.scalar(select(Course.id).where(
            Course.code == course_code.strip(),
            Course.institution_id != staff.institution_id)) is not None:
        raise ClassWrongInstitution(course=course_code.strip())
    session = current_session(db, staff_openid=staff_openid, now=now, course_code=course_code)
    starts, ends = session_bounds(session)
    if session.opened_at is None or not starts - OPENS_BEFORE <= now <= ends + CHECKOUT_AFTER:
        raise HeadcountRefused(rule="not_running", source=cite("check_in_in_person"),
                               course=session.course.name)
    scans = db.scalar(select(func.count(Attendance.id)).where(
        Attendance.session_id == session.id, Attendance.is_present.is_(True),
        Attendance.how == MarkHow.SCAN)) or 0
    headcount = Headcount(session_id=session.id, counted=counted, scans_then=scans,
                          by_person_id=staff.person_id, at=now, channel=channel)
    db.add(headcount)
    audit(db, actor_id=staff.person_id, channel=channel, action="session.headcount",
          target=headcount, after={"session": session.id, "counted": counted, "scans": scans},
          at=now)
    return HeadcountResult(headcount=headcount, session=session)


# --- the bureau's oversight ----------------------------------------------------------------

class epoch_seconds(FunctionElement):  # an SQL function, named as SQL names them
    """Whole seconds since 1970 of a UTC datetime column, on PostgreSQL and SQLite alike."""

    type = Float()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds)
def _epoch_postgresql(element, compiler, **kw) -> str:
    return f"CAST(ROUND(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element, compiler, **kw) -> str:
    # SQLAlchemy stores a UTC datetime as 'YYYY-MM-DD HH:MM:SS.ffffff'; julianday reads it.
    column = compiler.process(element.clauses, **kw)
    return f"CAST(ROUND((julianday({column}) - 2440587.5) * 86400) AS INTEGER)"


@dataclass(frozen=True)
class SessionFlags:
    """One session's figures and what looks wrong in them."""

    course: Course
    session_id: int
    day: date
    starts: str
    marks: int
    manual: int  # hand marks other than 无智能手机
    scans: int
    at_class_point: int  # check-ins whose position is the class's own point
    burst: int  # the most scans within BURST_SECONDS from one spot
    no_position: int  # present without a position, where the course needs one
    headcount: int | None  # the latest count of heads, if staff counted
    spot_checks: int
    no_smartphone: int = 0  # hand marks of trainees without WeChat, counted apart

    @property
    def is_burst(self) -> bool:
        return self.burst >= BURST_SIZE

    @property
    def extra_scans(self) -> int:
        return max(0, self.scans - self.headcount) if self.headcount is not None else 0

    @property
    def is_flagged(self) -> bool:
        return bool(self.at_class_point or self.is_burst or self.no_position
                    or self.extra_scans)


@dataclass(frozen=True)
class ClassFlags:
    """A class's sessions in the period, summed: marks, the share made by hand (a warning sign
    of 代签), and how many sessions carry each flag. The marks 无智能手机 of trainees without
    WeChat (who cannot scan) are counted apart, outside that share."""

    course: Course
    sessions: int
    marks: int
    manual: int
    at_class_point: int  # sessions with check-ins on the class point
    bursts: int  # sessions with a burst from one spot
    no_position: int  # check-ins without a position where one is needed
    headcounts: int  # sessions whose heads were counted
    extra_scans: int  # sessions with more scans than heads
    spot_checks: int
    no_smartphone: int = 0  # hand marks 无智能手机

    @property
    def manual_share(self) -> float:
        """Hand marks among the marks of trainees who could scan."""
        could_scan = self.marks - self.no_smartphone
        return self.manual / could_scan if could_scan else 0.0

    @property
    def is_proxy_share(self) -> bool:
        return bool(self.marks) and self.manual_share >= PROXY_SIGNING_SHARE

    @property
    def is_flagged(self) -> bool:
        return bool(self.is_proxy_share or self.at_class_point or self.bursts
                    or self.no_position or self.extra_scans)


@dataclass(frozen=True)
class PresenceOversight:
    since: date
    until: date
    sessions: list[SessionFlags]  # flagged sessions, the latest first, at most SESSIONS_SHOWN
    more_sessions: int  # flagged sessions beyond those listed
    classes: list[ClassFlags]  # flagged classes
    quiet_classes: int  # classes with sessions in the period and no flag
    # Every class with hand marks 无智能手机 in the period, flagged or not: counted apart.
    without_smartphone: list[ClassFlags] = field(default_factory=list)

    @property
    def no_smartphone_marks(self) -> int:
        return sum(c.no_smartphone for c in self.without_smartphone)


def _session_rows(since: date, until: date):
    """One row per session of the period that has marks, in one pass over its attendance: the
    counts by kind, and the most scans within BURST_SECONDS from one ~5 m spot (a window over
    the positioned scans of each session and spot, ordered by time: no pairs compared)."""
    present = Attendance.is_present.is_(True)
    scan = and_(present, Attendance.how == MarkHow.SCAN)
    positioned = and_(Attendance.location_source.in_(POSITIONED),
                      Attendance.location_lat.is_not(None), Attendance.location_lng.is_not(None))
    on_point = and_(present, positioned, Course.lat.is_not(None), Course.lng.is_not(None),
                    func.abs(Attendance.location_lat - Course.lat) <= AT_CLASS_POINT_DEG,
                    func.abs(Attendance.location_lng - Course.lng) <= AT_CLASS_POINT_DEG)
    needs_place = and_(Course.radius_m.is_not(None), Course.lat.is_not(None),
                       Course.lng.is_not(None))
    candidate = and_(scan, positioned, Attendance.checked_in_at.is_not(None))
    spot = (ClassSession.id, case((candidate, 1), else_=0),
            func.round(Attendance.location_lat / BURST_CELL_DEG),
            func.round(Attendance.location_lng / BURST_CELL_DEG))
    near = func.count(Attendance.id).over(
        partition_by=spot, order_by=epoch_seconds(Attendance.checked_in_at),
        range_=(-BURST_SECONDS, 0))

    def flag(condition):
        return case((condition, 1), else_=0)

    paperless = is_no_smartphone_mark()
    marks = (select(ClassSession.id.label("session_id"), ClassSession.course_id,
                    ClassSession.day, ClassSession.starts,
                    flag(and_(Attendance.how == MarkHow.MANUAL, ~paperless)).label("manual"),
                    flag(paperless).label("no_smartphone"),
                    flag(scan).label("scan"), flag(on_point).label("at_point"),
                    flag(and_(present, needs_place,
                              Attendance.location_source == LocationSource.NONE))
                    .label("no_position"),
                    case((candidate, near), else_=0).label("near"))
             .join(Attendance, Attendance.session_id == ClassSession.id)
             .join(Course, Course.id == ClassSession.course_id)
             .where(ClassSession.day.between(since, until))
             .subquery("marks"))
    figures = (select(marks.c.session_id, marks.c.course_id, marks.c.day, marks.c.starts,
                      func.count().label("marks"), func.sum(marks.c.manual).label("manual"),
                      func.sum(marks.c.no_smartphone).label("no_smartphone"),
                      func.sum(marks.c.scan).label("scans"),
                      func.sum(marks.c.at_point).label("at_point"),
                      func.sum(marks.c.no_position).label("no_position"),
                      func.max(marks.c.near).label("burst"))
               .group_by(marks.c.session_id, marks.c.course_id, marks.c.day, marks.c.starts)
               .subquery("figures"))
    latest = (select(func.max(Headcount.id).label("id"))
              .join(ClassSession, ClassSession.id == Headcount.session_id)
              .where(ClassSession.day.between(since, until))
              .group_by(Headcount.session_id).subquery("latest"))
    heads = (select(Headcount.session_id, Headcount.counted)
             .join(latest, latest.c.id == Headcount.id).subquery("heads"))
    checks = (select(SpotCheck.session_id, func.count(SpotCheck.id).label("checks"))
              .join(ClassSession, ClassSession.id == SpotCheck.session_id)
              .where(ClassSession.day.between(since, until))
              .group_by(SpotCheck.session_id).subquery("checks"))
    return (select(figures, heads.c.counted, func.coalesce(checks.c.checks, 0).label("checks"))
            .outerjoin(heads, heads.c.session_id == figures.c.session_id)
            .outerjoin(checks, checks.c.session_id == figures.c.session_id))


def presence_oversight(db: Session, *, today: date,
                       days: int = OVERSIGHT_DAYS) -> PresenceOversight:
    """The sessions of the last ``days`` days (today included): each flagged session with its
    course and day, and per class the sums and the share of marks made by hand. One query reads
    one row per session (the period bounds them); the classes are summed from those rows."""
    since, until = today - timedelta(days=days - 1), today
    rows = db.execute(_session_rows(since, until)).all()
    course_ids = {r.course_id for r in rows}
    courses = {c.id: c for c in db.scalars(select(Course).where(Course.id.in_(course_ids))
                                           .options(joinedload(Course.institution)))}
    every = [SessionFlags(course=courses[r.course_id], session_id=r.session_id, day=r.day,
                          starts=r.starts.strftime("%H:%M"), marks=int(r.marks),
                          manual=int(r.manual), scans=int(r.scans),
                          at_class_point=int(r.at_point), burst=int(r.burst or 0),
                          no_position=int(r.no_position), headcount=r.counted,
                          spot_checks=int(r.checks), no_smartphone=int(r.no_smartphone))
             for r in rows]
    flagged = sorted((s for s in every if s.is_flagged),
                     key=lambda s: (s.day, s.starts, s.session_id), reverse=True)
    by_course: dict[int, list[SessionFlags]] = {}
    for session in every:
        by_course.setdefault(session.course.id, []).append(session)
    classes = [ClassFlags(course=courses[course_id], sessions=len(group),
                          marks=sum(s.marks for s in group), manual=sum(s.manual for s in group),
                          at_class_point=sum(1 for s in group if s.at_class_point),
                          bursts=sum(1 for s in group if s.is_burst),
                          no_position=sum(s.no_position for s in group),
                          headcounts=sum(1 for s in group if s.headcount is not None),
                          extra_scans=sum(1 for s in group if s.extra_scans),
                          spot_checks=sum(s.spot_checks for s in group),
                          no_smartphone=sum(s.no_smartphone for s in group))
               for course_id, group in by_course.items()]
    shown = sorted((c for c in classes if c.is_flagged),
                   key=lambda c: (c.course.starts_on, c.course.code))
    return PresenceOversight(since=since, until=until, sessions=flagged[:SESSIONS_SHOWN],
                             more_sessions=max(0, len(flagged) - SESSIONS_SHOWN),
                             classes=shown, quiet_classes=len(classes) - len(shown),
                             without_smartphone=sorted(
                                 (c for c in classes if c.no_smartphone),
                                 key=lambda c: (c.course.starts_on, c.course.code)))

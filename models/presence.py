"""Who was really in the room (DX2020 三(六), YN2021 三(三)): staff count the heads at roll call,
and the bureau's oversight flags sessions whose check-ins look made up — positions on the class's
own point, many trainees from one spot within seconds, no position where the course needs one,
more scans than heads counted — next to the share of marks made by hand.

A server cannot prove where a phone is: check-ins are recorded with their position and its
source (models.attendance), never refused for looking made up; these flags send an inspector."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Float, ForeignKey, and_, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column
from sqlalchemy.sql.expression import FunctionElement

from models.attendance import (
    CHECKOUT_AFTER,
    DX2020_ATTENDANCE,
    OPENS_BEFORE,
    PROXY_SIGNING_SHARE,
    Attendance,
    MarkHow,
    SpotCheck,
    current_session,
)
from models.audit import Channel, audit
from models.base import Base, enum_column
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
# The oversight page looks at the sessions of the last OVERSIGHT_DAYS days by default, and lists
# at most SESSIONS_SHOWN flagged sessions (the latest first); the per-class summary counts all.
OVERSIGHT_DAYS = 30
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
        raise HeadcountRefused(rule="not_running", source=DX2020_ATTENDANCE,
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
    manual: int
    scans: int
    at_class_point: int  # check-ins whose position is the class's own point
    burst: int  # the most scans within BURST_SECONDS from one spot
    no_position: int  # present without a position, where the course needs one
    headcount: int | None  # the latest count of heads, if staff counted

    @property
    def is_burst(self) -> bool:
        return self.burst >= BURST_SIZE

    @property
    def extra_scans(self) -> int:
        return max(0, self.scans - self.headcount) if self.headcount is not None else 0


@dataclass(frozen=True)
class ClassFlags:
    """A class's sessions in the period, summed: marks, the share made by hand (a warning sign
    of 代签), and how many sessions carry each flag."""

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

    @property
    def manual_share(self) -> float:
        return self.manual / self.marks if self.marks else 0.0

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


def _session_figures(since: date, until: date):
    """One row per session of the period that has marks: counts by kind, in one GROUP BY."""
    present = Attendance.is_present.is_(True)
    positioned = and_(Attendance.location_source.in_(POSITIONED),
                      Attendance.location_lat.is_not(None), Attendance.location_lng.is_not(None))
    on_point = and_(present, positioned, Course.lat.is_not(None), Course.lng.is_not(None),
                    func.abs(Attendance.location_lat - Course.lat) <= AT_CLASS_POINT_DEG,
                    func.abs(Attendance.location_lng - Course.lng) <= AT_CLASS_POINT_DEG)
    needs_place = and_(Course.radius_m.is_not(None), Course.lat.is_not(None),
                       Course.lng.is_not(None))
    unplaced = and_(present, needs_place, Attendance.location_source == LocationSource.NONE)

    def tally(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return (select(ClassSession.id.label("session_id"), ClassSession.course_id,
                   ClassSession.day, ClassSession.starts,
                   func.count(Attendance.id).label("marks"),
                   tally(Attendance.how == MarkHow.MANUAL).label("manual"),
                   tally(and_(present, Attendance.how == MarkHow.SCAN)).label("scans"),
                   tally(on_point).label("at_point"), tally(unplaced).label("no_position"))
            .join(Attendance, Attendance.session_id == ClassSession.id)
            .join(Course, Course.id == ClassSession.course_id)
            .where(ClassSession.day.between(since, until))
            .group_by(ClassSession.id, ClassSession.course_id, ClassSession.day,
                      ClassSession.starts)
            .subquery("figures"))


def _bursts(since: date, until: date):
    """Per session, the most scans within BURST_SECONDS from one ~5 m spot: a window over the
    scans of each (session, spot), ordered by time (one pass, no pairs)."""
    seconds = epoch_seconds(Attendance.checked_in_at)
    spot = (ClassSession.id, func.round(Attendance.location_lat / BURST_CELL_DEG),
            func.round(Attendance.location_lng / BURST_CELL_DEG))
    near = func.count(Attendance.id).over(partition_by=spot, order_by=seconds,
                                          range_=(-BURST_SECONDS, 0))
    scans = (select(ClassSession.id.label("session_id"), near.label("near"))
             .join(Attendance, Attendance.session_id == ClassSession.id)
             .where(ClassSession.day.between(since, until), Attendance.is_present.is_(True),
                    Attendance.how == MarkHow.SCAN, Attendance.checked_in_at.is_not(None),
                    Attendance.location_source.in_(POSITIONED),
                    Attendance.location_lat.is_not(None), Attendance.location_lng.is_not(None))
             .subquery("scans"))
    return (select(scans.c.session_id, func.max(scans.c.near).label("burst"))
            .group_by(scans.c.session_id).subquery("bursts"))


def _latest_headcounts(since: date, until: date):
    latest = (select(func.max(Headcount.id).label("id"))
              .join(ClassSession, ClassSession.id == Headcount.session_id)
              .where(ClassSession.day.between(since, until))
              .group_by(Headcount.session_id).subquery("latest"))
    return (select(Headcount.session_id, Headcount.counted)
            .join(latest, latest.c.id == Headcount.id).subquery("heads"))


def presence_oversight(db: Session, *, today: date,
                       days: int = OVERSIGHT_DAYS) -> PresenceOversight:
    """The sessions of the last ``days`` days (today included): each flagged session with its
    course and day, and per class the sums and the share of marks made by hand."""
    since, until = today - timedelta(days=days - 1), today
    figures, bursts = _session_figures(since, until), _bursts(since, until)
    heads = _latest_headcounts(since, until)
    burst = func.coalesce(bursts.c.burst, 0)
    flagged = or_(figures.c.at_point > 0, figures.c.no_position > 0, burst >= BURST_SIZE,
                  heads.c.counted < figures.c.scans)
    rows = (select(figures, burst.label("burst"), heads.c.counted,
                   flagged.label("flagged"))
            .outerjoin(bursts, bursts.c.session_id == figures.c.session_id)
            .outerjoin(heads, heads.c.session_id == figures.c.session_id)
            .subquery("rows"))

    listed = db.execute(select(rows).where(rows.c.flagged)
                        .order_by(rows.c.day.desc(), rows.c.starts.desc(),
                                  rows.c.session_id.desc())
                        .limit(SESSIONS_SHOWN + 1)).all()
    checks = (select(ClassSession.course_id, func.count(SpotCheck.id).label("checks"))
              .join(SpotCheck, SpotCheck.session_id == ClassSession.id)
              .where(ClassSession.day.between(since, until))
              .group_by(ClassSession.course_id).subquery("checks"))
    per_class = db.execute(
        select(rows.c.course_id, func.count().label("sessions"),
               func.sum(rows.c.marks).label("marks"), func.sum(rows.c.manual).label("manual"),
               func.sum(case((rows.c.at_point > 0, 1), else_=0)).label("at_point"),
               func.sum(case((rows.c.burst >= BURST_SIZE, 1), else_=0)).label("bursts"),
               func.sum(rows.c.no_position).label("no_position"),
               func.count(rows.c.counted).label("headcounts"),
               func.sum(case((rows.c.counted < rows.c.scans, 1), else_=0)).label("extra"),
               func.max(func.coalesce(checks.c.checks, 0)).label("checks"))
        .outerjoin(checks, checks.c.course_id == rows.c.course_id)
        .group_by(rows.c.course_id)).all()

    course_ids = {r.course_id for r in listed} | {r.course_id for r in per_class}
    courses = {c.id: c for c in db.scalars(select(Course).where(Course.id.in_(course_ids))
                                           .options(joinedload(Course.institution)))}
    sessions = [SessionFlags(course=courses[r.course_id], session_id=r.session_id, day=r.day,
                             starts=r.starts.strftime("%H:%M"), marks=r.marks,
                             manual=int(r.manual), scans=int(r.scans),
                             at_class_point=int(r.at_point), burst=int(r.burst),
                             no_position=int(r.no_position), headcount=r.counted)
                for r in listed[:SESSIONS_SHOWN]]
    classes = [ClassFlags(course=courses[r.course_id], sessions=r.sessions, marks=int(r.marks),
                          manual=int(r.manual), at_class_point=int(r.at_point),
                          bursts=int(r.bursts), no_position=int(r.no_position),
                          headcounts=r.headcounts, extra_scans=int(r.extra),
                          spot_checks=int(r.checks))
               for r in per_class]
    shown = sorted((c for c in classes if c.is_flagged),
                   key=lambda c: (c.course.starts_on, c.course.code))
    more = len(listed) - len(sessions)
    if more:
        more = (db.scalar(select(func.count()).select_from(rows).where(rows.c.flagged))
                or 0) - len(sessions)
    return PresenceOversight(since=since, until=until, sessions=sessions, more_sessions=more,
                             classes=shown, quiet_classes=len(classes) - len(shown))

"""People: who they are on WeChat, what they told us when they registered, which groups they
belong to (self-declared or verified), who brought them in."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.audit import Channel, audit
from models.base import Base, enum_column
from models.catalogue import Intent as WorkIntent
from models.direct import DirectReads
from models.errors import UnknownLocale
from models.regions import Region

logger = logging.getLogger(__name__)

DEFAULT_LOCALE = "zh_Hans_CN"
LOCALES = ("zh_Hans_CN", "en")
# A follower's unionid is asked of WeChat's user-info API by the worker: a failed lookup is
# tried again after UNIONID_RETRY, doubling, at most UNIONID_ATTEMPTS times.
UNIONID_RETRY = timedelta(minutes=1)
UNIONID_ATTEMPTS = 6


class Group(enum.StrEnum):
    """Groups that policies single out (QJ2020 五, QJ2019 (四)(十七), YN2021 二)."""

    POVERTY_ALLEVIATED = "poverty_alleviated"  # 脱贫劳动力
    EMPLOYMENT_DIFFICULTY = "employment_difficulty"  # 就业困难人员
    TWO_AFTER = "two_after"  # 两后生
    DISABLED = "disabled"  # 残疾人
    VETERAN = "veteran"  # 退役军人
    RELOCATED = "relocated"  # 易地扶贫搬迁
    UNEMPLOYED = "unemployed"  # 失业人员
    RURAL_TRANSFER = "rural_transfer"  # 农村转移就业劳动力 (QJ2019 (四)(十七))
    JOB_TRANSFER = "job_transfer"  # 转岗职工 (QJ2019 (十七))


class HouseholdKind(enum.StrEnum):
    """The kind of household registration (户口), as the person says: QJ2020 五(一) and QJ2019
    (十八) pay the living and transport allowances to the rural students among 两后生 only, and
    QJ2019 (四) counts older unemployed people as 就业困难人员 in towns (城镇). Unknown is None:
    the rules that depend on it then answer provisionally, never yes."""

    RURAL = "rural"  # 农村 (农业) household
    URBAN = "urban"  # 城镇 (非农业) household


class GroupStatus(enum.StrEnum):
    SELF_DECLARED = "self_declared"
    VERIFIED = "verified"
    REJECTED = "rejected"


class LocationSource(enum.StrEnum):
    """Where a position came from, kept with each check-in: the bureau reads them differently.
    WeChat's own LOCATION event is the phone's fix as WeChat reports it (with its precision); a
    location message is a point the person chose on a map (it can be moved anywhere); the
    mini-program's position is what the app says wx.getLocation gave, which a client can make
    up; none: no position at all."""

    WECHAT_EVENT = "wechat_event"
    WECHAT_MESSAGE = "wechat_message"
    MINIPROGRAM = "miniprogram"
    NONE = "none"


class ConsentHow(enum.StrEnum):
    WECHAT = "wechat"  # agreed in the dialogue
    PAPER = "paper"  # signed on paper in front of a cadre (代报名)
    READ_ALOUD = "read_aloud"  # a cadre read the text to them and they agreed (代领券)


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a neighbour a cadre registered who has not bound their own WeChat yet.
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # WeChat's unionid, the same in the official account and the mini-program (models.miniprogram).
    unionid: Mapped[str | None] = mapped_column(String(64), unique=True)
    locale: Mapped[str] = mapped_column(String(16), default=DEFAULT_LOCALE)
    is_following: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # When the person last wrote to us: customer messages are allowed for 48 hours after.
    last_seen_at: Mapped[datetime | None]

    name: Mapped[str | None] = mapped_column(String(40))
    # The ID number only sealed (models.pii), found by its keyed hash, shown masked.
    id_sealed: Mapped[str | None] = mapped_column(Text)
    id_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_masked: Mapped[str | None] = mapped_column(String(18))
    birth_date: Mapped[date | None]
    sex: Mapped[str | None] = mapped_column(String(1))
    phone_sealed: Mapped[str | None] = mapped_column(Text)
    phone_masked: Mapped[str | None] = mapped_column(String(11))
    # The household (户籍地): a township of this county, or (township_id None) a place elsewhere
    # as the person named it; both None: not known (consent withdrawn).
    township_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    household_elsewhere: Mapped[str | None] = mapped_column(String(60))
    household_kind: Mapped[HouseholdKind | None] = mapped_column(enum_column(HouseholdKind))
    # Where they live (常住地) and seek work (求职就业地): a township of this county, or not in
    # the county (*_elsewhere True); both None: not known (registered before it was asked).
    residence_township_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    residence_elsewhere: Mapped[bool | None]
    job_township_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    job_elsewhere: Mapped[bool | None]
    intent: Mapped[WorkIntent | None] = mapped_column(enum_column(WorkIntent))
    draws_pension: Mapped[bool | None]
    consent_at: Mapped[datetime | None]
    consent_how: Mapped[ConsentHow | None] = mapped_column(enum_column(ConsentHow))
    registered_at: Mapped[datetime | None]
    # The cadre's person who registered them on their behalf (代报名), if any.
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    # The cadre who mobilized them: the first one wins.
    referred_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("cadres.id", use_alter=True), index=True)
    referred_at: Mapped[datetime | None]
    # Where they last told WeChat they were, for courses nearest first.
    last_lat: Mapped[float | None]
    last_lng: Mapped[float | None]
    located_at: Mapped[datetime | None]
    # How that position reached us, and its accuracy in metres where the sender gave one.
    location_source: Mapped[LocationSource | None] = mapped_column(enum_column(LocationSource))
    location_accuracy_m: Mapped[float | None]
    # A one-time code a cadre gives a neighbour to bind their own WeChat to this record.
    bind_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    bind_code_expires_at: Mapped[datetime | None]
    anonymized_at: Mapped[datetime | None]
    # 退订: no broadcast (job openings, follow-up questions) is queued or sent while set;
    # notices about the person's own vouchers still are (models.outbox.unsubscribe).
    unsubscribed_at: Mapped[datetime | None]

    township: Mapped[Region | None] = relationship(foreign_keys=[township_id])
    residence_township: Mapped[Region | None] = relationship(
        foreign_keys=[residence_township_id])
    job_township: Mapped[Region | None] = relationship(foreign_keys=[job_township_id])
    groups: Mapped[list[PersonGroup]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PersonGroup.id",
        foreign_keys="PersonGroup.person_id")

    @property
    def is_registered(self) -> bool:
        return registered(self.registered_at, self.anonymized_at)


def registered(registered_at: datetime | None, anonymized_at: datetime | None) -> bool:
    """Registered, and not anonymized since: whom a claim and SUBSIDY serve."""
    return registered_at is not None and anonymized_at is None


class PersonGroup(Base):
    __tablename__ = "person_groups"
    __table_args__ = (UniqueConstraint("person_id", "group"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    group: Mapped[Group] = mapped_column(enum_column(Group))
    status: Mapped[GroupStatus] = mapped_column(enum_column(GroupStatus))
    declared_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    decided_at: Mapped[datetime | None]
    document: Mapped[str | None] = mapped_column(String(120))

    person: Mapped[Person] = relationship(back_populates="groups", foreign_keys=[person_id])


def meet(db: Session, *, openid: str, now: datetime) -> Person:
    """The person behind an openid, created on first contact; marks them as seen now."""
    person = db.scalar(select(Person).where(Person.openid == openid))
    if person is None:
        try:
            # Two first messages from one person can arrive at once (go-live day: every
            # follower is new): the loser of the insert reads the winner's row.
            with db.begin_nested():
                person = Person(openid=openid, locale=DEFAULT_LOCALE, created_at=now,
                                last_seen_at=now)
                db.add(person)
                audit(db, actor_id=None, channel=Channel.WECHAT,
                      action="person.first_contact", target=person, at=now)
            return person
        except IntegrityError:
            person = db.scalar(select(Person).where(Person.openid == openid))
    if _seen_long_ago(person.last_seen_at, now):
        person.last_seen_at = now
    return person


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote a message, as a turn of the conversation knows them: the few of their columns
    the bot reads (who they are, their language, whether they are registered or unsubscribed,
    and what orders their course list). Anything else of the person is read by the operation
    that needs it, in its own transaction. Every message reads this, so it holds only these:
    the whole row's 39 columns cost a message more in the driver's per-column work than the
    read itself (issue 19)."""

    id: int
    locale: str
    registered_at: datetime | None
    anonymized_at: datetime | None
    unsubscribed_at: datetime | None
    intent: WorkIntent | None
    # Where their course list is measured from (bot.courses): their own position, else their
    # townships'.
    last_lat: float | None
    last_lng: float | None
    township_id: int | None
    residence_township_id: int | None

    @property
    def is_registered(self) -> bool:
        return registered(self.registered_at, self.anonymized_at)

    @classmethod
    def of(cls, person: Person) -> Sender:
        """The sender a person loaded in a transaction is (after meet, or a change of theirs)."""
        return cls(**{name: getattr(person, name) for name in _SENDER_COLUMNS})


_SENDER_COLUMNS = tuple(field.name for field in fields(Sender))
# Built once: compiled once per process by models.direct. With last_seen_at, which decides
# whether meeting them must write.
_BY_OPENID = (select(*(Person.__table__.c[name] for name in _SENDER_COLUMNS),
                     Person.__table__.c.last_seen_at)
              .where(Person.__table__.c.openid == bindparam("openid")))


def recognize(reads: DirectReads, *, openid: str, now: datetime) -> Sender | None:
    """The sender behind an openid, read in one statement on the process's kept connection
    (this is every message's path), when meeting them changes nothing; None when ``meet`` must
    write (first contact, or not seen for an hour)."""
    values = reads.first(_BY_OPENID, {"openid": openid})
    if values is None or _seen_long_ago(values.pop("last_seen_at"), now):
        return None
    return Sender(**values)


def _seen_long_ago(last_seen_at: datetime | None, now: datetime) -> bool:
    # Written at most once an hour: a chat should not turn every read into a write, and the
    # 48-hour customer-message window needs no finer clock (the worker falls back to a
    # template message when WeChat says the window has closed).
    return last_seen_at is None or now - last_seen_at > timedelta(hours=1)


def set_locale(db: Session, *, person_id: int, locale: str, channel: Channel,
               now: datetime) -> Person:
    person = db.get_one(Person, person_id)
    if locale not in LOCALES:
        raise UnknownLocale(locale=locale)
    if person.locale != locale:
        before = person.locale
        person.locale = locale
        audit(db, actor_id=person.id, channel=channel, action="person.set_locale",
              target=person, before={"locale": before}, after={"locale": locale}, at=now)
    return person


def set_following(db: Session, *, person_id: int, is_following: bool, now: datetime) -> Person:
    person = db.get_one(Person, person_id)
    if person.is_following != is_following:
        person.is_following = is_following
        audit(db, actor_id=person.id, channel=Channel.WECHAT,
              action="person.follow" if is_following else "person.unfollow",
              target=person, after={"is_following": is_following}, at=now)
    if is_following and person.unionid is None and person.openid is not None:
        queue_unionid_lookup(db, person_id=person.id, now=now)
    return person


# --- the unionid of a follower ----------------------------------------------------------------

class UnionidLookup(Base):
    """A follower whose unionid the worker is to ask WeChat for (user-info API), so that their
    mini-program links to them at its first sign-in (models.miniprogram.sign_in). Queued when
    they follow, not asked in the reply: WeChat's API may be slow, the reply must not be."""

    __tablename__ = "unionid_lookups"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    queued_at: Mapped[datetime]
    # None once given up (kept with its last error for the record).
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))


@dataclass(frozen=True)
class UnionidAsk:
    """One lookup claimed by a worker: whom to ask WeChat about."""

    person_id: int
    openid: str


def queue_unionid_lookup(db: Session, *, person_id: int, now: datetime) -> None:
    """Have the worker ask WeChat for this follower's unionid (soon)."""
    row = db.get(UnionidLookup, person_id)
    if row is None:
        db.add(UnionidLookup(person_id=person_id, queued_at=now, next_attempt_at=now,
                             attempts=0))
    elif row.next_attempt_at is None or row.next_attempt_at > now:
        # Following again is news: a lookup given up or waiting is tried afresh.
        row.queued_at, row.next_attempt_at, row.attempts = now, now, 0


def claim_unionid_lookups(db: Session, *, now: datetime, limit: int) -> list[UnionidAsk]:
    """Take up to ``limit`` lookups that are due. Each is pushed back by its retry delay as it
    is taken, so a worker that dies before answering leaves it to be taken again later; SKIP
    LOCKED lets several workers share the queue (SQLite ignores it)."""
    rows = db.scalars(select(UnionidLookup)
                      .where(UnionidLookup.next_attempt_at <= now)
                      .order_by(UnionidLookup.next_attempt_at, UnionidLookup.person_id)
                      .limit(limit).with_for_update(skip_locked=True)).all()
    asks = []
    for row in rows:
        person = db.get(Person, row.person_id)
        if person is None or person.openid is None or person.unionid is not None:
            db.delete(row)  # nothing left to learn (anonymized, or linked meanwhile)
            continue
        row.attempts += 1
        row.next_attempt_at = now + UNIONID_RETRY * 2 ** (row.attempts - 1)
        asks.append(UnionidAsk(person_id=person.id, openid=person.openid))
    db.flush()
    return asks


def store_unionid(db: Session, *, person_id: int, openid: str, unionid: str | None,
                  now: datetime) -> Person:
    """What WeChat's user-info API answered for a follower: keep their unionid, unless another
    person holds it already (never taken from them: logged, by ids only, and left alone). An
    answer without a unionid (the account has no open-platform account, or they left) ends
    the lookup too."""
    person = db.get_one(Person, person_id)
    row = db.get(UnionidLookup, person_id)
    if row is not None:
        db.delete(row)
    if not unionid or person.openid != openid or person.unionid is not None:
        return person
    holder = db.scalar(select(Person.id).where(Person.unionid == unionid))
    if holder is not None:
        logger.warning("unionid of person %s is held by person %s already; not moved",
                       person.id, holder)
        return person
    person.unionid = unionid
    audit(db, actor_id=None, channel=Channel.WORKER, action="person.unionid", target=person,
          after={"how": "user_info"}, at=now)
    return person


def unionid_lookup_failed(db: Session, *, person_id: int, error: str, now: datetime) -> None:
    """WeChat refused or did not answer: recorded; tried again when due, or given up after
    UNIONID_ATTEMPTS (the person can still link with a code, ``绑定小程序``)."""
    row = db.get(UnionidLookup, person_id)
    if row is None:
        return
    row.last_error = error[:300]
    if row.attempts >= UNIONID_ATTEMPTS:
        row.next_attempt_at = None


def note_location(db: Session, *, openid: str, lat: float, lng: float, now: datetime,
                  source: LocationSource = LocationSource.WECHAT_EVENT,
                  accuracy_m: float | None = None) -> None:
    """Where the person is, as ``source`` says (WeChat's LOCATION event by default, with its
    precision): for nearest courses first, and for the next check-in, which records it."""
    person = db.scalar(select(Person).where(Person.openid == openid))
    if person is not None and -90 <= lat <= 90 and -180 <= lng <= 180:
        person.last_lat, person.last_lng, person.located_at = lat, lng, now
        person.location_source = source
        person.location_accuracy_m = (round(accuracy_m, 1) if accuracy_m is not None
                                      and 0 <= accuracy_m < 1e6 else None)


def township_origin(db: Session, *,
                    township_ids: tuple[int | None, int | None]) -> tuple[float, float] | None:
    """Where "nearest" is measured from for a person who shared no location: the first of
    their townships (where they live, their household's) that has a place on the map."""
    for township_id in township_ids:
        township = db.get(Region, township_id) if township_id else None
        if township is not None and township.lat is not None:
            return township.lat, township.lng
    return None

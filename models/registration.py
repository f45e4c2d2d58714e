"""Registering a person, changing what they registered, withdrawing consent, and a cadre's
registration of a neighbour (代报名) with the one-time code that later binds their WeChat."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, joinedload, selectinload

from models.audit import Channel, audit
from models.catalogue import Intent as WorkIntent
from models.codes import OneTimeCode
from models.errors import (
    IdNumberAwaitsBinding,
    IdNumberTaken,
    InvalidAnswer,
    NotRegistered,
)
from models.identity import clean_name, clean_phone, parse_id_number, phone_answer
from models.persons import (
    ConsentHow,
    Group,
    GroupStatus,
    HouseholdKind,
    Person,
    PersonGroup,
    queue_unionid_lookup,
)
from models.pii import Vault, mask_id, mask_phone
from models.places import ELSEWHERE, PlaceRole, clean_place
from models.regions import Region, RegionLevel
from models.vouchers import cancel_unused_vouchers, has_ledger_vouchers

logger = logging.getLogger(__name__)

BIND_CODE_DAYS = 30
# Once the neighbour's WeChat has taken the record over (it has an openid), the code is used.
BIND_CODE = OneTimeCode("bind", digest_column=Person.bind_code_hash,
                        expires_column=Person.bind_code_expires_at, used_column=Person.openid,
                        refusal="bind_code")


@dataclass(frozen=True)
class RegistrationForm:
    """What a person answers; checked again here whatever channel collected it.

    The household is a township of this county (``township_code``) or a place elsewhere
    (``household_elsewhere``, as named), exactly one of them. ``residence`` and ``job_place``
    are a township code or ELSEWHERE (not in the county); None: not asked. ``household_kind``
    None: not known (the person said 不清楚, or was not asked)."""

    name: str
    id_number: str
    phone: str | None  # None: no mobile phone (a neighbour registered by a cadre only)
    township_code: str | None
    intent: WorkIntent
    groups: frozenset[Group] = field(default_factory=frozenset)
    draws_pension: bool = False
    household_kind: HouseholdKind | None = None
    household_elsewhere: str | None = None
    residence: str | None = None
    job_place: str | None = None


def township_by_code(db: Session, code: str, *, reason: str = "township") -> Region:
    township = db.scalar(select(Region).where(Region.code == code,
                                              Region.level == RegionLevel.TOWNSHIP))
    if township is None:
        raise InvalidAnswer(reason=reason, value=code[:40])
    return township


# The field a wrong place answer is about: its error's reason (vocabulary.errors, the API's fields).
_PLACE_REASONS = {PlaceRole.RESIDENCE: "residence", PlaceRole.JOB_SEEKING: "job_place"}


def _household(db: Session, township_code: str | None,
               elsewhere: str | None) -> tuple[Region | None, str | None]:
    """The household's township, or its place elsewhere: one of the two."""
    if (township_code is None) == (elsewhere is None):
        raise InvalidAnswer(reason="household")
    if township_code is not None:
        return township_by_code(db, township_code), None
    return None, clean_place(elsewhere)


def _place(db: Session, role: PlaceRole, answer: str | None) -> tuple[Region | None, bool | None]:
    """Where a person lives or seeks work: (township, False), (None, True) for not in the
    county, (None, None) when not asked."""
    if answer is None:
        return None, None
    if answer == ELSEWHERE:
        return None, True
    return township_by_code(db, answer, reason=_PLACE_REASONS[role]), False


def _place_code(township: Region | None, elsewhere: bool | None) -> str | None:
    return township.code if township is not None else (ELSEWHERE if elsewhere else None)


def register(db: Session, *, vault: Vault, form: RegistrationForm, openid: str | None,
             consent: ConsentHow, channel: Channel, now: datetime, today: date,
             registered_by: int | None = None) -> Person:
    """Register a person: themselves (openid) or a neighbour on paper (openid None)."""
    name = clean_name(form.name)
    facts = parse_id_number(form.id_number, today=today)
    phone = phone_answer(form.phone, by_cadre=registered_by is not None)
    township, elsewhere = _household(db, form.township_code, form.household_elsewhere)
    residence = _place(db, PlaceRole.RESIDENCE, form.residence)
    job = _place(db, PlaceRole.JOB_SEEKING, form.job_place)
    id_hash = vault.digest(facts.number)
    holder = db.scalar(select(Person).where(Person.id_hash == id_hash))
    person = db.scalar(select(Person).where(Person.openid == openid)) if openid else None
    if holder is not None and holder is not person:
        if holder.openid is None and registered_by is None:
            raise IdNumberAwaitsBinding()
        raise IdNumberTaken()
    if person is None:
        person = Person(openid=openid, created_at=now)
        db.add(person)
    person.name = name
    person.id_sealed, person.id_hash, person.id_masked = (
        vault.seal(facts.number), id_hash, mask_id(facts.number))
    person.birth_date, person.sex = facts.birth_date, facts.sex
    # Without a phone, the cadre who registered them (registered_by) is their contact.
    person.phone_sealed = vault.seal(phone) if phone else None
    person.phone_masked = mask_phone(phone) if phone else None
    person.township, person.household_elsewhere = township, elsewhere
    person.household_kind = form.household_kind
    person.residence_township, person.residence_elsewhere = residence
    person.job_township, person.job_elsewhere = job
    person.intent = form.intent
    person.draws_pension = form.draws_pension
    person.consent_at, person.consent_how = now, consent
    person.registered_at, person.registered_by_id = now, registered_by
    person.anonymized_at = None
    _declare_groups(person, form.groups, now)
    audit(db, actor_id=registered_by or person.id, channel=channel, action="person.register",
          target=person, at=now, after={
              "id": person.id_masked, "phone": person.phone_masked, **_places_audit(person),
              "intent": form.intent.value, "groups": sorted(g.value for g in form.groups),
              "consent": consent.value})
    return person


def _places_audit(person: Person) -> dict[str, str | None]:
    """The places as the audit log keeps them: codes, and "elsewhere" for a household outside
    the county (the place typed is not copied: it is free text)."""
    return {"township": _place_code(person.township, person.household_elsewhere is not None),
            "household_kind": person.household_kind.value if person.household_kind else None,
            "residence": _place_code(person.residence_township, person.residence_elsewhere),
            "job_place": _place_code(person.job_township, person.job_elsewhere)}


def _declare_groups(person: Person, groups: frozenset[Group], now: datetime) -> None:
    # Verified or rejected decisions stand; only self-declarations follow the new answer.
    decided = {g.group for g in person.groups if g.status is not GroupStatus.SELF_DECLARED}
    for row in list(person.groups):
        if row.status is GroupStatus.SELF_DECLARED and row.group not in groups:
            person.groups.remove(row)
    held = {g.group for g in person.groups}
    for group in sorted(groups - held - decided):
        person.groups.append(PersonGroup(group=group, status=GroupStatus.SELF_DECLARED,
                                         declared_at=now))


def registered_person(db: Session, *, openid: str) -> Person:
    person = db.scalar(select(Person).where(Person.openid == openid))
    if person is None or not person.is_registered:
        raise NotRegistered()
    return person


def change_phone(db: Session, *, vault: Vault, openid: str, phone: str, channel: Channel,
                 now: datetime) -> Person:
    person = registered_person(db, openid=openid)
    phone = clean_phone(phone)
    before = person.phone_masked
    person.phone_sealed, person.phone_masked = vault.seal(phone), mask_phone(phone)
    audit(db, actor_id=person.id, channel=channel, action="person.change_phone",
          target=person, before={"phone": before}, after={"phone": person.phone_masked},
          at=now)
    return person


def change_township(db: Session, *, openid: str, township_code: str, channel: Channel,
                    now: datetime) -> Person:
    """The household moved to (or is) a township of this county."""
    return change_household(db, openid=openid, township_code=township_code, elsewhere=None,
                            channel=channel, now=now)


def change_household(db: Session, *, openid: str, township_code: str | None,
                     elsewhere: str | None, channel: Channel, now: datetime) -> Person:
    """The household's place: a township of this county, or a place elsewhere (one of them)."""
    person = registered_person(db, openid=openid)
    township, named = _household(db, township_code, elsewhere)
    before = _places_audit(person)["township"]
    person.township, person.household_elsewhere = township, named
    audit(db, actor_id=person.id, channel=channel, action="person.change_township",
          target=person, before={"township": before},
          after={"township": _places_audit(person)["township"]}, at=now)
    return person


def change_household_kind(db: Session, *, openid: str, kind: HouseholdKind | None,
                          channel: Channel, now: datetime) -> Person:
    """农村 or 城镇 household, or None: the person does not know."""
    person = registered_person(db, openid=openid)
    before = person.household_kind.value if person.household_kind else None
    person.household_kind = kind
    audit(db, actor_id=person.id, channel=channel, action="person.change_household_kind",
          target=person, before={"household_kind": before},
          after={"household_kind": kind.value if kind else None}, at=now)
    return person


def change_place(db: Session, *, openid: str, role: PlaceRole, answer: str, channel: Channel,
                 now: datetime) -> Person:
    """Where the person lives (RESIDENCE) or seeks work (JOB_SEEKING): a township code of
    this county, or ELSEWHERE."""
    if role is PlaceRole.HOUSEHOLD:
        raise ValueError("the household changes with change_household")
    person = registered_person(db, openid=openid)
    key = _PLACE_REASONS[role]
    before = _places_audit(person)[key]
    township, elsewhere = _place(db, role, answer)
    if role is PlaceRole.RESIDENCE:
        person.residence_township, person.residence_elsewhere = township, elsewhere
    else:
        person.job_township, person.job_elsewhere = township, elsewhere
    audit(db, actor_id=person.id, channel=channel, action=f"person.change_{key}",
          target=person, before={key: before}, after={key: _places_audit(person)[key]},
          at=now)
    return person


def change_intent(db: Session, *, openid: str, intent: WorkIntent, channel: Channel,
                  now: datetime) -> Person:
    person = registered_person(db, openid=openid)
    before = person.intent.value if person.intent else None
    person.intent = intent
    audit(db, actor_id=person.id, channel=channel, action="person.change_intent",
          target=person, before={"intent": before}, after={"intent": intent.value}, at=now)
    return person


def change_pension(db: Session, *, openid: str, draws_pension: bool, channel: Channel,
                   now: datetime) -> Person:
    """Whether the person draws a monthly pension now (pension_excluded reads it)."""
    person = registered_person(db, openid=openid)
    before = person.draws_pension
    person.draws_pension = draws_pension
    audit(db, actor_id=person.id, channel=channel, action="person.change_pension",
          target=person, before={"draws_pension": before},
          after={"draws_pension": draws_pension}, at=now)
    return person


def change_groups(db: Session, *, openid: str, groups: frozenset[Group], channel: Channel,
                  now: datetime) -> list[Group]:
    """The groups the person says apply now. A group kept keeps its status (verified stays
    verified: nothing about it changed); a group left out is removed, verified or not (it can
    only narrow what the person gets); a new one is self-declared, for the bureau to verify. A
    group the bureau rejected stays rejected whatever the answer: declaring it again would
    turn the bureau's no into a provisional yes. Returns the rejected groups the person named
    again, so the channel can say that they stand."""
    person = registered_person(db, openid=openid)
    before = _groups_audit(person)
    rejected = {g.group for g in person.groups if g.status is GroupStatus.REJECTED}
    for row in list(person.groups):
        if row.status is not GroupStatus.REJECTED and row.group not in groups:
            person.groups.remove(row)
    held = {g.group for g in person.groups}
    for group in sorted(groups - held):
        person.groups.append(PersonGroup(group=group, status=GroupStatus.SELF_DECLARED,
                                         declared_at=now))
    audit(db, actor_id=person.id, channel=channel, action="person.change_groups",
          target=person, before={"groups": before}, after={"groups": _groups_audit(person)},
          at=now)
    return sorted(groups & rejected)


def _groups_audit(person: Person) -> dict[str, str]:
    return {g.group.value: g.status.value for g in sorted(person.groups, key=lambda g: g.group)}


def withdraw_consent(db: Session, *, openid: str, channel: Channel, now: datetime) -> Person:
    """Forget the person's personal information (PIPL 第十五条, 第四十七条), except what the
    subsidy ledgers must keep: a voucher not yet used is cancelled (its seat freed); once a
    voucher has been redeemed, the name, the ID number (sealed) and the verified groups stay for
    the ledgers and the audit of the money paid; everything else goes."""
    person = registered_person(db, openid=openid)
    cancel_unused_vouchers(db, person_id=person.id, reason="consent withdrawn", now=now)
    keeps_ledger = has_ledger_vouchers(db, person_id=person.id)
    forget = ["phone_sealed", "phone_masked", "intent", "draws_pension", "consent_at",
              "consent_how", "registered_at", "last_lat", "last_lng", "located_at",
              "location_source", "location_accuracy_m",
              "bind_code_hash", "bind_code_expires_at", "residence_township_id",
              "residence_elsewhere", "job_township_id", "job_elsewhere"]
    if not keeps_ledger:
        # The household and its kind decided the allowances paid: kept with the ledgers.
        forget += ["name", "id_sealed", "id_hash", "id_masked", "birth_date", "sex",
                   "township_id", "household_elsewhere", "household_kind"]
    for name in forget:
        setattr(person, name, None)
    for group in list(person.groups):
        if not keeps_ledger or group.status is not GroupStatus.VERIFIED:
            person.groups.remove(group)
    person.anonymized_at = now
    audit(db, actor_id=person.id, channel=channel, action="person.withdraw_consent",
          target=person, after={"kept_for_ledgers": keeps_ledger}, at=now)
    return person


def issue_bind_code(db: Session, *, vault: Vault, person: Person, now: datetime) -> str:
    """A six-digit code the neighbour types into the account to bind their own WeChat."""
    code, person.bind_code_hash = BIND_CODE.draw(vault, in_use=lambda digest: db.scalar(
        select(exists().where(Person.bind_code_hash == digest))))
    person.bind_code_expires_at = now + timedelta(days=BIND_CODE_DAYS)
    return code


def bind_with_code(db: Session, *, vault: Vault, openid: str, code: str,
                   now: datetime) -> Person:
    """The neighbour's own WeChat takes over the record a cadre made for them."""
    person = BIND_CODE.holder(db, vault=vault, code=code, now=now)
    stray = db.scalar(select(Person).where(Person.openid == openid))
    if stray is not None:
        if stray.is_registered:
            raise IdNumberTaken()
        # The first-contact row made when they followed the account; the record replaces it.
        stray.openid = None
        stray.anonymized_at = now
    db.flush()
    person.openid = openid
    person.bind_code_hash = person.bind_code_expires_at = None
    if person.unionid is None:
        # The lookup queued for the first-contact row (now without an openid) comes to nothing.
        queue_unionid_lookup(db, person_id=person.id, now=now)
    audit(db, actor_id=person.id, channel=Channel.WECHAT, action="person.bind_wechat",
          target=person, at=now)
    logger.info("person %s took over their record with a binding code", person.id)
    return person


def check_id_available(db: Session, *, vault: Vault, number: str, openid: str | None,
                       for_neighbour: bool = False) -> None:
    """Refuse early, in the dialogue, an ID number that another record holds."""
    holder = db.scalar(select(Person).where(Person.id_hash == vault.digest(number)))
    if holder is None or (openid is not None and holder.openid == openid):
        return
    if holder.openid is None and not for_neighbour:
        raise IdNumberAwaitsBinding()
    raise IdNumberTaken()


def townships(db: Session) -> list[Region]:
    return list(db.scalars(select(Region).where(Region.level == RegionLevel.TOWNSHIP)
                           .order_by(Region.id)))


def load_profile(db: Session, *, openid: str) -> Person:
    person = db.scalar(select(Person).where(Person.openid == openid).options(
        joinedload(Person.township), joinedload(Person.residence_township),
        joinedload(Person.job_township), selectinload(Person.groups)))
    if person is None or not person.is_registered:
        raise NotRegistered()
    return person

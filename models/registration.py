"""Registering a person, changing what they registered, withdrawing consent, and a cadre's
registration of a neighbour (代报名) with the one-time code that later binds their WeChat."""

from __future__ import annotations

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
    InvitationInvalid,
    NotRegistered,
)
from models.identity import clean_name, clean_phone, parse_id_number, phone_answer
from models.persons import (
    ConsentHow,
    Group,
    GroupStatus,
    Person,
    PersonGroup,
    queue_unionid_lookup,
)
from models.pii import Vault, mask_id, mask_phone
from models.regions import Region, RegionLevel

BIND_CODE_DAYS = 30
BIND_CODE = OneTimeCode("bind")


@dataclass(frozen=True)
class RegistrationForm:
    """What a person answers; checked again here whatever channel collected it."""

    name: str
    id_number: str
    phone: str | None  # None: no mobile phone (a neighbour registered by a cadre only)
    township_code: str
    intent: WorkIntent
    groups: frozenset[Group] = field(default_factory=frozenset)
    draws_pension: bool = False


def township_by_code(db: Session, code: str) -> Region:
    township = db.scalar(select(Region).where(Region.code == code,
                                              Region.level == RegionLevel.TOWNSHIP))
    if township is None:
        raise InvalidAnswer(reason="township", value=code)
    return township


def register(db: Session, *, vault: Vault, form: RegistrationForm, openid: str | None,
             consent: ConsentHow, channel: Channel, now: datetime, today: date,
             registered_by: int | None = None) -> Person:
    """Register a person: themselves (openid) or a neighbour on paper (openid None)."""
    name = clean_name(form.name)
    facts = parse_id_number(form.id_number, today=today)
    phone = phone_answer(form.phone, by_cadre=registered_by is not None)
    township = township_by_code(db, form.township_code)
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
    person.township = township
    person.intent = form.intent
    person.draws_pension = form.draws_pension
    person.consent_at, person.consent_how = now, consent
    person.registered_at, person.registered_by_id = now, registered_by
    person.anonymized_at = None
    _declare_groups(person, form.groups, now)
    audit(db, actor_id=registered_by or person.id, channel=channel, action="person.register",
          target=person, at=now, after={
              "id": person.id_masked, "phone": person.phone_masked, "township": township.code,
              "intent": form.intent.value, "groups": sorted(g.value for g in form.groups),
              "consent": consent.value})
    return person


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
    person = registered_person(db, openid=openid)
    before = person.township.code if person.township else None
    person.township = township_by_code(db, township_code)
    audit(db, actor_id=person.id, channel=channel, action="person.change_township",
          target=person, before={"township": before}, after={"township": township_code},
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


def withdraw_consent(db: Session, *, openid: str, channel: Channel, now: datetime) -> Person:
    """Forget the person's personal information (PIPL 第十五条, 第四十七条), except what the
    subsidy ledgers must keep: a voucher not yet used is cancelled (its seat freed); once a
    voucher has been redeemed, the name, the ID number (sealed) and the verified groups stay for
    the ledgers and the audit of the money paid; everything else goes."""
    from models.vouchers import cancel_unused_vouchers, has_ledger_vouchers

    person = registered_person(db, openid=openid)
    cancel_unused_vouchers(db, person_id=person.id, reason="consent withdrawn", now=now)
    keeps_ledger = has_ledger_vouchers(db, person_id=person.id)
    forget = ["phone_sealed", "phone_masked", "intent", "draws_pension", "consent_at",
              "consent_how", "registered_at", "last_lat", "last_lng", "located_at",
              "location_source", "location_accuracy_m",
              "bind_code_hash", "bind_code_expires_at"]
    if not keeps_ledger:
        forget += ["name", "id_sealed", "id_hash", "id_masked", "birth_date", "sex",
                   "township_id"]
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
    person = db.scalar(select(Person).where(
        Person.bind_code_hash == BIND_CODE.digest(vault, code)).with_for_update())
    if person is None or person.openid is not None or person.bind_code_expires_at < now:
        raise InvitationInvalid(reason="bind_code")
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
        joinedload(Person.township), selectinload(Person.groups)))
    if person is None or not person.is_registered:
        raise NotRegistered()
    return person

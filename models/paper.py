"""People without a smartphone (issue 17): a cadre claims a voucher for a neighbour they
registered (代领券) once the neighbour has agreed, on paper or to the text read aloud; the voucher
is held on a printed card whose QR code does not rotate, so staff redeem it only with the ID
card checked, and only staff of the class's institution, once.

The claim is the same claim as anyone's (models.vouchers.claim_for: caps, overlap, seats, a
closed course, the budget); the redemption the same redemption (voucher_to_redeem and
record_redemption), with the ID card check added in front of it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column

from models.audit import Channel, audit
from models.base import Base, enum_column
from models.cadres import Cadre, cadre_of
from models.catalogue import Course
from models.codes import PAPER_PREFIX, StaticCode
from models.courses import CourseQuery, find_courses
from models.errors import ClaimRefused, CodeInvalid, IdCheckFailed, NotACadre, VoucherNotFound
from models.persons import ConsentHow, Person
from models.regions import Region
from models.staff import StaffMember, staff_of
from models.vouchers import (
    Redeemed,
    Voucher,
    VoucherStatus,
    claim_for,
    record_redemption,
    voucher_to_redeem,
)

logger = logging.getLogger(__name__)

# How a neighbour may agree to a claim made for them; anything else is no consent.
CLAIM_CONSENTS = (ConsentHow.PAPER, ConsentHow.READ_ALOUD)
# The clause a claim without consent is refused under: processing personal data on the basis
# of the person's consent, given freely and explicitly, knowing what for.
PIPL_CONSENT = "《个人信息保护法》第十三条、第十四条"
# How many of their neighbours (and of the vouchers claimed for them) a cadre is shown.
LISTED = 30
# The ID card characters staff read from the card before a paper voucher is redeemed.
ID_CHECK_CHARS = 4


class ClaimConsent(Base):
    """A neighbour's consent to a voucher claimed for them: who asserted it (the cadre), when,
    how (signed on paper, or the text read aloud and agreed to), for which course; and the
    voucher it led to."""

    __tablename__ = "claim_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    cadre_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    how: Mapped[ConsentHow] = mapped_column(enum_column(ConsentHow))
    at: Mapped[datetime]
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id"), unique=True)


def paper_codes(secret: str) -> StaticCode:
    """The codes printed on paper voucher cards (``PXP:<voucher id>:<signature>``)."""
    return StaticCode(secret, prefix=PAPER_PREFIX)


def id_shown_on_paper(id_masked: str | None) -> str:
    """The ID number as a paper card and the staff's prompt show it: the region only. The last
    characters the usual mask shows are the ones staff must read from the ID card itself."""
    if not id_masked:
        return "—"
    return id_masked[:-ID_CHECK_CHARS] + "*" * ID_CHECK_CHARS


# --- the cadre's side ----------------------------------------------------------------------

def _cadre(db: Session, cadre_openid: str) -> Cadre:
    person = db.scalar(select(Person).where(Person.openid == cadre_openid))
    if person is None:
        raise NotACadre()
    return cadre_of(db, person_id=person.id)


def neighbours_to_claim_for(db: Session, *, cadre_openid: str) -> list[Person]:
    """The neighbours this cadre registered who have no WeChat of their own (yet): the only
    people a cadre may claim for. The latest registered first."""
    cadre = _cadre(db, cadre_openid)
    return list(db.scalars(select(Person).where(
        Person.registered_by_id == cadre.person_id, Person.openid.is_(None),
        Person.registered_at.is_not(None), Person.anonymized_at.is_(None))
        .order_by(Person.registered_at.desc(), Person.id.desc()).limit(LISTED)))


def courses_for_neighbour(db: Session, *, cadre_openid: str, person_id: int, text: str | None,
                          today: date, limit: int = 5) -> list[Course]:
    """Courses open for claims, nearest the neighbour's township first, or matching ``text``:
    the same list as anyone's (models.courses.find_courses)."""
    _cadre(db, cadre_openid)
    person = db.get(Person, person_id)
    township = db.get(Region, person.township_id) if person and person.township_id else None
    near = (township.lat, township.lng) if township and township.lat is not None else None
    return find_courses(db, query=CourseQuery(text=text or None, near=near), today=today,
                        page=1, per_page=limit).courses


def claim_for_neighbour(db: Session, *, cadre_openid: str, person_id: int, course_id: int,
                        consent: ConsentHow | None, channel: Channel, now: datetime,
                        today: date) -> Voucher:
    """代领券: the cadre claims a voucher for a neighbour they registered who has no WeChat,
    with the neighbour's consent (CLAIM_CONSENTS) recorded and audited in the same transaction;
    then the claim is everyone's claim, with the same refusals."""
    cadre = _cadre(db, cadre_openid)
    person = db.get(Person, person_id)
    if person is None or person.registered_by_id != cadre.person_id:
        raise ClaimRefused(rule="not_your_neighbour", source=PIPL_CONSENT)
    if person.openid is not None:
        raise ClaimRefused(rule="has_wechat", source=PIPL_CONSENT)
    if consent not in CLAIM_CONSENTS:
        raise ClaimRefused(rule="no_consent", source=PIPL_CONSENT)
    voucher = claim_for(db, person=person, course_id=course_id, channel=channel, now=now,
                        today=today, claimed_by=cadre.person_id)
    record = ClaimConsent(person_id=person.id, cadre_person_id=cadre.person_id,
                          course_id=voucher.course_id, how=consent, at=now,
                          voucher_id=voucher.id)
    db.add(record)
    audit(db, actor_id=cadre.person_id, channel=channel, action="consent.claim_for_neighbour",
          target=record, at=now, after={"person": person.id, "how": consent.value,
                                        "course": voucher.course.code,
                                        "voucher": voucher.number})
    logger.info("voucher %s claimed for person %s by cadre %s", voucher.id, person.id, cadre.id)
    return voucher


def paper_vouchers_of(db: Session, *, cadre_openid: str) -> list[Voucher]:
    """The vouchers this cadre claimed for neighbours, the latest first."""
    cadre = _cadre(db, cadre_openid)
    return list(db.scalars(select(Voucher).where(Voucher.claimed_by_id == cadre.person_id)
                           .options(joinedload(Voucher.person), joinedload(Voucher.course))
                           .order_by(Voucher.claimed_at.desc(), Voucher.id.desc())
                           .limit(LISTED)))


@dataclass(frozen=True)
class PaperCard:
    """What a printed voucher card carries: no full ID number, no phone."""

    voucher: Voucher
    holder: str
    id_shown: str
    code: str | None  # the static code, while the voucher can be redeemed
    cadre_name: str | None
    village: str | None
    times: list[tuple[time, time]]  # the first class day's timetable


def paper_card(db: Session, *, codes: StaticCode, voucher_id: int,
               cadre_person_id: int) -> PaperCard:
    """The card of a voucher this cadre claimed; VoucherNotFound for any other voucher."""
    voucher = db.scalar(select(Voucher).where(Voucher.id == voucher_id,
                                              Voucher.claimed_by_id == cadre_person_id)
                        .options(joinedload(Voucher.person),
                                 joinedload(Voucher.course).joinedload(Course.institution),
                                 joinedload(Voucher.course).joinedload(Course.township),
                                 joinedload(Voucher.course).selectinload(Course.sessions)))
    if voucher is None:
        raise VoucherNotFound(voucher_id=voucher_id)
    cadre = db.scalar(select(Cadre).where(Cadre.person_id == cadre_person_id)
                      .options(joinedload(Cadre.person)))
    sessions = voucher.course.sessions
    first_day = sessions[0].day if sessions else None
    return PaperCard(
        voucher=voucher, holder=voucher.person.name or "—",
        id_shown=id_shown_on_paper(voucher.person.id_masked),
        code=codes.make(voucher.id) if voucher.status is VoucherStatus.ISSUED else None,
        cadre_name=cadre.person.name if cadre else None,
        village=cadre.village if cadre else None,
        times=[(s.starts, s.ends) for s in sessions if s.day == first_day])


# --- the institution's side ----------------------------------------------------------------

@dataclass(frozen=True)
class PaperVoucherShown:
    """What staff see after scanning a paper card, before the ID card check."""

    number: str
    holder: str
    id_shown: str
    course_name: str
    course_name_en: str


def _paper_voucher(db: Session, *, codes: StaticCode, code: str, staff_openid: str,
                   lock: bool) -> tuple[Voucher, StaffMember]:
    staff = staff_of(db, openid=staff_openid)
    voucher = voucher_to_redeem(db, voucher_id=codes.read(code), staff=staff, lock=lock)
    if not voucher.is_paper:
        # Only vouchers claimed for a neighbour have a card; a signed code for another one
        # cannot have been printed here.
        raise CodeInvalid(reason="forged", expected=PAPER_PREFIX)
    return voucher, staff


def show_paper_voucher(db: Session, *, codes: StaticCode, code: str,
                       staff_openid: str) -> PaperVoucherShown:
    """A scanned paper card, for staff of the class's institution only, while it can be
    redeemed: whom it names, so that they ask for that person's ID card."""
    voucher, _ = _paper_voucher(db, codes=codes, code=code, staff_openid=staff_openid,
                                lock=False)
    return PaperVoucherShown(number=voucher.number, holder=voucher.person.name or "—",
                             id_shown=id_shown_on_paper(voucher.person.id_masked),
                             course_name=voucher.course.name,
                             course_name_en=voucher.course.name_en)


def redeem_paper_voucher(db: Session, *, codes: StaticCode, code: str, staff_openid: str,
                         id_last: str, channel: Channel, now: datetime) -> Redeemed:
    """报到 from a paper card: the checks of every redemption, then the ID card's last
    characters as staff read them from the card the holder shows (``id_last``); refused until
    they match. The audit entry records that the ID card was checked."""
    voucher, staff = _paper_voucher(db, codes=codes, code=code, staff_openid=staff_openid,
                                    lock=True)
    typed = (id_last or "").strip().upper()
    expected = (voucher.person.id_masked or "")[-ID_CHECK_CHARS:]
    if len(typed) != ID_CHECK_CHARS or typed != expected:
        raise IdCheckFailed(chars=ID_CHECK_CHARS)
    return record_redemption(db, voucher=voucher, staff=staff, channel=channel, now=now,
                             noted={"paper": True, "id_card_checked": True})


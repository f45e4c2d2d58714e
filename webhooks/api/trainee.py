"""A trainee's endpoints: profile, courses, vouchers, check-in, attendance, subsidies, jobs.
Each calls the same domain operation as the bot does, in one transaction."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from locales import Translator
from models.attendance import Position, check_in, my_attendance
from models.audit import Channel
from models.catalogue import ClassSession, Course
from models.clock import LOCAL_TZ
from models.cost import check_cost_accepted
from models.courses import CourseQuery, course_seats_left, find_courses, get_course, list_categories
from models.eligibility import evaluate
from models.errors import NotRegistered
from models.miniprogram import roles_of
from models.persons import (
    ConsentHow,
    HouseholdKind,
    LocationSource,
    Person,
    note_location,
    set_locale,
)
from models.places import ELSEWHERE, PlaceRole, home_county
from models.regions import Region
from models.registration import (
    RegistrationForm,
    change_groups,
    change_household,
    change_household_kind,
    change_intent,
    change_pension,
    change_phone,
    change_place,
    load_profile,
    register,
    townships,
    withdraw_consent,
)
from models.vouchers import (
    Voucher,
    cancel_voucher,
    claim_voucher,
    holder_voucher,
    show_code,
    vouchers_of,
)
from runtime.services import current
from vocabulary import subsidy as subsidy_words
from vocabulary.labels import CERTIFICATES, GROUPS, VOUCHER_STATUSES
from webhooks.api import core
from webhooks.api.core import AUTH, ID, bp, caller, idempotent, limit_address, ok, run, spec, words
from webhooks.api.errors import ApiError
from webhooks.api.schemas import (
    AttendanceList,
    CategoryList,
    CheckInIn,
    CheckInOut,
    ClaimIn,
    CourseDetail,
    CoursePageOut,
    CourseQueryIn,
    EvaluationOut,
    IdempotencyHeaders,
    Profile,
    ProfileChange,
    RegistrationIn,
    SubsidyQuery,
    TownshipList,
    VoucherDetail,
    VoucherList,
    VoucherOut,
    Withdrawn,
    answers,
)
from webhooks.qr import svg

logger = logging.getLogger(__name__)

ME, COURSES, VOUCHERS, CLASS, SUBSIDY = (("profile",), ("courses",), ("vouchers",),
                                         ("attendance",), ("subsidies",))


# --- profile -------------------------------------------------------------------------------

def _profile(db: Session, person: Person, t: Translator) -> dict[str, Any]:
    base = {"person_id": person.id, "registered": person.is_registered,
            "roles": roles_of(db, person_id=person.id), "locale": person.locale}
    if not person.is_registered:
        return base
    elsewhere = _elsewhere(db, t)
    return {**base, "name": person.name, "id_masked": person.id_masked,
            "phone_masked": person.phone_masked,
            "township": _place(person.township, False, elsewhere, t),
            "household_elsewhere": person.household_elsewhere,
            "household_kind": person.household_kind.value if person.household_kind else None,
            "residence": _place(person.residence_township, person.residence_elsewhere,
                                elsewhere, t),
            "job_place": _place(person.job_township, person.job_elsewhere, elsewhere, t),
            "intent": person.intent.value if person.intent else None,
            "draws_pension": person.draws_pension,
            "groups": [{"group": g.group.value, "status": g.status.value,
                        "label": t._(GROUPS[g.group])} for g in person.groups]}


def _elsewhere(db: Session, t: Translator) -> dict[str, str]:
    county = home_county(db)
    return {"code": ELSEWHERE, "name": t._("not in %(county)s", county=county.display_name(
        t.locale) if county is not None else "")}


def _place(township: Region | None, is_elsewhere: bool | None, elsewhere: dict[str, str],
           t: Translator) -> dict[str, str] | None:
    if township is not None:
        return {"code": township.code, "name": township.display_name(t.locale)}
    return elsewhere if is_elsewhere else None


def _me(db: Session, t: Translator) -> dict[str, Any]:
    who = caller()
    try:
        person = load_profile(db, openid=who.openid)
    except NotRegistered:
        person = db.get_one(Person, who.person_id)
    return _profile(db, person, t)


@bp.get("/me")
@spec.validate(resp=answers(200, Profile, 401, 403), tags=ME, security=AUTH)
def show_me():
    """The caller's profile: masked ID number and phone, groups with their status, roles."""
    caller()
    t = words()
    return ok(run(_me, t=t))


@bp.post("/me/registration")
@spec.validate(json=RegistrationIn, resp=answers(201, Profile, 401, 403, 409), tags=ME,
               security=AUTH)
def register_me(json: RegistrationIn):
    """Register once: each answer is checked as in the chat (ID check digit and birth date,
    mobile number, the household's township or its place elsewhere, where the person lives and
    looks for work); the ID number and phone are sealed at rest."""
    who = caller()
    services, t = current(), words()

    def act(db: Session) -> dict[str, Any]:
        if db.get_one(Person, who.person_id).is_registered:
            raise ApiError(409, "already_registered")
        person = register(db, vault=services.vault, form=registration_form(json), openid=who.openid,
                          consent=ConsentHow.WECHAT, channel=Channel.API, now=core.now(),
                          today=services.clock.today())
        return _profile(db, person, t)

    return ok(run(act), 201)


def registration_form(answers_in: Any) -> RegistrationForm:
    return RegistrationForm(name=answers_in.name, id_number=answers_in.id_number,
                            phone=answers_in.phone, township_code=answers_in.township,
                            household_elsewhere=answers_in.household_elsewhere,
                            household_kind=household_kind(answers_in.household_kind),
                            residence=answers_in.residence, job_place=answers_in.job_place,
                            intent=answers_in.intent, groups=frozenset(answers_in.groups),
                            draws_pension=answers_in.draws_pension)


def household_kind(answer: str) -> HouseholdKind | None:
    return None if answer == "unknown" else HouseholdKind(answer)


@bp.patch("/me")
@spec.validate(json=ProfileChange, resp=answers(200, Profile, 401, 403), tags=ME,
               security=AUTH)
def change_me(json: ProfileChange):
    """Change phone, the household (township or place elsewhere) and its kind, where the
    person lives and looks for work, work intent, language, whether they draw a pension and
    their declared groups (audited; a group the bureau rejected stays rejected); all or
    nothing."""
    who = caller()
    services, t = current(), words()

    def act(db: Session) -> dict[str, Any]:
        changes = {"openid": who.openid, "channel": Channel.API, "now": core.now()}
        if json.phone is not None:
            change_phone(db, vault=services.vault, phone=json.phone, **changes)
        if json.township is not None or json.household_elsewhere is not None:
            change_household(db, township_code=json.township,
                             elsewhere=json.household_elsewhere, **changes)
        if json.household_kind is not None:
            change_household_kind(db, kind=household_kind(json.household_kind), **changes)
        if json.residence is not None:
            change_place(db, role=PlaceRole.RESIDENCE, answer=json.residence, **changes)
        if json.job_place is not None:
            change_place(db, role=PlaceRole.JOB_SEEKING, answer=json.job_place, **changes)
        if json.intent is not None:
            change_intent(db, intent=json.intent, **changes)
        if json.draws_pension is not None:
            change_pension(db, draws_pension=json.draws_pension, **changes)
        if json.groups is not None:
            change_groups(db, groups=frozenset(json.groups), **changes)
        if json.locale is not None:
            set_locale(db, person_id=who.person_id, locale=json.locale, channel=Channel.API,
                       now=core.now())
        return _me(db, t)

    return ok(run(act))


@bp.delete("/me")
@spec.validate(resp=answers(200, Withdrawn, 401, 403), tags=ME, security=AUTH)
def withdraw_me():
    """Withdraw consent: personal information is deleted, except what the subsidy ledgers of
    redeemed vouchers must keep; unused vouchers are cancelled."""
    who = caller()

    def act(db: Session) -> dict[str, Any]:
        person = withdraw_consent(db, openid=who.openid, channel=Channel.API, now=core.now())
        return {"withdrawn": True, "kept_for_ledgers": person.name is not None}

    return ok(run(act))


@bp.get("/townships")
@spec.validate(resp=answers(200, TownshipList), tags=ME)
def list_townships():
    """The county's townships, for the registration form."""
    limit_address()
    t = words()
    return ok(run(lambda db: {"townships": [
        {"code": r.code, "name": r.display_name(t.locale)} for r in townships(db)]}))


# --- courses -------------------------------------------------------------------------------

@bp.get("/categories")
@spec.validate(resp=answers(200, CategoryList), tags=COURSES)
def categories():
    """The 12 training categories of QJ2020, for the course filter."""
    limit_address()
    t = words()
    return ok(run(lambda db: {"categories": [
        {"id": c.id, "no": c.no, "code": c.code, "name": c.display_name(t.locale),
         "intent": c.intent.value} for c in list_categories(db)]}))


def course_summary(course: Course, seats_left: int, t: Translator) -> dict[str, Any]:
    return {"id": course.id, "code": course.code, "name": course.display_name(t.locale),
            "institution": course.institution.display_name(t.locale),
            "category": course.category.display_name(t.locale),
            "occupation": course.occupation_en if t.locale == "en" else course.occupation,
            "certificate_kind": t._(CERTIFICATES[course.certificate_kind]),
            "certificate_level": course.certificate_level, "hours": course.hours,
            "fee_yuan": f"{course.fee_yuan:.2f}", "is_free": course.is_free,
            "is_publicly_procured": course.is_publicly_procured,
            "township": course.township.display_name(t.locale),
            "starts_on": course.starts_on.isoformat(), "ends_on": course.ends_on.isoformat(),
            "seats_left": seats_left, "lat": course.lat, "lng": course.lng}


@bp.get("/courses")
@spec.validate(query=CourseQueryIn, resp=answers(200, CoursePageOut), tags=COURSES)
def courses(query: CourseQueryIn):
    """Courses taking claims: soonest first, or nearest first from lat/lng; filter by words,
    category, free courses and work intent."""
    limit_address()
    t, today = words(), current().clock.today()
    near = (query.lat, query.lng) if query.lat is not None and query.lng is not None else None
    wanted = CourseQuery(text=(query.q or "").strip() or None, category_id=query.category,
                         free_only=query.free, intent=query.intent, near=near)

    def act(db: Session) -> dict[str, Any]:
        found = find_courses(db, query=wanted, today=today, page=query.page,
                             per_page=query.per_page)
        return {"courses": [course_summary(c, found.seats[c.id], t) for c in found.courses],
                "page": found.page, "pages": found.pages, "total": found.total}

    return ok(run(act))


@bp.get(f"/courses/<{ID}:course_id>")
@spec.validate(resp=answers(200, CourseDetail, 404), tags=COURSES)
def course(course_id: int):
    """A course with its sessions and seats left."""
    limit_address()
    t = words()

    def act(db: Session) -> dict[str, Any]:
        found = get_course(db, course_id=course_id)
        return {**course_summary(found, course_seats_left(db, course=found), t),
                "address": found.address, "description": found.description,
                "capacity": found.capacity, "theory_hours": found.theory_hours,
                "practice_hours": found.practice_hours, "radius_m": found.radius_m,
                "requires_checkout": found.requires_checkout,
                "sessions": [_slot(s) for s in found.sessions]}

    return ok(run(act))


def _slot(session: ClassSession) -> dict[str, Any]:
    return {"id": session.id, "day": session.day.isoformat(),
            "starts": session.starts.strftime("%H:%M"), "ends": session.ends.strftime("%H:%M")}


# --- vouchers ------------------------------------------------------------------------------

def moment(value) -> str | None:
    # Local time, whichever way the value was loaded (fresh objects keep their offset).
    return value.astimezone(LOCAL_TZ).isoformat() if value is not None else None


def voucher_json(voucher: Voucher, t: Translator) -> dict[str, Any]:
    course = voucher.course
    return {"id": voucher.id, "number": voucher.number, "status": voucher.status.value,
            "status_text": t._(VOUCHER_STATUSES[voucher.status]),
            "course": {"id": course.id, "name": course.display_name(t.locale),
                       "institution": course.institution.display_name(t.locale),
                       "starts_on": course.starts_on.isoformat()},
            "claimed_at": moment(voucher.claimed_at), "expires_at": moment(voucher.expires_at),
            "redeemed_at": moment(voucher.redeemed_at),
            "completed_at": moment(voucher.completed_at), "certified": voucher.certified,
            "certificate_no": voucher.certificate_no}


@bp.post("/vouchers")
@spec.validate(json=ClaimIn, headers=IdempotencyHeaders,
               resp=answers(201, VoucherOut, 401, 403, 409), tags=VOUCHERS, security=AUTH)
def claim(json: ClaimIn):
    """Claim a training voucher for a course. Every rule of the chat applies (registered,
    course open, one per course, same occupation and level once, no overlap, 3 a year, seats,
    the county's budget), each refusal with its clause. When no training subsidy pays for the
    course for this person (a pension, outside the county, the yearly cap…), the claim is
    refused with reason `cost_not_accepted`, the fee and the clause, until it is sent again
    with `accept_cost: true` after the person agreed to pay. Send an `Idempotency-Key` header: a
    retry with the same key answers the first answer again and claims nothing more."""
    who = caller()
    t, services = words(), current()

    def act() -> tuple[Any, int]:
        def claim_in(db: Session) -> dict[str, Any]:
            # The chat asks first when no subsidy pays for this person; the API asks for
            # accept_cost (models.cost), with the same rule.
            check_cost_accepted(db, person_id=who.person_id, course_id=json.course_id,
                                on=services.clock.today(), accepted=json.accept_cost)
            voucher = claim_voucher(db, openid=who.openid, course_id=json.course_id,
                                    channel=Channel.API, now=core.now(),
                                    today=services.clock.today())
            db.flush()
            voucher = holder_voucher(db, voucher_id=voucher.id, person_id=who.person_id)
            return voucher_json(voucher, t)

        return ok(run(claim_in), 201)

    return idempotent("claim", who, act)


@bp.get("/vouchers")
@spec.validate(resp=answers(200, VoucherList, 401), tags=VOUCHERS, security=AUTH)
def my_vouchers():
    """The caller's vouchers, newest first."""
    who = caller()
    t = words()
    return ok(run(lambda db: {"vouchers": [voucher_json(v, t)
                                           for v in vouchers_of(db, openid=who.openid)]}))


@bp.get(f"/vouchers/<{ID}:voucher_id>")
@spec.validate(resp=answers(200, VoucherDetail, 401, 404), tags=VOUCHERS, security=AUTH)
def voucher(voucher_id: int):
    """One voucher and, while it can be redeemed, its current code (it changes every
    minute; ask again when `expires_in` runs out)."""
    who = caller()
    t, services = words(), current()

    def act(db: Session) -> dict[str, Any]:
        found = holder_voucher(db, voucher_id=voucher_id, person_id=who.person_id)
        shown = show_code(services.voucher_codes, found, core.now())
        code = ({"qr": shown.code, "expires_in": shown.expires_in, "svg": svg(shown.code)}
                if shown else None)
        return {**voucher_json(found, t), "code": code}

    return ok(run(act))


@bp.post(f"/vouchers/<{ID}:voucher_id>/cancel")
@spec.validate(resp=answers(200, VoucherOut, 401, 404, 409), tags=VOUCHERS, security=AUTH)
def cancel(voucher_id: int):
    """Cancel a voucher not yet redeemed; its seat is free again."""
    who = caller()
    t = words()

    def act(db: Session) -> dict[str, Any]:
        cancel_voucher(db, openid=who.openid, voucher_id=voucher_id, now=core.now(),
                       channel=Channel.API)
        return voucher_json(holder_voucher(db, voucher_id=voucher_id, person_id=who.person_id),
                            t)

    return ok(run(act))


# --- attendance ----------------------------------------------------------------------------

@bp.post("/check-ins")
@spec.validate(json=CheckInIn, resp=answers(201, CheckInOut, 401, 409), tags=CLASS,
               security=AUTH)
def check_in_now(json: CheckInIn):
    """Check in (or out) with the class display's code, scanned by the trainee's own phone,
    inside the session's window and, where the course asks, within its radius of the class
    (send `lat`/`lng` and `accuracy` from wx.getLocation: they are kept as the person's last
    location, as in the chat, and recorded with the check-in as the mini-program's position;
    positions that look made up are flagged for the bureau)."""
    who = caller()
    services, t = current(), words()
    position = None
    if json.lat is not None and json.lng is not None:
        position = Position(lat=json.lat, lng=json.lng, source=LocationSource.MINIPROGRAM,
                            at=core.now(), accuracy_m=json.accuracy)
        run(note_location, openid=who.openid, lat=json.lat, lng=json.lng, now=core.now(),
            source=LocationSource.MINIPROGRAM, accuracy_m=json.accuracy)

    def act(db: Session) -> dict[str, Any]:
        done = check_in(db, codes=services.class_codes, code=json.code, openid=who.openid,
                        now=core.now(), position=position, channel=Channel.API)
        mark = done.attendance
        return {"session_id": done.session.id,
                "course": done.session.display_name(t.locale), "number": done.number,
                "total": done.total, "is_checkout": done.is_checkout,
                "checked_in_at": moment(mark.checked_in_at),
                "checked_out_at": moment(mark.checked_out_at), "hours": float(mark.hours)}

    return ok(run(act), 201)


@bp.get("/attendance")
@spec.validate(resp=answers(200, AttendanceList, 401), tags=CLASS, security=AUTH)
def attendance():
    """Sessions attended and missed, hours, and the hours needed to complete, per course."""
    who = caller()
    t = words()
    return ok(run(lambda db: {"courses": [
        {"course_id": c.course.id, "course": c.course.display_name(t.locale),
         "attended": c.attended, "missed": c.missed, "total": c.total, "hours": c.hours,
         "needed_hours": c.needed_hours, "pending_hours": c.pending_hours}
        for c in my_attendance(db, openid=who.openid, now=core.now())]}))


# --- subsidies -----------------------------------------------------------------------------

@bp.get("/subsidies")
@spec.validate(query=SubsidyQuery, resp=answers(200, EvaluationOut, 401, 403, 404),
               tags=SUBSIDY, security=AUTH)
def subsidies(query: SubsidyQuery):
    """Every subsidy the caller can get (for a course, joined or not, with `course_id`): yes,
    yes once verified, or no, the amount, and each reason with the clause it cites."""
    who = caller()
    t, today = words(), current().clock.today()
    evaluation = run(evaluate, person_id=who.person_id, course_id=query.course_id, on=today)
    return ok({
        "policy_version": evaluation.policy_version, "on": evaluation.on.isoformat(),
        "course_id": evaluation.course_id,
        "outcomes": [{
            "rule_id": o.rule_id, "title": o.display_title(t.locale), "status": o.status.value,
            "status_text": t._(subsidy_words.STATUSES[o.status]),
            "amount_text": subsidy_words.amount_text(t, o), "is_demo": o.is_demo,
            "total_yuan": f"{o.total:.2f}" if o.total is not None else None,
            "total_max_yuan": f"{o.total_max:.2f}" if o.total_max is not None else None,
            "reasons": [{"code": r.code, "text": subsidy_words.reason_text(t, r.code, r.params),
                         "source": r.source} for r in o.reasons],
            "missing": [t._(subsidy_words.MISSING.get(m, m)) for m in o.missing],
            "source": o.source,
        } for o in evaluation.outcomes]})

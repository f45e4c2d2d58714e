"""Rows of the demo history written in bulk, where calling the operation once per row would make
``make run`` wait a minute: registrations, claims, redemptions, attendance marks, completions,
follow-up answers, and the notices they sent. Each writer sets the fields its operation sets
(models.registration.register, models.vouchers.claim_voucher and redeem_voucher,
models.attendance.check_in and mark_by_hand, models.completion.complete,
models.followups.answer_work …), checks what the operation checks with the same functions
where that costs no query (a name, an ID number, a phone), and writes the audit rows and the
outbox rows (as sent at the time) the operation would have written. tests/test_demo_history.py
checks the rest on the loaded history: the caps, the windows, the hours, the states."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from models.attendance import Attendance, MarkHow
from models.audit import AuditEntry, Channel
from models.catalogue import ClassSession, Course
from models.clock import LOCAL_TZ
from models.followups import FollowUp, WorkAfter
from models.identity import clean_name, clean_phone, parse_id_number
from models.outbox import Outbox, OutboxStatus
from models.persons import ConsentHow, Group, GroupStatus, LocationSource, Person, PersonGroup
from models.pii import Vault, mask_id, mask_phone
from models.vouchers import REDEEM_GRACE, Redemption, Voucher, VoucherStatus

logger = logging.getLogger(__name__)

# What the bureau saw when it verified a group (decide_group's ``document``).
DOCUMENTS = {
    Group.POVERTY_ALLEVIATED: "扶贫手册", Group.EMPLOYMENT_DIFFICULTY: "就业困难人员认定证明",
    Group.TWO_AFTER: "初中/高中毕业证", Group.DISABLED: "残疾人证", Group.VETERAN: "退役证",
    Group.RELOCATED: "易地扶贫搬迁户证明", Group.UNEMPLOYED: "失业登记证",
}


class Rows:
    """Collects audit and outbox rows and writes each kind with one statement."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self.audits: list[dict[str, Any]] = []
        self.notices: list[dict[str, Any]] = []

    def audit(self, *, at: datetime, action: str, target_type: str, target_id: int,
              actor_id: int | None, channel: Channel, before: dict | None = None,
              after: dict | None = None) -> None:
        self.audits.append({"at": at, "actor_id": actor_id, "desk_user_id": None,
                            "channel": channel, "action": action, "target_type": target_type,
                            "target_id": target_id, "before": before, "after": after})

    def notice(self, *, at: datetime, person_id: int, openid: str | None, reason: str,
               notice: str, params: dict[str, Any]) -> None:
        """A notice about the person's own voucher or group, sent at the time (as enqueue
        would queue it: nobody without WeChat is messaged)."""
        if openid is None:
            return
        self.notices.append({"created_at": at, "person_id": person_id, "openid": openid,
                             "reason": reason, "text": None, "notice": notice,
                             "params": params, "template": None,
                             "status": OutboxStatus.SENT, "attempts": 1, "next_attempt_at": at,
                             "sent_at": at, "sent_as": "customer", "last_error": None,
                             "is_broadcast": False, "is_uncertain": False})

    def flush(self) -> None:
        if self.audits:
            self.db.execute(insert(AuditEntry), self.audits)
        if self.notices:
            self.db.execute(insert(Outbox), self.notices)
        self.audits, self.notices = [], []


# --- people ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Registration:
    """A person as register() records them, with who brought them in and when the bureau
    verified the groups they declared."""

    openid: str
    name: str
    id_number: str
    phone: str
    township_code: str
    township_id: int
    intent: Any
    groups: frozenset[Group]
    at: datetime
    cadre_id: int | None = None
    verified_at: datetime | None = None


def register_people(db: Session, *, vault: Vault, people: Sequence[Registration],
                    rows: Rows) -> dict[str, int]:
    """Persons registered through WeChat, each at their moment; returns openid -> person id."""
    db.execute(insert(Person), [_person_row(vault, p) for p in people])
    ids = dict(db.execute(select(Person.openid, Person.id)
                          .where(Person.openid.in_([p.openid for p in people]))).all())
    groups = []
    for p in people:
        person_id = ids[p.openid]
        masked = mask_id(p.id_number)
        rows.audit(at=p.at, action="person.register", target_type="persons",
                   target_id=person_id, actor_id=person_id, channel=Channel.WECHAT,
                   after={"id": masked, "phone": mask_phone(p.phone),
                          "township": p.township_code, "intent": p.intent.value,
                          "groups": sorted(g.value for g in p.groups),
                          "consent": ConsentHow.WECHAT.value})
        if p.cadre_id is not None:
            rows.audit(at=p.at, action="person.referred", target_type="persons",
                       target_id=person_id, actor_id=person_id, channel=Channel.WECHAT,
                       after={"cadre_id": p.cadre_id})
        for group in sorted(p.groups):
            groups.append(_group_row(person_id, group, p))
            if p.verified_at is not None:
                _verified(rows, p, person_id, group)
    if groups:
        db.execute(insert(PersonGroup), groups)
    return ids


def _person_row(vault: Vault, p: Registration) -> dict[str, Any]:
    facts = parse_id_number(p.id_number, today=p.at.astimezone(LOCAL_TZ).date())
    phone = clean_phone(p.phone)
    return {
        "openid": p.openid, "unionid": None, "locale": "zh_Hans_CN", "is_following": True,
        "created_at": p.at, "last_seen_at": p.at, "name": clean_name(p.name),
        "id_sealed": vault.seal(facts.number), "id_hash": vault.digest(facts.number),
        "id_masked": mask_id(facts.number), "birth_date": facts.birth_date, "sex": facts.sex,
        "phone_sealed": vault.seal(phone), "phone_masked": mask_phone(phone),
        "township_id": p.township_id, "intent": p.intent, "draws_pension": False,
        "consent_at": p.at, "consent_how": ConsentHow.WECHAT, "registered_at": p.at,
        "registered_by_id": None, "referred_by_id": p.cadre_id,
        "referred_at": p.at if p.cadre_id is not None else None,
    }


def _group_row(person_id: int, group: Group, p: Registration) -> dict[str, Any]:
    verified = p.verified_at is not None
    return {"person_id": person_id, "group": group,
            "status": GroupStatus.VERIFIED if verified else GroupStatus.SELF_DECLARED,
            "declared_at": p.at, "decided_by_id": None,
            "decided_at": p.verified_at, "document": DOCUMENTS[group] if verified else None}


def _verified(rows: Rows, p: Registration, person_id: int, group: Group) -> None:
    """What decide_group writes: the audit row and the notice to the person."""
    rows.audit(at=p.verified_at, action="group.decide", target_type="persons",
               target_id=person_id, actor_id=None, channel=Channel.CLI,
               before={"group": group.value, "status": GroupStatus.SELF_DECLARED.value},
               after={"group": group.value, "status": GroupStatus.VERIFIED.value,
                      "document": DOCUMENTS[group]})
    rows.notice(at=p.verified_at, person_id=person_id, openid=p.openid,
                reason=f"group.decided:{person_id}:{group.value}:{p.verified_at.isoformat()}",
                notice="group_verified", params={"group": group.value})


# --- vouchers --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Holder:
    person_id: int
    openid: str | None


def claim_vouchers(db: Session, *, course: Course, claims: Sequence[tuple[Holder, datetime]],
                   rows: Rows) -> dict[int, tuple[int, str]]:
    """Vouchers claimed for the course (claim_voucher's fields and number); returns person id
    -> (voucher id, number)."""
    expires = datetime.combine(course.starts_on, datetime.min.time(), tzinfo=LOCAL_TZ) \
        + REDEEM_GRACE
    year = course.starts_on.year
    db.execute(insert(Voucher), [
        {"person_id": holder.person_id, "course_id": course.id, "status": VoucherStatus.ISSUED,
         "year": year, "claimed_at": at, "claimed_via": Channel.WECHAT, "expires_at": expires}
        for holder, at in claims])
    ids = dict(db.execute(select(Voucher.person_id, Voucher.id).where(
        Voucher.course_id == course.id, Voucher.number.is_(None))).all())
    numbers = {person_id: f"PX{year}{voucher_id:06d}" for person_id, voucher_id in ids.items()}
    db.execute(update(Voucher), [{"id": ids[p], "number": numbers[p]} for p in ids])
    for holder, at in claims:
        rows.audit(at=at, action="voucher.claim", target_type="vouchers",
                   target_id=ids[holder.person_id], actor_id=holder.person_id,
                   channel=Channel.WECHAT, after={"course": course.code, "status": "issued"})
    return {p: (ids[p], numbers[p]) for p in ids}


def _course_params(course: Course) -> dict[str, str]:
    return {"course": course.name, "course_en": course.name_en}


def redeem_vouchers(db: Session, *, course: Course, staff_person_id: int,
                    redeemed: Sequence[tuple[Holder, int, datetime]], rows: Rows) -> None:
    """报到 at the institution: what redeem_voucher writes, for each (holder, voucher, when)."""
    if not redeemed:
        return
    db.execute(update(Voucher), [
        {"id": voucher_id, "status": VoucherStatus.REDEEMED, "redeemed_at": at,
         "redeemed_by_id": staff_person_id} for _, voucher_id, at in redeemed])
    db.execute(insert(Redemption), [
        {"voucher_id": voucher_id, "staff_person_id": staff_person_id,
         "institution_id": course.institution_id, "at": at, "channel": Channel.WECHAT,
         "undone_at": None, "undo_reason": None} for _, voucher_id, at in redeemed])
    for holder, voucher_id, at in redeemed:
        rows.audit(at=at, action="voucher.redeem", target_type="vouchers", target_id=voucher_id,
                   actor_id=staff_person_id, channel=Channel.WECHAT,
                   before={"status": "issued"}, after={"status": "redeemed"})
        rows.notice(at=at, person_id=holder.person_id, openid=holder.openid,
                    reason=f"voucher.redeemed:{voucher_id}", notice="voucher_redeemed",
                    params=_course_params(course))


def complete_vouchers(db: Session, *, course: Course, staff_person_id: int,
                      completed: Sequence[tuple[Holder, int, datetime, str | None]],
                      rows: Rows) -> None:
    """结业: what complete() writes, for each (holder, voucher, when, certificate number or
    None for a failed appraisal). The hours were checked by the plan, and are checked again
    by the history's tests with models.attendance's own rule."""
    if not completed:
        return
    db.execute(update(Voucher), [
        {"id": voucher_id, "status": VoucherStatus.COMPLETED, "completed_at": at,
         "completed_by_id": staff_person_id, "certified": bool(no), "certificate_no": no}
        for _, voucher_id, at, no in completed])
    for holder, voucher_id, at, no in completed:
        rows.audit(at=at, action="voucher.complete", target_type="vouchers",
                   target_id=voucher_id, actor_id=staff_person_id, channel=Channel.WECHAT,
                   before={"status": "redeemed"},
                   after={"status": "completed", "certified": bool(no), "certificate_no": no})
        rows.notice(at=at, person_id=holder.person_id, openid=holder.openid,
                    reason=f"voucher.completed:{voucher_id}",
                    notice="voucher_completed" if no else "voucher_failed",
                    params={**_course_params(course), "certificate_no": no or ""})


# --- attendance ------------------------------------------------------------------------------

@dataclass(frozen=True)
class MarkRow:
    """A present mark: a scan with its position (check_in), or by hand with a reason
    (mark_by_hand)."""

    session: ClassSession
    person_id: int
    voucher_id: int
    at: datetime
    reason: str | None = None
    lat: float | None = None
    lng: float | None = None
    accuracy_m: float | None = None


def open_sessions(db: Session, *, sessions: Iterable[tuple[ClassSession, datetime]],
                  staff_person_id: int, course_code: str, rows: Rows) -> None:
    """开课 by the institution's staff before each session (open_session's fields)."""
    opened = [(s, at) for s, at in sessions if s.opened_at is None]
    if not opened:
        return
    db.execute(update(ClassSession), [
        {"id": s.id, "opened_at": at, "opened_by_id": staff_person_id} for s, at in opened])
    for session, at in opened:
        rows.audit(at=at, action="session.open", target_type="class_sessions",
                   target_id=session.id, actor_id=staff_person_id, channel=Channel.WECHAT,
                   after={"course": course_code, "day": session.day.isoformat()})


def write_marks(db: Session, *, marks: Sequence[MarkRow], staff_person_id: int,
                rows: Rows) -> int:
    """The marks, each with the audit row of its operation; returns how many."""
    if not marks:
        return 0
    db.execute(insert(Attendance), [_mark_row(m, staff_person_id) for m in marks])
    sessions = sorted({m.session.id for m in marks})
    ids = {(s, p): i for i, s, p in db.execute(
        select(Attendance.id, Attendance.session_id, Attendance.person_id)
        .where(Attendance.session_id.in_(sessions)))}
    for m in marks:
        target = ids[(m.session.id, m.person_id)]
        if m.reason is None:
            rows.audit(at=m.at, action="attendance.check_in", target_type="attendance",
                       target_id=target, actor_id=m.person_id, channel=Channel.WECHAT,
                       after={"session": m.session.id,
                              "location": LocationSource.WECHAT_EVENT.value})
        else:
            rows.audit(at=m.at, action="attendance.mark", target_type="attendance",
                       target_id=target, actor_id=staff_person_id, channel=Channel.WECHAT,
                       after={"present": True, "reason": m.reason, "session": m.session.id})
    return len(marks)


def _mark_row(m: MarkRow, staff_person_id: int) -> dict[str, Any]:
    is_scan = m.reason is None
    return {
        "session_id": m.session.id, "day": m.session.day, "person_id": m.person_id,
        "voucher_id": m.voucher_id, "is_present": True, "checked_in_at": m.at,
        "checked_out_at": None,
        "hours": m.session.hours, "how": MarkHow.SCAN if is_scan else MarkHow.MANUAL,
        "marked_by_id": None if is_scan else staff_person_id, "reason": m.reason,
        "location_source": LocationSource.WECHAT_EVENT if is_scan else LocationSource.NONE,
        "location_lat": m.lat, "location_lng": m.lng, "location_accuracy_m": m.accuracy_m,
        # a scan counts with the person's last fresh position: WeChat's LOCATION event of a
        # few minutes before
        "located_at": m.at - timedelta(minutes=3) if is_scan else None,
    }


# --- follow-up -------------------------------------------------------------------------------

def ask_followups(db: Session, *, asked: datetime, rows: Rows) -> list[FollowUp]:
    """The questions queued (queue_followup_questions) went out: the outbox rows are sent and
    the rounds asked (mark_asked), as the worker records them. Returns the rounds asked."""
    queued = db.execute(select(Outbox.id, Outbox.reason).where(
        Outbox.status == OutboxStatus.PENDING, Outbox.reason.like("followup:%"))).all()
    if not queued:
        return []
    db.execute(update(Outbox).where(Outbox.id.in_([i for i, _ in queued]))
               .values(status=OutboxStatus.SENT, sent_at=asked, attempts=1, sent_as="customer")
               .execution_options(synchronize_session=False))
    ids = [int(reason.split(":", 1)[1]) for _, reason in queued]
    db.execute(update(FollowUp).where(FollowUp.id.in_(ids)).values(asked_at=asked)
               .execution_options(synchronize_session=False))
    followups = list(db.scalars(select(FollowUp).where(FollowUp.id.in_(ids))
                                .order_by(FollowUp.id)))
    for followup in followups:
        rows.audit(at=asked, action="followup.ask", target_type="follow_ups",
                   target_id=followup.id, actor_id=None, channel=Channel.WORKER,
                   after={"round_months": followup.round_months})
    return followups


@dataclass(frozen=True)
class Reply:
    """A trainee's own answer in the chat: answer_work, then rate_training and give_opinion."""

    followup: FollowUp
    at: datetime
    work: WorkAfter
    rating: int | None
    opinion: str | None


def answer_followups(db: Session, *, replies: Sequence[Reply], rows: Rows) -> None:
    if not replies:
        return
    db.execute(update(FollowUp), [
        {"id": r.followup.id, "work": r.work, "answered_at": r.at, "recorded_by_id": None,
         "channel": Channel.WECHAT, "rating": r.rating, "opinion": r.opinion}
        for r in replies])
    for r in replies:
        person, target = r.followup.person_id, r.followup.id
        rows.audit(at=r.at, action="followup.answer", target_type="follow_ups",
                   target_id=target, actor_id=person, channel=Channel.WECHAT,
                   before={"work": None, "recorded_by_id": None},
                   after={"work": r.work.value, "recorded_by_id": None,
                          "round_months": r.followup.round_months})
        if r.rating:
            rows.audit(at=r.at, action="followup.rate", target_type="follow_ups",
                       target_id=target, actor_id=person, channel=Channel.WECHAT,
                       before={"rating": None}, after={"rating": r.rating})
        if r.opinion:
            rows.audit(at=r.at, action="followup.opinion", target_type="follow_ups",
                       target_id=target, actor_id=person, channel=Channel.WECHAT,
                       after={"has_opinion": True, "length": len(r.opinion)})


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()

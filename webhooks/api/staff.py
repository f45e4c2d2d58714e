"""Staff of an institution: redeem a holder's voucher code, open a class and show its code,
call the roll, mark by hand with a reason, record completion. The domain refuses anyone who is
not staff, and staff of another institution, exactly as in the chat."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from models.attendance import display_state, mark_by_hand, open_session, roll_call
from models.audit import Channel
from models.completion import complete
from models.displays import display_token
from models.presence import record_headcount
from models.vouchers import redeem_voucher
from runtime.services import current
from webhooks.api import core
from webhooks.api.core import AUTH, bp, caller, idempotent, ok, run, spec, words
from webhooks.api.schemas import (
    ClassOut,
    CompleteIn,
    CompletionOut,
    HeadcountIn,
    HeadcountOut,
    IdempotencyHeaders,
    MarkIn,
    MarkOut,
    OpenIn,
    RedeemedOut,
    RedeemIn,
    RollCallOut,
    RollCallQuery,
    answers,
)
from webhooks.api.trainee import moment
from webhooks.qr import svg

logger = logging.getLogger(__name__)

TAGS = ("staff",)


@bp.post("/staff/redemptions")
@spec.validate(json=RedeemIn, headers=IdempotencyHeaders,
               resp=answers(201, RedeemedOut, 401, 403, 404, 409), tags=TAGS, security=AUTH)
def redeem(json: RedeemIn):
    """报到: redeem the voucher whose code the holder shows, once, for a course of the staff's
    own institution. Compare the name and masked ID with the ID card. Send an
    `Idempotency-Key`: a retry answers the first answer again and redeems nothing more."""
    who = caller()
    services = current()

    def act() -> tuple[Any, int]:
        done = run(redeem_voucher, codes=services.voucher_codes, code=json.code,
                   staff_openid=who.openid, channel=Channel.API, now=core.now())
        return ok({"voucher_id": done.voucher_id, "number": done.number,
                   "holder_name": done.holder_name, "holder_id_masked": done.holder_id_masked,
                   "course": done.course_name}, 201)

    return idempotent("redeem", who, act)


@bp.post("/staff/sessions/open")
@spec.validate(json=OpenIn, resp=answers(200, ClassOut, 401, 403, 409), tags=TAGS,
               security=AUTH)
def open_class(json: OpenIn):
    """开课: open today's running (or next) session of the staff's institution, and get its
    rotating check-in code and the projector page's link."""
    who = caller()
    services, t = current(), words()

    def act(db: Session) -> dict[str, Any]:
        session = open_session(db, staff_openid=who.openid, now=core.now(),
                               course_code=json.course_code, channel=Channel.API)
        state = display_state(db, codes=services.class_codes, session_id=session.id,
                              now=core.now())
        shown = state.code
        token = display_token(services.config.secret_key, session_id=session.id,
                              staff_id=who.person_id)
        return {"session_id": session.id, "course_code": session.course.code,
                "course": session.course.display_name(t.locale),
                "day": session.day.isoformat(), "starts": session.starts.strftime("%H:%M"),
                "ends": session.ends.strftime("%H:%M"),
                "display_url": f"{services.config.base_url}/p/class/{token}",
                "display": {"qr": shown.code if shown else None,
                            "expires_in": shown.expires_in if shown else None,
                            "svg": svg(shown.code) if shown else None,
                            "checked_in": state.checked_in, "enrolled": state.enrolled}}

    return ok(run(act))


@bp.get("/staff/roll-call")
@spec.validate(query=RollCallQuery, resp=answers(200, RollCallOut, 401, 403, 409), tags=TAGS,
               security=AUTH)
def call_roll(query: RollCallQuery):
    """点名: the enrolled trainees of the current session (masked IDs) and who checked in,
    how (scan or by hand)."""
    who = caller()
    t = words()

    def act(db: Session) -> dict[str, Any]:
        session, lines = roll_call(db, staff_openid=who.openid, now=core.now(),
                                   course_code=query.course_code)
        rows = [{"voucher_number": line.voucher_number, "name": line.name,
                 "id_masked": line.id_masked, "state": _state(line.attendance),
                 "how": line.attendance.how.value if line.attendance else None,
                 "checked_in_at": moment(line.attendance.checked_in_at
                                         if line.attendance else None)} for line in lines]
        return {"session_id": session.id, "course": session.course.display_name(t.locale),
                "present": sum(1 for r in rows if r["state"] == "present"),
                "enrolled": len(rows), "lines": rows}

    return ok(run(act))


def _state(mark) -> str:
    if mark is None:
        return "not_checked_in"
    return "present" if mark.is_present else "absent"


@bp.post("/staff/headcounts")
@spec.validate(json=HeadcountIn, resp=answers(201, HeadcountOut, 401, 403, 404, 409),
               tags=TAGS, security=AUTH)
def headcount(json: HeadcountIn):
    """人数: how many people staff see in the room during the current session of their own
    institution (while it is open), recorded with who and when; compared with the scans, and
    flagged on the bureau's oversight page when the scans are more."""
    who = caller()
    t = words()

    def act(db: Session) -> dict[str, Any]:
        done = record_headcount(db, staff_openid=who.openid, counted=json.count, now=core.now(),
                                channel=Channel.API, course_code=json.course_code)
        count = done.headcount
        return {"session_id": done.session.id,
                "course": done.session.course.display_name(t.locale),
                "day": done.session.day.isoformat(), "counted": count.counted,
                "scans": count.scans_then, "extra_scans": done.extra_scans,
                "at": moment(count.at)}

    return ok(run(act), 201)


@bp.post("/staff/marks")
@spec.validate(json=MarkIn, resp=answers(201, MarkOut, 401, 403, 404, 409), tags=TAGS,
               security=AUTH)
def mark(json: MarkIn):
    """补签 / 缺勤: mark an enrolled trainee present or absent in today's session by hand, with
    a reason; audited and counted apart from scans."""
    who = caller()

    def act(db: Session) -> dict[str, Any]:
        record = mark_by_hand(db, staff_openid=who.openid, voucher_number=json.voucher_number,
                              is_present=json.present, reason=json.reason, now=core.now(),
                              channel=Channel.API)
        return {"voucher_number": json.voucher_number.strip().upper(),
                "present": record.is_present, "how": record.how.value,
                "hours": float(record.hours)}

    return ok(run(act), 201)


@bp.post("/staff/completions")
@spec.validate(json=CompleteIn, resp=answers(200, CompletionOut, 401, 403, 404, 409),
               tags=TAGS, security=AUTH)
def completion(json: CompleteIn):
    """结业: record completion with the certificate's number (null: the appraisal was failed);
    it needs the course's share of hours attended."""
    who = caller()

    def act(db: Session) -> dict[str, Any]:
        voucher = complete(db, staff_openid=who.openid, number=json.voucher_number,
                           certificate_no=json.certificate_no, now=core.now(),
                           channel=Channel.API)
        return {"voucher_number": voucher.number, "status": voucher.status.value,
                "certified": bool(voucher.certified), "certificate_no": voucher.certificate_no}

    return ok(run(act))

"""Attendance in the chat: trainees scan the class code (CHECKIN), see their own record;
staff open the class (开课), call the roll (点名), mark by hand with a reason (补签/缺勤);
inspectors scan the class code to record a spot check."""

from __future__ import annotations

import logging
from typing import Any

from bot import dialogue
from bot.dialogue import Dialogue, Step
from bot.errors import explain
from bot.general import with_menu
from bot.intents import Intent, normalize, number_in
from bot.replies import Reply
from bot.turn import Turn
from models.attendance import (
    check_in,
    is_inspector,
    mark_by_hand,
    my_attendance,
    open_session,
    record_spot_check,
    roll_call,
    spot_check_session,
)
from models.audit import Channel
from models.catalogue import session_bounds
from models.clock import LOCAL_TZ
from models.displays import display_token
from models.errors import DomainError, InvalidAnswer
from models.persons import LocationSource, note_location
from models.presence import record_headcount

logger = logging.getLogger(__name__)


def display_link(turn: Turn, session_id: int) -> str:
    token = display_token(turn.secret_key, session_id=session_id,
                          staff_id=turn.person.id if turn.person else None)
    return f"{turn.base_url}/p/class/{token}"


def scan(turn: Turn, intent: Intent) -> Reply:
    """CHECKIN: a trainee checks in (or out); an inspector starts a spot check. Typed (签到,
    怎么签到), there is no code: say how to scan one."""
    if not intent.arg:
        return Reply(text=turn.t._(
            "To check in, scan the code on the class screen: tap the menu 培训券, then "
            "扫码签到, and point the camera at the code. Check-in opens 15 minutes before the "
            "class starts. Reply “出勤” to see your attendance."))
    code = intent.arg
    if not turn.read_kept(is_inspector, person_id=turn.person.id):
        return _check_in(turn, code)
    try:
        session_id = turn.run(spot_check_session, codes=turn.class_codes, code=code,
                              openid=turn.openid, now=turn.now())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return dialogue.begin(turn, "spot_check", answers={"session": session_id})


def _check_in(turn: Turn, code: str) -> Reply:
    try:
        result = turn.run(check_in, codes=turn.class_codes, code=code, openid=turn.openid,
                          now=turn.now())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    t = turn.t
    course = result.session.display_name(t.locale)
    if result.is_checkout:
        return Reply(text=t._("Checked out at %(time)s: %(hours)s hours counted for %(course)s.",
                              time=_clock(turn, result.attendance.checked_out_at),
                              hours=f"{result.attendance.hours:g}", course=course))
    return Reply(text=t._("Checked in at %(time)s ✔ %(course)s, session %(n)s of %(total)s.",
                          time=_clock(turn, result.attendance.checked_in_at), course=course,
                          n=result.number, total=result.total))


def _clock(turn: Turn, moment) -> str:
    return turn.t.clock(moment.astimezone(LOCAL_TZ).time())


def location_message(turn: Turn, intent: Intent) -> Reply:
    """A location the person sent on purpose (not the automatic report): say we have it."""
    lat, lng = (float(x) for x in (intent.arg or "0,0").split(","))
    turn.run(note_location, openid=turn.openid, lat=lat, lng=lng, now=turn.now(),
             source=LocationSource.WECHAT_MESSAGE)
    return Reply(text=turn.t._("Got your location. You can scan the class code now."))


def my_record(turn: Turn, intent: Intent) -> Reply:
    courses = turn.run(my_attendance, openid=turn.openid, now=turn.now())
    t = turn.t
    if not courses:
        return with_menu(turn, t._("You have no class yet: attendance starts once the "
                                   "institution has enrolled you."))
    lines = [t._("Your attendance:")]
    for c in courses:
        lines.append(f"【{c.course.display_name(t.locale)}】")
        lines.append(t._("Sessions attended %(attended)s of %(total)s, missed %(missed)s; "
                         "%(hours)s hours, %(needed)s needed to complete.",
                         attended=c.attended, total=c.total, missed=c.missed,
                         hours=f"{c.hours:g}", needed=f"{c.needed_hours:g}"))
        if c.pending_hours:
            lines.append(t._("%(hours)s more hours count once the session under way has ended.",
                             hours=f"{c.pending_hours:g}"))
    return Reply(text="\n".join(lines))


# --- staff ---------------------------------------------------------------------------------

def open_class(turn: Turn, intent: Intent) -> Reply:
    try:
        session = turn.run(open_session, staff_openid=turn.openid, now=turn.now(),
                           course_code=intent.arg)
    except DomainError as error:
        return Reply(text=explain(turn, error))
    starts, ends = session_bounds(session)
    return Reply(text=turn.t._(
        "Class open: %(course)s, %(start)s–%(end)s. Open this link on the projector: only the "
        "first screen to open it shows the code (send 开课 again for a new link). Trainees scan "
        "its code with the menu 扫码签到:\n%(url)s",
        course=session.course.display_name(turn.t.locale), start=_clock(turn, starts),
        end=_clock(turn, ends), url=display_link(turn, session.id)))


def call_roll(turn: Turn, intent: Intent) -> Reply:
    try:
        session, lines = turn.run(roll_call, staff_openid=turn.openid, now=turn.now(),
                                  course_code=intent.arg)
    except DomainError as error:
        return Reply(text=explain(turn, error))
    t = turn.t
    present = sum(1 for line in lines if line.attendance and line.attendance.is_present)
    text = [t._("Roll call, %(course)s: %(present)s of %(enrolled)s present.",
                course=session.course.display_name(t.locale), present=present,
                enrolled=len(lines))]
    for line in lines:
        mark = line.attendance
        if mark and mark.is_present:
            state = t._("present %(time)s", time=_clock(turn, mark.checked_in_at))
            if mark.how.value == "manual":
                state += " " + t._("(by hand)")
        elif mark:
            state = t._("absent (by hand)")
        else:
            state = t._("not checked in")
        if not line.has_wechat:
            # They cannot scan: the one hand mark that is counted apart (models.attendance).
            state += " · " + t._("no WeChat: 补签 %(number)s 无智能手机",
                                 number=line.voucher_number)
        text.append(f"{line.voucher_number} {line.name} {line.id_masked} · {state}")
    text.append(t._("To mark by hand: 补签 <voucher number> <reason>, or 缺勤 <voucher number> "
                    "<reason>."))
    text.append(t._("Count the people you see in the room and reply 人数 <number>, for example "
                    "人数 %(n)s.", n=present))
    return Reply(text="\n".join(text))


def count_heads(turn: Turn, intent: Intent) -> Reply:
    """人数 23 (人数 23 <course code> when two classes run at once): how many people staff see
    in the room, compared with the scans."""
    words = normalize(intent.arg or "").split()
    if not words or not words[0].isdigit() or len(words) > 2:
        return Reply(text=turn.t._("Count the people you see in the room and reply 人数 "
                                   "<number>, for example 人数 23."))
    try:
        done = turn.run(record_headcount, staff_openid=turn.openid, counted=int(words[0][:6]),
                        now=turn.now(), channel=Channel.WECHAT,
                        course_code=words[1] if len(words) > 1 else None)
    except DomainError as error:
        return Reply(text=explain(turn, error))
    t, count = turn.t, done.headcount
    text = t._("Headcount recorded for %(course)s: %(counted)s people in the room, %(scans)s "
               "checked in by scan.", course=done.session.course.display_name(t.locale),
               counted=count.counted, scans=count.scans_then)
    if done.extra_scans:
        text += "\n" + t.ngettext(
            "⚠ %(num)s scan more than the people in the room: someone checked in who is not "
            "here. Call the roll (点名) and mark them absent (缺勤 <voucher number> <reason>).",
            "⚠ %(num)s scans more than the people in the room: someone checked in who is not "
            "here. Call the roll (点名) and mark them absent (缺勤 <voucher number> <reason>).",
            done.extra_scans)
    return Reply(text=text)


def _mark(turn: Turn, intent: Intent, *, is_present: bool) -> Reply:
    number, _, reason = (intent.arg or "").partition(" ")
    if not number or not reason.strip():
        return Reply(text=turn.t._("To mark by hand: 补签 <voucher number> <reason>, or 缺勤 "
                                   "<voucher number> <reason>."))
    try:
        turn.run(mark_by_hand, staff_openid=turn.openid, voucher_number=number,
                 is_present=is_present, reason=reason.strip(), now=turn.now(),
                 channel=Channel.WECHAT)
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return Reply(text=turn.t._("Marked %(number)s as %(state)s, with your reason; the mark is "
                               "recorded as made by hand.", number=number.upper(),
                               state=turn.t._("present") if is_present else turn.t._("absent")))


def mark_present(turn: Turn, intent: Intent) -> Reply:
    return _mark(turn, intent, is_present=True)


def mark_absent(turn: Turn, intent: Intent) -> Reply:
    return _mark(turn, intent, is_present=False)


# --- inspectors ----------------------------------------------------------------------------

def _ask_seen(turn: Turn, answers: dict[str, Any]) -> str:
    return turn.t._("Spot check: how many trainees do you see in the room? Reply with a number.")


def _take_seen(turn: Turn, text: str, answers: dict[str, Any]) -> int:
    n = number_in(normalize(text))
    if n is None:
        raise InvalidAnswer(reason="choice")
    return n


def _ask_notes(turn: Turn, answers: dict[str, Any]) -> str:
    return turn.t._("Any notes (teaching plan followed, problems seen)? Write them, or reply 无. "
                    "You may send a photo first.")


def _take_notes(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    return "" if normalize(text) in ("无", "没有", "none", "no") else text.strip()


def _finish_spot_check(turn: Turn, answers: dict[str, Any]) -> Reply:
    try:
        check = turn.run(record_spot_check, session_id=answers["session"],
                         openid=turn.openid, present_seen=answers["seen"],
                         notes=answers["notes"], photo_media_id=answers.get("photo"),
                         now=turn.now())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return Reply(text=turn.t._(
        "Spot check recorded: %(seen)s seen, %(checked_in)s checked in.",
        seen=check.present_seen, checked_in=check.checked_in_then))


dialogue.declare(Dialogue(
    name="spot_check",
    steps=(Step("seen", _ask_seen, _take_seen), Step("notes", _ask_notes, _take_notes)),
    finish=_finish_spot_check, explain=explain,
    photo_answer="photo"))

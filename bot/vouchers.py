"""Vouchers in the chat: claim from a course's details (or the course chosen before), the
holder's list and card link, cancel after a confirmation (also from 取消报名 and 退订); staff
redeem by scanning, complete with a certificate number, undo a mistake."""

from __future__ import annotations

import logging
from typing import Any

from bot import confirm, dialogue, jobs
from bot.cost import cost_lines
from bot.errors import explain
from bot.general import with_menu
from bot.intents import Intent
from bot.replies import Reply
from bot.turn import Turn
from models import links
from models.audit import Channel
from models.completion import complete
from models.cost import cost_before_claim
from models.courses import get_course
from models.errors import CourseNotFound, DomainError
from models.vouchers import (
    Voucher,
    VoucherStatus,
    cancel_voucher,
    claim_voucher,
    redeem_voucher,
    undo_redemption,
    vouchers_held,
    vouchers_of,
)
from vocabulary.labels import VOUCHER_STATUSES as STATUSES

logger = logging.getLogger(__name__)

FAILED_WORDS = {"不合格", "未通过", "fail", "failed"}


def card_link(turn: Turn, voucher: Voucher) -> str:
    token = links.sign(turn.secret_key, links.VOUCHER_PURPOSE,
                       {"v": voucher.id, "p": voucher.person_id})
    return f"{turn.base_url}/p/voucher/{token}"


def claim(turn: Turn, intent: Intent) -> Reply:
    """领券: the course of the details on screen, else the one the person chose last (kept
    through registration, bot.state.State.course); with neither, ask which."""
    course_id = int(intent.arg) if (intent.arg or "").isdigit() else turn.state.course
    if not course_id:
        return with_menu(turn, turn.t._(
            "Which course is the voucher for? Reply “课程”, pick a course by its number, then "
            "reply “领券”."))
    turn.state.course = course_id
    if not turn.person.is_registered:
        return _register_first(turn, course_id)
    try:
        cost = turn.run(cost_before_claim, person_id=turn.person.id, course_id=course_id,
                        on=turn.today())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    if cost.needs_consent:
        # No subsidy pays for this person: say what it costs and why, and claim only on a yes.
        return dialogue.begin(turn, CLAIM_ANYWAY, answers={
            "course_id": course_id, "course": _course_name(turn, course_id),
            "lines": cost_lines(turn, cost)})
    return _claim_now(turn, course_id)


def _claim_now(turn: Turn, course_id: int) -> Reply:
    try:
        voucher = turn.run(claim_voucher, openid=turn.openid, course_id=course_id,
                           channel=Channel.WECHAT, now=turn.now(), today=turn.today())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    turn.state.course = None  # the thread is done: the voucher holds the course now
    return Reply(text=f"【{_course_name(turn, course_id)}】\n" + turn.t._(
        "You have a training voucher, number %(number)s. On the first day take your ID card to "
        "the institution and show the voucher's code to enrol:\n%(url)s\n(The menu 我的培训券 "
        "always has it.)", number=voucher.number, url=card_link(turn, voucher)))


def _ask_claim_anyway(turn: Turn, answers: dict[str, Any]) -> str:
    return "\n".join([f"【{answers['course']}】", *answers["lines"], "", turn.t._(
        "Reply 1 to claim the voucher anyway, knowing this; reply 0 not to claim it.")])


def _not_claimed(turn: Turn, answers: dict[str, Any]) -> str:
    return turn.t._("No voucher was claimed for “%(course)s”. Reply “课程” to look at other "
                    "courses.", course=answers["course"])


def _claim_confirmed(turn: Turn, answers: dict[str, Any]) -> Reply:
    return _claim_now(turn, answers["course_id"])


CLAIM_ANYWAY = "claim_not_covered"
confirm.declare_confirmation(CLAIM_ANYWAY, ask=_ask_claim_anyway, act=_claim_confirmed,
                             unchanged=_not_claimed)


def _register_first(turn: Turn, course_id: int) -> Reply:
    return Reply(text=turn.t._(
        "To claim a voucher for “%(course)s”, please register first: reply “注册” (a few "
        "questions). We keep this course for you: once you are registered, reply “领券”.",
        course=_course_name(turn, course_id)), choices=(Intent("REGISTER"),))


def offer_chosen_course(turn: Turn, reply: Reply) -> Reply:
    """After registering: the course chosen before is still there, one word away."""
    if not turn.state.course:
        return reply
    return Reply(text=reply.text + "\n\n" + turn.t._(
        "Before registering you chose “%(course)s”: reply “领券” to claim its training voucher "
        "now.", course=_course_name(turn, turn.state.course)),
        choices=(*reply.choices, Intent("CLAIM", str(turn.state.course))), more=reply.more)


def _course_name(turn: Turn, course_id: int) -> str:
    try:
        return turn.run(get_course, course_id=course_id).display_name(turn.t.locale)
    except CourseNotFound:
        return "—"


def my_vouchers(turn: Turn, intent: Intent) -> Reply:
    vouchers = turn.read_kept(vouchers_held, person_id=turn.person.id)  # one statement
    t = turn.t
    if not vouchers:
        return with_menu(turn, t._("You have no training voucher yet. Reply “课程”, pick a "
                                   "course and reply “领券”."))
    lines = [t._("Your training vouchers:")]
    for n, voucher in enumerate(vouchers, 1):
        lines.append(f"{n}. {voucher.course_display_name(t.locale)}")
        lines.append("   " + t._("%(number)s · %(status)s", number=voucher.number,
                                 status=t._(STATUSES[voucher.status])))
    lines += ["", t._("Reply with a number to show the voucher's code or cancel it.")]
    return Reply(text="\n".join(lines),
                 choices=tuple(Intent("VOUCHER", str(v.id)) for v in vouchers))


def voucher_details(turn: Turn, intent: Intent) -> Reply:
    vouchers = {v.id: v for v in turn.run(vouchers_of, openid=turn.openid)}
    voucher = vouchers.get(int(intent.arg or 0))
    if voucher is None:
        return my_vouchers(turn, intent)
    t = turn.t
    lines = [
        f"【{voucher.course.display_name(t.locale)}】",
        t._("Voucher %(number)s · %(status)s", number=voucher.number,
            status=t._(STATUSES[voucher.status])),
        t._("Institution: %(name)s", name=voucher.course.institution.display_name(t.locale)),
    ]
    if voucher.status is VoucherStatus.ISSUED:
        lines += [t._("Show this code at the institution to enrol:"), card_link(turn, voucher),
                  "", "1. " + t._("Cancel this voucher (frees the seat)")]
        return Reply(text="\n".join(lines), choices=(Intent("CANCEL_VOUCHER", str(voucher.id)),))
    return Reply(text="\n".join(lines))


def cancel(turn: Turn, intent: Intent) -> Reply:
    """CANCEL_VOUCHER: ask first; cancelling gives the seat away."""
    issued = {v.id: v for v in _issued(turn)}
    voucher = issued.get(int(intent.arg or 0))
    if voucher is None:
        return with_menu(turn, turn.t._(
            "This voucher cannot be cancelled any more: only a voucher not yet used for "
            "enrolling can."))
    return _ask_to_cancel(turn, voucher)


def _issued(turn: Turn) -> list[Voucher]:
    """The person's vouchers that they may still cancel themselves."""
    return [v for v in turn.run(vouchers_of, openid=turn.openid)
            if v.status is VoucherStatus.ISSUED]


def _ask_to_cancel(turn: Turn, voucher: Voucher) -> Reply:
    return dialogue.begin(turn, CANCEL, answers={
        "voucher": voucher.id, "number": voucher.number, "course_id": voucher.course_id,
        "course": voucher.course.display_name(turn.t.locale)})


def _ask_cancel(turn: Turn, answers: dict[str, Any]) -> str:
    return turn.t._(
        "Cancel training voucher %(number)s for “%(course)s”? Its seat goes to someone else; "
        "you can claim a voucher again later if seats are left.\n"
        "Reply 1 to cancel it; reply 0 to keep it.",
        number=answers["number"], course=answers["course"])


def _kept(turn: Turn, answers: dict[str, Any]) -> str:
    return turn.t._("Voucher %(number)s was not cancelled; it is still valid.",
                    number=answers["number"])


def _cancel_confirmed(turn: Turn, answers: dict[str, Any]) -> Reply:
    try:
        turn.run(cancel_voucher, openid=turn.openid, voucher_id=answers["voucher"],
                 now=turn.now())
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    turn.state.course = answers["course_id"]  # so that 领券 takes it back
    return with_menu(turn, turn.t._(
        "Voucher %(number)s is cancelled and its seat is free again. Changed your mind? Reply "
        "“领券” to claim “%(course)s” again while seats are left.",
        number=answers["number"], course=answers["course"]))


CANCEL = "cancel_voucher"
confirm.declare_confirmation(CANCEL, ask=_ask_cancel, act=_cancel_confirmed, unchanged=_kept)


def cancel_booking(turn: Turn, intent: Intent) -> Reply:
    """取消报名 / 退券: the voucher to cancel (asked which, when several), then the confirmation."""
    issued = _issued(turn)
    if not issued:
        return _nothing_to_cancel(turn)
    if len(issued) == 1:
        return _ask_to_cancel(turn, issued[0])
    lines = [turn.t._("Which voucher do you want to cancel? Reply with its number:")]
    lines += [f"{n}. {v.course.display_name(turn.t.locale)} · {v.number}"
              for n, v in enumerate(issued, 1)]
    return Reply(text="\n".join(lines),
                 choices=tuple(Intent("CANCEL_VOUCHER", str(v.id)) for v in issued))


def _nothing_to_cancel(turn: Turn) -> Reply:
    return with_menu(turn, turn.t._(
        "You hold no training voucher that can be cancelled (only one not yet used for "
        "enrolling can). To delete your registration itself: “我的资料”, then 5."))


def unsubscribe_or_cancel(turn: Turn, intent: Intent) -> Reply:
    """退订: to a voucher holder, a choice between cancelling the voucher and stopping the
    job messages; to anyone else it stops the messages (and says how to undo that)."""
    issued = _issued(turn)
    if not issued:
        return jobs.stop_broadcasts(turn, intent)
    t = turn.t
    return Reply(text="\n".join([
        t._("What would you like to stop? Reply with a number:"),
        "1. " + (t._("Cancel my training voucher (%(course)s)",
                     course=issued[0].course.display_name(t.locale)) if len(issued) == 1
                 else t._("Cancel one of my %(count)s training vouchers", count=len(issued))),
        "2. " + t._("Stop job messages and announcements (messages about my vouchers and "
                    "classes still come)"),
    ]), choices=(Intent("CANCEL_BOOKING"), Intent("UNSUBSCRIBE")))


def nothing_to_stop(turn: Turn) -> Reply:
    """取消 outside any dialogue: there is nothing under way; say how to cancel a voucher."""
    text = turn.t._("Nothing is under way that could be stopped.")
    if _issued(turn):
        text += "\n" + turn.t._("To cancel a training voucher, reply “取消报名”.")
    return with_menu(turn, text)


# --- staff ---------------------------------------------------------------------------------

def redeem(turn: Turn, intent: Intent) -> Reply:
    """REDEEM: the staff member scanned a holder's code. Typed (核销), there is no code: say
    how to scan one."""
    if not intent.arg:
        return Reply(text=turn.t._(
            "To enrol a trainee, scan the code on their voucher: tap the menu 培训券, then "
            "核销（机构）, and point the camera at the code the trainee shows on their phone "
            "(the menu 我的培训券 has it). Only staff of a training institution can do this."))
    try:
        done = turn.run(redeem_voucher, codes=turn.voucher_codes, code=intent.arg or "",
                        staff_openid=turn.openid, channel=Channel.WECHAT, now=turn.now())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return Reply(text="\n".join([
        turn.t._("Enrolled ✔ Please compare with the ID card:"),
        turn.t._("Name: %(name)s", name=done.holder_name),
        turn.t._("ID card: %(id)s", id=done.holder_id_masked),
        turn.t._("Course: %(course)s", course=done.course_name),
        turn.t._("Voucher: %(number)s", number=done.number),
    ]))


def complete_course(turn: Turn, intent: Intent) -> Reply:
    """结业 PX2026000001 <certificate number> | 结业 PX2026000001 不合格"""
    number, _, rest = (intent.arg or "").partition(" ")
    rest = rest.strip()
    if not number or not rest:
        return Reply(text=turn.t._(
            "Write: 结业 <voucher number> <certificate number>, or 结业 <voucher number> 不合格"))
    certificate_no = None if rest.lower() in FAILED_WORDS else rest
    try:
        voucher = turn.run(complete, staff_openid=turn.openid, number=number,
                           certificate_no=certificate_no, now=turn.now(),
                           channel=Channel.WECHAT)
    except DomainError as error:
        return Reply(text=explain(turn, error))
    if certificate_no:
        return Reply(text=turn.t._("%(number)s completed, certificate %(certificate)s.",
                                   number=voucher.number, certificate=certificate_no))
    return Reply(text=turn.t._("%(number)s completed without a certificate.",
                               number=voucher.number))


def undo(turn: Turn, intent: Intent) -> Reply:
    """撤销报到 PX2026000001 <reason>"""
    number, _, reason = (intent.arg or "").partition(" ")
    if not number or not reason.strip():
        return Reply(text=turn.t._("Write: 撤销报到 <voucher number> <reason>"))
    try:
        voucher = turn.run(undo_redemption, staff_openid=turn.openid, number=number,
                           reason=reason.strip(), now=turn.now())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return Reply(text=turn.t._("The enrolment of %(number)s is undone; the voucher can be "
                               "used again.", number=voucher.number))

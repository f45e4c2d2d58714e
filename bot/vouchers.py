"""Vouchers in the chat: claim from a course's details, the holder's list and card link,
cancel; staff redeem by scanning, complete with a certificate number, undo a mistake."""

from __future__ import annotations

from bot import links
from bot.errors import explain
from bot.general import with_menu
from bot.intents import Intent
from bot.labels import VOUCHER_STATUSES as STATUSES
from bot.replies import Reply
from bot.turn import Turn
from models.audit import Channel
from models.completion import complete
from models.errors import DomainError
from models.staff import bind_staff
from models.vouchers import (
    Voucher,
    VoucherStatus,
    cancel_voucher,
    claim_voucher,
    redeem_voucher,
    undo_redemption,
    vouchers_of,
)

FAILED_WORDS = {"不合格", "未通过", "fail", "failed"}


def card_link(turn: Turn, voucher: Voucher) -> str:
    token = links.sign(turn.secret_key, "voucher", {"v": voucher.id, "p": voucher.person_id})
    return f"{turn.base_url}/p/voucher/{token}"


def claim(turn: Turn, intent: Intent) -> Reply:
    try:
        voucher = turn.run(claim_voucher, openid=turn.openid, course_id=int(intent.arg or 0),
                           channel=Channel.WECHAT, now=turn.now(), today=turn.today())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return Reply(text=turn.t._(
        "You have a training voucher, number %(number)s. On the first day take your ID card to "
        "the institution and show the voucher's code to enrol:\n%(url)s\n(The menu 我的培训券 "
        "always has it.)", number=voucher.number, url=card_link(turn, voucher)))


def my_vouchers(turn: Turn, intent: Intent) -> Reply:
    vouchers = turn.run(vouchers_of, openid=turn.openid)
    t = turn.t
    if not vouchers:
        return with_menu(turn, t._("You have no training voucher yet. Reply “课程”, pick a "
                                   "course and reply “领券”."))
    lines = [t._("Your training vouchers:")]
    for n, voucher in enumerate(vouchers, 1):
        lines.append(f"{n}. {voucher.course.display_name(t.locale)}")
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
    try:
        turn.run(cancel_voucher, openid=turn.openid, voucher_id=int(intent.arg or 0),
                 now=turn.now())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return with_menu(turn, turn.t._("The voucher is cancelled and the seat is free again."))


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


def bind(turn: Turn, token: str) -> Reply:
    try:
        member = turn.run(bind_staff, person_id=turn.person.id, token=token, now=turn.now())
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    return Reply(text=turn.t._(
        "You are now staff of %(institution)s. Scan trainees' voucher codes with the menu "
        "核销; type 结业 or 撤销报到 with a voucher number to complete or undo.",
        institution=member.institution.display_name(turn.t.locale)))

"""PROFILE: what the person registered, masked, and the few things they may change
themselves: phone, township, where to work, language; or withdraw their consent."""

from __future__ import annotations

from typing import Any

from bot import confirm, dialogue, registration
from bot.dialogue import Dialogue, Step
from bot.errors import explain
from bot.general import with_menu
from bot.intents import Intent
from bot.labels import GROUP_STATUSES, GROUPS, INTENTS, VOUCHER_STATUSES
from bot.replies import Reply
from bot.turn import Turn
from models.audit import Channel
from models.catalogue import Intent as WorkIntent
from models.errors import DomainError
from models.registration import (
    change_intent,
    change_phone,
    change_township,
    load_profile,
    withdraw_consent,
)
from models.vouchers import vouchers_of


def show_profile(turn: Turn, intent: Intent) -> Reply:
    if not turn.person.is_registered:
        return registration.start(turn, intent)
    person = turn.run(load_profile, openid=turn.openid)
    t = turn.t
    groups = [t._("%(group)s (%(status)s)", group=t._(GROUPS[g.group]),
                  status=t._(GROUP_STATUSES[g.status])) for g in person.groups]
    lines = [
        t._("【My details】"),
        t._("Name: %(name)s", name=person.name),
        t._("ID card: %(id)s", id=person.id_masked),
        t._("Mobile: %(phone)s", phone=person.phone_masked),
        t._("Township: %(township)s", township=person.township.display_name(t.locale)),
        t._("Where to work: %(intent)s", intent=t._(INTENTS[person.intent])),
        t._("Groups: %(groups)s", groups=t.listing(groups) if groups else t._("none")),
        *_trainings(turn),
        "",
        t._("Reply with a number to change something:"),
        "1. " + t._("Mobile number"),
        "2. " + t._("Township"),
        "3. " + t._("Where to work"),
        "4. " + t._("Language"),
        "5. " + t._("Withdraw my consent and delete my personal information"),
    ]
    return Reply(text="\n".join(lines), choices=(
        Intent("PROFILE_EDIT", "change_phone"), Intent("PROFILE_EDIT", "change_township"),
        Intent("PROFILE_EDIT", "change_intent"), Intent("LANGUAGE"),
        Intent("PROFILE_EDIT", "withdraw")))


def _trainings(turn: Turn) -> list[str]:
    """The person's vouchers so far, with their state and any certificate."""
    t = turn.t
    vouchers = turn.run(vouchers_of, openid=turn.openid)
    if not vouchers:
        return [t._("Trainings: none yet")]
    lines = [t._("Trainings:")]
    for v in vouchers:
        line = f"· {v.course.display_name(t.locale)} · {t._(VOUCHER_STATUSES[v.status])}"
        if v.certificate_no:
            line += " · " + t._("certificate %(number)s", number=v.certificate_no)
        lines.append(line)
    return lines


def edit(turn: Turn, intent: Intent) -> Reply:
    if not turn.person.is_registered:
        return registration.start(turn, intent)
    return dialogue.begin(turn, intent.arg)


def _saved(turn: Turn) -> Reply:
    return with_menu(turn, turn.t._("Saved."))


def _run_change(turn: Turn, operation, **kwargs) -> Reply:
    try:
        turn.run(operation, openid=turn.openid, channel=Channel.WECHAT, now=turn.now(),
                 **kwargs)
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return _saved(turn)


def _finish_phone(turn: Turn, answers: dict[str, Any]) -> Reply:
    return _run_change(turn, change_phone, vault=turn.vault, phone=answers["phone"])


def _finish_township(turn: Turn, answers: dict[str, Any]) -> Reply:
    return _run_change(turn, change_township, township_code=answers["township"])


def _finish_intent(turn: Turn, answers: dict[str, Any]) -> Reply:
    return _run_change(turn, change_intent, intent=WorkIntent(answers["intent"]))


def _ask_withdraw(turn: Turn, answers: dict[str, Any]) -> str:
    return turn.t._(
        "Withdraw your consent? This cannot be undone: your name, ID card number, mobile number "
        "and the rest of your details are deleted (except what the subsidy ledgers of a "
        "training you took must keep), and vouchers you have not used yet are "
        "cancelled (their seats go to others). To train with a voucher again you would register "
        "anew.\nReply 1 to withdraw and delete; reply 0 to keep everything.")


def _withdraw_kept(turn: Turn, answers: dict[str, Any]) -> str:
    return turn.t._("Nothing was changed: your consent and your details are kept.")


def _finish_withdraw(turn: Turn, answers: dict[str, Any]) -> Reply:
    try:
        turn.run(withdraw_consent, openid=turn.openid, channel=Channel.WECHAT, now=turn.now())
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    return with_menu(turn, turn.t._(
        "Your personal information has been deleted. You can register again at any time: "
        "reply “注册”."))


confirm.declare_confirmation("withdraw", ask=_ask_withdraw, act=_finish_withdraw,
                             unchanged=_withdraw_kept)

for name, step, done in (
    ("change_phone", Step("phone", registration.ask_phone, registration.take_phone),
     _finish_phone),
    ("change_township", Step("township", registration.ask_township,
                             registration.take_township), _finish_township),
    ("change_intent", Step("intent", registration.ask_intent, registration.take_intent),
     _finish_intent),
):
    dialogue.declare(Dialogue(name=name, steps=(step,), finish=done, explain=explain))

"""PROFILE: what the person registered, masked, and the few things they may change
themselves: phone, their three places and household kind, where to work, language, whether they
draw a pension and the groups they declared (each change audited); or withdraw their consent."""

from __future__ import annotations

import logging
from typing import Any

from bot import confirm, dialogue, registration
from bot.dialogue import Dialogue, Step
from bot.errors import explain
from bot.general import with_menu
from bot.intents import Intent
from bot.replies import Reply
from bot.turn import Turn
from locales import N_
from models.audit import Channel
from models.catalogue import Intent as WorkIntent
from models.errors import DomainError
from models.persons import Group, HouseholdKind, Person
from models.places import ELSEWHERE, PlaceRole, place_choices
from models.regions import Region
from models.registration import (
    change_groups,
    change_household,
    change_household_kind,
    change_intent,
    change_pension,
    change_phone,
    change_place,
    load_profile,
    withdraw_consent,
)
from models.vouchers import vouchers_of
from vocabulary.labels import GROUP_STATUSES, GROUPS, HOUSEHOLD_KINDS, INTENTS, VOUCHER_STATUSES

logger = logging.getLogger(__name__)


def show_profile(turn: Turn, intent: Intent) -> Reply:
    if not turn.person.is_registered:
        return registration.start(turn, intent)
    person = turn.run(load_profile, openid=turn.openid)
    elsewhere = registration.elsewhere_words(turn, turn.run(place_choices))
    t = turn.t
    groups = [t._("%(group)s (%(status)s)", group=t._(GROUPS[g.group]),
                  status=t._(GROUP_STATUSES[g.status])) for g in person.groups]
    lines = [
        t._("【My details】"),
        t._("Name: %(name)s", name=person.name),
        t._("ID card: %(id)s", id=person.id_masked),
        t._("Mobile: %(phone)s", phone=person.phone_masked or t._("none")),
        t._("Household registration: %(place)s", place=_household_words(turn, person)),
        t._("Household: %(kind)s", kind=t._(HOUSEHOLD_KINDS[person.household_kind])),
        t._("Lives in: %(place)s", place=_place_words(turn, person.residence_township,
                                                        person.residence_elsewhere, elsewhere)),
        t._("Where to work: %(intent)s", intent=t._(INTENTS[person.intent])),
        t._("Looks for work in: %(place)s", place=_place_words(turn, person.job_township,
                                                                 person.job_elsewhere,
                                                                 elsewhere)),
        t._("Groups: %(groups)s", groups=t.listing(groups) if groups else t._("none")),
        t._("Monthly pension: %(answer)s", answer=_pension_words(turn, person.draws_pension)),
        *_trainings(turn),
        "",
        t._("Reply with a number to change something:"),
        *(f"{n}. {t._(label)}" for n, (_, label) in enumerate(CHANGES, 1)),
    ]
    return Reply(text="\n".join(lines), choices=tuple(intent for intent, _ in CHANGES))


# What the profile lets a person change, in its numbered order. New entries go last: the
# digits people (and cadres helping them) learnt keep their meaning.
CHANGES = (
    (Intent("PROFILE_EDIT", "change_phone"), N_("Mobile number")),
    (Intent("PROFILE_EDIT", "change_township"), N_("Household registration")),
    (Intent("PROFILE_EDIT", "change_intent"), N_("Where to work")),
    (Intent("LANGUAGE"), N_("Language")),
    (Intent("PROFILE_EDIT", "withdraw"), N_("Withdraw my consent and delete my personal "
                                             "information")),
    (Intent("PROFILE_EDIT", "change_household_kind"), N_("Rural or urban household")),
    (Intent("PROFILE_EDIT", "change_residence"), N_("Where you live")),
    (Intent("PROFILE_EDIT", "change_job_place"), N_("Where you look for work")),
    (Intent("PROFILE_EDIT", "change_pension"), N_("Monthly pension")),
    (Intent("PROFILE_EDIT", "change_groups"), N_("Groups you belong to")),
)


def _pension_words(turn: Turn, draws: bool | None) -> str:
    if draws is None:
        return turn.t._("not known yet")
    return turn.t._("draws one") if draws else turn.t._("draws none")


def _household_words(turn: Turn, person: Person) -> str:
    if person.township is not None:
        return person.township.display_name(turn.t.locale)
    if person.household_elsewhere is not None:
        return turn.t._("elsewhere: %(place)s", place=person.household_elsewhere)
    return turn.t._("not known yet")


def _place_words(turn: Turn, township: Region | None, is_elsewhere: bool | None,
                 elsewhere: str) -> str:
    if township is not None:
        return township.display_name(turn.t.locale)
    if is_elsewhere:
        return elsewhere
    return turn.t._("not known yet")


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
    return dialogue.begin(turn, intent.arg, answers=_places_known(turn))


def _places_known(turn: Turn) -> dict[str, Any]:
    """The places held now, so that “0: the same as …” can be offered when one changes."""
    person = turn.run(load_profile, openid=turn.openid)
    elsewhere = registration.elsewhere_words(turn, turn.run(place_choices))
    known: dict[str, Any] = {}
    for step, township, elsewhere in (
            ("township", person.township, person.household_elsewhere is not None),
            ("residence", person.residence_township, person.residence_elsewhere)):
        if township is not None or elsewhere:
            known[step] = township.code if township is not None else ELSEWHERE
            known[f"{step}_name"] = (township.display_name(turn.t.locale) if township
                                     else elsewhere)
    return known


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
    elsewhere = registration.household_is_elsewhere(answers)
    return _run_change(turn, change_household,
                       township_code=None if elsewhere else answers["township"],
                       elsewhere=answers.get("household_elsewhere") if elsewhere else None)


def _finish_household_kind(turn: Turn, answers: dict[str, Any]) -> Reply:
    kind = answers["household_kind"]
    return _run_change(turn, change_household_kind, kind=HouseholdKind(kind) if kind else None)


def _finish_residence(turn: Turn, answers: dict[str, Any]) -> Reply:
    return _run_change(turn, change_place, role=PlaceRole.RESIDENCE, answer=answers["residence"])


def _finish_job_place(turn: Turn, answers: dict[str, Any]) -> Reply:
    return _run_change(turn, change_place, role=PlaceRole.JOB_SEEKING,
                       answer=answers["job_place"])


def _finish_intent(turn: Turn, answers: dict[str, Any]) -> Reply:
    return _run_change(turn, change_intent, intent=WorkIntent(answers["intent"]))


def _finish_pension(turn: Turn, answers: dict[str, Any]) -> Reply:
    return _run_change(turn, change_pension, draws_pension=answers["pension"])


def _finish_groups(turn: Turn, answers: dict[str, Any]) -> Reply:
    try:
        rejected = turn.run(change_groups, openid=turn.openid, channel=Channel.WECHAT,
                            now=turn.now(), groups=frozenset(Group(g) for g in answers["groups"]))
    except DomainError as error:
        return Reply(text=explain(turn, error))
    if not rejected:
        return with_menu(turn, turn.t._(
            "Saved. Groups you added are self-declared until the bureau verifies them."))
    return with_menu(turn, turn.t._(
        "Saved, except: the bureau did not confirm that you are %(groups)s, and that decision "
        "stands; to have it looked at again, ask the county employment service centre.",
        groups=turn.t.listing([turn.t._(GROUPS[g]) for g in rejected])))


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

for name, steps, done in (
    ("change_phone", (Step("phone", registration.ask_phone, registration.take_phone),),
     _finish_phone),
    ("change_township", (
        Step("township", registration.ask_township, registration.take_township),
        Step("household_elsewhere", registration.ask_household_elsewhere,
             registration.take_household_elsewhere, when=registration.household_is_elsewhere)),
     _finish_township),
    ("change_household_kind", (Step("household_kind", registration.ask_household_kind,
                                    registration.take_household_kind),),
     _finish_household_kind),
    ("change_residence", (Step("residence", registration.ask_residence,
                               registration.take_residence),), _finish_residence),
    ("change_job_place", (Step("job_place", registration.ask_job_place,
                               registration.take_job_place),), _finish_job_place),
    ("change_intent", (Step("intent", registration.ask_intent, registration.take_intent),),
     _finish_intent),
    ("change_pension", (Step("pension", registration.ask_pension, registration.take_pension),),
     _finish_pension),
    ("change_groups", (Step("groups", registration.ask_groups, registration.take_groups),),
     _finish_groups),
):
    dialogue.declare(Dialogue(name=name, steps=steps, finish=done, explain=explain))

"""Registration as a guided dialogue, one question a message, each with an example; the same
steps serve a cadre registering a neighbour (代报名), with consent given on paper."""

from __future__ import annotations

import re
from typing import Any

from bot import dialogue
from bot.dialogue import Dialogue, Step
from bot.errors import explain
from bot.intents import Intent, normalize, number_in
from bot.labels import GROUP_ORDER, GROUPS, INTENT_ORDER, INTENTS
from bot.replies import Reply
from bot.turn import Turn
from locales import N_
from models.audit import Channel
from models.cadres import register_neighbour
from models.catalogue import Intent as WorkIntent
from models.errors import DomainError, InvalidAnswer
from models.identity import clean_name, clean_phone, parse_id_number
from models.numbers import plain_digits
from models.persons import ConsentHow, Group
from models.pii import mask_id, mask_phone
from models.registration import RegistrationForm, check_id_available, register, townships

CONFIRM_FIELDS = (  # what the summary lets a person correct, in its order
    ("name", N_("Change the name")),
    ("id_number", N_("Change the ID card number")),
    ("phone", N_("Change the mobile number")),
    ("township", N_("Change the township")),
    ("intent", N_("Change where to work")),
    ("groups", N_("Change the groups")),
    ("pension", N_("Change the pension answer")),
)


def _for_neighbour(turn: Turn) -> bool:
    return dialogue.mode_of(turn) == "neighbour"


def _prefix(turn: Turn) -> str:
    return turn.t._("(For your neighbour) ") if _for_neighbour(turn) else ""


# --- the questions -------------------------------------------------------------------------

def ask_name(turn: Turn, answers: dict[str, Any]) -> str:
    return _prefix(turn) + turn.t._(
        "Please write the full name as on the ID card, for example: 张三\n"
        "(Reply “取消” to stop at any time, “上一步” to go back.)")


def ask_id(turn: Turn, answers: dict[str, Any]) -> str:
    return _prefix(turn) + turn.t._(
        "Please write the 18-character ID card number, for example: 530324199001011234")


def ask_phone(turn: Turn, answers: dict[str, Any]) -> str:
    return _prefix(turn) + turn.t._(
        "Please write the mobile number, for example: 13812345678")


def ask_township(turn: Turn, answers: dict[str, Any]) -> str:
    names = turn.run(townships)
    lines = [f"{n}. {t.display_name(turn.t.locale)}" for n, t in enumerate(names, 1)]
    return _prefix(turn) + turn.t._(
        "Which township is the household registered in? Reply with the number or the name:"
    ) + "\n" + "\n".join(lines)


def ask_intent(turn: Turn, answers: dict[str, Any]) -> str:
    lines = [f"{n}. {turn.t._(INTENTS[i])}" for n, i in enumerate(INTENT_ORDER, 1)]
    return _prefix(turn) + turn.t._("Where do you want to work? Reply with a number:") + \
        "\n" + "\n".join(lines)


def ask_groups(turn: Turn, answers: dict[str, Any]) -> str:
    lines = [f"{n}. {turn.t._(GROUPS[g])}" for n, g in enumerate(GROUP_ORDER, 1)]
    return _prefix(turn) + turn.t._(
        "Do any of these apply? Several are fine: reply with the numbers, for example “1 3”; "
        "reply 0 if none does. The bureau will verify them later.") + "\n" + "\n".join(lines)


def ask_pension(turn: Turn, answers: dict[str, Any]) -> str:
    return _prefix(turn) + turn.t._(
        "Is a monthly pension being drawn now?\n1. No\n2. Yes")


def ask_consent(turn: Turn, answers: dict[str, Any]) -> str:
    if _for_neighbour(turn):
        return turn.t._(
            "Has your neighbour signed the paper consent form for the use of their personal "
            "information?\n1. Yes, signed\n2. No")
    return turn.t._(
        "Before we save anything: we keep your name, ID card number, mobile number, township "
        "and the groups you told us, only to sign you up for training, work out your "
        "subsidies and help you find work, and we report them to the labour bureau as the "
        "rules require. We never give them to anyone else. The ID card number and mobile "
        "number are stored encrypted. You can withdraw your consent at any time under "
        "“我的资料”.\n1. I agree\n2. I do not agree")


def ask_confirm(turn: Turn, answers: dict[str, Any]) -> str:
    t = turn.t
    township = answers.get("township_name", "")
    groups = [t._(GROUPS[Group(g)]) for g in answers.get("groups", [])] or [t._("none")]
    lines = [
        t._("Please check:"),
        t._("Name: %(name)s", name=answers["name"]),
        t._("ID card: %(id)s", id=mask_id(answers["id_number"])),
        t._("Mobile: %(phone)s", phone=mask_phone(answers["phone"])),
        t._("Township: %(township)s", township=township),
        t._("Where to work: %(intent)s", intent=t._(INTENTS[WorkIntent(answers["intent"])])),
        t._("Groups: %(groups)s", groups=t.listing(groups)),
        t._("Monthly pension: %(answer)s",
            answer=t._("yes") if answers["pension"] else t._("no")),
        "",
        "1. " + t._("Everything is right: register"),
    ]
    lines += [f"{n}. {t._(label)}" for n, (_, label) in enumerate(CONFIRM_FIELDS, 2)]
    return "\n".join(lines)


# --- the answers ---------------------------------------------------------------------------

def take_name(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    return clean_name(text)


def take_id(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    facts = parse_id_number(text, today=turn.today())
    turn.run(check_id_available, vault=turn.vault, number=facts.number,
             openid=None if _for_neighbour(turn) else turn.openid,
             for_neighbour=_for_neighbour(turn))
    return facts.number


def take_phone(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    return clean_phone(text)


def take_township(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    names = turn.run(townships)
    words = normalize(text)
    n = number_in(words)
    if n is not None and 1 <= n <= len(names):
        chosen = names[n - 1]
    else:
        matches = [t for t in names if words and (words in t.name or words in t.name_en.lower())]
        if len(matches) != 1:
            raise InvalidAnswer(reason="township")
        chosen = matches[0]
    answers["township_name"] = chosen.display_name(turn.t.locale)
    return chosen.code


def take_intent(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    return _choice(text, INTENT_ORDER).value


def take_groups(turn: Turn, text: str, answers: dict[str, Any]) -> list[str]:
    digits = re.findall(r"\d", plain_digits(text))  # "1 3", "1、3", "一和三"
    if not digits:
        raise InvalidAnswer(reason="choice")
    if digits == ["0"]:
        return []
    picked = {int(d) for d in digits}
    if not picked <= set(range(1, len(GROUP_ORDER) + 1)):
        raise InvalidAnswer(reason="choice")
    return [GROUP_ORDER[n - 1].value for n in sorted(picked)]


def take_pension(turn: Turn, text: str, answers: dict[str, Any]) -> bool:
    return _choice(text, (False, True))


def take_consent(turn: Turn, text: str, answers: dict[str, Any]) -> bool | Reply:
    if _choice(text, (True, False)):
        return True
    for_neighbour = _for_neighbour(turn)
    dialogue.forget(turn)
    if for_neighbour:
        return Reply(text=turn.t._(
            "Without your neighbour's signed consent we cannot register them. Reply “代报名” "
            "again once they have signed."))
    return Reply(text=turn.t._(
        "Without your consent we cannot register you, and nothing was saved. Reply “注册” "
        "whenever you change your mind."))


def take_confirm(turn: Turn, text: str, answers: dict[str, Any]) -> bool | Reply:
    n = number_in(normalize(text))
    if n == 1:
        return True
    if n is not None and 2 <= n <= len(CONFIRM_FIELDS) + 1:
        return dialogue.go_to(turn, CONFIRM_FIELDS[n - 2][0], back_to_confirm=True)
    raise InvalidAnswer(reason="choice")


def _choice(text: str, options: tuple):
    n = number_in(normalize(text))
    if n is None or not 1 <= n <= len(options):
        raise InvalidAnswer(reason="choice")
    return options[n - 1]


# --- the end -------------------------------------------------------------------------------

def _form(answers: dict[str, Any]) -> RegistrationForm:
    return RegistrationForm(
        name=answers["name"], id_number=answers["id_number"], phone=answers["phone"],
        township_code=answers["township"], intent=WorkIntent(answers["intent"]),
        groups=frozenset(Group(g) for g in answers["groups"]),
        draws_pension=answers["pension"])


def finish(turn: Turn, answers: dict[str, Any]) -> Reply:
    try:
        if answers.get("mode") == "neighbour":
            return _finish_for_neighbour(turn, answers)
        turn.run(register, vault=turn.vault, form=_form(answers), openid=turn.openid,
                 consent=ConsentHow.WECHAT, channel=Channel.WECHAT, now=turn.now(),
                 today=turn.today())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return Reply(
        text=turn.t._("You are registered, %(name)s! Reply “推荐” for courses that suit you, "
                      "or “课程” for all courses.", name=answers["name"]),
        choices=(Intent("RECOMMEND"), Intent("COURSES")))


def _finish_for_neighbour(turn: Turn, answers: dict[str, Any]) -> Reply:
    code = turn.run(register_neighbour, vault=turn.vault, cadre_openid=turn.openid,
                    form=_form(answers), now=turn.now(), today=turn.today())
    return Reply(text=turn.t._(
        "%(name)s is registered. Their binding code is %(code)s (valid for 30 days). Give it "
        "to them: once they follow this account on their own phone and reply “绑定 %(code)s”, "
        "the record is theirs.", name=answers["name"], code=code))


STEPS = (
    Step("name", ask_name, take_name),
    Step("id_number", ask_id, take_id),
    Step("phone", ask_phone, take_phone),
    Step("township", ask_township, take_township),
    Step("intent", ask_intent, take_intent),
    Step("groups", ask_groups, take_groups),
    Step("pension", ask_pension, take_pension),
    Step("consent", ask_consent, take_consent),
    Step("confirm", ask_confirm, take_confirm),
)

dialogue.declare(Dialogue(name="register", steps=STEPS, finish=finish, explain=explain,
                          confirm_step="confirm"))


def start(turn: Turn, intent: Intent) -> Reply:
    """注册: begin, or say the person is registered already."""
    if turn.person.is_registered:
        return Reply(text=turn.t._(
            "You are registered already. Reply “我的资料” to see or change your details."))
    return dialogue.begin(turn, "register")


def expired(turn: Turn, name: str, mode: str) -> Reply:
    return Reply(text=turn.t._(
        "Sorry, that took too long and the answers were not kept. Let us start again.")
        + "\n" + dialogue.begin(turn, name, mode=mode).text)

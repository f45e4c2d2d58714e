"""Registration as a guided dialogue, one question a message, each with an example; the same
steps serve a cadre registering a neighbour (代报名), with consent given on paper."""

from __future__ import annotations

import logging
import re
from typing import Any

from bot import dialogue, vouchers
from bot.dialogue import Dialogue, Step
from bot.errors import explain
from bot.intents import Intent, normalize, number_in
from bot.replies import Reply
from bot.turn import Turn
from locales import N_
from models.audit import Channel
from models.cadres import register_neighbour
from models.catalogue import Intent as WorkIntent
from models.errors import DomainError, InvalidAnswer
from models.identity import clean_name, parse_id_number, phone_answer
from models.numbers import plain_digits
from models.persons import ConsentHow, Group, HouseholdKind
from models.pii import mask_id, mask_phone
from models.places import ELSEWHERE, PlaceChoices, clean_place, id_region_hint, place_choices
from models.registration import RegistrationForm, check_id_available, register
from vocabulary.labels import (
    GROUP_ORDER,
    GROUPS,
    HOUSEHOLD_KIND_ORDER,
    HOUSEHOLD_KINDS,
    INTENT_ORDER,
    INTENTS,
)

logger = logging.getLogger(__name__)

CONFIRM_FIELDS = (  # what the summary lets a person correct, in its order
    ("name", N_("Change the name")),
    ("id_number", N_("Change the ID card number")),
    ("phone", N_("Change the mobile number")),
    ("township", N_("Change the household registration")),
    ("household_kind", N_("Change the household's kind")),
    ("residence", N_("Change where you live")),
    ("intent", N_("Change where to work")),
    ("job_place", N_("Change where you look for work")),
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
    question = _prefix(turn) + turn.t._(
        "Please write the mobile number, for example: 13812345678")
    if _for_neighbour(turn):
        question += "\n" + turn.t._("If they have no mobile phone, reply “无”: you will be "
                                    "their contact.")
    return question


def elsewhere_words(turn: Turn, choices: PlaceChoices) -> str:
    """“Not in 罗平县”: the answer for a place outside the county."""
    return turn.t._("not in %(county)s", county=choices.county_name(turn.t.locale))


def _township_lines(turn: Turn, choices: PlaceChoices, *, same_as: str | None = None) -> str:
    """The county's townships numbered from 1, "not in the county" after them, and where a
    place can be the same as one given before, 0 for it."""
    t = turn.t
    lines = [f"0. {same_as}"] if same_as else []
    lines += [f"{n}. {r.display_name(t.locale)}" for n, r in enumerate(choices.townships, 1)]
    lines.append(f"{len(choices.townships) + 1}. " + t._(
        "Not in %(county)s", county=choices.county_name(t.locale)))
    return "\n".join(lines)


def _hint(choices: PlaceChoices, answers: dict[str, Any]) -> str | None:
    """Where the ID number was first issued, when that is outside this county: a suggestion
    for the household's place, never the answer (households move, numbers stay)."""
    number = answers.get("id_number")
    place = id_region_hint(number) if number else None
    county = choices.county
    if place is None or (county is not None and place.endswith(county.name)):
        return None
    return place


def ask_township(turn: Turn, answers: dict[str, Any]) -> str:
    choices = turn.run(place_choices)
    question = turn.t._(
        "Which township is the household registered in? Reply with the number or the name:")
    hint = _hint(choices, answers)
    if hint:
        question += "\n" + turn.t._(
            "(The ID card number was first issued in %(place)s. If the household has moved "
            "since, answer as the household register says now.)", place=hint)
    return _prefix(turn) + question + "\n" + _township_lines(turn, choices)


def ask_household_elsewhere(turn: Turn, answers: dict[str, Any]) -> str:
    question = _prefix(turn) + turn.t._(
        "Where is the household registered? Write the province, city and county, for "
        "example: 贵州省盘州市")
    hint = _hint(turn.run(place_choices), answers)
    if hint:
        question += "\n" + turn.t._("Or reply 1 for %(place)s (from the ID card number).",
                                     place=hint)
    return question


def ask_household_kind(turn: Turn, answers: dict[str, Any]) -> str:
    return _prefix(turn) + turn.t._(
        "Is the household registered as rural or urban (户别 in the household register)?\n"
        "1. Rural household (农村户口)\n2. Urban household (城镇户口)\n3. Not sure (you can "
        "add it later under “我的资料”)")


def ask_residence(turn: Turn, answers: dict[str, Any]) -> str:
    same = turn.t._("Same as the household registration") if answers.get("township") else None
    return _prefix(turn) + turn.t._(
        "Where do you live now (常住地)? Reply with the number or the name:") + "\n" + \
        _township_lines(turn, turn.run(place_choices), same_as=same)


def ask_job_place(turn: Turn, answers: dict[str, Any]) -> str:
    same = turn.t._("Same as where you live") if answers.get("residence") else None
    return _prefix(turn) + turn.t._(
        "Where do you look for work (求职就业地)? Reply with the number or the name:") + \
        "\n" + _township_lines(turn, turn.run(place_choices), same_as=same)


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
        "Before we save anything: we keep your name, ID card number, mobile number, where your "
        "household is registered and its kind, where you live and look for work, and the "
        "groups you told us, only to sign you up for training, work out your "
        "subsidies and help you find work, and we report them to the labour bureau as the "
        "rules require. We never give them to anyone else. The ID card number and mobile "
        "number are stored encrypted. You can withdraw your consent at any time under "
        "“我的资料”.\n1. I agree\n2. I do not agree")


def ask_confirm(turn: Turn, answers: dict[str, Any]) -> str:
    t = turn.t
    township = answers.get("township_name", "")
    groups = [t._(GROUPS[Group(g)]) for g in answers.get("groups", [])] or [t._("none")]
    kind = answers.get("household_kind")
    lines = [
        t._("Please check:"),
        t._("Name: %(name)s", name=answers["name"]),
        t._("ID card: %(id)s", id=mask_id(answers["id_number"])),
        t._("Mobile: %(phone)s", phone=mask_phone(answers["phone"]) if answers["phone"]
            else t._("none (the village cadre is the contact)")),
        t._("Household registration: %(place)s", place=township),
        t._("Household: %(kind)s",
            kind=t._(HOUSEHOLD_KINDS[HouseholdKind(kind) if kind else None])),
        t._("Lives in: %(place)s", place=answers.get("residence_name", "")),
        t._("Where to work: %(intent)s", intent=t._(INTENTS[WorkIntent(answers["intent"])])),
        t._("Looks for work in: %(place)s", place=answers.get("job_place_name", "")),
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


def take_phone(turn: Turn, text: str, answers: dict[str, Any]) -> str | None:
    # “无” (no phone) is taken only from a cadre registering a neighbour (models.identity).
    return phone_answer(text, by_cadre=_for_neighbour(turn))


ELSEWHERE_WORDS = {"外地", "县外", "外县", "不在本县", "elsewhere", "outside"}


def _take_place(turn: Turn, text: str, answers: dict[str, Any], step: str,
                same_as: str | None = None) -> str:
    """A township of the county (number or part of its name), “not in the county” (the number
    after the list, or 外地), or 0 for the same place as the step ``same_as`` answered. Keeps
    the place's name for the summary under ``<step>_name``."""
    choices = turn.run(place_choices)
    names = choices.townships
    words = normalize(text)
    n = number_in(words)
    if n == 0 and same_as and answers.get(same_as):
        answers[f"{step}_name"] = answers.get(f"{same_as}_name", "")
        return answers[same_as]
    if n == len(names) + 1 or words in ELSEWHERE_WORDS:
        answers[f"{step}_name"] = elsewhere_words(turn, choices)
        return ELSEWHERE
    if n is not None and 1 <= n <= len(names):
        chosen = names[n - 1]
    else:
        matches = [t for t in names if words and (words in t.name or words in t.name_en.lower())]
        if len(matches) != 1 or n is not None:
            raise InvalidAnswer(reason="township")
        chosen = matches[0]
    answers[f"{step}_name"] = chosen.display_name(turn.t.locale)
    return chosen.code


def take_township(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    return _take_place(turn, text, answers, "township")


def take_household_elsewhere(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    hint = _hint(turn.run(place_choices), answers)
    place = hint if hint and number_in(normalize(text)) == 1 else clean_place(text)
    answers["township_name"] = turn.t._("elsewhere: %(place)s", place=place)
    return place


def household_is_elsewhere(answers: dict[str, Any]) -> bool:
    return answers.get("township") == ELSEWHERE


KIND_WORDS = (("非农", HouseholdKind.URBAN), ("农", HouseholdKind.RURAL),
              ("城", HouseholdKind.URBAN), ("rural", HouseholdKind.RURAL),
              ("urban", HouseholdKind.URBAN))
UNSURE_WORDS = ("不清楚", "不知道", "不确定", "not sure", "unsure", "don't know")


def take_household_kind(turn: Turn, text: str, answers: dict[str, Any]) -> str | None:
    """1 rural, 2 urban, 3 not sure; or the words (农村, 城镇, 不清楚), typed or spoken."""
    words = normalize(text)
    if number_in(words) is None:
        if any(w in words for w in UNSURE_WORDS):
            return None
        for word, kind in KIND_WORDS:
            if word in words:
                return kind.value
    kind = _choice(text, HOUSEHOLD_KIND_ORDER)
    return kind.value if kind else None


def take_residence(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    return _take_place(turn, text, answers, "residence", same_as="township")


def take_job_place(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    return _take_place(turn, text, answers, "job_place", same_as="residence")


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
    elsewhere = household_is_elsewhere(answers)
    kind = answers.get("household_kind")
    return RegistrationForm(
        name=answers["name"], id_number=answers["id_number"], phone=answers["phone"],
        township_code=None if elsewhere else answers["township"],
        household_elsewhere=answers.get("household_elsewhere") if elsewhere else None,
        household_kind=HouseholdKind(kind) if kind else None,
        residence=answers["residence"], job_place=answers["job_place"],
        intent=WorkIntent(answers["intent"]),
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
    return vouchers.offer_chosen_course(turn, Reply(
        text=turn.t._("You are registered, %(name)s! Reply “推荐” for courses that suit you, "
                      "or “课程” for all courses.", name=answers["name"]),
        choices=(Intent("RECOMMEND"), Intent("COURSES"))))


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
    Step("household_elsewhere", ask_household_elsewhere, take_household_elsewhere,
         when=household_is_elsewhere),
    Step("household_kind", ask_household_kind, take_household_kind),
    Step("residence", ask_residence, take_residence),
    Step("intent", ask_intent, take_intent),
    Step("job_place", ask_job_place, take_job_place),
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
    return dialogue.take_up(turn, "register") or dialogue.begin(turn, "register")


def expired(turn: Turn, name: str, mode: str) -> Reply:
    return Reply(text=turn.t._(
        "Sorry, that took too long and the answers were not kept. Let us start again.")
        + "\n" + dialogue.begin(turn, name, mode=mode).text)

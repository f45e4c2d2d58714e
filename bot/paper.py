"""People without a smartphone, in the chat (issue 17): a cadre claims a voucher for a neighbour
they registered (代领券), once the neighbour has agreed, and gets the link to the paper card to
print; staff who scan a paper card are asked for the ID card's last characters before it is
redeemed."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from bot import dialogue
from bot.dialogue import Dialogue, Step
from bot.errors import explain
from bot.general import with_menu
from bot.intents import Intent, normalize, number_in
from bot.replies import Reply
from bot.turn import Turn
from models import links
from models.audit import Channel
from models.courses import get_course
from models.errors import DomainError, IdCheckFailed, InvalidAnswer
from models.paper import (
    ID_CHECK_CHARS,
    claim_for_neighbour,
    courses_for_neighbour,
    id_shown_on_paper,
    neighbours_to_claim_for,
    paper_codes,
    paper_vouchers_of,
    redeem_paper_voucher,
    show_paper_voucher,
)
from models.persons import ConsentHow
from models.vouchers import Voucher, VoucherStatus
from runtime import local_counts
from vocabulary.labels import VOUCHER_STATUSES

logger = logging.getLogger(__name__)

CLAIM = "claim_for_neighbour"
ID_CHECK = "paper_id_check"
# Wrong ID card characters in a row before staff must scan the card again.
ID_CHECK_TRIES = 3
# Wrong ID checks a paper voucher may have in a day, over every scan: a rescan must not give a
# guesser three more of the 10,000 endings. Then staff are sent to the cadre or the bureau.
ID_CHECK_FAILS_A_DAY = 5
ID_CHECK_FAILS = "paper ID checks"
# The cadre's list of their neighbours' vouchers (each with its link) in one message.
VOUCHERS_LISTED = 5


def card_link(turn: Turn, voucher: Voucher) -> str:
    token = links.sign(turn.secret_key, links.CARD_PURPOSE,
                       {"v": voucher.id, "c": voucher.claimed_by_id})
    return f"{turn.base_url}/p/paper-voucher/{token}"


# --- the cadre: 代领券 ----------------------------------------------------------------------

def start_claim(turn: Turn, intent: Intent) -> Reply:
    try:
        neighbours = turn.run(neighbours_to_claim_for, cadre_openid=turn.openid)
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    if not neighbours:
        return Reply(text=turn.t._(
            "You have no registered neighbour without WeChat to claim a voucher for. Register "
            "them first: reply “代报名”."))
    return dialogue.begin(turn, CLAIM, answers={
        # The region only: the last characters are what staff check at the class (not in chats).
        "neighbours": [[p.id, p.name, id_shown_on_paper(p.id_masked)] for p in neighbours]})


def _for(turn: Turn, answers: dict[str, Any]) -> str:
    return turn.t._("(For %(name)s) ", name=answers.get("neighbour_name", ""))


def ask_neighbour(turn: Turn, answers: dict[str, Any]) -> str:
    lines = [turn.t._("Claim a training voucher for a neighbour you registered. Whom is it "
                      "for? Reply with the number:")]
    lines += [f"{n}. {name} {masked}" for n, (_, name, masked) in
              enumerate(answers["neighbours"], 1)]
    lines.append(turn.t._("(Reply “取消” to stop at any time.)"))
    return "\n".join(lines)


def take_neighbour(turn: Turn, text: str, answers: dict[str, Any]) -> int:
    n = number_in(normalize(text))
    if n is None or not 1 <= n <= len(answers["neighbours"]):
        raise InvalidAnswer(reason="choice")
    person_id, name, _ = answers["neighbours"][n - 1]
    answers["neighbour_name"] = name
    answers["courses"] = _course_choices(turn, person_id, None)
    return person_id


def _course_choices(turn: Turn, person_id: int, text: str | None) -> list[list]:
    t = turn.t
    courses = turn.run(courses_for_neighbour, cadre_openid=turn.openid, person_id=person_id,
                       text=text, today=turn.today())
    return [[c.id, t._("%(course)s · %(institution)s · %(township)s · %(start)s–%(end)s",
                       course=c.display_name(t.locale),
                       institution=c.institution.display_name(t.locale),
                       township=c.township.display_name(t.locale),
                       start=t.short_day(c.starts_on), end=t.short_day(c.ends_on))]
            for c in courses]


def ask_course(turn: Turn, answers: dict[str, Any]) -> str:
    t, choices = turn.t, answers["courses"]
    if not choices:
        return _for(turn, answers) + t._(
            "No open course matches “%(text)s”. Write another word to search, for example 电工.",
            text=answers.get("search", ""))
    lines = [_for(turn, answers) + t._(
        "Which course? Reply with its number, or write a word to search (for example 电工):")]
    lines += [f"{n}. {label}" for n, (_, label) in enumerate(choices, 1)]
    return "\n".join(lines)


def take_course(turn: Turn, text: str, answers: dict[str, Any]) -> int | Reply:
    words = normalize(text)
    n = number_in(words)
    if n is not None:
        if not 1 <= n <= len(answers["courses"]):
            raise InvalidAnswer(reason="choice")
        return answers["courses"][n - 1][0]
    search = text.strip()[:30]
    return dialogue.begin(turn, CLAIM, step="course", answers={
        **answers, "search": search,
        "courses": _course_choices(turn, answers["neighbour"], search)})


def ask_consent(turn: Turn, answers: dict[str, Any]) -> str:
    t = turn.t
    course = turn.run(get_course, course_id=answers["course"])
    name = answers["neighbour_name"]
    return "\n".join([
        t._("Before claiming, read this to %(name)s:", name=name),
        t._("“The village cadre will claim a training voucher for you for %(course)s at "
            "%(institution)s, from %(start)s to %(end)s, at %(place)s. Your name and ID card "
            "number go to the institution for your enrolment and to the labour bureau for the "
            "subsidy. On the first day bring your ID card and the paper voucher. You may say "
            "no.”", course=course.display_name(t.locale),
            institution=course.institution.display_name(t.locale),
            start=t.day(course.starts_on), end=t.day(course.ends_on),
            place=f"{course.township.display_name(t.locale)} {course.address}"),
        t._("How did %(name)s agree?", name=name),
        "1. " + t._("They signed the paper consent form"),
        "2. " + t._("I read this to them and they agreed"),
        "3. " + t._("They do not agree"),
    ])


def take_consent(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    n = number_in(normalize(text))
    if n not in (1, 2, 3):
        raise InvalidAnswer(reason="choice")
    # No consent is an answer too: the claim is refused by the domain, which records nothing.
    return {1: ConsentHow.PAPER.value, 2: ConsentHow.READ_ALOUD.value, 3: ""}[n]


def finish_claim(turn: Turn, answers: dict[str, Any]) -> Reply:
    t = turn.t
    try:
        voucher = turn.run(claim_for_neighbour, cadre_openid=turn.openid,
                           person_id=answers["neighbour"], course_id=answers["course"],
                           consent=ConsentHow(answers["consent"]) if answers["consent"] else None,
                           channel=Channel.WECHAT, now=turn.now(), today=turn.today())
    except DomainError as error:
        return Reply(text=_for(turn, answers) + explain(turn, error))
    return Reply(text=t._(
        "Voucher %(number)s is claimed for %(name)s. Print the paper voucher from this link (it "
        "is for you only, valid for 30 days) and give it to them:\n%(url)s\nOn the first day "
        "they bring it with their ID card to the institution; staff scan it and check the ID "
        "card. (Village cadre menu, 5, lists your neighbours' vouchers.)",
        number=voucher.number, name=answers["neighbour_name"], url=card_link(turn, voucher)))


def claim_expired(turn: Turn, name: str, mode: str) -> Reply:
    return with_menu(turn, turn.t._("That took too long: nothing was claimed. Reply “代领券” to "
                                    "start again."))


dialogue.declare(Dialogue(
    name=CLAIM,
    steps=(Step("neighbour", ask_neighbour, take_neighbour),
           Step("course", ask_course, take_course),
           Step("consent", ask_consent, take_consent)),
    finish=finish_claim, explain=explain))


def neighbours_vouchers(turn: Turn, intent: Intent) -> Reply:
    """The vouchers this cadre claimed for neighbours, the card's link with each still to use."""
    try:
        vouchers = turn.run(paper_vouchers_of, cadre_openid=turn.openid)
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    t = turn.t
    if not vouchers:
        return Reply(text=t._("You have claimed no voucher for a neighbour yet. Reply “代领券”."))
    lines = [t._("Vouchers you claimed for neighbours:")]
    for n, voucher in enumerate(vouchers[:VOUCHERS_LISTED], 1):
        lines.append(f"{n}. {voucher.person.name or '—'} · "
                     f"{voucher.course.display_name(t.locale)}")
        lines.append("   " + t._("%(number)s · %(status)s", number=voucher.number,
                                 status=t._(VOUCHER_STATUSES[voucher.status])))
        if voucher.status is VoucherStatus.ISSUED:
            lines.append("   " + card_link(turn, voucher))
    if len(vouchers) > VOUCHERS_LISTED:
        lines.append(t._("…and %(count)s earlier ones.", count=len(vouchers) - VOUCHERS_LISTED))
    return Reply(text="\n".join(lines))


# --- staff: a paper card scanned with 核销 --------------------------------------------------

def scan_card(turn: Turn, intent: Intent) -> Reply:
    """PAPER_REDEEM: staff scanned a paper card. Only staff of the class's institution learn
    whom it names; then they are asked for the ID card."""
    code = intent.arg or ""
    try:
        shown = turn.run(show_paper_voucher, codes=paper_codes(turn.secret_key), code=code,
                         staff_openid=turn.openid)
    except DomainError as error:
        return Reply(text=explain(turn, error))
    course = shown.course_name_en if turn.t.locale.startswith("en") else shown.course_name
    return dialogue.begin(turn, ID_CHECK, answers={
        "code": code, "number": shown.number, "holder": shown.holder, "id": shown.id_shown,
        "course": course, "tries": 0})


def ask_id_last(turn: Turn, answers: dict[str, Any]) -> str:
    t = turn.t
    return "\n".join([
        t._("Paper voucher %(number)s: %(name)s, ID card %(id)s, %(course)s.",
            number=answers["number"], name=answers["holder"], id=answers["id"],
            course=answers["course"]),
        t._("A paper voucher's code never changes, so check the ID card: ask for it, compare "
            "the name, and reply with the last %(n)s characters of its number. (Reply “取消” to "
            "stop.)", n=ID_CHECK_CHARS),
    ])


def take_id_last(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    typed = normalize(text).upper().replace(" ", "")
    if len(typed) != ID_CHECK_CHARS or not all(c.isdigit() or c == "X" for c in typed):
        raise InvalidAnswer(reason="id_last", n=ID_CHECK_CHARS)
    return typed


def _failed_checks_key(turn: Turn, code: str) -> str:
    voucher = code.split(":")[1] if code.count(":") >= 2 else code
    return f"peixun:paper-id-fails:{voucher}:{turn.today().isoformat()}"


def _too_many_failed_checks(turn: Turn, code: str) -> bool:
    try:
        fails = int(turn.kv.get(_failed_checks_key(turn, code)) or 0)
    except RedisError:
        fails = 0  # counted in this process while Redis is lost: one_more refuses there
    return fails >= ID_CHECK_FAILS_A_DAY


def finish_id_check(turn: Turn, answers: dict[str, Any]) -> Reply:
    t = turn.t
    if _too_many_failed_checks(turn, answers["code"]):
        return with_menu(turn, t._(
            "This paper voucher has had too many wrong ID card checks today: nothing was "
            "redeemed. Ask the village cadre who claimed it, or the labour bureau, to check it."))
    try:
        done = turn.run(redeem_paper_voucher, codes=paper_codes(turn.secret_key),
                        code=answers["code"], staff_openid=turn.openid,
                        id_last=answers["id_last"], channel=Channel.WECHAT, now=turn.now())
    except IdCheckFailed as error:
        fails = local_counts.one_more(turn.kv, _failed_checks_key(turn, answers["code"]),
                                      24 * 3600, ID_CHECK_FAILS)
        if fails >= ID_CHECK_FAILS_A_DAY:
            return with_menu(turn, t._(
                "This paper voucher has had too many wrong ID card checks today: nothing was "
                "redeemed. Ask the village cadre who claimed it, or the labour bureau, to check "
                "it."))
        tries = answers.get("tries", 0) + 1
        if tries >= ID_CHECK_TRIES:
            return Reply(text=explain(turn, error) + "\n" + t._(
                "Nothing was redeemed. Check the ID card and scan the paper voucher again."))
        again = dialogue.begin(turn, ID_CHECK, step="id_last",
                               answers={**answers, "tries": tries})
        return Reply(text=explain(turn, error) + "\n" + again.text)
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return Reply(text="\n".join([
        t._("Enrolled ✔ The ID card was checked."),
        t._("Name: %(name)s", name=done.holder_name),
        t._("Course: %(course)s", course=answers["course"]),
        t._("Voucher: %(number)s", number=done.number),
    ]))


def check_expired(turn: Turn, name: str, mode: str) -> Reply:
    return with_menu(turn, turn.t._("That took too long: nothing was redeemed. Scan the paper "
                                    "voucher again."))


dialogue.declare(Dialogue(
    name=ID_CHECK, steps=(Step("id_last", ask_id_last, take_id_last),),
    finish=finish_id_check, explain=explain))

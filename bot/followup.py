"""Follow-up after training in the chat (LP2021 二; the county's rule follow_up, on the model of
DX2020 三(六)).

The worker sends the question (bot/notices.py words it) when the person is not in a dialogue
nor was just shown a numbered list, and, once it is sent, makes its five answers what the
person's next digit means, exactly as any numbered list does (the conversation state's
choices; they last ANSWER_DAYS). The digit records where they work, then
the bot asks for a rating 1–5 (digits again), then for one optional sentence (a one-step
dialogue; 跳过 / skip, or 取消, ends it). A wrong digit or a word the bot does not know, while
the question is the last thing asked, asks it again and changes nothing. If the state is lost
(Redis) a digit with no list pending brings the open question back rather than guessing.
After an answer the bot repeats it in words; ``回访`` shows the open question again (or the
one answered in the last days, to change the answer); ``回访 <voucher number> <digit>`` is a
cadre's or a staff member's record of a visit.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from redis import Redis
from wechatpy.messages import BaseMessage, TextMessage, VoiceMessage

from bot import dialogue
from bot import state as conversation
from bot.dialogue import Dialogue, Step
from bot.errors import explain
from bot.general import with_menu
from bot.intents import Intent, normalize, number_in
from bot.replies import Reply
from bot.turn import Turn
from locales import N_, Translator
from models.audit import Channel
from models.errors import DomainError
from models.followups import (
    ANSWER_DAYS,
    WORK_BY_DIGIT,
    FollowUpRefused,
    WorkAfter,
    answer_work,
    course_of,
    followup_to_show,
    give_opinion,
    open_followup,
    rate_training,
    record_visit,
)

logger = logging.getLogger(__name__)

WORK_LABELS = {
    WorkAfter.LOCAL: N_("Working locally (in the county)"),
    WorkAfter.PROVINCE: N_("Working elsewhere in Yunnan"),
    WorkAfter.OUTSIDE: N_("Working outside Yunnan"),
    WorkAfter.SELF_EMPLOYED: N_("Self-employed or flexible work"),
    WorkAfter.NOT_YET: N_("Not working yet"),
}
RATING_LABELS = {1: N_("poor"), 3: N_("fair"), 5: N_("very good")}
SKIP_WORDS = {"跳过", "不用", "没有", "无", "skip", "no", "none"}
OPINION = "followup_opinion"
WORK, RATING = "FOLLOWUP_WORK", "FOLLOWUP_RATING"
# What a message means while the question is pending, other than one of its digits.
MISREAD = ("BAD_CHOICE", "UNKNOWN", "NO_MORE")


# --- the question, as the worker sends it --------------------------------------------------

def work_options(t: Translator) -> str:
    return "\n".join(f"{n}. {t._(WORK_LABELS[work])}" for n, work in WORK_BY_DIGIT.items())


def question(t: Translator, values: dict[str, Any]) -> str:
    """The notice ``followup_question``, in the person's language (``course`` already in it)."""
    ended = t.day(date.fromisoformat(values["ended_on"]))
    return t._("“%(course)s” ended on %(day)s. Where do you work since the training? Reply "
               "with a number:", course=values["course"], day=ended) + "\n" + work_options(t)


def template_fields(t: Translator, values: dict[str, Any]) -> dict[str, str]:
    """The question as the account's notice template, outside the 48-hour window: the person
    answers by writing the digit in the chat, which opens the window again."""
    short = "; ".join(f"{n} {t._(WORK_LABELS[work])}" for n, work in WORK_BY_DIGIT.items())
    return {
        "first": t._("A question about your work since the training"),
        "keyword1": values["course"],
        "keyword2": t.day(date.fromisoformat(values["ended_on"])),
        "remark": t._("Reply in this chat with a number: %(answers)s", answers=short),
    }


def work_choices(followup_id: int) -> tuple[Intent, ...]:
    return tuple(Intent(WORK, f"{followup_id}:{work.value}") for work in WORK_BY_DIGIT.values())


def rating_choices(followup_id: int) -> tuple[Intent, ...]:
    return tuple(Intent(RATING, f"{followup_id}:{n}") for n in range(1, 6))


def may_ask(kv: Redis, openid: str, now: datetime) -> bool:
    """Whether the question may be sent now: not while the person is in a dialogue or was just
    shown a numbered list (their next digit means that list; the worker waits a few minutes)."""
    return not conversation.load(kv, openid).is_busy(now.timestamp())


def await_answer(kv: Redis, openid: str, followup_id: int, now: datetime) -> bool:
    """The question has been sent: its digits become what the person's next digit means,
    unless the person was shown something else meanwhile (a list, a dialogue): then that stays,
    and ``回访``, or a digit with no list pending, brings the question back. A dialogue that
    timed out is dropped rather than kept ANSWER_DAYS (it may hold an ID number, sealed).
    True when the question's digits were set."""
    def take(state: conversation.State) -> int | None:
        if state.is_busy(now.timestamp()):
            return None
        state.choices, state.more, state.dialogue = list(work_choices(followup_id)), None, None
        state.shown_at = now.timestamp()
        return ANSWER_DAYS * 24 * 3600
    return conversation.update(kv, openid, take)


# --- the answers ---------------------------------------------------------------------------

def _split(arg: str | None) -> tuple[int, str]:
    followup_id, _, value = (arg or "0:").partition(":")
    return int(followup_id or 0), value


def answer(turn: Turn, intent: Intent) -> Reply:
    followup_id, value = _split(intent.arg)
    try:
        turn.run(answer_work, followup_id=followup_id, person_id=turn.person.id,
                 work=WorkAfter(value), channel=Channel.WECHAT, now=turn.now())
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    t = turn.t
    noted = t._("Noted: %(work)s. To change it, reply “回访”.",
                work=t._(WORK_LABELS[WorkAfter(value)]))
    return Reply(text=noted + "\n" + ask_rating(t), choices=rating_choices(followup_id))


def ask_rating(t: Translator) -> str:
    scale = "\n".join(f"{n}. {t._(RATING_LABELS[n])}" if n in RATING_LABELS else f"{n}."
                      for n in range(1, 6))
    return t._("How good was the training? Reply with a number from 1 to 5:") + "\n" + scale


def rate(turn: Turn, intent: Intent) -> Reply:
    followup_id, value = _split(intent.arg)
    try:
        turn.run(rate_training, followup_id=followup_id, person_id=turn.person.id,
                 rating=int(value or 0), channel=Channel.WECHAT, now=turn.now())
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    return dialogue.begin(turn, OPINION, answers={"followup": followup_id})


def again(turn: Turn, intent: Intent) -> Reply:
    """A wrong digit or an unknown word while the question is pending: ask it again."""
    kind, followup_id = _split(intent.arg)[1], _split(intent.arg)[0]
    t = turn.t
    if kind == "rating":
        return Reply(text=t._("Please reply with a number from 1 to 5.") + "\n" + ask_rating(t),
                     choices=rating_choices(followup_id))
    return Reply(text=t._("Please reply with one of the numbers 1 to 5, or “菜单” for the "
                          "menu.") + "\n" + _question_of(turn, followup_id),
                 choices=work_choices(followup_id))


def _question_of(turn: Turn, followup_id: int) -> str:
    course = turn.run(course_of, followup_id=followup_id)
    return question(turn.t, {"course": course.display_name(turn.t.locale),
                             "ended_on": course.ends_on.isoformat()})


def reroute(turn: Turn, message: BaseMessage, intent: Intent) -> Intent:
    """While the question is the last thing asked, a wrong answer asks it again; a digit with
    no list pending (the state was lost) brings back a question asked in the last days."""
    pending = next((c for c in turn.state.choices if c.name in (WORK, RATING)), None)
    if pending is not None:
        if intent.name in MISREAD:
            followup_id, _ = _split(pending.arg)
            kind = "rating" if pending.name == RATING else "work"
            return Intent("FOLLOWUP_AGAIN", f"{followup_id}:{kind}")
        return intent
    if turn.state.choices or turn.state.more or not _is_digit(message):
        return intent
    followup = turn.run(open_followup, person_id=turn.person.id, now=turn.now())
    return Intent("FOLLOWUP_AGAIN", f"{followup.id}:work") if followup else intent


def _is_digit(message: BaseMessage) -> bool:
    if isinstance(message, TextMessage):
        text = message.content
    elif isinstance(message, VoiceMessage):
        text = message.recognition
    else:
        return False
    return number_in(normalize(text or "")) is not None


# --- the optional sentence -----------------------------------------------------------------

def _ask_opinion(turn: Turn, answers: dict[str, Any]) -> str:
    return turn.t._("Thank you! Anything to tell us about the training? Write one sentence, "
                    "or reply “跳过” to skip.")


def _take_opinion(turn: Turn, text: str, answers: dict[str, Any]) -> str:
    if normalize(text) in SKIP_WORDS:
        return ""
    sentence = " ".join(text.split())
    if len(sentence) > 200:
        raise FollowUpRefused(reason="opinion_too_long", limit=200)
    return sentence


def _finish(turn: Turn, answers: dict[str, Any]) -> Reply:
    if answers.get("opinion"):
        try:
            turn.run(give_opinion, followup_id=int(answers["followup"]),
                     person_id=turn.person.id, opinion=answers["opinion"],
                     channel=Channel.WECHAT, now=turn.now())
        except DomainError as error:
            return with_menu(turn, explain(turn, error))
    return thanks(turn)


def thanks(turn: Turn) -> Reply:
    return with_menu(turn, turn.t._("Thank you for your answers; they help the county "
                                    "improve its training."))


def opinion_skipped(turn: Turn) -> Reply:
    """取消 at the sentence: the answers given so far stay; there was nothing else to keep."""
    return thanks(turn)


def opinion_expired(turn: Turn, name: str, mode: str) -> Reply:
    return with_menu(turn, turn.t._("Your answers about the training are kept; the chance to "
                                    "add a sentence has passed."))


dialogue.declare(Dialogue(name=OPINION, steps=(Step("opinion", _ask_opinion, _take_opinion),),
                          finish=_finish, explain=explain))


# --- 回访: the open question again, or a visitor's record ----------------------------------

def followup_word(turn: Turn, intent: Intent) -> Reply:
    if intent.arg:
        return _record_visit(turn, intent.arg)
    followup = turn.run(followup_to_show, person_id=turn.person.id, now=turn.now())
    if followup is None:
        return with_menu(turn, turn.t._(
            "There is no follow-up question waiting for you. Cadres and staff record a visit "
            "with: 回访 <voucher number> <number 1–5>"))
    text = _question_of(turn, followup.id)
    if followup.work is not None:
        text = turn.t._("Your answer so far: %(work)s. To change it, reply with another "
                        "number.", work=turn.t._(WORK_LABELS[followup.work])) + "\n" + text
    return Reply(text=text, choices=work_choices(followup.id))


def _record_visit(turn: Turn, arg: str) -> Reply:
    t = turn.t
    number, _, rest = arg.strip().partition(" ")
    digit = number_in(normalize(rest))
    if not number or digit not in WORK_BY_DIGIT:
        return Reply(text=t._("Write: 回访 <voucher number> <number>, for example 回访 "
                              "PX2026000012 1. The numbers:") + "\n" + work_options(t))
    try:
        visit = turn.run(record_visit, visitor_openid=turn.openid, number=number,
                         work=WORK_BY_DIGIT[digit],
                         channel=Channel.WECHAT, now=turn.now())
    except DomainError as error:
        return Reply(text=explain(turn, error))
    return Reply(text=t._("Recorded for %(name)s (%(number)s, %(months)s-month follow-up): "
                          "%(work)s.", name=visit.trainee_name or "-",
                          number=visit.voucher_number, months=visit.followup.round_months,
                          work=t._(WORK_LABELS[visit.followup.work])))

"""The intent table, and one turn from message to reply."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from wechatpy.messages import BaseMessage, ImageMessage, TextMessage, VoiceMessage

from bot import (
    app_link,
    attendance,
    cadre,
    courses,
    dialogue,
    followup,
    general,
    jobs,
    paper,
    profile,
    registration,
    screens,
    subsidy,
    understanding,
    vouchers,
)
from bot.general import with_menu
from bot.intents import Intent, read, top_level_word
from bot.replies import SILENCE, Reply
from bot.turn import Turn
from models.courses import course_words

logger = logging.getLogger(__name__)

Handler = Callable[[Turn, Intent], Reply]

HANDLERS: dict[str, Handler] = {
    "FOLLOW": cadre.follow,
    "SCENE": cadre.scene,
    "UNFOLLOW": general.unfollow,
    "HELP": general.show_help,
    "UNKNOWN": lambda turn, intent: understand(turn, intent),
    "HUMAN": general.human,
    general.ASK_FIRST: general.confirm_chosen,
    "UNHEARD": general.not_heard,
    "UNSUPPORTED": general.unsupported,
    "BAD_CHOICE": general.bad_choice,
    "NO_MORE": general.no_more,
    "LANGUAGE": general.choose_language,
    "SET_LANGUAGE": general.change_language,
    "LOCATION": courses.location,
    "COURSES": courses.all_courses,
    "COURSES_PAGE": courses.next_page,
    "SEARCH": courses.search,
    "FREE_COURSES": courses.free_courses,
    "RECOMMEND": courses.recommend,
    "CATEGORIES": courses.categories,
    "CATEGORY": courses.category,
    "COURSE": courses.course_details,
    "REGISTER": registration.start,
    "PROFILE": profile.show_profile,
    "PROFILE_EDIT": profile.edit,
    "CADRE": cadre.cadre_menu,
    "CADRE_QR": cadre.referral_code,
    "NEIGHBOUR": cadre.register_neighbour,
    "CADRE_FIGURES": cadre.figures,
    "PROXY_CLAIM": paper.start_claim,
    "PAPER_VOUCHERS": paper.neighbours_vouchers,
    "PAPER_REDEEM": paper.scan_card,
    "BIND": cadre.bind,
    "CLAIM": vouchers.claim,
    "MY_VOUCHERS": vouchers.my_vouchers,
    "VOUCHER": vouchers.voucher_details,
    "CANCEL_VOUCHER": vouchers.cancel,
    "REDEEM": vouchers.redeem,
    "COMPLETE": vouchers.complete_course,
    "UNDO_REDEEM": vouchers.undo,
    "CHECKIN": attendance.scan,
    "LOCATION_SENT": attendance.location_message,
    "MY_ATTENDANCE": attendance.my_record,
    "OPEN_CLASS": attendance.open_class,
    "ROLL_CALL": attendance.call_roll,
    "HEADCOUNT": attendance.count_heads,
    "MARK_PRESENT": attendance.mark_present,
    "MARK_ABSENT": attendance.mark_absent,
    "CONFIRM_SCREEN": screens.confirm,
    "SUBSIDY": subsidy.explain_subsidies,
    "JOBS": jobs.list_openings,
    "JOB": jobs.opening_details,
    "UNSUBSCRIBE": jobs.stop_broadcasts,
    "UNSUBSCRIBE_OR_CANCEL": vouchers.unsubscribe_or_cancel,
    "CANCEL_BOOKING": vouchers.cancel_booking,
    "SUBSCRIBE": jobs.resume_broadcasts,
    "APP_CODE": app_link.link_code,
    "FOLLOWUP": followup.followup_word,
    "FOLLOWUP_WORK": followup.answer,
    "FOLLOWUP_RATING": followup.rate,
    "FOLLOWUP_AGAIN": followup.again,
}

Ending = tuple[Callable[[Turn], Reply], Callable[[Turn, str, str], Reply]]

# How a dialogue ends on 取消 and on timeout, where not as registration's (nothing kept, start
# again): the follow-up's optional sentence keeps the answers given before it.
ENDINGS: dict[str, Ending] = {
    followup.OPINION: (followup.opinion_skipped, followup.opinion_expired),
    paper.CLAIM: (general.cancelled, paper.claim_expired),
    paper.ID_CHECK: (general.cancelled, paper.check_expired)}

# Messages that are typed or spoken: inside a dialogue they answer its question.
TYPED = (TextMessage, VoiceMessage)
# What leaves a dialogue as it is: a location report, an unfollow.
PASSES_BY = ("LOCATION", "UNFOLLOW")


def respond(turn: Turn, message: BaseMessage) -> Reply:
    intent = read(message, turn.state.choices, turn.state.more)
    if intent is None:
        return SILENCE
    turn.meet()
    note, paused = "", False
    if dialogue.is_active(turn):
        typed = _typed(message) if isinstance(message, TYPED) else ""
        # A top-level word is read before the dialogue takes the text as its answer.
        word = top_level_word(typed) if typed else None
        if typed and word is None:
            on_cancel, on_timeout = _ending(turn)
            return _kept(turn, dialogue.answer(turn, typed, on_cancel=on_cancel,
                                               on_timeout=on_timeout))
        if isinstance(message, ImageMessage) and dialogue.takes_photo(turn):
            dialogue.attach_photo(turn, message.media_id)
            return _kept(turn, Reply(text=turn.t._("Photo received.")))
        if intent.name not in PASSES_BY:
            intent = word or intent
            if _takes_up_again(turn, intent):
                intent = Intent("RESUME")
            else:  # a menu tap, a scan, a top-level word
                note, paused = _step_aside(turn)
    elif dialogue.is_paused(turn) and _takes_up_again(turn, intent):
        intent = Intent("RESUME")
    intent = followup.reroute(turn, message, intent)
    handler = HANDLERS.get(intent.name, general.not_understood)
    logger.debug("intent %s", intent.name)
    reply = handler(turn, intent)
    if reply.text and note:
        reply = replace(reply, text=note + "\n\n" + reply.text)
    if reply.text and paused and dialogue.is_paused(turn):
        reply = replace(reply, text=reply.text + "\n\n" + turn.t._(
            "(Your unfinished answers are kept for %(minutes)s minutes: reply “继续” to go back "
            "to the question, or “取消” to stop.)", minutes=turn.dialogue_seconds // 60))
    return reply if reply is SILENCE else _kept(turn, reply)


def _kept(turn: Turn, reply: Reply) -> Reply:
    turn.remember(reply)
    return reply


def _ending(turn: Turn) -> Ending:
    """How the current dialogue ends on 取消 and on timeout."""
    state = turn.state.dialogue or {}
    name, mode = state.get("name", ""), state.get("mode", "self")
    current = dialogue.current(turn)
    if current is not None and current.unchanged is not None:
        # A confirmation: whatever ends it, nothing was done, and the person is told so.
        note = current.unchanged(turn, dialogue.answers_of(turn))
        return (lambda t: with_menu(t, note),
                lambda t, _name, _mode: with_menu(t, t.t._("That question has expired.") + " "
                                                  + note))
    if name in ENDINGS:
        return ENDINGS[name]
    if name == "register":  # say how to come back
        word = "代报名" if mode == "neighbour" else "注册"
        return (lambda t: with_menu(t, t.t._(
            "Stopped; nothing was saved. Reply “%(word)s” to start again whenever you like.",
            word=word)), registration.expired)
    return general.cancelled, registration.expired


def _takes_up_again(turn: Turn, intent: Intent) -> bool:
    """继续, or the word that began the dialogue (注册 in the middle of registering)."""
    if intent.name == "RESUME":
        return True
    state = turn.state.dialogue or {}
    began = {("register", "self"): "REGISTER", ("register", "neighbour"): "NEIGHBOUR"}
    return began.get((state.get("name"), state.get("mode", "self"))) == intent.name


def _step_aside(turn: Turn) -> tuple[str, bool]:
    """Leave the dialogue for another request: a dialogue is paused, to be taken up again with
    继续 (True); a confirmation ends, nothing done, with a note that says so; an expired one
    simply goes."""
    current = dialogue.current(turn)
    if current is None or dialogue.has_expired(turn):
        dialogue.forget(turn)
        return "", False
    if current.unchanged is not None:
        note = current.unchanged(turn, dialogue.answers_of(turn))
        dialogue.forget(turn)
        return note, False
    dialogue.pause(turn)
    return "", True


def take_up_again(turn: Turn, intent: Intent) -> Reply:
    """RESUME (继续): the paused dialogue's question again, or say there is none."""
    if turn.state.dialogue is None or dialogue.current(turn) is None:
        dialogue.forget(turn)
        return with_menu(turn, turn.t._("There is no unfinished question to go back to."))
    if dialogue.has_expired(turn):
        state = turn.state.dialogue
        on_timeout = _ending(turn)[1]
        dialogue.forget(turn)
        return on_timeout(turn, state["name"], state.get("mode", "self"))
    return Reply(text=turn.t._("Let us go on where you left off.") + "\n"
                 + dialogue.resume(turn).text)


def stop(turn: Turn, intent: Intent) -> Reply:
    """STOP (取消) outside a dialogue: ends a paused one, or says nothing is under way."""
    if turn.state.dialogue is not None:
        on_cancel = _ending(turn)[0]
        dialogue.forget(turn)
        return on_cancel(turn)
    return vouchers.nothing_to_stop(turn)


HANDLERS.update({"RESUME": take_up_again, "STOP": stop})


# An action understood from words alone that needs what is on the screen (the course shown, the
# voucher shown): without it, the list to pick one from.
WITHOUT_SCREEN = {"CLAIM": Intent("COURSES"), "CANCEL_VOUCHER": Intent("MY_VOUCHERS")}
# Actions whose handler asks for a confirmation itself (cancelling a voucher names it and the
# seat it gives away): a second, general question would only be in the way.
ASKS_ITSELF = frozenset({"CANCEL_VOUCHER"})


def understand(turn: Turn, intent: Intent) -> Reply:
    """A message that is not one of the exact words: read in its own words (bot.understanding).
    Understood, it is answered as the menu would; an action is confirmed with a digit first;
    nearly understood, the closest meanings are offered as digits."""
    if not intent.arg:
        return general.not_understood(turn, intent)
    words = turn.shared(("course words", turn.today()),
                        lambda: turn.read(course_words, today=turn.today()))
    reading = understanding.understand(intent.arg, course_words=words)
    if reading.intent is not None:
        meaning = _as_shown(turn, reading.intent)
        if meaning.name in understanding.ACTING and meaning.name not in ASKS_ITSELF:
            return general.confirm(turn, meaning)
        logger.debug("understood %s (%s)", meaning.name, reading.how)
        return HANDLERS[meaning.name](turn, meaning)
    # An action among the offers is asked again when chosen: an offer is a guess.
    options = tuple(dict.fromkeys(
        general.ask_first(shown) if shown.name in understanding.ACTING
        and shown.name not in ASKS_ITSELF else shown
        for shown in (_as_shown(turn, o) for o in reading.options)))
    if options:
        return general.offer(turn, options)
    return general.not_understood(turn, intent)


def _as_shown(turn: Turn, meaning: Intent) -> Intent:
    """A meaning made concrete by what the person was shown: 领券 is the course on screen."""
    if meaning.name == "REGISTER" and turn.person.is_registered:
        return Intent("COURSES")  # 怎么报名, from someone registered: pick a course
    if meaning.name in WITHOUT_SCREEN and meaning.arg is None:
        shown = next((c for c in turn.state.choices if c.name == meaning.name), None)
        return shown or WITHOUT_SCREEN[meaning.name]
    return meaning


def _typed(message: BaseMessage) -> str:
    if isinstance(message, VoiceMessage):
        return message.recognition or ""
    return message.content or ""


def apologize(turn: Turn) -> Reply:
    """The answer when something broke on our side: short, polite, no details."""
    return Reply(text=turn.t._("Sorry, something went wrong on our side. Please try again "
                               "in a minute.") + "\n" + general.contact_line(turn))


def slow_down(turn: Turn) -> Reply:
    return Reply(text=turn.t._("You are sending messages very fast. Please wait a minute "
                               "and try again."))

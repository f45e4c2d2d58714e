"""The intent table, and one turn from message to reply."""

from __future__ import annotations

import logging
from collections.abc import Callable

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
    profile,
    registration,
    screens,
    subsidy,
    understanding,
    vouchers,
)
from bot.intents import Intent, read
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
    "SUBSCRIBE": jobs.resume_broadcasts,
    "APP_CODE": app_link.link_code,
    "FOLLOWUP": followup.followup_word,
    "FOLLOWUP_WORK": followup.answer,
    "FOLLOWUP_RATING": followup.rate,
    "FOLLOWUP_AGAIN": followup.again,
}

# How a dialogue ends on 取消 and on timeout, where not as registration's (nothing kept, start
# again): the follow-up's optional sentence keeps the answers given before it.
ENDINGS = {followup.OPINION: (followup.opinion_skipped, followup.opinion_expired)}

# Messages that are typed or spoken: inside a dialogue they answer its question.
TYPED = (TextMessage, VoiceMessage)


def respond(turn: Turn, message: BaseMessage) -> Reply:
    intent = read(message, turn.state.choices, turn.state.more)
    if intent is None:
        return SILENCE
    turn.meet()
    if dialogue.is_active(turn):
        if isinstance(message, TYPED) and _typed(message):
            on_cancel, on_timeout = ENDINGS.get(turn.state.dialogue.get("name"),
                                                (general.cancelled, registration.expired))
            reply = dialogue.answer(turn, _typed(message), on_cancel=on_cancel,
                                    on_timeout=on_timeout)
            turn.remember(reply)
            return reply
        if isinstance(message, ImageMessage) and dialogue.takes_photo(turn):
            dialogue.attach_photo(turn, message.media_id)
            reply = Reply(text=turn.t._("Photo received."))
            turn.remember(reply)
            return reply
        if intent.name not in ("LOCATION", "UNFOLLOW"):
            dialogue.forget(turn)  # a menu tap or a scan leaves the dialogue
    intent = followup.reroute(turn, message, intent)
    handler = HANDLERS.get(intent.name, general.not_understood)
    logger.debug("intent %s", intent.name)
    reply = handler(turn, intent)
    if reply is not SILENCE:
        turn.remember(reply)
    return reply


# An action understood from words alone that needs what is on the screen (the course shown, the
# voucher shown): without it, the list to pick one from.
WITHOUT_SCREEN = {"CLAIM": Intent("COURSES"), "CANCEL_VOUCHER": Intent("MY_VOUCHERS")}


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
        if meaning.name in understanding.ACTING:
            return general.confirm(turn, meaning)
        logger.debug("understood %s (%s)", meaning.name, reading.how)
        return HANDLERS[meaning.name](turn, meaning)
    options = tuple(dict.fromkeys(_as_shown(turn, o) for o in reading.options))
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

"""The intent table, and one turn from message to reply."""

from __future__ import annotations

import logging
from collections.abc import Callable

from wechatpy.messages import BaseMessage

from bot import courses, general
from bot.intents import Intent, read
from bot.replies import SILENCE, Reply
from bot.turn import Turn

logger = logging.getLogger(__name__)

Handler = Callable[[Turn, Intent], Reply]

HANDLERS: dict[str, Handler] = {
    "WELCOME": general.welcome,
    "SCENE": general.show_help,
    "UNFOLLOW": general.unfollow,
    "HELP": general.show_help,
    "UNKNOWN": general.not_understood,
    "UNHEARD": general.not_heard,
    "UNSUPPORTED": general.unsupported,
    "BAD_CHOICE": general.bad_choice,
    "NO_MORE": general.no_more,
    "LANGUAGE": general.choose_language,
    "SET_LANGUAGE": general.change_language,
    "LOCATION": general.location_noted,
    "COURSES": courses.list_courses,
    "COURSE": courses.course_details,
    # Not built yet; each says so and offers the main menu.
    "MY_VOUCHERS": general.coming_soon,
    "CHECKIN": general.coming_soon,
    "SUBSIDY": general.coming_soon,
    "PROFILE": general.coming_soon,
    "REDEEM": general.coming_soon,
    "CADRE": general.coming_soon,
}


def respond(turn: Turn, message: BaseMessage) -> Reply:
    intent = read(message, turn.state.choices, turn.state.more)
    if intent is None:
        return SILENCE
    turn.meet()
    handler = HANDLERS.get(intent.name, general.not_understood)
    logger.info("intent %s", intent.name)
    reply = handler(turn, intent)
    if reply is not SILENCE:
        turn.remember(reply)
    return reply


def apologize(turn: Turn) -> Reply:
    """The answer when something broke on our side: short, polite, no details."""
    return Reply(text=turn.t._("Sorry, something went wrong on our side. Please try again "
                               "in a minute."))


def slow_down(turn: Turn) -> Reply:
    return Reply(text=turn.t._("You are sending messages very fast. Please wait a minute "
                               "and try again."))

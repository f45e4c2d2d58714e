"""Welcome, help, language, and the answers for what the bot did not understand."""

from __future__ import annotations

from bot.intents import MAIN_MENU, Intent
from bot.replies import SILENCE, Reply
from bot.turn import Turn
from locales import N_
from models.audit import Channel
from models.persons import set_following, set_locale

MENU_LABELS = {
    "COURSES": N_("Find a course"),
    "MY_VOUCHERS": N_("My training vouchers"),
    "CHECKIN": N_("Check in to class"),
    "SUBSIDY": N_("What subsidies can I get"),
    "PROFILE": N_("My details"),
    "LANGUAGE": N_("中文 / English"),
}


def main_menu(turn: Turn) -> str:
    lines = [f"{n}. {turn.t._(MENU_LABELS[key])}" for n, key in enumerate(MAIN_MENU, 1)]
    return "\n".join(lines)


def with_menu(turn: Turn, text: str) -> Reply:
    """A reply that ends with the numbered main menu; digits then pick from it."""
    footer = turn.t._("Reply with a number:")
    return Reply(text=f"{text}\n\n{footer}\n{main_menu(turn)}",
                 choices=tuple(Intent(key) for key in MAIN_MENU))


def welcome(turn: Turn, intent: Intent) -> Reply:
    turn.run(set_following, person_id=turn.person.id, is_following=True, now=turn.now())
    return with_menu(turn, turn.t._(
        "Welcome to Luoping County vocational training! Here you can find free training "
        "courses, claim a training voucher, check in to class and see which subsidies you "
        "can get.\nTap the menu below, type a word such as “课程” (courses), or reply with "
        "a number."
    ))


def unfollow(turn: Turn, intent: Intent) -> Reply:
    turn.run(set_following, person_id=turn.person.id, is_following=False, now=turn.now())
    return SILENCE


def show_help(turn: Turn, intent: Intent) -> Reply:
    return with_menu(turn, turn.t._("What would you like to do?"))


def not_understood(turn: Turn, intent: Intent) -> Reply:
    return with_menu(turn, turn.t._("Sorry, I did not understand that."))


def not_heard(turn: Turn, intent: Intent) -> Reply:
    return with_menu(turn, turn.t._(
        "Sorry, I could not make out the voice message. Please say it again or type it."))


def unsupported(turn: Turn, intent: Intent) -> Reply:
    return with_menu(turn, turn.t._("I can read text and voice messages."))


def bad_choice(turn: Turn, intent: Intent) -> Reply:
    return with_menu(turn, turn.t._("There is no number %(n)s in the list.", n=intent.arg))


def no_more(turn: Turn, intent: Intent) -> Reply:
    return with_menu(turn, turn.t._("There is no further page."))


def choose_language(turn: Turn, intent: Intent) -> Reply:
    return Reply(
        # Each language is named in its own words, as everywhere else.
        text=turn.t._("Choose a language:") + "\n1. 中文\n2. English",
        choices=(Intent("SET_LANGUAGE", "zh_Hans_CN"), Intent("SET_LANGUAGE", "en")),
    )


def change_language(turn: Turn, intent: Intent) -> Reply:
    turn.run(set_locale, person_id=turn.person.id, locale=intent.arg, channel=Channel.WECHAT,
             now=turn.now())
    turn.speak(intent.arg)
    return with_menu(turn, turn.t._("Language set to English."))


def cancelled(turn: Turn) -> Reply:
    return with_menu(turn, turn.t._("Stopped; nothing was saved."))

"""Welcome, help, language, a person to talk to, and the answers for what the bot did not
understand or understood only nearly: the closest choices offered as digits, an action
confirmed with a digit before it is taken."""

from __future__ import annotations

import logging

from bot.intents import MAIN_MENU, Intent
from bot.replies import SILENCE, Reply
from bot.turn import Turn
from locales import N_
from models.audit import Channel
from models.persons import set_following, set_locale

logger = logging.getLogger(__name__)

MENU_LABELS = {
    "COURSES": N_("Find a course"),
    "MY_VOUCHERS": N_("My training vouchers"),
    "CHECKIN": N_("Check in to class"),
    "SUBSIDY": N_("What subsidies can I get"),
    "PROFILE": N_("My details"),
    "LANGUAGE": N_("中文 / English"),
}


# What a choice offered after a message in plain words says (bot.understanding's meanings).
OPTION_LABELS = {
    **MENU_LABELS,
    "HELP": N_("The main menu"),
    "FREE_COURSES": N_("Free courses"),
    "RECOMMEND": N_("Courses that suit me"),
    "CATEGORIES": N_("Course categories"),
    "REGISTER": N_("Register"),
    "HUMAN": N_("Talk to a person (phone)"),
    "CHECKIN": N_("How to check in to class"),
    "REDEEM": N_("How to enrol a trainee (staff)"),
    "MY_ATTENDANCE": N_("My attendance"),
    "JOBS": N_("Job openings"),
    "CLAIM": N_("Claim a training voucher for the course shown above"),
    "CANCEL_VOUCHER": N_("Cancel the voucher shown above (frees the seat)"),
    "UNSUBSCRIBE": N_("Stop sending me job news"),
    "SUBSCRIBE": N_("Send me job news again"),
}
ARGUMENT_LABELS = {
    "SEARCH": N_("Courses for “%(text)s”"),
    "SUBSIDY": N_("What I can get for a course in “%(text)s”"),
}
# The national human resources and social security hotline (人社服务热线): everywhere in China.
NATIONAL_LINE = "12333"


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
    return with_menu(turn, turn.t._(
        "Sorry, I did not quite understand. You can say it in other words, for example "
        "“电工培训”, “怎么报名” or “有没有补贴”.") + "\n" + contact_line(turn))


def not_heard(turn: Turn, intent: Intent) -> Reply:
    return with_menu(turn, turn.t._(
        "Sorry, I could not make out the voice message. Please say it again or type it.")
        + "\n" + contact_line(turn))


def unsupported(turn: Turn, intent: Intent) -> Reply:
    return with_menu(turn, turn.t._("I can read text and voice messages.") + "\n"
                     + contact_line(turn))


# --- a person to talk to -------------------------------------------------------------------

def _centre(turn: Turn) -> str | None:
    contact = turn.contact
    if not contact.phone:
        return None
    if not contact.hours:
        return contact.phone
    return turn.t._("%(phone)s (%(hours)s)", phone=contact.phone, hours=contact.hours)


def contact_line(turn: Turn) -> str:
    """One line for the end of a dead end: where a person answers."""
    centre = _centre(turn)
    if centre is None:
        return turn.t._("To talk to a person, call %(line)s.", line=NATIONAL_LINE)
    return turn.t._("To talk to a person: the county employment service centre, %(centre)s, "
                    "or %(line)s.", centre=centre, line=NATIONAL_LINE)


def human(turn: Turn, intent: Intent) -> Reply:
    """人工, 客服, 电话, 投诉: the service centre's phone and hours, and the national line."""
    t, centre = turn.t, _centre(turn)
    lines = [t._("You can talk to a person at the county public employment service centre: "
                 "phone %(centre)s.", centre=centre)] if centre else []
    lines.append(t._("You can also call %(line)s, the national human resources and social "
                     "security hotline, for complaints too.", line=NATIONAL_LINE))
    lines.append(t._("Or just type your question here, for example “电工培训”, “怎么报名” or "
                     "“有没有补贴”."))
    return with_menu(turn, "\n".join(lines))


# --- nearly understood ---------------------------------------------------------------------

# An action offered among the closest meanings: chosen, it is asked again (confirm) before it
# is taken. Its argument holds the action as "NAME|arg".
ASK_FIRST = "ASK_FIRST"


def ask_first(intent: Intent) -> Intent:
    return Intent(ASK_FIRST, f"{intent.name}|{intent.arg or ''}")


def asked(intent: Intent) -> Intent:
    """The action an ASK_FIRST choice stands for."""
    name, _, arg = (intent.arg or "").partition("|")
    return Intent(name, arg or None)


def confirm_chosen(turn: Turn, intent: Intent) -> Reply:
    """ASK_FIRST chosen from an offer: the action, to be confirmed with 1."""
    return confirm(turn, asked(intent))


def option_label(turn: Turn, intent: Intent) -> str:
    if intent.name == ASK_FIRST:
        return option_label(turn, asked(intent))
    if intent.arg and intent.name in ARGUMENT_LABELS:
        return turn.t._(ARGUMENT_LABELS[intent.name], text=intent.arg)
    return turn.t._(OPTION_LABELS[intent.name])


def offer(turn: Turn, options: tuple[Intent, ...]) -> Reply:
    """The closest meanings of a message, as digits: the person picks; nothing is done yet."""
    lines = [turn.t._("Did you mean one of these? Reply with a number:")]
    lines += [f"{n}. {option_label(turn, o)}" for n, o in enumerate(options, 1)]
    lines += ["", turn.t._("Or say it in other words; reply “人工” to talk to a person.")]
    return Reply(text="\n".join(lines), choices=options)


def confirm(turn: Turn, intent: Intent) -> Reply:
    """An action understood from words alone: it is taken only when the person replies 1."""
    return Reply(text="\n".join([
        turn.t._("To be sure: reply 1 to do this; anything else leaves everything as it is."),
        f"1. {option_label(turn, intent)}",
    ]), choices=(intent,))


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

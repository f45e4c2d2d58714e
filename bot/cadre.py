"""Village cadres: their referral code, registering a neighbour, their own figures; and the QR
scenes: an invitation's (bot.invitations) and a cadre's, which attributes a follower to them."""

from __future__ import annotations

import logging

from bot import dialogue, invitations
from bot.errors import explain
from bot.general import welcome, with_menu
from bot.intents import Intent
from bot.replies import Reply
from bot.turn import Turn
from models import links
from models.cadres import attribute_to_cadre, cadre_of
from models.errors import DomainError, InvitationInvalid
from models.mobilization import cadre_figures
from models.persons import set_following
from models.registration import bind_with_code
from runtime import local_counts

logger = logging.getLogger(__name__)


def _cadre(turn: Turn):
    return turn.run(cadre_of, person_id=turn.person.id)


def cadre_menu(turn: Turn, intent: Intent) -> Reply:
    try:
        cadre = _cadre(turn)
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    t = turn.t
    return Reply(
        text="\n".join([
            t._("Village cadre, %(village)s:", village=cadre.village),
            "1. " + t._("My referral QR code"),
            "2. " + t._("Register a neighbour (代报名)"),
            "3. " + t._("My figures"),
            "4. " + t._("Claim a voucher for a neighbour without WeChat (代领券)"),
            "5. " + t._("My neighbours' paper vouchers"),
        ]),
        choices=(Intent("CADRE_QR"), Intent("NEIGHBOUR"), Intent("CADRE_FIGURES"),
                 Intent("PROXY_CLAIM"), Intent("PAPER_VOUCHERS")))


def referral_code(turn: Turn, intent: Intent) -> Reply:
    try:
        cadre = _cadre(turn)
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    token = links.sign(turn.secret_key, links.CADRE_QR_PURPOSE, {"cadre": cadre.id})
    return Reply(text=turn.t._(
        "Your referral code: show it, or forward this page, to the people you bring in. "
        "Whoever follows the account through it is counted as yours.\n%(url)s",
        url=f"{turn.base_url}/p/cadre-qr/{token}"))


def register_neighbour(turn: Turn, intent: Intent) -> Reply:
    try:
        _cadre(turn)
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    return dialogue.begin(turn, "register", mode="neighbour")


def figures(turn: Turn, intent: Intent) -> Reply:
    try:
        cadre = _cadre(turn)
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    counts = turn.run(cadre_figures, cadre=cadre)
    t = turn.t
    lines = [
        t._("People you brought in: %(n)s", n=counts.mobilized),
        t._("Of them registered: %(n)s", n=counts.registered),
        t._("Registered by you on their behalf: %(n)s", n=counts.registered_by_cadre),
        t._("In training: %(training)s; finished: %(finished)s; certified: %(certified)s",
            training=counts.in_training, finished=counts.finished,
            certified=counts.certified),
    ]
    for course in counts.courses:
        name = course.course_name_en if t.locale.startswith("en") else course.course_name
        lines.append("· " + t._("%(course)s: in training %(training)s, finished %(finished)s, "
                                "certified %(certified)s", course=name,
                                training=course.in_training, finished=course.finished,
                                certified=course.certified))
    return Reply(text="\n".join(lines))


def scene(turn: Turn, intent: Intent) -> Reply:
    """A parametric QR code scanned by someone who follows the account already."""
    kind, _, value = (intent.arg or "").partition(":")
    if kind in invitations.ROLES:
        return invitations.bind(turn, kind, value)
    if kind == "ref" and value.isdigit():
        turn.run(attribute_to_cadre, person_id=turn.person.id, cadre_id=int(value),
                 now=turn.now())
        return welcome(turn, intent)
    return welcome(turn, intent)


def follow(turn: Turn, intent: Intent) -> Reply:
    """Following the account, perhaps through a cadre's or an invitation's QR code."""
    if intent.arg:
        # Following through a QR code is following too (it also queues the unionid lookup).
        turn.run(set_following, person_id=turn.person.id, is_following=True, now=turn.now())
        return scene(turn, intent)
    return welcome(turn, intent)


BIND_TRIES_A_DAY = 5
BIND_TRIES_COUNT = "binding-code tries"


def bind(turn: Turn, intent: Intent) -> Reply:
    """绑定 123456: take over the record a cadre made for this person. A six-digit code could
    be guessed at 60 messages a minute, so a person gets a few tries a day."""
    if not _may_try_binding(turn):
        return with_menu(turn, explain(turn, InvitationInvalid(reason="too_many_tries")))
    try:
        person = turn.run(bind_with_code, vault=turn.vault, openid=turn.openid,
                          code=intent.arg or "", now=turn.now())
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    return with_menu(turn, turn.t._(
        "Welcome, %(name)s: your registration is now on your own WeChat.", name=person.name))


def _may_try_binding(turn: Turn) -> bool:
    key = f"peixun:bind-tries:{turn.openid}:{turn.today().isoformat()}"
    return local_counts.one_more(turn.kv, key, 24 * 3600, BIND_TRIES_COUNT) <= BIND_TRIES_A_DAY

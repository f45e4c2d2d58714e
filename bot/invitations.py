"""Invitations in the chat: the QR code of an invitation (scene ``cadre:<token>``,
``staff:<token>`` or ``inspector:<token>``) makes whoever scans it in time a village cadre,
staff of an institution or an inspector, and tells them what they can do now. One path for
the three roles: the table says which role a scene gives and how it is announced."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.errors import explain
from bot.general import with_menu
from bot.replies import Reply
from bot.turn import Turn
from locales import Translator
from models.attendance import Inspector
from models.cadres import Cadre
from models.errors import DomainError
from models.invitations import InvitedRole, bind_by_invitation
from models.staff import StaffMember

logger = logging.getLogger(__name__)


def _cadre(t: Translator, cadre: Cadre) -> str:
    return t._("You are now the village cadre of %(village)s. Tap “村干部” in the menu for your "
               "referral code, to register a neighbour, or for your figures.",
               village=cadre.village)


def _staff(t: Translator, member: StaffMember) -> str:
    return t._("You are now staff of %(institution)s. Scan trainees' voucher codes with the menu "
               "核销; type 结业 or 撤销报到 with a voucher number to complete or undo.",
               institution=member.institution.display_name(t.locale))


def _inspector(t: Translator, inspector: Inspector) -> str:
    return t._("You are now an inspector. In a class, scan the code on its display with the menu "
               "扫码签到 to record a spot check.")


# The scene's prefix -> the role it gives, and what the new holder is told.
ROLES: dict[str, tuple[type[InvitedRole], Callable[[Translator, Any], str]]] = {
    "cadre": (Cadre, _cadre),
    "staff": (StaffMember, _staff),
    "inspector": (Inspector, _inspector),
}


def bind(turn: Turn, kind: str, token: str) -> Reply:
    """Spend the invitation of a scanned scene ``<kind>:<token>`` (``kind`` one of ROLES)."""
    role, announce = ROLES[kind]
    try:
        holder = turn.run(bind_by_invitation, role=role, person_id=turn.person.id, token=token,
                          now=turn.now())
    except DomainError as error:
        return with_menu(turn, explain(turn, error))
    return Reply(text=announce(turn.t, holder))

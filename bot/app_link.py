"""绑定小程序 / bind app: a short code that links the person's mini-program to this account."""

from __future__ import annotations

import logging

from bot.intents import Intent
from bot.replies import Reply
from bot.turn import Turn
from models.miniprogram import LINK_CODE_MINUTES, issue_link_code

logger = logging.getLogger(__name__)


def link_code(turn: Turn, intent: Intent) -> Reply:
    code = turn.run(issue_link_code, vault=turn.vault, openid=turn.openid, now=turn.now())
    return Reply(text=turn.t._(
        "Your mini-program code is %(code)s. Type it in the mini-program within %(minutes)s "
        "minutes to use it with this account. Never give it to anyone else.",
        code=code, minutes=LINK_CODE_MINUTES))

"""Staff confirm a class display's screen: a browser that opened the display link after another
one shows a confirmation code instead of the check-in code (webhooks/pages.py); staff of the
class's institution scan it with the menu 核销（机构） or 扫码签到, and that browser shows the
check-in code (models.displays)."""

from __future__ import annotations

import logging

from bot.errors import explain
from bot.intents import Intent
from bot.replies import Reply
from bot.turn import Turn
from models.catalogue import session_bounds
from models.clock import LOCAL_TZ
from models.displays import confirm_screen, read_confirmation_code
from models.errors import ScreenConfirmationRefused

logger = logging.getLogger(__name__)


def confirm(turn: Turn, intent: Intent) -> Reply:
    """CONFIRM_SCREEN: a staff member scanned the code an unconfirmed display shows."""
    try:
        session_id, digest, asked_at = read_confirmation_code(turn.secret_key, intent.arg or "")
        screen = turn.run(confirm_screen, staff_openid=turn.openid, session_id=session_id,
                          digest=digest, asked_at=asked_at, now=turn.now())
    except ScreenConfirmationRefused as error:
        return Reply(text=explain(turn, error))
    session = screen.session
    starts, ends = session_bounds(session)
    return Reply(text=turn.t._(
        "Screen confirmed ✔ %(course)s, %(start)s–%(end)s: the check-in code shows on that "
        "screen now, and on no other.",
        course=session.course.display_name(turn.t.locale),
        start=turn.t.clock(starts.astimezone(LOCAL_TZ).time()),
        end=turn.t.clock(ends.astimezone(LOCAL_TZ).time())))

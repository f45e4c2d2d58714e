"""Staff confirm a class display's screen: a browser that opened the display link after another
one shows a confirmation code instead of the check-in code (webhooks/pages.py); staff of the
class's institution scan it with the menu 核销（机构） or 扫码签到, and that browser shows the
check-in code (models.displays)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import links
from bot.errors import explain
from bot.intents import SCREEN_CODE_PREFIX, Intent
from bot.replies import Reply
from bot.turn import Turn
from models.catalogue import session_bounds
from models.clock import LOCAL_TZ
from models.displays import confirm_screen
from models.errors import ScreenConfirmationRefused

SCREEN_PURPOSE = "class-screen"
# The signature's own limit; the domain refuses a code older than CONFIRM_SECONDS by the clock.
CODE_SECONDS = 24 * 3600


def confirmation_code(secret_key: str, *, session_id: int, digest: str, now: datetime) -> str:
    """What an unconfirmed screen shows: its session, its cookie's digest and when it was
    shown, signed."""
    return SCREEN_CODE_PREFIX + links.sign(
        secret_key, SCREEN_PURPOSE, {"s": session_id, "d": digest, "t": int(now.timestamp())})


def confirm(turn: Turn, intent: Intent) -> Reply:
    """CONFIRM_SCREEN: a staff member scanned the code an unconfirmed display shows."""
    try:
        payload = links.verify(turn.secret_key, SCREEN_PURPOSE,
                               (intent.arg or "")[len(SCREEN_CODE_PREFIX):], CODE_SECONDS)
        session_id, digest = int(payload["s"]), str(payload["d"])
        asked_at = datetime.fromtimestamp(int(payload["t"]), UTC)
    except (links.BadSignature, KeyError, TypeError, ValueError, OverflowError):
        return Reply(text=explain(turn, ScreenConfirmationRefused(rule="unknown_screen")))
    try:
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

"""What the bot answers: text, and the numbered choices the next digit will pick from."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.intents import Intent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    text: str
    # Intents that the digits 1..n will mean in the person's next message.
    choices: tuple[Intent, ...] = ()
    # What "next page" means in the next message, when there is one.
    more: Intent | None = None
    extra: dict = field(default_factory=dict)


# Some events (unfollow, a location report, a menu link) need no answer at all.
SILENCE = Reply(text="")

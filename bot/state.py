"""Conversation state between messages, in Redis: it may be lost, and then the person simply
starts again from the main menu."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis import Redis, RedisError, WatchError

from bot.intents import Intent

logger = logging.getLogger(__name__)

# What the person was shown this recently is what their next digit means: nothing else (a
# question the worker sends) may take its place meanwhile.
RECENT_SECONDS = 5 * 60


@dataclass
class State:
    locale: str | None = None
    choices: list[Intent] = field(default_factory=list)
    more: Intent | None = None
    # A multi-step dialogue: its name, its step, and the answers so far.
    dialogue: dict[str, Any] | None = None
    # When the choices were shown (a POSIX timestamp).
    shown_at: float | None = None
    # The course the person last chose (its details shown): the thread of the conversation,
    # outside any dialogue's answers, so that registering in between does not lose it and a
    # later 领券 knows which course it means.
    course: int | None = None

    def dump(self) -> str:
        return json.dumps({
            "locale": self.locale,
            "choices": [c.as_list() for c in self.choices],
            "more": self.more.as_list() if self.more else None,
            "dialogue": self.dialogue,
            "shown_at": self.shown_at,
            "course": self.course,
        }, ensure_ascii=False)

    def is_busy(self, now: float) -> bool:
        """The person is in a dialogue, or was shown a list in the last few minutes."""
        if self.dialogue is not None and self.dialogue.get("expires", 0) >= now:
            return True
        recent = self.shown_at is not None and now - self.shown_at < RECENT_SECONDS
        return recent and bool(self.choices or self.more)

    @classmethod
    def parse(cls, raw: str | None) -> State:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(
                locale=data.get("locale"),
                choices=[Intent.from_list(c) for c in data.get("choices") or []],
                more=Intent.from_list(data["more"]) if data.get("more") else None,
                dialogue=data.get("dialogue"),
                shown_at=float(data["shown_at"]) if data.get("shown_at") else None,
                course=int(data["course"]) if data.get("course") else None,
            )
        except (ValueError, TypeError, KeyError, IndexError):
            return cls()


def key(openid: str) -> str:
    return f"peixun:state:{openid}"


def load(kv: Redis, openid: str) -> State:
    try:
        return State.parse(kv.get(key(openid)))
    except RedisError:
        logger.warning("conversation state unavailable; starting afresh")
        return State()


def update(kv: Redis, openid: str, change: Callable[[State], int | None]) -> bool:
    """Change the state unless the conversation saves it meanwhile (the person's own turn
    wins): ``change`` edits the state and returns its lifetime in seconds, or None to leave it
    as it is. True when the change was kept."""
    watched = key(openid)
    try:
        with kv.pipeline() as pipe:
            pipe.watch(watched)
            state = State.parse(pipe.get(watched))
            ttl = change(state)
            if ttl is None:
                return False
            pipe.multi()
            pipe.set(watched, state.dump(), ex=ttl)
            pipe.execute()
            return True
    except WatchError:
        return False
    except RedisError:
        logger.warning("conversation state not changed")
        return False

"""Conversation state between messages, in Redis: it may be lost, and then the person simply
starts again from the main menu."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from redis import Redis, RedisError

from bot.intents import Intent

logger = logging.getLogger(__name__)


@dataclass
class State:
    locale: str | None = None
    choices: list[Intent] = field(default_factory=list)
    more: Intent | None = None
    # A multi-step dialogue: its name, its step, and the answers so far.
    dialogue: dict[str, Any] | None = None

    def dump(self) -> str:
        return json.dumps({
            "locale": self.locale,
            "choices": [c.as_list() for c in self.choices],
            "more": self.more.as_list() if self.more else None,
            "dialogue": self.dialogue,
        }, ensure_ascii=False)

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
            )
        except (ValueError, TypeError, KeyError, IndexError):
            return cls()


def _key(openid: str) -> str:
    return f"peixun:state:{openid}"


def load(kv: Redis, openid: str) -> State:
    try:
        return State.parse(kv.get(_key(openid)))
    except RedisError:
        logger.warning("conversation state unavailable; starting afresh")
        return State()


def save(kv: Redis, openid: str, state: State, ttl_seconds: int) -> None:
    try:
        kv.set(_key(openid), state.dump(), ex=ttl_seconds)
    except RedisError:
        logger.warning("conversation state not kept")

"""Confirmations of what cannot be undone (cancelling a voucher, withdrawing consent): one
question that says what will happen and how to undo what can be; only an explicit yes acts,
and anything else — 0, another word, 取消, silence until it expires — changes nothing and says
so."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot import dialogue
from bot.dialogue import Dialogue, Step
from bot.errors import explain
from bot.general import with_menu
from bot.intents import normalize, number_in
from bot.replies import Reply
from bot.turn import Turn

logger = logging.getLogger(__name__)

# Besides the digit 1 (or 一): the words that plainly say yes.
YES_WORDS = frozenset({"确定", "确认", "yes", "confirm"})
# The name of the one step: its answer is True once confirmed.
CONFIRMED = "confirmed"

Ask = Callable[[Turn, dict[str, Any]], str]
Unchanged = Callable[[Turn, dict[str, Any]], str]


def is_yes(text: str) -> bool:
    words = normalize(text)
    return number_in(words) == 1 or words in YES_WORDS


def declare_confirmation(name: str, *, ask: Ask, act: Callable[[Turn, dict[str, Any]], Reply],
                         unchanged: Unchanged) -> Dialogue:
    """A one-question dialogue: ``ask`` asks (ending with how to answer), ``act`` does it once
    confirmed, ``unchanged`` says that nothing was done otherwise."""

    def take(turn: Turn, text: str, answers: dict[str, Any]) -> bool | Reply:
        if is_yes(text):
            return True
        dialogue.forget(turn)
        return with_menu(turn, unchanged(turn, answers))

    return dialogue.declare(Dialogue(name=name, steps=(Step(CONFIRMED, ask, take),), finish=act,
                                     explain=explain, unchanged=unchanged))


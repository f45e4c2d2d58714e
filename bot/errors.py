"""Domain errors in the chat: worded by vocabulary.errors, in the person's language."""

from __future__ import annotations

import logging

from bot.turn import Turn
from models.errors import DomainError
from vocabulary.errors import explain_in

logger = logging.getLogger(__name__)


def explain(turn: Turn, error: DomainError) -> str:
    return explain_in(turn.t, error)

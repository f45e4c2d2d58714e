"""Dialogues of several steps, declared as tables: each step asks one question (with an
example) and checks the answer; the answers so far live in Redis, sealed, because they carry
ID numbers and phones. ``取消`` leaves at any step, ``上一步`` goes back one, and ``人工`` gives
the phone of a person to talk to without losing the place.

A top-level word (课程, 我的培训券, 帮助 …, bot.intents.top_level_word) is answered even inside a
dialogue: the dialogue is *paused* (its answers kept, digits no longer its own) and ``继续``
takes it up again at the same question. A confirmation (``unchanged`` set) is never paused: any
other word ends it, and nothing is done."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.general import contact_line
from bot.intents import normalize
from bot.replies import Reply
from bot.turn import Turn
from models.errors import DomainError

logger = logging.getLogger(__name__)

CANCEL_WORDS = {"取消", "退出", "cancel", "quit", "exit"}
BACK_WORDS = {"上一步", "返回", "back"}
# Asking for a person in the middle of a dialogue: the phone, and the same question again.
HUMAN_WORDS = {"人工", "客服", "人工客服", "转人工", "找客服", "电话", "投诉", "human"}

# (turn, answers) -> the question; (turn, text, answers) -> the value, or a DomainError
Ask = Callable[[Turn, dict[str, Any]], str]
Accept = Callable[[Turn, str, dict[str, Any]], Any]
Finish = Callable[[Turn, dict[str, Any]], Reply]
Applies = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Step:
    name: str
    ask: Ask
    accept: Accept
    # A step that follows from an earlier answer (where exactly, once "elsewhere" is chosen):
    # asked only when this says so, skipped forward and back otherwise.
    when: Applies | None = None

    def applies(self, answers: dict[str, Any]) -> bool:
        return self.when is None or self.when(answers)


@dataclass(frozen=True)
class Dialogue:
    name: str
    steps: tuple[Step, ...]
    finish: Finish
    # How to word a refused answer: DomainError -> text in the person's language.
    explain: Callable[[Turn, DomainError], str]
    # Steps a summary may send the person back to, to correct one answer.
    confirm_step: str | None = None
    # Where a photo sent during the dialogue is kept among the answers, if it takes one.
    photo_answer: str | None = None
    # A confirmation of something that cannot be undone (bot.confirm): what to say when it
    # ends without the confirming answer — 取消, a timeout, or any other word — and so nothing
    # was done. Such a dialogue is ended, never paused.
    unchanged: Callable[[Turn, dict[str, Any]], str] | None = None

    def index(self, step: str) -> int:
        return [s.name for s in self.steps].index(step)

    def after(self, at: int, answers: dict[str, Any]) -> int:
        """The next step that applies after ``at`` (len(steps): none is left)."""
        at += 1
        while at < len(self.steps) and not self.steps[at].applies(answers):
            at += 1
        return at

    def before(self, at: int, answers: dict[str, Any]) -> int:
        """The step that applies before ``at`` (the first step at the start)."""
        at -= 1
        while at > 0 and not self.steps[at].applies(answers):
            at -= 1
        return max(0, at)


DIALOGUES: dict[str, Dialogue] = {}


def declare(dialogue: Dialogue) -> Dialogue:
    DIALOGUES[dialogue.name] = dialogue
    return dialogue


def begin(turn: Turn, name: str, *, answers: dict[str, Any] | None = None,
          step: str | None = None, mode: str = "self") -> Reply:
    dialogue = DIALOGUES[name]
    answers = answers or {}
    at = dialogue.index(step) if step else 0
    _keep(turn, dialogue, at, answers, mode=mode, back_to_confirm=False)
    return Reply(text=dialogue.steps[at].ask(turn, answers))


def current(turn: Turn) -> Dialogue | None:
    """The dialogue the person is in, active or paused."""
    return DIALOGUES.get((turn.state.dialogue or {}).get("name", ""))


def is_active(turn: Turn) -> bool:
    """In a dialogue that takes the next typed message as its answer."""
    return turn.state.dialogue is not None and not turn.state.dialogue.get("paused")


def is_paused(turn: Turn) -> bool:
    return turn.state.dialogue is not None and bool(turn.state.dialogue.get("paused"))


def has_expired(turn: Turn) -> bool:
    return (turn.state.dialogue or {}).get("expires", 0) < turn.now().timestamp()


def pause(turn: Turn) -> None:
    """Step out of the dialogue for a top-level word: its answers and step are kept (for the
    dialogue's own lifetime, from now), but the next message is no longer its answer."""
    turn.state.dialogue = {**turn.state.dialogue, "paused": True,
                           "expires": turn.now().timestamp() + turn.dialogue_seconds}


def take_up(turn: Turn, name: str, *, mode: str = "self") -> Reply | None:
    """The question of a paused, unexpired dialogue ``name`` (in ``mode``), taken up again;
    None when there is none, and a new one may begin."""
    state = turn.state.dialogue or {}
    if (state.get("name") != name or state.get("mode", "self") != mode
            or not state.get("paused") or has_expired(turn)):
        return None
    return resume(turn)


def resume(turn: Turn) -> Reply:
    """Take a paused (or active) dialogue up again: its current question, asked again."""
    dialogue = current(turn)
    state = turn.state.dialogue
    answers = answers_of(turn)
    _keep(turn, dialogue, state["step"], answers, mode=state.get("mode", "self"),
          back_to_confirm=bool(state.get("back_to_confirm")))
    return Reply(text=dialogue.steps[state["step"]].ask(turn, answers))


def forget(turn: Turn) -> None:
    turn.state.dialogue = None


def answers_of(turn: Turn) -> dict[str, Any]:
    sealed = (turn.state.dialogue or {}).get("sealed")
    return json.loads(turn.vault.open(sealed)) if sealed else {}


def mode_of(turn: Turn) -> str:
    return (turn.state.dialogue or {}).get("mode", "self")


def go_to(turn: Turn, step: str, *, back_to_confirm: bool) -> Reply:
    """Jump to one step (to correct an answer from the summary)."""
    dialogue = DIALOGUES[turn.state.dialogue["name"]]
    answers = answers_of(turn)
    _keep(turn, dialogue, dialogue.index(step), answers, mode=mode_of(turn),
          back_to_confirm=back_to_confirm)
    return Reply(text=dialogue.steps[dialogue.index(step)].ask(turn, answers))


def answer(turn: Turn, text: str, *, on_cancel: Callable[[Turn], Reply],
           on_timeout: Callable[[Turn, str, str], Reply]) -> Reply:
    """Take the person's next message as the answer to the current step."""
    state = turn.state.dialogue
    dialogue = DIALOGUES.get(state.get("name", ""))
    if dialogue is None:
        forget(turn)
        return on_cancel(turn)
    mode = state.get("mode", "self")
    if state.get("expires", 0) < turn.now().timestamp():
        forget(turn)
        return on_timeout(turn, dialogue.name, mode)
    words = normalize(text)
    if words in CANCEL_WORDS:
        forget(turn)
        return on_cancel(turn)
    at = state["step"]
    answers = answers_of(turn)
    if words in HUMAN_WORDS:
        step = dialogue.steps[at]
        return Reply(text=contact_line(turn) + "\n" + step.ask(turn, answers))
    if words in BACK_WORDS:
        at = dialogue.before(at, answers)
        _keep(turn, dialogue, at, answers, mode=mode, back_to_confirm=False)
        return Reply(text=dialogue.steps[at].ask(turn, answers))
    step = dialogue.steps[at]
    try:
        value = step.accept(turn, text, answers)
    except DomainError as error:
        # Say what is wrong, ask again, keep every other answer.
        return Reply(text=dialogue.explain(turn, error) + "\n" + step.ask(turn, answers))
    if isinstance(value, Reply):  # the step finished or redirected the dialogue itself
        return value
    answers[step.name] = value
    back_to_confirm = bool(state.get("back_to_confirm") and dialogue.confirm_step)
    follow_up = at + 1 < len(dialogue.steps) and dialogue.steps[at + 1].when is not None
    if back_to_confirm and follow_up and dialogue.steps[at + 1].applies(answers):
        # A corrected answer that needs its follow-up (elsewhere: where?) asks it first.
        at += 1
    elif back_to_confirm:
        at, back_to_confirm = dialogue.index(dialogue.confirm_step), False
    else:
        at = dialogue.after(at, answers)
    if at >= len(dialogue.steps):
        forget(turn)
        return dialogue.finish(turn, {**answers, "mode": mode})
    _keep(turn, dialogue, at, answers, mode=mode, back_to_confirm=back_to_confirm)
    return Reply(text=dialogue.steps[at].ask(turn, answers))


def _keep(turn: Turn, dialogue: Dialogue, at: int, answers: dict[str, Any], *, mode: str,
          back_to_confirm: bool) -> None:
    turn.state.dialogue = {
        "name": dialogue.name,
        "step": at,
        "mode": mode,
        "back_to_confirm": back_to_confirm,
        "expires": turn.now().timestamp() + turn.dialogue_seconds,
        "sealed": turn.vault.seal(json.dumps(answers, ensure_ascii=False)),
    }


def takes_photo(turn: Turn) -> bool:
    dialogue = DIALOGUES.get((turn.state.dialogue or {}).get("name", ""))
    return dialogue is not None and dialogue.photo_answer is not None


def attach_photo(turn: Turn, media_id: str) -> None:
    """Keep a photo (WeChat's media id) with the answers; the current step is asked again."""
    state = turn.state.dialogue
    dialogue = DIALOGUES[state["name"]]
    answers = answers_of(turn)
    answers[dialogue.photo_answer] = media_id
    _keep(turn, dialogue, state["step"], answers, mode=state.get("mode", "self"),
          back_to_confirm=False)

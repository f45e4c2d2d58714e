"""How much of what people say the account understands (issue 17): the table of utterances in
tests/utterances.tsv read by bot.understanding, the share understood per intent and in all.

    .venv/bin/python -m bench.understanding [--misses]

An utterance is understood when its meaning is taken at once (or, for a row marked ?NAME, when
NAME is among the choices offered). A wrong action would be an utterance whose reading acts
at once: bot.conversation confirms every reading in bot.understanding.ACTING with a digit
first, so the count of those must stay 0 (tests/test_understanding.py also plays them through
the signed callback)."""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.intents import Intent
from bot.understanding import ACTING, Reading, understand

TABLE = Path(__file__).resolve().parent.parent / "tests" / "utterances.tsv"
CATALOGUE = Path(__file__).resolve().parent.parent / "models" / "data" / "demo_catalogue.yaml"


@dataclass(frozen=True)
class Utterance:
    said: str
    meaning: str  # NAME, NAME:arg, ?NAME[:arg] or NONE
    how: str  # typed or voice
    clause: str

    @property
    def expects_offer(self) -> bool:
        return self.meaning.startswith("?")

    @property
    def intent(self) -> Intent | None:
        if self.meaning == "NONE":
            return None
        name, _, arg = self.meaning.lstrip("?").partition(":")
        return Intent(name, arg or None)

    @property
    def would_act(self) -> bool:
        return self.intent is not None and self.intent.name in ACTING


def utterances(path: Path = TABLE) -> list[Utterance]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            said, meaning, how, clause = line.split("\t")
            rows.append(Utterance(said, meaning, how, clause))
    return rows


def demo_occupations() -> list[str]:
    """The occupations of the demo courses: what the bot finds in the catalogue at run time."""
    with CATALOGUE.open(encoding="utf-8") as f:
        return [c["occupation"] for c in yaml.safe_load(f)["courses"]]


def is_understood(row: Utterance, reading: Reading) -> bool:
    expected = row.intent
    if expected is None:  # nothing to understand: the menu, not choices that do not fit
        return reading.intent is None and not reading.options
    if row.expects_offer:
        return reading.intent is None and expected in reading.options
    return reading.intent == expected


def score(rows: list[Utterance]) -> dict[str, tuple[int, int]]:
    """Understood and total, per expected intent name ("NONE" for nothing to understand)."""
    occupations = demo_occupations()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        reading = understand(row.said, course_words=occupations)
        key = row.intent.name if row.intent else "NONE"
        counts[key][0] += is_understood(row, reading)
        counts[key][1] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list what was not understood")
    args = parser.parse_args(argv)
    rows = utterances()
    started = time.perf_counter()
    understand("预热", course_words=demo_occupations())  # jieba's one-off start, not counted
    warm = time.perf_counter()
    counts = score(rows)
    per_message_ms = (time.perf_counter() - warm) / len(rows) * 1000
    print(f"{'intent':<16}{'understood':>12}{'share':>8}")
    for name in sorted(counts, key=lambda k: (-counts[k][1], k)):
        ok, total = counts[name]
        print(f"{name:<16}{f'{ok}/{total}':>12}{ok / total:>8.0%}")
    ok = sum(v[0] for v in counts.values())
    total = sum(v[1] for v in counts.values())
    print(f"{'all':<16}{f'{ok}/{total}':>12}{ok / total:>8.1%}")
    occupations = demo_occupations()
    for batch in ("second batch", "third batch"):
        part = [r for r in rows if r.clause == batch]
        ok = sum(is_understood(r, understand(r.said, course_words=occupations)) for r in part)
        print(f"  of which the {batch}: {ok}/{len(part)}")
    acting = [r for r in rows if r.would_act]
    print(f"utterances that would act: {len(acting)}, acted on without a confirmation: 0 "
          f"(bot.conversation confirms {', '.join(sorted(ACTING))})")
    print(f"start-up {(warm - started) * 1000:.0f} ms once a process, then "
          f"{per_message_ms:.1f} ms a message")
    if args.misses:
        for row in rows:
            reading = understand(row.said, course_words=occupations)
            if not is_understood(row, reading):
                print(f"  {row.said!r}: expected {row.meaning}, got {reading}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 19's other messages against 课程, in rounds: each round runs every message once, in
process (bench/profile_callback.py --no-profile), so that the host's slow minutes fall on all
of them alike; the table gives each message's median CPU a message and its ratio to the
median of the 课程 of the same senders (the goal: within 1.5×). The same-work app's 课程 and
CHECKIN show what the work itself costs.

    PYTHONPATH=. .venv/bin/python bench/other_messages.py [--rounds 3] [--count 600]

Needs what bench/profile_callback.py needs (bench/run.sh's database, DATABASE_URL, REDIS_URL,
WECHAT_TOKEN in the environment)."""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

HARNESS = str(Path(__file__).resolve().parent / "profile_callback.py")
# (name, who, the harness's arguments); each "who" has its own 课程 to be compared with.
MESSAGES = (
    ("课程", "followers", []),
    ("1 after 课程 (details)", "followers", ["--text", "1", "--marker", "领券", "--after", "课程"]),
    ("我的培训券", "followers", ["--text", "我的培训券", "--marker", ""]),
    ("补贴", "followers", ["--text", "补贴", "--marker", ""]),
    ("课程", "registered", ["--registered", "300"]),
    ("1 after 课程 (details)", "registered",
     ["--registered", "300", "--text", "1", "--marker", "领券", "--after", "课程"]),
    ("我的培训券", "registered", ["--registered", "300", "--text", "我的培训券", "--marker", ""]),
    ("补贴", "registered", ["--registered", "300", "--text", "补贴", "--marker", ""]),
    ("CHECKIN scan during a class", "registered", ["--checkin"]),
    # The yardstick (bench/samework_app.py): the same work with nothing else, for both.
    ("课程", "same work", ["--app", "samework"]),
    ("CHECKIN scan during a class", "same work", ["--app", "samework", "--checkin"]),
)


def cpu_ms(args: list[str], count: int) -> float | None:
    """The harness's CPU a message; None (and its last words) when the run failed."""
    run = subprocess.run([sys.executable, HARNESS, "--no-profile", "--count", str(count), *args],
                         capture_output=True, text=True)
    found = re.search(r"([\d.]+) ms CPU", run.stdout)
    if run.returncode or not found:
        print(f"failed: {' '.join(args)}: {(run.stderr or run.stdout).strip()[-300:]}")
        return None
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=600)
    args = parser.parse_args()
    runs: dict[tuple[str, str], list[float | None]] = {(m, w): [] for m, w, _ in MESSAGES}
    for round_no in range(args.rounds):
        for message, who, extra in MESSAGES:
            runs[message, who].append(cpu_ms(extra, args.count))
        print(f"round {round_no + 1}: " + ", ".join(
            f"{w[:3]} {m.split()[0]} {v[-1] or 0:.2f}" for (m, w), v in runs.items()), flush=True)
    print("\n| message | who | CPU ms a message (median; runs) | ÷ their 课程 |")
    print("|---|---|---:|---:|")
    for (message, who), measured in runs.items():
        values = [v for v in measured if v is not None]
        bases = [v for v in runs["课程", who] if v is not None]
        if not values or not bases:
            print(f"| {message} | {who} | failed | |")
            continue
        median, base = statistics.median(values), statistics.median(bases)
        print(f"| {message} | {who} | {median:.2f} ({', '.join(f'{v:.2f}' for v in values)}) "
              f"| {median / base:.2f} |")


if __name__ == "__main__":
    main()

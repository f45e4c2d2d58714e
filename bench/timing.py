"""Timing a call the way the benchmarks report it: one warm-up run, then each run on its own."""

from __future__ import annotations

import time
from collections.abc import Callable


def timed(call: Callable[[], object], runs: int) -> list[float]:
    """Seconds each of ``runs`` calls took, after one that is not counted (the first reads the
    tables into the cache)."""
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times

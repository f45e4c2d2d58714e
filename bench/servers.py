"""The servers a benchmark starts: waiting until one answers HTTP."""

from __future__ import annotations

import time

import requests


def wait_until_answering(url: str, *, tries: int, pause: float, timeout: float,
                         failure: str) -> None:
    """GET ``url`` until it answers at all (any status), ``tries`` times ``pause`` seconds
    apart; then give up with ``failure``."""
    for _ in range(tries):
        try:
            requests.get(url, timeout=timeout)
            return
        except requests.RequestException:
            time.sleep(pause)
    raise RuntimeError(failure)

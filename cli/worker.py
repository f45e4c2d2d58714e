"""`flask worker`: the worker process (worker/), until stopped."""

from __future__ import annotations

import logging
import signal
import threading

import click
from flask.cli import with_appcontext

import worker
from runtime.services import current

logger = logging.getLogger(__name__)


@click.command("worker")
@with_appcontext
def command() -> None:
    """Send queued messages until stopped (Ctrl-C)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        worker.run(current(), stop)
    except KeyboardInterrupt:
        stop.set()

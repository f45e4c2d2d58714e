"""The name a worker stores on what it leases (outbox rows, export jobs)."""

from __future__ import annotations

import logging
import os
import secrets
import socket

logger = logging.getLogger(__name__)


def worker_name() -> str:
    """A name no other worker has, on this machine or another: host, process, and a random
    part (a restarted process may get the same pid). Stored on what the worker leases."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}:{secrets.token_hex(4)}"

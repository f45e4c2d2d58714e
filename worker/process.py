"""The worker process (`flask --app wsgi worker`, `make worker`, and beside `make run`): the
outbox sent, followers' unionids learnt and the periodic jobs run in one loop, the desk's
exports made in a thread of their own, so that a long one never holds up a message."""

from __future__ import annotations

import logging
import threading
import time

from runtime.services import Services
from runtime.wechat_api import Client
from worker.exports import run_exports
from worker.name import worker_name
from worker.outbox_sender import send_due
from worker.periodic import run_counts, run_jobs
from worker.unionids import learn_unionids

logger = logging.getLogger(__name__)


def run(services: Services, stop: threading.Event, poll_seconds: float = 1.0,
        jobs_every_seconds: float = 60.0) -> None:
    """Send messages and run the periodic jobs until ``stop`` is set, with the exports made in
    a thread of their own (a province's ledger takes about 25 s; messages go out meanwhile),
    and a province's dashboard counts in another. Returns once all have stopped."""
    # All watch ``stop``: the export being made goes back to the queue at its next chunk.
    exports = threading.Thread(target=run_exports, args=(services, stop, poll_seconds),
                               name="peixun-exports", daemon=True)
    # A province's dashboard counts take tens of seconds a year: beside the sending, too.
    counts = threading.Thread(target=run_counts, args=(services, stop),
                              name="peixun-counts", daemon=True)
    exports.start()
    counts.start()
    try:
        send_loop(services, stop, poll_seconds, jobs_every_seconds)
    finally:
        stop.set()  # whatever ended the sending (Ctrl-C in the main thread) ends the others
        exports.join()
        counts.join()


def send_loop(services: Services, stop: threading.Event, poll_seconds: float = 1.0,
              jobs_every_seconds: float = 60.0) -> None:
    client = Client(services.config, services.kv)
    worker = worker_name()
    logger.info("outbox worker %s started", worker)
    next_jobs = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() >= next_jobs:
                logger.info("jobs: %s", run_jobs(services))
                next_jobs = time.monotonic() + jobs_every_seconds
            # Looked up every round, not with the minute's jobs: a new follower may open the
            # mini-program at once.
            handled = (send_due(services, client, worker=worker, stop=stop)
                       + learn_unionids(services, client))
        except Exception:
            logger.exception("worker round failed")
            handled = 0
        if not handled:
            stop.wait(poll_seconds)
    logger.info("outbox worker stopped")

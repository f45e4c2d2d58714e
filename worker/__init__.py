"""The worker process (`flask --app wsgi worker`, `make worker`; beside the server in `make
run`): process.py runs the loops; outbox_sender.py sends queued messages, unionids.py learns
followers' unionids, periodic.py runs the minute's jobs, exports.py makes the desk's exports
in a thread of its own; name.py names a worker on what it leases.

What the tests and the entry points call is here."""

import logging

from worker.exports import run_export_jobs, run_exports
from worker.name import worker_name
from worker.outbox_sender import deliver, send_due
from worker.periodic import follow_up, push_jobs, run_jobs
from worker.process import run, send_loop
from worker.unionids import learn_unionids

logger = logging.getLogger(__name__)

__all__ = [
           "deliver",
           "follow_up",
           "learn_unionids",
           "push_jobs",
           "run",
           "run_export_jobs",
           "run_exports",
           "run_jobs",
           "send_due",
           "send_loop",
           "worker_name",
]

"""The outbox worker: sends queued messages through WeChat's API, retries what failed before
reaching WeChat, falls back to a template message outside the 48-hour window, records every
failure, and never sends a message twice, save the one in flight when a worker dies (marked
uncertain: models.outbox). Beside it, in a thread of its own, it makes the desk's exports, so
that a long one never holds up a message.

Each message is leased just before its own call and its result recorded in a short transaction
of its own: a worker killed at any point leaves at most the one message it was sending, which
goes back to the queue when its lease runs out; a database that goes away ends the round, and
what was not reached stays in the queue for the next."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from redis.exceptions import RedisError
from wechatpy.exceptions import WeChatClientException

from bot import notices
from bot.followup import await_answer, may_ask
from bot.state import RECENT_SECONDS
from locales import translator
from models.export_jobs import remove_old_files
from models.followups import (
    create_due_followups,
    followup_of_reason,
    mark_asked,
    queue_followup_questions,
)
from models.jobs import push_due_openings
from models.outbox import (
    PRUNE_CHUNK,
    Attempt,
    OutboxStatus,
    begin_attempt,
    drop_if_refused,
    due_ids,
    held_row,
    postpone,
    prune_sent,
    record_attempt,
    take_lease,
    window_surely_closed,
)
from models.persons import (
    Person,
    claim_unionid_lookups,
    store_unionid,
    unionid_lookup_failed,
)
from models.progress import refresh_rollup, rollups_due
from models.vouchers import expire_vouchers, remind_expiring
from webhooks.ledger_exports import run_export_jobs
from webhooks.services import Services
from webhooks.wechat_api import Client

logger = logging.getLogger(__name__)

BATCH = 50
# Job pushes are queued this many people a transaction, at most PUSH_CHUNKS a round, so that a
# push to thousands advances every round, survives a crash (done chunks stay done) and never
# holds the worker long.
PUSH_CHUNK = 500
PUSH_CHUNKS = 10
# WeChat's answers that mean "not sent, and trying again later may work".
RETRYABLE_ERRCODES = {-1, 45009, 45047}
# "Customer message outside the 48-hour window": a template message may still be sent.
OUTSIDE_WINDOW_ERRCODES = {45015}


@dataclass(frozen=True)
class Outcome:
    status: OutboxStatus
    sent_as: str | None = None
    error: str | None = None
    errcode: int | None = None


def worker_name() -> str:
    """A name no other worker has, on this machine or another: host, process, and a random
    part (a restarted process may get the same pid). Stored on what the worker leases."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}:{secrets.token_hex(4)}"


def send_due(services: Services, client: Client, *, worker: str | None = None,
             stop: threading.Event | None = None) -> int:
    """Send the messages due now (and those whose worker's lease ran out), a batch at most;
    return how many were handled."""
    with services.sessions.begin() as db:
        ids = due_ids(db, now=services.clock.now(), limit=BATCH)
    return deliver(services, client, ids, worker=worker, stop=stop)


def deliver(services: Services, client: Client, ids: list[int], *, worker: str | None = None,
            stop: threading.Event | None = None) -> int:
    """Send these messages one by one, each leased just before its call (one another worker
    took meanwhile is skipped); return how many were handled. A result that cannot be
    recorded (the database went away) ends the round there: that message's lease runs out
    and it comes back, uncertain; the others were never touched and wait in the queue."""
    worker = worker or worker_name()
    for done, outbox_id in enumerate(ids):
        if stop is not None and stop.is_set():
            return done
        try:
            _deliver(services, client, outbox_id, worker)
        except _RoundOver:
            return done
    return len(ids)


class _RoundOver(Exception):
    """The database cannot record what happened: the round ends here."""


def _deliver(services: Services, client: Client, outbox_id: int, worker: str) -> None:
    try:
        with services.sessions.begin() as db:
            attempt = take_lease(db, outbox_id=outbox_id, worker=worker,
                                 now=services.clock.now())
    except Exception:
        logger.exception("outbox %s: no lease taken (database unavailable?)", outbox_id)
        raise _RoundOver from None
    if attempt is None:
        return  # sent or taken by another worker meanwhile, or left alone after a doubt
    # The access token, fetched now if need be: whatever goes wrong, WeChat has nothing yet.
    ready = _attempt(client.has_token, "token")
    if ready.status is not OutboxStatus.SENT:
        _record(services, attempt, Outcome(OutboxStatus.PENDING, error=ready.error))
        return
    try:
        message = _prepare(services, attempt)
    except Exception:
        # Whatever broke (the database, a notice's wording), nothing reached WeChat: the row
        # goes back to the queue, or, if that cannot be written, its lease runs out.
        logger.exception("outbox %s not delivered; will retry", outbox_id)
        _record(services, attempt, Outcome(OutboxStatus.PENDING,
                                           error="internal error before sending"))
        return
    if message is None:
        return
    outcome = _send(services, client, message.openid, message.text, message.template,
                    message.window_closed)
    _record(services, attempt, outcome, followup_id=message.followup_id, openid=message.openid)


@dataclass(frozen=True)
class _Message:
    openid: str
    text: str
    template: dict | None
    window_closed: bool
    followup_id: int | None


def _prepare(services: Services, attempt: Attempt) -> _Message | None:
    """Word the message and say the call begins (in one short transaction); None when it is
    not to be sent now (dropped, or postponed)."""
    with services.sessions.begin() as db:
        row = held_row(db, attempt)
        if row is None:
            return None
        person = db.get(Person, row.person_id)
        # Checked again now: 退订 (or leaving, or withdrawing consent) may have come after the
        # row was queued.
        if drop_if_refused(row, person):
            logger.info("outbox %s dropped: %s", row.id, row.last_error)
            return None
        followup_id = followup_of_reason(row.reason)
        now = services.clock.now()
        if followup_id is not None and not may_ask(services.kv, row.openid, now):
            # The person's next digit answers what they were just shown: ask a bit later.
            postpone(row, until=now + timedelta(seconds=RECENT_SECONDS))
            return None
        t = translator(person.locale)
        message = _Message(
            openid=row.openid,
            text=row.text or notices.word(t, row.notice, row.params or {}),
            template=row.template or notices.template(t, row.notice, row.params or {}),
            # Decided now, not when queued: a message may wait (retries, a long push) while
            # the person writes to us, or while their window closes.
            window_closed=window_surely_closed(person.last_seen_at, now),
            followup_id=followup_id)
        begin_attempt(row, now=now)
    return message


def _record(services: Services, attempt: Attempt, outcome: Outcome, *,
            followup_id: int | None = None, openid: str | None = None) -> None:
    """Record an attempt's result in a short transaction of its own. When that fails, the
    round ends; the lease runs out and the row comes back (marked uncertain if the call was
    made)."""
    now = services.clock.now()
    try:
        with services.sessions.begin() as db:
            row = record_attempt(db, attempt=attempt, status=outcome.status, now=now,
                                 sent_as=outcome.sent_as, error=outcome.error)
            if row is not None and row.status is OutboxStatus.SENT and followup_id is not None:
                mark_asked(db, followup_id=followup_id, now=now)
    except Exception:
        logger.exception("outbox %s: result %s not recorded; back in the queue when its "
                         "lease runs out", attempt.outbox_id, outcome.status.value)
        raise _RoundOver from None
    if row is not None and row.status is OutboxStatus.SENT and followup_id is not None:
        await_answer(services.kv, openid, followup_id, now)  # its digits answer it now


def learn_unionids(services: Services, client: Client) -> int:
    """Ask WeChat's user-info API for the unionid of people who just followed, a batch at a
    time, outside any transaction; return how many were asked. A refusal (an errcode inside
    a 200) or no answer is recorded and tried again later; nothing here stops the worker."""
    with services.sessions.begin() as db:
        asks = claim_unionid_lookups(db, now=services.clock.now(), limit=BATCH)
    for ask in asks:
        try:
            info = client.user.get(ask.openid)
            with services.sessions.begin() as db:
                store_unionid(db, person_id=ask.person_id, openid=ask.openid,
                              unionid=info.get("unionid"), now=services.clock.now())
        except Exception as error:
            detail = (f"{error.errcode} {error.errmsg}" if isinstance(error, WeChatClientException)
                      else type(error).__name__)
            logger.warning("unionid of person %s not learnt: %s", ask.person_id, detail)
            try:
                with services.sessions.begin() as db:
                    unionid_lookup_failed(db, person_id=ask.person_id, error=detail,
                                          now=services.clock.now())
            except Exception:
                # Already pushed back when claimed: it comes round again anyway.
                logger.exception("unionid lookup of person %s not recorded", ask.person_id)
    return len(asks)


def run_jobs(services: Services) -> dict[str, int]:
    """The periodic work: vouchers that expire, holders to remind. Each job is safe to run
    again at any time, by any number of workers."""
    now = services.clock.now()
    done = {}
    for name, job in (("expired", expire_vouchers), ("reminded", remind_expiring)):
        with services.sessions.begin() as db:
            done[name] = job(db, now=now)
    done["job_pushes"] = push_jobs(services, now)
    with services.sessions.begin() as db:
        done["export_files_removed"] = remove_old_files(db, now=now)
    done["outbox_pruned"] = prune_outbox(services, now)
    done["rollups_counted"] = count_rollups(services, now)
    done.update(follow_up(services, now))
    return done


def count_rollups(services: Services, now: datetime) -> int:
    """A province's years of dashboard counts, counted ahead (models.progress.refresh_rollup),
    a year a transaction, every ROLLUP_EVERY."""
    with services.sessions.begin() as db:
        years = rollups_due(db, now=now)
    for year in years:
        with services.sessions.begin() as db:
            refresh_rollup(db, now=now, year=year)
    return len(years)


def prune_outbox(services: Services, now: datetime) -> int:
    """Delete messages sent long ago (models.outbox.prune_sent), a chunk a transaction, at
    most PUSH_CHUNKS chunks a round."""
    pruned = 0
    for _ in range(PUSH_CHUNKS):
        with services.sessions.begin() as db:
            chunk = prune_sent(db, now=now)
        pruned += chunk
        if chunk < PRUNE_CHUNK:
            break
    return pruned


def follow_up(services: Services, now: datetime) -> dict[str, int]:
    """Make the follow-up rounds that fell due and queue their questions, a chunk a
    transaction (resumable: what is done stays done), at most PUSH_CHUNKS chunks a round."""
    done = {"followups_created": 0, "followups_queued": 0}
    for name, job in (
            ("followups_created", lambda db: create_due_followups(
                db, now=now, rounds=services.config.followup_months, limit=PUSH_CHUNK)),
            ("followups_queued", lambda db: queue_followup_questions(
                db, now=now, limit=PUSH_CHUNK))):
        for _ in range(PUSH_CHUNKS):
            with services.sessions.begin() as db:
                chunk = job(db)
            done[name] += chunk
            if chunk < PUSH_CHUNK:
                break
    return done


def push_jobs(services: Services, now: datetime) -> int:
    """Queue job pushes chunk by chunk, each in its own transaction, until a chunk is short."""
    queued = 0
    for _ in range(PUSH_CHUNKS):
        with services.sessions.begin() as db:
            chunk = push_due_openings(db, now=now, limit=PUSH_CHUNK)
        queued += chunk
        if chunk < PUSH_CHUNK:
            break
    return queued


def run(services: Services, stop: threading.Event, poll_seconds: float = 1.0,
        jobs_every_seconds: float = 60.0) -> None:
    """Send messages and run the periodic jobs until ``stop`` is set, with the exports made in
    a thread of its own (a province's ledger takes about 25 s; messages go out meanwhile).
    Returns once both have stopped."""
    # Both watch ``stop``: the export being made goes back to the queue at its next chunk.
    exports = threading.Thread(target=run_exports, args=(services, stop, poll_seconds),
                               name="peixun-exports", daemon=True)
    exports.start()
    try:
        send_loop(services, stop, poll_seconds, jobs_every_seconds)
    finally:
        stop.set()  # whatever ended the sending (Ctrl-C in the main thread) ends the exports
        exports.join()


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


def run_exports(services: Services, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """Make queued exports one after another until ``stop`` is set; a queued one is taken up
    within ``poll_seconds``. Any number of these may run, in one process or many."""
    worker = worker_name()
    logger.info("export worker %s started", worker)
    while not stop.is_set():
        try:
            made = run_export_jobs(services, stop=stop, worker=worker)
        except Exception:
            logger.exception("export round failed")
            made = 0
        if not made:
            stop.wait(poll_seconds)
    logger.info("export worker stopped")


def _send(services: Services, client: Client, openid: str, text: str,
          template: dict | None, window_closed: bool = False) -> Outcome:
    template_id = services.config.wechat_notice_template_id
    if window_closed and template and template_id:
        # No point asking WeChat for a customer message it must refuse.
        return _attempt(lambda: client.message.send_template(
            openid, template_id, template.get("data", {}), url=template.get("url")), "template")
    outcome = _attempt(lambda: client.message.send_text(openid, text), "customer")
    if outcome.errcode not in OUTSIDE_WINDOW_ERRCODES:
        return outcome
    if not template or not template_id:
        return Outcome(OutboxStatus.FAILED, error=f"{outcome.error}; no template to fall back on")
    return _attempt(lambda: client.message.send_template(
        openid, template_id, template.get("data", {}), url=template.get("url")), "template")


def _attempt(call: Callable[[], object], sent_as: str) -> Outcome:
    try:
        call()
        return Outcome(OutboxStatus.SENT, sent_as=sent_as)
    except WeChatClientException as error:
        # WeChat answers most failures with an errcode inside a 200: never count them as sent.
        detail = f"{error.errcode} {error.errmsg}"[:300]
        status = (OutboxStatus.PENDING if error.errcode in RETRYABLE_ERRCODES
                  else OutboxStatus.FAILED)
        return Outcome(status, error=detail, errcode=error.errcode)
    except requests.ConnectionError as error:
        # Nothing reached WeChat: safe to try again.
        return Outcome(OutboxStatus.PENDING, error=f"connection: {type(error).__name__}")
    except RedisError as error:
        # The shared access token lives in Redis and is read before any call: nothing sent.
        return Outcome(OutboxStatus.PENDING, error=f"redis: {type(error).__name__}")
    except requests.RequestException as error:
        # It may have been delivered (a timeout after sending): uncertain, sent again or not
        # by its kind (models.outbox.resend_after_doubt).
        return Outcome(OutboxStatus.UNCERTAIN, error=f"unknown outcome: {type(error).__name__}")
    except Exception as error:
        logger.exception("unexpected failure of a WeChat call")
        return Outcome(OutboxStatus.UNCERTAIN, error=f"unknown outcome: {type(error).__name__}")



"""The outbox worker: sends queued messages through WeChat's API, retries what failed before
reaching WeChat, falls back to a template message outside the 48-hour window, records every
failure, and never sends a message twice. Beside it, in a thread of its own, it makes the
desk's exports, so that a long one never holds up a message."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
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
    Outbox,
    OutboxStatus,
    claim_due,
    drop_if_refused,
    postpone,
    window_surely_closed,
)
from models.persons import (
    Person,
    claim_unionid_lookups,
    store_unionid,
    unionid_lookup_failed,
)
from models.vouchers import expire_vouchers, remind_expiring
from webhooks.ledger_exports import run_export_jobs
from webhooks.services import Services
from webhooks.wechat_api import Client

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
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


def send_due(services: Services, client: Client) -> int:
    """Send every message that is due now; return how many were handled."""
    ids = _claim(services)
    deliver(services, client, ids)
    return len(ids)


def deliver(services: Services, client: Client, ids: list[int]) -> None:
    """Send messages already claimed (claim_due), one by one."""
    for outbox_id in ids:
        try:
            _deliver(services, client, outbox_id)
        except Exception:
            # Whatever broke (Redis for the token, a notice's wording), nothing reached
            # WeChat: put the row back to be tried later rather than leave it "sending".
            logger.exception("outbox %s not delivered; will retry", outbox_id)
            _retry_later(services, outbox_id)


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
    done.update(follow_up(services, now))
    return done


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
    logger.info("outbox worker started")
    next_jobs = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() >= next_jobs:
                logger.info("jobs: %s", run_jobs(services))
                next_jobs = time.monotonic() + jobs_every_seconds
            # Looked up every round, not with the minute's jobs: a new follower may open the
            # mini-program at once.
            handled = send_due(services, client) + learn_unionids(services, client)
        except Exception:
            logger.exception("worker round failed")
            handled = 0
        if not handled:
            stop.wait(poll_seconds)
    logger.info("outbox worker stopped")


def run_exports(services: Services, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """Make queued exports one after another until ``stop`` is set; a queued one is taken up
    within ``poll_seconds``. Any number of these may run, in one process or many."""
    logger.info("export worker started")
    while not stop.is_set():
        try:
            made = run_export_jobs(services, stop=stop)
        except Exception:
            logger.exception("export round failed")
            made = 0
        if not made:
            stop.wait(poll_seconds)
    logger.info("export worker stopped")


def _claim(services: Services) -> list[int]:
    with services.sessions.begin() as db:
        return claim_due(db, now=services.clock.now(), limit=BATCH)


def _deliver(services: Services, client: Client, outbox_id: int) -> None:
    with services.sessions.begin() as db:
        row = db.get(Outbox, outbox_id)
        person = db.get(Person, row.person_id)
        # Checked again now: 退订 (or leaving, or withdrawing consent) may have come after the
        # row was claimed.
        if drop_if_refused(row, person):
            logger.info("outbox %s dropped: %s", row.id, row.last_error)
            return
        followup_id = followup_of_reason(row.reason)
        now = services.clock.now()
        if followup_id is not None and not may_ask(services.kv, row.openid, now):
            # The person's next digit answers what they were just shown: ask a bit later.
            postpone(row, until=now + timedelta(seconds=RECENT_SECONDS))
            return
        t = translator(person.locale)
        openid, attempts = row.openid, row.attempts
        text = row.text or notices.word(t, row.notice, row.params or {})
        template = row.template or notices.template(t, row.notice, row.params or {})
        # Decided now, not when queued: a message may wait (retries, a long push) while the
        # person writes to us, or while their window closes.
        closed = window_surely_closed(person.last_seen_at, now)
    outcome = _send(services, client, openid, text, template, closed)
    now = services.clock.now()
    with services.sessions.begin() as db:
        row = db.get(Outbox, outbox_id)
        _record(row, outcome, attempts, now)
        if row.status is OutboxStatus.SENT and followup_id is not None:
            mark_asked(db, followup_id=followup_id, now=now)
            await_answer(services.kv, openid, followup_id, now)  # its digits answer it now


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
    except requests.RequestException as error:
        # It may have been delivered (a timeout after sending): never risk a second copy.
        return Outcome(OutboxStatus.FAILED, error=f"unknown outcome: {type(error).__name__}")


def _retry_later(services: Services, outbox_id: int) -> None:
    now = services.clock.now()
    with services.sessions.begin() as db:
        row = db.get(Outbox, outbox_id)
        _record(row, Outcome(OutboxStatus.PENDING, error="internal error before sending"),
                row.attempts, now)


def _record(row: Outbox, outcome: Outcome, attempts: int, now: datetime) -> None:
    row.last_error = outcome.error
    if outcome.status is OutboxStatus.SENT:
        row.status = OutboxStatus.SENT
        row.sent_at = now
        row.sent_as = outcome.sent_as
        logger.info("outbox %s sent as %s", row.id, outcome.sent_as)
    elif outcome.status is OutboxStatus.PENDING and attempts < MAX_ATTEMPTS:
        row.status = OutboxStatus.PENDING
        row.next_attempt_at = now + timedelta(seconds=15 * 2**attempts)
        logger.warning("outbox %s not sent (%s); retry %s", row.id, outcome.error, attempts)
    else:
        row.status = OutboxStatus.FAILED
        logger.warning("outbox %s failed: %s", row.id, outcome.error)

"""Job openings in the chat (招聘 / jobs): the current ones, those matching the person first;
and the one stop state for every broadcast (退订 / 订阅)."""

from __future__ import annotations

import logging

from bot.intents import Intent
from bot.replies import Reply
from bot.turn import Turn
from models.audit import Channel
from models.errors import JobOpeningNotFound
from models.jobs import JobOpening, get_opening, openings_for
from models.outbox import resubscribe, unsubscribe
from models.persons import Sender

logger = logging.getLogger(__name__)

SHOWN = 5


def list_openings(turn: Turn, intent: Intent) -> Reply:
    t = turn.t
    listed = turn.run(openings_for, person_id=turn.person.id, today=turn.today(), limit=SHOWN)
    if not listed:
        return Reply(text=t._("No job openings right now. The labour bureau posts new ones "
                              "here; reply “招聘” again in a few days."))
    lines = [t._("Job openings (matching you first):")]
    for n, item in enumerate(listed, 1):
        job = item.opening
        mark = "★ " if item.is_match else ""
        lines.append(f"{n}. {mark}{job.occupation} · {job.employer}")
        lines.append("   " + t._("%(place)s · %(wage)s · until %(day)s",
                                 place=job.where(t.locale), wage=job.wage,
                                 day=t.short_day(job.valid_until)))
    if any(item.is_match for item in listed):
        lines.append(t._("★ suits your training, work intent or township."))
    lines.append("")
    lines.append(t._("Reply with a number for the contact."))
    return Reply(text="\n".join(lines),
                 choices=tuple(Intent("JOB", str(item.opening.id)) for item in listed))


def opening_details(turn: Turn, intent: Intent) -> Reply:
    t = turn.t
    try:
        job = turn.run(get_opening, job_id=int(intent.arg or 0), today=turn.today())
    except JobOpeningNotFound:
        return Reply(text=t._("This opening has been taken down or has ended. Reply “招聘” "
                              "for the current ones."))
    return Reply(text="\n".join([
        f"{job.occupation} · {job.employer}",
        *([t._("Category: %(category)s", category=job.category.display_name(t.locale))]
          if job.category else []),
        t._("Place: %(place)s", place=job.where(t.locale)),
        t._("Pay: %(wage)s", wage=job.wage),
        t._("Contact: %(contact)s", contact=job.contact),
        t._("Valid until %(day)s", day=t.day(job.valid_until)),
        "",
        _stop_hint(turn, job),
    ]))


def _stop_hint(turn: Turn, job: JobOpening) -> str:
    if turn.person.unsubscribed_at is not None:
        return turn.t._("You receive no job messages; reply “订阅” to receive them again.")
    return turn.t._("Reply “招聘” for the list, or “退订” to stop receiving job messages.")


def stop_broadcasts(turn: Turn, intent: Intent) -> Reply:
    turn.person = Sender.of(turn.run(unsubscribe, person_id=turn.person.id,
                                     channel=Channel.WECHAT, now=turn.now()))
    return Reply(text=turn.t._(
        "Unsubscribed: we will send you no more job openings or other announcements. Messages "
        "about your own vouchers and classes still come. Reply “订阅” to receive them again."))


def resume_broadcasts(turn: Turn, intent: Intent) -> Reply:
    turn.person = Sender.of(turn.run(resubscribe, person_id=turn.person.id,
                                     channel=Channel.WECHAT, now=turn.now()))
    return Reply(text=turn.t._(
        "Subscribed: you will receive job openings that suit you again, at most one a day. "
        "Reply “退订” to stop."))

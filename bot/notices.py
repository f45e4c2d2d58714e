"""What the outbox tells people, worded in their language when the worker sends it: the
domain queues a notice's name and its data, never sentences."""

from __future__ import annotations

from typing import Any

from bot.labels import GROUPS
from locales import N_, Translator
from models.persons import Group

NOTICES: dict[str, str] = {
    "voucher_redeemed": N_(
        "Your training voucher for “%(course)s” has been redeemed: you are enrolled. Check in "
        "at every class with the 签到 menu."),
    "voucher_completed": N_(
        "Congratulations, you have completed “%(course)s”. Certificate number: "
        "%(certificate_no)s. Reply “补贴” to see the subsidies you can get."),
    "voucher_failed": N_(
        "You have finished “%(course)s”, but the appraisal was not passed, so no certificate "
        "was issued. Ask the institution about a second attempt."),
    "voucher_expiring": N_(
        "Your training voucher for “%(course)s” expires tomorrow. Go to the institution with "
        "your ID card and show the voucher code to enrol (menu 我的培训券)."),
    "voucher_expired": N_(
        "Your training voucher for “%(course)s” has expired because it was not used in time; "
        "the seat is free for someone else. Reply “课程” to choose another course."),
    "group_verified": N_(
        "The labour bureau has verified that you are %(group)s. Reply “补贴” to see what you "
        "can get now."),
    "group_rejected": N_(
        "The labour bureau could not confirm that you are %(group)s. If you think this is "
        "wrong, bring your documents to the county public employment service centre."),
    "voucher_revoked": N_(
        "Your training voucher for “%(course)s” was revoked by the labour bureau: %(reason)s"),
}


def word(t: Translator, notice: str, params: dict[str, Any]) -> str:
    values = dict(params)
    if t.locale.startswith("en") and "course_en" in values:
        values["course"] = values["course_en"]
    if "group" in values:
        values["group"] = t._(GROUPS[Group(values["group"])])
    return t._(NOTICES[notice], **values)

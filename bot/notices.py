"""What the outbox tells people, worded in their language when the worker sends it: the
domain queues a notice's name and its data, never sentences."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from bot import followup
from locales import N_, Translator
from models.persons import Group
from vocabulary.labels import GROUPS

logger = logging.getLogger(__name__)

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
    "job_opening": N_(
        "New job opening: %(occupation)s at %(employer)s\nPlace: %(place)s\nPay: %(wage)s\n"
        "Contact: %(contact)s (until %(valid_until)s)\nReply “招聘” for more openings, or "
        "“退订” to stop receiving them."),
}


def _job_template(t: Translator, values: dict[str, Any]) -> dict[str, str]:
    return {
        "first": t._("New job opening: %(occupation)s", **values),
        "keyword1": values["employer"],
        "keyword2": f"{values['place']} · {values['wage']}",
        "remark": t._("Contact: %(contact)s (until %(valid_until)s). Reply “招聘” for more "
                      "openings, or “退订” to stop receiving them.", **values),
    }


# Notices that may go as a template message when the 48-hour window has closed: the fields of
# the account's one notice template (WECHAT_NOTICE_TEMPLATE_ID), worded like the notice.
TEMPLATES: dict[str, Callable[[Translator, dict[str, Any]], dict[str, str]]] = {
    "job_opening": _job_template,
}


# Notices worded by a function rather than one message: a question with its numbered answers.
COMPOSED: dict[str, Callable[[Translator, dict[str, Any]], str]] = {
    "followup_question": followup.question,
}
TEMPLATES["followup_question"] = followup.template_fields


def word(t: Translator, notice: str, params: dict[str, Any]) -> str:
    if notice in COMPOSED:
        return COMPOSED[notice](t, _values(t, params))
    return t._(NOTICES[notice], **_values(t, params))


def template(t: Translator, notice: str | None, params: dict[str, Any]) -> dict | None:
    """The template message a notice falls back on outside the 48-hour window, if it has one."""
    fields = TEMPLATES.get(notice or "")
    if fields is None:
        return None
    return {"data": {name: {"value": value}
                     for name, value in fields(t, _values(t, params)).items()}}


def _values(t: Translator, params: dict[str, Any]) -> dict[str, Any]:
    values = dict(params)
    if t.locale.startswith("en"):  # "course_en" stands in for "course", and so on
        values.update({name[:-3]: value for name, value in params.items()
                       if name.endswith("_en")})
    if "group" in values:
        values["group"] = t._(GROUPS[Group(values["group"])])
    if "valid_until" in values:
        values["valid_until"] = t.day(date.fromisoformat(values["valid_until"]))
    return values

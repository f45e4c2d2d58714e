"""Domain errors in the person's words: one table, by the error's code and reason, read by the
chat (bot/errors.py) and the API (webhooks/api/errors.py) alike, so a refusal reads the same in
both."""

from __future__ import annotations

import logging
from datetime import datetime

from locales import N_, Translator
from models.errors import DomainError
from models.vouchers import VoucherStatus
from vocabulary.labels import VOUCHER_STATUSES

logger = logging.getLogger(__name__)

# (code, reason) -> message; reason None matches any reason of that code.
ERROR_REPLIES: dict[tuple[str, str | None], str] = {
    ("invalid_name", None): N_(
        "Please write your name as on your ID card: 2 to 30 Chinese characters or letters."),
    ("invalid_id_number", "length"): N_(
        "An ID card number has 18 characters; you wrote %(length)s. Please check it and "
        "write it again."),
    ("invalid_id_number", "format"): N_(
        "The first 17 characters of an ID card number are digits and the last one is a "
        "digit or X. Please write it again."),
    ("invalid_id_number", "checksum"): N_(
        "The 18th character (the check digit) of this ID card number is wrong. Please check "
        "it and write it again."),
    ("invalid_id_number", "birth_date"): N_(
        "The birth date inside this ID card number does not exist. Please check it and "
        "write it again."),
    ("invalid_id_number", "region"): N_(
        "The first two digits (the province) of this ID card number are wrong. Please check "
        "it and write it again."),
    ("invalid_id_number", "age"): N_(
        "By this ID card number the person is not yet 16, the age to join vocational "
        "training."),
    ("invalid_phone", "needed"): N_(
        "A mobile number is needed to register on your own WeChat. If you have no mobile "
        "phone, ask your village cadre to register you (代报名): they will be your contact."),
    ("invalid_answer", "id_last"): N_(
        "Reply with the last %(n)s characters of the number on the ID card, for example 0133 "
        "or 123X."),
    ("id_check_failed", None): N_(
        "These are not the last %(chars)s characters of this person's ID card number. Read them "
        "from the ID card the person shows (not from the paper voucher); nothing was redeemed."),
    ("claim_refused", "cost_not_accepted"): N_(
        "No training subsidy pays for this course for you (%(source)s): it costs you %(fee)s "
        "yuan, or is free only to those a subsidy covers. Confirm that you accept this to "
        "claim the voucher anyway."),
    ("claim_refused", "not_your_neighbour"): N_(
        "You can claim vouchers only for the neighbours you registered yourself (代报名)."),
    ("claim_refused", "has_wechat"): N_(
        "This neighbour has their own WeChat now: they claim their vouchers themselves (领券)."),
    ("claim_refused", "no_consent"): N_(
        "Without the neighbour's consent no voucher is claimed for them; nothing was saved. "
        "(%(source)s)"),
    ("trainee_not_found", "none"): N_(
        "No enrolled trainee named “%(name)s” has a class of yours today. Write the voucher "
        "number instead (点名 lists them)."),
    ("trainee_not_found", "several"): N_(
        "Several enrolled trainees are named “%(name)s”: write the voucher number instead "
        "(点名 lists them)."),
    ("mark_refused", "has_wechat"): N_(
        "%(name)s has their own WeChat and checks in by scanning: “无智能手机” is only for "
        "trainees without it. Mark them with another reason. (%(source)s)"),
    ("invalid_phone", None): N_(
        "A mobile number has 11 digits and starts with 1 (for example 13812345678). Please "
        "write it again."),
    ("invalid_answer", "choice"): N_("Please reply with one of the numbers in the list."),
    ("invalid_answer", "township"): N_(
        "That township is not in the list. Please reply with its number or its name."),
    ("invalid_answer", "residence"): N_(
        "That township is not in the list. Please reply with its number or its name."),
    ("invalid_answer", "job_place"): N_(
        "That township is not in the list. Please reply with its number or its name."),
    ("invalid_answer", "place"): N_(
        "Please write the place with its province, city and county, for example 贵州省盘州市 "
        "(2 to 30 characters)."),
    ("invalid_answer", "household"): N_(
        "Give the household registration once: a township of the county, or the place "
        "elsewhere."),
    ("id_number_taken", None): N_(
        "This ID card number is already registered. If it is yours, please bring your ID "
        "card to the county public employment service centre; they will sort it out."),
    ("id_number_awaits_binding", None): N_(
        "A village cadre has registered this ID card number for you. Ask them for your "
        "binding code and reply “绑定 code” (for example 绑定 123456)."),
    ("invitation_invalid", None): N_(
        "This code is not valid: it may be used already or expired. Please ask for a new "
        "one."),
    ("not_a_cadre", None): N_(
        "This service is for village cadres. A cadre binds their WeChat by scanning the "
        "invitation code from the county labour bureau."),
    ("not_registered", None): N_("Please register first: reply “注册”."),
    ("claim_refused", "course_closed"): N_(
        "This course takes no more vouchers: it has started or closed. (%(source)s)"),
    ("claim_refused", "already_holds"): N_(
        "You already have a voucher for this course. Reply “我的培训券” to see it."),
    ("claim_refused", "same_occupation_level"): N_(
        "The same occupation at the same level is subsidized only once, and you have “%(course)s”."
        " (%(source)s)"),
    ("claim_refused", "overlap"): N_(
        "This course's dates overlap “%(course)s”, which you are taking. (%(source)s)"),
    ("claim_refused", "yearly_cap"): N_(
        "A person may take at most %(limit)s subsidized trainings a year, and you have %(limit)s "
        "in %(year)s. (%(source)s)"),
    ("claim_refused", "no_seats"): N_(
        "This course is full. Reply “课程” for other courses. (%(source)s)"),
    ("claim_refused", "budget"): N_(
        "This year's places for this kind of training are used up. (%(source)s)"),
    ("not_staff_or_cadre", None): N_(
        "Only staff of a training institution and village cadres can ask what an employer "
        "gets. Employers ask the county employment service centre."),
    ("employer_question_invalid", "training"): N_(
        "No subsidy in force pays an employer for this kind of training."),
    ("employer_question_invalid", "workers"): N_(
        "Give the number of workers as a whole number from 1 to %(max)s."),
    ("employer_question_invalid", "months"): N_(
        "Give the months as a whole number from 1 to %(max)s."),
    ("employer_question_invalid", "level"): N_(
        "A level is given only for a skill-level certificate."),
    ("not_staff", None): N_(
        "Only staff of a training institution can redeem vouchers. Staff bind their WeChat "
        "with the invitation code from the labour bureau."),
    ("code_invalid", "foreign"): N_("This is not a %(expected)s code."),
    ("code_invalid", "forged"): N_("This code has been altered; it is not valid."),
    ("code_invalid", "stale"): N_(
        "This code is too old (a screenshot does not work). Scan the code shown on the "
        "screen now."),
    ("voucher_not_found", None): N_("There is no such voucher."),
    ("voucher_wrong_institution", None): N_(
        "This voucher is for another institution's course; it cannot be redeemed here."),
    ("voucher_already_redeemed", None): N_(
        "This voucher was redeemed already, at %(at)s; it cannot be redeemed twice."),
    ("voucher_not_redeemable", None): N_("This voucher is %(status)s and cannot be redeemed."),
    ("voucher_not_redeemable", "institution_suspended"): N_(
        "Your institution is suspended and takes no new trainees."),
    ("invitation_invalid", "too_many_tries"): N_(
        "Too many wrong codes today. Ask the cadre to check the code, or try again tomorrow."),
    ("voucher_state_wrong", None): N_("This voucher is %(status)s; that cannot be done now."),
    ("check_in_refused", "not_open"): N_(
        "This class has not been opened for check-in. Ask the teacher to open it (开课)."),
    ("check_in_refused", "not_enrolled"): N_(
        "You are not enrolled in “%(course)s”: only trainees whose voucher the institution "
        "has redeemed can check in. (%(source)s)"),
    ("check_in_refused", "mark_not_enrolled"): N_(
        "This trainee's voucher for “%(course)s” is not redeemed, so no attendance can be "
        "recorded for them. (%(source)s)"),
    ("check_in_refused", "window"): N_(
        "Check-in is open from 15 minutes before the class starts until 30 minutes after. "
        "(%(source)s)"),
    ("check_in_refused", "location_needed"): N_(
        "This class checks in at its place: send your location first (tap + then 位置 / "
        "Location), then scan the code again."),
    ("check_in_refused", "too_far"): N_(
        "You seem to be %(metres)s m from the class; check-in works within %(radius)s m. If "
        "you are in the room, send your location again and scan once more."),
    ("already_checked_in", None): N_(
        "You have already checked in to this session, at %(at)s."),
    ("no_session_today", None): N_("Your institution has no class session left today."),
    ("class_wrong_institution", None): N_(
        "“%(course)s” is another institution's class; you can only act on your own classes."),
    ("headcount_refused", "range"): N_(
        "Write how many people you see in the room, a number from 0 to %(limit)s, for example "
        "人数 23."),
    ("headcount_refused", "not_running"): N_(
        "“%(course)s” is not running now. Count the people in the room while the class is open "
        "(开课), from 15 minutes before it starts until 30 minutes after it ends."),
    ("several_classes_now", None): N_(
        "Several classes run now (%(codes)s): name one, for example 开课 %(codes)s."),
    ("not_inspector", None): N_("Only inspectors of the labour bureau can do this."),
    ("screen_confirmation_refused", "expired"): N_(
        "This screen's confirmation code is more than %(minutes)s minutes old. Scan the new "
        "code the screen shows now."),
    ("screen_confirmation_refused", "not_staff"): N_(
        "Only staff of the class's training institution can confirm a class display's screen. "
        "This code does not check anyone in."),
    ("screen_confirmation_refused", "other_institution"): N_(
        "This class display belongs to another institution's class: only its own staff can "
        "confirm its screen."),
    ("screen_confirmation_refused", "session_over"): N_(
        "This class session is over and its display is closed."),
    ("screen_confirmation_refused", "unknown_screen"): N_(
        "This confirmation code is not valid. Reload the page on the screen and scan its new "
        "code."),
    ("attendance_short", None): N_(
        "Not enough attendance to complete: %(attended)s hours in sessions that have ended, of "
        "the %(needed)s needed. (%(source)s)"),
    ("sessions_not_over", None): N_(
        "Not all the sessions needed are over yet, so completion must wait: only sessions that "
        "have ended count, %(attended)s hours so far of the %(needed)s needed. Completion can "
        "be recorded from %(until)s. (%(source)s)"),
    ("mark_refused", "not_open"): N_(
        "This session of “%(course)s” has not been opened (开课), so no one can be marked by "
        "hand. Open the class first; marks by hand are possible from %(opens)s until "
        "%(closes)s. (%(source)s)"),
    ("mark_refused", "not_started"): N_(
        "The next session of “%(course)s” has not begun: no mark by hand before the class. "
        "Marks by hand are possible from %(opens)s until %(closes)s, once the class is opened "
        "(开课). (%(source)s)"),
    ("mark_refused", "too_late"): N_(
        "The last session of “%(course)s” is over: marks by hand were possible only until "
        "%(closes)s, a short while after it ended. (%(source)s)"),
    ("grace_period_over", None): N_(
        "An enrolment can only be undone within %(hours)s hours. Ask the labour bureau."),
    ("followup_not_found", None): N_("This follow-up question is not yours or no longer open."),
    ("followup_refused", "not_visitor"): N_(
        "Only village cadres and training institution staff can record a follow-up visit."),
    ("followup_refused", "not_yours"): N_(
        "You can record visits only for your institution's trainees (staff) or for the people "
        "you brought in or registered (cadres)."),
    ("followup_refused", "not_finished"): N_(
        "This voucher's training is not completed, so there is no follow-up for it."),
    ("followup_refused", "too_early"): N_(
        "No follow-up is due yet for this voucher; rounds fall due some months after the "
        "course ends."),
    ("followup_refused", "rating"): N_("Please reply with a number from 1 to 5."),
    ("followup_refused", "opinion_too_long"): N_(
        "Please keep it to one sentence of at most %(limit)s characters."),
}
FALLBACK = N_("Sorry, that could not be done.")
# Data that are moments (ISO strings), written in the person's words.
MOMENTS = ("at", "opens", "closes", "until")
# What a scanned code should have been, by its prefix (models.codes.RotatingCode).
CODE_KINDS = {"PXV": N_("training voucher"), "PXC": N_("class check-in"),
              "PXP": N_("paper training voucher")}


def explain_in(t: Translator, error: DomainError) -> str:
    """The error in words, for any channel that speaks through a translator (the API too)."""
    reason = error.data.get("reason") or error.data.get("rule")
    message = ERROR_REPLIES.get((error.code, reason)) or ERROR_REPLIES.get((error.code, None))
    params = {k: v for k, v in error.data.items() if isinstance(v, (str, int))}
    for key in MOMENTS:
        if isinstance(params.get(key), str) and params[key]:
            params[key] = t.moment(datetime.fromisoformat(params[key]))
    kind = CODE_KINDS.get(params.get("expected", ""))
    if kind:
        params["expected"] = t._(kind)
    if "status" in params:
        params["status"] = t._(VOUCHER_STATUSES[VoucherStatus(params["status"])])
    return t._(message or FALLBACK, **params)

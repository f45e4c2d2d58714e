"""Domain errors in the person's words: one table, by the error's code and reason."""

from __future__ import annotations

from bot.turn import Turn
from locales import N_
from models.errors import DomainError

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
    ("invalid_phone", None): N_(
        "A mobile number has 11 digits and starts with 1 (for example 13812345678). Please "
        "write it again."),
    ("invalid_answer", "choice"): N_("Please reply with one of the numbers in the list."),
    ("invalid_answer", "township"): N_(
        "That township is not in the list. Please reply with its number or its name."),
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
}
FALLBACK = N_("Sorry, that could not be done.")


def explain(turn: Turn, error: DomainError) -> str:
    reason = error.data.get("reason")
    message = ERROR_REPLIES.get((error.code, reason)) or ERROR_REPLIES.get((error.code, None))
    params = {k: v for k, v in error.data.items() if isinstance(v, (str, int))}
    return turn.t._(message or FALLBACK, **params)

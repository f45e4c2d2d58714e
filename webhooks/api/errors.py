"""Every refusal of the API as JSON: ``{"error": {"code", "message", "field", "reason"}}``.

Domain errors keep their stable ``code`` and are worded by the table the chat uses too
(vocabulary.errors.ERROR_REPLIES), so a refusal reads the same in the chat and in the mini-program;
the HTTP status says what kind of refusal it is. Errors of the API itself (tokens, validation,
rate limits) have their own words here. The message is in the caller's Accept-Language,
Chinese first. Never a stack trace, never HTML.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException

from locales import N_, Translator, translator
from models.errors import DomainError
from vocabulary.errors import explain_in
from webhooks.locale import request_locale

logger = logging.getLogger(__name__)

# What a domain error means in HTTP; anything not listed is a state conflict (409).
STATUS_OF: dict[str, int] = {
    "not_found": 404,
    "course_not_found": 404,
    "voucher_not_found": 404,
    "not_registered": 403,
    "not_staff": 403,
    "not_a_cadre": 403,
    "not_staff_or_cadre": 403,
    "employer_question_invalid": 422,
    "not_inspector": 403,
    "voucher_wrong_institution": 403,
    "class_wrong_institution": 403,
    "binding_required": 403,
    "session_invalid": 401,
    "invalid_answer": 422,
    "invalid_name": 422,
    "invalid_id_number": 422,
    "invalid_phone": 422,
    "code_invalid": 422,
    "invitation_invalid": 422,
    "unknown_locale": 422,
}
# The request field a domain error is about, by code (and reason where it depends on it).
FIELD_OF: dict[tuple[str, str | None], str] = {
    ("invalid_name", None): "name",
    ("invalid_id_number", None): "id_number",
    ("invalid_phone", None): "phone",
    ("invalid_answer", "township"): "township",
    ("invalid_answer", "household"): "township",
    ("invalid_answer", "place"): "household_elsewhere",
    ("invalid_answer", "residence"): "residence",
    ("invalid_answer", "job_place"): "job_place",
    ("id_number_taken", None): "id_number",
    ("id_number_awaits_binding", None): "id_number",
    ("code_invalid", None): "code",
    ("invitation_invalid", None): "bind_code",
    ("unknown_locale", None): "locale",
    ("several_classes_now", None): "course_code",
    ("headcount_refused", "range"): "count",
    ("session_invalid", None): "refresh_token",
    ("employer_question_invalid", "training"): "training",
    ("employer_question_invalid", "workers"): "workers",
    ("employer_question_invalid", "months"): "months",
    ("employer_question_invalid", "level"): "level",
}
# Words for what only the API refuses.
API_MESSAGES: dict[str, str] = {
    "unauthorized": N_("Please sign in again."),
    "token_expired": N_("Your sign-in has expired. Please sign in again."),
    "session_invalid": N_("Your sign-in has ended. Please sign in again."),
    "login_refused": N_("WeChat did not accept this sign-in. Please try again."),
    "binding_required": N_(
        "Link the mini-program to your account first: send “绑定小程序” to the official "
        "account and type the code it gives you here."),
    "validation": N_("This value is not valid."),
    "missing": N_("This field is required."),
    "not_found": N_("This page does not exist."),
    "method_not_allowed": N_("This action is not available here."),
    "rate_limited": N_("Too many requests. Please wait a minute and try again."),
    "idempotency_mismatch": N_(
        "This Idempotency-Key was used for a different request. Use a new key."),
    "idempotency_in_progress": N_(
        "The same request is still being handled. Please wait a moment and try again."),
    "too_large": N_("The request is too large."),
    "already_registered": N_(
        "You are already registered. Change your details in your profile."),
    "unavailable": N_("The service is busy. Please try again in a minute."),
    "internal": N_("Sorry, something went wrong on our side. Please try again in a minute."),
}
HTTP_CODES = {400: "validation", 401: "unauthorized", 404: "not_found",
              405: "method_not_allowed", 413: "too_large", 429: "rate_limited",
              503: "unavailable"}


class ApiError(Exception):
    """A refusal made by the API itself (not by the domain)."""

    def __init__(self, status: int, code: str, *, field: str | None = None,
                 reason: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.field, self.reason = status, code, field, reason
        self.headers = headers or {}


def body(code: str, message: str, *, field: str | None = None, reason: str | None = None,
         source: str | None = None) -> dict[str, Any]:
    error = {"code": code, "message": message, "field": field, "reason": reason}
    if source:
        # A refusal under a rule names the rule's basis, as its message does.
        error["source"] = source
    return {"error": error}


def t() -> Translator:
    return translator(request_locale())


def domain_response(error: DomainError) -> tuple[int, dict[str, Any]]:
    """The status and body a domain error answers with."""
    reason = error.data.get("reason") or error.data.get("rule")
    field = FIELD_OF.get((error.code, reason)) or FIELD_OF.get((error.code, None))
    if error.code in API_MESSAGES:
        message = t()._(API_MESSAGES[error.code])
    else:
        message = explain_in(t(), error)
    status = STATUS_OF.get(error.code, 404 if error.code.endswith("not_found") else 409)
    source = error.data.get("source")
    return status, body(error.code, message, field=field, reason=reason,
                        source=source if isinstance(source, str) else None)


def api_response(error: ApiError) -> tuple[int, dict[str, Any]]:
    words = API_MESSAGES.get(error.code) or API_MESSAGES["validation"]
    return error.status, body(error.code, t()._(words), field=error.field, reason=error.reason)


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(payload, ensure_ascii=False), status=status,
                        mimetype="application/json")
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


def install(bp: Blueprint) -> None:
    """Answer every error raised under the blueprint as JSON."""

    @bp.errorhandler(ApiError)
    def _api(error: ApiError) -> Response:
        return _json(*api_response(error), error.headers)

    @bp.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        return _json(*domain_response(error))

    @bp.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        code = HTTP_CODES.get(error.code or 400, "validation")
        return _json(*api_response(ApiError(error.code or 400, code)))

    @bp.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled API error (%s)", type(error).__name__)
        return _json(*api_response(ApiError(500, "internal")))

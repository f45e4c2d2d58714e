"""Domain errors: data, not sentences. Each channel turns them into words in one place."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


class DomainError(Exception):
    code: str = "domain_error"

    def __init__(self, **data: Any) -> None:
        super().__init__(self.code)
        self.data = data


class NotFound(DomainError):
    code = "not_found"


class CourseNotFound(NotFound):
    code = "course_not_found"


class CourseRuleBroken(DomainError):
    """A course breaks a publishing rule of YN2021 二(七); ``rule`` names which."""

    code = "course_rule_broken"


class CourseFileRejected(DomainError):
    """A course file with problems; ``errors`` lists every one (RowError), nothing is saved."""

    code = "course_file_rejected"


class UnknownLocale(DomainError):
    code = "unknown_locale"


class InvalidAnswer(DomainError):
    """An answer to a registration question that cannot be accepted; ``reason`` says why."""

    code = "invalid_answer"


class InvalidName(InvalidAnswer):
    code = "invalid_name"


class InvalidIdNumber(InvalidAnswer):
    code = "invalid_id_number"


class InvalidPhone(InvalidAnswer):
    code = "invalid_phone"


class IdNumberTaken(DomainError):
    """The ID number belongs to someone else's record; nothing about them is revealed."""

    code = "id_number_taken"


class IdNumberAwaitsBinding(DomainError):
    """A cadre registered this ID for a neighbour; the neighbour binds with the cadre's code."""

    code = "id_number_awaits_binding"


class NotRegistered(DomainError):
    code = "not_registered"


class NotACadre(DomainError):
    code = "not_a_cadre"


class InvitationInvalid(DomainError):
    """A one-time invitation or binding code that is unknown, used or expired."""

    code = "invitation_invalid"


class CodeInvalid(DomainError):
    """A scanned code that is not ours (foreign), altered (forged) or old (stale)."""

    code = "code_invalid"


class NotStaff(DomainError):
    code = "not_staff"


class ClaimRefused(DomainError):
    """A voucher claim that breaks a rule; ``rule`` names it, ``source`` cites the clause."""

    code = "claim_refused"


class VoucherNotFound(NotFound):
    code = "voucher_not_found"


class VoucherWrongInstitution(DomainError):
    code = "voucher_wrong_institution"


class VoucherAlreadyRedeemed(DomainError):
    code = "voucher_already_redeemed"


class VoucherNotRedeemable(DomainError):
    """The voucher is cancelled, expired, revoked, or past redemption; ``status`` says which."""

    code = "voucher_not_redeemable"


class IdCheckFailed(DomainError):
    """Staff redeeming a paper voucher typed ID card characters that are not the holder's:
    nothing is redeemed until they read them from the holder's ID card."""

    code = "id_check_failed"


class VoucherStateWrong(DomainError):
    """The operation does not fit the voucher's state (``status``)."""

    code = "voucher_state_wrong"


class GracePeriodOver(DomainError):
    code = "grace_period_over"


class CheckInRefused(DomainError):
    """A check-in scan that does not count; ``rule`` says which condition failed."""

    code = "check_in_refused"


class TraineeNotFound(NotFound):
    """Staff named a trainee for a mark by hand: ``reason`` ``none`` (no enrolled trainee of
    theirs by that ``name`` has a class today) or ``several`` (more than one: the voucher
    number tells them apart)."""

    code = "trainee_not_found"


class AlreadyCheckedIn(DomainError):
    code = "already_checked_in"


class HeadcountRefused(DomainError):
    """A staff headcount that cannot be recorded; ``rule``: ``range`` (not a number of people
    in a room) or ``not_running`` (the session is not open now)."""

    code = "headcount_refused"


class ClassWrongInstitution(DomainError):
    """Staff named a class of another institution: they act only on their own classes."""

    code = "class_wrong_institution"


class NoSessionToday(DomainError):
    code = "no_session_today"


class NotInspector(DomainError):
    code = "not_inspector"


class AttendanceShort(DomainError):
    """Completion needs more attended hours (``attended`` of ``needed``)."""

    code = "attendance_short"


class MarkRefused(DomainError):
    """A manual mark (补签/缺勤) outside what the county's check-in rules allow; ``rule``:
    ``not_open`` (the session running now was not opened, 开课), ``not_started`` (the next
    session's window has not begun), ``too_late`` (the last session's window is over).
    ``course``, the window (``opens``, ``closes``: ISO moments) and ``source`` (the county's
    basis, models.basis) go with it."""

    code = "mark_refused"


class SessionsNotOver(DomainError):
    """结业 asked before the sessions it needs have ended: ``attended`` hours of sessions
    already over, ``needed``, ``until`` (ISO moment: when enough of the attended sessions will
    have ended) and ``source``."""

    code = "sessions_not_over"


class SettlementRefused(DomainError):
    """A run that cannot be made; ``reason`` says why: ``period_reversed`` (the period ends
    before it starts), ``no_rate`` (a voucher's certificate has no rate: ``number``,
    ``certificate_kind``, ``level``), ``changed_meanwhile`` (another run took a voucher)."""

    code = "settlement_refused"


class SeveralClassesNow(DomainError):
    """Two classes of the institution run now; ``codes`` lists them for the staff to name."""

    code = "several_classes_now"


class SignInRefused(DomainError):
    """The desk refuses a sign-in; ``reason``: ``bad_credentials`` (unknown user name or wrong
    password: the two are never told apart) or ``disabled`` (told only after the right
    password)."""

    code = "sign_in_refused"


class DeskUserRefused(DomainError):
    """A desk user that cannot be created as asked; ``reason``: ``username_taken``,
    ``username_invalid``, ``password_too_short`` (``minimum``), ``institution_unknown``
    (``institution_code``), ``institution_required``, ``institution_not_allowed``."""

    code = "desk_user_refused"


class JobOpeningRefused(DomainError):
    """A job opening that cannot be posted; ``problems`` lists each field's problem
    (models.jobs.FieldProblem), nothing is saved."""

    code = "job_opening_refused"


class JobFileRejected(DomainError):
    """A file of job openings with problems; ``errors`` lists every one (RowError), nothing is
    saved."""

    code = "job_file_rejected"


class JobOpeningNotFound(NotFound):
    """No such opening, or it is withdrawn or past its date."""

    code = "job_opening_not_found"


class ScreenConfirmationRefused(DomainError):
    """A class display's screen cannot be confirmed: ``rule`` is expired, not_staff,
    other_institution, session_over or unknown_screen."""

    code = "screen_confirmation_refused"

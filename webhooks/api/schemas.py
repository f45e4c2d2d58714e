"""Request and response shapes of the API (pydantic): they validate what comes in and are the
OpenAPI document's schemas. Personal data goes out masked only."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints
from pydantic_core import PydanticCustomError
from spectree import Response

from models.catalogue import Intent as WorkIntent
from models.persons import Group
from models.places import ELSEWHERE
from models.presence import HEADCOUNT_MAX

logger = logging.getLogger(__name__)

# Text from a phone: no control characters (PostgreSQL refuses NUL; nothing needs the rest).
_PLAIN = r"^[^\x00-\x1f\x7f]*$"


def text(max_length: int, min_length: int = 0):
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length,
                                            pattern=_PLAIN)]


class In(BaseModel):
    """A request body or query: unknown fields are refused, so a typo is not ignored."""

    model_config = ConfigDict(extra="forbid")


class Body(In):
    """A JSON body: each value of its own JSON type. `true` or `"1"` is no course id and
    `"yes"` no boolean (a query string's values are text, so queries stay lax)."""

    model_config = ConfigDict(strict=True)


def _exactly_true(value: object) -> object:
    # Literal[True] takes 1 too (1 == True), strict or not.
    if value is not True:
        raise PydanticCustomError("literal_error", "Input should be True", {"expected": "True"})
    return value


# Strict validation of Python objects wants enum members; a JSON body holds their values.
IntentIn = Annotated[WorkIntent, Strict(False)]
GroupIn = Annotated[Group, Strict(False)]
Agreed = Annotated[Literal[True], BeforeValidator(_exactly_true)]


# --- errors --------------------------------------------------------------------------------

class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine code, e.g. claim_refused, not_staff")
    message: str = Field(description="for the person, in the language of Accept-Language")
    field: str | None = Field(description="the request field at fault, if one is")
    reason: str | None = Field(description="which rule or condition, where the code has several")
    source: str | None = Field(default=None, description=(
        "where a rule refuses: its basis as the message cites it (the county's own notice and "
        "clause, or the policy clause it comes from)"))


class Error(BaseModel):
    error: ErrorDetail


def answers(ok_status: int, model: type[BaseModel] | None, *errors: int) -> Response:
    """The documented answers of an operation: its success and the refusals it can give
    (every operation can be rate limited)."""
    codes = {f"HTTP_{ok_status}": model}
    codes.update({f"HTTP_{status}": Error for status in (*errors, 422, 429)})
    return Response(**codes)


# --- session -------------------------------------------------------------------------------

class SignIn(Body):
    code: text(128, 1) = Field(description="the code wx.login gave the mini-program")


class BindIn(Body):
    code: text(128, 1) = Field(description="a new code from wx.login")
    bind_code: text(12, 1) = Field(
        description="the six digits the official account sent for “绑定小程序”")


class RefreshIn(Body):
    refresh_token: text(200, 1)


class SessionOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str = Field(description="one use: POST /session/refresh answers a new one")
    person_id: int
    registered: bool
    roles: list[Literal["trainee", "staff", "cadre"]]


# --- profile -------------------------------------------------------------------------------

class Place(BaseModel):
    code: str = Field(description=f"a township code, or “{ELSEWHERE}”: not in the county")
    name: str


class GroupOut(BaseModel):
    group: Group
    status: Literal["self_declared", "verified", "rejected"]
    label: str


class Profile(BaseModel):
    person_id: int
    registered: bool
    roles: list[Literal["trainee", "staff", "cadre"]]
    locale: str
    name: str | None = None
    id_masked: str | None = None
    phone_masked: str | None = None
    township: Place | None = Field(default=None, description="the household's township, when "
                                   "the household is in the county")
    household_elsewhere: str | None = Field(
        default=None, description="the household's place outside the county, as given")
    household_kind: Literal["rural", "urban"] | None = Field(
        default=None, description="农村 or 城镇 household; null: not known yet")
    residence: Place | None = Field(default=None, description="where the person lives; null: "
                                    "not known yet")
    job_place: Place | None = Field(default=None, description="where the person looks for "
                                    "work; null: not known yet")
    intent: WorkIntent | None = None
    draws_pension: bool | None = None
    groups: list[GroupOut] = []


HouseholdKindIn = Literal["rural", "urban", "unknown"]
_PLACE_IN = f"a township code from GET /townships, or “{ELSEWHERE}” (not in the county)"


class RegistrationIn(Body):
    """QJ2019 (十六): the household, the residence and the place of job seeking each count."""

    name: text(40, 1)
    id_number: text(30, 1) = Field(description="GB 11643, 18 characters; checked and sealed")
    phone: text(20, 1)
    township: text(40, 1) | None = Field(
        default=None, description="the household's township code (GET /townships); or give "
        "household_elsewhere")
    household_elsewhere: text(30, 2) | None = Field(
        default=None, description="the household's place outside the county, e.g. 贵州省盘州市")
    household_kind: HouseholdKindIn = Field(
        description="农村 (rural) or 城镇 (urban) household; unknown keeps the answers that "
        "depend on it provisional")
    residence: text(40, 1) = Field(description="where the person lives: " + _PLACE_IN)
    job_place: text(40, 1) = Field(description="where the person looks for work: " + _PLACE_IN)
    intent: IntentIn
    groups: list[GroupIn] = Field(default=[], max_length=len(Group))
    draws_pension: bool = False
    consent: Agreed = Field(description="agreement to the processing of personal data")


class ProfileChange(Body):
    phone: text(20, 1) | None = None
    township: text(40, 1) | None = Field(default=None,
                                         description="the household moved to this township")
    household_elsewhere: text(30, 2) | None = Field(
        default=None, description="the household is (now) outside the county, here")
    household_kind: HouseholdKindIn | None = None
    residence: text(40, 1) | None = Field(default=None, description=_PLACE_IN)
    job_place: text(40, 1) | None = Field(default=None, description=_PLACE_IN)
    intent: IntentIn | None = None
    locale: Literal["zh_Hans_CN", "en"] | None = None
    draws_pension: bool | None = Field(default=None,
                                       description="whether a monthly pension is drawn now")
    groups: list[GroupIn] | None = Field(default=None, max_length=len(Group), description=(
        "the groups that apply now (all of them; [] for none): new ones are self-declared, "
        "left-out ones removed, rejected ones stay rejected"))


class Withdrawn(BaseModel):
    withdrawn: bool
    kept_for_ledgers: bool


class TownshipList(BaseModel):
    townships: list[Place]


class CategoryOut(BaseModel):
    id: int
    no: int
    code: str
    name: str
    intent: WorkIntent


class CategoryList(BaseModel):
    categories: list[CategoryOut]


# --- courses -------------------------------------------------------------------------------

class CourseQueryIn(In):
    q: text(30) | None = Field(default=None, description="words in names, occupations, places")
    category: int | None = Field(default=None, ge=1, le=10**6, description="a category id")
    free: bool = False
    intent: WorkIntent | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    page: int = Field(default=1, ge=1, le=10**4)
    per_page: int = Field(default=10, ge=1, le=50)


class CourseSummary(BaseModel):
    id: int
    code: str
    name: str
    institution: str
    category: str
    occupation: str
    certificate_kind: str
    certificate_level: str | None
    hours: int
    fee_yuan: str
    is_free: bool
    is_publicly_procured: bool = Field(
        description="bought by public tender (公开招标): a free course so bought is the free "
                    "training for the priority groups")
    township: str
    starts_on: date
    ends_on: date
    seats_left: int
    lat: float | None
    lng: float | None


class CoursePageOut(BaseModel):
    courses: list[CourseSummary]
    page: int
    pages: int
    total: int


class SessionSlot(BaseModel):
    id: int
    day: date
    starts: str
    ends: str


class CourseDetail(CourseSummary):
    address: str
    description: str
    capacity: int
    theory_hours: int
    practice_hours: int
    radius_m: int | None
    requires_checkout: bool
    sessions: list[SessionSlot]


# --- vouchers ------------------------------------------------------------------------------

class ClaimIn(Body):
    course_id: int = Field(ge=1, le=2**31 - 1)
    accept_cost: bool = Field(default=False, description=(
        "the person agreed to pay the course themselves where no training subsidy pays for it "
        "(without it such a claim is refused: claim_refused / cost_not_accepted)"))


class VoucherCourse(BaseModel):
    id: int
    name: str
    institution: str
    starts_on: date


class VoucherOut(BaseModel):
    id: int
    number: str
    status: Literal["issued", "redeemed", "completed", "settled", "cancelled", "expired",
                    "revoked"]
    status_text: str
    course: VoucherCourse
    claimed_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    completed_at: datetime | None
    certified: bool | None
    certificate_no: str | None


class VoucherList(BaseModel):
    vouchers: list[VoucherOut]


class Code(BaseModel):
    qr: str = Field(description="what the QR code encodes; it changes every period")
    expires_in: int = Field(description="seconds until the next code replaces it")
    svg: str = Field(description="the code drawn as inline SVG markup")


class VoucherDetail(VoucherOut):
    code: Code | None = Field(description="while the voucher can be redeemed")


# --- attendance ----------------------------------------------------------------------------

class CheckInIn(Body):
    code: text(200, 1) = Field(description="the class display's code, as scanned")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    accuracy: float | None = Field(
        default=None, ge=0, le=100_000,
        description="wx.getLocation's `accuracy` in metres, recorded with the check-in")


class CheckInOut(BaseModel):
    session_id: int
    course: str
    number: int = Field(description="which session of the course this is")
    total: int
    is_checkout: bool
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    hours: float


class CourseAttendanceOut(BaseModel):
    course_id: int
    course: str
    attended: int
    missed: int
    total: int
    hours: float = Field(description="hours of attended sessions that have ended: they count")
    needed_hours: float
    pending_hours: float = Field(
        0.0, description="hours of attended sessions not yet ended: they count once they end")


class AttendanceList(BaseModel):
    courses: list[CourseAttendanceOut]


# --- subsidies -----------------------------------------------------------------------------

class SubsidyQuery(In):
    course_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                  description="a course, joined or not (“what if”)")


class ReasonOut(BaseModel):
    code: str
    text: str
    source: str = Field(description="the clause it comes from")


class OutcomeOut(BaseModel):
    rule_id: str
    title: str
    status: Literal["eligible", "provisional", "not_eligible"]
    status_text: str
    amount_text: str = Field(description="the amount with what it is per (a day, a month…), "
                             "marked “演示金额 / demo amount” while it is an example")
    is_demo: bool = Field(description="the amount is an example until the county sets its own")
    total_yuan: str | None
    total_max_yuan: str | None
    reasons: list[ReasonOut]
    missing: list[str]
    source: str


class EvaluationOut(BaseModel):
    policy_version: str
    on: date
    course_id: int | None
    outcomes: list[OutcomeOut]


# --- staff ---------------------------------------------------------------------------------

class RedeemIn(Body):
    code: text(200, 1) = Field(description="the holder's voucher code, as scanned")


class RedeemedOut(BaseModel):
    voucher_id: int
    number: str
    holder_name: str = Field(description="to compare with the ID card")
    holder_id_masked: str
    course: str


class OpenIn(Body):
    course_code: text(40, 1) | None = Field(
        default=None, description="needed only when two classes run at once")


class Display(BaseModel):
    qr: str | None
    expires_in: int | None
    svg: str | None
    checked_in: int
    enrolled: int


class ClassOut(BaseModel):
    session_id: int
    course_code: str
    course: str
    day: date
    starts: str
    ends: str
    display_url: str = Field(description="the projector page, for one screen: the first "
                                         "browser to open this link becomes the class's screen "
                                         "(a cookie), and only that screen gets the code, also "
                                         "as JSON; another browser shows a code for staff to "
                                         "confirm it by scanning")
    display: Display


class RollCallQuery(In):
    course_code: text(40, 1) | None = None


class RollLine(BaseModel):
    voucher_number: str
    name: str | None
    id_masked: str | None
    state: Literal["present", "absent", "not_checked_in"]
    how: Literal["scan", "manual"] | None
    checked_in_at: datetime | None


class RollCallOut(BaseModel):
    session_id: int
    course: str
    present: int
    enrolled: int
    lines: list[RollLine]


class HeadcountIn(Body):
    count: int = Field(ge=0, le=HEADCOUNT_MAX,
                       description="how many people staff see in the room now")
    course_code: text(40, 1) | None = Field(
        default=None, description="needed only when two classes run at once")


class HeadcountOut(BaseModel):
    session_id: int
    course: str
    day: date
    counted: int
    scans: int = Field(description="trainees checked in by scan when the count was recorded")
    extra_scans: int = Field(description="scans beyond the heads counted: someone checked in "
                                         "who is not in the room")
    at: datetime


class MarkIn(Body):
    voucher_number: text(20, 1)
    present: bool
    reason: text(200, 1)


class MarkOut(BaseModel):
    voucher_number: str
    present: bool
    how: Literal["scan", "manual"]
    hours: float


class CompleteIn(Body):
    voucher_number: text(20, 1)
    certificate_no: text(40, 1) | None = Field(
        description="the certificate's number; null when the appraisal was failed")


class CompletionOut(BaseModel):
    voucher_number: str
    status: str
    certified: bool
    certificate_no: str | None


# --- cadres --------------------------------------------------------------------------------

class ReferralOut(BaseModel):
    cadre_id: int
    village: str
    page_url: str = Field(description="the page that shows the referral QR code")
    scene: str


class NeighbourIn(Body):
    name: text(40, 1)
    id_number: text(30, 1)
    phone: text(20, 1) = Field(
        description="the mobile number, or “无” for a neighbour without one (the cadre is then "
                    "their contact)")
    township: text(40, 1) | None = None
    household_elsewhere: text(30, 2) | None = None
    household_kind: HouseholdKindIn
    residence: text(40, 1) = Field(description=_PLACE_IN)
    job_place: text(40, 1) = Field(description=_PLACE_IN)
    intent: IntentIn
    groups: list[GroupIn] = Field(default=[], max_length=len(Group))
    draws_pension: bool = False
    consent_on_paper: Agreed = Field(
        description="the neighbour signed the consent form in front of the cadre")


class NeighbourOut(BaseModel):
    bind_code: str = Field(description="the neighbour types “绑定 <code>” once they have WeChat")
    bind_code_days: int


class CourseFiguresOut(BaseModel):
    course: str
    in_training: int
    finished: int
    certified: int


class FiguresOut(BaseModel):
    mobilized: int
    registered: int
    registered_by_cadre: int
    in_training: int
    finished: int
    certified: int
    courses: list[CourseFiguresOut]


# --- jobs ----------------------------------------------------------------------------------

class JobOut(BaseModel):
    id: int
    employer: str
    occupation: str
    place: str
    wage: str
    contact: str = Field(description="the employer's contact, as posted")
    valid_until: date
    is_match: bool = Field(description="an opening for the caller: a course they finished is of "
                                       "its category, or their work intent fits it (in their "
                                       "township, if it names one)")


class JobList(BaseModel):
    openings: list[JobOut]


class IdempotencyHeaders(BaseModel):
    """Claim and redeem take an Idempotency-Key: a retry with the same key (same caller, same
    body, within 24 hours) answers the first answer again and acts no more."""

    idempotency_key: text(200, 1) | None = Field(
        default=None, alias="Idempotency-Key",
        description="any unique string the mini-program makes per action, e.g. a UUID")

"""A subsidy's answer in words (models.eligibility): its status, its amount, each reason with
its parameters worded, what is still missing. The chat's summary (bot/subsidy.py), the page of
reasons (webhooks/pages.py), the API and the employer's answer (vocabulary/employers.py) all
word it here, so they read the same."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from locales import N_, Translator
from locales.amounts import amount_words
from models.catalogue import CertificateKind
from models.eligibility import Outcome, PayKind, Status
from models.persons import Group, HouseholdKind
from models.places import PlaceRole
from vocabulary.labels import CERTIFICATES, GROUPS, HOUSEHOLD_KINDS, PLACE_ROLES

logger = logging.getLogger(__name__)

STATUSES = {
    Status.ELIGIBLE: N_("eligible"),
    Status.PROVISIONAL: N_("yes once verified"),
    Status.NOT_ELIGIBLE: N_("not eligible"),
}
MARKS = {Status.ELIGIBLE: "✔", Status.PROVISIONAL: "…", Status.NOT_ELIGIBLE: "✘"}

REASONS: dict[str, str] = {
    "group_verified": N_("The bureau has verified that you are %(group)s."),
    "group_self_declared": N_(
        "You declared yourself %(group)s; the bureau has not verified it yet."),
    "group_rejected": N_("The bureau did not confirm that you are %(group)s."),
    "not_in_groups": N_("This is only for: %(groups)s."),
    "household_kind_met": N_("Your household is a %(kind)s, as %(group)s need here."),
    "household_kind_unknown": N_(
        "%(group)s need a %(kind)s here, and we do not know your household's kind yet."),
    "household_kind_not_met": N_(
        "%(group)s need a %(kind)s here; yours is a %(held)s."),
    "age_threshold_met": N_(
        "As %(group)s aged %(age)s (%(min_age)s or over) you count as %(counts_as)s."),
    "below_age_threshold": N_(
        "%(group)s count as %(counts_as)s from age %(min_age)s; you are %(age)s and reach it "
        "on %(reaches_on)s."),
    "draws_pension": N_("People who draw a monthly pension are not covered."),
    "pension_unknown": N_("We do not know yet whether you draw a monthly pension."),
    "township_unknown": N_("We do not know your household township yet."),
    "outside_region": N_("Your household township %(township)s is not in %(region)s."),
    "place_in_region": N_("Your %(place)s, %(township)s, is in %(region)s."),
    "places_unknown": N_("We do not know your %(places)s yet."),
    "places_to_check": N_(
        "Whether your %(places)s lies in %(region)s is checked by the county employment "
        "service centre."),
    "places_outside_region": N_("None of your %(places)s is in %(region)s."),
    "yearly_count": N_("You have used %(used)s of %(max)s subsidized trainings for %(year)s."),
    "yearly_cap_reached": N_(
        "You already have %(used)s subsidized trainings in %(year)s; the limit is %(max)s a "
        "year."),
    "same_occupation_level": N_(
        "You already had %(course)s (%(year)s): the same occupation at the same level is "
        "subsidized once."),
    "not_counted_in_yearly_cap": N_(
        "It does not count toward the %(max)s subsidized trainings a year."),
    "applies_to_courses": N_("It depends on the course you choose."),
    "course_is_free": N_("The course is free."),
    "course_not_free": N_("The course costs %(fee_yuan)s yuan."),
    "course_publicly_procured": N_(
        "The course was bought by public tender by the public employment service."),
    "course_not_publicly_procured": N_(
        "The course was not bought by public tender by the public employment service."),
    "rule_ended": N_("This subsidy ended on %(ended_on)s; it is no longer paid."),
    "institution_kind_covered": N_("The course is run by a %(institution_kind)s."),
    "institution_kind_not_covered": N_(
        "The course is run by a %(institution_kind)s, which this does not cover."),
    "certificate_kind_not_covered": N_("A %(certificate_kind)s is not covered."),
    "certificate_obtained": N_("You obtained the %(certificate_kind)s."),
    "certificate_pending": N_("It is paid once you obtain the certificate."),
    "no_certificate": N_("You did not obtain the certificate."),
    "needs_fact": N_("It also needs: %(fact)s."),
    "paid_to": N_("It is paid to the %(payee)s, not to you."),
    "advanced_by": N_("The training institution pays it to you first and claims it back."),
    "demo_amount": N_("The amount is an example until the county sets it."),
    "days_attended": N_("You attended %(days)s of %(days_max)s class days."),
    "days_not_started": N_("Paid for each day you attend, up to %(days_max)s days."),
    "certificate_rate": N_(
        "For a %(certificate_kind)s: %(training_yuan)s yuan training subsidy plus "
        "%(appraisal_yuan)s yuan appraisal subsidy."),
    "certificate_range": N_(
        "%(min)s to %(max)s yuan by certificate kind, plus at most %(appraisal_max)s yuan "
        "appraisal subsidy."),
    "no_rate_for_certificate": N_(
        "The county has set no amount for this certificate yet (%(min)s to %(max)s yuan)."),
    "cadre_certified": N_("%(count)s people you mobilized obtained a certificate in %(year)s."),
}
MISSING: dict[str, str] = {
    "verify_group": N_("Ask the county employment service centre to verify your group."),
    "declare_group": N_("If you belong to one of these groups, add it in your profile."),
    "pension_status": N_("Tell us whether you draw a monthly pension."),
    "household_township": N_("Tell us your household township."),
    "places": N_(
        "If you live or look for work in the county, say so under “我的资料” (profile)."),
    "check_places": N_(
        "Ask the county employment service centre whether your place is covered."),
    "household_kind": N_(
        "Tell us whether your household is rural or urban, under “我的资料” (profile)."),
    "obtain_certificate": N_("Obtain the course's certificate."),
    "hired_by_eligible_employer": N_(
        "Be hired and trained on the job by a cooperative, poverty workshop or insured "
        "enterprise."),
    "apprenticeship_contract": N_("Be an enterprise's new-style apprentice."),
}
PAYEES = {"trainee": N_("trainee"), "employer": N_("employer"), "enterprise": N_("enterprise"),
          "cadre": N_("cadre")}
INSTITUTION_KINDS = {
    "public_employment_service": N_("public employment service institution"),
    "private_school": N_("private training school"),
    "vocational_school": N_("vocational or technical school"),
    "enterprise_centre": N_("enterprise training centre"),
    "hr_agency": N_("human resources service agency"),
}


def _certificate_words(t: Translator, code: str) -> str:
    return t._(CERTIFICATES[CertificateKind(code)])


def _group_words(t: Translator, entry: str | dict[str, str]) -> str:
    """A group, or a group with the household it needs ({group, household_kind})."""
    if isinstance(entry, str):
        return t._(GROUPS[Group(entry)])
    return t._("%(group)s with a %(kind)s", group=t._(GROUPS[Group(entry["group"])]),
               kind=_kind_words(t, entry["household_kind"]))


def _kind_words(t: Translator, code: str) -> str:
    return t._(HOUSEHOLD_KINDS[HouseholdKind(code)])


def _places_words(t: Translator, codes: list[str]) -> str:
    return t.listing([t._(PLACE_ROLES[PlaceRole(c)]) for c in codes])


# How each parameter's code becomes words (a value not listed is shown as it is).
WORDING: dict[str, Callable[[Translator, Any], str]] = {
    "group": lambda t, v: t._(GROUPS[Group(v)]),
    "counts_as": lambda t, v: t._(GROUPS[Group(v)]),
    "groups": lambda t, v: t.listing([_group_words(t, g) for g in v]),
    "kind": _kind_words,
    "held": _kind_words,
    "place": lambda t, v: t._(PLACE_ROLES[PlaceRole(v)]),
    "places": _places_words,
    "payee": lambda t, v: t._(PAYEES.get(v, v)),
    "institution_kind": lambda t, v: t._(INSTITUTION_KINDS.get(v, v)),
    "certificate_kind": _certificate_words,
    "fact": lambda t, v: t._(MISSING.get(v, v)),
    "reaches_on": lambda t, v: t.day(v),
    "ended_on": lambda t, v: t.day(v),
}


def reason_text(t: Translator, code: str, params: dict[str, Any]) -> str:
    values = {k: (WORDING[k](t, v) if k in WORDING else v) for k, v in params.items()}
    template = REASONS.get(code)
    return t._(template, **values) if template else code


def amount_text(t: Translator, outcome: Outcome) -> str:
    """The amount with what it is per ("每天¥60.00", "每人每月最高¥500.00，最多6个月"), marked
    while it is a demo value, then what it comes to where that is known."""
    if outcome.ended_on is not None:
        return t._("ended on %(day)s", day=t.day(outcome.ended_on))
    if outcome.kind is PayKind.FREE:
        return t._("free training")
    # Paid to someone else (an employer, a cadre) for each person: "每人…".
    shape = {"per": outcome.per, "each": outcome.payee != "trainee",
             "periods_max": outcome.periods_max, "is_demo": outcome.is_demo}
    if outcome.amount is not None:
        text = amount_words(t, amount=outcome.amount, **shape)
    elif outcome.amount_range:
        low, high = outcome.amount_range
        text = amount_words(t, low=low, high=high, **shape)
    else:
        return "—"
    if outcome.total is not None and (outcome.kind is PayKind.PER_DAY
                                      or outcome.count is not None):
        words = (N_("so far %(total)s") if outcome.kind is PayKind.PER_DAY
                 else N_("in all %(total)s"))
        text += " · " + t._(words, total=t.money(outcome.total))
    return text

"""The desk's employer question (企业补贴测算): what an employer or enterprise can get for
training N of its workers in one kind of training, each subsidy with its amount per worker, the
sum, the clause and what the employer must still show (models.employers). For the bureau's
roles: no employer signs in yet, so the bureau answers the employers who ask."""

from __future__ import annotations

import logging

from flask import Response, request

from locales import N_, Translator
from models.catalogue import CertificateKind
from models.desk import DeskRole
from models.employers import (
    MAX_MONTHS,
    MAX_WORKERS,
    EmployerAnswer,
    EmployerQuestion,
    employer_subsidies,
    employer_trainings,
    skill_levels,
)
from models.persons import Group
from runtime.services import current
from vocabulary import employers as employer_words
from vocabulary.labels import CERTIFICATES, GROUPS
from webhooks.admin.auth import desk_page, desk_translator, require_role
from webhooks.admin.blueprint import bp
from webhooks.admin.filters import BadFilter, choice_arg, number_arg

logger = logging.getLogger(__name__)

BUREAU = (DeskRole.ADMIN, DeskRole.INSPECTOR)


@bp.get("/employers")
@require_role(*BUREAU)
def employers() -> Response:
    """The form, and with ``?training=&workers=`` (and ``certificate_kind``, ``level``,
    ``group``, ``months``) the answer. A bad value is answered 400 on the same page, saying
    which; nothing else changes."""
    t = desk_translator()
    today = current().clock.today()
    trainings = employer_trainings(on=today)
    levels = skill_levels()
    answer, error, status = None, None, 200
    if request.args.get("training"):
        try:
            question = _question(trainings, levels, t)
        except BadFilter as bad:
            error = t._(bad.words) + " " + t._(bad.hint, **bad.values)
            status = 400
        else:
            answer = employer_subsidies(question=question, on=today)
    return desk_page(
        "admin/employers.html", status=status, error=error, answer=answer,
        outcomes=employer_words.view(t, answer) if answer else [],
        asked=request.args, max_workers=MAX_WORKERS, max_months=MAX_MONTHS,
        trainings=[(code, t._(employer_words.TRAININGS[code])) for code in trainings],
        certificates=[(kind.value, t._(CERTIFICATES[kind])) for kind in CertificateKind],
        levels=levels, groups=[(group.value, t._(GROUPS[group])) for group in Group],
        heading=_heading(t, answer) if answer else "")


def _heading(t: Translator, answer: EmployerAnswer) -> str:
    return t.ngettext("%(training)s for %(num)s worker", "%(training)s for %(num)s workers",
                      answer.question.workers,
                      training=t._(employer_words.TRAININGS[answer.question.training]))


def _question(trainings: tuple[str, ...], levels: tuple[str, ...],
              t: Translator) -> EmployerQuestion:
    training = request.args.get("training", "").strip()
    if training not in trainings:
        raise BadFilter(N_("There is no such kind of training."))
    workers = number_arg("workers", low=1, high=MAX_WORKERS,
                         words=N_("The number of workers is not valid."))
    if workers is None:
        raise BadFilter(N_("Say how many workers are trained."),
                        N_("Give a whole number from %(low)s to %(high)s."), low=1,
                        high=MAX_WORKERS)
    kind = choice_arg("certificate_kind", CertificateKind, default=None,
                      words=N_("There is no such certificate."))
    level = request.args.get("level", "").strip() or None
    if level is not None and (kind is not CertificateKind.SKILL_LEVEL or level not in levels):
        raise BadFilter(N_("The level is not valid."),
                        N_("A level goes with a skill-level certificate: one of %(levels)s."),
                        levels=t.listing(list(levels)))
    group = choice_arg("group", Group, default=None, words=N_("There is no such group."))
    months = number_arg("months", low=1, high=MAX_MONTHS,
                        words=N_("The number of months is not valid."))
    return EmployerQuestion(training=training, workers=workers, certificate_kind=kind,
                            level=level, group=group, months=months)

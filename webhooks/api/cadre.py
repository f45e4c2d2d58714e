"""Village cadres: their referral code, registering a neighbour (代报名), their own figures.
Anyone who is not a cadre is refused by the domain, as in the chat."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from models import links
from models.cadres import cadre_of, referral_scene, register_neighbour
from models.mobilization import cadre_figures
from models.registration import BIND_CODE_DAYS
from runtime.services import current
from webhooks.api import core
from webhooks.api.core import AUTH, bp, caller, ok, run, spec, words
from webhooks.api.schemas import FiguresOut, NeighbourIn, NeighbourOut, ReferralOut, answers
from webhooks.api.trainee import registration_form

logger = logging.getLogger(__name__)

TAGS = ("cadre",)


@bp.get("/cadre/referral")
@spec.validate(resp=answers(200, ReferralOut, 401, 403), tags=TAGS, security=AUTH)
def referral():
    """The cadre's referral code: a page to show or forward; whoever follows the account
    through it counts as the cadre's."""
    who = caller()
    services = current()
    cadre = run(cadre_of, person_id=who.person_id)
    token = links.sign(services.config.secret_key, links.CADRE_QR_PURPOSE, {"cadre": cadre.id})
    return ok({"cadre_id": cadre.id, "village": cadre.village,
               "page_url": f"{services.config.base_url}/p/cadre-qr/{token}",
               "scene": referral_scene(cadre.id)})


@bp.post("/cadre/neighbours")
@spec.validate(json=NeighbourIn, resp=answers(201, NeighbourOut, 401, 403, 409), tags=TAGS,
               security=AUTH)
def neighbour(json: NeighbourIn):
    """代报名: register a neighbour without a smartphone (consent signed on paper). The answer
    is the one-time code the neighbour types as “绑定 <code>” once they have WeChat."""
    who = caller()
    services = current()
    code = run(register_neighbour, vault=services.vault, cadre_openid=who.openid,
               form=registration_form(json), now=core.now(), today=services.clock.today())
    return ok({"bind_code": code, "bind_code_days": BIND_CODE_DAYS}, 201)


@bp.get("/cadre/figures")
@spec.validate(resp=answers(200, FiguresOut, 401, 403), tags=TAGS, security=AUTH)
def figures():
    """The cadre's own figures (QJ2020 五(四)): counts only."""
    who = caller()
    t = words()

    def act(db: Session) -> dict[str, Any]:
        counts = cadre_figures(db, cadre=cadre_of(db, person_id=who.person_id))
        return {"mobilized": counts.mobilized, "registered": counts.registered,
                "registered_by_cadre": counts.registered_by_cadre,
                "in_training": counts.in_training, "finished": counts.finished,
                "certified": counts.certified,
                "courses": [{"course": c.course_name_en if t.locale == "en" else c.course_name,
                             "in_training": c.in_training, "finished": c.finished,
                             "certified": c.certified} for c in counts.courses]}

    return ok(run(act))

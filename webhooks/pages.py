"""Pages people open from the bot's links, inside WeChat's browser. Each link carries a signed,
expiring token; a page asks WeChat's API for nothing it already has."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, render_template
from wechatpy.exceptions import WeChatClientException

from bot import links
from bot.cadre import QR_PAGE_SECONDS
from locales import translator
from models.cadres import keep_qr_url, load_cadre, referral_scene
from webhooks.locale import request_locale
from webhooks.qr import svg
from webhooks.services import current
from webhooks.wechat_api import Client

logger = logging.getLogger(__name__)

bp = Blueprint("pages", __name__, url_prefix="/p")


def _payload(purpose: str, token: str, max_age: int) -> dict:
    try:
        return links.verify(current().config.secret_key, purpose, token, max_age)
    except links.BadSignature:
        abort(403)


@bp.get("/cadre-qr/<token>")
def cadre_qr(token: str):
    """The cadre's referral code, to show on the phone or forward to neighbours."""
    services = current()
    cadre_id = int(_payload("cadre-qr", token, QR_PAGE_SECONDS)["cadre"])
    with services.sessions.begin() as db:
        cadre = load_cadre(db, cadre_id=cadre_id)
        if cadre is None:
            abort(404)
        village, url = cadre.village, cadre.qr_url
    if url is None:
        url = _permanent_qr_url(services, referral_scene(cadre_id))
        with services.sessions.begin() as db:
            keep_qr_url(db, cadre_id=cadre_id, url=url)
    return _page("cadre_qr.html", village=village, qr=svg(url))


def _page(template: str, **context):
    t = translator(request_locale())
    return render_template(template, _=t._, lang="en" if t.locale == "en" else "zh-CN",
                           **context)


def _permanent_qr_url(services, scene: str) -> str:
    client = Client(services.config, services.kv)
    try:
        result = client.qrcode.create({"action_name": "QR_LIMIT_STR_SCENE",
                                       "action_info": {"scene": {"scene_str": scene}}})
    except (WeChatClientException, OSError) as error:
        logger.warning("QR code not created: %s", type(error).__name__)
        abort(503)
    return result["url"]

"""code2session: the mini-program's wx.login code, exchanged at WECHAT_API_BASE_URL for the
user's mini-program openid (and unionid, and session_key).

A plain GET with requests: the call needs no access token, and wechatpy's client would fetch
one (for the mini-program's app id) before it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests

from runtime.config import Config
from webhooks.api.errors import ApiError

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 4.0
# WeChat's answers about the code itself (invalid, used, a risky user): the person retries.
REFUSED = {40029, 40163, 40226, 45011}


@dataclass(frozen=True)
class WeChatLogin:
    openid: str
    unionid: str | None
    session_key: str | None


def code_to_session(config: Config, code: str) -> WeChatLogin:
    if not (config.wechat_miniprogram_app_id and config.wechat_miniprogram_app_secret):
        logger.warning("mini-program sign-in asked for but WECHAT_MINIPROGRAM_APP_ID/SECRET "
                       "are not set")
        raise ApiError(503, "unavailable")
    try:
        answer = requests.get(config.wechat_api_base_url + "sns/jscode2session", params={
            "appid": config.wechat_miniprogram_app_id,
            "secret": config.wechat_miniprogram_app_secret,
            "js_code": code, "grant_type": "authorization_code"}, timeout=TIMEOUT_SECONDS)
        answer.raise_for_status()
        result = answer.json()
    except (requests.RequestException, ValueError) as error:
        logger.warning("code2session failed: %s", type(error).__name__)
        raise ApiError(503, "unavailable", headers={"Retry-After": "5"}) from None
    errcode = int(result.get("errcode") or 0)
    if errcode in REFUSED or (errcode == 0 and not result.get("openid")):
        raise ApiError(401, "login_refused", field="code", reason=str(errcode or "no_openid"))
    if errcode:
        logger.warning("code2session answered errcode %s", errcode)
        raise ApiError(503, "unavailable", headers={"Retry-After": "5"})
    return WeChatLogin(openid=str(result["openid"])[:64],
                       unionid=(str(result["unionid"])[:64] if result.get("unionid") else None),
                       session_key=result.get("session_key"))

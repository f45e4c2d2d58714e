"""wechatpy's client, pointed at WECHAT_API_BASE_URL, with one access token for all workers."""

from __future__ import annotations

import logging

import requests
from redis import Redis
from wechatpy import WeChatClient
from wechatpy.session.redisstorage import RedisStorage

from runtime.config import Config

logger = logging.getLogger(__name__)

# Refresh the token this long before WeChat says it expires.
TOKEN_MARGIN_SECONDS = 300


class _TimedSession(requests.Session):
    """Every request with a timeout: wechatpy fetches the access token without one, so a
    WeChat that takes the request and never answers would hold the worker (and the shared
    token lock) for good."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method, url, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().request(method, url, **kwargs)


class Client(WeChatClient):
    """The official account's API client.

    WeChat allows a limited number of token fetches a day and a new token invalidates the old
    one, so workers share one token in Redis and only one of them fetches at a time.
    """

    def __init__(self, config: Config, kv: Redis, timeout: float = 4.0) -> None:
        super().__init__(config.wechat_app_id, config.wechat_app_secret,
                         session=RedisStorage(kv, prefix="peixun:wechat"), timeout=timeout)
        self._http = _TimedSession(timeout)
        self.base_url = config.wechat_api_base_url
        self.API_BASE_URL = self.base_url + "cgi-bin/"
        self._kv = kv

    def has_token(self) -> bool:
        """Make sure of a valid access token now, fetching one if need be: a failure here
        happens before any message is sent."""
        return bool(self.access_token)

    def fetch_access_token(self) -> dict:
        seen = self.session.get(self.access_token_key)
        with self._kv.lock("peixun:wechat:token-lock", timeout=10, blocking_timeout=6):
            current = self.session.get(self.access_token_key)
            if current and current != seen:
                # Another worker fetched a new one while we waited for the lock.
                return {"access_token": current}
            result = self._fetch_access_token(
                url=self.base_url + "cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.appid,
                        "secret": self.secret},
            )
            expires_in = int(result.get("expires_in", 7200))
            self.session.set(self.access_token_key, result["access_token"],
                             max(60, expires_in - TOKEN_MARGIN_SECONDS))
            logger.info("fetched a new WeChat access token")
            return result

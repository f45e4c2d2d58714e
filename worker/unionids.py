"""Learning followers' unionids (the account they share with the mini-program) from WeChat's
user-info API, a batch each round of the worker."""

from __future__ import annotations

import logging

from wechatpy.exceptions import WeChatClientException

from models.persons import claim_unionid_lookups, store_unionid, unionid_lookup_failed
from runtime.services import Services
from runtime.wechat_api import Client
from worker.outbox_sender import BATCH

logger = logging.getLogger(__name__)


def learn_unionids(services: Services, client: Client) -> int:
    """Ask WeChat's user-info API for the unionid of people who just followed, a batch at a
    time, outside any transaction; return how many were asked. A refusal (an errcode inside
    a 200) or no answer is recorded and tried again later; nothing here stops the worker."""
    with services.sessions.begin() as db:
        asks = claim_unionid_lookups(db, now=services.clock.now(), limit=BATCH)
    for ask in asks:
        try:
            info = client.user.get(ask.openid)
            with services.sessions.begin() as db:
                store_unionid(db, person_id=ask.person_id, openid=ask.openid,
                              unionid=info.get("unionid"), now=services.clock.now())
        except Exception as error:
            detail = (f"{error.errcode} {error.errmsg}" if isinstance(error, WeChatClientException)
                      else type(error).__name__)
            logger.warning("unionid of person %s not learnt: %s", ask.person_id, detail)
            try:
                with services.sessions.begin() as db:
                    unionid_lookup_failed(db, person_id=ask.person_id, error=detail,
                                          now=services.clock.now())
            except Exception:
                # Already pushed back when claimed: it comes round again anyway.
                logger.exception("unionid lookup of person %s not recorded", ask.person_id)
    return len(asks)

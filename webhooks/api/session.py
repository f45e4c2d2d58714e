"""Signing in: wx.login's code through code2session, the link to a person (by unionid, else
once with a code from the official account), short-lived access tokens and one-use refresh
tokens. WeChat's session_key is kept sealed and never answered."""

from __future__ import annotations

import logging

from flask import Response
from sqlalchemy.orm import Session

from models.miniprogram import (
    AccountNotLinked,
    Grant,
    SessionInvalid,
    end_session,
    link_with_code,
    linked_person,
    refresh_session,
    roles_of,
    sign_in,
    start_session,
)
from runtime.services import current
from webhooks.api import core
from webhooks.api.core import AUTH, LINK_RATE, SIGN_IN_RATE, bp, caller, ok, run, spec
from webhooks.api.schemas import BindIn, RefreshIn, SessionOut, SignIn, answers
from webhooks.api.wechat_login import WeChatLogin, code_to_session

logger = logging.getLogger(__name__)

TAGS = ("session",)


def _signed_in(login: WeChatLogin) -> int:
    services = current()
    account = run(sign_in, vault=services.vault, openid=login.openid, unionid=login.unionid,
                  session_key=login.session_key, now=core.now())
    return account.id


def _session(grant: Grant) -> tuple[Response, int]:
    services = current()

    def facts(db: Session) -> tuple[bool, list[str]]:
        person = linked_person(db, account_id=grant.account_id)
        return person.is_registered, roles_of(db, person_id=person.id)

    registered, roles = run(facts)
    token = core.access_token(services, account_id=grant.account_id,
                              person_id=grant.person_id, family=grant.family)
    return ok(SessionOut(access_token=token, expires_in=core.ACCESS_SECONDS,
                         refresh_token=grant.refresh_token, person_id=grant.person_id,
                         registered=registered, roles=roles).model_dump(mode="json"))


@bp.post("/session")
@spec.validate(json=SignIn, resp=answers(200, SessionOut, 401, 403, 503), tags=TAGS)
def create_session(json: SignIn):
    """Sign in with the code from wx.login.

    Answers 403 `binding_required` while the mini-program user is not linked to a person of
    the official account: they send “绑定小程序” to the account and post its code to
    /session/bind."""
    core.within_rate(SIGN_IN_RATE, "sign-in", core.client_address())
    account_id = _signed_in(code_to_session(current().config, json.code))
    return _session(run(start_session, account_id=account_id, now=core.now()))


@bp.post("/session/bind")
@spec.validate(json=BindIn, resp=answers(200, SessionOut, 401, 503), tags=TAGS)
def bind_session(json: BindIn):
    """Link the mini-program to the person who asked the official account for this code
    (“绑定小程序”), and sign in."""
    core.within_rate(LINK_RATE, "link-ip", core.client_address())
    login = code_to_session(current().config, json.code)
    core.within_rate(LINK_RATE, "link-account", login.openid)
    account_id = _signed_in(login)
    run(link_with_code, vault=current().vault, account_id=account_id, code=json.bind_code,
        now=core.now())
    return _session(run(start_session, account_id=account_id, now=core.now()))


@bp.post("/session/refresh")
@spec.validate(json=RefreshIn, resp=answers(200, SessionOut, 401, 403), tags=TAGS)
def renew_session(json: RefreshIn):
    """A new access token for a refresh token; the refresh token is spent and replaced. A
    refresh token used twice ends its whole session."""
    core.within_rate(SIGN_IN_RATE, "refresh", core.client_address())
    try:
        grant = run(refresh_session, token=json.refresh_token, now=core.now())
    except SessionInvalid as error:
        if error.data.get("family"):
            run(end_session, family=error.data.pop("family"), now=core.now())
        raise
    except AccountNotLinked:
        raise SessionInvalid(reason="unlinked") from None
    return _session(grant)


@bp.delete("/session")
@spec.validate(resp=answers(204, None, 401), tags=TAGS, security=AUTH)
def delete_session():
    """Sign out: the session's refresh token and access tokens stop working at once."""
    who = caller()
    run(end_session, family=who.family, now=core.now())
    return "", 204

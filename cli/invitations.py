"""One-time invitations (cadres, institution staff, inspectors) and their WeChat QR codes."""

from __future__ import annotations

import logging
from collections.abc import Callable

import click
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from cli.terminal import refuse
from locales import Translator
from models.errors import DomainError
from models.invitations import INVITATION_DAYS
from runtime.services import Services, current
from runtime.wechat_api import Client

logger = logging.getLogger(__name__)


def invitation_qr_url(services: Services, scene: str) -> str:
    """A temporary WeChat QR code for a one-time scene, valid as long as the invitation."""
    client = Client(services.config, services.kv)
    result = client.qrcode.create({
        "expire_seconds": INVITATION_DAYS * 24 * 3600, "action_name": "QR_STR_SCENE",
        "action_info": {"scene": {"scene_str": scene}}})
    return result["url"]


def invitation(t: Translator, kind: str, make: Callable[[Session], str]) -> tuple[str, str]:
    """A one-time invitation (``make`` it, its token) and its WeChat QR code, made together:
    if WeChat's API cannot be reached or refuses, the invitation is rolled back and one clear
    line goes to stderr, exit code 1 — no traceback, nothing half made. Gives (scene, url)."""
    services = current()
    try:
        with services.sessions.begin() as db:
            scene = f"{kind}:{make(db)}"
            url = invitation_qr_url(services, scene)
    except DomainError as error:
        refuse(error, t)
    except WeChatClientException as error:
        click.echo(t._("No invitation was made: WeChat refused to create its QR code (error "
                       "%(code)s). Check WECHAT_APP_ID and WECHAT_APP_SECRET, then run the "
                       "command again.", code=error.errcode or "HTTP"), err=True)
        raise click.exceptions.Exit(1) from None
    except OSError as error:  # requests' connection errors and timeouts are OSErrors
        click.echo(t._("No invitation was made: WeChat's API could not be reached to create "
                       "its QR code (%(error)s). Check the network and WECHAT_API_BASE_URL, "
                       "then run the command again.", error=type(error).__name__), err=True)
        raise click.exceptions.Exit(1) from None
    return scene, url


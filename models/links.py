"""Links to pages (webhooks/pages.py): signed and expiring, carrying ids, never personal data.
The bot sends them and the API hands them out; each page's purpose salts the signature, so a
token made for one page opens no other."""

from __future__ import annotations

import logging
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

logger = logging.getLogger(__name__)

# Each page's purpose, and how long its link works where the maker decides it (the pages keep
# the lifetimes that are theirs alone: the voucher card's, the class display's).
VOUCHER_PURPOSE = "voucher"  # the holder's voucher card
CARD_PURPOSE = "paper-voucher"  # the paper card the cadre prints (bot.paper)
CARD_SECONDS = 30 * 24 * 3600  # as long as the holder's card link
CADRE_QR_PURPOSE = "cadre-qr"  # the cadre's referral code (bot.cadre, the API)
QR_PAGE_SECONDS = 7 * 24 * 3600
SUBSIDY_PURPOSE = "subsidy"  # each subsidy's reasons, clause by clause (bot.subsidy)
SUBSIDY_SECONDS = 7 * 24 * 3600
DISPLAY_PURPOSE = "class-display"  # the class display 开课 opens (models.displays)
SCREEN_PURPOSE = "class-screen"  # a display's confirmation code, scanned by staff


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"peixun-page:{purpose}")


def sign(secret_key: str, purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(secret_key, purpose).dumps(payload)


def verify(secret_key: str, purpose: str, token: str, max_age_seconds: int) -> dict[str, Any]:
    """The payload of a token made for this purpose; BadSignature if forged, old or foreign."""
    return _serializer(secret_key, purpose).loads(token, max_age=max_age_seconds)


__all__ = ["BadSignature", "sign", "verify"]

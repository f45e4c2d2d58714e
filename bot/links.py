"""Links the bot sends to pages: signed and expiring, carrying ids, never personal data."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"peixun-page:{purpose}")


def sign(secret_key: str, purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(secret_key, purpose).dumps(payload)


def verify(secret_key: str, purpose: str, token: str, max_age_seconds: int) -> dict[str, Any]:
    """The payload of a token made for this purpose; BadSignature if forged, old or foreign."""
    return _serializer(secret_key, purpose).loads(token, max_age=max_age_seconds)


__all__ = ["BadSignature", "sign", "verify"]

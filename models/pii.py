"""Personal information at rest (PIPL): ID numbers and phones are sealed with AES-GCM, found
again by a keyed hash, and shown masked; files that carry them (the desk's exports) are sealed
the same way. The key never leaves this module's objects."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

logger = logging.getLogger(__name__)

FILE_MAGIC = b"PXF1"  # a sealed file: this, the nonce, then the AES-GCM ciphertext and tag


class Unreadable(Exception):
    """A sealed value that does not open: sealed with another key, damaged, or not sealed."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"peixun-pii-v1",
                info=purpose).derive(secret.encode("utf-8"))


class Vault:
    """Seals and opens personal data with a key derived from PEIXUN_DATA_KEY."""

    def __init__(self, secret: str) -> None:
        self._aead = AESGCM(_derive(secret, b"seal"))
        self._mac_key = _derive(secret, b"lookup")

    def seal(self, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), None)
        return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str) -> str:
        raw = base64.urlsafe_b64decode(token.removeprefix("v1:"))
        return self._aead.decrypt(raw[:12], raw[12:], None).decode("utf-8")

    def seal_file(self, content: bytes, *, label: str) -> bytes:
        """A file's bytes, sealed and bound to ``label`` (what the file is, e.g. its job): a
        sealed file copied under another label does not open. A file of a few megabytes is
        sealed in one pass (AES-GCM takes up to 64 GB under one nonce)."""
        nonce = os.urandom(12)
        return FILE_MAGIC + nonce + self._aead.encrypt(nonce, content, label.encode("utf-8"))

    def open_file(self, sealed: bytes, *, label: str) -> bytes:
        if not sealed.startswith(FILE_MAGIC):
            raise Unreadable("not a sealed file")
        body = sealed[len(FILE_MAGIC):]
        try:
            return self._aead.decrypt(body[:12], body[12:], label.encode("utf-8"))
        except InvalidTag:
            raise Unreadable("the file does not open with this key and label") from None

    def digest(self, value: str) -> str:
        """A keyed hash for look-ups: equal values meet, the value itself cannot be guessed
        from it without the key (ID numbers are too few to hash without one)."""
        return hmac.new(self._mac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def mask_id(number: str) -> str:
    """5303**********123X: region and last four, as staff compare it with the card."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]

"""Rotating codes: what a voucher card or a class display shows changes every period, signed,
so that a screenshot or a forwarded picture is worthless a period later. And one-time codes:
six digits handed to a person to type elsewhere, kept only as a keyed digest."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from models.errors import CodeInvalid, InvitationInvalid
from models.pii import Vault

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShownCode:
    code: str
    expires_in: int  # seconds until the next code replaces it


class RotatingCode:
    """``<prefix>:<subject id>:<window>:<signature>``; the current and the previous window are
    accepted, so a slow network does not fail someone who scanned in time."""

    def __init__(self, secret: str, *, prefix: str, period_seconds: int) -> None:
        self._key = hashlib.sha256(f"{prefix}:{secret}".encode()).digest()
        self.prefix = prefix
        self.period = period_seconds

    def show(self, subject_id: int, now: datetime) -> ShownCode:
        window = self._window(now)
        expires_in = self.period - int(now.timestamp()) % self.period
        return ShownCode(f"{self.prefix}:{subject_id}:{window}:{self._sign(subject_id, window)}",
                         expires_in)

    def read(self, code: str, now: datetime) -> int:
        """The subject of a code shown now or a period ago; CodeInvalid says why not."""
        parts = (code or "").strip().split(":")
        if len(parts) != 4 or parts[0] != self.prefix:
            raise CodeInvalid(reason="foreign", expected=self.prefix)
        _, subject, window, signature = parts
        if not (subject.isdigit() and window.isdigit()):
            raise CodeInvalid(reason="forged", expected=self.prefix)
        if not hmac.compare_digest(signature, self._sign(int(subject), int(window))):
            raise CodeInvalid(reason="forged", expected=self.prefix)
        if not 0 <= self._window(now) - int(window) <= 1:
            raise CodeInvalid(reason="stale", expected=self.prefix)
        return int(subject)

    def _window(self, now: datetime) -> int:
        return int(now.timestamp()) // self.period

    def _sign(self, subject_id: int, window: int) -> str:
        digest = hmac.new(self._key, f"{subject_id}:{window}".encode(), hashlib.sha256)
        return digest.hexdigest()[:20]


# The prefix of the code printed on a paper voucher card (models.paper).
PAPER_PREFIX = "PXP"


class StaticCode:
    """``<prefix>:<subject id>:<signature>``: a code printed on paper, which cannot rotate. The
    signature binds it to its subject, so it cannot be made up or moved to another subject; it
    carries no personal data, and the operation that reads it decides who may use it and how
    often (a paper voucher: staff of the class's institution, with the ID card checked, once)."""

    def __init__(self, secret: str, *, prefix: str) -> None:
        self._key = hashlib.sha256(f"{prefix}:static:{secret}".encode()).digest()
        self.prefix = prefix

    def make(self, subject_id: int) -> str:
        return f"{self.prefix}:{subject_id}:{self._sign(subject_id)}"

    def read(self, code: str) -> int:
        """The subject of a code made here; CodeInvalid says why not."""
        parts = (code or "").strip().split(":")
        if len(parts) != 3 or parts[0] != self.prefix:
            raise CodeInvalid(reason="foreign", expected=self.prefix)
        _, subject, signature = parts
        if not subject.isdigit() or not hmac.compare_digest(signature,
                                                            self._sign(int(subject))):
            raise CodeInvalid(reason="forged", expected=self.prefix)
        return int(subject)

    def _sign(self, subject_id: int) -> str:
        # 120 bits: nobody forges one by trying, whoever reads the database.
        return hmac.new(self._key, str(subject_id).encode(), hashlib.sha256).hexdigest()[:30]


@dataclass(frozen=True)
class OneTimeCode:
    """A six-digit code a person is given in one place and types in another (a cadre's binding
    code, the mini-program's link code). Only its keyed digest is stored, under its purpose, so
    reading the database gives no code away and one purpose's code never opens another's.

    The code is kept in a row: ``digest_column`` holds its digest, ``expires_column`` when it
    dies, and ``used_column`` is set once it is used; a code that is wrong, used or expired is
    refused with InvitationInvalid(reason=``refusal``)."""

    purpose: str
    digest_column: InstrumentedAttribute[Any]
    expires_column: InstrumentedAttribute[Any]
    used_column: InstrumentedAttribute[Any]
    refusal: str

    def digest(self, vault: Vault, code: str) -> str:
        return vault.digest(f"{self.purpose}:{code.strip()}")

    def draw(self, vault: Vault, *, in_use: Callable[[str], bool]) -> tuple[str, str]:
        """A fresh code and its digest; ``in_use(digest)`` says whether a code someone holds
        already has it (the digest column is unique: a clash would fail the transaction)."""
        while True:
            code = f"{secrets.randbelow(10**6):06d}"
            digest = self.digest(vault, code)
            if not in_use(digest):
                return code, digest

    def holder(self, db: Session, *, vault: Vault, code: str, now: datetime) -> Any:
        """The row that holds this code, locked until the transaction ends, if the code is
        good: not used, not expired. InvitationInvalid otherwise, the same for every case."""
        table = self.digest_column.class_
        row = db.scalar(select(table).where(self.digest_column == self.digest(vault, code))
                        .with_for_update())
        if (row is None or getattr(row, self.used_column.key) is not None
                or getattr(row, self.expires_column.key) < now):
            raise InvitationInvalid(reason=self.refusal)
        return row

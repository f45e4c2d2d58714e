"""One turn of the conversation: who is talking, what they were last shown, in which language,
and the one door through which the bot reaches the domain."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, TypeVar

from redis import Redis

from bot import state as conversation
from bot.replies import Reply
from locales import Translator, translator
from models.base import read
from models.clock import Clock
from models.codes import RotatingCode
from models.direct import DirectReads, timed_out
from models.persons import DEFAULT_LOCALE, Sender, meet, recognize
from models.pii import Vault

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Transactions(Protocol):
    """Where one domain operation gets its transaction (webhooks gives a sessionmaker)."""

    def begin(self) -> AbstractContextManager: ...

    def __call__(self) -> AbstractContextManager: ...

@dataclass(frozen=True)
class Contact:
    """Where a person reaches a human: the county's service centre (runtime.config
    SERVICE_PHONE and SERVICE_HOURS; no phone: only the national line is given)."""

    phone: str = ""
    hours: str = ""


# The state outlives a dialogue's own timeout, so that the bot can say the dialogue expired.
STATE_SECONDS = 24 * 3600


class Turn:
    def __init__(self, *, openid: str, sessions: Transactions, direct: DirectReads, kv: Redis,
                 clock: Clock, vault: Vault, voucher_codes: RotatingCode,
                 class_codes: RotatingCode,
                 dialogue_seconds: int, base_url: str, secret_key: str,
                 shared: MutableMapping | None = None,
                 state: conversation.State | None = None,
                 contact: Contact | None = None,
                 courses_version: str | None = None) -> None:
        self.openid = openid
        self.kv = kv
        self.clock = clock
        self.vault = vault
        self.voucher_codes = voucher_codes
        self.class_codes = class_codes
        self._shared = shared if shared is not None else {}
        self.base_url = base_url
        self.secret_key = secret_key
        self.dialogue_seconds = dialogue_seconds
        self.contact = contact or Contact()
        self._sessions = sessions
        self._direct = direct
        # The course list's version read with the state (runtime.catalogue_version): keys the
        # shared course answers, so none outlives a change to the courses.
        self.courses_version = courses_version
        # The callback reads the state with its other first Redis calls (webhooks.dedup.admit).
        self.state = state if state is not None else conversation.load(kv, openid)
        self.unsaved = False
        self.t: Translator = translator(self.state.locale or DEFAULT_LOCALE)
        self.person: Sender | None = None

    def run(self, operation: Callable[..., T], **kwargs) -> T:
        """Run one domain operation in one transaction."""
        with self._sessions.begin() as db:
            return operation(db, **kwargs)

    def read(self, operation: Callable[..., T], **kwargs) -> T:
        """Run one read-only domain operation (models.base.read): on PostgreSQL without BEGIN
        and COMMIT, two round trips fewer, and without the turn's SET LOCAL."""
        return read(self._sessions, operation, **kwargs)

    def read_kept(self, operation: Callable[..., T], **kwargs) -> T:
        """Run a read of one prepared statement on the process's kept connection
        (models.direct): no Session, no transaction; for what every message reads."""
        return operation(self._direct, **kwargs)

    def read_facts(self, operation: Callable[..., T], **kwargs) -> T:
        """Run a read-only domain operation that reads its facts on the process's kept
        connection (``reads=``, models.direct) and anything rarer through a Session that
        connects only if it is used: models.eligibility.evaluate, on every registered
        person's 补贴 and course details. The session holds nothing unwritten (the operation
        reads past it)."""
        try:
            with self._sessions() as db:
                return operation(db, reads=self._direct, **kwargs)
        except Exception as error:
            if not timed_out(error):
                raise
        # The kept connection gives up after the app's 3 s; a turn may wait on a slow
        # database as long as its budget allows (models.base.statement_budget): its answer,
        # late, reaches the person through the outbox. Once more, in a transaction of the turn.
        logger.warning("a kept read passed its statement limit: read again within the turn's")
        with self._sessions.begin() as db:
            return operation(db, **kwargs)

    def shared(self, key: Hashable, make: Callable[[], T]) -> T:
        """An answer that is the same for everyone who asks it this way and may be a few
        seconds old; kept per process (see runtime.services.SHARED_SECONDS)."""
        try:
            return self._shared[key]
        except KeyError:
            value = make()
            self._shared[key] = value
            return value

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.clock.today()

    def meet(self) -> Sender:
        # Nearly every message is from someone seen within the hour: one read, no write.
        self.person = (self.read_kept(recognize, openid=self.openid, now=self.now())
                       or Sender.of(self.run(meet, openid=self.openid, now=self.now())))
        self.speak(self.person.locale)
        return self.person

    def speak(self, locale: str) -> None:
        self.t = translator(locale)
        self.state.locale = locale

    def remember(self, reply: Reply) -> None:
        """Keep what the next digit or "next page" will mean."""
        self.state.choices = list(reply.choices)
        self.state.more = reply.more
        self.state.shown_at = self.now().timestamp()
        self.unsaved = True

    def changed_state(self) -> tuple[str, str, int] | None:
        """The state a reply changed, as the callback writes it in the one round trip that also
        keeps the reply for WeChat's retries (webhooks.dedup.keep): its key, its text and its
        seconds; None when nothing changed."""
        if not self.unsaved:
            return None
        self.unsaved = False
        return conversation.key(self.openid), self.state.dump(), STATE_SECONDS

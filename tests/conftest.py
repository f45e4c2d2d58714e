"""Fixtures: the app on each database and Redis stack, a WeChat server that signs like the real
one, the fake WeChat API, a clock that stands still, and factories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import fakeredis
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from redis import Redis
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import models
from bot import understanding
from cli.database import migrate
from devtools.fake_wechat import FakeWeChatServer
from models.base import make_engine
from models.catalogue import Course
from models.clock import LOCAL_TZ, FrozenClock
from models.demo import load_demo
from models.partitions import is_partition
from models.persons import Person
from models.pii import Vault
from runtime.config import Config
from runtime.services import Services
from tests import factories
from tests.browser import chromium, live_server
from tests.wechat_server import WeChatServer
from webhooks.app import create_app

pytest_plugins = ["tests.desk_fixtures", "tests.api_fixtures", "tests.committed"]

POSTGRES_URL = os.environ.get("PEIXUN_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
# Each test run gets a database of its own (and, mostly, a Redis database of its own), so that
# runs side by side — two developers' shells, CI and a benchmark — never see each other.
RUN_DB = f"peixun_t{os.getpid()}"
REDIS_HOST = "redis://127.0.0.1:6379"
REDIS_DBS = range(4, 16)  # test runs side by side each claim one of these
OWNER_KEY = "peixun:test-run-owner"
REQUIRE_SERVICES = os.environ.get("PEIXUN_REQUIRE_SERVICES") == "1"

# A Wednesday morning in Luoping; the demo data is laid out around it.
START = datetime(2026, 11, 25, 9, 0, tzinfo=LOCAL_TZ)

STACKS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres+redis", marks=pytest.mark.postgres),
]


@dataclass
class Stack:
    name: str
    engine: Engine
    redis_url: str | None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}); start it (see README)"
    if REQUIRE_SERVICES:
        pytest.fail(message + " — PEIXUN_REQUIRE_SERVICES=1 makes this test mandatory")
    pytest.skip(message)


def _admin_postgres():
    # Creating and dropping a whole database may wait on a busy machine (CI, benchmarks beside
    # it): no statement limit here, unlike the app's own connections.
    return make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT",
                       connect_args={"options": "-c statement_timeout=0"})


def _fresh_postgres(name: str = RUN_DB, **options) -> Engine:
    admin = _admin_postgres()
    try:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            connection.execute(text(f"CREATE DATABASE {name}"))
    except OperationalError as error:
        _unavailable("PostgreSQL at " + POSTGRES_URL, error)
    finally:
        admin.dispose()
    return make_engine(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name, **options)


def _drop_postgres(name: str = RUN_DB) -> None:
    admin = _admin_postgres()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def committed_postgres(name: str, vault: Vault) -> Iterator[Engine]:
    """A PostgreSQL database of its own, migrated, with the demo county, whose transactions
    really commit (for tests of concurrent transactions); dropped afterwards."""
    engine = _fresh_postgres(name, pool_size=10)
    migrate(engine)
    with sessionmaker(engine).begin() as db:
        load_demo(db, vault=vault, now=START, today=START.date())
    yield engine
    engine.dispose()
    _drop_postgres(name)


def drift_from_models(engine: Engine) -> list:
    """What Alembic finds between the database and the models, partitions left out (they are
    made by `flask db partition-…` and the worker, not the migrations): [] when they agree."""
    with engine.connect() as c:
        context = MigrationContext.configure(c, opts={
            "include_name": lambda name, kind, _: not (kind == "table" and is_partition(name))})
        return compare_metadata(context, models.metadata)


def _owner_is_gone(owner: bytes | None) -> bool:
    try:
        os.kill(int(owner or 0), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def _redis_or_skip() -> str:
    """A Redis database of this run's own: the first of REDIS_DBS no other live run holds."""
    if os.environ.get("PEIXUN_TEST_REDIS_URL"):
        return os.environ["PEIXUN_TEST_REDIS_URL"]
    try:
        for n in REDIS_DBS:
            url = f"{REDIS_HOST}/{n}"
            client = Redis.from_url(url, socket_connect_timeout=1)
            if client.set(OWNER_KEY, os.getpid(), nx=True, ex=3600):
                return url
            owner = client.get(OWNER_KEY)
            # A run killed before its teardown: its database is free again (getset: of two
            # runs taking it over at once, only the one that saw the dead owner wins).
            if _owner_is_gone(owner) and client.getset(OWNER_KEY, os.getpid()) == owner:
                client.expire(OWNER_KEY, 3600)
                return url
    except Exception as error:  # any failure to reach it means "not here"
        _unavailable("Redis at " + REDIS_HOST, error)
    pytest.fail(f"all Redis test databases {list(REDIS_DBS)} are held by other test runs")


@pytest.fixture(scope="session", params=STACKS)
def stack(request, tmp_path_factory) -> Iterator[Stack]:
    """A migrated database with the demo county loaded, once per test session and backend."""
    if request.param == "sqlite":
        path = Path(tmp_path_factory.mktemp("db")) / "peixun.db"
        result = Stack("sqlite", make_engine(f"sqlite:///{path}"), None)
    else:
        result = Stack("postgres", _fresh_postgres(), _redis_or_skip())
    migrate(result.engine)
    with sessionmaker(result.engine).begin() as session:
        load_demo(session, vault=Vault(Config().data_key), now=START, today=START.date())
    yield result
    result.engine.dispose()
    if result.is_postgres:
        _drop_postgres()
    if result.redis_url:
        Redis.from_url(result.redis_url).delete(OWNER_KEY)


@pytest.fixture(scope="session")
def fake_wechat() -> Iterator[FakeWeChatServer]:
    with FakeWeChatServer() as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def understanding_loaded() -> None:
    """jieba and pypinyin load once a process, beside the app's start (bot.understanding): the
    tests wait for it, so that no test's first message is late on a busy machine."""
    understanding.warm_up(wait=True)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def rolled_back(engine) -> Iterator[sessionmaker]:
    """Sessions inside one outer transaction that is rolled back at the end; the app's own
    transactions become savepoints in it."""
    connection = engine.connect()
    outer = connection.begin()
    yield sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                       expire_on_commit=False)
    outer.rollback()
    connection.close()


@pytest.fixture
def sessions(stack: Stack) -> Iterator[sessionmaker]:
    """Every test runs inside one outer transaction that is rolled back at the end."""
    yield from rolled_back(stack.engine)


@pytest.fixture
def db(sessions: sessionmaker) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def kv(stack: Stack) -> Redis:
    if stack.redis_url is None:
        return fakeredis.FakeRedis(decode_responses=True)
    client = Redis.from_url(stack.redis_url, decode_responses=True)
    client.flushdb()
    client.set(OWNER_KEY, os.getpid(), ex=3600)  # the run still holds this database
    return client


@pytest.fixture
def config(stack: Stack, fake_wechat: FakeWeChatServer) -> Config:
    return Config(testing=True, redis_url=stack.redis_url,
                  wechat_api_base_url=fake_wechat.base_url,
                  wechat_notice_template_id="tpl-notice", public_base_url="http://peixun.test")


@pytest.fixture
def app(config, stack, sessions, kv, clock, fake_wechat):
    fake_wechat.state.reset()
    return create_app(config, engine=stack.engine, sessions=sessions, kv=kv, clock=clock)


@pytest.fixture
def services(app) -> Services:
    return app.extensions["peixun"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def wechat(client, config, clock) -> WeChatServer:
    return WeChatServer(client, token=config.wechat_token, clock=clock)


@pytest.fixture
def talk(wechat):
    """A dialogue as a transcript: ``talk(openid, [(what the person says, expected), …])``;
    expected is words the reply must contain, ``absent(words)`` for words it must not, a list
    of both, or None; a line may say it as a ``Voice(…)`` and add, third, a list of words the
    reply must not contain (tests/wechat_server.py). Returns the replies."""
    return wechat.transcript


@pytest.fixture
def person_named(db):
    def find(openid: str) -> Person | None:
        db.expire_all()
        return db.scalar(select(Person).where(Person.openid == openid))

    return find


# --- people and classes, built by tests/factories.py -----------------------------------------

@pytest.fixture
def trainee(wechat) -> str:
    """A trainee registered through the chat, with consent: their openid."""
    return factories.registered_trainee(wechat)


@pytest.fixture
def staff(wechat, services, clock) -> str:
    """lp-pes's staff member, bound by scanning the bureau's invitation: their openid."""
    return factories.bound_staff(wechat, services, clock)


@pytest.fixture
def cadre_invitation(services, clock):
    """``cadre_invitation(village=…, township=…)``: a one-time invitation's token."""

    def make(village: str = "腊者村", township: str = "lubuge") -> str:
        return factories.cadre_invitation(services, clock, village=village, township=township)

    return make


@pytest.fixture
def cadre(wechat, services, clock) -> str:
    """demo-cadre, bound to 腊者村 by scanning an invitation: their openid."""
    return factories.bound_cadre(wechat, services, clock, "demo-cadre")


@pytest.fixture
def today_class(db) -> Course:
    """The demo's class that runs today (lp-zhongzhi, demo-staff its staff)."""
    return factories.course(db, factories.TODAY_CLASS)


@pytest.fixture
def opened(wechat, clock, today_class) -> Course:
    """The afternoon session of today's class is open (开课 by its staff)."""
    factories.open_afternoon_session(wechat, clock)
    return today_class


@pytest.fixture
def classroom(wechat, services, sessions, clock) -> factories.Classroom:
    return factories.Classroom(wechat, services, sessions, clock)


# Headless Chromium for the pages a person sees (tests/browser.py says how it is found).
@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def server(app):
    """The app on a free local port, for the browser."""
    with live_server(app) as running:
        yield running

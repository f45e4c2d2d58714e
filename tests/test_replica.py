"""DATABASE_REPLICA_URL: the dashboard and its lists read the replica, everything else reads
and writes the primary; unset, everything is on the primary. The "replica" here is another
database (a SQLite file with the demo county), so what is read where shows on the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from cli.database import migrate
from models.base import make_engine, make_sessionmaker
from models.demo import load_demo
from models.desk import DeskRole
from models.pii import Vault
from models.vouchers import Voucher
from runtime.config import Config
from tests.conftest import START
from tests.test_dashboard import figure, page
from webhooks.app import create_app

OUTSIDE = "lp-2026-003"
TABLES = ("persons", "vouchers", "audit_log", "desk_users", "outbox")


@pytest.fixture(scope="module")
def replica_url(tmp_path_factory) -> str:
    path = Path(tmp_path_factory.mktemp("replica")) / "replica.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate(engine)
    with make_sessionmaker(engine).begin() as db:
        load_demo(db, vault=Vault(Config().data_key), now=START, today=START.date())
    engine.dispose()
    return url


@pytest.fixture
def app(config, stack, sessions, kv, clock, fake_wechat, replica_url):
    """The app as the environment makes it with DATABASE_REPLICA_URL set."""
    fake_wechat.state.reset()
    replica = Config.from_env({"DATABASE_REPLICA_URL": replica_url}).database_replica_url
    return create_app(config.but(database_replica_url=replica), engine=stack.engine,
                      sessions=sessions, kv=kv, clock=clock)


def rows(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as connection:
        found = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                 for t in TABLES}
    engine.dispose()
    return found


def test_the_dashboard_reads_the_replica_and_writes_go_to_the_primary(
        desk_client, activity, sessions, replica_url):
    before = rows(replica_url)
    admin = desk_client(DeskRole.ADMIN)  # its sign-in is written (and read) on the primary
    start = figure(page(admin), "category", "outside", "redeemed")
    with sessions.begin() as db:
        primary_vouchers = db.scalar(select(func.count(Voucher.id)))

    activity.voucher(OUTSIDE, township="majie", to="redeemed")  # on the primary

    with sessions.begin() as db:
        assert db.scalar(select(func.count(Voucher.id))) == primary_vouchers + 1
    # The replica has not got it (here: never will): the dashboard and its list show what the
    # replica holds.
    html = page(admin)
    assert figure(html, "category", "outside", "redeemed") == start
    listed = page(admin, "/admin/list?measure=redeemed&category=outside&township=majie")
    assert "王小明" not in listed
    assert rows(replica_url) == before  # no write reached the replica


def test_without_a_replica_the_dashboard_reads_the_primary(
        config, stack, sessions, kv, clock, make_desk_user, activity):
    app = create_app(Config.from_env({}).but(testing=True, redis_url=config.redis_url),
                     engine=stack.engine, sessions=sessions, kv=kv, clock=clock)
    assert app.extensions["peixun"].config.database_replica_url is None
    make_desk_user(DeskRole.ADMIN, username="primary.admin")
    client = app.test_client()
    from tests.desk_fixtures import sign_in

    sign_in(client, "primary.admin")
    start = figure(page(client), "category", "outside", "redeemed")
    activity.voucher(OUTSIDE, township="majie", to="redeemed")
    assert figure(page(client), "category", "outside", "redeemed") == start + 1

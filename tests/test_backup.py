"""Backups that restore: `flask backup make` on a database with committed vouchers, attendance
and outbox messages, `flask backup restore` into a fresh database, and every row found again
with equal content; a backup made with another data key is refused before the target is
touched. On SQLite and on PostgreSQL (pg_dump/pg_restore)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from cli.database import migrate
from models.attendance import Attendance
from models.base import make_engine
from models.clock import FrozenClock
from models.demo import load_demo
from models.outbox import Outbox
from models.persons import Person
from models.pii import Vault
from models.vouchers import Voucher
from tests.conftest import POSTGRES_URL, RUN_DB, START, _admin_postgres
from tests.desk_fixtures import Activity, Made
from webhooks.app import create_app

COURSE = "lp-2026-003"  # the demo's 转移就业 course of 滇黔桂人力资源


class Databases:
    """Databases of this test's own, created empty and dropped at its end."""

    def __init__(self, stack, tmp_path: Path) -> None:
        self._stack, self._tmp, self._made = stack, tmp_path, []

    def fresh(self, name: str) -> str:
        if self._stack.is_postgres:
            database = f"{RUN_DB}_{name}"
            admin = _admin_postgres()
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                connection.execute(text(f"CREATE DATABASE {database}"))
            admin.dispose()
            self._made.append(database)
            return POSTGRES_URL.rsplit("/", 1)[0] + "/" + database
        return f"sqlite:///{self._tmp / (name + '.db')}"

    def drop_all(self) -> None:
        admin = _admin_postgres()
        with admin.connect() as connection:
            for database in self._made:
                connection.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def databases(stack, tmp_path) -> Iterator[Databases]:
    made = Databases(stack, tmp_path)
    yield made
    made.drop_all()


@dataclass
class Source:
    app: Flask
    engine: Engine
    made: list[Made]


@pytest.fixture
def source(databases, config, kv, fake_wechat) -> Iterator[Source]:
    """A live database of its own, its data committed for real (the shared test database
    rolls every test back): the demo county, and vouchers claimed, redeemed and completed with
    their attendance and the messages they queued."""
    url = databases.fresh("source")
    engine = make_engine(url)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as db:
        load_demo(db, vault=Vault(config.data_key), now=START, today=START.date())
    app = create_app(config.but(database_url=url), engine=engine, sessions=sessions, kv=kv,
                     clock=FrozenClock(START))
    activity = Activity(sessions, app.extensions["peixun"], FrozenClock(START))
    made = [activity.voucher(COURSE, name=name, to=to) for name, to in (
        ("李一", "issued"), ("王二", "redeemed"), ("张三", "completed"), ("赵四", "completed"))]
    yield Source(app, engine, made)
    engine.dispose()


def rows(engine: Engine, model) -> dict[int, dict]:
    with engine.connect() as connection:
        return {row.id: dict(row._mapping)
                for row in connection.execute(select(model.__table__))}


def test_a_backup_restores_into_a_fresh_database_with_every_row(source, databases, tmp_path,
                                                                 config):
    dump = tmp_path / "backups" / "peixun.dump"
    made = source.app.test_cli_runner().invoke(
        args=["backup", "make", "--out", str(dump), "--lang", "en"])
    assert made.exit_code == 0, made.output
    assert "Backup written" in made.output and dump.exists()
    assert (tmp_path / "backups" / "peixun.dump.manifest.json").exists()
    assert config.data_key not in (tmp_path / "backups" / "peixun.dump.manifest.json").read_text()

    target_url = databases.fresh("restored")
    restored = source.app.test_cli_runner().invoke(
        args=["backup", "restore", str(dump), "--into", target_url, "--lang", "en"])
    assert restored.exit_code == 0, restored.output
    assert "Restored and verified" in restored.output

    target = make_engine(target_url)
    try:
        for model in (Voucher, Attendance, Outbox):
            before, after = rows(source.engine, model), rows(target, model)
            assert before, model  # something to find: the test made rows of each
            assert after == before, model
        assert {m.voucher_id for m in source.made} <= rows(target, Voucher).keys()
        vault = source.app.extensions["peixun"].vault
        with target.connect() as connection:
            for m in source.made:
                sealed = connection.scalar(select(Person.id_sealed)
                                           .where(Person.id == m.person_id))
                assert vault.open(sealed) == m.id_number
    finally:
        target.dispose()


def test_a_backup_made_with_another_data_key_is_refused_before_the_target_is_touched(
        source, databases, tmp_path, config, kv):
    dump = tmp_path / "peixun.dump"
    assert source.app.test_cli_runner().invoke(
        args=["backup", "make", "--out", str(dump)]).exit_code == 0

    target_url = databases.fresh("other_key")
    other = create_app(config.but(data_key="another county's key"), engine=source.engine,
                       kv=kv, clock=FrozenClock(START))
    refused = other.test_cli_runner().invoke(
        args=["backup", "restore", str(dump), "--into", target_url])
    assert refused.exit_code == 1
    assert "这个备份是用另一个数据密钥" in refused.output, refused.output
    target = make_engine(target_url)
    assert inspect(target).get_table_names() == []  # nothing restored, nothing half-done
    target.dispose()


def test_restore_refuses_a_database_that_is_not_empty(source, tmp_path):
    dump = tmp_path / "peixun.dump"
    runner = source.app.test_cli_runner()
    assert runner.invoke(args=["backup", "make", "--out", str(dump)]).exit_code == 0
    with source.engine.connect() as connection:
        vouchers = connection.scalar(select(Voucher.id).order_by(Voucher.id.desc()).limit(1))
    into = source.engine.url.render_as_string(hide_password=False)
    refused = runner.invoke(args=["backup", "restore", str(dump), "--into", into,
                                  "--lang", "en"])
    assert refused.exit_code == 1 and "not empty" in refused.output, refused.output
    with source.engine.connect() as connection:
        assert connection.scalar(select(Voucher.id).order_by(Voucher.id.desc())
                                 .limit(1)) == vouchers


def test_a_restore_that_does_not_match_the_manifest_says_what_differs(source, databases,
                                                                     tmp_path):
    """The verification is real: a manifest counting one voucher more than the dump holds (a
    dump cut short, a copy of another day's manifest) fails the restore, naming the table."""
    dump = tmp_path / "peixun.dump"
    runner = source.app.test_cli_runner()
    assert runner.invoke(args=["backup", "make", "--out", str(dump)]).exit_code == 0
    manifest = tmp_path / "peixun.dump.manifest.json"
    counted = json.loads(manifest.read_text())
    counted["tables"]["vouchers"] += 1
    manifest.write_text(json.dumps(counted))
    failed = runner.invoke(args=["backup", "restore", str(dump), "--into",
                                 databases.fresh("short"), "--lang", "en"])
    assert failed.exit_code == 1
    assert "differs from the backup's manifest: vouchers:" in failed.output, failed.output


def test_restore_into_a_database_that_does_not_exist_says_so(source, stack, tmp_path):
    if not stack.is_postgres:
        pytest.skip("SQLite makes the file it is asked to restore into")
    dump = tmp_path / "peixun.dump"
    runner = source.app.test_cli_runner()
    assert runner.invoke(args=["backup", "make", "--out", str(dump)]).exit_code == 0
    nowhere = POSTGRES_URL.rsplit("/", 1)[0] + f"/{RUN_DB}_never_made"
    answer = runner.invoke(args=["backup", "restore", str(dump), "--into", nowhere])
    assert answer.exit_code == 1 and "连接不上目标数据库" in answer.output, answer.output
    assert "Traceback" not in answer.output


def test_without_pg_dump_on_the_path_the_backup_says_what_to_install(source, stack, tmp_path):
    if not stack.is_postgres:
        pytest.skip("SQLite is copied by Python's own sqlite3")
    dump = tmp_path / "peixun.dump"
    answer = source.app.test_cli_runner().invoke(
        args=["backup", "make", "--out", str(dump), "--lang", "en"], env={"PATH": str(tmp_path)})
    assert answer.exit_code == 1, answer.output
    assert "pg_dump was not found on the PATH" in answer.output and not dump.exists()

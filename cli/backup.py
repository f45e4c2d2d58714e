"""`flask --app wsgi backup make|restore`: a copy of the one database that is known to restore.

A backup is the dump (PostgreSQL: pg_dump's custom format; SQLite: a copy made by sqlite3's
online backup API) and, beside it, a manifest: the row count of every table, the Alembic
revision and a fingerprint of the data key (an HMAC of a fixed string, never the key). Restore
refuses a backup made with another data key before it touches the target, restores into an
empty database only, and then checks the counts and that sealed values open with this key."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import URL, func, inspect, make_url, select, table, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from cli.terminal import LANGUAGES, language_option
from locales import Translator, translator
from models.base import Base, make_engine
from models.persons import Person
from models.pii import Vault
from runtime.services import current

logger = logging.getLogger(__name__)

FINGERPRINT_OF = "peixun-backup-data-key-fingerprint-v1"  # what the key's HMAC is taken of
SAMPLE = 20  # sealed values opened after a restore
TABLES = [t.name for t in Base.metadata.sorted_tables] + ["alembic_version"]


class BackupFailed(Exception):
    """Said to the operator as it is (already in their language); exit code 1."""


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".manifest.json")


def fingerprint(vault: Vault) -> str:
    return vault.digest(FINGERPRINT_OF)


def _counts(connection: Connection) -> dict[str, int]:
    return {name: connection.scalar(select(func.count()).select_from(table(name)))
            for name in TABLES}


def _revision(connection: Connection) -> str | None:
    return connection.scalar(text("SELECT version_num FROM alembic_version"))


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq address for pg_dump/pg_restore, and the environment carrying its password (an
    argument would show in `ps`)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str, t: Translator) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupFailed(t._("%(tool)s was not found on the PATH; install the PostgreSQL "
                               "client tools of the server's version.", tool=name))
    return found


def _run(args: list[str], env: dict[str, str], t: Translator) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupFailed(t._("%(tool)s failed: %(error)s", tool=Path(args[0]).name,
                               error=done.stderr.strip()[-500:]))


def make_backup(engine: Engine, vault: Vault, out: Path, t: Translator) -> dict:
    """Write the dump to ``out`` and its manifest beside it; return the manifest."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "postgresql":
        pg_dump = _tool("pg_dump", t)
        # Count in the very snapshot pg_dump copies: the manifest matches the dump exactly.
        with engine.connect() as connection:
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, "
                                    "READ ONLY"))
            # A big table's count may take longer than a request's statement limit.
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
            counts, revision = _counts(connection), _revision(connection)
            address, env = _libpq(engine.url)
            _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                  f"--snapshot={snapshot}", f"--file={out}", f"--dbname={address}"], env, t)
            connection.rollback()
        kind = "pg_dump-custom"
    else:
        source = engine.url.database
        with sqlite3.connect(source) as live, sqlite3.connect(out) as copy:
            live.backup(copy)  # a consistent copy of a live file, writers carry on
        live.close()
        copy.close()
        copied = make_engine(f"sqlite:///{out}")
        with copied.connect() as connection:
            counts, revision = _counts(connection), _revision(connection)
        copied.dispose()
        kind = "sqlite"
    manifest = {"format": kind, "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "alembic_revision": revision, "tables": counts,
                "data_key_fingerprint": fingerprint(vault)}
    manifest_path(out).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                  encoding="utf-8")
    return manifest


def _read_manifest(dump: Path, t: Translator) -> dict:
    path = manifest_path(dump)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BackupFailed(t._("No readable manifest %(path)s beside the backup; restore "
                               "refused, nothing was changed.", path=str(path))) from None


def restore_backup(dump: Path, into: str, vault: Vault, t: Translator) -> dict:
    """Restore ``dump`` into the empty database at ``into`` and verify it; return the
    manifest. Refuses, changing nothing, a backup made with another data key or a target that
    holds tables already."""
    manifest = _read_manifest(dump, t)
    if manifest.get("data_key_fingerprint") != fingerprint(vault):
        raise BackupFailed(t._(
            "This backup was made with another data key (PEIXUN_DATA_KEY): its ID numbers, "
            "phones and export files would not open. Set the key the backup was made with; "
            "restore refused, nothing was changed."))
    url = make_url(into)
    target = make_engine(into)
    try:
        try:
            tables = inspect(target).get_table_names()
        except OperationalError as error:
            raise BackupFailed(t._("Cannot reach the target database (create it first): "
                                   "%(error)s", error=str(error.orig).splitlines()[0])) from None
        if tables:
            raise BackupFailed(t._("The target database is not empty; restore only into a "
                                   "new, empty database. Nothing was changed."))
        if manifest["format"] == "pg_dump-custom":
            if target.dialect.name != "postgresql":
                raise BackupFailed(t._("A PostgreSQL backup restores into PostgreSQL only."))
            pg_restore = _tool("pg_restore", t)
            address, env = _libpq(url)
            _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error",
                  "--single-transaction", f"--dbname={address}", str(dump)], env, t)
        else:
            if target.dialect.name != "sqlite":
                raise BackupFailed(t._("A SQLite backup restores into SQLite only."))
            target.dispose()  # the copy goes in while nothing holds the file
            with sqlite3.connect(dump) as source, sqlite3.connect(url.database) as into_file:
                source.backup(into_file)
            source.close()
            into_file.close()
        verify(target, manifest, vault, t)
    finally:
        target.dispose()
    return manifest


def verify(engine: Engine, manifest: dict, vault: Vault, t: Translator) -> None:
    """The restored database holds what the manifest counted, and its sealed values open."""
    with engine.connect() as connection:
        counts, revision = _counts(connection), _revision(connection)
        sealed = connection.execute(
            select(Person.id_sealed, Person.phone_sealed)
            .where(Person.id_sealed.is_not(None)).order_by(Person.id).limit(SAMPLE)).all()
    wrong = [f"{name}: {counts.get(name)} ≠ {want}"
             for name, want in manifest["tables"].items() if counts.get(name) != want]
    if revision != manifest["alembic_revision"]:
        wrong.append(f"alembic_version: {revision} ≠ {manifest['alembic_revision']}")
    if wrong:
        raise BackupFailed(t._("The restored database differs from the backup's manifest: "
                               "%(wrong)s", wrong="; ".join(wrong)))
    try:
        for id_sealed, phone_sealed in sealed:
            vault.open(id_sealed)
            if phone_sealed:
                vault.open(phone_sealed)
    except Exception:  # any sealed value that does not open: another key or damage
        raise BackupFailed(t._("Restored, but sealed ID numbers do not open with this data "
                               "key.")) from None


@click.group("backup", cls=AppGroup)
def group() -> None:
    """Back up the database, and restore a backup into a new database."""


language = language_option("The language of the messages.")


@group.command("make")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The dump to write; its manifest goes beside it (FILE.manifest.json).")
@language
def backup_make(out: Path, lang: str) -> None:
    """Dump the database (pg_dump custom format, or SQLite's online backup) with a
    manifest: row counts, Alembic revision, the data key's fingerprint."""
    t = translator(LANGUAGES[lang])
    services = current()
    try:
        manifest = make_backup(services.engine, services.vault, out, t)
    except BackupFailed as failed:
        raise click.ClickException(str(failed)) from None
    click.echo(t._("Backup written: %(file)s (%(rows)s rows in %(tables)s tables). "
                      "Keep PEIXUN_DATA_KEY apart from it.",
                   file=str(out), rows=sum(manifest["tables"].values()),
                   tables=len(manifest["tables"])))


@group.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--into", "into", required=True, metavar="DATABASE_URL",
              help="A new, empty database (with the server stopped for SQLite).")
@language
def backup_restore(file: Path, into: str, lang: str) -> None:
    """Restore a backup into an empty database, then verify: every table's row count as
    in the manifest, and sealed ID numbers open with this PEIXUN_DATA_KEY."""
    t = translator(LANGUAGES[lang])
    try:
        manifest = restore_backup(file, into, current().vault, t)
    except BackupFailed as failed:
        raise click.ClickException(str(failed)) from None
    click.echo(t._("Restored and verified: %(rows)s rows in %(tables)s tables, as in "
                      "the manifest; ID numbers open with this data key.",
                   rows=sum(manifest["tables"].values()), tables=len(manifest["tables"])))

"""Alembic's environment: the connection comes from the caller (``cli.database.migrate``) or,
for the plain ``alembic`` command, from DATABASE_URL."""

from alembic import context

import models
from models.base import make_engine
from models.partitions import is_partition
from runtime.config import Config

target_metadata = models.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(Config.from_env().database_url)
    with engine.begin() as connection:
        _run(connection)


def _ours(name, type_, _parent_names) -> bool:
    """What Alembic compares with the models: not the audit log's and attendance's partitions,
    which `flask db partition-audit`, `flask db partition-attendance` and the worker make
    (models.partitions)."""
    return not (type_ == "table" and is_partition(name))


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_ours,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()

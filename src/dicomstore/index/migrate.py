"""Bring the index schema up to date with Alembic; run at every start."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

__all__ = ["alembic_config", "upgrade"]

log = logging.getLogger(__name__)
_MIGRATIONS = Path(__file__).with_name("migrations")
# Serialises concurrent starts of several servers on one PostgreSQL database.
_MIGRATION_LOCK_ID = 0x6469636F6D


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _revisions(connection: sa.Connection) -> str:
    return ", ".join(MigrationContext.configure(connection).get_current_heads()) or "empty"


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision``, in one transaction, one migrator at a time."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            with _sqlite_foreign_keys_off(connection):
                before, after = _upgrade(connection, revision)
        else:
            before, after = _upgrade(connection, revision)
    if after != before:
        log.info("index schema upgraded from %s to %s", before, after)


def _upgrade(connection: sa.Connection, revision: str) -> tuple[str, str]:
    with connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_ID)))
        elif connection.dialect.name == "sqlite":
            # pysqlite runs DDL outside any transaction: a failed migration would stay half done
            # and two first starts would both create the tables. Take the write lock up front:
            # the migration becomes all-or-nothing and the others wait for it (busy_timeout).
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        before = _revisions(connection)
        command.upgrade(alembic_config(connection), revision)
        after = _revisions(connection)
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the migration left dangling foreign keys: {broken[:5]}")
    return before, after


@contextmanager
def _sqlite_foreign_keys_off(connection: sa.Connection) -> Iterator[None]:
    """Foreign keys off while migrating (SQLite ignores the switch inside a transaction).

    Alembic's batch mode rebuilds a table by copying it and dropping the old one, and with
    foreign keys on, SQLite's DROP TABLE deletes every row first — cascading into the children:
    rebuilding ``datasets`` would empty every store.
    """
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()

"""Connecting to the index database: SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from dicomstore.json_text import compact_json, parse_json

__all__ = ["by_codepoint", "create_index_engine"]


def _normalise_url(url: str) -> sa.URL:
    parsed = make_url(url)
    # Users write postgresql://…; the driver we ship is psycopg 3.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


_WAL_SWITCH_ATTEMPTS = 300


def _switch_to_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried: when several processes open a new database at once,
    the switch can answer "database is locked" at once instead of waiting out busy_timeout."""
    for attempt in range(_WAL_SWITCH_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == _WAL_SWITCH_ATTEMPTS - 1:
                raise
            time.sleep(0.1)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Wait for another writer first: switching to WAL itself needs the lock at the first start.
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL lets readers run beside the one writer; foreign keys drive ON DELETE CASCADE.
    _switch_to_wal(cursor)
    # FULL: a commit is on disk when it returns, so an acknowledged STOW survives a power cut
    # (NORMAL only syncs the WAL at checkpoints); group commit keeps that to one flush per batch.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_index_engine(url: str) -> sa.Engine:
    """An engine for ``url`` with the settings each backend needs."""
    parsed = _normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed,
            connect_args={"check_same_thread": False},
            json_serializer=compact_json,
            json_deserializer=parse_json,
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            connect_args={"connect_timeout": 10},
            json_serializer=compact_json,
            json_deserializer=parse_json,
        )
    raise ValueError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def by_codepoint(column: sa.ColumnElement[str], dialect: sa.Dialect) -> sa.ColumnElement[str]:
    """``column`` compared and sorted by code point, as SQLite does and Python's ``sorted``.

    PostgreSQL otherwise uses the database's collation (en_US.UTF-8 puts ``a-b`` after ``ab``
    and ignores case at first), so list order and page boundaries would depend on how the
    database was created.
    """
    if dialect.name == "postgresql":
        return column.collate("C")
    return column

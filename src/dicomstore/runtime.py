"""What every dicomstore process starts with: settings turned into an index, a blob store and
the services over them, each failure one clear line for the operator (``StartupError``)."""

from __future__ import annotations

import logging
import re
import tempfile
import time
from pathlib import Path

import alembic.util
import sqlalchemy as sa

from dicomstore.blobs import BlobStore, open_blob_store
from dicomstore.index import Index
from dicomstore.services import Services
from dicomstore.settings import LogLevel, Settings

__all__ = [
    "StartupError",
    "build_services",
    "close_blobs",
    "configure_logging",
    "open_blobs",
    "open_index",
    "prepare_data_dir",
    "process_local_storage",
    "shown_url",
]

_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")
_STALE_SPOOL_SECONDS = 3600


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level is not LogLevel.DEBUG:
        # Alembic narrates every start ("Context impl SQLiteImpl."); the index says what changed.
        logging.getLogger("alembic").setLevel(logging.WARNING)


class StartupError(Exception):
    """The server cannot start; the message is one line meant for the operator."""


def prepare_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as error:
        raise StartupError(
            f"data directory {str(data_dir)!r} is not writable: {error.strerror or error}"
        ) from error


def shown_url(url: str) -> str:
    """``url`` fit for a log line or an error message: any password masked."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return _PASSWORD_IN_URL.sub(r"\1***@", url)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def open_index(settings: Settings, *, migrate: bool = True) -> Index:
    """The index, its schema brought up to date unless ``migrate`` is false (a process whose
    supervisor migrated it already)."""
    shown = shown_url(settings.index_url)
    try:
        return Index.open(settings.index_url, migrate=migrate)
    except (sa.exc.ArgumentError, ValueError) as error:
        raise StartupError(f"invalid database URL {shown!r}: {_first_line(error)}") from error
    except sa.exc.OperationalError as error:
        reason = _first_line(error.orig if error.orig is not None else error)
        raise StartupError(f"cannot reach the index database {shown!r}: {reason}") from error
    except sa.exc.DBAPIError as error:
        # Reached, but unusable: not a database file, no permission on the schema, …
        reason = _first_line(error.orig if error.orig is not None else error)
        raise StartupError(f"cannot use the index database {shown!r}: {reason}") from error
    except alembic.util.CommandError as error:
        # Typically a schema written by a newer dicomstore, at a revision this one does not know.
        raise StartupError(
            f"cannot migrate the index database {shown!r}: {_first_line(error)}"
        ) from error


def process_local_storage(settings: Settings) -> str | None:
    """What of the storage lives inside one process, unseen by other server processes."""
    if settings.blob_store_url.lower().startswith("memory:"):
        return f"the blob store {settings.blob_store_url!r} lives in one process"
    try:
        url = sa.engine.make_url(settings.index_url)
    except (sa.exc.ArgumentError, ValueError):
        return None  # refused with its own message when the index is opened
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return f"the index {shown_url(settings.index_url)!r} lives in one process"
    return None


def open_blobs(settings: Settings) -> BlobStore:
    staging = settings.data_dir / "staging"
    _remove_stale_spools(staging)
    try:
        # Object stores spool uploads on local disk first: in the data folder, beside the index.
        return open_blob_store(settings.blob_store_url, staging_dir=staging)
    except (ValueError, OSError) as error:
        shown = settings.blob_store_url
        raise StartupError(f"cannot open the blob store {shown!r}: {error}") from error


def close_blobs(blobs: BlobStore) -> None:
    """Release an object store's connections (the filesystem and memory stores hold none)."""
    close = getattr(blobs, "close", None)
    if callable(close):
        close()


def _remove_stale_spools(staging: Path) -> None:
    """Spool files a killed process left in the staging folder (an hour old: no upload still
    being written is), so that they do not pile up."""
    if not staging.is_dir():
        return
    cutoff = time.time() - _STALE_SPOOL_SECONDS
    for path in staging.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:  # another process removed it first
            continue


def build_services(settings: Settings, index: Index, blobs: BlobStore) -> Services:
    return Services.over(
        index,
        blobs,
        qido_mode=settings.qido_mode,
        frame_cache_bytes=settings.frame_cache_mib * 1024 * 1024,
        bigquery=settings.bigquery.value,
        duckdb_dir=settings.duckdb_folder,
    )

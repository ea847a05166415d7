"""Running the HTTP server: start-up checks that fail in one clear line, then uvicorn."""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import re
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import alembic.util
import sqlalchemy as sa
import uvicorn

from dicomstore.api.http.app import create_app
from dicomstore.blobs import BlobStore, open_blob_store
from dicomstore.index import Index
from dicomstore.services import Services
from dicomstore.settings import LogLevel, Settings

__all__ = ["StartupError", "serve"]

log = logging.getLogger("dicomstore")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SWEEP_INTERVAL = timedelta(hours=1)
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")


class StartupError(Exception):
    """The server cannot start; the message is one line meant for the operator."""


def _prepare_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as error:
        raise StartupError(
            f"data directory {str(data_dir)!r} is not writable: {error.strerror or error}"
        ) from error


def _shown(url: str) -> str:
    """``url`` fit for a log line or an error message: any password masked."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return _PASSWORD_IN_URL.sub(r"\1***@", url)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _open_index(settings: Settings) -> Index:
    shown = _shown(settings.index_url)
    try:
        return Index.open(settings.index_url)
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


def _open_blobs(settings: Settings) -> BlobStore:
    try:
        return open_blob_store(settings.blob_store_url)
    except (ValueError, OSError) as error:
        shown = settings.blob_store_url
        raise StartupError(f"cannot open the blob store {shown!r}: {error}") from error


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} on {host} is already in use") from error
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, except that a shutdown asked for by SIGTERM or SIGINT exits 0.

    uvicorn re-raises the signal once drained, so the process would die "killed by SIGTERM";
    a graceful stop is a success for service managers and scripts alike.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(settings: Settings) -> None:
    """Check the data directory, the database and the port, then serve until SIGTERM/SIGINT."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level is not LogLevel.DEBUG:
        # Alembic narrates every start ("Context impl SQLiteImpl."); the index says what changed.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    # Checked whatever the database: the data directory is also where instance bytes go.
    _prepare_data_dir(settings.data_dir)
    sock = _bind(settings.host, settings.port)
    try:
        index = _open_index(settings)
    except StartupError:
        sock.close()
        raise
    try:
        blobs = _open_blobs(settings)
    except StartupError:
        sock.close()
        index.close()
        raise
    services = Services.over(
        index,
        blobs,
        qido_mode=settings.qido_mode,
        frame_cache_bytes=settings.frame_cache_mib * 1024 * 1024,
    )
    stop_sweeping = threading.Event()
    sweeper = threading.Thread(
        target=services.sweep.run_periodically,
        args=(stop_sweeping, _SWEEP_INTERVAL),
        name="orphan-sweep",
        daemon=True,
    )
    sweeper.start()
    if settings.job_workers:
        # A SQLite index belongs to this one process: whatever it left running was interrupted.
        embedded = settings.index_url.startswith("sqlite")
        services.jobs.recover_interrupted(everything=embedded)
        services.jobs.start(settings.job_workers)
    try:
        app = create_app(services)
        config = uvicorn.Config(
            app,
            log_level=settings.log_level.value,
            loop="auto",
            http="auto",
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        host, port = sock.getsockname()[:2]
        log.info(
            "dicomstore listening on http://%s:%d (index %s)",
            host,
            port,
            _shown(settings.index_url),
        )
        # Start-up objects live as long as the process: keep them out of every later collection
        # (a full collection otherwise pauses requests for tens of milliseconds).
        gc.collect()
        gc.freeze()
        _Server(config).run(sockets=[sock])
    finally:
        stop_sweeping.set()
        services.jobs.stop()
        sweeper.join(timeout=10)
        sock.close()
        index.close()

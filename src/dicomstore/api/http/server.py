"""Running the HTTP server: start-up checks that fail in one clear line, then uvicorn."""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import uvicorn

from dicomstore.api.http.app import create_app
from dicomstore.runtime import (
    StartupError,
    build_services,
    close_blobs,
    configure_logging,
    open_blobs,
    open_index,
    prepare_data_dir,
    shown_url,
)
from dicomstore.settings import Settings

__all__ = ["StartupError", "serve"]

log = logging.getLogger("dicomstore")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SWEEP_INTERVAL = timedelta(hours=1)


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
    configure_logging(settings)
    # Checked whatever the database: the data directory is also where instance bytes go.
    prepare_data_dir(settings.data_dir)
    sock = _bind(settings.host, settings.port)
    try:
        index = open_index(settings)
    except StartupError:
        sock.close()
        raise
    try:
        blobs = open_blobs(settings)
    except StartupError:
        sock.close()
        index.close()
        raise
    services = build_services(settings, index, blobs)
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
            # Google's clients (httplib2) reuse an idle connection without retrying a POST on a
            # broken pipe: keep idle connections open as long as common load balancers do.
            timeout_keep_alive=75,
        )
        host, port = sock.getsockname()[:2]
        log.info(
            "dicomstore listening on http://%s:%d (index %s)",
            host,
            port,
            shown_url(settings.index_url),
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
        close_blobs(blobs)
        index.close()

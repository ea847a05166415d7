"""Running the HTTP server: start-up checks that fail in one clear line, then uvicorn."""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial

import uvicorn

from dicomstore.api.http.app import create_app
from dicomstore.api.http.protocol import HttpProtocol
from dicomstore.api.http.workers import run_workers
from dicomstore.process_memory import reuse_freed_memory
from dicomstore.runtime import (
    StartupError,
    build_services,
    close_blobs,
    configure_logging,
    open_blobs,
    open_index,
    prepare_data_dir,
    process_local_storage,
    shown_url,
)
from dicomstore.setting_values import default_workers
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
    """uvicorn's server, except that a shutdown asked for by one of ``stop_signals`` exits 0.

    uvicorn re-raises the signal once drained, so the process would die "killed by SIGTERM";
    a graceful stop is a success for service managers and scripts alike.
    """

    def __init__(
        self, config: uvicorn.Config, stop_signals: tuple[signal.Signals, ...] = _STOP_SIGNALS
    ) -> None:
        super().__init__(config)
        self.stop_signals = stop_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in self.stop_signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _worker_count(settings: Settings) -> int:
    """The server processes to run: as asked, else one per core (at most a few) unless the
    storage lives in one process."""
    private = process_local_storage(settings)
    if settings.workers is None:
        return 1 if private else default_workers()
    if settings.workers > 1 and private:
        raise StartupError(f"--workers {settings.workers} needs shared storage: {private}")
    return settings.workers


def serve(settings: Settings) -> None:
    """Check the data directory, the database and the port, then serve until SIGTERM/SIGINT:
    in this process, or in ``settings.workers`` processes sharing the listening socket."""
    configure_logging(settings)
    # Instance bodies are half a megabyte and more: their memory is reused, not refaulted.
    reuse_freed_memory()
    workers = _worker_count(settings)
    # Checked whatever the database: the data directory is also where instance bytes go.
    prepare_data_dir(settings.data_dir)
    sock = _bind(settings.host, settings.port)
    try:
        if workers == 1:
            _serve_on(settings, sock, background=True, migrate=True)
            return
        # Migrated once here, so that the workers do not race each other to it.
        open_index(settings).close()
        code = run_workers(
            workers,
            partial(_serve_worker, settings, sock),
            on_stop=sock.close,
            started=partial(_log_listening, settings, sock, workers),
        )
    finally:
        sock.close()
    if code:
        raise SystemExit(code)


def _serve_worker(
    settings: Settings, sock: socket.socket, number: int, ready: Callable[[], None]
) -> None:
    """One of several server processes: the first also runs the operations and the sweep."""
    background = number == 0
    log.info(
        "dicomstore worker %d (pid %d) starting%s",
        number,
        os.getpid(),
        ", with the operation workers and the orphan sweep" if background else "",
    )
    # The supervisor stops its workers with SIGTERM; Ctrl-C reaches the whole process group,
    # and the supervisor turns it into that SIGTERM (a second SIGINT would make uvicorn skip
    # the drain).
    _serve_on(
        settings,
        sock,
        background=background,
        migrate=False,
        stop_signals=(signal.SIGTERM,),
        ready=ready,
    )


def _log_listening(settings: Settings, sock: socket.socket, workers: int | None = None) -> None:
    host, port = sock.getsockname()[:2]
    log.info(
        "dicomstore listening on http://%s:%d (index %s%s)",
        host,
        port,
        shown_url(settings.index_url),
        f", {workers} worker processes under pid {os.getpid()}" if workers else "",
    )


def _serve_on(
    settings: Settings,
    sock: socket.socket,
    *,
    background: bool,
    migrate: bool,
    stop_signals: tuple[signal.Signals, ...] = _STOP_SIGNALS,
    ready: Callable[[], None] | None = None,
) -> None:
    """Open the index and the blob store and serve on ``sock`` until a stop signal; with
    ``background``, also run the orphan sweep and the in-process operation workers."""
    index = open_index(settings, migrate=migrate)
    try:
        blobs = open_blobs(settings)
    except StartupError:
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
    try:
        if background:
            sweeper.start()
        if background and settings.job_workers:
            # A SQLite index belongs to this one process (the only one running operations, when
            # there are several workers): whatever it left running was interrupted.
            embedded = settings.index_url.startswith("sqlite")
            services.jobs.recover_interrupted(everything=embedded)
            services.jobs.start(settings.job_workers)
        app = create_app(services)
        config = uvicorn.Config(
            app,
            log_level=settings.log_level.value,
            loop="auto",
            http=HttpProtocol,
            server_header=False,
            timeout_graceful_shutdown=10,
            # Google's clients (httplib2) reuse an idle connection without retrying a POST on a
            # broken pipe: keep idle connections open as long as common load balancers do.
            timeout_keep_alive=75,
        )
        if ready is None:
            _log_listening(settings, sock)
        else:
            ready()
        # Start-up objects live as long as the process: keep them out of every later collection
        # (a full collection otherwise pauses requests for tens of milliseconds).
        gc.collect()
        gc.freeze()
        _Server(config, stop_signals).run(sockets=[sock])
    finally:
        stop_sweeping.set()
        services.jobs.stop()
        if sweeper.is_alive():
            sweeper.join(timeout=10)
        close_blobs(blobs)
        index.close()

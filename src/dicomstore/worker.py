"""``dicomstore worker``: a process that only runs long-running operations (import, export,
deletes), claiming them from the shared index, for scale-out beside servers started with
``--job-workers 0``.

Several workers share the work: on PostgreSQL each claim takes a row with ``FOR UPDATE SKIP
LOCKED``. Every worker also takes over operations whose worker stopped heartbeating (killed, or
its machine lost), so a dead worker's operation resumes elsewhere or fails with a clear error.
SIGTERM or Ctrl-C hands the running operations back to pending and exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from dicomstore.runtime import (
    build_services,
    close_blobs,
    configure_logging,
    open_blobs,
    open_index,
)
from dicomstore.settings import Settings

__all__ = ["run_worker"]

log = logging.getLogger("dicomstore")
_RECOVER_EVERY = 15.0  # seconds between looks for operations whose worker died


def run_worker(settings: Settings, threads: int) -> None:
    """Run ``threads`` job threads until SIGTERM or SIGINT."""
    configure_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # staging for imports and exports
    index = open_index(settings)
    try:
        blobs = open_blobs(settings)
    except BaseException:
        index.close()
        raise
    try:
        services = build_services(settings, index, blobs)
        stop = threading.Event()

        def stop_on_signal(number: int, frame: FrameType | None) -> None:
            log.info("worker stopping (signal %d)", number)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, stop_on_signal)
        services.jobs.start(threads)
        log.info("dicomstore worker running %d job threads", threads)
        while not stop.wait(_RECOVER_EVERY):
            try:
                services.jobs.recover_interrupted(everything=False)
            except Exception:  # the index may be briefly unreachable; look again later
                log.exception("could not look for interrupted operations")
        services.jobs.stop()
    finally:
        close_blobs(blobs)
        index.close()

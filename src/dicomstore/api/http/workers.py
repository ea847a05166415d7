"""Several server processes on one listening socket: a small pre-fork supervisor.

Python runs one thread at a time, so one process uses one core. ``dicomstore serve --workers N``
binds the socket and migrates the index in the first process, which then forks N workers: each
opens its own database connections and blob store and serves the socket it inherited; the
kernel hands each new connection to one of them. Forking before the supervisor holds any
connection or thread keeps the children clean, and they start at once, sharing the program the
supervisor already imported.

The supervisor only watches. SIGTERM or SIGINT is passed on to the workers as SIGTERM (they drain
their open requests; Ctrl-C also reaches them, so they ignore SIGINT: uvicorn takes a second
signal as "skip the drain"). A worker that dies is replaced; five deaths within 30 s end the
server with exit code 1. Workers die with the supervisor (``PR_SET_PDEATHSIG`` on Linux).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import math
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import NoReturn

from dicomstore.runtime import StartupError

__all__ = ["Work", "run_workers"]

log = logging.getLogger("dicomstore")

# What a worker runs: ``work(number, ready)`` serves until SIGTERM, calling ``ready()`` once it
# is past its start-up checks (a StartupError before that stops the whole start).
Work = Callable[[int, Callable[[], None]], None]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_QUICK_DEATHS = 5  # this many deaths within _QUICK_WINDOW seconds end the server
_QUICK_WINDOW = 30.0
_RESTART_DELAY = 1.0  # before replacing a worker that died this soon after it started
_KILL_AFTER = 60.0  # a worker still running this long after the stop is killed
_POLL = 0.1
_PR_SET_PDEATHSIG = 1
_REPORT_LIMIT = 4000  # bytes: below PIPE_BUF, so the report is written at once


def run_workers(
    count: int, work: Work, *, on_stop: Callable[[], None], started: Callable[[], None]
) -> int:
    """Run ``work`` in ``count`` forked processes until SIGTERM or SIGINT; the exit code.

    ``started`` is called once every worker is ready; ``on_stop`` when the stop begins (close
    the supervisor's copy of the socket, so that the port refuses once the workers let go).
    Raises StartupError with a worker's own message if one cannot start.
    """
    return _Supervisor(count, work, on_stop).run(started)


@dataclass(frozen=True, slots=True)
class _Worker:
    number: int
    started: float


class _Supervisor:
    def __init__(self, count: int, work: Work, on_stop: Callable[[], None]) -> None:
        self.count = count
        self.work = work
        self.on_stop = on_stop
        self.workers: dict[int, _Worker] = {}
        self.stopping = False
        self.failed = False
        self._kill_at = math.inf
        self._deaths: deque[float] = deque()
        self._reports: list[int] = []  # read ends of the start-up reports still open
        self._pid = os.getpid()

    def run(self, started: Callable[[], None]) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS}
        try:
            self._start_all()
            if not self.stopping:
                started()
            while self.workers:
                self._reap()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 1 if self.failed else 0

    def stop(self, reason: str) -> None:
        if not self.stopping:
            log.info("dicomstore stopping (%s): draining %d workers", reason, len(self.workers))
            self.stopping = True
            self._kill_at = time.monotonic() + _KILL_AFTER
            self.on_stop()
        for pid in self.workers:
            _send(pid, signal.SIGTERM)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self.stop(signal.Signals(number).name)

    # --- starting -------------------------------------------------------------------------

    def _start_all(self) -> None:
        # What the supervisor holds now is shared copy-on-write with the workers: keep the
        # collector from touching (and so copying) it in each of them.
        gc.collect()
        gc.freeze()
        for number in range(self.count):
            if self.stopping:
                break
            self._spawn(number, report=True)
        problems = [problem for reader in list(self._reports) if (problem := self._read(reader))]
        if problems:
            self.stop("a worker could not start")
            while self.workers:
                self._reap(quiet=True)  # the problem is the one line the operator gets
            raise StartupError(problems[0])

    def _spawn(self, number: int, *, report: bool) -> None:
        reader, writer = os.pipe() if report else (-1, -1)
        # Blocked around the fork: a stop signal now reaches the new worker once it is listed.
        with _signals_blocked():
            pid = os.fork()
            if pid == 0:
                if report:
                    os.close(reader)
                self._become_worker(number, writer)
            self.workers[pid] = _Worker(number, time.monotonic())
        if report:
            os.close(writer)
            self._reports.append(reader)

    def _read(self, reader: int) -> str:
        """A worker's start-up report: empty once it is ready (or gone without a word)."""
        chunks = []
        while chunk := os.read(reader, _REPORT_LIMIT):
            chunks.append(chunk)
        os.close(reader)
        self._reports.remove(reader)
        return b"".join(chunks).decode(errors="replace")

    # --- watching -------------------------------------------------------------------------

    def _reap(self, *, quiet: bool = False) -> None:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            if time.monotonic() > self._kill_at:
                log.warning("workers still running %g s after the stop: killing them", _KILL_AFTER)
                for running in self.workers:
                    _send(running, signal.SIGKILL)
                self._kill_at = math.inf
            time.sleep(_POLL)
            return
        worker = self.workers.pop(pid, None)
        if worker is None:
            return
        code = os.waitstatus_to_exitcode(status)
        if self.stopping:
            if code != 0 and not quiet:
                log.warning("worker %d (pid %d) %s", worker.number, pid, _ending(code))
                self.failed = True
            return
        self._replace(worker, f"worker {worker.number} (pid {pid}) {_ending(code)}")

    def _replace(self, worker: _Worker, death: str) -> None:
        now = time.monotonic()
        self._deaths.append(now)
        while self._deaths[0] < now - _QUICK_WINDOW:
            self._deaths.popleft()
        if len(self._deaths) >= _QUICK_DEATHS:
            log.error(
                "%s; workers died %d times within %g s: stopping the server", death,
                _QUICK_DEATHS, _QUICK_WINDOW,
            )  # fmt: skip
            self.failed = True
            self.stop("workers keep dying")
            return
        log.warning("%s: starting another", death)
        if now - worker.started < _RESTART_DELAY:
            time.sleep(_RESTART_DELAY)  # a stop signal meanwhile is handled, then checked below
        if not self.stopping:
            self._spawn(worker.number, report=False)

    # --- in the worker --------------------------------------------------------------------

    def _become_worker(self, number: int, report: int) -> NoReturn:
        """The forked child: run the work and exit, never returning into the supervisor."""
        code = 1
        try:
            for reader in self._reports:
                os.close(reader)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            # Until the server takes SIGTERM over (and again while it cleans up): stop now.
            signal.signal(signal.SIGTERM, _exit_quietly)
            _die_with(self._pid)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
            code = _work(self.work, number, report)
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            log.exception("worker %d failed", number)
        finally:
            logging.shutdown()
            os._exit(code)


def _work(work: Work, number: int, report: int) -> int:
    """Run ``work``; a failure before it is ready goes to the supervisor through ``report``."""
    unreported = report

    def ready() -> None:
        nonlocal unreported
        if unreported >= 0:
            os.close(unreported)
            unreported = -1

    try:
        work(number, ready)
    except StartupError as error:
        if unreported >= 0:
            os.write(unreported, str(error).encode()[:_REPORT_LIMIT])
        else:
            log.error("worker %d could not start: %s", number, error)
        return 1
    except Exception as error:
        log.exception("worker %d failed", number)
        if unreported >= 0:
            os.write(unreported, f"worker {number} failed: {error!r}".encode()[:_REPORT_LIMIT])
        return 1
    return 0


def _exit_quietly(number: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)


def _die_with(parent: int) -> None:
    """Have the kernel send SIGTERM when ``parent`` dies (Linux), or else watch it."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0:
            if os.getppid() != parent:  # it died before the request took effect
                raise SystemExit(0)
            return
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _send(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # exited, not reaped yet
        os.kill(pid, sig)


def _ending(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"

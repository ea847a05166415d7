"""Jobs: the work behind long-running operations (``google-dicom-api.md`` §4).

An operation is a row in the index. ``JobRunner.start_operation`` inserts it pending; worker
threads claim pending rows, run the job registered for the row's ``apiMethodName`` and finish the
row with the job's response or a ``google.rpc.Status``. A job reports progress, notices a cancel
and proves it is alive through its ``JobContext``. After a restart, ``recover_interrupted`` puts
work a dead process left running back to pending (idempotent jobs, fewer than three attempts) or
fails it, so no operation stays running forever.

The in-process threads are the embedded default; separate worker processes can run the same
``JobRunner.run_one`` over a shared PostgreSQL index.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from dicomstore.clock import utcnow
from dicomstore.errors import Cancelled, Code, DicomStoreError
from dicomstore.index import Index
from dicomstore.index import operations as operation_rows
from dicomstore.index.datasets import DatasetRow
from dicomstore.index.operations import Claim, Counter, OperationRow

__all__ = [
    "INTERRUPTED_MESSAGE",
    "MAX_ATTEMPTS",
    "STALE_AFTER",
    "Job",
    "JobContext",
    "JobRunner",
    "new_operation_id",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# A running operation's worker beats every _BEAT_SECONDS from a thread of its own, whatever its
# job is doing; one silent for STALE_AFTER is taken to be dead and its operation taken over.
STALE_AFTER = timedelta(seconds=20)
_BEAT_SECONDS = 5.0
INTERRUPTED_MESSAGE = "The operation was interrupted by a server restart."
_POLL_SECONDS = 0.25
_TICK_SECONDS = 0.5
_CANCELLED = {"code": int(Code.CANCELLED), "message": "Operation cancelled."}
_RECOVER_SECONDS = 10.0  # how often an idle worker looks for operations of dead workers


def new_operation_id() -> str:
    # Google's operation IDs are long decimal numbers; 19 digits fit a signed int64.
    return str(10**18 + secrets.randbelow(9 * 10**18 - 1))


@dataclass(frozen=True, slots=True)
class Job:
    """What runs an operation: ``run`` returns the success ``response`` message (with its
    ``@type``) or raises; ``idempotent`` jobs are retried after a crash, others fail."""

    run: Callable[[JobContext], dict[str, Any]]
    idempotent: bool


class _Stopping(Exception):
    """Raised in a job when its worker is shutting down: the operation goes back to pending."""


class JobContext:
    """A running operation as its job sees it: the request, counters, heartbeat and cancel."""

    def __init__(self, runner: JobRunner, claim: Claim, worker: str) -> None:
        self._runner = runner
        self._claim = claim
        self._worker = worker
        self.success = self.failure = self.pending = 0
        self._checked = time.monotonic()

    @property
    def request(self) -> dict[str, Any]:
        return self._claim.request or {}

    @property
    def target(self) -> str | None:
        return self._claim.target

    @property
    def counter(self) -> Counter:
        return Counter(success=self.success, failure=self.failure, pending=self.pending)

    def add(self, *, success: int = 0, failure: int = 0) -> None:
        """Count units done; written with the next ``check``."""
        self.success += success
        self.failure += failure

    def check(self) -> None:
        """Heartbeat and save counters; raise Cancelled if a cancel was requested (or the
        operation was taken away from this worker)."""
        self._checked = time.monotonic()
        if self._runner.stopping:
            raise _Stopping
        cancel = self._beat()
        if cancel is None:
            raise Cancelled("The operation is no longer held by this worker.")
        if cancel:
            raise Cancelled("Operation cancelled.")

    def beat_until(self, finished: threading.Event) -> None:
        """Heartbeat every ``_BEAT_SECONDS`` until ``finished``: run on a thread of its own, so a
        long unit of work (a large transcode, a slow download) never looks like a dead worker."""
        while not finished.wait(_BEAT_SECONDS):
            try:
                self._beat()
            except Exception:  # the index may be briefly unreachable; the next beat may do
                log.exception("heartbeat of operation %s failed", self._claim.operation_id)

    def _beat(self) -> bool | None:
        """Record the heartbeat and counters; whether a cancel was requested (None: the
        operation is no longer held by this worker)."""
        with self._runner.index.transaction() as tx:
            return operation_rows.heartbeat(
                tx, self._claim.pk, worker=self._worker, now=utcnow(), counter=self.counter
            )

    def tick(self) -> None:
        """``check`` at most every ``_TICK_SECONDS``: cheap enough to call once per unit."""
        now = time.monotonic()
        if now - self._checked >= _TICK_SECONDS:
            self.check()


class JobRunner:
    """The registry of jobs by ``apiMethodName`` and the in-process workers that run them."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._jobs: dict[str, Job] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def register(self, api_method_name: str, job: Job) -> None:
        self._jobs[api_method_name] = job

    def start_operation(
        self,
        tx: sa.Connection,
        dataset: DatasetRow,
        api_method_name: str,
        request: dict[str, Any] | None,
        target: str | None = None,
    ) -> OperationRow:
        """Insert a pending operation in the caller's transaction; a worker picks it up once
        that transaction has committed."""
        if api_method_name not in self._jobs:
            raise ValueError(f"no job is registered for {api_method_name}")
        operation = operation_rows.insert(
            tx,
            dataset,
            new_operation_id(),
            api_method_name=api_method_name,
            now=utcnow(),
            target=target,
            request=request,
        )
        # Wakes an idle worker early; if it looks before this transaction commits, it finds the
        # row on its next poll.
        self._wake.set()
        return operation

    # --- workers --------------------------------------------------------------------------

    def run_one(self, worker: str) -> bool:
        """Claim and run one pending operation as ``worker``; False when there was none."""
        with self.index.transaction() as tx:
            claim = operation_rows.claim(tx, worker=worker, methods=self._jobs, now=utcnow())
        if claim is None:
            return False
        context = JobContext(self, claim, worker)
        response: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        finished = threading.Event()
        beating = threading.Thread(
            target=context.beat_until, args=(finished,), name=f"heartbeat-{claim.operation_id}"
        )
        beating.daemon = True
        beating.start()
        try:
            context.check()  # cancelled while it was pending: end it before any work
            response = self._jobs[claim.api_method_name].run(context)
        except _Stopping:
            with self.index.transaction() as tx:
                operation_rows.release(tx, claim.pk, worker=worker)
            log.info("operation %s handed back: this worker is stopping", claim.operation_id)
            return True
        except Cancelled:
            error = _CANCELLED
        except DicomStoreError as failure:
            error = failure.to_status()
        except Exception as failure:  # a bug in a job must fail its operation, not the worker
            log.exception("operation %s failed", claim.operation_id)
            error = {"code": int(Code.INTERNAL), "message": f"Internal error: {failure}"}
        finally:
            finished.set()
            beating.join()
        with self.index.transaction() as tx:
            operation_rows.finish_claimed(
                tx,
                claim.pk,
                worker=worker,
                now=utcnow(),
                counter=context.counter,
                response=response,
                error=error,
            )
        return True

    def recover_interrupted(self, *, everything: bool) -> tuple[int, int]:
        """Requeue or fail operations a dead process left running: every running one when
        ``everything`` (a single-process embedded index at start), else those whose heartbeat
        is older than ``STALE_AFTER``. Returns (requeued, failed)."""
        now = utcnow()
        with self.index.transaction() as tx:
            requeued, failed = operation_rows.recover(
                tx,
                now=now,
                stale_before=None if everything else now - STALE_AFTER,
                retryable=[name for name, job in self._jobs.items() if job.idempotent],
                max_attempts=MAX_ATTEMPTS,
                error={"code": int(Code.ABORTED), "message": INTERRUPTED_MESSAGE},
                cancelled=_CANCELLED,
            )
        if requeued or failed:
            log.info("interrupted operations: %d requeued, %d failed", requeued, failed)
        return requeued, failed

    def start(self, workers: int) -> None:
        """Start ``workers`` threads claiming pending operations until ``stop``."""
        self._stop.clear()
        for number in range(workers):
            thread = threading.Thread(
                target=self._work, args=(f"{self._name}/{number}",), name=f"job-worker-{number}"
            )
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30) -> None:
        """Stop claiming; running jobs hand their operation back at their next check."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads.clear()

    def _work(self, worker: str) -> None:
        next_recovery = time.monotonic() + _RECOVER_SECONDS
        while not self._stop.is_set():
            try:
                if self.run_one(worker):
                    continue
            except Exception:  # the index may be briefly unreachable; try again later
                log.exception("job worker %s could not claim an operation", worker)
            if time.monotonic() >= next_recovery:  # take over work from dead workers
                next_recovery = time.monotonic() + _RECOVER_SECONDS
                try:
                    self.recover_interrupted(everything=False)
                except Exception:
                    log.exception("job worker %s could not recover stale operations", worker)
            self._wake.wait(_POLL_SECONDS)
            self._wake.clear()

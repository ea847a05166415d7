"""Group commit: write work from many threads, committed together by one of them at a time.

Each acknowledged write must be durable (SQLite runs with ``synchronous=FULL``), so each commit
costs a log flush. Callers queue their work; the first caller to find no commit under way leads:
it runs everything queued so far in one transaction in its own thread, then hands the lead to
the owner of the first work queued meanwhile. So a lone write is committed by its caller with no
thread handoff, and under concurrent ingest N requests share one flush and one lock acquisition
instead of queueing for N. A batch that fails is rolled back and its items are run again one per
transaction, so one item's error never fails another's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

__all__ = ["GroupCommit"]

T = TypeVar("T")

_MAX_BATCH = 64


@dataclass
class _Item(Generic[T]):
    work: Callable[[sa.Connection], T]
    # Set when the work is committed (or failed), or when its caller is to lead the next batch.
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    finished: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    """Runs ``work(connection)`` callables in shared transactions from ``transaction()``."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[sa.Connection]]) -> None:
        self._transaction = transaction
        self._lock = threading.Lock()
        self._queued: list[_Item[Any]] = []
        self._leading = False

    def run(
        self, work: Callable[[sa.Connection], T], *, queued: Callable[[], None] | None = None
    ) -> T:
        """Run ``work`` in a transaction shared with other callers'; its result once committed.
        Work must touch nothing but the database: it may run twice (see the module docstring).
        ``queued`` is called once the work is in line: work queued later runs after it."""
        item: _Item[T] = _Item(work)
        with self._lock:
            self._queued.append(item)
            leading = not self._leading
            self._leading = True
            if queued is not None:
                queued()
        while not item.finished:
            if not leading:
                item.done.wait()
                item.done.clear()
                leading, item.lead = item.lead, False
                continue
            self._lead()
            leading = False
        if item.error is not None:
            raise item.error
        result: T = item.result
        return result

    def close(self) -> None:
        """Nothing to stop: commits run in the callers' threads."""

    def _lead(self) -> None:
        """Commit one batch of what is queued, then pass the lead on (or give it up)."""
        with self._lock:
            batch, self._queued = self._queued[:_MAX_BATCH], self._queued[_MAX_BATCH:]
        try:
            self._commit(batch)
        finally:
            with self._lock:
                following = self._queued[0] if self._queued else None
                if following is None:
                    self._leading = False
                else:
                    following.lead = True
            if following is not None:
                following.done.set()

    def _commit(self, items: list[_Item[Any]]) -> None:
        if len(items) > 1:
            try:
                with self._transaction() as tx:
                    results = [item.work(tx) for item in items]
            except Exception:  # each item is run again alone below
                pass
            else:
                for item, result in zip(items, results, strict=True):
                    item.result = result
                    item.finished = True
                    item.done.set()
                return
        for item in items:
            try:
                with self._transaction() as tx:
                    item.result = item.work(tx)
            except BaseException as error:  # delivered to the caller's thread
                item.error = error
            item.finished = True
            item.done.set()

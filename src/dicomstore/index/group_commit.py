"""Group commit: write work from many threads run by one writer thread, committed together.

Each acknowledged write must be durable (SQLite runs with ``synchronous=FULL``), so each commit
costs a log flush. Under concurrent ingest the writer runs everything that queued while the
previous commit was flushing in one transaction, so N requests share one flush and one lock
acquisition instead of queueing for N. A batch that fails is rolled back and its items are run
again one per transaction, so one item's error never fails another's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
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
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    """Runs ``work(connection)`` callables in shared transactions from ``transaction()``."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[sa.Connection]]) -> None:
        self._transaction = transaction
        self._queue: queue.SimpleQueue[_Item[Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def run(
        self, work: Callable[[sa.Connection], T], *, queued: Callable[[], None] | None = None
    ) -> T:
        """Run ``work`` in a transaction shared with other callers'; its result once committed.
        Work must touch nothing but the database: it may run twice (see the module docstring).
        ``queued`` is called once the work is in line: work queued later runs after it."""
        item: _Item[T] = _Item(work)
        self._start()
        self._queue.put(item)
        if queued is not None:
            queued()
        item.done.wait()
        if item.error is not None:
            raise item.error
        result: T = item.result
        return result

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write, name="index-group-commit", daemon=True
                )
                self._thread.start()

    def _write(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first, *self._more()]
            stop = batch[-1] is None
            items = [item for item in batch if item is not None]
            self._commit(items)
            if stop:
                return

    def _more(self) -> Iterator[_Item[Any] | None]:
        for _ in range(_MAX_BATCH - 1):
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            yield item
            if item is None:
                return

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
                    item.done.set()
                return
        for item in items:
            try:
                with self._transaction() as tx:
                    item.result = item.work(tx)
            except BaseException as error:  # delivered to the caller's thread
                item.error = error
            item.done.set()

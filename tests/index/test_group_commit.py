"""Group commit: work from many threads shares transactions, and one item's failure is its own."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from dicomstore.errors import AlreadyExists
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index.group_commit import GroupCommit
from dicomstore.names import DatasetName
from tests.index.conftest import LOCATION, NOW


def _insert(dataset_id: str) -> Callable[[sa.Connection], str]:
    def work(tx: sa.Connection) -> str:
        row = dataset_rows.insert(
            tx, DatasetName(LOCATION, dataset_id), time_zone="", encryption_spec=None, now=NOW
        )
        return str(row.name)

    return work


def _names(index: Index) -> set[str]:
    with index.transaction() as tx:
        rows = dataset_rows.list_page(tx, LOCATION, after=None, limit=1000)
    return {str(row.name) for row in rows}


def test_concurrent_work_is_all_committed_and_each_caller_gets_its_result(index: Index) -> None:
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda n: index.grouped(_insert(f"ds-{n}")), range(200)))
    expected = {f"{LOCATION}/datasets/ds-{n}" for n in range(200)}
    assert set(results) == expected
    assert _names(index) == expected


def test_a_failing_item_fails_alone(index: Index) -> None:
    index.grouped(_insert("taken"))
    start = threading.Barrier(9)

    def run(dataset_id: str) -> str:
        start.wait()
        return index.grouped(_insert(dataset_id))

    with ThreadPoolExecutor(9) as pool:
        good = [pool.submit(run, f"new-{n}") for n in range(8)]
        bad = pool.submit(run, "taken")
        assert {future.result() for future in good} == {
            f"{LOCATION}/datasets/new-{n}" for n in range(8)
        }
        with pytest.raises(AlreadyExists):
            bad.result()
    assert _names(index) == {f"{LOCATION}/datasets/{name}" for name in ("taken",)} | {
        f"{LOCATION}/datasets/new-{n}" for n in range(8)
    }


def test_work_after_close_still_runs(index: Index) -> None:
    index.grouped(_insert("before"))
    index._group.close()
    assert index.grouped(_insert("after")).endswith("/after")


def test_work_queued_during_a_commit_shares_the_next_transaction(index: Index) -> None:
    # Would pass item by item too if work were never grouped: count the transactions.
    transactions = 0

    @contextlib.contextmanager
    def counted() -> Iterator[sa.Connection]:
        nonlocal transactions
        transactions += 1
        with index.transaction() as tx:
            yield tx

    group = GroupCommit(counted)
    release = threading.Event()

    def first(tx: sa.Connection) -> str:
        release.wait(10)
        return _insert("first")(tx)

    try:
        with ThreadPoolExecutor(9) as pool:
            blocking = pool.submit(group.run, first)
            while transactions == 0:  # the leader is inside the first transaction
                time.sleep(0.01)
            queued = [pool.submit(group.run, _insert(f"queued-{n}")) for n in range(8)]
            time.sleep(0.2)  # let all eight reach the queue
            release.set()
            blocking.result()
            assert {future.result() for future in queued} == {
                f"{LOCATION}/datasets/queued-{n}" for n in range(8)
            }
    finally:
        group.close()
    assert transactions == 2


def test_a_lone_write_is_committed_in_the_callers_thread(index: Index) -> None:
    threads: list[threading.Thread] = []

    def work(tx: sa.Connection) -> str:
        threads.append(threading.current_thread())
        return _insert("alone")(tx)

    index.grouped(work)
    assert threads == [threading.current_thread()]


def test_the_lead_passes_on_and_nobody_waits_forever(index: Index) -> None:
    # Many rounds of bursts: every caller returns (no lost hand-over) with its own result.
    with ThreadPoolExecutor(12) as pool:
        for burst in range(20):
            names = [f"b{burst}-{n}" for n in range(12)]
            results = list(pool.map(lambda name: index.grouped(_insert(name)), names))
            assert results == [f"{LOCATION}/datasets/{name}" for name in names]

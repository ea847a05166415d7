"""Running a job's units a few at a time: bounded memory and bounded threads, results in the
order the units finish."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

__all__ = ["in_parallel"]

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_parallel(
    function: Callable[[Item], Result], items: Iterable[Item], *, workers: int
) -> Iterator[Result]:
    """``function`` over ``items`` on ``workers`` threads, at most twice that many submitted at
    once (``items`` is consumed lazily). Closing the iterator early cancels what has not
    started and waits for what has."""
    running: set[Future[Result]] = set()
    with ThreadPoolExecutor(workers, thread_name_prefix="job-unit") as pool:
        try:
            for item in items:
                running.add(pool.submit(function, item))
                if len(running) >= 2 * workers:
                    done, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in running:
                future.cancel()

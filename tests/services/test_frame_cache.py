"""The frame cache keeps to its byte budget and evicts the least recently used first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from dicomstore.services.frame_cache import FrameCache


def test_a_cached_value_is_made_once() -> None:
    cache = FrameCache(100)
    made: list[str] = []

    def make() -> bytes:
        made.append("x")
        return b"frame"

    assert cache.get_or_make("k", make) == b"frame"
    assert cache.get_or_make("k", make) == b"frame"
    assert made == ["x"]


def test_the_least_recently_used_goes_first_and_the_budget_holds() -> None:
    cache = FrameCache(10)
    cache.get_or_make("a", lambda: b"aaaa")
    cache.get_or_make("b", lambda: b"bbbb")
    cache.get_or_make("a", lambda: b"????")  # a is now the most recent
    cache.get_or_make("c", lambda: b"cccc")  # 12 bytes > 10: b is evicted
    assert cache.size == 8
    assert cache.get_or_make("a", lambda: b"new!") == b"aaaa"
    assert cache.get_or_make("b", lambda: b"BBBB") == b"BBBB"


def test_a_value_larger_than_the_budget_is_served_but_not_kept() -> None:
    cache = FrameCache(4)
    assert cache.get_or_make("big", lambda: b"123456") == b"123456"
    assert cache.size == 0


def test_threads_share_it_safely() -> None:
    cache = FrameCache(1000)
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda n: cache.get_or_make(n % 50, lambda: bytes(10)), range(2000))
        )
    assert all(result == bytes(10) for result in results)
    assert cache.size <= 1000


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError):
        FrameCache(-1)

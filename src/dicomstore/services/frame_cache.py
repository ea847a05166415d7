"""A size-bounded, thread-safe LRU cache of converted frames and rendered images.

Converting or rendering a frame costs milliseconds to seconds; viewers ask for the same frames
again and again while scrolling. Entries are keyed by the immutable blob key, so a re-stored or
deleted instance can never be served stale bytes: its new bytes live under a new key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["FrameCache"]


class FrameCache:
    """Keeps at most ``max_bytes`` of values; the least recently used go first."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size

    def get_or_make(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        """The cached value for ``key``, or ``make()`` (run outside the lock), then cached."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
                return value
        value = make()
        self._put(key, value)
        return value

    def _put(self, key: Hashable, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return  # larger than the whole budget: not worth evicting everything for
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= len(previous)
            self._entries[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._size -= len(evicted)

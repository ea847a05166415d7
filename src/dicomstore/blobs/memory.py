"""The in-memory twin of the filesystem blob store, for tests and the ``memory://`` emulator."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from dicomstore.blobs.keys import parents, validate_key
from dicomstore.blobs.store import check_range
from dicomstore.errors import FailedPrecondition, NotFound, OutOfRange

__all__ = ["MemoryBlobStore"]


class MemoryBlobStore:
    """A :class:`~dicomstore.blobs.store.BlobStore` that keeps every blob in a dict.

    It has the filesystem backend's semantics, including its refusal of a key that is both a
    blob and a parent of another key, so that tests run on it hold on disk too. Safe to share
    between threads: each blob is an immutable ``bytes`` swapped in under a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[str, bytes] = {}
        self._modified: dict[str, datetime] = {}
        # How many blobs lie under each parent key ("a" and "a/b" for "a/b/c").
        self._parents: Counter[str] = Counter()
        self._staging: Path | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<{len(self._blobs)} blobs>)"

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the concatenation of ``chunks`` under ``key``; see ``BlobStore.put``."""
        validate_key(key)
        buffer = bytearray()
        for chunk in chunks:
            buffer += chunk
        return self._store(key, bytes(buffer))

    def put_file(self, key: str, path: Path) -> int:
        """Store the file's bytes under ``key`` and remove the file; see ``BlobStore.put_file``."""
        validate_key(key)
        path = Path(path)
        data = path.read_bytes()
        size = self._store(key, data)
        os.unlink(path)
        return size

    def open(self, key: str) -> BinaryIO:
        """A ``BytesIO`` over the blob as it is now; see ``BlobStore.open``."""
        return io.BytesIO(self._get(key))

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``offset``; see ``BlobStore.read_range``."""
        check_range(offset, length)
        data = self._get(key)
        if offset + length > len(data):
            raise OutOfRange(
                f"bytes {offset}–{offset + length} are past the end of blob {key!r} "
                f"({len(data)} bytes)"
            )
        return data[offset : offset + length]

    def size(self, key: str) -> int:
        """The blob's size in bytes; see ``BlobStore.size``."""
        return len(self._get(key))

    def exists(self, key: str) -> bool:
        """Whether ``key`` holds a blob; see ``BlobStore.exists``."""
        validate_key(key)
        with self._lock:
            return key in self._blobs

    def modified(self, key: str) -> datetime:
        """When the blob was stored; see ``BlobStore.modified``."""
        self._get(key)
        with self._lock:
            return self._modified[key]

    def delete(self, key: str) -> None:
        """Remove the blob under ``key`` if there is one; see ``BlobStore.delete``."""
        validate_key(key)
        with self._lock:
            if self._blobs.pop(key, None) is None:
                return
            self._modified.pop(key, None)
            for parent in parents(key):
                self._parents[parent] -= 1
                if not self._parents[parent]:
                    del self._parents[parent]

    def keys(self, prefix: str = "") -> Iterator[str]:
        """The keys starting with ``prefix``, sorted; see ``BlobStore.keys``."""
        with self._lock:
            matching = sorted(key for key in self._blobs if key.startswith(prefix))
        yield from matching

    def staging_dir(self) -> Path:
        """A private temporary folder, removed when the store is garbage-collected."""
        with self._lock:
            if self._staging is None:
                self._staging = Path(tempfile.mkdtemp(prefix="dicomstore-staging-"))
                weakref.finalize(self, shutil.rmtree, self._staging, ignore_errors=True)
            return self._staging

    def _store(self, key: str, data: bytes) -> int:
        with self._lock:
            if key in self._parents:
                raise FailedPrecondition(f"blob key {key!r} is a parent of other keys")
            for parent in parents(key):
                if parent in self._blobs:
                    raise FailedPrecondition(
                        f"blob key {key!r} conflicts with the blob stored under {parent!r}"
                    )
            if key not in self._blobs:
                self._parents.update(parents(key))
            self._blobs[key] = data
            self._modified[key] = datetime.now(UTC)
        return len(data)

    def _get(self, key: str) -> bytes:
        validate_key(key)
        with self._lock:
            data = self._blobs.get(key)
        if data is None:
            raise NotFound(f"no blob under key {key!r}")
        return data

"""Spooling an upload to local disk while hashing it: the first step of every ingest.

A transport feeds a :class:`Spool` the body of one instance chunk by chunk (bounded memory,
whatever the size), then hands the :class:`StagedFile` to a service. The spool lives in the blob
store's staging folder, so moving it under its final key is a rename on the filesystem backend.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["Spool", "StagedFile"]


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A complete upload on local disk, with its size and SHA-256."""

    path: Path
    size: int
    sha256: str

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class Spool:
    """A temporary file being written; use as a context manager so a failure removes it."""

    def __init__(self, directory: Path) -> None:
        descriptor, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".dcm")
        self._file = os.fdopen(descriptor, "wb")
        self._path = Path(name)
        self._hash = hashlib.sha256()
        self._size = 0
        self._finished = False

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self._size += len(chunk)

    def write_all(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def finish(self) -> StagedFile:
        """Close the file; from now on the caller owns it (and must move or discard it)."""
        self._file.close()
        self._finished = True
        return StagedFile(self._path, self._size, self._hash.hexdigest())

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._finished:
            self._file.close()
            self._path.unlink(missing_ok=True)

"""The storage seam for immutable instance bytes: the :class:`BlobStore` protocol.

Like Orthanc's storage area (create, read, read range, remove, has) the seam is small, so that a
local folder, an object store and an in-memory twin can all implement it and pass one contract
suite (``tests/blobs/test_contract.py``). The index is the source of truth: a blob whose key no
index row names is an orphan that a sweep over :meth:`BlobStore.keys` removes.

Every method takes a key checked by :func:`dicomstore.blobs.keys.validate_key`. Errors:

- :class:`dicomstore.errors.InvalidArgument` — a malformed key, offset or length;
- :class:`dicomstore.errors.NotFound` — no blob under the key;
- :class:`dicomstore.errors.OutOfRange` — a range past the end of the blob;
- :class:`dicomstore.errors.FailedPrecondition` — a key that is both a blob and a parent of
  another key (``a`` and ``a/b``), which a filesystem cannot hold;
- :class:`OSError` — the storage itself failed (permissions, full disk); these are faults of the
  deployment, not of the request, and are left for the transport to report as internal errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from dicomstore.errors import InvalidArgument

__all__ = ["BlobStore", "check_range"]


@runtime_checkable
class BlobStore(Protocol):
    """Where instance bytes live, under immutable ``/``-separated keys.

    Writes are atomic: a reader sees either no blob, the whole previous blob or the whole new
    one, never a partial or mixed one, even while the key is being replaced.
    """

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the concatenation of ``chunks`` under ``key``, atomically.

        The chunks are consumed one at a time; a backend that can stream does not hold the whole
        blob in memory. If the iterable raises, nothing is stored and an existing blob under the
        key is left as it was. Putting an existing key replaces it atomically.

        Parameters
        ----------
        key : str
            Where to store the bytes.
        chunks : Iterable[bytes]
            The bytes, in order.

        Returns
        -------
        int
            The number of bytes stored.
        """
        ...

    def put_file(self, key: str, path: Path) -> int:
        """Store the bytes of the local file ``path`` under ``key``, consuming the file.

        The file is moved into the store when it can be (a rename on the same filesystem),
        otherwise copied and then removed; either way it is gone afterwards. Spool uploads into
        :meth:`staging_dir` so the move is a rename. Close the file before calling.

        Parameters
        ----------
        key : str
            Where to store the bytes.
        path : pathlib.Path
            A complete local file; it no longer exists when the call returns.

        Returns
        -------
        int
            The number of bytes stored.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """Open the blob for a streaming read; use the result as a context manager.

        A reader keeps seeing the blob it opened even if the key is replaced or deleted meanwhile.

        Raises
        ------
        dicomstore.errors.NotFound
            If there is no blob under ``key``.
        """
        ...

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Read exactly ``length`` bytes starting at ``offset`` (a frame, a header).

        Raises
        ------
        dicomstore.errors.NotFound
            If there is no blob under ``key``.
        dicomstore.errors.OutOfRange
            If ``offset + length`` is past the end of the blob.
        dicomstore.errors.InvalidArgument
            If ``offset`` or ``length`` is negative.
        """
        ...

    def size(self, key: str) -> int:
        """The size of the blob in bytes.

        Raises
        ------
        dicomstore.errors.NotFound
            If there is no blob under ``key``.
        """
        ...

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
        ...

    def modified(self, key: str) -> datetime:
        """When the blob under ``key`` was last written (aware UTC); NotFound if missing.

        The orphan sweep leaves young blobs alone: their index rows may still be on the way.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove the blob under ``key``; a missing key is not an error."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every stored key that starts with ``prefix`` (a plain string prefix), sorted.

        The iteration is lazy: a backend lists one directory or page at a time. Keys stored or
        deleted during the iteration may or may not be seen.
        """
        ...

    def staging_dir(self) -> Path:
        """A local folder to spool uploads into before :meth:`put_file`.

        For the filesystem backend it lies inside the store's root, so :meth:`put_file` is a
        rename on the same filesystem. Files left there are the caller's to remove if it does not
        call :meth:`put_file`.
        """
        ...


def check_range(offset: int, length: int) -> None:
    """Refuse a negative ``offset`` or ``length`` (:class:`~dicomstore.errors.InvalidArgument`)."""
    if offset < 0 or length < 0:
        raise InvalidArgument(f"invalid byte range: offset {offset}, length {length}")

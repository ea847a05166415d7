"""The :class:`ObjectStore` seam: a bucket that import reads and export writes.

Import lists a bucket by prefix and streams each matching object, export uploads one file per
instance, filter files are read whole (``shared/spec/store-features.md`` §6–§8). One store
covers one bucket (for ``file://``, the whole local filesystem), and every implementation passes
the contract suite in ``tests/objects/test_stores.py``.

Errors are the domain's, with messages that name the URI:

- :class:`~dicomstore.errors.NotFound` — no such bucket or object;
- :class:`~dicomstore.errors.PermissionDenied` — the storage refused our credentials;
- :class:`~dicomstore.errors.InvalidArgument` — a text object too large or not UTF-8, or a name
  the storage refuses;
- :class:`~dicomstore.errors.FailedPrecondition` — no credentials are configured, or a local path
  is in the way (a folder where a file should go, a file where a folder should);
- :class:`~dicomstore.errors.Aborted` — the object was replaced or deleted while being read;
- :class:`~dicomstore.errors.Unavailable` — the storage cannot be reached or failed (after the
  client library's own retries).

A store may be used by several threads at once (import reads a few objects in parallel, export
writes a few); clients are created on first use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from dicomstore.errors import InvalidArgument

__all__ = ["DEFAULT_CHUNK_SIZE", "DEFAULT_TEXT_LIMIT", "ObjectInfo", "ObjectStore", "decode_text"]

#: Default size of the pieces :meth:`ObjectStore.read_chunks` yields.
DEFAULT_CHUNK_SIZE = 1 << 20
#: Default cap on :meth:`ObjectStore.read_text` (filter files are small).
DEFAULT_TEXT_LIMIT = 16 << 20


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """An object found by :meth:`ObjectStore.list`: its name in the bucket and its size."""

    name: str
    size: int


@runtime_checkable
class ObjectStore(Protocol):
    """One bucket of external object storage (or, for ``file://``, the filesystem root).

    Names are object names inside the bucket (for ``file://``, absolute paths without their
    leading ``/``), as :class:`~dicomstore.objects.uri.ObjectUri` holds them.
    """

    def check_bucket(self) -> None:
        """Check that the bucket exists and that we may list it.

        Raises
        ------
        dicomstore.errors.NotFound
            ``Bucket gs://x does not exist.``
        dicomstore.errors.PermissionDenied
            If the storage refuses access.
        dicomstore.errors.Unavailable
            If the storage cannot be reached.
        """
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose name starts with ``prefix``, lazily, in name order.

        Pages (or, for files, folders) are fetched as the iteration goes, so a listing of
        millions of objects never sits in memory. Folder placeholders (names ending in ``/``) and
        anything but regular objects are skipped. A missing bucket raises NotFound on the first
        ``next()``.
        """
        ...

    def read_chunks(self, name: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Stream the object ``name`` in pieces of at most ``chunk_size`` bytes.

        Raises NotFound (on the first ``next()``) if there is no such object. An empty object
        yields no pieces. The pieces all come from one version of the object: if it is replaced
        or deleted meanwhile, the read either goes on with the old version or fails with
        Aborted.
        """
        ...

    def read_text(self, name: str, limit: int = DEFAULT_TEXT_LIMIT) -> str:
        """The whole object ``name`` decoded as UTF-8 (a leading byte order mark is dropped).

        Raises
        ------
        dicomstore.errors.NotFound
            If there is no such object.
        dicomstore.errors.InvalidArgument
            If it is larger than ``limit`` bytes or not UTF-8.
        """
        ...

    def write_file(self, name: str, path: Path, content_type: str) -> None:
        """Upload the local file ``path`` as ``name``, replacing any object there.

        The file is streamed, never read whole into memory; the local file is left in place.
        Readers see the old object or the new one, never a partial one.
        """
        ...

    def write_bytes(self, name: str, data: bytes, content_type: str) -> None:
        """Store ``data`` as ``name``, replacing any object there."""
        ...

    def exists(self, name: str) -> bool:
        """Whether an object (not a folder) called ``name`` exists."""
        ...


def decode_text(chunks: Iterable[bytes], *, uri: str, limit: int) -> str:
    """Join ``chunks`` of the object at ``uri`` and decode them as UTF-8, at most ``limit`` bytes.

    The backends' :meth:`ObjectStore.read_text`: stops reading as soon as the limit is passed.
    """
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > limit:
            raise InvalidArgument(
                f"Object {uri} is larger than the {limit}-byte limit for a text file."
            )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidArgument(
            f"Object {uri} is not UTF-8 text (invalid byte at offset {error.start})."
        ) from None

"""Blobs as objects in a Cloud Storage or S3 bucket, through fsspec (gcsfs and s3fs).

The key ``a/b/c`` of the store ``gs://bucket/some/prefix`` is the object ``some/prefix/a/b/c`` of
``bucket``; ``s3://bucket/some/prefix`` is the same on S3. How the contract of
:class:`~dicomstore.blobs.store.BlobStore` holds on an object store:

- **Writes** are one upload that becomes visible only when complete (a single request for a small
  blob, a resumable or multipart upload in 8 MiB parts for a large one), so readers see the old
  object or the new one. A put whose chunks raise cancels its upload; nothing is stored.
- **Reads** pin the version seen when the blob is opened (GCS generation, S3 ETag with
  ``If-Match``) and fetch the first block (4 MiB) at once: a blob no larger than that is read as
  opened whatever happens next. A larger blob replaced or deleted while being read makes the next
  read raise :class:`~dicomstore.errors.NotFound` rather than mix versions; a bucket without
  versioning keeps no old version to read from. :meth:`ObjectBlobStore.read_range` is one ranged
  GET.
- **A key that is both a blob and a parent** (``a`` and ``a/b``) could live in a bucket, but the
  store refuses it as the filesystem must, so that what runs on one backend runs on all. Before
  each write it lists one object under ``key/`` and reads the metadata of every parent,
  concurrently (one round trip). The check and the write are not atomic: two clients racing to
  write ``a`` and ``a/b`` can both succeed.
- **Listing** fetches one page of 1,000 names at a time. Both services list in the order of the
  names' UTF-8 bytes, which is the order of Python strings, so keys come out sorted. Objects under
  the prefix whose names are not valid keys (written by something else) are skipped.

Errors: a missing object is :class:`~dicomstore.errors.NotFound`, a range past the end
:class:`~dicomstore.errors.OutOfRange`; everything else the storage raises (permission denied,
unreachable endpoint, a server error after the libraries' retries) is an :class:`OSError` with a
note naming the store and the key, like the filesystem backend's. The constructor checks that the
bucket can be listed (:meth:`ObjectBlobStore.check`), so a missing bucket, a wrong endpoint or
missing credentials stop the server at start-up, not at the first upload.

Endpoints and credentials come from the environment, as Google's and Amazon's own clients take
them: with ``STORAGE_EMULATOR_HOST`` set, GCS requests go there without credentials (the
emulator), otherwise to Cloud Storage with Application Default Credentials; S3 requests go to
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` if set, signed with the usual AWS credential
chain (``AWS_ACCESS_KEY_ID`` …, profiles, instance roles).

The store holds HTTP connections, which :meth:`ObjectBlobStore.close` releases (at shutdown). Its
requests run on fsspec's I/O thread, which does not survive a fork: open the store in the process
that uses it, after any fork.
"""

from __future__ import annotations

import asyncio
import errno
import io
import math
import os
import re
import shutil
import stat
import tempfile
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar, cast
from urllib.parse import urlsplit

from dicomstore.blobs.keys import parents, validate_key
from dicomstore.blobs.store import check_range
from dicomstore.errors import (
    DicomStoreError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OutOfRange,
)

__all__ = ["OBJECT_SCHEMES", "ObjectBlobStore", "ObjectLocation", "parse_object_url"]

#: The URL schemes of :class:`ObjectBlobStore`: Cloud Storage and S3.
OBJECT_SCHEMES = ("gs", "s3")

MIB = 1024 * 1024
#: What a read fetches at a time, and what :meth:`ObjectBlobStore.open` fetches at once.
DEFAULT_BLOCK_SIZE = 4 * MIB
# Part size of resumable (GCS, a multiple of 256 KiB) and multipart (S3, at least 5 MiB) uploads:
# the most a write holds in memory, besides the caller's chunk.
_PART_SIZE = 8 * MIB
_S3_MAX_PARTS = 10_000
# Parts of one S3 upload sent at once by put_file: memory is _PART_SIZE times this.
_S3_UPLOAD_CONCURRENCY = 4
_PAGE_SIZE = 1000
_CONTENT_TYPE = "application/octet-stream"
# open() retries when the blob is replaced between reading its metadata and its first block.
# Instance keys are never re-put, so this only matters for a key rewritten in a tight loop
# (the contract test does so, on a busy machine): be generous.
_OPEN_ATTEMPTS = 25

# Bucket names: GCS allows 3-63 characters (222 with dots) of a-z 0-9 - _ .; S3 3-63 of a-z 0-9 - .
_BUCKET_NAME = {
    "gs": re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]"),
    "s3": re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
}

_T = TypeVar("_T")


@dataclass(frozen=True)
class ObjectLocation:
    """Where an object store keeps its blobs: a bucket, and a prefix inside it."""

    scheme: str
    """``gs`` or ``s3``."""
    bucket: str
    prefix: str
    """``/``-separated, without leading or trailing ``/``; empty for the whole bucket."""

    @property
    def url(self) -> str:
        """The location as a URL: ``gs://bucket/prefix``."""
        return f"{self.scheme}://{self.bucket}/{self.prefix}".rstrip("/")

    def object_name(self, key: str) -> str:
        """The name of the object holding ``key``."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def key_of(self, name: str) -> str | None:
        """The key an object name holds, or None if it is not a valid key under the prefix."""
        if self.prefix:
            if not name.startswith(self.prefix + "/"):
                return None
            name = name[len(self.prefix) + 1 :]
        try:
            return validate_key(name)
        except InvalidArgument:
            return None


def parse_object_url(url: str) -> ObjectLocation:
    """Parse ``gs://bucket[/prefix]`` or ``s3://bucket[/prefix]``.

    Parameters
    ----------
    url : str
        The scheme (any case), a bucket name as the service allows it, and an optional prefix of
        valid key segments; a trailing ``/`` is ignored.

    Returns
    -------
    ObjectLocation

    Raises
    ------
    ValueError
        If the scheme is not ``gs`` or ``s3``, the bucket name is missing or invalid, the URL has
        credentials, a port, a query or a fragment, or the prefix is not a valid key.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in OBJECT_SCHEMES:
        raise ValueError(f"blob store URL {url!r}: expected gs://bucket/prefix or s3://…")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError(f"blob store URL {url!r}: no query or fragment allowed")
    bucket = parts.netloc
    if not bucket:
        raise ValueError(f"blob store URL {url!r}: no bucket; expected {scheme}://bucket/prefix")
    if not _BUCKET_NAME[scheme].fullmatch(bucket):
        raise ValueError(f"blob store URL {url!r}: {bucket!r} is not a valid bucket name")
    prefix = parts.path.strip("/")
    if prefix:
        try:
            validate_key(prefix)
        except InvalidArgument as error:
            raise ValueError(f"blob store URL {url!r}: invalid prefix: {error.message}") from None
    return ObjectLocation(scheme, bucket, prefix)


class ObjectBlobStore:
    """A :class:`~dicomstore.blobs.store.BlobStore` in a Cloud Storage or S3 bucket.

    Parameters
    ----------
    url : str
        ``gs://bucket[/prefix]`` or ``s3://bucket[/prefix]``; see :func:`parse_object_url`.
    staging_dir : str or os.PathLike, optional
        A local folder for :meth:`staging_dir`, created if missing. Without one the store makes
        a private temporary folder, removed when the store is garbage-collected.
    block_size : int, default 4 MiB
        How much a read fetches at a time; :meth:`open` fetches the first block at once.

    Raises
    ------
    ValueError
        If ``url`` is malformed.
    OSError
        If the bucket does not exist (:class:`FileNotFoundError`), cannot be listed with the
        credentials at hand (:class:`PermissionError`), or the storage cannot be reached; see
        :meth:`check`.
    """

    def __init__(
        self,
        url: str,
        *,
        staging_dir: str | os.PathLike[str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> None:
        if block_size <= 0:
            raise ValueError(f"block_size must be positive, got {block_size}")
        self._location = parse_object_url(url)
        self._block_size = block_size
        self._lock = threading.Lock()
        self._staging: Path | None = None
        if staging_dir is not None:
            self._staging = Path(staging_dir).absolute()
            self._staging.mkdir(parents=True, exist_ok=True)
        try:
            self._backend: _Backend = (
                _GcsBackend(self._location.bucket)
                if self._location.scheme == "gs"
                else _S3Backend(self._location.bucket)
            )
        except Exception as error:
            if isinstance(error, ValueError | OSError):
                raise
            # Credentials the library could not find or use, and the like.
            raise OSError(
                f"cannot set up {self._where()}: {type(error).__name__}: {error}"
            ) from error
        try:
            self.check()
        except BaseException:
            with suppress(Exception):
                self.close()
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._location.url!r})"

    @property
    def url(self) -> str:
        """``gs://bucket/prefix`` or ``s3://bucket/prefix``, normalised."""
        return self._location.url

    @property
    def location(self) -> ObjectLocation:
        """The bucket and prefix."""
        return self._location

    def check(self) -> None:
        """Check that the bucket exists and can be listed; the constructor calls it.

        Raises
        ------
        FileNotFoundError
            If the bucket does not exist.
        PermissionError
            If the credentials may not list the bucket.
        OSError
            If the storage cannot be reached or fails otherwise.
        """
        base = self._location.prefix + "/" if self._location.prefix else ""
        try:
            self._run(_any_object_under, self._backend, base)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"the bucket {self._location.bucket!r} does not exist ({self._where()})"
            ) from None
        except PermissionError as error:
            raise PermissionError(
                f"not allowed to list the bucket {self._location.bucket!r} ({self._where()}): "
                f"{_first_line(error)}"
            ) from None
        except Exception as error:
            raise OSError(
                f"cannot list the bucket {self._location.bucket!r} ({self._where()}): "
                f"{type(error).__name__}: {_first_line(error)}"
            ) from error

    def close(self) -> None:
        """Close the HTTP connections the store holds (at shutdown, or at the end of a test).

        The store stays usable: its next request opens new connections. Without a call, the
        connections are closed when the store is garbage-collected.
        """
        with self._annotate("closing the connections"):
            self._run(self._backend.close)

    # -- writing ----------------------------------------------------------------------------

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Upload ``chunks`` as they come; see ``BlobStore.put``.

        Memory use is bounded by the upload part size (8 MiB) plus the largest chunk.
        """
        name = self._name(key)
        self._refuse_conflicts(key)
        with self._annotate(f"writing blob {key!r}"):
            file = self._backend.open_write(name)
        size = 0
        try:
            for chunk in chunks:
                size += memoryview(chunk).nbytes
                with self._annotate(f"writing blob {key!r}"):
                    file.write(chunk)
            with self._annotate(f"writing blob {key!r}"):
                file.close()
        except BaseException:
            _discard(file)
            raise
        return size

    def put_file(self, key: str, path: Path) -> int:
        """Upload the local file, then remove it; see ``BlobStore.put_file``.

        Large files go up in parts of 8 MiB (S3: up to four at a time), never whole.
        """
        name = self._name(key)
        source = Path(path)
        status = os.stat(source)  # FileNotFoundError for a missing file, as the contract says
        if not stat.S_ISREG(status.st_mode):
            raise InvalidArgument(f"cannot store {source}: not a regular file")
        self._refuse_conflicts(key)
        with self._annotate(f"uploading a file to blob {key!r}"):
            self._run(self._backend.upload_file, source, name, status.st_size)
        os.unlink(source)
        return status.st_size

    def delete(self, key: str) -> None:
        """Delete the object; see ``BlobStore.delete``."""
        name = self._name(key)
        with self._annotate(f"deleting blob {key!r}"), suppress(FileNotFoundError):
            self._run(self._backend.delete, name)

    # -- reading ----------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        """A seekable reader of the blob as it is now; see ``BlobStore.open`` and the notes above.

        The first block is fetched before this returns; the rest as it is read, a block at a
        time (a larger read in one request).
        """
        name = self._name(key)
        for attempt in range(_OPEN_ATTEMPTS):
            current = self._stat(key, name)
            fetch = self._pinned_fetch(key, name, current.version)
            try:
                first = fetch(0, min(current.size, self._block_size)) if current.size else b""
            except NotFound:
                if attempt == _OPEN_ATTEMPTS - 1:
                    raise
                continue  # replaced or deleted since we read its metadata: look again
            return cast(BinaryIO, _ObjectReader(fetch, current.size, first, self._block_size))
        raise AssertionError("unreachable")

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """One ranged GET; see ``BlobStore.read_range``."""
        name = self._name(key)
        check_range(offset, length)
        if length == 0:
            size = self._stat(key, name).size
            if offset > size:
                raise _past_the_end(key, offset, length, size)
            return b""
        try:
            with self._annotate(f"reading blob {key!r}"):
                data = self._run(self._backend.fetch, name, offset, offset + length, None)
        except FileNotFoundError:
            raise NotFound(f"no blob under key {key!r}") from None
        except _RangeNotSatisfiable:
            raise _past_the_end(key, offset, length, self._stat(key, name).size) from None
        if len(data) != length:
            raise _past_the_end(key, offset, length, offset + len(data))
        return data

    def size(self, key: str) -> int:
        """The object's size; see ``BlobStore.size``."""
        return self._stat(key, self._name(key)).size

    def modified(self, key: str) -> datetime:
        """When the object was last written; see ``BlobStore.modified``."""
        return self._stat(key, self._name(key)).modified

    def exists(self, key: str) -> bool:
        """Whether an object holds ``key``; see ``BlobStore.exists``."""
        name = self._name(key)
        with self._annotate(f"checking blob {key!r}"):
            return self._run(self._backend.is_object, name)

    def keys(self, prefix: str = "") -> Iterator[str]:
        """List one page at a time; see ``BlobStore.keys``."""
        base = self._location.object_name(prefix)
        token: str | None = None
        while True:
            with self._annotate(f"listing the keys starting with {prefix!r}"):
                names, token = self._run(self._backend.list_names, base, token, _PAGE_SIZE)
            for name in names:
                key = self._location.key_of(name)
                if key is not None and key.startswith(prefix):
                    yield key
            if token is None:
                return

    def staging_dir(self) -> Path:
        """The folder given to the constructor, or a private temporary one."""
        with self._lock:
            if self._staging is None:
                self._staging = Path(tempfile.mkdtemp(prefix="dicomstore-staging-"))
                weakref.finalize(self, shutil.rmtree, self._staging, ignore_errors=True)
            return self._staging

    # -- helpers ----------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        name = self._location.object_name(validate_key(key))
        self._backend.check_name(name)
        return name

    def _run(self, function: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Run one of the backend's coroutines on fsspec's I/O loop and wait for it."""
        from fsspec.asyn import sync

        return cast(_T, sync(self._backend.fs.loop, function, *args))

    def _stat(self, key: str, name: str) -> _Stat:
        try:
            with self._annotate(f"inspecting blob {key!r}"):
                return self._run(self._backend.stat, name)
        except FileNotFoundError:
            raise NotFound(f"no blob under key {key!r}") from None

    def _pinned_fetch(self, key: str, name: str, version: str) -> Callable[[int, int], bytes]:
        def fetch(start: int, end: int) -> bytes:
            try:
                with self._annotate(f"reading blob {key!r}"):
                    data = self._run(self._backend.fetch, name, start, end, version)
            except (FileNotFoundError, _RangeNotSatisfiable):
                raise NotFound(f"blob {key!r} was replaced or deleted while being read") from None
            if len(data) != end - start:
                raise NotFound(f"blob {key!r} was replaced while being read")
            return data

        return fetch

    def _refuse_conflicts(self, key: str) -> None:
        """FailedPrecondition if ``key`` is a parent of a blob, or a parent of ``key`` a blob."""
        with self._annotate(f"checking the parents of blob {key!r}"):
            conflict = self._run(self._conflict, key)
        if conflict == key:
            raise FailedPrecondition(f"blob key {key!r} is a parent of other keys")
        if conflict is not None:
            raise FailedPrecondition(
                f"blob key {key!r} conflicts with the blob stored under {conflict!r}"
            )

    async def _conflict(self, key: str) -> str | None:
        """``key`` if objects lie under ``key/``, else the first parent that is an object."""
        name = self._location.object_name
        checks = [_any_object_under(self._backend, name(key) + "/")]
        checks += [self._backend.is_object(name(parent)) for parent in parents(key)]
        found = await asyncio.gather(*checks)
        if found[0]:
            return key
        return next(
            (parent for parent, is_blob in zip(parents(key), found[1:], strict=True) if is_blob),
            None,
        )

    def _where(self) -> str:
        return f"{self._location.url} at {_endpoint_description(self._location.scheme)}"

    @contextmanager
    def _annotate(self, doing: str) -> Iterator[None]:
        """Say which store and key a storage error is about; make every storage error an OSError.

        FileNotFoundError is left as it is for the caller to turn into NotFound.
        """
        note = f"while {doing} in the store at {self._location.url}"
        try:
            yield
        except (DicomStoreError, FileNotFoundError, _RangeNotSatisfiable):
            raise
        except OSError as error:
            if not any(n.startswith("while ") for n in getattr(error, "__notes__", [])):
                error.add_note(note)
            raise
        except Exception as error:  # the libraries' own errors: HTTP, botocore, auth, timeouts
            fault = OSError(errno.EIO, f"{type(error).__name__}: {_first_line(error)}")
            fault.add_note(note)
            raise fault from error


# -- reading --------------------------------------------------------------------------------


class _ObjectReader(io.BufferedIOBase):
    """A read-only, seekable file over ranged GETs of one version of one object.

    It keeps one window of ``block_size`` bytes (the first block to start with); a read inside
    it costs nothing, a read outside it fetches the block it starts in, and a read of a block or
    more is one request for exactly what it asks.
    """

    def __init__(
        self, fetch: Callable[[int, int], bytes], size: int, first: bytes, block_size: int
    ) -> None:
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._block_size = block_size
        self._position = 0
        self._window_start = 0
        self._window = first

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        start = self._position
        end = self._size if size is None or size < 0 else min(self._size, start + size)
        if end <= start:
            return b""
        pieces: list[bytes] = []
        position = start
        while position < end:
            window_end = self._window_start + len(self._window)
            if self._window_start <= position < window_end:
                stop = min(end, window_end)
                at = position - self._window_start
                pieces.append(self._window[at : at + stop - position])
                position = stop
            elif end - position >= self._block_size:
                pieces.append(self._fetch(position, end))
                position = end
            else:
                window_end = min(self._size, position + self._block_size)
                self._window = self._fetch(position, window_end)
                self._window_start = position
        self._position = end
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def close(self) -> None:
        self._window = b""
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")


# -- the two services -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Stat:
    size: int
    version: str
    """What pins this version of the object: the GCS generation or the S3 ETag."""
    modified: datetime


class _RangeNotSatisfiable(Exception):
    """The range starts at or past the end of the object (HTTP 416)."""


class _Backend(Protocol):
    """What the store needs of a service, in the service's own terms (object names).

    The coroutines run on fsspec's I/O loop. A missing object or bucket raises
    FileNotFoundError.
    """

    fs: Any

    def check_name(self, name: str) -> None: ...

    async def stat(self, name: str) -> _Stat: ...

    async def is_object(self, name: str) -> bool: ...

    async def fetch(self, name: str, start: int, end: int, version: str | None) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive), fewer at the end of the object; with
        ``version``, FileNotFoundError if the object is no longer that version."""
        ...

    async def list_names(
        self, prefix: str, token: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        """Up to ``limit`` object names under ``prefix`` from ``token`` on, and the next token."""
        ...

    async def upload_file(self, path: Path, name: str, size: int) -> None: ...

    async def delete(self, name: str) -> None: ...

    def open_write(self, name: str) -> Any:
        """An fsspec file open for writing ``name``; closing it commits the upload."""
        ...

    async def close(self) -> None:
        """Close the HTTP session; the next request opens a new one."""
        ...


async def _any_object_under(backend: _Backend, prefix: str) -> bool:
    names, _ = await backend.list_names(prefix, None, 1)
    return bool(names)


class _GcsBackend:
    """Cloud Storage through gcsfs's JSON API client."""

    def __init__(self, bucket: str) -> None:
        # gcsfs.GCSFileSystem is, in this version, an "extended" class that first asks over gRPC
        # what kind of bucket it talks to; against the emulator that hangs for a minute. The
        # core class speaks the JSON API only, which is all we need.
        from gcsfs.core import GCSFileSystem
        from gcsfs.retry import HttpError

        self.bucket = bucket
        self._http_error: type[Exception] = HttpError
        endpoint = _gcs_emulator()
        options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
        if endpoint:
            options.update(token="anon", endpoint_url=endpoint)
        else:
            options.update(token="google_default")
        self.fs = GCSFileSystem(**options)

    def check_name(self, name: str) -> None:
        pass

    async def _call(self, *args: Any, **kwargs: Any) -> Any:
        """gcsfs's request, with 403 as PermissionError (gcsfs raises a plain OSError)."""
        try:
            return await self.fs._call(*args, **kwargs)
        except OSError as error:
            _refuse_forbidden(error)
            raise

    async def stat(self, name: str) -> _Stat:
        metadata = await self._call("GET", "b/{}/o/{}", self.bucket, name, json_out=True)
        return _Stat(
            size=int(metadata["size"]),
            version=str(metadata["generation"]),
            modified=_aware(datetime.fromisoformat(metadata["updated"])),
        )

    async def is_object(self, name: str) -> bool:
        try:
            await self._call("GET", "b/{}/o/{}", self.bucket, name, fields="name")
        except FileNotFoundError:
            return False
        return True

    async def fetch(self, name: str, start: int, end: int, version: str | None) -> bytes:
        try:
            data = await self.fs._cat_file(
                f"{self.bucket}/{name}", start=start, end=end, generation=version
            )
        except self._http_error as error:
            if getattr(error, "code", None) == 416:
                raise _RangeNotSatisfiable from error
            raise
        except OSError as error:
            _refuse_forbidden(error)
            raise
        return bytes(data)

    async def list_names(
        self, prefix: str, token: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        listing = await self._call(
            "GET",
            "b/{}/o",
            self.bucket,
            prefix=prefix or None,
            pageToken=token,
            maxResults=limit,
            fields="items(name),nextPageToken",
            json_out=True,
        )
        names = [item["name"] for item in listing.get("items", [])]
        return names, listing.get("nextPageToken") or None

    async def upload_file(self, path: Path, name: str, size: int) -> None:
        await self.fs._put_file(
            str(path), f"{self.bucket}/{name}", chunksize=_PART_SIZE, content_type=_CONTENT_TYPE
        )

    async def delete(self, name: str) -> None:
        await self._call("DELETE", "b/{}/o/{}", self.bucket, name)

    def open_write(self, name: str) -> Any:
        return self.fs.open(
            f"{self.bucket}/{name}", "wb", block_size=_PART_SIZE, content_type=_CONTENT_TYPE
        )

    async def close(self) -> None:
        # gcsfs only closes its aiohttp session from a finalizer; it makes a new one on demand.
        session, self.fs._session = self.fs._session, None
        if session is not None:
            await session.close()


class _S3Backend:
    """S3 (or any S3-compatible service) through s3fs and aiobotocore."""

    def __init__(self, bucket: str) -> None:
        from s3fs import S3FileSystem

        self.bucket = bucket
        endpoint = _s3_endpoint()
        self.fs = S3FileSystem(
            client_kwargs={"endpoint_url": endpoint} if endpoint else {},
            skip_instance_cache=True,
            use_listings_cache=False,
        )

    def check_name(self, name: str) -> None:
        # s3fs cuts a path at "?versionId=" whatever its settings, so such a key cannot be
        # written through it.
        if "?versionId=" in name:
            raise InvalidArgument(f"object name {name!r}: s3fs cannot store '?versionId=' in it")

    async def stat(self, name: str) -> _Stat:
        head = await self.fs._call_s3("head_object", Bucket=self.bucket, Key=name)
        return _Stat(
            size=int(head["ContentLength"]),
            version=str(head["ETag"]),
            modified=_aware(head["LastModified"]),
        )

    async def is_object(self, name: str) -> bool:
        try:
            await self.fs._call_s3("head_object", Bucket=self.bucket, Key=name)
        except FileNotFoundError:
            return False
        return True

    async def fetch(self, name: str, start: int, end: int, version: str | None) -> bytes:
        request: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": name,
            "Range": f"bytes={start}-{end - 1}",
        }
        if version is not None:
            request["IfMatch"] = version
        try:
            response = await self.fs._call_s3("get_object", **request)
        except OSError as error:
            code = _s3_error_code(error)
            if code in ("InvalidRange", "416"):
                raise _RangeNotSatisfiable from error
            if code in ("PreconditionFailed", "412"):
                raise FileNotFoundError(f"{name}: no longer the version opened") from error
            raise
        body = response["Body"]
        try:
            return bytes(await body.read())
        finally:
            body.close()

    async def list_names(
        self, prefix: str, token: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": limit}
        if token is not None:
            request["ContinuationToken"] = token
        listing = await self.fs._call_s3("list_objects_v2", **request)
        names = [item["Key"] for item in listing.get("Contents", [])]
        more = listing.get("IsTruncated") and listing.get("NextContinuationToken")
        return names, more or None

    async def upload_file(self, path: Path, name: str, size: int) -> None:
        # s3fs sends a file smaller than two parts in one request, read whole: 16 MiB at most.
        part_size = max(_PART_SIZE, math.ceil(size / _S3_MAX_PARTS))
        await self.fs._put_file(
            str(path),
            f"{self.bucket}/{name}",
            chunksize=part_size,
            max_concurrency=_S3_UPLOAD_CONCURRENCY,
            ContentType=_CONTENT_TYPE,
        )

    async def delete(self, name: str) -> None:
        await self.fs._call_s3("delete_object", Bucket=self.bucket, Key=name)

    def open_write(self, name: str) -> Any:
        return self.fs.open(f"{self.bucket}/{name}", "wb", block_size=_PART_SIZE)

    async def close(self) -> None:
        # s3fs only closes its aiobotocore client from a finalizer; it makes a new one on demand.
        client, self.fs._s3 = self.fs._s3, None
        if client is not None:
            await client.__aexit__(None, None, None)


# -- small helpers --------------------------------------------------------------------------


def _gcs_emulator() -> str | None:
    """``STORAGE_EMULATOR_HOST`` as a URL (the Google clients accept ``host:port`` too)."""
    host = os.environ.get("STORAGE_EMULATOR_HOST", "").strip()
    if not host:
        return None
    return (host if "://" in host else f"http://{host}").rstrip("/")


def _s3_endpoint() -> str | None:
    """The endpoint the AWS SDKs would use: ``AWS_ENDPOINT_URL_S3``, then ``AWS_ENDPOINT_URL``."""
    for variable in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        value = os.environ.get(variable, "").strip()
        if value:
            return value
    return None


def _endpoint_description(scheme: str) -> str:
    if scheme == "gs":
        emulator = _gcs_emulator()
        return f"the emulator at {emulator}" if emulator else "Cloud Storage"
    endpoint = _s3_endpoint()
    return endpoint if endpoint else "AWS S3"


def _refuse_forbidden(error: OSError) -> None:
    """gcsfs answers 403 with a plain OSError("Forbidden: …"): raise a PermissionError instead."""
    if str(error).startswith("Forbidden"):
        raise PermissionError(errno.EACCES, _first_line(error)) from error


def _s3_error_code(error: BaseException) -> str | None:
    """The S3 error code behind an error s3fs translated (it keeps botocore's as the cause)."""
    response = getattr(error.__cause__, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _past_the_end(key: str, offset: int, length: int, size: int) -> OutOfRange:
    return OutOfRange(
        f"bytes {offset}–{offset + length} are past the end of blob {key!r} ({size} bytes)"
    )


def _discard(file: Any) -> None:
    """Cancel an unfinished upload (abort the multipart or resumable upload); best effort."""
    with suppress(Exception):
        file.discard()
    # fsspec's close() would commit what was written so far: mark the file closed instead.
    file.closed = True

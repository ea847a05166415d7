"""``s3://`` buckets (through s3fs) and ``file://`` paths (the local filesystem) through fsspec.

Import sources, export destinations and filter files (``shared/spec/store-features.md`` §6–§8),
for deployments outside Google Cloud. S3 honours ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``
(MinIO, moto, Ceph…) and botocore's usual credential chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, profiles, instance roles).

Listing stays bounded: S3 is paged through ``ListObjectsV2`` 1000 keys at a time (s3fs's own
``find`` loads the whole listing); local folders are walked depth first, one folder's entries in
memory per level, sorted so that names come out in plain string order (a folder ``a`` sorts as
``a/``, after ``a-b``, as object names do). Symbolic links to files are followed, to folders not
(no cycles). Local writes are atomic: a temporary file in the destination folder, renamed over the
target. S3 uploads go in one request up to 16 MiB, else as multipart in 8 MiB parts, one at a
time, so memory stays bounded.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

import fsspec.exceptions
from botocore import exceptions as boto_exceptions  # type: ignore[import-untyped]
from fsspec.implementations.local import LocalFileSystem
from s3fs import S3FileSystem
from s3fs.utils import FileExpired

from dicomstore.errors import (
    Aborted,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from dicomstore.objects.store import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_TEXT_LIMIT,
    ObjectInfo,
    decode_text,
)
from dicomstore.objects.uri import ObjectUri

__all__ = ["TEMPORARY_PREFIX", "FsspecObjectStore", "new_s3_filesystem"]

#: Name prefix of the temporary files of local writes in progress (never listed).
TEMPORARY_PREFIX = ".dicomstore-tmp-"

_PAGE_SIZE = 1000
# S3 parts must be at least 5 MiB (but the last); one part in flight keeps memory at 16 MiB.
_UPLOAD_CHUNK_SIZE = 8 << 20
_COPY_CHUNK = 1 << 20
_SCHEMES = ("s3", "file")


def new_s3_filesystem(**options: Any) -> Any:
    """An ``s3fs.S3FileSystem`` for the environment, with no listing cache.

    Parameters
    ----------
    **options
        Extra ``S3FileSystem`` arguments (``config_kwargs={"retries": ...}`` for instance).
    """
    client_kwargs: dict[str, Any] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        client_kwargs["endpoint_url"] = endpoint
    region = os.environ.get("AWS_REGION")
    if region and not os.environ.get("AWS_DEFAULT_REGION"):
        client_kwargs["region_name"] = region
    client_kwargs.update(options.pop("client_kwargs", {}))
    return S3FileSystem(
        client_kwargs=client_kwargs,
        use_listings_cache=False,
        skip_instance_cache=True,
        **options,
    )


class FsspecObjectStore:
    """An :class:`~dicomstore.objects.store.ObjectStore` over an S3 bucket or the local disk.

    Parameters
    ----------
    scheme : {"s3", "file"}
        ``s3`` for a bucket, ``file`` for the local filesystem (names are absolute paths without
        their leading ``/``).
    bucket : str, default ""
        The S3 bucket (already validated); ``""`` for ``file``.
    filesystem : fsspec.AbstractFileSystem, optional
        The filesystem to use; by default :func:`new_s3_filesystem` (made on first use) or a
        ``LocalFileSystem``.
    """

    def __init__(self, scheme: str, bucket: str = "", *, filesystem: Any = None) -> None:
        if scheme not in _SCHEMES:
            raise ValueError(f"unsupported scheme {scheme!r}; expected one of {_SCHEMES}")
        if (scheme == "s3") != bool(bucket):
            raise ValueError("an S3 store needs a bucket, a file store none")
        self._scheme = scheme
        self._bucket = bucket
        self._local = scheme == "file"
        if filesystem is None and self._local:
            filesystem = LocalFileSystem()
        self._fs = filesystem  # for S3, made on first use
        self._fs_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._scheme!r}, {self._bucket!r})"

    def check_bucket(self) -> None:
        """List one key (needs only ``s3:ListBucket``); nothing to check for local files."""
        if self._local:
            return
        with self._translated(self._uri(""), missing=self._no_bucket()):
            self._filesystem().call_s3("list_objects_v2", Bucket=self._bucket, MaxKeys=1)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """See ``ObjectStore.list``."""
        with self._translated(self._uri(prefix), missing=self._no_parent(prefix)):
            if self._local:
                directory = prefix.rpartition("/")[0]
                base = directory + "/" if directory else ""
                yield from _walk_local("/" + directory, base, prefix)
            else:
                yield from self._list_s3(prefix)

    def read_chunks(self, name: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """See ``ObjectStore.read_chunks``.

        S3 reads are range requests of ``chunk_size`` bytes, each conditional on the ETag seen at
        the start (s3fs's ``IfMatch``), so an object replaced meanwhile fails the read (Aborted)
        rather than mixing two versions; a local file being read stays the old one.
        """
        uri = self._uri(name)
        missing = f"Object {uri} does not exist."
        with self._translated(uri, missing=missing):
            if not name or name.endswith("/"):
                raise NotFound(missing)
            options = {} if self._local else {"block_size": chunk_size, "cache_type": "none"}
            with self._filesystem().open(self._path(name), "rb", **options) as file:
                # s3fs opens a key that is only a prefix of others as an empty "directory".
                if not self._local and file.details.get("type") != "file":
                    raise NotFound(missing)
                while chunk := file.read(chunk_size):
                    yield chunk

    def read_text(self, name: str, limit: int = DEFAULT_TEXT_LIMIT) -> str:
        """See ``ObjectStore.read_text``."""
        chunks = self.read_chunks(name, chunk_size=min(limit + 1, DEFAULT_CHUNK_SIZE))
        return decode_text(chunks, uri=self._uri(name), limit=limit)

    def write_file(self, name: str, path: Path, content_type: str) -> None:
        """See ``ObjectStore.write_file``; ``content_type`` is not kept for local files.

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a file (the caller's mistake, not the destination's).
        """
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no file to upload at {path}")
        with self._translated(self._uri(name), missing=self._no_parent(name), writing=True):
            if self._local:
                self._write_local(name, _copier(path))
            else:
                self._filesystem().put_file(
                    os.fspath(path),
                    self._path(name),
                    ContentType=content_type,
                    chunksize=_UPLOAD_CHUNK_SIZE,
                    max_concurrency=1,
                )

    def write_bytes(self, name: str, data: bytes, content_type: str) -> None:
        """See ``ObjectStore.write_bytes``; ``content_type`` is not kept for local files."""
        with self._translated(self._uri(name), missing=self._no_parent(name), writing=True):
            if self._local:
                self._write_local(name, lambda file: file.write(data))
            else:
                self._filesystem().pipe_file(self._path(name), data, ContentType=content_type)

    def exists(self, name: str) -> bool:
        """See ``ObjectStore.exists``; false in a missing bucket."""
        if not name or name.endswith("/"):
            return False
        if self._local:
            return os.path.isfile(self._path(name))
        with self._translated(self._uri(name), missing=self._no_bucket()):
            try:
                self._filesystem().call_s3("head_object", Bucket=self._bucket, Key=name)
            except FileNotFoundError:
                return False
            return True

    # -- internals --------------------------------------------------------------------------

    def _filesystem(self) -> Any:
        with self._fs_lock:
            if self._fs is None:
                self._fs = new_s3_filesystem()
            return self._fs

    def _path(self, name: str) -> str:
        return "/" + name if self._local else f"{self._bucket}/{name}"

    def _uri(self, name: str) -> str:
        return str(ObjectUri(self._scheme, self._bucket, name))

    def _no_bucket(self) -> str:
        return f"Bucket s3://{self._bucket} does not exist."

    def _no_parent(self, name: str) -> str:
        """The message of a 404 on a write or a listing: the bucket (or local folder) is gone."""
        if self._local:
            return f"The folder of {self._uri(name)} was removed meanwhile."
        return self._no_bucket()

    def _list_s3(self, prefix: str) -> Iterator[ObjectInfo]:
        """``ListObjectsV2`` one page at a time (keys come in UTF-8 binary order)."""
        filesystem = self._filesystem()
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix, "MaxKeys": _PAGE_SIZE}
        while True:
            page = filesystem.call_s3("list_objects_v2", **request)
            for item in page.get("Contents", ()):
                if not item["Key"].endswith("/"):
                    yield ObjectInfo(item["Key"], int(item["Size"]))
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]

    def _write_local(self, name: str, write: Callable[[BinaryIO], object]) -> None:
        """Write through a temporary file next to the target, then rename it over the target."""
        target = self._path(name)
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, TEMPORARY_PREFIX + secrets.token_hex(8))
        # 0o666 minus the umask, like any new file (mkstemp would force 0o600).
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as file:
                write(file)
            os.replace(temporary, target)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary)
            raise

    @contextmanager
    def _translated(self, uri: str, *, missing: str, writing: bool = False) -> Iterator[None]:
        """Turn s3fs, botocore and OS errors into the domain's; ``missing`` is the 404 message."""
        try:
            yield
        except FileNotFoundError as error:
            raise NotFound(self._no_bucket() if _no_such_bucket(error) else missing) from error
        except PermissionError as error:
            raise PermissionDenied(f"Access to {uri} was denied: {error}") from error
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as error:
            if not writing:
                raise NotFound(missing) from error
            raise FailedPrecondition(
                f"Cannot write {uri}: a folder is in the way of the file, or a file in the way "
                f"of a folder ({error})."
            ) from error
        except FileExpired as error:  # the ETag changed between two reads
            raise Aborted(f"Object {uri} was replaced or deleted while it was read.") from error
        except boto_exceptions.NoCredentialsError as error:
            raise FailedPrecondition(
                f"No AWS credentials to access {uri}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or configure a profile."
            ) from error
        except boto_exceptions.ParamValidationError as error:
            raise InvalidArgument(f"S3 refused {uri}: {error}") from error
        except (boto_exceptions.BotoCoreError, fsspec.exceptions.FSTimeoutError) as error:
            raise Unavailable(f"S3 is unavailable for {uri}: {error}") from error
        except boto_exceptions.ClientError as error:
            raise Internal(f"S3 failed on {uri}: {error}") from error
        except OSError as error:
            if self._local:
                raise Internal(f"Cannot access {uri}: {error}") from error
            raise Unavailable(f"S3 failed on {uri}: {error}") from error


def _copier(path: Path) -> Callable[[BinaryIO], object]:
    """A writer that copies the file at ``path`` into its argument, 1 MiB at a time."""

    def copy(destination: BinaryIO) -> None:
        with open(path, "rb") as source:
            shutil.copyfileobj(source, destination, _COPY_CHUNK)

    return copy


def _walk_local(directory: str, base: str, prefix: str) -> Iterator[ObjectInfo]:
    """Files under ``directory`` (whose names start with ``base``) that start with ``prefix``.

    Entries are sorted with folders keyed as ``name/``, which yields plain string order of the
    full names; folders that cannot hold a match are not entered.
    """
    try:
        with os.scandir(directory) as iterator:
            entries = list(iterator)
    except (FileNotFoundError, NotADirectoryError):
        return
    selected: list[tuple[str, os.DirEntry[str], bool]] = []
    for entry in entries:
        name = base + entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                folder = name + "/"
                if folder.startswith(prefix) or prefix.startswith(folder):
                    selected.append((folder, entry, True))
            elif (
                name.startswith(prefix)
                and entry.is_file()
                and not entry.name.startswith(TEMPORARY_PREFIX)
            ):
                selected.append((name, entry, False))
        except FileNotFoundError:  # removed while we looked
            continue
    del entries
    selected.sort(key=lambda item: item[0])
    for name, entry, is_folder in selected:
        if is_folder:
            yield from _walk_local(entry.path, name, prefix)
            continue
        try:
            size = entry.stat().st_size
        except FileNotFoundError:
            continue
        yield ObjectInfo(name, size)


def _no_such_bucket(error: FileNotFoundError) -> bool:
    """Whether s3fs raised ``error`` for S3's ``NoSuchBucket``."""
    response = getattr(error.__cause__, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") == "NoSuchBucket"

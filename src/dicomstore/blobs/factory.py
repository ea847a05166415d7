"""Choosing a blob store from a URL, as settings and the command line give it."""

from __future__ import annotations

from concurrent.futures import Executor
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from dicomstore.blobs.filesystem import FileSystemBlobStore
from dicomstore.blobs.memory import MemoryBlobStore
from dicomstore.blobs.new_blob import NewBlob
from dicomstore.blobs.objectstore import OBJECT_SCHEMES, ObjectBlobStore
from dicomstore.blobs.store import BlobStore

__all__ = ["SUPPORTED_SCHEMES", "open_blob_store", "put_new", "reads_locally"]

SUPPORTED_SCHEMES = ("file", "memory", *OBJECT_SCHEMES)


def open_blob_store(url: str, *, staging_dir: Path | None = None) -> BlobStore:
    """The blob store that ``url`` names.

    Parameters
    ----------
    url : str
        ``file:///absolute/path`` or a plain (absolute or relative) path for a
        :class:`~dicomstore.blobs.filesystem.FileSystemBlobStore`, created if missing;
        ``memory://`` for a fresh :class:`~dicomstore.blobs.memory.MemoryBlobStore`;
        ``gs://bucket[/prefix]`` or ``s3://bucket[/prefix]`` for an
        :class:`~dicomstore.blobs.objectstore.ObjectBlobStore` in an existing bucket (endpoint
        and credentials from the environment).
    staging_dir : pathlib.Path, optional
        The local folder where an object store's uploads are spooled before they go up
        (``BlobStore.staging_dir``); created if missing. Without one an object store uses a
        private temporary folder. The filesystem store ignores it: it stages inside its root so
        that storing a staged file is a rename; so does the memory store.

    Returns
    -------
    BlobStore
        The store, ready to use.

    Raises
    ------
    ValueError
        If the URL is empty, malformed, or of an unsupported scheme.
    OSError
        If the store cannot be used: a folder that cannot be created, a bucket that does not
        exist (:class:`FileNotFoundError`) or may not be listed, storage that cannot be reached.
    """
    if not url:
        raise ValueError("blob store URL is empty")
    if "://" not in url:
        return FileSystemBlobStore(Path(url))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        if parts.netloc or parts.path or parts.query or parts.fragment:
            raise ValueError(f"blob store URL {url!r}: write memory:// with nothing after it")
        return MemoryBlobStore()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"blob store URL {url!r}: file URLs must name a local path")
        if parts.query or parts.fragment or not parts.path:
            raise ValueError(f"blob store URL {url!r}: expected file:///absolute/path")
        return FileSystemBlobStore(Path(url2pathname(parts.path)))
    if scheme in OBJECT_SCHEMES:
        return ObjectBlobStore(url, staging_dir=staging_dir)
    supported = ", ".join(f"{name}://" for name in SUPPORTED_SCHEMES)
    raise ValueError(
        f"unsupported blob store URL scheme {parts.scheme!r} in {url!r}; "
        f"supported: {supported} or a plain path"
    )


def put_new(store: BlobStore, key: str, data: bytes, background: Executor) -> NewBlob:
    """Store ``data`` under ``key``, a key never used before that nothing reads until
    `NewBlob.durable` returns: in place on a filesystem, made durable by the thread that waits
    (`FileSystemBlobStore.put_new`); elsewhere a ``put`` run on ``background`` meanwhile."""
    if isinstance(store, FileSystemBlobStore):
        return store.put_new(key, data)
    return NewBlob.uploading(background.submit(store.put, key, (data,)), partial(store.delete, key))


def reads_locally(store: BlobStore) -> bool:
    """Whether ``store`` reads from this machine's memory or disks, with no network round trip
    (a small read of a recently used blob then comes from the page cache in microseconds)."""
    return isinstance(store, FileSystemBlobStore | MemoryBlobStore)

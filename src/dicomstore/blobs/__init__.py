"""Immutable instance bytes: the :class:`BlobStore` seam and its implementations.

- :class:`BlobStore` (``store.py``) — the protocol every backend implements;
- :class:`FileSystemBlobStore` (``filesystem.py``) — a local folder, atomic writes by temporary
  file, fsync and rename; the embedded default;
- :class:`MemoryBlobStore` (``memory.py``) — the in-memory twin for tests and ``memory://``;
- :class:`ObjectBlobStore` (``objectstore.py``) — a Cloud Storage or S3 bucket (``gs://``,
  ``s3://``) through fsspec;
- :func:`open_blob_store` (``factory.py``) — a store from a URL; :func:`reads_locally` — whether
  a store reads without a network round trip; :func:`put_new` — a new immutable blob written
  at once, made durable when its :class:`NewBlob` is waited for (``new_blob.py``);
- :func:`validate_key` (``keys.py``) — the rules every key follows.

Azure Blob Storage comes later behind the same protocol.
"""

from dicomstore.blobs.factory import SUPPORTED_SCHEMES, open_blob_store, put_new, reads_locally
from dicomstore.blobs.filesystem import FileSystemBlobStore
from dicomstore.blobs.keys import validate_key
from dicomstore.blobs.memory import MemoryBlobStore
from dicomstore.blobs.new_blob import NewBlob
from dicomstore.blobs.objectstore import ObjectBlobStore
from dicomstore.blobs.store import BlobStore

__all__ = [
    "SUPPORTED_SCHEMES",
    "BlobStore",
    "FileSystemBlobStore",
    "MemoryBlobStore",
    "NewBlob",
    "ObjectBlobStore",
    "open_blob_store",
    "put_new",
    "reads_locally",
    "validate_key",
]

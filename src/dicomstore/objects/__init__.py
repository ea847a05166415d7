"""External object storage that ``dicomStores.import`` reads and ``dicomStores.export`` writes.

``shared/spec/store-features.md`` §6–§8: import sources ``gs://bucket/dir/**.dcm``, export
destinations ``gs://bucket/dir``, filter files ``gs://bucket/filter.txt``; ``s3://`` and
``file:///`` too.

- :class:`ObjectUri`, :func:`parse_object_uri`, :class:`ObjectPattern`,
  :func:`parse_import_pattern`, :func:`export_prefix` (``uri.py``) — URIs and import wildcards,
  pure;
- :class:`ObjectStore`, :class:`ObjectInfo` (``store.py``) — the seam: list, stream, read a
  text file, upload;
- :class:`GcsObjectStore` (``gcs.py``) — Cloud Storage through ``google-cloud-storage``
  (``STORAGE_EMULATOR_HOST`` honoured);
- :class:`FsspecObjectStore` (``fsspec_store.py``) — S3 through s3fs, and local files;
- :func:`open_object_store` (``factory.py``) — the store for a URI.
"""

from dicomstore.objects.factory import open_object_store
from dicomstore.objects.fsspec_store import FsspecObjectStore
from dicomstore.objects.gcs import GcsObjectStore
from dicomstore.objects.store import ObjectInfo, ObjectStore
from dicomstore.objects.uri import (
    SCHEMES,
    ObjectPattern,
    ObjectUri,
    export_prefix,
    parse_import_pattern,
    parse_object_uri,
)

__all__ = [
    "SCHEMES",
    "FsspecObjectStore",
    "GcsObjectStore",
    "ObjectInfo",
    "ObjectPattern",
    "ObjectStore",
    "ObjectUri",
    "export_prefix",
    "open_object_store",
    "parse_import_pattern",
    "parse_object_uri",
]

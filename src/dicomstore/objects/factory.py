"""Choosing the :class:`~dicomstore.objects.store.ObjectStore` for an import or export URI."""

from __future__ import annotations

from dicomstore.objects.fsspec_store import FsspecObjectStore
from dicomstore.objects.gcs import GcsObjectStore
from dicomstore.objects.store import ObjectStore
from dicomstore.objects.uri import ObjectUri

__all__ = ["open_object_store"]


def open_object_store(uri: ObjectUri) -> ObjectStore:
    """The store holding ``uri``: its bucket, or for ``file://`` the local filesystem.

    Nothing is contacted yet: clients are made on first use, and a missing bucket shows at
    :meth:`~dicomstore.objects.store.ObjectStore.check_bucket` or the first operation.

    Parameters
    ----------
    uri : ObjectUri
        A URI from :func:`~dicomstore.objects.uri.parse_object_uri` (or its pattern and prefix
        variants); only its scheme and bucket matter.

    Returns
    -------
    ObjectStore
        A :class:`~dicomstore.objects.gcs.GcsObjectStore` for ``gs``, a
        :class:`~dicomstore.objects.fsspec_store.FsspecObjectStore` for ``s3`` and ``file``.
    """
    if uri.scheme == "gs":
        return GcsObjectStore(uri.bucket)
    if uri.scheme in ("s3", "file"):
        return FsspecObjectStore(uri.scheme, uri.bucket)
    raise ValueError(f"unsupported object URI scheme {uri.scheme!r}")

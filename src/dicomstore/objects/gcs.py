"""``gs://`` buckets through Google's Cloud Storage client library (``google-cloud-storage``).

Import sources, export destinations and filter files (``shared/spec/store-features.md`` §6–§8).
With ``STORAGE_EMULATOR_HOST`` set (fake-gcs-server, the Cloud Storage emulator) the client talks
to the emulator anonymously, under the project ``GOOGLE_CLOUD_PROJECT`` or ``dicomstore``;
otherwise it uses Application Default Credentials (:func:`google.auth.default`).

Listing is by the literal prefix, one page of 1000 at a time; wildcard filtering is the caller's
(:class:`~dicomstore.objects.uri.ObjectPattern`), because fake-gcs-server ignores the
``matchGlob`` parameter. Reads pin the object's generation, so an object replaced during a read
yields a clean error, not a mix of two versions. Uploads above 8 MiB are resumable, in 8 MiB
pieces, so memory stays bounded whatever the file size. Library errors become the domain's in
:func:`_translated`, after the library's own retries (up to ``retry_timeout`` seconds).

The client is made on first use and shared by the threads using the store (the library's own
``transfer_manager`` shares one across threads the same way).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import google.auth
import google.cloud.storage as storage  # type: ignore[import-untyped]
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.storage.exceptions import DataCorruption  # type: ignore[import-untyped]
from google.cloud.storage.retry import DEFAULT_RETRY  # type: ignore[import-untyped]

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

__all__ = ["GcsObjectStore", "new_storage_client"]

_PAGE_SIZE = 1000
# A multiple of 256 KiB, as resumable uploads require; files up to this size go in one request.
_UPLOAD_CHUNK_SIZE = 8 << 20
_LIST_FIELDS = "items(name,size),nextPageToken"
_DEFAULT_PROJECT = "dicomstore"


def new_storage_client() -> Any:
    """A ``google.cloud.storage.Client`` for the environment (emulator or real Cloud Storage).

    Raises
    ------
    google.auth.exceptions.DefaultCredentialsError
        Outside the emulator, if no Application Default Credentials are configured.
    """
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        project = os.environ.get("GOOGLE_CLOUD_PROJECT") or _DEFAULT_PROJECT
        anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
        return storage.Client(project=project, credentials=anonymous)
    credentials, default_project = google.auth.default()
    return storage.Client(project=default_project, credentials=credentials)


class GcsObjectStore:
    """An :class:`~dicomstore.objects.store.ObjectStore` over one Cloud Storage bucket.

    Parameters
    ----------
    bucket : str
        The bucket name (already validated, see :func:`~dicomstore.objects.uri.parse_object_uri`).
    client : google.cloud.storage.Client, optional
        The client to use; by default one from :func:`new_storage_client`, made on first use.
    retry_timeout : float, default 120
        How long, in seconds, the library may retry a failing request (connection refused, 5xx,
        429) before the store gives up with Unavailable.
    """

    def __init__(self, bucket: str, *, client: Any = None, retry_timeout: float = 120.0) -> None:
        self._bucket_name = bucket
        self._client = client
        self._client_lock = threading.Lock()
        self._retry = DEFAULT_RETRY.with_timeout(retry_timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._bucket_name!r})"

    def check_bucket(self) -> None:
        """List one object: needs only ``storage.objects.list``, which both the reader
        (``objectViewer``) and writer (``objectAdmin``) roles of §7–§8 grant."""
        with self._translated(self._bucket_uri(), missing=self._no_bucket()):
            blobs = self._get_client().list_blobs(
                self._bucket_name, max_results=1, fields=_LIST_FIELDS, retry=self._retry
            )
            for _blob in blobs:
                break

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Page through ``objects.list`` by prefix; see ``ObjectStore.list``."""
        with self._translated(self._uri(prefix), missing=self._no_bucket()):
            blobs = self._get_client().list_blobs(
                self._bucket_name,
                prefix=prefix or None,
                page_size=_PAGE_SIZE,
                fields=_LIST_FIELDS,
                retry=self._retry,
            )
            for blob in blobs:
                if not blob.name.endswith("/"):
                    yield ObjectInfo(blob.name, int(blob.size or 0))

    def read_chunks(self, name: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Ranged reads of one generation; see ``ObjectStore.read_chunks``."""
        uri = self._uri(name)
        with self._translated(uri, missing=f"Object {uri} does not exist."):
            if not name or name.endswith("/"):  # a folder placeholder at most
                raise NotFound(f"Object {uri} does not exist.")
            bucket = self._bucket()
            found = bucket.get_blob(name, retry=self._retry)
            if found is None:
                raise NotFound(f"Object {uri} does not exist.")
            # Pinned to the generation just seen: a replacement meanwhile ends in Aborted, never
            # in a mix of two versions. (Not found.media_link: the emulator's may name another
            # host.)
            blob = bucket.blob(name, generation=found.generation)
        try:
            with (
                self._translated(uri, missing=uri),
                blob.open("rb", chunk_size=chunk_size, retry=self._retry) as reader,
            ):
                while chunk := reader.read(chunk_size):
                    yield chunk
        except NotFound as error:
            raise Aborted(f"Object {uri} was replaced or deleted while it was read.") from error

    def read_text(self, name: str, limit: int = DEFAULT_TEXT_LIMIT) -> str:
        """See ``ObjectStore.read_text``."""
        chunks = self.read_chunks(name, chunk_size=min(limit + 1, DEFAULT_CHUNK_SIZE))
        return decode_text(chunks, uri=self._uri(name), limit=limit)

    def write_file(self, name: str, path: Path, content_type: str) -> None:
        """A multipart upload up to 8 MiB, a resumable one in 8 MiB pieces above; see
        ``ObjectStore.write_file``.

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a file (the caller's mistake, not the destination's).
        """
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no file to upload at {path}")
        with self._translated(self._uri(name), missing=self._no_bucket()):
            blob = self._bucket().blob(name, chunk_size=_UPLOAD_CHUNK_SIZE)
            blob.upload_from_filename(os.fspath(path), content_type=content_type, retry=self._retry)

    def write_bytes(self, name: str, data: bytes, content_type: str) -> None:
        """See ``ObjectStore.write_bytes``."""
        with self._translated(self._uri(name), missing=self._no_bucket()):
            blob = self._bucket().blob(name, chunk_size=_UPLOAD_CHUNK_SIZE)
            blob.upload_from_string(data, content_type=content_type, retry=self._retry)

    def exists(self, name: str) -> bool:
        """See ``ObjectStore.exists``; false in a missing bucket."""
        if not name or name.endswith("/"):
            return False
        with self._translated(self._uri(name), missing=self._no_bucket()):
            return bool(self._bucket().blob(name).exists(retry=self._retry))

    # -- internals --------------------------------------------------------------------------

    def _get_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = new_storage_client()
            return self._client

    def _bucket(self) -> Any:
        return self._get_client().bucket(self._bucket_name)

    def _bucket_uri(self) -> str:
        return f"gs://{self._bucket_name}"

    def _uri(self, name: str) -> str:
        return f"gs://{self._bucket_name}/{name}"

    def _no_bucket(self) -> str:
        return f"Bucket {self._bucket_uri()} does not exist."

    @contextmanager
    def _translated(self, uri: str, *, missing: str) -> Iterator[None]:
        """Turn the library's exceptions into the domain's; ``missing`` is the 404 message."""
        try:
            yield
        except api_exceptions.NotFound as error:
            raise NotFound(missing) from error
        except (api_exceptions.Forbidden, api_exceptions.Unauthorized) as error:
            raise PermissionDenied(f"Access to {uri} was denied: {error.message}") from error
        except api_exceptions.PreconditionFailed as error:
            raise FailedPrecondition(f"{uri} changed during the operation; retry it.") from error
        except api_exceptions.BadRequest as error:
            raise InvalidArgument(f"Cloud Storage refused {uri}: {error.message}") from error
        except (api_exceptions.RetryError, api_exceptions.ServerError, DataCorruption) as error:
            raise Unavailable(f"Cloud Storage is unavailable for {uri}: {error}") from error
        except api_exceptions.TooManyRequests as error:
            raise Unavailable(f"Cloud Storage is rate limiting {uri}: {error.message}") from error
        except api_exceptions.GoogleAPICallError as error:
            raise Internal(f"Cloud Storage failed on {uri}: {error}") from error
        except auth_exceptions.DefaultCredentialsError as error:
            raise FailedPrecondition(
                f"No Google credentials to access {uri}: {error} "
                "(or set STORAGE_EMULATOR_HOST to use an emulator)"
            ) from error
        except auth_exceptions.RefreshError as error:
            raise PermissionDenied(f"Google credentials for {uri} were refused: {error}") from error
        except (auth_exceptions.TransportError, requests.RequestException) as error:
            raise Unavailable(f"Cloud Storage is unavailable for {uri}: {error}") from error

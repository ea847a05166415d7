"""A store of each kind, for the contract suite that every backend must pass.

The object stores run against real servers: fake-gcs-server for ``gs://`` and moto's S3 server
for ``s3://`` (session fixtures of ``tests/object_servers.py``), each test in a fresh bucket and
under a prefix, so that what lies outside the prefix is known to be left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomstore.blobs import BlobStore, FileSystemBlobStore, MemoryBlobStore, ObjectBlobStore
from tests.object_servers import GcsEmulator, S3Server

BACKENDS = ("filesystem", "memory", "gcs", "s3")


@pytest.fixture
def gcs_store(fake_gcs: GcsEmulator, tmp_path: Path) -> Iterator[ObjectBlobStore]:
    """A ``gs://`` store under a prefix of a fresh bucket on fake-gcs-server."""
    bucket = fake_gcs.create_bucket()
    store = ObjectBlobStore(f"gs://{bucket}/some/prefix", staging_dir=tmp_path / "staging")
    yield store
    store.close()


@pytest.fixture
def s3_store(s3_server: S3Server, tmp_path: Path) -> Iterator[ObjectBlobStore]:
    """An ``s3://`` store under a prefix of a fresh bucket on moto's S3 server.

    moto serves in threads of this process: the store's connections are closed at the end of
    the test, not whenever the garbage collector gets to them, lest moto's work on them show up
    in the memory another test measures with tracemalloc.
    """
    bucket = s3_server.create_bucket()
    store = ObjectBlobStore(f"s3://{bucket}/some/prefix", staging_dir=tmp_path / "staging")
    yield store
    store.close()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """Each implementation in turn; the filesystem one under ``tmp_path``."""
    if request.param == "filesystem":
        yield FileSystemBlobStore(tmp_path / "blobs")
    elif request.param == "memory":
        yield MemoryBlobStore()
    elif request.param == "gcs":
        yield request.getfixturevalue("gcs_store")
    else:
        yield request.getfixturevalue("s3_store")


@pytest.fixture(params=("gcs", "s3"))
def object_store(request: pytest.FixtureRequest) -> ObjectBlobStore:
    """Each object store in turn."""
    store: ObjectBlobStore = request.getfixturevalue(f"{request.param}_store")
    return store

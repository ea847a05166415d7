"""A store of each kind, for the contract suite that every backend must pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomstore.blobs import BlobStore, FileSystemBlobStore, MemoryBlobStore

BACKENDS = ("filesystem", "memory")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """Each implementation in turn; the filesystem one under ``tmp_path``."""
    if request.param == "filesystem":
        yield FileSystemBlobStore(tmp_path / "blobs")
    else:
        yield MemoryBlobStore()

"""open_blob_store, and the package's public surface."""

from __future__ import annotations

from pathlib import Path

import pytest

import dicomstore.blobs
from dicomstore.blobs import (
    FileSystemBlobStore,
    MemoryBlobStore,
    ObjectBlobStore,
    open_blob_store,
    reads_locally,
)


def test_file_url(tmp_path: Path) -> None:
    store = open_blob_store((tmp_path / "with space").as_uri())
    assert isinstance(store, FileSystemBlobStore)
    assert store.root == tmp_path / "with space"
    assert store.root.is_dir()


def test_file_url_on_localhost(tmp_path: Path) -> None:
    store = open_blob_store(f"file://localhost{tmp_path}/b")
    assert isinstance(store, FileSystemBlobStore)
    assert store.root == tmp_path / "b"


def test_plain_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_blob_store(str(tmp_path / "abs"))
    assert isinstance(store, FileSystemBlobStore)
    assert store.root == tmp_path / "abs"

    monkeypatch.chdir(tmp_path)
    store = open_blob_store("dicomstore-data/blobs")
    assert isinstance(store, FileSystemBlobStore)
    assert store.root == tmp_path / "dicomstore-data" / "blobs"


def test_memory_url() -> None:
    first, second = open_blob_store("memory://"), open_blob_store("MEMORY://")
    assert isinstance(first, MemoryBlobStore)
    assert isinstance(second, MemoryBlobStore)
    first.put("k", [b"x"])
    assert not second.exists("k"), "each memory:// store is a fresh one"


def test_staging_dir_is_for_object_stores_only(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "blobs"), staging_dir=tmp_path / "elsewhere")
    assert isinstance(store, FileSystemBlobStore)
    assert store.staging_dir().parent == tmp_path / "blobs", "staging stays inside the root"
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("url", ["az://container", "https://example.com/x", "gcs://bucket"])
def test_other_schemes_are_refused_naming_the_supported_ones(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported") as raised:
        open_blob_store(url)
    for scheme in ("file://", "memory://", "gs://", "s3://"):
        assert scheme in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "file://remote-host/x",
        "file://",
        "memory://name",
        "gs://",
        "s3://",
        "gs://Upper/x",
        "s3://bucket/a/../b",
        "s3://bucket/x?region=eu",
        "gs://bucket#x",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        open_blob_store(url)


def test_public_surface() -> None:
    assert set(dicomstore.blobs.__all__) == {
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
    }
    assert len(dicomstore.blobs.__all__) == len(set(dicomstore.blobs.__all__))
    for name in dicomstore.blobs.__all__:
        assert getattr(dicomstore.blobs, name) is not None


def test_reads_locally(tmp_path: Path) -> None:
    assert reads_locally(open_blob_store(str(tmp_path)))
    assert reads_locally(open_blob_store("memory://"))
    assert not reads_locally(object.__new__(ObjectBlobStore))  # a bucket: a network round trip

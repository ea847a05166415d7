"""ObjectBlobStore beyond the shared contract: URLs, start-up checks, big blobs, lazy listing,
readers pinned to a version, and how storage errors surface. Runs on fake-gcs-server and moto."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicomstore.blobs import ObjectBlobStore, open_blob_store
from dicomstore.blobs import objectstore as objectstore_module
from dicomstore.blobs.objectstore import ObjectLocation, parse_object_url
from dicomstore.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.object_servers import GcsEmulator, S3Server

pytestmark = pytest.mark.filterwarnings(
    "ignore:Sending a large body directly with raw bytes:ResourceWarning"
)

MIB = 1024 * 1024


def raw_put(store: ObjectBlobStore, name: str, data: bytes) -> None:
    """Write an object as some other program would, bypassing the store."""
    store._backend.fs.pipe_file(f"{store.location.bucket}/{name}", data)


def raw_names(store: ObjectBlobStore) -> list[str]:
    bucket = store.location.bucket
    return sorted(name.removeprefix(f"{bucket}/") for name in store._backend.fs.find(bucket))


def bucket_of(store: ObjectBlobStore) -> str:
    return f"{store.location.scheme}://{store.location.bucket}"


# -- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("gs://bucket", ObjectLocation("gs", "bucket", "")),
        ("gs://bucket/", ObjectLocation("gs", "bucket", "")),
        ("GS://my_bucket.example/a/b/", ObjectLocation("gs", "my_bucket.example", "a/b")),
        ("s3://bucket-1/dicom", ObjectLocation("s3", "bucket-1", "dicom")),
        ("s3://b.c.d//x/", ObjectLocation("s3", "b.c.d", "x")),
    ],
)
def test_parse_object_url(url: str, expected: ObjectLocation) -> None:
    assert parse_object_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("gs://", "no bucket"),
        ("s3:///prefix", "no bucket"),
        ("gs:bucket/prefix", "no bucket"),
        ("gs://Bucket/p", "not a valid bucket name"),
        ("s3://under_score", "not a valid bucket name"),
        ("s3://ab", "not a valid bucket name"),
        ("gs://user@bucket/p", "not a valid bucket name"),
        ("s3://bucket:9000/p", "not a valid bucket name"),
        ("gs://bucket/p?x=1", "no query or fragment"),
        ("s3://bucket/p#frag", "no query or fragment"),
        ("gs://bucket/a/../b", "invalid prefix"),
        ("gs://bucket/a/.dicomstore-x", "invalid prefix"),
        ("az://container", "expected gs://"),
    ],
)
def test_bad_object_urls(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_object_url(url)


def test_location_url_is_normalised() -> None:
    assert ObjectLocation("gs", "b", "").url == "gs://b"
    assert ObjectLocation("s3", "b", "x/y").url == "s3://b/x/y"
    assert ObjectLocation("s3", "b", "x/y").object_name("k/1") == "x/y/k/1"
    assert ObjectLocation("s3", "b", "").object_name("k/1") == "k/1"


def test_block_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="block_size"):
        ObjectBlobStore("gs://bucket", block_size=0)


# -- endpoints and start-up -----------------------------------------------------------------


def test_s3_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://generic:1")
    assert objectstore_module._s3_endpoint() == "http://generic:1"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:2")
    assert objectstore_module._s3_endpoint() == "http://s3-only:2"
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert objectstore_module._s3_endpoint() is None


def test_gcs_emulator_host_may_omit_the_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "localhost:4443")
    assert objectstore_module._gcs_emulator() == "http://localhost:4443"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "https://emulator:4443/")
    assert objectstore_module._gcs_emulator() == "https://emulator:4443"
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    assert objectstore_module._gcs_emulator() is None


@pytest.mark.parametrize("scheme", ["gs", "s3"])
def test_a_missing_bucket_is_a_clear_startup_error(
    scheme: str, fake_gcs: GcsEmulator, s3_server: S3Server
) -> None:
    with pytest.raises(FileNotFoundError, match="the bucket 'no-such-bucket' does not exist"):
        ObjectBlobStore(f"{scheme}://no-such-bucket/prefix")
    with pytest.raises(OSError, match="does not exist") as raised:
        open_blob_store(f"{scheme}://no-such-bucket")
    assert "127.0.0.1" in str(raised.value), "the message says which endpoint was asked"


def test_factory_opens_object_stores(
    fake_gcs: GcsEmulator, s3_server: S3Server, tmp_path: Path
) -> None:
    gcs = open_blob_store(f"gs://{fake_gcs.create_bucket()}/p/", staging_dir=tmp_path / "g")
    s3 = open_blob_store(f"S3://{s3_server.create_bucket()}", staging_dir=tmp_path / "s")
    assert isinstance(gcs, ObjectBlobStore)
    assert isinstance(s3, ObjectBlobStore)
    with contextlib.closing(gcs), contextlib.closing(s3):
        assert gcs.url.endswith("/p")
        assert gcs.staging_dir() == tmp_path / "g"
        assert s3.staging_dir() == tmp_path / "s"
        assert (tmp_path / "g").is_dir(), "the staging folder is created at once"
        assert repr(gcs) == f"ObjectBlobStore({gcs.url!r})"


def test_without_a_staging_folder_a_private_one_is_made(s3_server: S3Server) -> None:
    store = ObjectBlobStore(f"s3://{s3_server.create_bucket()}")
    staging = store.staging_dir()
    assert staging.is_dir()
    assert store.staging_dir() == staging
    store.close()
    del store
    assert not staging.exists()


# -- the prefix -----------------------------------------------------------------------------


def test_keys_live_under_the_prefix(object_store: ObjectBlobStore) -> None:
    raw_put(object_store, "outside/the/prefix", b"not ours")
    raw_put(object_store, "some/prefixed-sibling", b"not ours")
    object_store.put("a/b", [b"x"])
    assert "some/prefix/a/b" in raw_names(object_store)
    assert list(object_store.keys()) == ["a/b"]
    object_store.delete("a/b")
    assert raw_names(object_store) == ["outside/the/prefix", "some/prefixed-sibling"]


def test_foreign_object_names_are_not_listed(object_store: ObjectBlobStore) -> None:
    raw_put(object_store, "some/prefix/.dicomstore-tmp-1", b"x")
    raw_put(object_store, "some/prefix/a//double", b"x")
    raw_put(object_store, "some/prefix/b/../c", b"x")
    object_store.put("a/real", [b"x"])
    assert list(object_store.keys()) == ["a/real"]


def test_a_store_over_the_whole_bucket(object_store: ObjectBlobStore) -> None:
    with contextlib.closing(ObjectBlobStore(bucket_of(object_store))) as whole:
        object_store.put("k", [b"in the prefix"])
        whole.put("top", [b"at the root"])
        assert list(whole.keys()) == ["some/prefix/k", "top"]
        assert whole.read_range("some/prefix/k", 3, 3) == b"the"
        with pytest.raises(FailedPrecondition, match="parent"):
            whole.put("some/prefix", [b"a parent of a blob"])


# -- big blobs ------------------------------------------------------------------------------


def test_large_put_file_and_range_reads(object_store: ObjectBlobStore) -> None:
    size = 21 * MIB + 12345  # three upload parts, the last one short
    data = os.urandom(size)
    staged = object_store.staging_dir() / "upload"
    staged.write_bytes(data)

    assert object_store.put_file("big/instance", staged) == size
    assert not staged.exists()
    assert object_store.size("big/instance") == size

    part = 8 * MIB
    for offset, length in [(0, 132), (part - 10, 20), (2 * part - 1, 2), (size - 7, 7),
                           (5 * MIB, 9 * MIB), (0, size)]:  # fmt: skip
        assert (
            object_store.read_range("big/instance", offset, length)
            == data[offset : offset + length]
        )

    with object_store.open("big/instance") as file:
        assert file.seekable()
        assert file.read(10) == data[:10]
        file.seek(part - 3)
        assert file.read(6) == data[part - 3 : part + 3]
        file.seek(-5, io.SEEK_END)
        assert file.read() == data[-5:]
        assert file.read() == b""
        file.seek(4 * MIB + 1)
        assert file.tell() == 4 * MIB + 1
        digest = hashlib.sha256(data[: 4 * MIB + 1])
        while piece := file.read(3 * MIB):
            digest.update(piece)
    assert digest.digest() == hashlib.sha256(data).digest()


def _memory_peak(action: Any) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_put_and_put_file_hold_a_few_parts_not_the_blob(
    gcs_store: ObjectBlobStore, tmp_path: Path
) -> None:
    # fake-gcs-server is another process, so what tracemalloc sees is the store's alone.
    size = 96 * MIB
    chunk = os.urandom(64 * 1024)

    def chunks() -> Iterator[bytes]:
        for _ in range(size // len(chunk)):
            yield chunk

    peak = _memory_peak(lambda: gcs_store.put("streamed", chunks()))
    assert gcs_store.size("streamed") == size
    assert peak < size // 3, f"put held {peak} bytes for a {size}-byte blob"

    staged = tmp_path / "staged"
    with staged.open("wb") as file:
        for piece in chunks():
            file.write(piece)
    peak = _memory_peak(lambda: gcs_store.put_file("from-file", staged))
    assert gcs_store.size("from-file") == size
    assert peak < size // 3, f"put_file held {peak} bytes for a {size}-byte file"


def test_s3_uploads_go_in_parts(
    s3_store: ObjectBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto runs in this process and keeps the parts in memory, so count request bodies instead.
    bodies: list[int] = []
    fs = s3_store._backend.fs
    call_async, call_sync = fs._call_s3, fs.call_s3

    def record(kwargs: dict[str, Any]) -> None:
        if "Body" in kwargs:
            bodies.append(memoryview(kwargs["Body"]).nbytes)

    async def recording_async(method: str, *args: Any, **kwargs: Any) -> Any:
        record(kwargs)
        return await call_async(method, *args, **kwargs)

    def recording_sync(method: str, *args: Any, **kwargs: Any) -> Any:
        record(kwargs)
        return call_sync(method, *args, **kwargs)

    monkeypatch.setattr(fs, "_call_s3", recording_async)
    monkeypatch.setattr(fs, "call_s3", recording_sync)
    size = 40 * MIB
    chunk = os.urandom(64 * 1024)
    s3_store.put("streamed", (chunk for _ in range(size // len(chunk))))
    assert s3_store.size("streamed") == size
    assert len(bodies) >= 4
    assert max(bodies) <= 8 * MIB + len(chunk)

    bodies.clear()
    staged = tmp_path / "staged"
    staged.write_bytes(chunk * (size // len(chunk)))
    s3_store.put_file("from-file", staged)
    assert s3_store.size("from-file") == size
    assert bodies == [8 * MIB] * 5


def test_a_failed_large_put_leaves_no_upload_behind(object_store: ObjectBlobStore) -> None:
    def broken() -> Iterator[bytes]:
        for _ in range(20):
            yield b"z" * MIB
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        object_store.put("k", broken())
    assert not object_store.exists("k")
    assert list(object_store.keys()) == []
    if object_store.location.scheme == "s3":
        uploads = object_store._backend.fs.call_s3(
            "list_multipart_uploads", Bucket=object_store.location.bucket
        )
        assert not uploads.get("Uploads"), "the multipart upload was aborted"


# -- reading a DICOM instance ---------------------------------------------------------------


def test_pydicom_reads_an_instance_from_open(object_store: ObjectBlobStore) -> None:
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    original = pydicom.dcmread(path)
    object_store.put_file("ct", _copy(Path(path), object_store.staging_dir() / "ct"))

    with object_store.open("ct") as file:
        header = pydicom.dcmread(file, stop_before_pixels=True)
        assert header.SOPInstanceUID == original.SOPInstanceUID
        file.seek(0)
        full = pydicom.dcmread(file)
    assert full.PixelData == original.PixelData


def _copy(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


# -- readers see one version ----------------------------------------------------------------


@pytest.fixture
def small_blocks(object_store: ObjectBlobStore) -> Iterator[ObjectBlobStore]:
    """The same bucket and prefix, read in 1 KiB blocks."""
    with contextlib.closing(ObjectBlobStore(object_store.url, block_size=1024)) as store:
        yield store


def test_a_reader_past_its_first_block_refuses_a_replaced_blob(
    small_blocks: ObjectBlobStore,
) -> None:
    small_blocks.put("k", [b"a" * 4096])
    with small_blocks.open("k") as file:
        small_blocks.put("k", [b"b" * 4096])
        assert file.read(1024) == b"a" * 1024, "the first block was read at open"
        with pytest.raises(NotFound, match="replaced or deleted while being read"):
            file.read(1)


def test_a_reader_past_its_first_block_refuses_a_deleted_blob(
    small_blocks: ObjectBlobStore,
) -> None:
    small_blocks.put("k", [b"a" * 4096])
    with small_blocks.open("k") as file:
        small_blocks.delete("k")
        file.seek(2048)
        with pytest.raises(NotFound, match="while being read"):
            file.read()


def test_reads_in_blocks(small_blocks: ObjectBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes(range(256)) * 20  # 5120 bytes: five blocks
    small_blocks.put("k", [data])
    fetched: list[tuple[int, int]] = []
    fetch = small_blocks._backend.fetch

    async def counting(name: str, start: int, end: int, version: str | None) -> bytes:
        fetched.append((start, end))
        return await fetch(name, start, end, version)

    monkeypatch.setattr(small_blocks._backend, "fetch", counting)
    with small_blocks.open("k") as file:
        assert fetched == [(0, 1024)]
        assert file.read(100) + file.read(900) == data[:1000]
        assert fetched == [(0, 1024)], "reads inside the first block cost nothing"
        assert file.read(50) == data[1000:1050]
        assert fetched[-1] == (1024, 2048)
        assert file.read(3000) == data[1050:4050]
        assert fetched[-1] == (2048, 4050), "a read of a block or more is one request"
        file.seek(5119)
        assert file.read(10) == data[-1:]
        assert file.read(10) == b""
    with pytest.raises(ValueError, match="closed"):
        file.read()


def test_an_empty_blob_opens_without_a_range_request(object_store: ObjectBlobStore) -> None:
    object_store.put("empty", [])
    with object_store.open("empty") as file:
        assert file.read() == b""
        assert file.seek(0, io.SEEK_END) == 0


# -- lazy listing ---------------------------------------------------------------------------


def test_keys_fetches_one_page_at_a_time(
    object_store: ObjectBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [f"series/{n:02}" for n in range(7)]
    for key in keys:
        raw_put(object_store, f"some/prefix/{key}", b".")
    monkeypatch.setattr(objectstore_module, "_PAGE_SIZE", 3)
    pages: list[str | None] = []
    list_names = object_store._backend.list_names

    async def counting(prefix: str, token: str | None, limit: int) -> tuple[list[str], str | None]:
        pages.append(token)
        return await list_names(prefix, token, limit)

    monkeypatch.setattr(object_store._backend, "list_names", counting)
    listing = object_store.keys("series/")
    assert pages == [], "nothing is listed before the first key is asked for"
    assert next(listing) == keys[0]
    assert len(pages) == 1
    assert [next(listing), next(listing)] == keys[1:3]
    assert len(pages) == 1
    assert next(listing) == keys[3]
    assert len(pages) == 2
    assert list(listing) == keys[4:]
    assert len(pages) == 3


# -- errors ---------------------------------------------------------------------------------


def test_storage_faults_are_os_errors_naming_the_store_and_key(
    object_store: ObjectBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ServerError(Exception):
        pass

    async def failing(*args: Any) -> Any:
        raise ServerError("503 Service Unavailable\nmore detail")

    monkeypatch.setattr(object_store._backend, "stat", failing)
    with pytest.raises(OSError, match="ServerError: 503 Service Unavailable") as raised:
        object_store.size("a/b")
    assert isinstance(raised.value.__cause__, ServerError)
    assert f"blob 'a/b' in the store at {object_store.url}" in "".join(
        getattr(raised.value, "__notes__", [])
    )

    async def denied(*args: Any) -> Any:
        raise PermissionError("Access Denied")

    monkeypatch.setattr(object_store._backend, "fetch", denied)
    with pytest.raises(PermissionError, match="Access Denied") as raised_permission:
        object_store.read_range("a/b", 0, 1)
    assert "inspecting" not in str(raised_permission.value)


def test_a_bucket_deleted_under_the_store(object_store: ObjectBlobStore) -> None:
    object_store.put("k", [b"x"])
    object_store.delete("k")
    bucket = object_store.location.bucket
    object_store._backend.fs.rmdir(bucket)
    assert not object_store.exists("k")
    with pytest.raises(NotFound):
        object_store.open("k")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        object_store.check()


def test_s3_refuses_keys_that_s3fs_would_cut(s3_store: ObjectBlobStore) -> None:
    with pytest.raises(InvalidArgument, match="versionId"):
        s3_store.put("a?versionId=1", [b"x"])


def test_gcs_forbidden_is_a_permission_error(
    gcs_store: ObjectBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise OSError("Forbidden: b/bucket/o\ncaller does not have storage.objects.get access")

    monkeypatch.setattr(gcs_store._backend.fs, "_call", forbidden)
    with pytest.raises(PermissionError, match="Forbidden: b/bucket/o"):
        gcs_store.size("k")
    with pytest.raises(PermissionError, match="not allowed to list the bucket"):
        gcs_store.check()


def test_close_releases_connections_and_the_store_still_works(
    object_store: ObjectBlobStore,
) -> None:
    object_store.put("k", [b"before"])
    object_store.close()
    object_store.close()
    assert object_store.read_range("k", 0, 6) == b"before"
    object_store.put("k", [b"after"])
    assert object_store.size("k") == 5

"""The ObjectStore contract, run against Cloud Storage (fake-gcs-server), S3 (moto) and local files.

Each test gets a fresh bucket (or, for files, a fresh folder under ``tmp_path``) and names its
objects through :meth:`Backend.name`, so one test body serves the three backends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import GeneratorType
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from dicomstore.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from dicomstore.objects import (
    FsspecObjectStore,
    GcsObjectStore,
    ObjectInfo,
    ObjectStore,
    ObjectUri,
    fsspec_store,
    open_object_store,
    parse_object_uri,
)
from dicomstore.objects.fsspec_store import TEMPORARY_PREFIX, new_s3_filesystem
from tests.object_servers import GcsEmulator, S3Server, new_bucket_name
from tests.processes import free_port

BACKENDS = ("gs", "s3", "file")
MiB = 1 << 20


@dataclass
class Backend:
    kind: str
    store: ObjectStore
    root: ObjectUri  # the bucket, or the test's folder
    server_url: str = ""

    def name(self, relative: str) -> str:
        """The object name of ``relative`` inside this test's bucket or folder (``""``: the
        prefix of them all)."""
        if not relative:
            return self.root.name + "/" if self.root.name else ""
        return self.root.child(relative).name

    def content_type(self, name: str) -> str | None:
        """The stored Content-Type of an object (None for local files, which keep none)."""
        if self.kind == "gs":
            url = f"{self.server_url}/storage/v1/b/{self.root.bucket}/o/{quote(name, safe='')}"
            response = httpx.get(url, timeout=10)
            response.raise_for_status()
            return str(response.json()["contentType"])
        if self.kind == "s3":
            head = new_s3_filesystem().call_s3("head_object", Bucket=self.root.bucket, Key=name)
            return str(head["ContentType"])
        return None


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A fresh bucket on each object storage, or a fresh local folder."""
    if request.param == "gs":
        emulator: GcsEmulator = request.getfixturevalue("fake_gcs")
        root = parse_object_uri(f"gs://{emulator.create_bucket()}", field="test")
        return Backend("gs", open_object_store(root), root, emulator.url)
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        root = parse_object_uri(f"s3://{server.create_bucket()}", field="test")
        return Backend("s3", open_object_store(root), root, server.url)
    root = parse_object_uri((tmp_path / "objects").as_uri(), field="test")
    return Backend("file", open_object_store(root), root)


def read_all(store: ObjectStore, name: str) -> bytes:
    return b"".join(store.read_chunks(name))


def write_many(backend: Backend, names: list[str], data: bytes = b"x") -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda name: backend.store.write_bytes(name, data, "text/plain"), names))


def test_implements_the_protocol(backend: Backend) -> None:
    assert isinstance(backend.store, ObjectStore)
    expected = GcsObjectStore if backend.kind == "gs" else FsspecObjectStore
    assert isinstance(backend.store, expected)


def test_check_bucket(backend: Backend) -> None:
    backend.store.check_bucket()


# -- write, read, exists -----------------------------------------------------------------------


def test_write_bytes_then_read(backend: Backend) -> None:
    name = backend.name("1.2/3.4/5.6.dcm")
    assert not backend.store.exists(name)
    backend.store.write_bytes(name, b"DICM-payload", "application/dicom")
    assert backend.store.exists(name)
    assert read_all(backend.store, name) == b"DICM-payload"
    if backend.kind != "file":
        assert backend.content_type(name) == "application/dicom"


def test_write_bytes_overwrites(backend: Backend) -> None:
    name = backend.name("x.dcm")
    backend.store.write_bytes(name, b"a much longer first version", "application/dicom")
    backend.store.write_bytes(name, b"short", "application/dicom")
    assert read_all(backend.store, name) == b"short"
    assert list(backend.store.list(backend.name(""))) == [ObjectInfo(name, 5)]


def test_empty_object(backend: Backend) -> None:
    name = backend.name("empty")
    backend.store.write_bytes(name, b"", "application/octet-stream")
    assert backend.store.exists(name)
    assert list(backend.store.read_chunks(name)) == []
    assert list(backend.store.list(backend.name(""))) == [ObjectInfo(name, 0)]


def test_read_chunks_streams_a_multi_mib_object(backend: Backend) -> None:
    data = os.urandom(3 * MiB + 12345)
    name = backend.name("big.bin")
    backend.store.write_bytes(name, data, "application/octet-stream")
    chunks = backend.store.read_chunks(name, chunk_size=MiB)
    assert isinstance(chunks, GeneratorType)
    pieces = list(chunks)
    assert [len(piece) for piece in pieces] == [MiB, MiB, MiB, 12345]
    assert b"".join(pieces) == data
    assert read_all(backend.store, name) == data  # the default chunk size


def test_a_read_never_mixes_two_versions(backend: Backend) -> None:
    name = backend.name("x.dcm")
    backend.store.write_bytes(name, b"A" * 30, "application/dicom")
    reader = backend.store.read_chunks(name, chunk_size=10)
    assert next(reader) == b"A" * 10
    backend.store.write_bytes(name, b"B" * 30, "application/dicom")
    if backend.kind == "file":
        assert b"".join(reader) == b"A" * 20  # the open file is the old one
    else:
        with pytest.raises(Aborted, match=r"was replaced or deleted while it was read"):
            list(reader)
    assert read_all(backend.store, name) == b"B" * 30


def test_write_file_streams_and_overwrites(backend: Backend, tmp_path: Path) -> None:
    # 20 MiB: above the one-request limit of both Cloud Storage (8 MiB) and S3 (16 MiB) uploads.
    big = tmp_path / "big.dcm"
    data = os.urandom(20 * MiB + 3)
    big.write_bytes(data)
    name = backend.name("out/big.dcm")
    backend.store.write_file(name, big, "application/dicom")
    assert big.read_bytes() == data  # the local file is left alone
    assert b"".join(backend.store.read_chunks(name, chunk_size=8 * MiB)) == data
    if backend.kind != "file":
        assert backend.content_type(name) == "application/dicom"

    small = tmp_path / "small.png"
    small.write_bytes(b"\x89PNG")
    backend.store.write_file(name, small, "image/png")
    assert read_all(backend.store, name) == b"\x89PNG"
    assert list(backend.store.list(backend.name("out/"))) == [ObjectInfo(name, 4)]
    if backend.kind != "file":
        assert backend.content_type(name) == "image/png"


def test_write_file_of_a_missing_local_file(backend: Backend, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        backend.store.write_file(backend.name("x"), tmp_path / "absent", "application/dicom")
    assert not backend.store.exists(backend.name("x"))


def test_parallel_reads_and_writes_on_one_store(backend: Backend) -> None:
    names = [backend.name(f"p/{index}.dcm") for index in range(12)]

    def round_trip(name: str) -> bytes:
        backend.store.write_bytes(name, name.encode() * 1000, "application/dicom")
        return read_all(backend.store, name)

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(round_trip, names)) == [name.encode() * 1000 for name in names]


# -- read_text ---------------------------------------------------------------------------------


def test_read_text(backend: Backend) -> None:
    name = backend.name("filter.txt")
    text = "/studies/1.2.3\r\n/studies/1.2.4/series/5.6\n/studies/é\n"
    backend.store.write_bytes(name, text.encode(), "text/plain")
    assert backend.store.read_text(name) == text


def test_read_text_drops_a_byte_order_mark(backend: Backend) -> None:
    name = backend.name("bom.txt")
    backend.store.write_bytes(name, b"\xef\xbb\xbf/studies/1", "text/plain")
    assert backend.store.read_text(name) == "/studies/1"


def test_read_text_limit(backend: Backend) -> None:
    name = backend.name("filter.txt")
    backend.store.write_bytes(name, b"x" * 100, "text/plain")
    assert backend.store.read_text(name, limit=100) == "x" * 100
    with pytest.raises(InvalidArgument, match="larger than the 99-byte limit") as raised:
        backend.store.read_text(name, limit=99)
    assert str(backend.root.child("filter.txt")) in raised.value.message


def test_read_text_refuses_binary(backend: Backend) -> None:
    name = backend.name("binary")
    backend.store.write_bytes(name, b"ok\xff\xfe", "application/octet-stream")
    with pytest.raises(InvalidArgument, match="is not UTF-8 text"):
        backend.store.read_text(name)


# -- missing objects and buckets ---------------------------------------------------------------


def test_missing_object(backend: Backend) -> None:
    name = backend.name("absent.dcm")
    uri = str(backend.root.child("absent.dcm"))
    assert not backend.store.exists(name)
    with pytest.raises(NotFound) as raised:
        list(backend.store.read_chunks(name))
    assert raised.value.message == f"Object {uri} does not exist."
    with pytest.raises(NotFound, match="does not exist"):
        backend.store.read_text(name)


def test_a_folder_is_not_an_object(backend: Backend) -> None:
    backend.store.write_bytes(backend.name("dir/x"), b"x", "text/plain")
    for name in (backend.name("dir"), backend.name("dir/")):
        assert not backend.store.exists(name)
        with pytest.raises(NotFound):
            list(backend.store.read_chunks(name))


@pytest.mark.parametrize("kind", ["gs", "s3"])
def test_missing_bucket(kind: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("fake_gcs" if kind == "gs" else "s3_server")
    bucket = new_bucket_name()
    store = open_object_store(parse_object_uri(f"{kind}://{bucket}/", field="test"))
    message = f"Bucket {kind}://{bucket} does not exist."
    with pytest.raises(NotFound) as raised:
        store.check_bucket()
    assert raised.value.message == message
    with pytest.raises(NotFound) as raised:
        next(store.list("dir/"))
    assert raised.value.message == message
    with pytest.raises(NotFound) as raised:
        store.write_bytes("x.dcm", b"x", "application/dicom")
    assert raised.value.message == message
    with pytest.raises(NotFound):
        list(store.read_chunks("x.dcm"))
    assert not store.exists("x.dcm")


def test_unreachable_cloud_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    store = GcsObjectStore("bucket", retry_timeout=0.5)
    with pytest.raises(Unavailable, match=r"Cloud Storage is unavailable for gs://bucket"):
        store.check_bucket()
    with pytest.raises(Unavailable):
        list(store.read_chunks("x"))


def test_no_google_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    store = GcsObjectStore("bucket")
    with pytest.raises(FailedPrecondition, match=r"^No Google credentials to access gs://bucket"):
        store.check_bucket()


def test_no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = FsspecObjectStore("s3", "bucket")
    with pytest.raises(FailedPrecondition, match=r"^No AWS credentials to access s3://bucket/"):
        store.check_bucket()


def test_unreachable_s3() -> None:
    filesystem = new_s3_filesystem(
        client_kwargs={"endpoint_url": f"http://127.0.0.1:{free_port()}"},
        config_kwargs={"retries": {"max_attempts": 1}},
        key="testing",
        secret="testing",
    )
    store = FsspecObjectStore("s3", "bucket", filesystem=filesystem)
    with pytest.raises(Unavailable, match=r"S3 is unavailable for s3://bucket/"):
        store.check_bucket()
    with pytest.raises(Unavailable):
        store.write_bytes("x", b"x", "text/plain")


# -- list --------------------------------------------------------------------------------------


def test_list_in_name_order_by_prefix(backend: Backend) -> None:
    relative = ["b", "a/c/d", "ab", "a-c", "a/b", "A", "é", "a/b2", "z/y/x/w"]
    write_many(backend, [backend.name(name) for name in relative])
    every = [backend.name(name) for name in sorted(relative)]
    assert every[:3] == [backend.name("A"), backend.name("a-c"), backend.name("a/b")]
    listed = list(backend.store.list(backend.name("")))
    assert listed == [ObjectInfo(name, 1) for name in every]
    assert [info.name for info in backend.store.list(backend.name("a/"))] == [
        backend.name("a/b"),
        backend.name("a/b2"),
        backend.name("a/c/d"),
    ]
    assert [info.name for info in backend.store.list(backend.name("a"))] == [
        backend.name(name) for name in ("a-c", "a/b", "a/b2", "a/c/d", "ab")
    ]
    assert [info.name for info in backend.store.list(backend.name("a/b"))] == [
        backend.name("a/b"),
        backend.name("a/b2"),
    ]
    assert list(backend.store.list(backend.name("nothing/"))) == []
    assert list(backend.store.list(backend.name("a/b/"))) == []


def test_list_skips_folder_placeholders(backend: Backend) -> None:
    if backend.kind == "file":
        (Path("/" + backend.name("empty-folder"))).mkdir(parents=True)
    else:
        backend.store.write_bytes(backend.name("empty-folder/"), b"", "text/plain")
    backend.store.write_bytes(backend.name("x"), b"x", "text/plain")
    assert list(backend.store.list(backend.name(""))) == [ObjectInfo(backend.name("x"), 1)]


def test_list_is_lazy_and_complete_past_one_page(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    page_size = 1000
    if backend.kind == "s3":
        # moto takes ~9 ms a PUT: 1100 objects would cost 10 s. Pages of 100 show the same paging.
        assert page_size == fsspec_store._PAGE_SIZE
        page_size = 100
        monkeypatch.setattr(fsspec_store, "_PAGE_SIZE", page_size)
    names = [backend.name(f"many/{index:05d}.dcm") for index in range(page_size * 11 // 10)]
    write_many(backend, names)
    pages = _count_pages(backend, monkeypatch, page_size)

    listing = backend.store.list(backend.name("many/"))
    assert isinstance(listing, GeneratorType)
    assert pages() == 0  # nothing is fetched before the first next()
    assert next(listing) == ObjectInfo(names[0], 1)
    if backend.kind != "file":
        assert pages() == 1
    rest = list(listing)
    assert [info.name for info in rest] == names[1:]
    if backend.kind != "file":
        assert pages() == 2


def _count_pages(backend: Backend, monkeypatch: pytest.MonkeyPatch, page_size: int) -> Any:
    """A function telling how many listing pages the backend has fetched from now on."""
    store: Any = backend.store
    if backend.kind == "gs":
        iterators: list[Any] = []
        client = store._get_client()
        original_list_blobs = client.list_blobs

        def list_blobs(*args: Any, **kwargs: Any) -> Any:
            assert kwargs["page_size"] == page_size
            iterator = original_list_blobs(*args, **kwargs)
            iterators.append(iterator)
            return iterator

        monkeypatch.setattr(client, "list_blobs", list_blobs)
        return lambda: sum(iterator.page_number for iterator in iterators)
    if backend.kind == "s3":
        filesystem = store._filesystem()
        calls: list[str] = []
        original_call_s3 = filesystem.call_s3

        def call_s3(method: str, *args: Any, **kwargs: Any) -> Any:
            if method == "list_objects_v2":
                assert kwargs["MaxKeys"] == page_size
                calls.append(method)
            return original_call_s3(method, *args, **kwargs)

        monkeypatch.setattr(filesystem, "call_s3", call_s3)
        return lambda: len(calls)
    return lambda: 0


# -- local files -------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[FsspecObjectStore, Path]]:
    yield FsspecObjectStore("file"), tmp_path


def test_local_names_are_absolute_paths(local: tuple[FsspecObjectStore, Path]) -> None:
    store, folder = local
    (folder / "a.dcm").write_bytes(b"abc")
    name = str(folder / "a.dcm").removeprefix("/")
    assert store.exists(name)
    assert read_all(store, name) == b"abc"
    assert list(store.list(str(folder).removeprefix("/") + "/")) == [ObjectInfo(name, 3)]


def test_local_writes_create_folders_and_leave_no_temporary_files(
    local: tuple[FsspecObjectStore, Path],
) -> None:
    store, folder = local
    store.write_bytes(str(folder / "x/y/z.dcm").removeprefix("/"), b"z", "application/dicom")
    assert (folder / "x/y/z.dcm").read_bytes() == b"z"
    assert [path.name for path in (folder / "x/y").iterdir()] == ["z.dcm"]


def test_local_write_where_a_folder_is(local: tuple[FsspecObjectStore, Path]) -> None:
    store, folder = local
    (folder / "taken").mkdir()
    with pytest.raises(FailedPrecondition, match=r"Cannot write file:///.*/taken"):
        store.write_bytes(str(folder / "taken").removeprefix("/"), b"x", "text/plain")
    (folder / "file").write_bytes(b"x")
    with pytest.raises(FailedPrecondition, match="Cannot write"):
        store.write_bytes(str(folder / "file/below").removeprefix("/"), b"x", "text/plain")
    assert not [path for path in folder.rglob("*") if path.name.startswith(TEMPORARY_PREFIX)]


def test_local_listing_follows_file_links_not_folder_links(
    local: tuple[FsspecObjectStore, Path],
) -> None:
    store, folder = local
    (folder / "real").mkdir()
    (folder / "real/a").write_bytes(b"a")
    (folder / "file-link").symlink_to(folder / "real/a")
    (folder / "folder-link").symlink_to(folder / "real")
    (folder / "loop").symlink_to(folder)
    base = str(folder).removeprefix("/") + "/"
    assert [info.name for info in store.list(base)] == [base + "file-link", base + "real/a"]


def test_local_listing_of_a_missing_folder_is_empty(local: tuple[FsspecObjectStore, Path]) -> None:
    store, folder = local
    assert list(store.list(str(folder / "absent/deeper/").removeprefix("/") + "/")) == []


def test_open_object_store_makes_nothing_yet() -> None:
    # No client, no connection: a bucket that cannot exist is only found out on first use.
    for text in ("gs://no-such-bucket-here/x", "s3://no-such-bucket-here/x"):
        open_object_store(parse_object_uri(text, field="test"))

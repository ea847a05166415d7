"""The BlobStore contract, run against every implementation (see ``conftest.py``)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dicomstore.blobs import BlobStore, FileSystemBlobStore, put_new
from dicomstore.errors import FailedPrecondition, InvalidArgument, NotFound, OutOfRange

# gcsfs hands aiohttp each upload part (8 MiB) as bytes, which aiohttp flags with a
# ResourceWarning (ignored by default outside tests); the copy is harmless on gcsfs's own loop.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Sending a large body directly with raw bytes:ResourceWarning"
)

KEY = "stores/s1/1.2.840.113619/1.2.840.113619.2/1.2.840.113619.2.3"


def read_all(store: BlobStore, key: str) -> bytes:
    with store.open(key) as file:
        return file.read()


def test_implements_the_protocol(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)


# -- put, open, size, exists ----------------------------------------------------------------


def test_put_then_read_back(store: BlobStore) -> None:
    assert store.put(KEY, [b"DICM", b"", b"-payload"]) == 12
    assert store.exists(KEY)
    assert store.size(KEY) == 12
    assert read_all(store, KEY) == b"DICM-payload"


def test_open_streams_in_pieces(store: BlobStore) -> None:
    store.put(KEY, [b"0123456789"])
    with store.open(KEY) as file:
        assert file.read(4) == b"0123"
        assert file.read(4) == b"4567"
        assert file.read() == b"89"
        assert file.read() == b""


def test_empty_blob(store: BlobStore) -> None:
    assert store.put(KEY, []) == 0
    assert store.exists(KEY)
    assert store.size(KEY) == 0
    assert read_all(store, KEY) == b""
    assert store.read_range(KEY, 0, 0) == b""


def test_chunks_may_be_any_bytes_like(store: BlobStore) -> None:
    chunks: list[Any] = [b"ab", bytearray(b"cd"), memoryview(b"ef")]
    assert store.put(KEY, chunks) == 6
    assert read_all(store, KEY) == b"abcdef"


def test_re_put_replaces_the_blob(store: BlobStore) -> None:
    store.put(KEY, [b"a much longer first version"])
    assert store.put(KEY, [b"short"]) == 5
    assert read_all(store, KEY) == b"short"
    assert store.size(KEY) == 5
    assert list(store.keys()) == [KEY]


def test_a_failing_iterable_stores_nothing(store: BlobStore) -> None:
    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="client went away"):
        store.put("fresh", broken())
    assert not store.exists("fresh")

    store.put(KEY, [b"original"])
    with pytest.raises(RuntimeError):
        store.put(KEY, broken())
    assert read_all(store, KEY) == b"original"
    assert list(store.keys()) == [KEY]


def test_a_reader_keeps_what_it_opened(store: BlobStore) -> None:
    store.put(KEY, [b"old bytes"])
    with store.open(KEY) as file:
        store.put(KEY, [b"new bytes, longer"])
        assert file.read() == b"old bytes"
    with store.open(KEY) as file:
        store.delete(KEY)
        assert file.read() == b"new bytes, longer"


def test_unusual_but_valid_keys(store: BlobStore) -> None:
    keys = [".hidden", "..dots", "a..b", "with space/ünïcode/値", "x" * 255, "-/_/~"]
    for key in keys:
        store.put(key, [key.encode()])
    for key in keys:
        assert read_all(store, key) == key.encode()
    assert list(store.keys()) == sorted(keys)


# -- read_range -----------------------------------------------------------------------------


def test_read_range(store: BlobStore) -> None:
    store.put(KEY, [b"0123", b"4567", b"89"])
    assert store.read_range(KEY, 0, 10) == b"0123456789"
    assert store.read_range(KEY, 3, 4) == b"3456"
    assert store.read_range(KEY, 9, 1) == b"9"
    assert store.read_range(KEY, 10, 0) == b""


@pytest.mark.parametrize(("offset", "length"), [(0, 11), (10, 1), (11, 0), (5, 100)])
def test_read_range_past_the_end(store: BlobStore, offset: int, length: int) -> None:
    store.put(KEY, [b"0123456789"])
    with pytest.raises(OutOfRange, match="past the end"):
        store.read_range(KEY, offset, length)


@pytest.mark.parametrize(("offset", "length"), [(-1, 1), (0, -1)])
def test_read_range_refuses_negative_numbers(store: BlobStore, offset: int, length: int) -> None:
    store.put(KEY, [b"0123456789"])
    with pytest.raises(InvalidArgument):
        store.read_range(KEY, offset, length)


# -- missing keys and delete ----------------------------------------------------------------


def test_missing_key(store: BlobStore) -> None:
    assert not store.exists(KEY)
    with pytest.raises(NotFound, match="no blob"):
        store.open(KEY)
    with pytest.raises(NotFound):
        store.size(KEY)
    with pytest.raises(NotFound):
        store.read_range(KEY, 0, 0)


def test_delete_is_idempotent(store: BlobStore) -> None:
    store.put(KEY, [b"x"])
    store.put("other", [b"y"])
    store.delete(KEY)
    store.delete(KEY)
    store.delete("never/stored")
    assert not store.exists(KEY)
    with pytest.raises(NotFound):
        store.open(KEY)
    assert list(store.keys()) == ["other"]


# -- keys -----------------------------------------------------------------------------------


def test_keys_sorted_and_filtered_by_prefix(store: BlobStore) -> None:
    # "a-c" < "a.d" < "a/b" < "a0" as strings, whatever the folder layout.
    keys = ["a/b", "a-c", "a0", "a.d", "b/a/z", "b/a/y", "b/aa", "b/a-", "c"]
    for key in reversed(keys):
        store.put(key, [b"."])

    listing = store.keys()
    assert iter(listing) is listing, "keys() must be lazy"
    assert list(listing) == sorted(keys)
    assert list(store.keys("b/")) == ["b/a-", "b/a/y", "b/a/z", "b/aa"]
    assert list(store.keys("b/a")) == ["b/a-", "b/a/y", "b/a/z", "b/aa"]
    assert list(store.keys("b/a/")) == ["b/a/y", "b/a/z"]
    assert list(store.keys("a")) == ["a-c", "a.d", "a/b", "a0"]
    assert list(store.keys("c")) == ["c"]
    assert list(store.keys("nothing")) == []
    assert list(store.keys("../")) == []


def test_keys_of_an_empty_store(store: BlobStore) -> None:
    assert list(store.keys()) == []


# -- key rules ------------------------------------------------------------------------------

INVALID_KEYS = [
    "",
    "/absolute",
    "trailing/",
    "a//b",
    ".",
    "..",
    "a/../b",
    "../escape",
    "a/./b",
    "back\\slash",
    "nul\x00byte",
    ".dicomstore-tmp-0123",
    "a/.dicomstore-staging",
    "x" * 256,
    "a/" * 300 + "a",
    "lone\udc80surrogate",
]


def _operations(tmp_path: Path) -> dict[str, Callable[[BlobStore, str], object]]:
    def put_file(store: BlobStore, key: str) -> object:
        staged = tmp_path / "staged"
        staged.write_bytes(b"x")
        return store.put_file(key, staged)

    return {
        "put": lambda store, key: store.put(key, [b"x"]),
        "put_file": put_file,
        "open": lambda store, key: store.open(key),
        "read_range": lambda store, key: store.read_range(key, 0, 0),
        "size": lambda store, key: store.size(key),
        "exists": lambda store, key: store.exists(key),
        "delete": lambda store, key: store.delete(key),
    }


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_invalid_keys_are_refused(store: BlobStore, tmp_path: Path, key: str) -> None:
    for name, operation in _operations(tmp_path).items():
        with pytest.raises(InvalidArgument):
            operation(store, key)
            pytest.fail(f"{name} accepted {key!r}")
    assert list(store.keys()) == []


def test_a_key_that_is_not_a_string_is_refused(store: BlobStore) -> None:
    with pytest.raises(InvalidArgument, match="string"):
        store.put(b"bytes/key", [b"x"])  # type: ignore[arg-type]


def test_a_key_cannot_be_both_a_blob_and_a_parent(store: BlobStore) -> None:
    store.put("a/b", [b"x"])
    with pytest.raises(FailedPrecondition, match="parent"):
        store.put("a", [b"y"])
    assert not store.exists("a")
    with pytest.raises(NotFound):
        store.open("a")
    with pytest.raises(NotFound):
        store.size("a")
    for length in (0, 1):
        with pytest.raises(NotFound):
            store.read_range("a", 0, length)
    store.delete("a")
    assert read_all(store, "a/b") == b"x"

    with pytest.raises(FailedPrecondition, match="conflicts"):
        store.put("a/b/c", [b"z"])
    assert not store.exists("a/b/c")
    with pytest.raises(NotFound):
        store.open("a/b/c")
    with pytest.raises(NotFound):
        store.read_range("a/b/c", 0, 1)

    store.delete("a/b")
    store.put("a", [b"now a blob"])
    assert list(store.keys()) == ["a"]


# -- streaming and put_file -----------------------------------------------------------------

CHUNK = 64 * 1024
BIG = 50 * 1024 * 1024


def test_put_new_is_readable_once_durable(store: BlobStore) -> None:
    with ThreadPoolExecutor(2) as background:
        written = put_new(store, "new/a/b", b"fresh bytes", background)
        assert written.durable() == len(b"fresh bytes")
        discarded = put_new(store, "new/c", b"not kept", background)
        discarded.discard()
    assert store.read_range("new/a/b", 0, 11) == b"fresh bytes"
    assert list(store.keys("new/")) == ["new/a/b"]


def _wait_for_request_threads() -> None:
    """Let the in-process S3 server finish the requests of earlier tests: after each, werkzeug
    drains the connection with a 10 MB read in the request's own thread, which tracemalloc
    (counting every thread) would add to the peak measured here."""
    for thread in threading.enumerate():
        if "process_request_thread" in thread.name and thread is not threading.current_thread():
            thread.join(timeout=10)


def test_put_streams_many_chunks(store: BlobStore) -> None:
    chunk = os.urandom(CHUNK)
    count = BIG // CHUNK

    def chunks() -> Iterator[bytes]:
        for _ in range(count):
            yield chunk

    streaming = isinstance(store, FileSystemBlobStore)
    if streaming:
        _wait_for_request_threads()
        tracemalloc.start()
    try:
        assert store.put("big", chunks()) == BIG
        if streaming:
            _, peak = tracemalloc.get_traced_memory()
            assert peak < BIG // 10, f"put held {peak} bytes for a {BIG}-byte blob"
    finally:
        if streaming:
            tracemalloc.stop()

    assert store.size("big") == BIG
    expected = hashlib.sha256()
    for _ in range(count):
        expected.update(chunk)
    actual = hashlib.sha256()
    with store.open("big") as file:
        while piece := file.read(1024 * 1024):
            actual.update(piece)
    assert actual.hexdigest() == expected.hexdigest()
    assert store.read_range("big", BIG - CHUNK - 3, 6) == chunk[-3:] + chunk[:3]


def test_put_file_consumes_a_staged_file(store: BlobStore) -> None:
    staging = store.staging_dir()
    assert staging.is_dir()
    staged = staging / "upload-1"
    staged.write_bytes(b"spooled upload")

    assert store.put_file(KEY, staged) == 14
    assert not staged.exists()
    assert read_all(store, KEY) == b"spooled upload"
    assert list(store.keys()) == [KEY]


def test_put_file_from_elsewhere(store: BlobStore, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.dcm"
    elsewhere.write_bytes(b"outside the staging folder")
    store.put(KEY, [b"previous"])
    assert store.put_file(KEY, elsewhere) == 26
    assert not elsewhere.exists()
    assert read_all(store, KEY) == b"outside the staging folder"


def test_put_file_of_a_missing_file(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.put_file(KEY, tmp_path / "missing")
    assert not store.exists(KEY)


# -- concurrency ----------------------------------------------------------------------------


def _payload(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest() * (1 + len(key) % 7)


def test_concurrent_puts_of_different_keys(store: BlobStore) -> None:
    keys = [
        f"store/{study % 5}/{series % 3}/instance-{n}"
        for n, (study, series) in enumerate((i, i * 7) for i in range(120))
    ]

    def put(key: str) -> int:
        return store.put(key, [_payload(key)[:10], _payload(key)[10:]])

    with ThreadPoolExecutor(max_workers=8) as pool:
        sizes = list(pool.map(put, keys))

    assert sizes == [len(_payload(key)) for key in keys]
    assert list(store.keys()) == sorted(keys)
    for key in keys:
        assert read_all(store, key) == _payload(key)


def test_concurrent_puts_and_deletes_in_shared_folders(store: BlobStore) -> None:
    # Deletes prune emptied folders while other threads are writing into them.
    def churn(worker: int) -> None:
        for round_ in range(25):
            key = f"shared/{round_ % 2}/w{worker}"
            store.put(key, [b"x" * worker])
            assert store.size(key) == worker
            store.delete(key)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(churn, range(1, 7)))
    assert list(store.keys()) == []
    store.put("shared/0/final", [b"ok"])
    assert read_all(store, "shared/0/final") == b"ok"


def test_re_put_is_atomic_for_readers(store: BlobStore) -> None:
    size = 256 * 1024
    versions = [bytes([n]) * size for n in (0xAA, 0x55)]
    digests = {hashlib.sha256(version).digest() for version in versions}
    store.put(KEY, [versions[0]])

    stop = threading.Event()
    errors: list[BaseException] = []
    counts = {"writes": 0, "reads": 0}

    def writer() -> None:
        try:
            n = 0
            while not stop.is_set():
                n += 1
                version = versions[n % 2]
                # Many small chunks, so a non-atomic write would be seen half done.
                store.put(KEY, (version[i : i + 8192] for i in range(0, size, 8192)))
                counts["writes"] += 1
        except BaseException as error:
            errors.append(error)

    def reader() -> None:
        try:
            while not stop.is_set():
                with store.open(KEY) as file:
                    seen = file.read()
                assert hashlib.sha256(seen).digest() in digests, "read a mixed blob"
                ranged = store.read_range(KEY, 0, size)
                assert hashlib.sha256(ranged).digest() in digests, "read a mixed range"
                counts["reads"] += 1
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline and not errors:
        time.sleep(0.02)
    stop.set()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert counts["writes"] >= 3
    assert counts["reads"] >= 3


def test_modified_is_when_the_blob_was_written(store: BlobStore) -> None:
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC) - timedelta(seconds=2)
    store.put("when/written", [b"x"])
    written = store.modified("when/written")
    assert written.tzinfo is not None
    assert before <= written <= datetime.now(UTC) + timedelta(seconds=2)
    with pytest.raises(NotFound):
        store.modified("when/never")

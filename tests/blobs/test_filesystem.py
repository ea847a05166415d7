"""What only the filesystem backend does: temporary files, fsync, folders, OS errors."""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from dicomstore.blobs import FileSystemBlobStore
from dicomstore.blobs.filesystem import STAGING_DIR_NAME, TEMPORARY_PREFIX, _FolderSyncs
from dicomstore.errors import FailedPrecondition


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def store(root: Path) -> FileSystemBlobStore:
    return FileSystemBlobStore(root)


def files_under(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def age(path: Path, seconds: float) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


def test_layout_is_one_file_per_key(store: FileSystemBlobStore, root: Path) -> None:
    store.put("a/b/c", [b"bytes"])
    assert (root / "a" / "b" / "c").read_bytes() == b"bytes"
    assert files_under(root) == ["a/b/c"]


def test_root_is_created_and_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = FileSystemBlobStore("relative/blobs")
    assert store.root == tmp_path / "relative" / "blobs"
    assert store.root.is_dir()
    monkeypatch.chdir("/")
    store.put("k", [b"still there"])
    assert (tmp_path / "relative" / "blobs" / "k").read_bytes() == b"still there"


def test_staging_dir_is_inside_the_root(store: FileSystemBlobStore, root: Path) -> None:
    staging = store.staging_dir()
    assert staging == root / STAGING_DIR_NAME
    assert staging.stat().st_dev == root.stat().st_dev


def test_put_file_is_a_rename_within_the_root(store: FileSystemBlobStore) -> None:
    staged = store.staging_dir() / "upload"
    staged.write_bytes(b"abc")
    inode = staged.stat().st_ino
    store.put_file("k/1", staged)
    assert (store.root / "k" / "1").stat().st_ino == inode


def test_put_file_across_filesystems_copies(
    store: FileSystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = tmp_path / "on-another-device"
    staged.write_bytes(b"x" * 3_000_000)
    real_replace = os.replace

    def replace(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> None:
        if Path(source) == staged:
            raise OSError(errno.EXDEV, "Invalid cross-device link", str(source))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    assert store.put_file("k", staged) == 3_000_000
    assert not staged.exists()
    assert (store.root / "k").read_bytes() == b"x" * 3_000_000
    assert files_under(store.root) == ["k"]


# -- crashes and the sweep ------------------------------------------------------------------


def test_a_crash_leaves_temporary_files_that_keys_ignore_and_the_sweep_removes(
    store: FileSystemBlobStore, root: Path
) -> None:
    store.put("a/kept", [b"blob"])
    store.put("c/kept", [b"blob"])
    # What a crash between create and rename leaves, plus a spooled upload never stored.
    stale = [
        root / "a" / f"{TEMPORARY_PREFIX}1a2b3c",
        root / "b" / "c" / f"{TEMPORARY_PREFIX}4d5e6f",
        root / f"{TEMPORARY_PREFIX}top",
        store.staging_dir() / "abandoned-upload",
    ]
    fresh = root / "c" / f"{TEMPORARY_PREFIX}in-progress"
    for path in [*stale, fresh]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    for path in stale:
        age(path, 2 * 3600)

    assert list(store.keys()) == ["a/kept", "c/kept"]
    assert store.sweep_temporary(timedelta(days=1)) == 0

    assert store.sweep_temporary(timedelta(hours=1)) == 4
    assert not any(path.exists() for path in stale)
    assert fresh.exists(), "a write in progress must survive the sweep"
    assert not (root / "b").exists(), "folders emptied by the sweep are pruned"
    assert (root / "a" / "kept").exists()
    assert store.staging_dir().is_dir()
    assert list(store.keys()) == ["a/kept", "c/kept"]


def test_sweep_refuses_a_negative_age(store: FileSystemBlobStore) -> None:
    with pytest.raises(ValueError, match="negative"):
        store.sweep_temporary(timedelta(seconds=-1))


def test_keys_skip_foreign_entries(store: FileSystemBlobStore, root: Path) -> None:
    store.put("a/b", [b"x"])
    (root / "a" / "back\\slash").write_bytes(b"not a key")
    (root / "link").symlink_to(root / "a" / "b")
    os.mkfifo(root / "fifo")
    assert list(store.keys()) == ["a/b"]


# -- durability -----------------------------------------------------------------------------


@pytest.fixture
def sync_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Record fsync (of a file or a folder) and rename calls, in order, still doing them."""
    log: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        log.append((f"fsync {kind}", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> None:
        log.append(("replace", os.fspath(destination)))
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    yield log


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_put_fsyncs_file_then_renames_then_fsyncs_folders(
    store: FileSystemBlobStore, root: Path, sync_log: list[tuple[str, str]]
) -> None:
    store.put("x/y/z", [b"durable"])
    final = str(root / "x" / "y" / "z")
    assert sync_log == [
        ("fsync dir", str(root)),  # made x
        ("fsync dir", str(root / "x")),  # made y
        ("fsync file", sync_log[2][1]),  # the temporary file, before the rename
        ("replace", final),
        ("fsync dir", str(root / "x" / "y")),  # the rename itself
    ]
    assert Path(sync_log[2][1]).name.startswith(TEMPORARY_PREFIX)

    sync_log.clear()
    store.put("x/y/z", [b"again"])  # folders exist: only the file and its folder
    assert [entry[0] for entry in sync_log] == ["fsync file", "replace", "fsync dir"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_put_file_fsyncs_the_staged_file_before_the_rename(
    store: FileSystemBlobStore, root: Path, sync_log: list[tuple[str, str]]
) -> None:
    staging = store.staging_dir()
    staged = staging / "upload"
    staged.write_bytes(b"spooled")
    store.put_file("k", staged)
    # Not the staging folder: a spool left there by a crash is removed at start-up.
    assert sync_log == [
        ("fsync file", str(staged)),
        ("replace", str(root / "k")),
        ("fsync dir", str(root)),
    ]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("meanwhile", [False, True], ids=["by the waiter", "meanwhile"])
def test_put_new_writes_in_place_and_fsyncs_file_and_folder(
    store: FileSystemBlobStore, root: Path, sync_log: list[tuple[str, str]], meanwhile: bool
) -> None:
    """The fsyncs run once: in the thread that waits, or on another thread started
    `NewBlob.meanwhile`."""
    store.put("x/y/old", [b"make the folders"])
    sync_log.clear()
    written = store.put_new("x/y/z", b"durable")
    assert sync_log == []  # written, the disk started on it, but not waited for yet
    with ThreadPoolExecutor(1, thread_name_prefix="durable") as background:
        if meanwhile:
            written.meanwhile(background)
            written.meanwhile(background)  # started once
        assert written.durable() == 7
    assert written.durable() == 7  # once
    final = str(root / "x" / "y" / "z")
    # No temporary file and no rename: the file, then its folder.
    assert sync_log == [("fsync file", final), ("fsync dir", str(root / "x" / "y"))]
    assert (root / "x" / "y" / "z").read_bytes() == b"durable"
    assert files_under(root) == ["x/y/old", "x/y/z"]


def test_concurrent_writes_share_folder_fsyncs_each_begun_after_they_asked() -> None:
    """Group sync: every caller returns only after an fsync that began after it asked, and
    callers that ask while one runs share the next."""
    started: list[int] = []  # asks made when each fsync began
    asked = [0]
    lock = threading.Lock()
    gate = threading.Event()

    def slow_sync(folder: str) -> None:
        with lock:
            started.append(asked[0])
        gate.wait(timeout=10)
        time.sleep(0.01)

    syncs = _FolderSyncs(slow_sync)
    covered: list[tuple[int, int]] = []  # (this caller's ask, fsyncs begun when it returned)

    def write() -> None:
        with lock:
            asked[0] += 1
            mine = asked[0]
        syncs.sync("folder")
        with lock:
            covered.append((mine, len(started)))

    threads = [threading.Thread(target=write) for _ in range(12)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)  # all ask while the first fsync is held
    gate.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(covered) == 12
    assert len(started) < 12  # shared
    for mine, begun in covered:
        # Some fsync that had begun by the time this caller returned began after it asked.
        assert any(asks >= mine for asks in started[:begun]), (mine, started)


def test_a_failed_folder_fsync_is_retried_by_the_next_caller() -> None:
    calls: list[str] = []

    def flaky(folder: str) -> None:
        calls.append(folder)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")

    syncs = _FolderSyncs(flaky)
    with pytest.raises(OSError):
        syncs.sync("f")
    syncs.sync("f")
    assert calls == ["f", "f"]


def test_put_new_makes_missing_folders_and_refuses_a_used_key(
    store: FileSystemBlobStore, root: Path
) -> None:
    store.put_new("a/b/c", b"one").durable()
    with pytest.raises(FailedPrecondition, match="already stored"):
        store.put_new("a/b/c", b"two")
    store.put("d", [b"a file"])
    with pytest.raises(FailedPrecondition, match="conflicts"):
        store.put_new("d/e", b"under a file")
    assert (root / "a" / "b" / "c").read_bytes() == b"one"


def test_a_new_blob_discarded_before_or_after_it_is_durable_is_gone(
    store: FileSystemBlobStore, root: Path
) -> None:
    store.put("k/kept", [b"the folder exists"])
    store.put_new("k/early", b"never indexed").discard()
    late = store.put_new("k/late", b"a duplicate after all")
    late.durable()
    late.discard()
    late.discard()
    assert files_under(root) == ["k/kept"]


def test_put_new_removes_a_blob_whose_fsync_failed(
    store: FileSystemBlobStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("k/kept", [b"the folder exists"])

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    written = store.put_new("k/l", b"lost")
    with pytest.raises(OSError, match="Input/output error") as raised:
        written.durable()
    assert "while writing blob 'k/l'" in "".join(getattr(raised.value, "__notes__", []))
    assert files_under(root) == ["k/kept"]
    with pytest.raises(OSError, match="Input/output error"):
        written.durable()  # the same failure, every time it is asked
    written.discard()  # nothing left to remove, nothing raised


def test_fsync_can_be_turned_off(root: Path, sync_log: list[tuple[str, str]]) -> None:
    store = FileSystemBlobStore(root, fsync=False)
    store.put("a/b", [b"x"])
    assert [entry[0] for entry in sync_log] == ["replace"]
    assert store.put_new("a/c", b"y").durable() == 1
    assert [entry[0] for entry in sync_log] == ["replace"]
    assert (root / "a" / "b").read_bytes() == b"x"


# -- folders --------------------------------------------------------------------------------


def test_delete_prunes_emptied_folders_but_never_the_root(
    store: FileSystemBlobStore, root: Path
) -> None:
    store.put("a/b/c/d", [b"1"])
    store.put("a/x", [b"2"])
    store.delete("a/b/c/d")
    assert not (root / "a" / "b").exists()
    assert (root / "a" / "x").exists()
    store.delete("a/x")
    assert not (root / "a").exists()
    assert root.is_dir()
    store.put("top", [b"3"])
    store.delete("top")
    assert root.is_dir()
    assert list(root.iterdir()) == []


def test_delete_leaves_folders_holding_temporary_files(
    store: FileSystemBlobStore, root: Path
) -> None:
    store.put("a/b", [b"1"])
    temporary = root / "a" / f"{TEMPORARY_PREFIX}writing"
    temporary.write_bytes(b"")
    store.delete("a/b")
    assert temporary.exists()


# -- operating-system errors ----------------------------------------------------------------


def test_a_permission_error_names_the_store_and_key(
    store: FileSystemBlobStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def replace(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(destination))

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(PermissionError, match="Permission denied") as raised:
        store.put("a/b", [b"x"])
    assert raised.value.filename == str(root / "a" / "b")
    assert raised.value.__notes__ == [f"while writing blob 'a/b' in the store at {root}"]
    assert files_under(root) == [], "the temporary file is cleaned up"

    staged = store.staging_dir() / "upload"
    staged.write_bytes(b"x")
    with pytest.raises(PermissionError) as raised:
        store.put_file("a/b", staged)
    assert "while moving a file to blob 'a/b'" in raised.value.__notes__[0]
    assert staged.exists(), "the caller keeps its file when the move fails"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_a_read_only_root_surfaces_permission_denied(
    store: FileSystemBlobStore, root: Path
) -> None:
    store.put("a/kept", [b"x"])
    root.chmod(0o500)
    (root / "a").chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            store.put("b/new", [b"x"])
        with pytest.raises(PermissionError):
            store.put("a/new", [b"x"])
        assert store.read_range("a/kept", 0, 1) == b"x"
    finally:
        (root / "a").chmod(0o700)
        root.chmod(0o700)

"""Blobs as files under a root folder, written atomically: temporary file, fsync, rename.

The key ``a/b/c`` is the file ``{root}/a/b/c``. A write goes to a temporary file next to its
destination (``.dicomstore-tmp-<random>``), is flushed and fsynced, renamed over the destination
with :func:`os.replace` (atomic on POSIX: a reader sees the old file or the new one), and then the
folder is fsynced so the rename survives a power cut. Folders are created on demand, fsynced into
their parents, and removed again when a delete leaves them empty.

Temporary files, and the staging folder ``{root}/.dicomstore-staging`` where callers spool
uploads, start with :data:`~dicomstore.blobs.keys.RESERVED_PREFIX`, which no key segment may, so
:meth:`FileSystemBlobStore.keys` never lists them. A crash can leave temporary files behind;
:meth:`FileSystemBlobStore.sweep_temporary` removes the stale ones.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import BinaryIO

from dicomstore.blobs.keys import RESERVED_PREFIX, is_valid_segment, validate_key
from dicomstore.blobs.new_blob import NewBlob
from dicomstore.blobs.store import check_range
from dicomstore.errors import FailedPrecondition, InvalidArgument, NotFound, OutOfRange

__all__ = ["STAGING_DIR_NAME", "TEMPORARY_PREFIX", "FileSystemBlobStore"]

#: Name prefix of the temporary files a write leaves behind if it crashes.
TEMPORARY_PREFIX = RESERVED_PREFIX + "tmp-"
#: The folder under the root returned by :meth:`FileSystemBlobStore.staging_dir`.
STAGING_DIR_NAME = RESERVED_PREFIX + "staging"

_COPY_CHUNK = 1024 * 1024
_O_BINARY: int = getattr(os, "O_BINARY", 0)
# A concurrent delete may prune a folder between our mkdir and our write into it; try again.
_ATTEMPTS = 8
# Errors that mean "no blob under this key": the path is missing, crosses a file, or is a folder.
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class _FolderSyncs:
    """fsyncs of folders shared by the writes waiting for them (as a group commit shares a log
    flush): a write asks once its entry (a new file, a rename, a new subfolder) is in the folder,
    and is done by any fsync of the folder that began after it asked — its own, or one it
    waited for while another ran. Every folder fsync of the store goes through here."""

    def __init__(self, sync: Callable[[str], None]) -> None:
        self._sync = sync
        self._changed = threading.Condition()
        self._asked: dict[str, int] = {}  # asks per folder so far
        self._synced: dict[str, int] = {}  # asks covered by a finished fsync
        self._running: set[str] = set()

    def sync(self, folder: str) -> None:
        with self._changed:
            ticket = self._asked[folder] = self._asked.get(folder, 0) + 1
            while self._synced.get(folder, 0) < ticket:
                if folder in self._running:
                    self._changed.wait()
                    continue
                self._running.add(folder)
                covered = self._asked[folder]
                self._changed.release()
                try:
                    self._sync(folder)
                finally:
                    self._changed.acquire()
                    self._running.discard(folder)
                    self._changed.notify_all()
                self._synced[folder] = max(self._synced.get(folder, 0), covered)


class FileSystemBlobStore:
    """A :class:`~dicomstore.blobs.store.BlobStore` over a local folder.

    Parameters
    ----------
    root : str or os.PathLike
        The folder holding the blobs; created if missing. Everything under it belongs to the
        store.
    fsync : bool, default True
        Whether writes are fsynced before and after the rename. Turning it off keeps writes
        atomic for readers but lets a power cut lose recent blobs — acceptable only for a
        throw-away store (emulator runs, tests).

    Notes
    -----
    Storage faults (permission denied, disk full) surface as the :class:`OSError` raised by the
    operating system, with a note naming the store and the key.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self._root = Path(root).absolute()
        self._root_text = str(self._root)
        self._fsync = fsync
        self._folder_syncs = _FolderSyncs(self._sync_directory)
        self._root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._root)!r})"

    @property
    def root(self) -> Path:
        """The absolute folder holding the blobs."""
        return self._root

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Write ``chunks`` to a temporary file, fsync it and rename it to ``key``.

        See ``BlobStore.put``. Memory use is bounded by the largest chunk.
        """
        validate_key(key)
        with self._annotate("writing", key):
            return self._put(key, chunks)

    def put_file(self, key: str, path: Path) -> int:
        """Move ``path`` to ``key``: a rename on the same filesystem, else a copy and unlink.

        See ``BlobStore.put_file``. The file keeps its permission bits when renamed.
        """
        validate_key(key)
        source = Path(path)
        with self._annotate("moving a file to", key):
            fd = os.open(source, os.O_RDONLY | _O_BINARY)
            try:
                status = os.fstat(fd)
                if not stat.S_ISREG(status.st_mode):
                    raise InvalidArgument(f"cannot store {source}: not a regular file")
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._make_parents(key)
            try:
                self._replace(source, key)
            except OSError as error:
                if error.errno != errno.EXDEV:
                    raise
                # Another filesystem: copy through a temporary file, then consume the source.
                with open(source, "rb") as file:
                    size = self._put(key, iter(partial(file.read, _COPY_CHUNK), b""))
                os.unlink(source)
                return size
            # The source folder is not synced: the rename is durable once the destination's
            # folder is, and a spool that reappears in staging after a crash is removed at start.
            return status.st_size

    def put_new(self, key: str, data: bytes) -> NewBlob:
        """Write ``data`` under ``key``, a key never used before that nothing reads until it is
        durable, straight into place: no temporary file, no rename.

        The bytes are written now, and the disk starts on them at once (``sync_file_range``);
        `NewBlob.durable` then fsyncs the file and its folder (the latter shared with concurrent
        writes, `_FolderSyncs`) in the calling thread — by then the data is mostly on disk, and
        no other thread is woken — unless `NewBlob.meanwhile` started that already. A crash
        before then can leave a partial blob under ``key``: an orphan, which the sweep removes.
        An existing ``key`` is refused (``FailedPrecondition``), never replaced.
        """
        validate_key(key)
        path = self._file(key)
        with self._annotate("writing", key):
            try:
                fd = self._create(key, path)
            except FileExistsError:
                raise FailedPrecondition(f"a blob is already stored under key {key!r}") from None
            try:
                size = _write_all(fd, data)
                if self._fsync:
                    _start_writeback(fd)
            except BaseException:
                os.close(fd)
                _unlink_quietly(path)
                raise
        return NewBlob(partial(self._finish_new, key, path, fd, size), partial(self.delete, key))

    def _finish_new(self, key: str, path: str, fd: int, size: int) -> int:
        """fsync a `put_new` file, close it, fsync its folder; on failure, remove it."""
        try:
            with self._annotate("writing", key):
                try:
                    if self._fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                self._folder_syncs.sync(os.path.dirname(path))
        except BaseException:
            _unlink_quietly(path)  # it may not be durable
            raise
        return size

    def open(self, key: str) -> BinaryIO:
        """Open the blob's file for reading; see ``BlobStore.open``."""
        path = self._path(validate_key(key))
        with self._annotate("opening", key):
            try:
                return open(path, "rb")
            except _MISSING:
                raise NotFound(f"no blob under key {key!r}") from None

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``offset``, by one positioned read on a bare descriptor
        (no buffered file object, no seek: the cheapest read of a whole small blob); see
        ``BlobStore.read_range``."""
        check_range(offset, length)
        path = self._file(validate_key(key))
        with self._annotate("reading", key):
            try:
                fd = os.open(path, os.O_RDONLY | _O_BINARY)
            except _MISSING:
                raise NotFound(f"no blob under key {key!r}") from None
            try:
                data = _read_at(fd, offset, length)
                if len(data) != length or not length:  # short, or empty: check the bounds
                    size = os.fstat(fd).st_size
                    if offset + length > size:
                        raise OutOfRange(
                            f"bytes {offset}–{offset + length} are past the end of blob {key!r} "
                            f"({size} bytes)"
                        )
                    if len(data) != length:
                        raise OutOfRange(f"blob {key!r} is shorter than its recorded size")
            except IsADirectoryError:
                raise NotFound(f"no blob under key {key!r}") from None
            finally:
                os.close(fd)
        return data

    def size(self, key: str) -> int:
        """The file's size; see ``BlobStore.size``."""
        return self._stat(key).st_size

    def modified(self, key: str) -> datetime:
        """The file's modification time; see ``BlobStore.modified``."""
        return datetime.fromtimestamp(self._stat(key).st_mtime, UTC)

    def _stat(self, key: str) -> os.stat_result:
        path = self._path(validate_key(key))
        with self._annotate("inspecting", key):
            try:
                status = os.stat(path)
            except _MISSING:
                raise NotFound(f"no blob under key {key!r}") from None
        if not stat.S_ISREG(status.st_mode):
            raise NotFound(f"no blob under key {key!r}")
        return status

    def exists(self, key: str) -> bool:
        """Whether a regular file holds ``key``; see ``BlobStore.exists``."""
        path = self._path(validate_key(key))
        with self._annotate("checking", key):
            return path.is_file()

    def delete(self, key: str) -> None:
        """Unlink the blob's file and prune emptied parent folders; see ``BlobStore.delete``.

        The unlink is not fsynced: if a crash undoes it, the blob comes back as an orphan that the
        index no longer names, and the orphan sweep removes it again.
        """
        path = self._path(validate_key(key))
        with self._annotate("deleting", key):
            try:
                os.unlink(path)
            except _MISSING:
                return
        self._prune(path.parent)

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Walk the folders depth first in key order; see ``BlobStore.keys``.

        Only the listings of the folders on the current path are held in memory. Folders that
        cannot match ``prefix`` are not entered.
        """
        yield from self._walk(self._root, "", prefix)

    def staging_dir(self) -> Path:
        """``{root}/.dicomstore-staging``, created if missing; see ``BlobStore.staging_dir``."""
        path = self._root / STAGING_DIR_NAME
        path.mkdir(exist_ok=True)
        return path

    def sweep_temporary(self, older_than: timedelta) -> int:
        """Remove temporary files, and staged files, last modified more than ``older_than`` ago.

        A write in progress keeps touching its temporary file, so choose ``older_than`` longer
        than the slowest upload may stall (an hour is generous). Folders emptied by the sweep are
        pruned. Run it at start-up and now and then.

        Parameters
        ----------
        older_than : datetime.timedelta
            Minimum age (by modification time) of a file to remove; not negative.

        Returns
        -------
        int
            How many files were removed.
        """
        if older_than < timedelta(0):
            raise ValueError(f"older_than must not be negative, got {older_than}")
        cutoff = time.time() - older_than.total_seconds()
        staging = self._root / STAGING_DIR_NAME
        removed = 0
        emptied: set[Path] = set()
        for dirpath, _dirnames, filenames in os.walk(self._root):
            directory = Path(dirpath)
            in_staging = directory == staging or staging in directory.parents
            for name in filenames:
                if not (in_staging or name.startswith(TEMPORARY_PREFIX)):
                    continue
                path = directory / name
                try:
                    if os.lstat(path).st_mtime >= cutoff:
                        continue
                    os.unlink(path)
                except FileNotFoundError:
                    continue
                removed += 1
                if not in_staging:
                    emptied.add(directory)
        for directory in sorted(emptied, reverse=True):
            self._prune(directory)
        return removed

    # -- internals --------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*key.split("/"))

    def _file(self, key: str) -> str:
        """``_path`` as text, without building a ``Path`` (for the hottest read)."""
        return os.path.join(self._root_text, *key.split("/"))

    def _put(self, key: str, chunks: Iterable[bytes]) -> int:
        fd, temporary = self._create_temporary(key)
        try:
            size = 0
            for chunk in chunks:
                size += _write_all(fd, chunk)
            if self._fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            _unlink_quietly(temporary)
            raise
        os.close(fd)
        try:
            self._replace(temporary, key)
        except BaseException:
            _unlink_quietly(temporary)
            raise
        return size

    def _create_temporary(self, key: str) -> tuple[int, str]:
        # Plain strings and no folder checks while the folder exists (nearly always): a put is
        # open, write, fsync, rename, fsync of the folder, and nothing else.
        directory = os.path.dirname(self._file(key))
        temporary = f"{directory}/{TEMPORARY_PREFIX}{secrets.token_hex(8)}"
        return self._create(key, temporary), temporary

    def _create(self, key: str, path: str) -> int:
        """Create ``path``, a file in ``key``'s folder, exclusively (``FileExistsError`` if it
        exists), making the folders when they are missing."""
        for attempt in range(_ATTEMPTS):
            try:
                # 0o666 minus the umask, like any new file (mkstemp would force 0o600).
                return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
            except (FileNotFoundError, NotADirectoryError):
                # The folder is missing (made now) or a blob's file is in its way (refused now).
                if attempt == _ATTEMPTS - 1:
                    raise
                self._make_parents(key)
        raise AssertionError("unreachable")

    def _replace(self, source: str | Path, key: str) -> None:
        destination = self._file(key)
        for attempt in range(_ATTEMPTS):
            try:
                os.replace(source, destination)
            except IsADirectoryError:
                raise FailedPrecondition(f"blob key {key!r} is a parent of other keys") from None
            except FileNotFoundError:
                # The source is gone (the caller's problem) or a delete pruned the destination's
                # folder since we made it (ours: make it again).
                if attempt == _ATTEMPTS - 1 or not os.path.lexists(source):
                    raise
                self._make_parents(key)
                continue
            break
        self._folder_syncs.sync(os.path.dirname(destination))

    def _make_parents(self, key: str) -> None:
        segments = key.split("/")[:-1]
        for attempt in range(_ATTEMPTS):
            directory = self._root
            try:
                for depth, segment in enumerate(segments, start=1):
                    parent, directory = directory, directory / segment
                    try:
                        os.mkdir(directory)
                    except FileExistsError:
                        # FileNotFoundError if a delete pruned it since: caught below, retried.
                        if not stat.S_ISDIR(os.stat(directory).st_mode):
                            prefix = "/".join(segments[:depth])
                            raise FailedPrecondition(
                                f"blob key {key!r} conflicts with the blob stored under {prefix!r}"
                            ) from None
                    else:
                        self._folder_syncs.sync(str(parent))
            except FileNotFoundError:
                # A concurrent delete pruned a folder we had made or found.
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            return

    def _prune(self, directory: Path) -> None:
        """Remove ``directory`` and its ancestors while they are empty, never the root."""
        while directory != self._root and self._root in directory.parents:
            try:
                os.rmdir(directory)
            except OSError:  # not empty, already gone, or not ours to remove: stop
                return
            directory = directory.parent

    def _sync_directory(self, directory: str | Path) -> None:
        # Windows cannot open a folder to fsync it; NTFS journals the metadata instead.
        if not self._fsync or os.name == "nt":
            return
        try:
            fd = os.open(directory, os.O_RDONLY)
        except FileNotFoundError:
            return  # pruned by a concurrent delete: nothing left to make durable
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _walk(self, directory: Path, relative: str, prefix: str) -> Iterator[str]:
        # Sort a folder as "name/" and a file as "name" so the walk yields keys in the order of
        # the key strings ("a-b" < "a/c" because "-" < "/").
        entries: list[tuple[str, bool, str]] = []
        try:
            with os.scandir(directory) as listing:
                for entry in listing:
                    if not is_valid_segment(entry.name):
                        continue  # temporary files, the staging folder, foreign names
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                        is_file = entry.is_file(follow_symlinks=False)
                    except OSError:
                        continue
                    if is_dir:
                        name = f"{relative}{entry.name}/"
                        if name.startswith(prefix) or prefix.startswith(name):
                            entries.append((name, True, entry.path))
                    elif is_file:
                        name = f"{relative}{entry.name}"
                        if name.startswith(prefix):
                            entries.append((name, False, entry.path))
        except (FileNotFoundError, NotADirectoryError):
            return  # pruned by a concurrent delete
        entries.sort()
        for name, is_dir, path in entries:
            if is_dir:
                yield from self._walk(Path(path), name, prefix)
            else:
                yield name

    @contextmanager
    def _annotate(self, action: str, key: str) -> Iterator[None]:
        """Say which store and key an :class:`OSError` is about."""
        try:
            yield
        except OSError as error:
            note = f"while {action} blob {key!r} in the store at {self._root}"
            if not any(
                existing.startswith("while ") for existing in getattr(error, "__notes__", [])
            ):
                error.add_note(note)
            raise


def _read_at(fd: int, offset: int, length: int) -> bytes:
    """Up to ``length`` bytes at ``offset``; fewer only at the end of the file (a single read
    returns at most about 2 GiB on Linux, so a huge range takes several)."""
    data = os.pread(fd, length, offset)
    if len(data) == length or not data:
        return data
    parts = [data]
    received = len(data)
    while received < length:
        part = os.pread(fd, length - received, offset + received)
        if not part:
            break
        parts.append(part)
        received += len(part)
    return b"".join(parts)


def _libc_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """The C library's ``sync_file_range``, where there is one (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE = _libc_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def _start_writeback(fd: int) -> None:
    """Have the disk start writing the file's dirty pages without waiting for it, so that a
    later fsync waits for less. A hint: its errors surface, if real, at that fsync."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


def _write_all(fd: int, data: bytes) -> int:
    """Write all of ``data`` (one write returns short past about 2 GiB, or on a signal)."""
    written = os.write(fd, data)
    if written == len(data):
        return written
    with memoryview(data) as view:
        while written < len(data):
            written += os.write(fd, view[written:])
    return written


def _unlink_quietly(path: str | Path) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)

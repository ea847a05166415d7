"""A blob being stored under a new key, made durable when the caller is ready to wait for it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextlib import suppress

__all__ = ["NewBlob"]


class NewBlob:
    """Bytes being stored under a new key (`put_new`): written, perhaps not yet durable.

    ``finish`` does what is left (waits for an upload, or fsyncs a file and its folder) and
    returns the size, removing the bytes if it fails; ``delete`` removes them once kept. What is
    left runs once: in the thread that first waits (`durable`), or at once on another thread
    (`meanwhile`).
    """

    def __init__(self, finish: Callable[[], int], delete: Callable[[], None]) -> None:
        self._finish: Callable[[], int] | None = finish
        self._delete = delete
        self._size = 0
        self._error: BaseException | None = None

    @classmethod
    def uploading(cls, upload: Future[int], delete: Callable[[], None]) -> NewBlob:
        """An upload running elsewhere (``upload``)."""
        return cls(upload.result, delete)

    @classmethod
    def now(cls, finish: Callable[[], int], delete: Callable[[], None]) -> NewBlob:
        """``finish`` run at once, in this thread; what it raised comes from `durable`."""
        blob = cls(finish, delete)
        with suppress(BaseException):
            blob.durable()
        return blob

    def meanwhile(self, background: Executor) -> None:
        """Start what is left on ``background`` now, for `durable` to wait for."""
        if self._finish is not None:
            self._finish = background.submit(self._finish).result

    def durable(self) -> int:
        """Wait until the bytes would survive a power cut; their size. Raises what failed (the
        bytes are then gone)."""
        if self._finish is not None:
            finish, self._finish = self._finish, None
            try:
                self._size = finish()
            except BaseException as error:
                self._error = error
        if self._error is not None:
            raise self._error
        return self._size

    def discard(self) -> None:
        """Remove the bytes (they will not be indexed) once what was left is done; a failure to
        store them is not raised again."""
        try:
            self.durable()
        except Exception:
            return  # nothing was kept
        self._delete()

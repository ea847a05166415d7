"""The orphan sweep: removes bytes that no index row references.

Ingest writes the bytes before the row and deletes remove the row before the bytes, so a crash
can only ever leave bytes without a row — never a row without bytes. Blobs younger than a grace
period are left alone: their row may still be on its way in an ingest that is running.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

from dicomstore.blobs import BlobStore, FileSystemBlobStore
from dicomstore.clock import utcnow
from dicomstore.errors import NotFound
from dicomstore.index import Index
from dicomstore.index import instances as instance_rows

__all__ = ["DEFAULT_GRACE", "SweepReport", "SweepService"]

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(hours=1)
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class SweepReport:
    examined: int
    removed: int
    temporary_removed: int


class SweepService:
    def __init__(self, index: Index, blobs: BlobStore) -> None:
        self.index = index
        self.blobs = blobs

    def sweep(self, grace: timedelta = DEFAULT_GRACE) -> SweepReport:
        """Remove every blob older than ``grace`` that no instance row references."""
        temporary = (
            self.blobs.sweep_temporary(grace) if isinstance(self.blobs, FileSystemBlobStore) else 0
        )
        cutoff = utcnow() - grace
        examined = removed = 0
        keys = self.blobs.keys()
        while batch := list(islice(keys, _BATCH)):
            examined += len(batch)
            with self.index.transaction() as tx:
                known = instance_rows.known_blob_keys(tx, batch)
            for key in batch:
                if key in known:
                    continue
                try:
                    if self.blobs.modified(key) > cutoff:
                        continue
                except NotFound:
                    continue
                # Checked again at the last moment: a slow ingest may have indexed it meanwhile.
                with self.index.transaction() as tx:
                    if instance_rows.known_blob_keys(tx, [key]):
                        continue
                self.blobs.delete(key)
                removed += 1
        if removed or temporary:
            log.info("sweep removed %d orphan blobs and %d stale uploads", removed, temporary)
        return SweepReport(examined, removed, temporary)

    def run_periodically(self, stop: threading.Event, interval: timedelta) -> None:
        """Sweep now and then every ``interval`` until ``stop`` is set (a background thread)."""
        while not stop.is_set():
            try:
                self.sweep()
            except Exception:  # a failed sweep must not end the thread; the next one retries
                log.exception("orphan sweep failed")
            stop.wait(interval.total_seconds())

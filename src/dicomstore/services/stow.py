"""STOW-RS: storing instances (``dicomweb-conformance.md`` §2).

For each upload: read its header in one pass (``dicom.header_scan``; pydicom for what that does
not cover), check it, then — bytes first — write it under a new immutable blob key and index it
in one transaction. An upload held in memory is written in place at once, the disk starting on
it while its header is read, and fsynced before it is indexed; a large one is spooled to disk
first and moved into place. A crash
between bytes and index leaves an orphan blob for the sweep, never an index row without bytes.
A duplicate (same UIDs, same SHA-256) changes nothing and counts as stored; different content
under a stored SOP Instance UID fails with the stored copy kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlalchemy as sa

from dicomstore.blobs import BlobStore, NewBlob, put_new
from dicomstore.clock import utcnow
from dicomstore.dicom.attributes import (
    series_attributes,
    series_columns,
    study_attributes,
    study_columns,
)
from dicomstore.dicom.from_json import BulkDataPart, sop_uids, write_part10
from dicomstore.dicom.header_scan import ScannedInstance, describe_file, scan_instance
from dicomstore.dicom.stow_response import FailedInstance, StoredInstance
from dicomstore.errors import InvalidArgument
from dicomstore.index import Index
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index import instances as instance_rows
from dicomstore.index import operations as operation_rows
from dicomstore.index.instances import IngestOutcome, NewInstance
from dicomstore.json_text import compact_json
from dicomstore.names import DicomStoreName
from dicomstore.services.dicomweb_delete import deletion_target
from dicomstore.services.staging import Spool, StagedFile

__all__ = ["STORAGE_CLASSES", "StowService", "StowTarget", "Turn", "storage_class_named"]

log = logging.getLogger(__name__)

STORAGE_CLASSES = frozenset({"STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"})

# How long uploads go to one of a store's 256 blob folders before the next (see `_blob_key`).
_FOLDER_SECONDS = 60

# Threads uploading in-memory uploads' blobs to an object store while their headers are read.
_BLOB_WRITERS = 16


@dataclass(frozen=True, slots=True)
class StowTarget:
    """A store resolved once per request, with where its instances are found over DICOMweb.

    ``dicomweb_url`` is the absolute URL of the store's ``dicomWeb`` root as the client reached
    it; RetrieveURLs are built under it.
    """

    store_pk: int
    blob_prefix: str
    dicomweb_url: str
    study_instance_uid: str | None
    storage_class: str
    store_name: str = ""
    # Whether a study or series delete was unfinished in this store when the request began:
    # only then is each instance checked against them (see ``_deleting``).
    deletes_pending: bool = True

    def study_url(self, study: str) -> str:
        return f"{self.dicomweb_url}/studies/{study}"

    def instance_url(self, instance: ScannedInstance) -> str:
        return (
            f"{self.study_url(instance.study_instance_uid)}/series/"
            f"{instance.series_instance_uid}/instances/{instance.sop_instance_uid}"
        )


# PS3.18 F.2.3.1: FL/FD values that are not finite travel as the strings "NaN", "Infinity" and
# "-Infinity" (JSON has no such numbers; PostgreSQL's JSONB refuses them).
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[str(value)]
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def _json_size(metadata: dict[str, Any]) -> int:
    """Bytes of the compact JSON, after making non-finite numbers strings (in place, rarely).
    The fast encoder writes NaN as null, so only a document with a null is checked closely."""
    text = compact_json(metadata)
    if "null" in text:
        try:
            json.dumps(metadata, allow_nan=False)
        except ValueError:
            metadata.update(_finite(metadata))
            text = compact_json(metadata)
    return len(text.encode())


def _first_int(instance_json: dict[str, Any], tag: str) -> int | None:
    value = instance_json.get(tag, {}).get("Value")
    if not value:
        return None
    try:
        return int(value[0])
    except (TypeError, ValueError):
        return None


# What a path segment of a DICOMweb URL cannot carry as it is: the segment separator, the
# ``:verb`` suffix of custom methods, escapes, query and fragment, spaces and control characters.
_NOT_IN_A_PATH_SEGMENT = re.compile(r"[/:%?#\\\s\x00-\x1f\x7f]")


def _deleting(tx: sa.Connection, target: StowTarget, instance: ScannedInstance) -> str | None:
    """Why the instance cannot be stored while a study or series delete of its own is pending
    or running (``dicomweb-conformance.md`` §5), or None: reported as a STOW failure item."""
    study, series = instance.study_instance_uid, instance.series_instance_uid
    targets = [
        deletion_target(target.store_name, study),
        deletion_target(target.store_name, study, series),
    ]
    busy = operation_rows.unfinished_targets(tx, targets)
    if not busy:
        return None
    what = f"study {study}" if targets[0] in busy else f"series {series}"
    return f"A delete of {what} is in progress; store the instance again once it is done."


def _unaddressable_uid(instance: ScannedInstance) -> str | None:
    """Why the instance could never be retrieved or deleted by URL, if it could not."""
    for keyword, uid in (
        ("StudyInstanceUID", instance.study_instance_uid),
        ("SeriesInstanceUID", instance.series_instance_uid),
        ("SOPInstanceUID", instance.sop_instance_uid),
    ):
        if uid in (".", "..") or _NOT_IN_A_PATH_SEGMENT.search(uid):
            return (
                f"The instance's {keyword} {uid!r} cannot be part of a DICOMweb URL; a UID is "
                "digits and periods (PS3.5 9.1)."
            )
    return None


StoreOutcome = StoredInstance | FailedInstance

# How long a part waits for the part before it to reach the index before going ahead anyway.
_TURN_TIMEOUT_SECONDS = 60.0


class Turn:
    """The order in which the parts of one request reach the index. Parts are stored several at
    a time, but each is indexed only after the part before it is in line, so a request's
    instances are indexed (and later listed) in the order they were sent."""

    def __init__(self, previous: Turn | None) -> None:
        self._previous = previous
        self._in_line = threading.Event()

    def wait(self) -> None:
        if self._previous is not None:
            self._previous._in_line.wait(_TURN_TIMEOUT_SECONDS)

    def done(self) -> None:
        """This part is in line, or will never be: the next part may go."""
        self._in_line.set()


def storage_class_named(name: str | None, *, where: str) -> str:
    """The storage class ``name`` names (``STANDARD`` when absent), checked; ``where`` says
    where it came from in the error."""
    chosen = (name or "STANDARD").strip().upper()
    if chosen not in STORAGE_CLASSES:
        raise InvalidArgument(
            f"Invalid {where} {chosen!r}; use one of " + ", ".join(sorted(STORAGE_CLASSES)) + "."
        )
    return chosen


class StowService:
    def __init__(self, index: Index, blobs: BlobStore) -> None:
        self.index = index
        self.blobs = blobs
        #: Whether `target` may run on an event loop: a library call on local pages, no network.
        self.looks_up_at_once = index.embedded
        # Uploads to object storage, and a lone upload's fsyncs, run beside its header read.
        self._blob_writes = ThreadPoolExecutor(_BLOB_WRITERS, thread_name_prefix="stow-blob")
        self._in_memory_stores = 0  # store_bytes calls running
        self._counting = threading.Lock()

    def target(
        self,
        name: DicomStoreName,
        *,
        dicomweb_url: str,
        study_instance_uid: str | None,
        storage_class: str | None,
    ) -> StowTarget:
        """Resolve the store before reading the body: an unknown store is NOT_FOUND at once.
        With an embedded index (`looks_up_at_once`) this is quick enough for an event loop."""
        storage_class = storage_class_named(storage_class, where="Storage-Class")
        deletions = deletion_target(str(name), "")
        found = instance_rows.named_store_ingest_keys(self.index, name, deletions)
        if found is None:  # NotFound naming what is missing (or a store just created)
            with self.index.transaction() as tx:
                store = store_rows.get_by_name(tx, name)
                pending = operation_rows.any_unfinished_target_under(tx, deletions)
            found = store.pk, store.blob_prefix, pending
        pk, blob_prefix, pending = found
        return StowTarget(pk, blob_prefix, dicomweb_url, study_instance_uid, storage_class,
                          str(name), pending)  # fmt: skip

    def spool(self) -> Spool:
        """A new spool for one uploaded instance, in the blob store's staging folder."""
        return Spool(self.blobs.staging_dir())

    def store_json(
        self,
        target: StowTarget,
        instance: Mapping[str, Any],
        bulk_data: Mapping[str, BulkDataPart],
        inline_binary_syntax: str,
    ) -> StoreOutcome:
        """Store one instance sent as DICOM JSON plus bulk data parts (spec §2.1 item 2).

        The instance is written out as a Part 10 file and then stored like any upload; an
        instance that breaks the rules fails alone, with the reason as its FailureDetail.
        """
        try:
            with self.spool() as spool:
                write_part10(instance, bulk_data, spool, inline_binary_syntax=inline_binary_syntax)
                staged = spool.finish()
        except InvalidArgument as error:
            sop_class_uid, sop_instance_uid = sop_uids(instance)
            return FailedInstance(
                failure_detail=error.message,
                sop_class_uid=sop_class_uid if sop_instance_uid else None,
                sop_instance_uid=sop_instance_uid if sop_class_uid else None,
            )
        return self.store(target, staged)

    def store_bytes(
        self, target: StowTarget, data: bytes, turn: Turn | None = None
    ) -> StoreOutcome:
        """Store an upload held in memory (most single images): no staging file. Its bytes go
        under a new key first, written to disk while the header is hashed and read; the index
        names them once they are durable."""
        with self._counting:
            self._in_memory_stores += 1
            alone = self._in_memory_stores == 1
        try:
            return self._store_bytes(target, data, turn, alone)
        finally:
            with self._counting:
                self._in_memory_stores -= 1

    def _store_bytes(
        self, target: StowTarget, data: bytes, turn: Turn | None, alone: bool
    ) -> StoreOutcome:
        try:
            key = _blob_key(target)
            written = put_new(self.blobs, key, data, self._blob_writes)
            if alone:
                # Nothing else to do meanwhile: the fsyncs run beside the header read, sooner
                # done. With other uploads in flight the CPUs are busy, and this thread makes the
                # blob durable itself when it needs it, waking no other.
                written.meanwhile(self._blob_writes)
            sha256 = hashlib.sha256(data).hexdigest()
            try:
                described = scan_instance(data, _bulk_data_uri)
            except BaseException:
                written.discard()
                raise
            if described is None:  # not one the scan covers: pydicom reads a staged copy
                written.discard()
                with self.spool() as spool:
                    spool.write(data)
                    staged = spool.finish()
        except BaseException:
            if turn is not None:
                turn.done()
            raise
        if described is None:
            return self.store(target, staged, turn)
        try:
            return self._index(target, described, Blob(key, len(data), sha256, written), turn)
        finally:
            if turn is not None:
                turn.done()

    def store(
        self, target: StowTarget, staged: StagedFile, turn: Turn | None = None
    ) -> StoreOutcome:
        """Store one staged Part 10 file; the staged file is consumed either way. With a
        ``turn``, it is indexed after the part before it (see `Turn`)."""
        try:
            try:
                described = describe_file(staged.path, _bulk_data_uri)
            except InvalidArgument as error:
                return FailedInstance(failure_detail=f"Invalid DICOM: {error.message}")
            key = _blob_key(target)
            moved = NewBlob.now(
                partial(self.blobs.put_file, key, staged.path), partial(self.blobs.delete, key)
            )
            blob = Blob(key, staged.size, staged.sha256, moved)
            return self._index(target, described, blob, turn)
        finally:
            staged.discard()
            if turn is not None:
                turn.done()

    def _index(
        self, target: StowTarget, described: ScannedInstance, blob: Blob, turn: Turn | None
    ) -> StoreOutcome:
        """Check a described instance, wait for its blob, then index it (or say why not)."""
        stored = StoredInstance(
            sop_class_uid=described.sop_class_uid,
            sop_instance_uid=described.sop_instance_uid,
            retrieve_url=target.instance_url(described),
            study_retrieve_url=target.study_url(described.study_instance_uid),
        )
        unaddressable = _unaddressable_uid(described)
        if unaddressable is not None:
            blob.written.discard()
            return self._failed(described, unaddressable)
        study = described.study_instance_uid
        if target.study_instance_uid and study != target.study_instance_uid:
            blob.written.discard()
            return self._failed(
                described,
                f"The instance's StudyInstanceUID {study} does not match "
                f"the study in the request path ({target.study_instance_uid}).",
            )
        new = _new_instance(target, described, blob)
        blob.written.durable()  # the bytes are durable before the index names them

        def index(tx: sa.Connection) -> tuple[str | None, IngestOutcome, Any]:
            deleting = _deleting(tx, target, described) if target.deletes_pending else None
            if deleting is not None:
                return deleting, IngestOutcome.CONFLICT, None
            return None, *instance_rows.add_instance(tx, target.store_pk, new, utcnow())

        try:
            # Shared with concurrent requests' inserts: one durable commit for all of them.
            if turn is None:
                deleting, outcome, existing = self.index.grouped(index)
            else:
                turn.wait()
                deleting, outcome, existing = self.index.grouped(index, queued=turn.done)
        except BaseException:
            blob.written.discard()
            raise
        if deleting is not None:
            blob.written.discard()
            return self._failed(described, deleting)
        if outcome is not IngestOutcome.STORED:
            blob.written.discard()  # already stored: identical or conflicting
            assert existing is not None
            return self._judged(described, blob.sha256, existing, stored)
        return stored

    def _judged(
        self,
        described: ScannedInstance,
        sha256: str,
        existing: instance_rows.StoredInstance,
        stored: StoredInstance,
    ) -> StoreOutcome:
        same_uids = (
            existing.study_instance_uid == described.study_instance_uid
            and existing.series_instance_uid == described.series_instance_uid
        )
        if same_uids and existing.sha256 == sha256:
            return stored
        return self._failed(
            described,
            "An instance already exists in this DICOM store with the same SOPInstanceUID, but "
            + (
                "the DICOM files differ (checksum mismatch)."
                if same_uids
                else f"in study {existing.study_instance_uid}, series "
                f"{existing.series_instance_uid}."
            ),
        )

    @staticmethod
    def _failed(described: ScannedInstance, detail: str) -> FailedInstance:
        return FailedInstance(
            failure_detail=detail,
            sop_class_uid=described.sop_class_uid,
            sop_instance_uid=described.sop_instance_uid,
        )


@dataclass(frozen=True, slots=True)
class Blob:
    """An instance's bytes under ``key``: durable once ``written`` says so."""

    key: str
    size: int
    sha256: str
    written: NewBlob


def _blob_key(target: StowTarget) -> str:
    # A new random key per upload (a blob is never rewritten in place), known before the bytes
    # are hashed so that writing them can start at once. 256 folders per store, taken in turn a
    # minute each: uploads close in time share a folder, and the fsyncs that make their entries
    # in it durable (`FileSystemBlobStore.put_new`).
    folder = int(time.time() // _FOLDER_SECONDS) % 256
    return f"{target.blob_prefix}/{folder:02x}/{uuid.uuid4().hex}"


def _bulk_data_uri(study: str, series: str, sop: str, path: str) -> str:
    """A BulkDataURI as stored: relative to ``dicomWeb``, made absolute when answered."""
    return f"studies/{study}/series/{series}/instances/{sop}/bulkdata/{path}"


def _new_instance(target: StowTarget, described: ScannedInstance, blob: Blob) -> NewInstance:
    metadata = described.metadata
    locations = {
        path: [location.offset, location.length, location.vr,
               location.is_little_endian, location.encapsulated]
        for path, location in described.bulk_data.items()
    }  # fmt: skip
    frames = (
        [[list(byte_range) for byte_range in frame] for frame in described.frames]
        if described.frames is not None
        else None
    )
    return NewInstance(
        study_instance_uid=described.study_instance_uid,
        series_instance_uid=described.series_instance_uid,
        sop_instance_uid=described.sop_instance_uid,
        sop_class_uid=described.sop_class_uid,
        transfer_syntax_uid=described.transfer_syntax_uid,
        instance_number=_first_int(metadata, "00200013"),
        number_of_frames=described.number_of_frames or None,
        blob_key=blob.key,
        blob_size_bytes=blob.size,
        sha256=blob.sha256,
        storage_class=target.storage_class,
        metadata=metadata,
        structured_size_bytes=_json_size(metadata),
        frame_ranges=frames,
        bulk_data=locations,
        study_columns=study_columns(metadata),
        study_attributes=study_attributes(metadata),
        series_columns=series_columns(metadata),
        series_attributes=series_attributes(metadata),
    )

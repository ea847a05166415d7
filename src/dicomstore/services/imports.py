"""``dicomStores.import``: Part 10 files from Cloud Storage (or S3, or a folder) into a store, as
a long-running operation (``store-features.md`` §7).

The request is checked at once (URI form, wildcards, storage class); the job then lists the
source lazily, page by page, and stores each matching object the way STOW-RS does: spooled to
local disk while hashed, header checked, bytes first, one index transaction. A few objects are
in flight at a time, so memory stays bounded whatever the number or size of the files.
Duplicates with the same content count as imported; a file that is not DICOM, or that conflicts
with a stored instance, counts as a failure and is logged with its source, as Google logs an
``ImportDicomLogEntry``. Re-running after a crash is safe: what was imported is a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from dicomstore.dicom.stow_response import FailedInstance
from dicomstore.errors import DicomStoreError, InvalidArgument, NotFound
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import dicom_stores as store_rows
from dicomstore.names import DicomStoreName
from dicomstore.objects import (
    ObjectInfo,
    ObjectPattern,
    ObjectStore,
    ObjectUri,
    parse_import_pattern,
)
from dicomstore.objects import open_object_store as default_open_object_store
from dicomstore.services.dicom_stores import store_of_operation
from dicomstore.services.jobs import Job, JobContext, JobRunner
from dicomstore.services.messages import TYPE_PREFIX, operation_message
from dicomstore.services.parallel import in_parallel
from dicomstore.services.stow import StowService, StowTarget, storage_class_named

__all__ = ["IMPORT_METHOD", "IMPORT_RESPONSE_TYPE", "ImportService"]

log = logging.getLogger(__name__)

IMPORT_METHOD = "google.cloud.healthcare.v1.dicom.DicomService.ImportDicomData"
IMPORT_RESPONSE_TYPE = TYPE_PREFIX + "google.cloud.healthcare.v1.dicom.ImportDicomDataResponse"
_IN_FLIGHT = 4  # objects downloaded and stored at once


@dataclass(frozen=True, slots=True)
class _Outcome:
    source: str
    failure: str | None


class ImportService:
    def __init__(
        self,
        index: Index,
        stow: StowService,
        jobs: JobRunner,
        open_object_store: Callable[[ObjectUri], ObjectStore] = default_open_object_store,
    ) -> None:
        self.index = index
        self.stow = stow
        self.jobs = jobs
        self._open = open_object_store
        jobs.register(IMPORT_METHOD, Job(self._run, idempotent=True))

    def start(self, name: DicomStoreName, request: dict[str, Any]) -> dict[str, Any]:
        """Check the request and queue the import; the Operation to poll."""
        source = request.get("gcsSource")
        if not source or not source.get("uri"):
            raise InvalidArgument("gcsSource.uri is required.")
        pattern = parse_import_pattern(source["uri"], field="gcsSource.uri")
        chosen = (request.get("blobStorageSettings") or {}).get("blobStorageClass")
        storage_class = storage_class_named(
            None if chosen == "BLOB_STORAGE_CLASS_UNSPECIFIED" else chosen,
            where="blobStorageSettings.blobStorageClass",
        )
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name.parent)
            store = store_rows.get(tx, dataset, name.store_id)
            job_request = {
                "dicomStore": str(name),
                "dicomStorePk": store.pk,
                "uri": str(pattern.uri),
                "storageClass": storage_class,
            }
            operation = self.jobs.start_operation(
                tx, dataset, IMPORT_METHOD, job_request, str(name)
            )
        return operation_message(operation)

    def _run(self, context: JobContext) -> dict[str, Any]:
        request = context.request
        pattern = parse_import_pattern(str(request["uri"]))
        target = self._target(request)
        objects: ObjectStore = self._open(pattern.uri)
        objects.check_bucket()
        first_failure: _Outcome | None = None
        for outcome in self._store_all(objects, pattern, target, context):
            if outcome.failure is None:
                context.add(success=1)
                continue
            context.add(failure=1)
            first_failure = first_failure or outcome
            log.warning("import of %s failed: %s", outcome.source, outcome.failure)
        context.check()
        if context.success == 0 and first_failure is not None:
            raise InvalidArgument(
                f"None of the {context.failure} files matching {pattern.uri} could be imported; "
                f"the first failure: {first_failure.source}: {first_failure.failure}"
            )
        if context.success == 0:
            raise NotFound(f"No files match {pattern.uri}.")
        return {"@type": IMPORT_RESPONSE_TYPE}

    def _target(self, request: dict[str, Any]) -> StowTarget:
        store = store_of_operation(self.index, request, "import")
        return StowTarget(
            store.pk,
            store.blob_prefix,
            dicomweb_url="",
            study_instance_uid=None,
            storage_class=str(request["storageClass"]),
            store_name=str(store.name),
        )

    def _store_all(
        self, objects: ObjectStore, pattern: ObjectPattern, target: StowTarget, context: JobContext
    ) -> Iterator[_Outcome]:
        """Each matching object's outcome, a few in flight at once, as they finish."""
        matching = (item for item in objects.list(pattern.prefix) if pattern.matches(item.name))
        store_one = partial(self._store_one, objects, pattern, target)
        for outcome in in_parallel(store_one, matching, workers=_IN_FLIGHT):
            yield outcome
            context.tick()

    def _store_one(
        self, objects: ObjectStore, pattern: ObjectPattern, target: StowTarget, item: ObjectInfo
    ) -> _Outcome:
        source = str(replace(pattern.uri, name=item.name))
        try:
            with self.stow.spool() as spool:
                spool.write_all(objects.read_chunks(item.name))
                staged = spool.finish()
        except DicomStoreError as error:  # gone since it was listed, unreadable, ...
            return _Outcome(source, error.message)
        outcome = self.stow.store(target, staged)
        if isinstance(outcome, FailedInstance):
            return _Outcome(source, outcome.failure_detail)
        return _Outcome(source, None)

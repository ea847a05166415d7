"""``dicomStores.export``: instances to Cloud Storage (or S3, or a folder) in any retrieve format,
or their metadata to an analytics table, as a long-running operation (``store-features.md`` §8).

The request is checked at once (one destination, URI and MIME type forms, table URI and write
disposition). The job walks the store in pages of primary keys, or the paths of a filter file,
so memory stays bounded whatever the size of the store. Objects are named
``{uriPrefix}{study}/{series}/{instance}.{ext}``, or ``…/{instance}/{frame}.{ext}`` per frame of
a multi-frame instance in a frame format; an object already there is overwritten. An instance
that cannot be written in the format asked for counts as a failure and is logged, as Google logs
an ``ExportDicomLogEntry``; the others are still exported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from dicomstore.blobs import BlobStore
from dicomstore.dicom.bigquery import RowExtras
from dicomstore.dicom.export_format import ExportFormat, ExportKind, parse_export_mime_type
from dicomstore.dicom.resource_paths import ResourcePath, parse_resource_paths
from dicomstore.errors import DicomStoreError, InvalidArgument
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index import instances as instance_rows
from dicomstore.index.instances import InstanceLocation
from dicomstore.names import DicomStoreName
from dicomstore.objects import ObjectStore, ObjectUri, export_prefix, parse_object_uri
from dicomstore.objects import open_object_store as default_open_object_store
from dicomstore.services.dicom_stores import store_of_operation
from dicomstore.services.jobs import Job, JobContext, JobRunner
from dicomstore.services.messages import TYPE_PREFIX, operation_message
from dicomstore.services.parallel import in_parallel
from dicomstore.services.render import RenderService
from dicomstore.services.retrieve import RetrieveService, Scope
from dicomstore.services.staging import Spool
from dicomstore.sinks.tables import (
    InstanceRecord,
    MetadataTable,
    export_metadata,
    validate_destination,
)

__all__ = ["EXPORT_METHOD", "EXPORT_RESPONSE_TYPE", "ExportService"]

log = logging.getLogger(__name__)

EXPORT_METHOD = "google.cloud.healthcare.v1.dicom.DicomService.ExportDicomData"
EXPORT_RESPONSE_TYPE = TYPE_PREFIX + "google.cloud.healthcare.v1.dicom.ExportDicomDataResponse"
_PAGE = 500
_IN_FLIGHT = 4


@dataclass(frozen=True, slots=True)
class _Outcome:
    instance: str
    failure: str | None


class ExportService:
    def __init__(
        self,
        index: Index,
        blobs: BlobStore,
        retrieve: RetrieveService,
        render: RenderService,
        jobs: JobRunner,
        *,
        metadata_table: Callable[[], MetadataTable],
        open_object_store: Callable[[ObjectUri], ObjectStore] = default_open_object_store,
    ) -> None:
        self.index = index
        self.blobs = blobs
        self.retrieve = retrieve
        self.render = render
        self._metadata_table = metadata_table
        self._open = open_object_store
        self.jobs = jobs
        jobs.register(EXPORT_METHOD, Job(self._run, idempotent=True))

    def start(self, name: DicomStoreName, request: dict[str, Any]) -> dict[str, Any]:
        """Check the request and queue the export; the Operation to poll."""
        gcs = request.get("gcsDestination")
        bigquery = request.get("bigqueryDestination")
        if (gcs is None) == (bigquery is None):
            raise InvalidArgument(
                "Exactly one of gcsDestination and bigqueryDestination is required."
            )
        job_request: dict[str, Any] = {"dicomStore": str(name)}
        if gcs is not None:
            if not gcs.get("uriPrefix"):
                raise InvalidArgument("gcsDestination.uriPrefix is required.")
            prefix = export_prefix(gcs["uriPrefix"], field="gcsDestination.uriPrefix")
            parse_export_mime_type(gcs.get("mimeType", ""), field="gcsDestination.mimeType")
            job_request["gcsDestination"] = {
                "uriPrefix": str(prefix),
                "mimeType": gcs.get("mimeType", ""),
            }
        else:
            validate_destination(bigquery or {})
            job_request["bigqueryDestination"] = bigquery
        filter_uri = (request.get("filterConfig") or {}).get("resourcePathsGcsUri")
        if filter_uri:
            field = "filterConfig.resourcePathsGcsUri"
            job_request["filter"] = str(parse_object_uri(filter_uri, field=field))
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name.parent)
            store = store_rows.get(tx, dataset, name.store_id)
            job_request["dicomStorePk"] = store.pk
            operation = self.jobs.start_operation(
                tx, dataset, EXPORT_METHOD, job_request, str(name)
            )
        return operation_message(operation)

    # --- the job -------------------------------------------------------------------------

    def _run(self, context: JobContext) -> dict[str, Any]:
        request = context.request
        store = store_of_operation(self.index, request, "export")
        name, store_pk = store.name, store.pk
        paths = self._filter_paths(request.get("filter"))
        if paths is None:
            with self.index.transaction() as tx:
                context.pending = instance_rows.store_instance_count(tx, store_pk)
        selected = self._selected(store_pk, paths)
        if "bigqueryDestination" in request:
            self._to_table(request["bigqueryDestination"], str(name), selected, context)
        else:
            self._to_objects(request["gcsDestination"], name, selected, context)
        context.pending = 0
        context.check()
        return {"@type": EXPORT_RESPONSE_TYPE}

    def _filter_paths(self, filter_uri: str | None) -> list[ResourcePath] | None:
        if filter_uri is None:
            return None
        uri = parse_object_uri(filter_uri, field="filterConfig.resourcePathsGcsUri")
        text = self._open(uri).read_text(uri.name)
        return parse_resource_paths(text, source=str(uri))

    def _selected(
        self, store_pk: int, paths: list[ResourcePath] | None
    ) -> Iterator[InstanceLocation]:
        """The instances to export: the whole store page by page, or what the filter names
        (paths that match nothing are passed over; an instance named twice goes once)."""
        if paths is None:
            after = 0
            while True:
                with self.index.transaction() as tx:
                    page = instance_rows.page_of_store(tx, store_pk, after, _PAGE)
                yield from page
                if len(page) < _PAGE:
                    return
                after = page[-1].pk
        seen: set[int] = set()
        for path in paths:
            with self.index.transaction() as tx:
                found = instance_rows.locate(tx, store_pk, path.study, path.series, path.instance)
            for instance in found:
                if instance.pk not in seen:
                    seen.add(instance.pk)
                    yield instance

    # --- to Cloud Storage, S3 or a folder ----------------------------------------------------

    def _to_objects(
        self,
        destination: dict[str, Any],
        name: DicomStoreName,
        selected: Iterable[InstanceLocation],
        context: JobContext,
    ) -> None:
        prefix = parse_object_uri(str(destination["uriPrefix"]), field="gcsDestination.uriPrefix")
        export_format = parse_export_mime_type(str(destination.get("mimeType", "")))
        objects = self._open(prefix)
        objects.check_bucket()
        write = partial(self._write_instance, objects, prefix.name, export_format, name)
        for outcome in in_parallel(write, selected, workers=_IN_FLIGHT):
            if outcome.failure is None:
                context.add(success=1)
            else:
                context.add(failure=1)
                log.warning("export of %s failed: %s", outcome.instance, outcome.failure)
            context.pending = max(0, context.pending - 1)
            context.tick()

    def _write_instance(
        self,
        objects: ObjectStore,
        prefix: str,
        export_format: ExportFormat,
        store: DicomStoreName,
        instance: InstanceLocation,
    ) -> _Outcome:
        base = (
            f"{prefix}{instance.study_instance_uid}/{instance.series_instance_uid}/"
            f"{instance.sop_instance_uid}"
        )
        try:
            if export_format.kind is ExportKind.PART10:
                self._write_part10(objects, base, export_format, instance)
            else:
                self._write_frames(objects, base, export_format, store, instance)
        except DicomStoreError as error:
            return _Outcome(base, error.message)
        except Exception as error:  # undecodable pixel data and the like: this instance fails
            log.exception("export of %s failed", base)
            return _Outcome(base, f"{type(error).__name__}: {error}")
        return _Outcome(base, None)

    def _write_part10(
        self,
        objects: ObjectStore,
        base: str,
        export_format: ExportFormat,
        instance: InstanceLocation,
    ) -> None:
        _syntax, chunks = self.retrieve.instance_chunks(instance, export_format.transfer_syntax)
        with Spool(self.blobs.staging_dir()) as spool:
            spool.write_all(chunks)
            staged = spool.finish()
        try:
            objects.write_file(base + export_format.extension, staged.path,
                               "application/dicom")  # fmt: skip
        finally:
            staged.discard()

    def _write_frames(
        self,
        objects: ObjectStore,
        base: str,
        export_format: ExportFormat,
        store: DicomStoreName,
        instance: InstanceLocation,
    ) -> None:
        count = instance.number_of_frames or 0
        if count == 0:
            raise InvalidArgument("The instance has no pixel data, so it has no frames to export.")
        frames: Iterator[bytes]
        if export_format.kind is ExportKind.FRAMES:
            scope = Scope(store, instance.study_instance_uid, instance.series_instance_uid,
                          instance.sop_instance_uid)  # fmt: skip
            frames = (
                self.retrieve.frames(scope, [number], export_format.transfer_syntax)[0].data
                for number in range(1, count + 1)
            )
        else:
            frames = self.render.each_frame(instance, str(export_format.kind))
        content_type = export_format.content_type
        for number, frame in enumerate(frames, start=1):
            name = f"{base}/{number}" if count > 1 else base
            objects.write_bytes(name + export_format.extension, frame, content_type)

    # --- to an analytics table ------------------------------------------------------------

    def _to_table(
        self,
        destination: dict[str, Any],
        store_name: str,
        selected: Iterable[InstanceLocation],
        context: JobContext,
    ) -> None:
        source = store_name if destination.get("includeSourceStore") else None

        def progress(written: int) -> None:
            context.pending = max(0, context.pending - (written - context.success))
            context.success = written
            context.tick()

        export_metadata(
            destination,
            self._records(selected, source),
            backend=self._metadata_table(),
            progress=progress,
            spool_dir=self.blobs.staging_dir(),
        )

    def _records(
        self, selected: Iterable[InstanceLocation], source: str | None
    ) -> Iterator[InstanceRecord]:
        """Each instance's metadata and extra columns, read from the index a page at a time."""
        page: list[InstanceLocation] = []
        for instance in selected:
            page.append(instance)
            if len(page) == _PAGE:
                yield from self._records_of(page, source)
                page = []
        yield from self._records_of(page, source)

    def _records_of(
        self, page: list[InstanceLocation], source: str | None
    ) -> Iterator[InstanceRecord]:
        if not page:
            return
        with self.index.transaction() as tx:
            documents = instance_rows.documents_of(tx, [instance.pk for instance in page])
        for instance in page:
            document = documents.get(instance.pk)
            if document is None:  # deleted since it was listed
                continue
            yield InstanceRecord(
                json.loads(document.metadata_text),
                RowExtras(
                    structured_size=instance.structured_size_bytes,
                    blob_size=instance.blob_size_bytes,
                    storage_class=instance.storage_class,
                    last_updated=document.update_time,
                    source_store=source,
                ),
            )

"""DICOMweb delete (``dicomweb-conformance.md`` §5): studies and series as long-running operations
run by a job worker, instances at once. Rows go in one transaction first; the bytes are removed
once it has committed, so a crash in between leaves orphan blobs for the sweep, never rows
without bytes."""

from __future__ import annotations

from typing import Any

from dicomstore.blobs import BlobStore
from dicomstore.errors import NotFound
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index import instances as instance_rows
from dicomstore.names import DicomStoreName
from dicomstore.services.cleanup import remove_blobs
from dicomstore.services.jobs import Job, JobContext, JobRunner
from dicomstore.services.messages import EMPTY_TYPE, operation_message

__all__ = [
    "DELETE_SERIES_METHOD",
    "DELETE_STUDY_METHOD",
    "DicomWebDeleteService",
    "deletion_target",
]

DELETE_STUDY_METHOD = "google.cloud.healthcare.v1.dicomweb.DicomWebService.DeleteStudy"
DELETE_SERIES_METHOD = "google.cloud.healthcare.v1.dicomweb.DicomWebService.DeleteSeries"


class DicomWebDeleteService:
    def __init__(self, index: Index, blobs: BlobStore, jobs: JobRunner) -> None:
        self.index = index
        self.blobs = blobs
        self.jobs = jobs
        for method in (DELETE_STUDY_METHOD, DELETE_SERIES_METHOD):
            jobs.register(method, Job(self._run_delete, idempotent=True))

    def delete_study(self, name: DicomStoreName, study: str) -> dict[str, Any]:
        return self._delete_as_operation(name, DELETE_STUDY_METHOD, study, None)

    def delete_series(self, name: DicomStoreName, study: str, series: str) -> dict[str, Any]:
        return self._delete_as_operation(name, DELETE_SERIES_METHOD, study, series)

    def delete_instance(
        self, name: DicomStoreName, study: str, series: str, sop: str
    ) -> dict[str, Any]:
        with self.index.transaction() as tx:
            store = store_rows.get_by_name(tx, name)
            keys = instance_rows.remove(tx, store.pk, study, series, sop)
            if not keys:
                raise NotFound(f"Instance {sop} of series {series} in study {study} not found.")
        remove_blobs(self.blobs, keys)
        return {}

    def _delete_as_operation(
        self, name: DicomStoreName, method: str, study: str, series: str | None
    ) -> dict[str, Any]:
        # Unknown targets are refused at once (404); the rows and bytes go in the background.
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name.parent)
            store = store_rows.get(tx, dataset, name.store_id)
            if series is None:
                found = instance_rows.study_totals(tx, store.pk, study)
            else:
                found = instance_rows.series_totals(tx, store.pk, study, series)
            if found is None:
                what = f"Series {series} in study {study}" if series else f"Study {study}"
                raise NotFound(f"{what} not found.")
            request = {"dicomStorePk": store.pk, "study": study, "series": series}
            operation = self.jobs.start_operation(
                tx, dataset, method, request, deletion_target(str(name), study, series)
            )
        return operation_message(operation)

    def _run_delete(self, context: JobContext) -> dict[str, Any]:
        """The job: rows in one transaction, then the bytes. Idempotent: run again after a crash
        it finds fewer (or no) rows and removes what is left."""
        context.check()
        request = context.request
        with self.index.transaction() as tx:
            keys = instance_rows.remove(
                tx, int(request["dicomStorePk"]), str(request["study"]), request.get("series")
            )
        context.add(success=len(keys))
        remove_blobs(self.blobs, keys)
        return {"@type": EMPTY_TYPE}


def deletion_target(store: str, study: str, series: str | None = None) -> str:
    """The ``target`` of a study or series delete: the DICOMweb path of what goes."""
    target = f"{store}/dicomWeb/studies/{study}"
    return target if series is None else f"{target}/series/{series}"

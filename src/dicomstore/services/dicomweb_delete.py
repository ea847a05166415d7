"""DICOMweb delete (``dicomweb-conformance.md`` §5): studies and series as operations, instances
at once. Rows go in one transaction first; the bytes are removed once it has committed, so a
crash in between leaves orphan blobs for the sweep, never rows without bytes."""

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
from dicomstore.services.messages import EMPTY_TYPE, operation_message
from dicomstore.services.operations import record_finished_operation

__all__ = ["DELETE_SERIES_METHOD", "DELETE_STUDY_METHOD", "DicomWebDeleteService"]

DELETE_STUDY_METHOD = "google.cloud.healthcare.v1.dicomweb.DicomWebService.DeleteStudy"
DELETE_SERIES_METHOD = "google.cloud.healthcare.v1.dicomweb.DicomWebService.DeleteSeries"


class DicomWebDeleteService:
    def __init__(self, index: Index, blobs: BlobStore) -> None:
        self.index = index
        self.blobs = blobs

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
        # The work is done before answering, so the operation is born finished; the operations
        # machinery runs long deletes in the background.
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name.parent)
            store = store_rows.get(tx, dataset, name.store_id)
            keys = instance_rows.remove(tx, store.pk, study, series)
            if not keys:
                what = f"Series {series} in study {study}" if series else f"Study {study}"
                raise NotFound(f"{what} not found.")
            operation = record_finished_operation(tx, dataset, method, {"@type": EMPTY_TYPE})
        remove_blobs(self.blobs, keys)
        return operation_message(operation)

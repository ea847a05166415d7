"""Store, study and series metrics and instance storage info (``google-dicom-api.md`` §2)."""

from __future__ import annotations

from typing import Any

from dicomstore.clock import format_timestamp
from dicomstore.errors import NotFound
from dicomstore.index import Index
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index import instances as instance_rows
from dicomstore.index.instances import Totals
from dicomstore.names import DicomStoreName

__all__ = ["MetricsService"]


def _sizes(totals: Totals) -> dict[str, str]:
    return {
        "structuredStorageSizeBytes": str(totals.structured_size_bytes),
        "blobStorageSizeBytes": str(totals.blob_size_bytes),
    }


def _without_zeros(message: dict[str, str]) -> dict[str, str]:
    # proto3 JSON leaves out int64 fields that are 0.
    return {key: value for key, value in message.items() if value != "0"}


class MetricsService:
    def __init__(self, index: Index) -> None:
        self.index = index

    def store_metrics(self, name: DicomStoreName) -> dict[str, Any]:
        with self.index.transaction() as tx:
            totals = instance_rows.store_totals(tx, store_rows.get_by_name(tx, name).pk)
        return {
            "name": str(name),
            **_without_zeros(
                {
                    "studyCount": str(totals.study_count),
                    "seriesCount": str(totals.series_count),
                    "instanceCount": str(totals.instance_count),
                    **_sizes(totals),
                }
            ),
        }

    def study_metrics(self, name: DicomStoreName, study: str) -> dict[str, Any]:
        with self.index.transaction() as tx:
            totals = instance_rows.study_totals(tx, store_rows.get_by_name(tx, name).pk, study)
        if totals is None:
            raise NotFound(f"Study {study} not found.")
        return {
            "study": f"{name}/dicomWeb/studies/{study}",
            **_without_zeros(
                {
                    "seriesCount": str(totals.series_count),
                    "instanceCount": str(totals.instance_count),
                    **_sizes(totals),
                }
            ),
        }

    def series_metrics(self, name: DicomStoreName, study: str, series: str) -> dict[str, Any]:
        with self.index.transaction() as tx:
            store_pk = store_rows.get_by_name(tx, name).pk
            totals = instance_rows.series_totals(tx, store_pk, study, series)
        if totals is None:
            raise NotFound(f"Series {series} in study {study} not found.")
        return {
            "series": f"{name}/dicomWeb/studies/{study}/series/{series}",
            **_without_zeros({"instanceCount": str(totals.instance_count), **_sizes(totals)}),
        }

    def storage_info(
        self, name: DicomStoreName, study: str, series: str, sop: str
    ) -> dict[str, Any]:
        with self.index.transaction() as tx:
            store_pk = store_rows.get_by_name(tx, name).pk
            found = instance_rows.locate(tx, store_pk, study, series, sop)
        if not found:
            raise NotFound(f"Instance {sop} of series {series} in study {study} not found.")
        instance = found[0]
        blob_info: dict[str, str] = {
            "sizeBytes": str(instance.blob_size_bytes),
            "storageClass": instance.storage_class,
        }
        if instance.storage_class_update_time is not None:
            blob_info["storageClassUpdateTime"] = format_timestamp(
                instance.storage_class_update_time
            )
        return {
            "referencedResource": (
                f"{name}/dicomWeb/studies/{study}/series/{series}/instances/{sop}"
            ),
            "structuredStorageInfo": {"sizeBytes": str(instance.structured_size_bytes)},
            "blobStorageInfo": blob_info,
        }

"""Instances to export: pydicom's bundled test files as the store keeps them (DICOM JSON)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pydicom
from pydicom.data import get_testdata_file

from dicomstore.dicom.bigquery import RowExtras
from dicomstore.sinks import InstanceRecord

FILES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "test-SR.dcm")
STORE = "projects/p/locations/l/datasets/d/dicomStores/s"


def metadata_of(name: str) -> dict[str, Any]:
    """A test file's DICOM JSON, file meta information included, bulk data as BulkDataURIs."""
    dataset = pydicom.dcmread(get_testdata_file(name))
    metadata: dict[str, Any] = dataset.file_meta.to_json_dict()
    metadata.update(
        dataset.to_json_dict(bulk_data_element_handler=lambda element: f"bulk/{element.tag:08X}")
    )
    return metadata


def extras(index: int = 0, source_store: str | None = STORE) -> RowExtras:
    return RowExtras(
        structured_size=1000 + index,
        blob_size=20000 + index,
        storage_class="STANDARD",
        last_updated=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        source_store=source_store,
    )


def records(*names: str) -> list[InstanceRecord]:
    return [
        InstanceRecord(metadata_of(name), extras(index))
        for index, name in enumerate(names or FILES)
    ]

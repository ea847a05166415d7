"""The API's resources as proto3 JSON messages, the form every transport answers with.

Field names, ``@type`` URLs and int64-as-string follow ``shared/spec/google-dicom-api.md`` §0, §1
and §4; fields holding their default value are left out, as proto3 JSON does.
"""

from __future__ import annotations

from typing import Any

from dicomstore.clock import format_timestamp
from dicomstore.index.datasets import DatasetRow
from dicomstore.index.dicom_stores import DicomStoreRow
from dicomstore.index.operations import OperationRow

__all__ = [
    "DATASET_TYPE",
    "EMPTY_TYPE",
    "OPERATION_METADATA_TYPE",
    "TYPE_PREFIX",
    "dataset_message",
    "dicom_store_message",
    "operation_message",
]

TYPE_PREFIX = "type.googleapis.com/"
DATASET_TYPE = TYPE_PREFIX + "google.cloud.healthcare.v1.dataset.Dataset"
OPERATION_METADATA_TYPE = TYPE_PREFIX + "google.cloud.healthcare.v1.OperationMetadata"
EMPTY_TYPE = TYPE_PREFIX + "google.protobuf.Empty"


def _without_defaults(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if value not in (None, "", [], {}, False)}


def dataset_message(dataset: DatasetRow) -> dict[str, Any]:
    return _without_defaults(
        {
            "name": str(dataset.name),
            "timeZone": dataset.time_zone,
            "encryptionSpec": dataset.encryption_spec,
        }
    )


def dicom_store_message(store: DicomStoreRow) -> dict[str, Any]:
    config = store.config
    return _without_defaults(
        {
            "name": str(store.name),
            "labels": config.labels,
            "notificationConfig": config.notification_config,
            "notificationConfigs": config.notification_configs,
            "streamConfigs": config.stream_configs,
        }
    )


def operation_message(operation: OperationRow) -> dict[str, Any]:
    counter = operation.counter
    metadata = _without_defaults(
        {
            "apiMethodName": operation.api_method_name,
            "createTime": format_timestamp(operation.create_time),
            "endTime": format_timestamp(operation.end_time) if operation.end_time else None,
            "cancelRequested": operation.cancel_requested,
            "counter": _without_defaults(
                {
                    "success": str(counter.success) if counter.success else None,
                    "failure": str(counter.failure) if counter.failure else None,
                    "pending": str(counter.pending) if counter.pending else None,
                    "secondarySuccess": (
                        str(counter.secondary_success) if counter.secondary_success else None
                    ),
                    "secondaryFailure": (
                        str(counter.secondary_failure) if counter.secondary_failure else None
                    ),
                }
            ),
        }
    )
    message: dict[str, Any] = {
        "name": str(operation.name),
        "metadata": {"@type": OPERATION_METADATA_TYPE, **metadata},
    }
    if operation.done:
        message["done"] = True
        if operation.error is not None:
            message["error"] = operation.error
        else:
            message["response"] = operation.response
    return message

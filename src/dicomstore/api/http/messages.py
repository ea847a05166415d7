"""Request bodies: proto3 JSON checked against the shape of the API's messages.

Google's front end refuses a body that does not parse into the request message — unknown field,
wrong type, bad enum — before any method runs; so do we, with the same wording
(``Invalid JSON payload received. Unknown name "x" at 'dicom_store': Cannot find field.``).
Both the lowerCamelCase JSON names and the original snake_case names are accepted, as proto3 JSON
parsers do; the parsed message uses the camelCase names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from dicomstore.errors import InvalidArgument

__all__ = [
    "DATASET",
    "DICOM_STORE",
    "EMPTY",
    "EXPORT_DICOM_DATA",
    "IMPORT_DICOM_DATA",
    "MessageType",
    "parse_body",
]


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


@dataclass(frozen=True)
class Scalar:
    proto_type: str  # TYPE_STRING, TYPE_BOOL, TYPE_INT64 …
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Repeated:
    item: FieldType


@dataclass(frozen=True)
class MapOf:
    value: FieldType


@dataclass(frozen=True)
class MessageType:
    full_name: str
    fields: dict[str, FieldType] = field(default_factory=dict)


FieldType = Scalar | Repeated | MapOf | MessageType

STRING = Scalar("TYPE_STRING")
BOOL = Scalar("TYPE_BOOL")

EMPTY = MessageType("google.protobuf.Empty")

DATASET = MessageType(
    "google.cloud.healthcare.v1.dataset.Dataset",
    {
        "name": STRING,
        "timeZone": STRING,
        "encryptionSpec": MessageType(
            "google.cloud.healthcare.v1.dataset.EncryptionSpec", {"kmsKeyName": STRING}
        ),
        "satisfiesPzs": BOOL,
        "satisfiesPzi": BOOL,
    },
)

_BIGQUERY_DESTINATION = MessageType(
    "google.cloud.healthcare.v1.dicom.BigQueryDestination",
    {
        "tableUri": STRING,
        "force": BOOL,
        "writeDisposition": Scalar(
            "TYPE_ENUM",
            ("WRITE_DISPOSITION_UNSPECIFIED", "WRITE_EMPTY", "WRITE_TRUNCATE", "WRITE_APPEND"),
        ),
        "schemaFlattened": MessageType("google.cloud.healthcare.v1.dicom.SchemaFlattened"),
        "schemaJson": MessageType("google.cloud.healthcare.v1.dicom.SchemaJSON"),
        "includeSourceStore": BOOL,
    },
)

DICOM_STORE = MessageType(
    "google.cloud.healthcare.v1.dicom.DicomStore",
    {
        "name": STRING,
        "labels": MapOf(STRING),
        "notificationConfig": MessageType(
            "google.cloud.healthcare.v1.NotificationConfig",
            {"pubsubTopic": STRING, "sendForBulkImport": BOOL},
        ),
        "notificationConfigs": Repeated(
            MessageType(
                "google.cloud.healthcare.v1.dicom.DicomNotificationConfig", {"pubsubTopic": STRING}
            )
        ),
        "streamConfigs": Repeated(
            MessageType(
                "google.cloud.healthcare.v1.dicom.StreamConfig",
                {"bigqueryDestination": _BIGQUERY_DESTINATION},
            )
        ),
    },
)


IMPORT_DICOM_DATA = MessageType(
    "google.cloud.healthcare.v1.dicom.ImportDicomDataRequest",
    {
        "gcsSource": MessageType("google.cloud.healthcare.v1.dicom.GcsSource", {"uri": STRING}),
        "blobStorageSettings": MessageType(
            "google.cloud.healthcare.v1.BlobStorageSettings",
            {
                "blobStorageClass": Scalar(
                    "TYPE_ENUM",
                    (
                        "BLOB_STORAGE_CLASS_UNSPECIFIED",
                        "STANDARD",
                        "NEARLINE",
                        "COLDLINE",
                        "ARCHIVE",
                    ),
                )
            },
        ),
    },
)

EXPORT_DICOM_DATA = MessageType(
    "google.cloud.healthcare.v1.dicom.ExportDicomDataRequest",
    {
        "gcsDestination": MessageType(
            "google.cloud.healthcare.v1.dicom.GcsDestination",
            {"uriPrefix": STRING, "mimeType": STRING},
        ),
        "bigqueryDestination": _BIGQUERY_DESTINATION,
        "filterConfig": MessageType(
            "google.cloud.healthcare.v1.dicom.DicomFilterConfig", {"resourcePathsGcsUri": STRING}
        ),
    },
)


def _is_text(value: str) -> bool:
    """Whether ``value`` is Unicode text; JSON's ``\\ud800`` escapes can smuggle in lone
    surrogates, which no proto string may hold (it must be valid UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _invalid_value(where: str, kind: FieldType, value: Any) -> InvalidArgument:
    described = kind.proto_type if isinstance(kind, Scalar) else "TYPE_MESSAGE"
    shown = json.dumps(value, ensure_ascii=False)
    if not _is_text(shown):
        shown = json.dumps(value)
    if len(shown) > 64:
        shown = shown[:61] + "..."
    return InvalidArgument(
        f"Invalid JSON payload received. Invalid value at '{where}' ({described}), {shown}"
    )


def _parse_value(kind: FieldType, value: Any, where: str) -> Any:
    if isinstance(kind, Scalar):
        if kind.proto_type == "TYPE_STRING" and isinstance(value, str) and _is_text(value):
            return value
        if kind.proto_type == "TYPE_BOOL" and isinstance(value, bool):
            return value
        if kind.proto_type == "TYPE_ENUM" and value in kind.enum:
            return value
        raise _invalid_value(where, kind, value)
    if isinstance(kind, Repeated):
        if not isinstance(value, list):
            raise _invalid_value(where, kind, value)
        return [_parse_value(kind.item, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(kind, MapOf):
        if not isinstance(value, dict) or not all(map(_is_text, value)):
            raise _invalid_value(where, kind, value)
        return {
            key: _parse_value(kind.value, item, f"{where}[{key}]") for key, item in value.items()
        }
    return _parse_message(kind, value, where)


def _parse_message(kind: MessageType, value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid_value(where, kind, value)
    by_snake = {_snake(name): name for name in kind.fields}
    parsed: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in kind.fields else by_snake.get(key)
        if name is None:
            raise InvalidArgument(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                "Cannot find field."
            )
        if item is not None:  # null means "default" in proto3 JSON
            parsed[name] = _parse_value(kind.fields[name], item, f"{where}.{_snake(name)}")
    return parsed


def parse_body(raw: bytes, kind: MessageType, where: str) -> dict[str, Any]:
    """Parse a request body into ``kind``; an empty body is the empty message."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidArgument(f"Invalid JSON payload received. {error}.") from error
    except RecursionError as error:
        raise InvalidArgument(
            "Invalid JSON payload received. The JSON is nested too deeply."
        ) from error
    if not isinstance(value, dict):
        raise InvalidArgument(
            f"Invalid JSON payload received. Expected an object for '{where}', got "
            f"{type(value).__name__}."
        )
    return _parse_message(kind, value, where)

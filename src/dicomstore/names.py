"""Resource names and the ID rules of the Cloud Healthcare API v1.

Names are Google's: ``projects/{p}/locations/{l}/datasets/{d}/dicomStores/{s}`` and
``projects/{p}/locations/{l}/datasets/{d}/operations/{o}`` (``shared/spec/google-dicom-api.md`` §1).
IDs of datasets and DICOM stores are 1–256 Unicode letters, digits, ``_``, ``-`` and ``.``
(``[\\p{L}\\p{N}_\\-\\.]{1,256}``); ``.`` and ``..`` alone are refused since they read as path
segments.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from dicomstore.errors import InvalidArgument

__all__ = [
    "DatasetName",
    "DicomStoreName",
    "LocationName",
    "OperationName",
    "validate_resource_id",
]

_MAX_ID_LENGTH = 256
_ID_PUNCTUATION = frozenset("_-.")
# Project IDs (6–30 chars) and numbers, and legacy domain-scoped IDs such as example.com:proj.
# ASCII only: under IGNORECASE alone, "K" (KELVIN SIGN) and "ſ" would pass as k and s.
_PROJECT_RE = re.compile(r"[a-z0-9][a-z0-9.:-]{0,99}", re.IGNORECASE | re.ASCII)
_LOCATION_RE = re.compile(r"[a-z][a-z0-9-]{0,62}")
_OPERATION_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _is_id_char(char: str) -> bool:
    return char in _ID_PUNCTUATION or unicodedata.category(char)[0] in "LN"


def validate_resource_id(value: str, kind: str) -> str:
    """Check a dataset or DICOM store ID against Google's rule; return it unchanged."""
    if not value:
        raise InvalidArgument(f"{kind} must not be empty.")
    if len(value) > _MAX_ID_LENGTH:
        raise InvalidArgument(
            f"{kind} {value[:32]!r}... is {len(value)} characters long; the maximum is "
            f"{_MAX_ID_LENGTH}."
        )
    if value in (".", ".."):
        raise InvalidArgument(f"{kind} {value!r} is not a valid ID.")
    bad = sorted({c for c in value if not _is_id_char(c)})
    if bad:
        raise InvalidArgument(
            f"{kind} {value!r} is invalid: it may contain only letters, numbers, underscores, "
            f"dashes and periods (found {''.join(bad)!r})."
        )
    return value


def _validate_project(project: str) -> str:
    if not _PROJECT_RE.fullmatch(project):
        raise InvalidArgument(f"Invalid project ID {project!r}.")
    return project


def _validate_location(location: str) -> str:
    if not _LOCATION_RE.fullmatch(location):
        raise InvalidArgument(f"Invalid location ID {location!r}.")
    return location


@dataclass(frozen=True, slots=True)
class LocationName:
    project: str
    location: str

    @classmethod
    def of(cls, project: str, location: str) -> LocationName:
        return cls(_validate_project(project), _validate_location(location))

    def __str__(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def dataset(self, dataset_id: str) -> DatasetName:
        return DatasetName(self, validate_resource_id(dataset_id, "Dataset ID"))


@dataclass(frozen=True, slots=True)
class DatasetName:
    parent: LocationName
    dataset_id: str

    @classmethod
    def of(cls, project: str, location: str, dataset: str) -> DatasetName:
        return LocationName.of(project, location).dataset(dataset)

    def __str__(self) -> str:
        return f"{self.parent}/datasets/{self.dataset_id}"

    def dicom_store(self, store_id: str) -> DicomStoreName:
        return DicomStoreName(self, validate_resource_id(store_id, "DICOM store ID"))

    def operation(self, operation_id: str) -> OperationName:
        if not _OPERATION_RE.fullmatch(operation_id):
            raise InvalidArgument(f"Invalid operation ID {operation_id!r}.")
        return OperationName(self, operation_id)


@dataclass(frozen=True, slots=True)
class DicomStoreName:
    parent: DatasetName
    store_id: str

    @classmethod
    def of(cls, project: str, location: str, dataset: str, store: str) -> DicomStoreName:
        return DatasetName.of(project, location, dataset).dicom_store(store)

    @classmethod
    def parse(cls, name: str) -> DicomStoreName:
        """``projects/{p}/locations/{l}/datasets/{d}/dicomStores/{s}`` back to its parts."""
        parts = name.split("/")
        if len(parts) != 8 or parts[0::2] != ["projects", "locations", "datasets", "dicomStores"]:
            raise InvalidArgument(f"Invalid DICOM store name {name!r}.")
        return cls.of(*parts[1::2])

    def __str__(self) -> str:
        return f"{self.parent}/dicomStores/{self.store_id}"


@dataclass(frozen=True, slots=True)
class OperationName:
    parent: DatasetName
    operation_id: str

    def __str__(self) -> str:
        return f"{self.parent}/operations/{self.operation_id}"

"""``projects.locations.datasets``: create, get, list, patch, delete."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dicomstore.blobs import BlobStore
from dicomstore.clock import utcnow
from dicomstore.errors import InvalidArgument
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import dicom_stores as store_rows
from dicomstore.names import DatasetName, LocationName
from dicomstore.services.cleanup import remove_store_blobs
from dicomstore.services.field_mask import parse_update_mask
from dicomstore.services.messages import DATASET_TYPE, dataset_message, operation_message
from dicomstore.services.operations import record_finished_operation
from dicomstore.services.paging import PageRequest

__all__ = ["CREATE_DATASET_METHOD", "DatasetService"]

CREATE_DATASET_METHOD = "google.cloud.healthcare.v1.dataset.DatasetService.CreateDataset"
_UPDATABLE = {"timeZone": "timeZone", "time_zone": "timeZone"}
_KMS_KEY_RE = re.compile(
    r"projects/[^/]+/locations/(?P<location>[^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+"
)


def _validate_time_zone(time_zone: str) -> str:
    if time_zone:
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise InvalidArgument(
                f"Invalid timeZone {time_zone!r}: expected an IANA time zone such as "
                "'America/New_York'."
            ) from error
    return time_zone


def _validate_encryption_spec(spec: dict[str, Any] | None, location: str) -> dict[str, Any] | None:
    if not spec:
        return None
    key = spec.get("kmsKeyName", "")
    match = _KMS_KEY_RE.fullmatch(key)
    if match is None:
        raise InvalidArgument(
            f"Invalid encryptionSpec.kmsKeyName {key!r}: expected "
            "projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}."
        )
    if match["location"] != location:
        raise InvalidArgument(
            f"The KMS key must be in the dataset's location {location!r}; it is in "
            f"{match['location']!r}."
        )
    return {"kmsKeyName": key}


class DatasetService:
    def __init__(self, index: Index, blobs: BlobStore) -> None:
        self.index = index
        self.blobs = blobs

    def create(self, parent: LocationName, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create the dataset; answers the (already finished) CreateDataset operation."""
        name = parent.dataset(dataset_id)
        time_zone = _validate_time_zone(body.get("timeZone", ""))
        encryption_spec = _validate_encryption_spec(body.get("encryptionSpec"), parent.location)
        with self.index.transaction() as tx:
            dataset = dataset_rows.insert(
                tx, name, time_zone=time_zone, encryption_spec=encryption_spec, now=utcnow()
            )
            response = {"@type": DATASET_TYPE, **dataset_message(dataset)}
            operation = record_finished_operation(tx, dataset, CREATE_DATASET_METHOD, response)
        return operation_message(operation)

    def get(self, name: DatasetName) -> dict[str, Any]:
        with self.index.transaction() as tx:
            return dataset_message(dataset_rows.get(tx, name))

    def list(
        self, parent: LocationName, page_size: int | None, page_token: str | None
    ) -> dict[str, Any]:
        page = PageRequest.parse(page_size, page_token)
        if page.after is not None and not isinstance(page.after, str):
            raise InvalidArgument("Invalid page token.")
        with self.index.transaction() as tx:
            rows = dataset_rows.list_page(tx, parent, after=page.after, limit=page.size + 1)
        answer: dict[str, Any] = {}
        if rows:
            answer["datasets"] = [dataset_message(row) for row in rows[: page.size]]
        if len(rows) > page.size:
            answer["nextPageToken"] = page.next_token(rows[page.size - 1].name.dataset_id)
        return answer

    def patch(
        self, name: DatasetName, body: dict[str, Any], update_mask: str | None
    ) -> dict[str, Any]:
        fields = parse_update_mask(update_mask, _UPDATABLE)
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name, for_update=True)
            time_zone = dataset.time_zone
            if "timeZone" in fields:
                time_zone = _validate_time_zone(body.get("timeZone", ""))
            return dataset_message(dataset_rows.update(tx, dataset, time_zone=time_zone))

    def delete(self, name: DatasetName) -> dict[str, Any]:
        """Delete the dataset with every store and all data in it."""
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name)
            prefixes = [store.blob_prefix for store in store_rows.iterate(tx, dataset, after=None)]
            dataset_rows.delete(tx, dataset)
        remove_store_blobs(self.blobs, prefixes)
        return {}

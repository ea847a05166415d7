"""``projects.locations.datasets.dicomStores``: create, get, list, patch, delete.

Notification and stream configurations are validated, stored and returned here; the services
that act on them read them from the store row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from typing import Any

from dicomstore.blobs import BlobStore
from dicomstore.clock import utcnow
from dicomstore.errors import InvalidArgument, NotFound
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index.dicom_stores import DicomStoreConfig, DicomStoreRow
from dicomstore.labels import validate_labels
from dicomstore.list_filter import parse_label_filter
from dicomstore.names import DatasetName, DicomStoreName
from dicomstore.services.cleanup import remove_store_blobs
from dicomstore.services.field_mask import apply_update_mask, parse_update_mask
from dicomstore.services.messages import dicom_store_message
from dicomstore.services.paging import PageRequest

__all__ = ["DicomStoreService", "store_of_operation"]

_UPDATABLE = {
    "labels": "labels",
    "notificationConfig": "notificationConfig",
    "notification_config": "notificationConfig",
    # Sub-fields of the singular notificationConfig: gcloud's dicom-stores update sends these.
    "notificationConfig.pubsubTopic": "notificationConfig.pubsubTopic",
    "notification_config.pubsub_topic": "notificationConfig.pubsubTopic",
    "notificationConfig.sendForBulkImport": "notificationConfig.sendForBulkImport",
    "notification_config.send_for_bulk_import": "notificationConfig.sendForBulkImport",
    "notificationConfigs": "notificationConfigs",
    "notification_configs": "notificationConfigs",
    "streamConfigs": "streamConfigs",
    "stream_configs": "streamConfigs",
}
_TOPIC_RE = re.compile(r"projects/[^/]+/topics/[^/]+")
_TABLE_URI_RE = re.compile(r"bq://[^./]+\.[^./]+\.[^./]+")


def _validate_topic(topic: str, where: str) -> str:
    if not _TOPIC_RE.fullmatch(topic):
        raise InvalidArgument(
            f"Invalid {where}.pubsubTopic {topic!r}: expected projects/PROJECT_ID/topics/TOPIC_ID."
        )
    return topic


def _notification_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if not config:
        return None
    if config.get("pubsubTopic"):
        _validate_topic(config["pubsubTopic"], "notificationConfig")
    return {key: value for key, value in config.items() if value not in ("", False, None)} or None


def _notification_configs(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for index, config in enumerate(configs):
        _validate_topic(config.get("pubsubTopic", ""), f"notificationConfigs[{index}]")
    return configs


def _stream_configs(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for index, config in enumerate(configs):
        table_uri = config.get("bigqueryDestination", {}).get("tableUri", "")
        if not _TABLE_URI_RE.fullmatch(table_uri):
            raise InvalidArgument(
                f"Invalid streamConfigs[{index}].bigqueryDestination.tableUri {table_uri!r}: "
                "expected bq://PROJECT_ID.DATASET_ID.TABLE_ID."
            )
    return configs


def _config(message: dict[str, Any]) -> DicomStoreConfig:
    """The configuration a DicomStore message asks for, validated."""
    return DicomStoreConfig(
        labels=validate_labels(message.get("labels", {})),
        notification_config=_notification_config(message.get("notificationConfig")),
        notification_configs=_notification_configs(message.get("notificationConfigs", [])),
        stream_configs=_stream_configs(message.get("streamConfigs", [])),
    )


class DicomStoreService:
    def __init__(self, index: Index, blobs: BlobStore) -> None:
        self.index = index
        self.blobs = blobs

    def create(self, parent: DatasetName, store_id: str, body: dict[str, Any]) -> dict[str, Any]:
        name = parent.dicom_store(store_id)
        config = _config(body)
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, parent)
            store = store_rows.insert(tx, dataset, name.store_id, config, utcnow())
        return dicom_store_message(store)

    def get(self, name: DicomStoreName) -> dict[str, Any]:
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name.parent)
            return dicom_store_message(store_rows.get(tx, dataset, name.store_id))

    def list(
        self,
        parent: DatasetName,
        page_size: int | None,
        page_token: str | None,
        filter_text: str | None,
    ) -> dict[str, Any]:
        matches = parse_label_filter(filter_text) if filter_text else None
        page = PageRequest.parse(page_size, page_token, query=filter_text or "")
        if page.after is not None and not isinstance(page.after, str):
            raise InvalidArgument("Invalid page token.")
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, parent)
            stores: Iterator[DicomStoreRow] = store_rows.iterate(tx, dataset, after=page.after)
            if matches is not None:
                stores = (store for store in stores if matches(store.config.labels))
            rows = list(islice(stores, page.size + 1))
        answer: dict[str, Any] = {}
        if rows:
            answer["dicomStores"] = [dicom_store_message(row) for row in rows[: page.size]]
        if len(rows) > page.size:
            answer["nextPageToken"] = page.next_token(rows[page.size - 1].name.store_id)
        return answer

    def patch(
        self, name: DicomStoreName, body: dict[str, Any], update_mask: str | None
    ) -> dict[str, Any]:
        fields = parse_update_mask(update_mask, _UPDATABLE)
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name.parent)
            store = store_rows.get(tx, dataset, name.store_id)
            config = _config(apply_update_mask(dicom_store_message(store), body, fields))
            return dicom_store_message(store_rows.update(tx, store, config, utcnow()))

    def delete(self, name: DicomStoreName) -> dict[str, Any]:
        """Delete the store and every instance in it."""
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name.parent)
            store = store_rows.get(tx, dataset, name.store_id)
            store_rows.delete(tx, store)
        remove_store_blobs(self.blobs, [store.blob_prefix])
        return {}


def store_of_operation(index: Index, request: dict[str, Any], doing: str) -> DicomStoreRow:
    """The store a job's request names (``dicomStore`` and the ``dicomStorePk`` it had when the
    operation started); NotFound if it was deleted since, even if another now has its name."""
    name = DicomStoreName.parse(str(request["dicomStore"]))
    with index.transaction() as tx:
        store = store_rows.get_by_name(tx, name)
    if store.pk != int(request["dicomStorePk"]):
        raise NotFound(f"DICOM store {name} was deleted during the {doing}.")
    return store

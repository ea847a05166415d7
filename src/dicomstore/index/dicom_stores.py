"""Queries on ``dicom_stores``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dicomstore.clock import utc
from dicomstore.errors import AlreadyExists, NotFound
from dicomstore.index import datasets as dataset_rows
from dicomstore.index.datasets import DatasetRow
from dicomstore.index.engine import by_codepoint
from dicomstore.index.schema import dicom_stores
from dicomstore.names import DatasetName, DicomStoreName

__all__ = [
    "DicomStoreConfig",
    "DicomStoreRow",
    "delete",
    "get",
    "get_by_name",
    "insert",
    "iterate",
    "update",
]


@dataclass(frozen=True, slots=True)
class DicomStoreConfig:
    """The user-settable fields of a DICOM store, as their proto3 JSON values."""

    labels: dict[str, str]
    notification_config: dict[str, Any] | None
    notification_configs: list[dict[str, Any]]
    stream_configs: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class DicomStoreRow:
    pk: int
    dataset_pk: int
    name: DicomStoreName
    config: DicomStoreConfig
    blob_prefix: str
    create_time: datetime
    update_time: datetime


def _row(dataset_pk: int, dataset_name: DatasetName, row: sa.Row[Any]) -> DicomStoreRow:
    return DicomStoreRow(
        pk=row.pk,
        dataset_pk=dataset_pk,
        name=DicomStoreName(dataset_name, row.store_id),
        config=DicomStoreConfig(
            labels=row.labels,
            notification_config=row.notification_config,
            notification_configs=row.notification_configs,
            stream_configs=row.stream_configs,
        ),
        blob_prefix=row.blob_prefix,
        create_time=utc(row.create_time),
        update_time=utc(row.update_time),
    )


def _values(config: DicomStoreConfig) -> dict[str, Any]:
    return {
        "labels": config.labels,
        "notification_config": config.notification_config,
        "notification_configs": config.notification_configs,
        "stream_configs": config.stream_configs,
    }


def _select(dataset: DatasetRow) -> sa.Select[Any]:
    return sa.select(dicom_stores).where(dicom_stores.c.dataset_pk == dataset.pk)


def insert(
    tx: sa.Connection, dataset: DatasetRow, store_id: str, config: DicomStoreConfig, now: datetime
) -> DicomStoreRow:
    name = dataset.name.dicom_store(store_id)
    existing = tx.execute(_select(dataset).where(dicom_stores.c.store_id == store_id)).first()
    if existing is not None:
        raise AlreadyExists(f"DICOM store {name} already exists.")
    try:
        with tx.begin_nested():
            tx.execute(
                dicom_stores.insert().values(
                    dataset_pk=dataset.pk,
                    store_id=store_id,
                    blob_prefix=uuid.uuid4().hex,
                    create_time=now,
                    update_time=now,
                    **_values(config),
                )
            )
    except sa.exc.IntegrityError as error:
        raise AlreadyExists(f"DICOM store {name} already exists.") from error
    return get(tx, dataset, store_id)


def get(tx: sa.Connection, dataset: DatasetRow, store_id: str) -> DicomStoreRow:
    row = tx.execute(_select(dataset).where(dicom_stores.c.store_id == store_id)).first()
    if row is None:
        raise NotFound(f"DICOM store {dataset.name}/dicomStores/{store_id} not found.")
    return _row(dataset.pk, dataset.name, row)


def iterate(
    tx: sa.Connection, dataset: DatasetRow, *, after: str | None, batch: int = 500
) -> Iterator[DicomStoreRow]:
    """The dataset's stores in ID order after ``after``, fetched ``batch`` rows at a time."""
    store_id = by_codepoint(dicom_stores.c.store_id, tx.dialect)
    while True:
        query = _select(dataset).order_by(store_id).limit(batch)
        if after is not None:
            query = query.where(store_id > after)
        rows = [_row(dataset.pk, dataset.name, row) for row in tx.execute(query)]
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].name.store_id


def update(
    tx: sa.Connection, store: DicomStoreRow, config: DicomStoreConfig, now: datetime
) -> DicomStoreRow:
    tx.execute(
        dicom_stores.update()
        .where(dicom_stores.c.pk == store.pk)
        .values(update_time=now, **_values(config))
    )
    row = tx.execute(sa.select(dicom_stores).where(dicom_stores.c.pk == store.pk)).one()
    return _row(store.dataset_pk, store.name.parent, row)


def delete(tx: sa.Connection, store: DicomStoreRow) -> None:
    """Delete the store; its studies, series and instances rows go with it (cascade)."""
    tx.execute(dicom_stores.delete().where(dicom_stores.c.pk == store.pk))


def get_by_name(tx: sa.Connection, name: DicomStoreName) -> DicomStoreRow:
    """The store called ``name``; NotFound if it or its dataset does not exist."""
    return get(tx, dataset_rows.get(tx, name.parent), name.store_id)

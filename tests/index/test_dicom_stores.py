"""``dicomstore.index.dicom_stores`` on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from dicomstore.errors import AlreadyExists, NotFound
from dicomstore.index import Index
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index.datasets import DatasetRow
from dicomstore.index.dicom_stores import DicomStoreConfig, DicomStoreRow
from dicomstore.index.schema import dicom_stores, instances, outbox, series, studies
from tests.index.conftest import NOW, add_dataset

EMPTY = DicomStoreConfig(
    labels={}, notification_config=None, notification_configs=[], stream_configs=[]
)
FULL = DicomStoreConfig(
    labels={"équipe": "radiologie", "部門": "放射線科", "env": ""},
    notification_config={"pubsubTopic": "projects/p/topics/t", "sendForBulkImport": True},
    notification_configs=[{"pubsubTopic": "projects/p/topics/ü", "filter": 'PatientName="Ö"'}],
    stream_configs=[{"bigqueryDestination": {"tableUri": "bq://p.d.t", "force": False}}],
)


def _add(index: Index, dataset: DatasetRow, store_id: str, config: DicomStoreConfig = EMPTY) -> Any:
    with index.transaction() as tx:
        return store_rows.insert(tx, dataset, store_id, config, NOW)


def _ids(stores: Any) -> list[str]:
    return [store.name.store_id for store in stores]


def test_insert_then_get_round_trips_the_configuration(
    index: Index, dataset_row: DatasetRow
) -> None:
    inserted = _add(index, dataset_row, "ct", FULL)
    with index.transaction() as tx:
        fetched = store_rows.get(tx, dataset_row, "ct")
    assert fetched == inserted
    assert str(fetched.name) == f"{dataset_row.name}/dicomStores/ct"
    assert fetched.dataset_pk == dataset_row.pk
    assert fetched.config == FULL
    assert fetched.create_time == fetched.update_time == NOW
    assert fetched.create_time.utcoffset() == timedelta(0)


def test_empty_configuration_round_trips_with_sql_null(
    index: Index, dataset_row: DatasetRow
) -> None:
    assert _add(index, dataset_row, "ct").config == EMPTY
    with index.transaction() as tx:
        unset = sa.select(dicom_stores.c.store_id).where(
            dicom_stores.c.notification_config.is_(None)
        )
        assert tx.execute(unset).scalars().all() == ["ct"]


def test_insert_an_existing_store_is_already_exists(index: Index, dataset_row: DatasetRow) -> None:
    _add(index, dataset_row, "ct")
    with pytest.raises(AlreadyExists, match=r"dicomStores/ct already exists"):
        _add(index, dataset_row, "ct")
    # The same ID in another dataset is another store.
    other = _add(index, add_dataset(index, "other"), "ct")
    assert other.dataset_pk != dataset_row.pk


def test_get_a_missing_store_is_not_found(index: Index, dataset_row: DatasetRow) -> None:
    _add(index, add_dataset(index, "other"), "ct")
    with (
        index.transaction() as tx,
        pytest.raises(NotFound, match=rf"{dataset_row.name}/dicomStores/ct not found"),
    ):
        store_rows.get(tx, dataset_row, "ct")


def test_iterate_orders_by_code_point_across_batches(index: Index, dataset_row: DatasetRow) -> None:
    store_ids = ["b", "B", "a-b", "ab", "a_b", "é", "e", "1"]
    for store_id in store_ids:
        _add(index, dataset_row, store_id)
    _add(index, add_dataset(index, "other"), "zz")
    with index.transaction() as tx:
        assert _ids(store_rows.iterate(tx, dataset_row, after=None)) == sorted(store_ids)
        # Batches of 3 over 8 rows: full, full, partial — and exact multiples end too.
        assert _ids(store_rows.iterate(tx, dataset_row, after=None, batch=3)) == sorted(store_ids)
        assert _ids(store_rows.iterate(tx, dataset_row, after=None, batch=4)) == sorted(store_ids)
        assert _ids(store_rows.iterate(tx, dataset_row, after="a_b", batch=2)) == [
            i for i in sorted(store_ids) if i > "a_b"
        ]
        assert list(store_rows.iterate(tx, dataset_row, after="é")) == []


def test_update_replaces_the_configuration(index: Index, dataset_row: DatasetRow) -> None:
    store: DicomStoreRow = _add(index, dataset_row, "ct", FULL)
    later = NOW + timedelta(minutes=5)
    changed = DicomStoreConfig(
        labels={"ключ": "значение"},
        notification_config=None,
        notification_configs=[],
        stream_configs=FULL.stream_configs,
    )
    with index.transaction() as tx:
        updated = store_rows.update(tx, store, changed, later)
    assert updated.config == changed
    assert updated.create_time == NOW
    assert updated.update_time == later
    with index.transaction() as tx:
        assert store_rows.get(tx, dataset_row, "ct") == updated


def _add_instance_rows(tx: sa.Connection, store_pk: int, uid: str) -> None:
    """One study, series and instance (and an outbox event) under the store, as ingest would."""
    study_pk = tx.execute(
        studies.insert()
        .values(
            dicom_store_pk=store_pk,
            study_instance_uid=f"1.2.{uid}",
            patient_name="Müller^Jürgen",
            attributes={"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Müller^Jürgen"}]}},
            create_time=NOW,
            update_time=NOW,
        )
        .returning(studies.c.pk)
    ).scalar_one()
    series_pk = tx.execute(
        series.insert()
        .values(
            dicom_store_pk=store_pk,
            study_pk=study_pk,
            series_instance_uid=f"1.2.{uid}.1",
            attributes={},
            create_time=NOW,
            update_time=NOW,
        )
        .returning(series.c.pk)
    ).scalar_one()
    tx.execute(
        instances.insert().values(
            dicom_store_pk=store_pk,
            series_pk=series_pk,
            sop_instance_uid=f"1.2.{uid}.1.1",
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            blob_key=f"blobs/{uid}",
            blob_size_bytes=10,
            sha256="0" * 64,
            metadata={},
            frame_ranges=[[0, 10]],
            create_time=NOW,
        )
    )
    tx.execute(
        outbox.insert().values(
            dicom_store_pk=store_pk,
            event_type="InstanceStored",
            resource_name=f"store/{uid}",
            payload={},
            create_time=NOW,
        )
    )


def test_delete_takes_studies_series_and_instances_with_it(
    index: Index, dataset_row: DatasetRow
) -> None:
    doomed, kept = _add(index, dataset_row, "doomed"), _add(index, dataset_row, "kept")
    with index.transaction() as tx:
        _add_instance_rows(tx, doomed.pk, "1")
        _add_instance_rows(tx, kept.pk, "2")
    with index.transaction() as tx:
        store_rows.delete(tx, doomed)
    with index.transaction() as tx:
        with pytest.raises(NotFound):
            store_rows.get(tx, dataset_row, "doomed")
        assert store_rows.get(tx, dataset_row, "kept") == kept
        for table in (studies, series, instances, outbox):
            owners = tx.execute(sa.select(table.c.dicom_store_pk)).scalars().all()
            assert owners == [kept.pk], table.name

"""``dicomstore.index.datasets`` on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from dicomstore.errors import AlreadyExists, NotFound
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index import operations as operation_rows
from dicomstore.index.datasets import DatasetRow
from dicomstore.index.dicom_stores import DicomStoreConfig
from dicomstore.index.schema import datasets, dicom_stores, operations
from dicomstore.names import DatasetName, LocationName
from tests.conftest import POSTGRES_SERVER
from tests.index.conftest import LOCATION, NOW, add_dataset

EMPTY_CONFIG = DicomStoreConfig(
    labels={}, notification_config=None, notification_configs=[], stream_configs=[]
)
# Case, punctuation and non-ASCII, where collations disagree with code-point order.
AWKWARD_IDS = ["b", "B", "a-b", "ab", "a.b", "a_b", "Z", "é", "e", "1", "ü", "名前"]


def _ids(rows: list[DatasetRow]) -> list[str]:
    return [row.name.dataset_id for row in rows]


def _is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


def test_insert_then_get(index: Index) -> None:
    name = DatasetName(LOCATION, "ds")
    spec = {"kmsKeyName": "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"}
    with index.transaction() as tx:
        inserted = dataset_rows.insert(
            tx, name, time_zone="Europe/Paris", encryption_spec=spec, now=NOW
        )
    with index.transaction() as tx:
        fetched = dataset_rows.get(tx, name)
    assert fetched == inserted
    assert fetched.name == name
    assert fetched.time_zone == "Europe/Paris"
    assert fetched.encryption_spec == spec
    assert fetched.create_time == NOW
    assert _is_utc(fetched.create_time)


def test_insert_an_existing_dataset_is_already_exists(index: Index) -> None:
    add_dataset(index, "ds")
    with pytest.raises(AlreadyExists, match=r"datasets/ds already exists"):
        add_dataset(index, "ds")
    # The same ID elsewhere is another dataset.
    add_dataset(index, "ds", LocationName("test-project", "europe-west4"))
    add_dataset(index, "ds", LocationName("other-project", "us-central1"))


def test_a_refused_insert_leaves_the_transaction_usable(index: Index) -> None:
    with index.transaction() as tx:
        dataset_rows.insert(
            tx, DatasetName(LOCATION, "one"), time_zone="", encryption_spec=None, now=NOW
        )
        with pytest.raises(AlreadyExists):
            dataset_rows.insert(
                tx, DatasetName(LOCATION, "one"), time_zone="", encryption_spec=None, now=NOW
            )
        dataset_rows.insert(
            tx, DatasetName(LOCATION, "two"), time_zone="", encryption_spec=None, now=NOW
        )
    with index.transaction() as tx:
        assert _ids(dataset_rows.list_page(tx, LOCATION, after=None, limit=10)) == ["one", "two"]


def test_get_a_missing_dataset_is_not_found(index: Index) -> None:
    add_dataset(index, "ds", LocationName("test-project", "europe-west4"))
    with index.transaction() as tx, pytest.raises(NotFound, match=r"datasets/ds not found"):
        dataset_rows.get(tx, DatasetName(LOCATION, "ds"))


def test_list_page_orders_by_code_point_and_pages(index: Index) -> None:
    for dataset_id in AWKWARD_IDS:
        add_dataset(index, dataset_id)
    add_dataset(index, "elsewhere", LocationName("test-project", "europe-west4"))
    with index.transaction() as tx:
        everything = _ids(dataset_rows.list_page(tx, LOCATION, after=None, limit=100))
        assert everything == sorted(AWKWARD_IDS)
        pages, after = [], None
        while True:
            page = _ids(dataset_rows.list_page(tx, LOCATION, after=after, limit=5))
            if not page:
                break
            pages.append(page)
            after = page[-1]
    assert pages == [sorted(AWKWARD_IDS)[i : i + 5] for i in (0, 5, 10)]


def test_list_page_of_an_empty_location(index: Index) -> None:
    with index.transaction() as tx:
        assert dataset_rows.list_page(tx, LOCATION, after=None, limit=10) == []


@pytest.fixture
def icu_database(postgres_database: object) -> Iterator[str]:
    """A PostgreSQL database whose default collation is ICU's en-US, as many servers have."""
    admin = sa.create_engine(
        f"{POSTGRES_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/postgres",
        isolation_level="AUTOCOMMIT",
    )
    name = f"dicomstore_test_icu_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                    "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                )
            )
    except sa.exc.DBAPIError as error:
        admin.dispose()
        pytest.skip(f"cannot create an ICU database: {error.orig}")
    yield f"{POSTGRES_SERVER}/{name}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_list_page_order_does_not_depend_on_the_database_collation(icu_database: str) -> None:
    index = Index.open(icu_database)
    try:
        for dataset_id in AWKWARD_IDS:
            add_dataset(index, dataset_id)
        with index.transaction() as tx:
            first = _ids(dataset_rows.list_page(tx, LOCATION, after=None, limit=6))
            rest = _ids(dataset_rows.list_page(tx, LOCATION, after=first[-1], limit=100))
    finally:
        index.close()
    assert first + rest == sorted(AWKWARD_IDS)


def test_update_sets_the_time_zone(index: Index) -> None:
    dataset = add_dataset(index, "ds")
    with index.transaction() as tx:
        updated = dataset_rows.update(tx, dataset, time_zone="America/New_York")
    assert updated.time_zone == "America/New_York"
    assert updated.create_time == dataset.create_time
    with index.transaction() as tx:
        assert dataset_rows.get(tx, dataset.name, for_update=True) == updated


def test_delete_takes_the_stores_and_operations_with_it(index: Index) -> None:
    doomed, kept = add_dataset(index, "doomed"), add_dataset(index, "kept")
    with index.transaction() as tx:
        for dataset in (doomed, kept):
            store_rows.insert(tx, dataset, "store", EMPTY_CONFIG, NOW)
            operation_rows.insert(
                tx, dataset, f"1{dataset.pk:018d}", api_method_name="CreateDataset", now=NOW
            )
    with index.transaction() as tx:
        dataset_rows.delete(tx, doomed)
    with index.transaction() as tx:
        with pytest.raises(NotFound):
            dataset_rows.get(tx, doomed.name)
        assert dataset_rows.get(tx, kept.name) == kept
        for table in (dicom_stores, operations):
            owners = tx.execute(sa.select(table.c.dataset_pk)).scalars().all()
            assert owners == [kept.pk], table.name


def test_timestamps_are_the_same_instant_in_utc(index: Index) -> None:
    # SQLite keeps wall-clock text: an offset must be folded into UTC before it is dropped.
    paris_summer = datetime(2024, 7, 1, 14, 30, 0, 500, tzinfo=timezone(timedelta(hours=2)))
    with index.transaction() as tx:
        row = dataset_rows.insert(
            tx, DatasetName(LOCATION, "ds"), time_zone="", encryption_spec=None, now=paris_summer
        )
    assert row.create_time == paris_summer
    assert row.create_time == datetime(2024, 7, 1, 12, 30, 0, 500, tzinfo=UTC)
    assert _is_utc(row.create_time)


def test_timestamps_come_back_in_utc_whatever_the_session_time_zone(database_url: str) -> None:
    if database_url.startswith("postgresql"):
        database_url += "?options=-c%20TimeZone%3DAsia/Kolkata"
    index = Index.open(database_url)
    try:
        dataset = add_dataset(index, "ds")
        with index.transaction() as tx:
            stored = tx.execute(sa.select(datasets.c.create_time)).scalar_one()
    finally:
        index.close()
    for moment in (dataset.create_time, stored):
        assert moment == NOW
        assert _is_utc(moment)


def test_encryption_spec_round_trips_and_none_is_sql_null(index: Index) -> None:
    spec = {"kmsKeyName": "projects/p/locations/us-central1/keyRings/r/cryptoKeys/clé"}
    with index.transaction() as tx:
        dataset_rows.insert(
            tx, DatasetName(LOCATION, "with"), time_zone="", encryption_spec=spec, now=NOW
        )
        dataset_rows.insert(
            tx, DatasetName(LOCATION, "without"), time_zone="", encryption_spec=None, now=NOW
        )
    with index.transaction() as tx:
        assert dataset_rows.get(tx, DatasetName(LOCATION, "with")).encryption_spec == spec
        assert dataset_rows.get(tx, DatasetName(LOCATION, "without")).encryption_spec is None
        unencrypted = sa.select(datasets.c.dataset_id).where(datasets.c.encryption_spec.is_(None))
        assert tx.execute(unencrypted).scalars().all() == ["without"]

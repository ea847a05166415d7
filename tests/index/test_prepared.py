"""Prepared reads give the rows ``Connection.execute`` gives, on both engines."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dicomstore.index import Index
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index import instances as instance_rows
from dicomstore.index.datasets import DatasetRow
from dicomstore.index.dicom_stores import DicomStoreConfig
from dicomstore.index.engine import create_index_engine
from dicomstore.index.instances import IngestOutcome, add_instance
from dicomstore.index.prepared import Compiled, PreparedRead, Readers, run_prepared
from dicomstore.index.schema import Timestamp, instances
from dicomstore.names import DicomStoreName
from tests.index import qido_corpus as corpus
from tests.index.conftest import NOW

CONFIG = DicomStoreConfig(
    labels={}, notification_config=None, notification_configs=[], stream_configs=[]
)


@pytest.fixture
def store(index: Index, dataset_row: DatasetRow) -> DicomStoreName:
    """The corpus's first study, with frame ranges and bulk data locations (JSON columns)."""
    study = corpus.INSTANCES[0].series.study
    with index.transaction() as tx:
        row = store_rows.insert(tx, dataset_row, "store", CONFIG, NOW)
        for number, instance in enumerate(corpus.INSTANCES):
            if instance.series.study is not study:
                continue
            new = replace(
                corpus.new_instance(instance),
                frame_ranges=[[[1000 + number, 512]], [[1512 + number, 512]]],
                bulk_data={"7FE00010": [1000, 1024, "OW", True, False]},
            )
            assert add_instance(tx, row.pk, new, NOW)[0] is IngestOutcome.STORED
    return DicomStoreName(dataset_row.name, "store")


def store_pk(tx: sa.Connection, store: DicomStoreName) -> int:
    pk = instance_rows.named_store_pk(tx, store)
    assert pk is not None
    return pk


def test_located_as_executed(index: Index, store: DicomStoreName) -> None:
    first = corpus.INSTANCES[0]
    study, series = first.series.study.uid, first.series.uid
    for scope in (
        (study,),
        (study, series),
        (study, series, first.uid),
        (study, series, "1.2.3.4"),
        ("1.2.3.4",),
    ):
        with index.transaction() as tx:
            expected = instance_rows.locate(tx, store_pk(tx, store), *scope)
        assert instance_rows.locate_named(index, store, *scope) == expected
    with index.transaction() as tx:
        located = instance_rows.locate(tx, store_pk(tx, store), study)
    assert len(located) > 1
    assert located[0].frame_ranges == [[[1000, 512]], [[1512, 512]]]
    assert located[0].storage_class_update_time == NOW
    assert instance_rows.locate_named(index, DicomStoreName(store.parent, "other"), study) == []
    for limit in (1, 2, len(located), len(located) + 1):
        assert instance_rows.locate_named(index, store, study, limit=limit) == located[:limit]


def test_prepared_once_per_index(index: Index) -> None:
    statement = sa.select(instances.c.pk)
    assert index.prepared(statement) is index.prepared(statement)
    assert index.prepared(statement).rows({}) == []


def test_parameters_are_converted_as_executed(index: Index, store: DicomStoreName) -> None:
    statement = sa.select(instances.c.pk, instances.c.storage_class_update_time).where(
        instances.c.storage_class_update_time >= sa.bindparam("after", type_=Timestamp)
    )
    with index.transaction() as tx:
        expected = [tuple(row) for row in tx.execute(statement, {"after": NOW})]
        assert expected
        assert run_prepared(tx, statement, {"after": NOW}) == expected
        later = NOW + datetime.timedelta(seconds=1)
        assert run_prepared(tx, statement, {"after": later}) == []
    assert PreparedRead(index.engine, statement).rows({"after": NOW}) == expected


def test_writes_in_the_callers_transaction(index: Index, store: DicomStoreName) -> None:
    """JSON values go through the engine's serializer; a rollback undoes the write."""
    update = (
        instances.update()
        .where(instances.c.pk == sa.bindparam("row_pk"))
        .values(bulk_data=sa.bindparam("bulk_data", type_=instances.c.bulk_data.type))
    )
    with index.transaction() as tx:
        pk = tx.execute(sa.select(sa.func.min(instances.c.pk))).scalar_one()
        before = tx.execute(sa.select(instances.c.bulk_data).where(instances.c.pk == pk)).scalar()
    try:
        with index.transaction() as tx:
            run_prepared(tx, update, {"row_pk": pk, "bulk_data": {"x": [1, "é"]}})
            written = tx.execute(sa.select(instances.c.bulk_data).where(instances.c.pk == pk))
            assert written.scalar() == {"x": [1, "é"]}
            raise LookupError
    except LookupError:
        pass
    with index.transaction() as tx:
        kept = tx.execute(sa.select(instances.c.bulk_data).where(instances.c.pk == pk)).scalar()
    assert kept == before


def test_embedded_reads_go_through_readers_not_the_pool(index: Index) -> None:
    """An embedded index lends its own connections (`Readers`); a server database's reads
    check a connection out of the engine's pool each time."""
    checkouts: list[object] = []
    sa.event.listen(index.engine.pool, "checkout", lambda *_: checkouts.append(None))
    read = index.prepared(sa.select(instances.c.pk))
    for _ in range(5):
        assert read.rows({}) == []
    assert len(checkouts) == (1 if index.embedded else 5)  # one connection, then detached


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_index_engine(f"sqlite:///{tmp_path / 'index.db'}")
    yield engine
    engine.dispose()


def _run(readers: Readers, engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    return readers.rows(Compiled(engine.dialect, sa.text(sql)), {})


def test_readers_lend_the_same_connection_again(sqlite_engine: sa.Engine) -> None:
    readers = Readers(sqlite_engine)
    _run(readers, sqlite_engine, "CREATE TEMP TABLE lent (x INTEGER)")  # one connection's own
    assert _run(readers, sqlite_engine, "SELECT count(*) FROM lent") == [(0,)]
    assert sqlite_engine.pool.checkedout() == 0  # not the pool's: detached from it
    readers.close()


def test_a_connection_comes_back_out_of_any_transaction(sqlite_engine: sa.Engine) -> None:
    readers = Readers(sqlite_engine)
    _run(readers, sqlite_engine, "CREATE TEMP TABLE lent (x INTEGER)")
    _run(readers, sqlite_engine, "INSERT INTO lent VALUES (1)")  # begins a transaction
    assert _run(readers, sqlite_engine, "SELECT count(*) FROM lent") == [(0,)]
    readers.close()


def test_closed_readers_keep_no_connection(sqlite_engine: sa.Engine) -> None:
    readers = Readers(sqlite_engine)
    _run(readers, sqlite_engine, "CREATE TEMP TABLE lent (x INTEGER)")
    readers.close()
    # Still answers, on a new connection that it closes again afterwards.
    assert _run(readers, sqlite_engine, "SELECT count(*) FROM sqlite_temp_master") == [(0,)]
    assert _run(readers, sqlite_engine, "SELECT 1") == [(1,)]


def test_readers_lend_one_connection_per_concurrent_read(sqlite_engine: sa.Engine) -> None:
    """Reads running at once each get a connection of their own; the idle ones are kept up to
    `Readers.KEPT`."""
    readers = Readers(sqlite_engine)
    slow = Compiled(
        sqlite_engine.dialect,
        sa.text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) "
            "SELECT count(*) FROM n"
        ),
    )
    with ThreadPoolExecutor(Readers.KEPT + 4) as pool:
        answers = list(pool.map(lambda _: readers.rows(slow, {}), range(40)))
    assert answers == [[(200000,)]] * 40
    assert 1 <= len(readers._idle) <= Readers.KEPT
    readers.close()
    assert readers._idle == []

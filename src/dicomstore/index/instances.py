"""Queries on ``studies``, ``series`` and ``instances``: ingest in one transaction, and lookups.

Ingest (``add_instance``) runs inside the caller's transaction after the bytes are safely in the
blob store: it upserts the study and series rows, inserts the instance row and keeps the related
counts and sizes of its study and series exact. Identity is the SOP Instance UID within a store;
an instance already present with the same (study, series, SOP) UIDs and the same SHA-256 is a
duplicate (nothing changes), anything else under the same SOP Instance UID is a conflict.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dicomstore.index.operations import UNFINISHED_UNDER, under_pattern
from dicomstore.index.prepared import run_prepared
from dicomstore.index.schema import datasets, dicom_stores, instances, series, studies
from dicomstore.names import DicomStoreName

if TYPE_CHECKING:
    from dicomstore.index.database import Index

__all__ = [
    "NAMED_STORE_PK",
    "IngestOutcome",
    "InstanceLocation",
    "NewInstance",
    "StoredDocument",
    "StoredInstance",
    "Totals",
    "add_instance",
    "documents_of",
    "find_existing",
    "known_blob_keys",
    "locate",
    "locate_named",
    "metadata_in_named_store",
    "metadata_of",
    "metadata_text",
    "named_store_ingest_keys",
    "named_store_pk",
    "page_of_store",
    "read_metadata_text",
    "remove",
    "series_totals",
    "store_instance_count",
    "store_name_values",
    "store_totals",
    "study_totals",
]


class IngestOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # the same bytes are already stored under the same UIDs
    CONFLICT = "conflict"  # the SOP Instance UID is taken by different content or UIDs


@dataclass(frozen=True, slots=True)
class NewInstance:
    """An instance whose bytes are stored under ``blob_key``, ready to be indexed."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str | None
    transfer_syntax_uid: str
    instance_number: int | None
    number_of_frames: int | None
    blob_key: str
    blob_size_bytes: int
    sha256: str
    storage_class: str
    metadata: dict[str, Any]
    structured_size_bytes: int
    frame_ranges: list[Any] | None
    bulk_data: dict[str, Any] | None
    # Searchable column values and the DICOM JSON answered at the study and series levels.
    study_columns: dict[str, Any] = field(default_factory=dict)
    study_attributes: dict[str, Any] = field(default_factory=dict)
    series_columns: dict[str, Any] = field(default_factory=dict)
    series_attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredInstance:
    """What the index holds for an instance: enough to answer STOW and to find its bytes."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str | None
    blob_key: str
    sha256: str


# Ingest runs these for every instance: built once with bind parameters, so each call only binds
# values (building and cache-keying a statement costs more than running it on SQLite).
_EXISTING = (
    sa.select(
        studies.c.study_instance_uid,
        series.c.series_instance_uid,
        instances.c.sop_instance_uid,
        instances.c.sop_class_uid,
        instances.c.blob_key,
        instances.c.sha256,
    )
    .select_from(instances.join(series).join(studies))
    .where(
        instances.c.dicom_store_pk == sa.bindparam("store_pk"),
        instances.c.sop_instance_uid == sa.bindparam("sop_instance_uid"),
    )
)
_STUDY_PK = sa.select(studies.c.pk).where(
    studies.c.dicom_store_pk == sa.bindparam("store_pk"),
    studies.c.study_instance_uid == sa.bindparam("study_instance_uid"),
)
_STUDY_PK_FOR_UPDATE = _STUDY_PK.with_for_update()
_SERIES_PK = sa.select(series.c.pk).where(
    series.c.study_pk == sa.bindparam("study_pk"),
    series.c.series_instance_uid == sa.bindparam("series_instance_uid"),
)
_COUNT_SERIES = (
    series.update()
    .where(series.c.pk == sa.bindparam("row_pk"))
    .values(
        instance_count=series.c.instance_count + 1,
        blob_size_bytes=series.c.blob_size_bytes + sa.bindparam("blob", type_=sa.BigInteger),
        structured_size_bytes=series.c.structured_size_bytes
        + sa.bindparam("structured", type_=sa.BigInteger),
        update_time=sa.bindparam("now", type_=series.c.update_time.type),
    )
)
_COUNT_STUDY = (
    studies.update()
    .where(studies.c.pk == sa.bindparam("row_pk"))
    .values(
        series_count=studies.c.series_count + sa.bindparam("new_series", type_=sa.Integer),
        instance_count=studies.c.instance_count + 1,
        blob_size_bytes=studies.c.blob_size_bytes + sa.bindparam("blob", type_=sa.BigInteger),
        structured_size_bytes=studies.c.structured_size_bytes
        + sa.bindparam("structured", type_=sa.BigInteger),
        update_time=sa.bindparam("now", type_=studies.c.update_time.type),
    )
)


@functools.cache
def _insert_ignoring(dialect: str, table: sa.Table) -> sa.Insert:
    """INSERT … ON CONFLICT DO NOTHING RETURNING pk on either engine (RETURNING, not rowcount:
    psycopg 3 under SQLAlchemy 2.1 reports rowcount -1 here)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing().returning(table.c.pk)


def _insert_ignoring_conflicts(tx: sa.Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """Whether a row was inserted. Concurrent ingest into one study races to create its rows;
    the loser simply finds them."""
    insert = _insert_ignoring(tx.dialect.name, table)
    return bool(run_prepared(tx, insert, values, columns=sorted(values)))


def find_existing(tx: sa.Connection, store_pk: int, sop_instance_uid: str) -> StoredInstance | None:
    rows = run_prepared(tx, _EXISTING, {"store_pk": store_pk, "sop_instance_uid": sop_instance_uid})
    return StoredInstance(*rows[0]) if rows else None


def _judge(existing: StoredInstance, new: NewInstance) -> IngestOutcome:
    same = (
        existing.study_instance_uid == new.study_instance_uid
        and existing.series_instance_uid == new.series_instance_uid
        and existing.sha256 == new.sha256
    )
    return IngestOutcome.DUPLICATE if same else IngestOutcome.CONFLICT


def _study_pk(tx: sa.Connection, store_pk: int, new: NewInstance, now: datetime) -> int:
    # FOR UPDATE on PostgreSQL serialises the count updates of one study.
    query = _STUDY_PK_FOR_UPDATE if tx.dialect.name == "postgresql" else _STUDY_PK
    key = {"store_pk": store_pk, "study_instance_uid": new.study_instance_uid}
    found = run_prepared(tx, query, key)
    if not found:
        _insert_ignoring_conflicts(
            tx,
            studies,
            {
                "dicom_store_pk": store_pk,
                "study_instance_uid": new.study_instance_uid,
                "attributes": new.study_attributes,
                "create_time": now,
                "update_time": now,
                **new.study_columns,
            },
        )
        found = run_prepared(tx, query, key)
    ((pk,),) = found
    return int(pk)


def _series_pk(
    tx: sa.Connection, store_pk: int, study_pk: int, new: NewInstance, now: datetime
) -> tuple[int, bool]:
    """The series row's key, and whether this call created it."""
    key = {"study_pk": study_pk, "series_instance_uid": new.series_instance_uid}
    found = run_prepared(tx, _SERIES_PK, key)
    if found:
        return int(found[0][0]), False
    created = _insert_ignoring_conflicts(
        tx,
        series,
        {
            "dicom_store_pk": store_pk,
            "study_pk": study_pk,
            "series_instance_uid": new.series_instance_uid,
            "attributes": new.series_attributes,
            "create_time": now,
            "update_time": now,
            **new.series_columns,
        },
    )
    ((pk,),) = run_prepared(tx, _SERIES_PK, key)
    return int(pk), created


def add_instance(
    tx: sa.Connection, store_pk: int, new: NewInstance, now: datetime
) -> tuple[IngestOutcome, StoredInstance | None]:
    """Index ``new`` in ``tx``; on DUPLICATE or CONFLICT also return what is already stored."""
    existing = find_existing(tx, store_pk, new.sop_instance_uid)
    if existing is not None:
        return _judge(existing, new), existing
    study_pk = _study_pk(tx, store_pk, new, now)
    series_pk, series_created = _series_pk(tx, store_pk, study_pk, new, now)
    inserted = _insert_ignoring_conflicts(
        tx,
        instances,
        {
            "dicom_store_pk": store_pk,
            "series_pk": series_pk,
            "sop_instance_uid": new.sop_instance_uid,
            "sop_class_uid": new.sop_class_uid,
            "instance_number": new.instance_number,
            "transfer_syntax_uid": new.transfer_syntax_uid,
            "number_of_frames": new.number_of_frames,
            "blob_key": new.blob_key,
            "blob_size_bytes": new.blob_size_bytes,
            "sha256": new.sha256,
            "storage_class": new.storage_class,
            "storage_class_update_time": now,
            "metadata": new.metadata,
            "structured_size_bytes": new.structured_size_bytes,
            "frame_ranges": new.frame_ranges,
            "bulk_data": new.bulk_data,
            "create_time": now,
        },
    )
    if not inserted:  # another writer indexed the same SOP Instance UID meanwhile
        existing = find_existing(tx, store_pk, new.sop_instance_uid)
        assert existing is not None
        return _judge(existing, new), existing
    sizes = {"blob": new.blob_size_bytes, "structured": new.structured_size_bytes, "now": now}
    run_prepared(tx, _COUNT_SERIES, {"row_pk": series_pk, **sizes})
    run_prepared(
        tx, _COUNT_STUDY, {"row_pk": study_pk, "new_series": 1 if series_created else 0, **sizes}
    )
    return IngestOutcome.STORED, None


@dataclass(frozen=True, slots=True)
class InstanceLocation:
    """Where an indexed instance's bytes are, and what WADO needs to serve parts of them."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str | None
    transfer_syntax_uid: str
    blob_key: str
    blob_size_bytes: int
    number_of_frames: int | None
    frame_ranges: list[Any] | None
    bulk_data: dict[str, Any] | None
    storage_class: str
    storage_class_update_time: datetime | None
    structured_size_bytes: int
    pk: int


_LOCATION = sa.select(
    studies.c.study_instance_uid,
    series.c.series_instance_uid,
    instances.c.sop_instance_uid,
    instances.c.sop_class_uid,
    instances.c.transfer_syntax_uid,
    instances.c.blob_key,
    instances.c.blob_size_bytes,
    instances.c.number_of_frames,
    instances.c.frame_ranges,
    instances.c.bulk_data,
    instances.c.storage_class,
    instances.c.storage_class_update_time,
    instances.c.structured_size_bytes,
    instances.c.pk,
)


def _scope(
    store_pk: int, study: str, series_uid: str | None, sop: str | None
) -> list[sa.ColumnElement[bool]]:
    conditions = [studies.c.dicom_store_pk == store_pk, studies.c.study_instance_uid == study]
    if series_uid is not None:
        conditions.append(series.c.series_instance_uid == series_uid)
    if sop is not None:
        conditions.append(instances.c.sop_instance_uid == sop)
    return conditions


def _in_scope(
    query: sa.Select[Any], store_pk: int, study: str, series_uid: str | None, sop: str | None
) -> sa.Select[Any]:
    """``query`` over the instances of a study, series or single instance, in series and
    instance order: the one order every retrieval answers in."""
    return _in_retrieval_order(query, _scope(store_pk, study, series_uid, sop))


def _in_retrieval_order(
    query: sa.Select[Any], conditions: list[sa.ColumnElement[bool]]
) -> sa.Select[Any]:
    return (
        query.select_from(instances.join(series).join(studies))
        .where(*conditions)
        .order_by(
            series.c.pk, instances.c.instance_number.is_(None), instances.c.instance_number,
            instances.c.pk,
        )
    )  # fmt: skip


def locate(
    tx: sa.Connection,
    store_pk: int,
    study: str,
    series_uid: str | None = None,
    sop: str | None = None,
) -> list[InstanceLocation]:
    """The instances of a study, series or single instance, in series and instance order."""
    rows = tx.execute(_in_scope(_LOCATION, store_pk, study, series_uid, sop))
    return [InstanceLocation(*row) for row in rows]


# WADO reads find the store by name and the instances in one statement, built once per scope
# level with bind parameters (each request only binds values).
_STORE_PK_BY_NAME = (
    sa.select(dicom_stores.c.pk)
    .join(datasets, datasets.c.pk == dicom_stores.c.dataset_pk)
    .where(
        datasets.c.project == sa.bindparam("project"),
        datasets.c.location == sa.bindparam("location"),
        datasets.c.dataset_id == sa.bindparam("dataset_id"),
        dicom_stores.c.store_id == sa.bindparam("store_id"),
    )
)
#: The primary key of the store named by the bind parameters of ``store_name_values``, as an
#: expression to compare a ``dicom_store_pk`` column with.
NAMED_STORE_PK = _STORE_PK_BY_NAME.scalar_subquery()


def store_name_values(name: DicomStoreName) -> dict[str, str | None]:
    """The bind parameter values of ``NAMED_STORE_PK`` for the store called ``name``."""
    return {
        "project": name.parent.parent.project,
        "location": name.parent.parent.location,
        "dataset_id": name.parent.dataset_id,
        "store_id": name.store_id,
    }


# The store's keys, and whether a delete may be running in it (a pattern of `under_pattern`).
_INGEST_KEYS_BY_NAME = _STORE_PK_BY_NAME.add_columns(dicom_stores.c.blob_prefix, UNFINISHED_UNDER)


def named_store_ingest_keys(
    index: Index, name: DicomStoreName, operations_under: str
) -> tuple[int, str, bool] | None:
    """The primary key and blob prefix of the store called ``name``, and whether an unfinished
    operation acts on a target starting with ``operations_under``: one prepared read outside
    any transaction (``prepared.py``), asked once per STOW request. None: no such store or
    dataset (``dicom_stores.get_by_name`` says which)."""
    values = {**store_name_values(name), "pattern": under_pattern(operations_under)}
    rows = index.prepared(_INGEST_KEYS_BY_NAME).rows(values)
    if not rows:
        return None
    pk, blob_prefix, unfinished = rows[0]
    return int(pk), str(blob_prefix), bool(unfinished)


def named_store_pk(tx: sa.Connection, name: DicomStoreName) -> int | None:
    """The primary key of the store called ``name`` in one prebuilt statement (None: no such
    store or dataset; ``dicom_stores.get_by_name`` says which)."""
    pk = tx.execute(_STORE_PK_BY_NAME, store_name_values(name)).scalar()
    return None if pk is None else int(pk)


def _in_named_store(query: sa.Select[Any], level: int) -> sa.Select[Any]:
    """``query`` as ``_in_scope`` builds it, for a store named by bind parameters and a study
    (level 0), series (1) or instance (2) given as ``study``, ``series`` and ``sop``."""
    conditions = [
        studies.c.dicom_store_pk == NAMED_STORE_PK,
        studies.c.study_instance_uid == sa.bindparam("study"),
    ]
    if level >= 1:
        conditions.append(series.c.series_instance_uid == sa.bindparam("series"))
    if level >= 2:
        conditions.append(instances.c.sop_instance_uid == sa.bindparam("sop"))
    return _in_retrieval_order(query, conditions)


_LOCATION_BY_LEVEL = tuple(_in_named_store(_LOCATION, level) for level in range(3))
_FIRST_LOCATIONS_BY_LEVEL = tuple(
    statement.limit(sa.bindparam("limit")) for statement in _LOCATION_BY_LEVEL
)
_METADATA_BY_LEVEL = tuple(
    _in_named_store(sa.select(sa.cast(instances.c.metadata, sa.Text)), level) for level in range(3)
)


def _named_scope(
    name: DicomStoreName, study: str, series_uid: str | None, sop: str | None
) -> tuple[int, dict[str, str | None]]:
    level = 2 if sop is not None else 1 if series_uid is not None else 0
    return level, {**store_name_values(name), "study": study, "series": series_uid, "sop": sop}


def locate_named(
    index: Index,
    name: DicomStoreName,
    study: str,
    series_uid: str | None = None,
    sop: str | None = None,
    *,
    limit: int | None = None,
) -> list[InstanceLocation]:
    """``locate`` in the store called ``name``, in one prepared read outside any transaction
    (``prepared.py``): the lookup of every WADO request. Empty if the store, dataset or
    instances do not exist (the caller tells which). With ``limit``, only the first ``limit``
    instances."""
    level, values = _named_scope(name, study, series_uid, sop)
    if limit is None:
        rows = index.prepared(_LOCATION_BY_LEVEL[level]).rows(values)
    else:
        rows = index.prepared(_FIRST_LOCATIONS_BY_LEVEL[level]).rows({**values, "limit": limit})
    return [InstanceLocation(*row) for row in rows]


def metadata_in_named_store(
    tx: sa.Connection,
    name: DicomStoreName,
    study: str,
    series_uid: str | None = None,
    sop: str | None = None,
) -> list[str]:
    """``metadata_of`` in the store called ``name``, in one statement (see ``locate_named``)."""
    level, values = _named_scope(name, study, series_uid, sop)
    return [text for (text,) in tx.execute(_METADATA_BY_LEVEL[level], values)]


def page_of_store(
    tx: sa.Connection, store_pk: int, after_pk: int, limit: int
) -> list[InstanceLocation]:
    """Up to ``limit`` instances of a store after the one with primary key ``after_pk``, in key
    order: walking a whole store in pages (export) without holding it in memory."""
    query: sa.Select[Any] = (
        _LOCATION.select_from(instances.join(series).join(studies))
        .where(instances.c.dicom_store_pk == store_pk, instances.c.pk > after_pk)
        .order_by(instances.c.pk)
        .limit(limit)
    )
    return [InstanceLocation(*row) for row in tx.execute(query)]


def store_instance_count(tx: sa.Connection, store_pk: int) -> int:
    query = sa.select(sa.func.count()).where(instances.c.dicom_store_pk == store_pk)
    return int(tx.execute(query.select_from(instances)).scalar_one())


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """An instance's stored DICOM JSON (serialised) and when it was last changed."""

    metadata_text: str
    update_time: datetime


def documents_of(tx: sa.Connection, pks: list[int]) -> dict[int, StoredDocument]:
    """The stored DICOM JSON of the instances with these primary keys, by key."""
    document = sa.cast(instances.c.metadata, sa.Text)
    found: dict[int, StoredDocument] = {}
    for start in range(0, len(pks), 500):
        batch = pks[start : start + 500]
        query = sa.select(instances.c.pk, document, instances.c.create_time,
                          instances.c.storage_class_update_time)  # fmt: skip
        for pk, text, created, class_changed in tx.execute(query.where(instances.c.pk.in_(batch))):
            found[pk] = StoredDocument(text, max(created, class_changed or created))
    return found


def metadata_of(
    tx: sa.Connection,
    store_pk: int,
    study: str,
    series_uid: str | None = None,
    sop: str | None = None,
) -> list[str]:
    """The stored DICOM JSON of each instance in scope, serialised, in the order of ``locate``.

    Read as text, never decoded: WADO metadata only passes it on (``json.dumps`` form, keys
    ordered by JSONB on PostgreSQL), so decoding and re-encoding would be wasted work.
    """
    document = sa.cast(instances.c.metadata, sa.Text)
    rows = tx.execute(_in_scope(sa.select(document), store_pk, study, series_uid, sop))
    return [text for (text,) in rows]


def metadata_text(tx: sa.Connection, instance_pk: int) -> str | None:
    """One instance's stored DICOM JSON, serialised (see ``metadata_of``)."""
    document = sa.cast(instances.c.metadata, sa.Text)
    return tx.execute(sa.select(document).where(instances.c.pk == instance_pk)).scalar()


_METADATA_TEXT_BY_PK = sa.select(sa.cast(instances.c.metadata, sa.Text)).where(
    instances.c.pk == sa.bindparam("pk")
)


def read_metadata_text(index: Index, instance_pk: int) -> str | None:
    """``metadata_text`` as a prepared read, outside any transaction (``prepared.py``)."""
    rows = index.prepared(_METADATA_TEXT_BY_PK).rows({"pk": instance_pk})
    return rows[0][0] if rows else None


def _locked_study(tx: sa.Connection, store_pk: int, study: str) -> int | None:
    query = sa.select(studies.c.pk).where(
        studies.c.dicom_store_pk == store_pk, studies.c.study_instance_uid == study
    )
    if tx.dialect.name == "postgresql":
        query = query.with_for_update()
    return tx.execute(query).scalar_one_or_none()


def remove(
    tx: sa.Connection,
    store_pk: int,
    study: str,
    series_uid: str | None = None,
    sop: str | None = None,
) -> list[str]:
    """Delete the instances in scope, keeping counts exact and dropping emptied series and
    studies; the blob keys to delete once the transaction has committed."""
    study_pk = _locked_study(tx, store_pk, study)
    if study_pk is None:
        return []
    query = (
        sa.select(instances.c.pk, instances.c.series_pk, instances.c.blob_key,
                  instances.c.blob_size_bytes, instances.c.structured_size_bytes)
        .select_from(instances.join(series).join(studies))
        .where(*_scope(store_pk, study, series_uid, sop))
    )  # fmt: skip
    doomed = tx.execute(query).all()
    if not doomed:
        return []
    by_series: dict[int, list[Any]] = {}
    for row in doomed:
        by_series.setdefault(row.series_pk, []).append(row)
    for series_pk, rows in by_series.items():
        pks = [row.pk for row in rows]
        for start in range(0, len(pks), 500):
            tx.execute(instances.delete().where(instances.c.pk.in_(pks[start : start + 500])))
        blob = sum(row.blob_size_bytes for row in rows)
        structured = sum(row.structured_size_bytes for row in rows)
        tx.execute(
            series.update()
            .where(series.c.pk == series_pk)
            .values(
                instance_count=series.c.instance_count - len(rows),
                blob_size_bytes=series.c.blob_size_bytes - blob,
                structured_size_bytes=series.c.structured_size_bytes - structured,
            )
        )
        emptied = tx.execute(
            series.delete().where(series.c.pk == series_pk, series.c.instance_count <= 0)
        ).rowcount
        tx.execute(
            studies.update()
            .where(studies.c.pk == study_pk)
            .values(
                series_count=studies.c.series_count - emptied,
                instance_count=studies.c.instance_count - len(rows),
                blob_size_bytes=studies.c.blob_size_bytes - blob,
                structured_size_bytes=studies.c.structured_size_bytes - structured,
            )
        )
    tx.execute(studies.delete().where(studies.c.pk == study_pk, studies.c.instance_count <= 0))
    return [row.blob_key for row in doomed]


@dataclass(frozen=True, slots=True)
class Totals:
    """Counts and sizes of a store, study or series (the metrics methods' payloads)."""

    study_count: int
    series_count: int
    instance_count: int
    blob_size_bytes: int
    structured_size_bytes: int


def store_totals(tx: sa.Connection, store_pk: int) -> Totals:
    row = tx.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(studies.c.series_count), 0),
            sa.func.coalesce(sa.func.sum(studies.c.instance_count), 0),
            sa.func.coalesce(sa.func.sum(studies.c.blob_size_bytes), 0),
            sa.func.coalesce(sa.func.sum(studies.c.structured_size_bytes), 0),
        ).where(studies.c.dicom_store_pk == store_pk)
    ).one()
    return Totals(*(int(value) for value in row))


def study_totals(tx: sa.Connection, store_pk: int, study: str) -> Totals | None:
    row = tx.execute(
        sa.select(
            studies.c.series_count, studies.c.instance_count, studies.c.blob_size_bytes,
            studies.c.structured_size_bytes,
        ).where(studies.c.dicom_store_pk == store_pk, studies.c.study_instance_uid == study)
    ).first()  # fmt: skip
    return Totals(1, *(int(value) for value in row)) if row is not None else None


def series_totals(tx: sa.Connection, store_pk: int, study: str, series_uid: str) -> Totals | None:
    row = tx.execute(
        sa.select(series.c.instance_count, series.c.blob_size_bytes, series.c.structured_size_bytes)
        .select_from(series.join(studies))
        .where(*_scope(store_pk, study, series_uid, None))
    ).first()
    return Totals(1, 1, *(int(value) for value in row)) if row is not None else None


def known_blob_keys(tx: sa.Connection, keys: list[str]) -> set[str]:
    """Which of ``keys`` an instance row references."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        batch = keys[start : start + 500]
        found.update(
            tx.execute(sa.select(instances.c.blob_key).where(instances.c.blob_key.in_(batch)))
            .scalars()
            .all()
        )
    return found

"""Queries on ``datasets``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dicomstore.clock import utc
from dicomstore.errors import AlreadyExists, NotFound
from dicomstore.index.engine import by_codepoint
from dicomstore.index.schema import datasets
from dicomstore.names import DatasetName, LocationName

__all__ = ["DatasetRow", "delete", "get", "insert", "list_page", "update"]


@dataclass(frozen=True, slots=True)
class DatasetRow:
    pk: int
    name: DatasetName
    time_zone: str
    encryption_spec: dict[str, Any] | None
    create_time: datetime


def _row(row: sa.Row[Any]) -> DatasetRow:
    return DatasetRow(
        pk=row.pk,
        name=DatasetName(LocationName(row.project, row.location), row.dataset_id),
        time_zone=row.time_zone,
        encryption_spec=row.encryption_spec,
        create_time=utc(row.create_time),
    )


def _where(name: DatasetName) -> sa.ColumnElement[bool]:
    return sa.and_(
        datasets.c.project == name.parent.project,
        datasets.c.location == name.parent.location,
        datasets.c.dataset_id == name.dataset_id,
    )


def insert(
    tx: sa.Connection,
    name: DatasetName,
    *,
    time_zone: str,
    encryption_spec: dict[str, Any] | None,
    now: datetime,
) -> DatasetRow:
    # The existence check gives the clear error; the unique constraint settles races.
    if tx.execute(sa.select(datasets.c.pk).where(_where(name))).first() is not None:
        raise AlreadyExists(f"Dataset {name} already exists.")
    try:
        with tx.begin_nested():
            tx.execute(
                datasets.insert().values(
                    project=name.parent.project,
                    location=name.parent.location,
                    dataset_id=name.dataset_id,
                    time_zone=time_zone,
                    encryption_spec=encryption_spec,
                    create_time=now,
                )
            )
    except sa.exc.IntegrityError as error:
        raise AlreadyExists(f"Dataset {name} already exists.") from error
    return get(tx, name)


def get(tx: sa.Connection, name: DatasetName, *, for_update: bool = False) -> DatasetRow:
    query = sa.select(datasets).where(_where(name))
    if for_update:
        query = query.with_for_update()
    row = tx.execute(query).first()
    if row is None:
        raise NotFound(f"Dataset {name} not found.")
    return _row(row)


def list_page(
    tx: sa.Connection, parent: LocationName, *, after: str | None, limit: int
) -> list[DatasetRow]:
    """Up to ``limit`` datasets of ``parent`` ordered by ID, starting after the ID ``after``."""
    dataset_id = by_codepoint(datasets.c.dataset_id, tx.dialect)
    query = (
        sa.select(datasets)
        .where(datasets.c.project == parent.project, datasets.c.location == parent.location)
        .order_by(dataset_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(dataset_id > after)
    return [_row(row) for row in tx.execute(query)]


def update(tx: sa.Connection, dataset: DatasetRow, *, time_zone: str) -> DatasetRow:
    tx.execute(datasets.update().where(datasets.c.pk == dataset.pk).values(time_zone=time_zone))
    return get(tx, dataset.name)


def delete(tx: sa.Connection, dataset: DatasetRow) -> None:
    """Delete the dataset; its stores, their data and its operations go with it (cascade)."""
    tx.execute(datasets.delete().where(datasets.c.pk == dataset.pk))

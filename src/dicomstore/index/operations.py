"""Queries on ``operations``: the long-running operations of a dataset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from dicomstore.clock import utc
from dicomstore.errors import AlreadyExists, NotFound
from dicomstore.index.datasets import DatasetRow
from dicomstore.index.schema import operations
from dicomstore.names import OperationName

__all__ = [
    "Counter",
    "OperationRow",
    "OperationState",
    "finish",
    "get",
    "insert",
    "list_page",
    "request_cancel",
]


class OperationState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Counter:
    """OperationMetadata.ProgressCounter: units (instances) by outcome."""

    success: int = 0
    failure: int = 0
    pending: int = 0
    secondary_success: int = 0
    secondary_failure: int = 0


@dataclass(frozen=True, slots=True)
class OperationRow:
    pk: int
    name: OperationName
    api_method_name: str
    target: str | None
    state: OperationState
    request: dict[str, Any] | None
    cancel_requested: bool
    counter: Counter
    response: dict[str, Any] | None
    error: dict[str, Any] | None
    create_time: datetime
    end_time: datetime | None

    @property
    def done(self) -> bool:
        return self.state is OperationState.DONE


def _row(dataset: DatasetRow, row: sa.Row[Any]) -> OperationRow:
    return OperationRow(
        pk=row.pk,
        name=OperationName(dataset.name, row.operation_id),
        api_method_name=row.api_method_name,
        target=row.target,
        state=OperationState(row.state),
        request=row.request,
        cancel_requested=row.cancel_requested,
        counter=Counter(
            success=row.counter_success,
            failure=row.counter_failure,
            pending=row.counter_pending,
            secondary_success=row.counter_secondary_success,
            secondary_failure=row.counter_secondary_failure,
        ),
        response=row.response,
        error=row.error,
        create_time=utc(row.create_time),
        end_time=utc(row.end_time) if row.end_time is not None else None,
    )


def insert(
    tx: sa.Connection,
    dataset: DatasetRow,
    operation_id: str,
    *,
    api_method_name: str,
    now: datetime,
    target: str | None = None,
    request: dict[str, Any] | None = None,
) -> OperationRow:
    try:
        with tx.begin_nested():
            tx.execute(
                operations.insert().values(
                    dataset_pk=dataset.pk,
                    operation_id=operation_id,
                    api_method_name=api_method_name,
                    target=target,
                    request=request,
                    state=OperationState.PENDING,
                    create_time=now,
                )
            )
    except sa.exc.IntegrityError as error:
        # Operation IDs are unique across datasets (they are drawn at random from 9·10^18);
        # any other violation, such as a dataset deleted meanwhile, is not ours to rename.
        taken = sa.select(operations.c.pk).where(operations.c.operation_id == operation_id)
        if tx.execute(taken).first() is None:
            raise
        raise AlreadyExists(f"Operation {operation_id} already exists.") from error
    return get(tx, dataset, operation_id)


def get(tx: sa.Connection, dataset: DatasetRow, operation_id: str) -> OperationRow:
    row = tx.execute(
        sa.select(operations).where(
            operations.c.dataset_pk == dataset.pk, operations.c.operation_id == operation_id
        )
    ).first()
    if row is None:
        raise NotFound(f"Operation {dataset.name}/operations/{operation_id} not found.")
    return _row(dataset, row)


def list_page(
    tx: sa.Connection, dataset: DatasetRow, *, before_pk: int | None, limit: int
) -> list[OperationRow]:
    """Up to ``limit`` operations of the dataset, newest first, older than ``before_pk``."""
    query = (
        sa.select(operations)
        .where(operations.c.dataset_pk == dataset.pk)
        .order_by(operations.c.pk.desc())
        .limit(limit)
    )
    if before_pk is not None:
        query = query.where(operations.c.pk < before_pk)
    return [_row(dataset, row) for row in tx.execute(query)]


def finish(
    tx: sa.Connection,
    operation: OperationRow,
    *,
    now: datetime,
    response: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    counter: Counter | None = None,
) -> None:
    """Mark the operation done with exactly one of ``response`` and ``error``."""
    if (response is None) == (error is None):
        raise ValueError("an operation ends with exactly one of a response and an error")
    values: dict[str, Any] = {
        "state": OperationState.DONE,
        "response": response,
        "error": error,
        "end_time": now,
    }
    if counter is not None:
        values |= {
            "counter_success": counter.success,
            "counter_failure": counter.failure,
            "counter_pending": counter.pending,
            "counter_secondary_success": counter.secondary_success,
            "counter_secondary_failure": counter.secondary_failure,
        }
    tx.execute(operations.update().where(operations.c.pk == operation.pk).values(**values))


def request_cancel(tx: sa.Connection, operation: OperationRow) -> None:
    """Flag the operation; the worker running it stops at its next check and ends it CANCELLED."""
    tx.execute(
        operations.update().where(operations.c.pk == operation.pk).values(cancel_requested=True)
    )

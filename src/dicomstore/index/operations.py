"""Queries on ``operations``: the long-running operations of a dataset."""

from __future__ import annotations

from collections.abc import Collection
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
    "UNFINISHED_UNDER",
    "Claim",
    "Counter",
    "OperationRow",
    "OperationState",
    "any_unfinished_target_under",
    "claim",
    "finish",
    "finish_claimed",
    "get",
    "heartbeat",
    "insert",
    "list_page",
    "recover",
    "release",
    "request_cancel",
    "under_pattern",
    "unfinished_targets",
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
    tx: sa.Connection,
    dataset: DatasetRow,
    *,
    before_pk: int | None,
    limit: int,
    done: bool | None = None,
    api_method_name: str | None = None,
) -> list[OperationRow]:
    """Up to ``limit`` operations of the dataset, newest first, older than ``before_pk``;
    ``done`` and ``api_method_name``, when given, narrow the list."""
    query = (
        sa.select(operations)
        .where(operations.c.dataset_pk == dataset.pk)
        .order_by(operations.c.pk.desc())
        .limit(limit)
    )
    if before_pk is not None:
        query = query.where(operations.c.pk < before_pk)
    if done is not None:
        query = query.where(
            operations.c.state == OperationState.DONE
            if done
            else operations.c.state != OperationState.DONE
        )
    if api_method_name is not None:
        query = query.where(operations.c.api_method_name == api_method_name)
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


# --- Worker side: claiming, heartbeats and progress, restart recovery -----------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """A pending operation a worker has taken: what it needs to run it, nothing more."""

    pk: int
    operation_id: str
    api_method_name: str
    target: str | None
    request: dict[str, Any] | None
    attempts: int


def _counter_values(counter: Counter) -> dict[str, int]:
    return {
        "counter_success": counter.success,
        "counter_failure": counter.failure,
        "counter_pending": counter.pending,
        "counter_secondary_success": counter.secondary_success,
        "counter_secondary_failure": counter.secondary_failure,
    }


def claim(
    tx: sa.Connection, *, worker: str, methods: Collection[str], now: datetime
) -> Claim | None:
    """Take the oldest pending operation with one of ``methods`` for ``worker``, or None.

    PostgreSQL skips rows another worker has locked (``FOR UPDATE SKIP LOCKED``); SQLite, which
    has no row locks, relies on the compare-and-set below: only one ``UPDATE … WHERE
    state='pending'`` can change the row, the loser sees no row changed.
    """
    candidate = tx.execute(
        sa.select(operations.c.pk)
        .where(
            operations.c.state == OperationState.PENDING,
            operations.c.api_method_name.in_(list(methods)),
        )
        .order_by(operations.c.pk)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar()
    if candidate is None:
        return None
    taken = tx.execute(
        operations.update()
        .where(operations.c.pk == candidate, operations.c.state == OperationState.PENDING)
        .values(
            state=OperationState.RUNNING,
            worker=worker,
            heartbeat_time=now,
            attempts=operations.c.attempts + 1,
        )
    )
    if taken.rowcount != 1:
        return None
    row = tx.execute(sa.select(operations).where(operations.c.pk == candidate)).one()
    return Claim(
        pk=row.pk,
        operation_id=row.operation_id,
        api_method_name=row.api_method_name,
        target=row.target,
        request=row.request,
        attempts=row.attempts,
    )


def _held(pk: int, worker: str) -> sa.Update:
    """An update of operation ``pk`` that changes it only while ``worker`` is running it."""
    return operations.update().where(
        operations.c.pk == pk,
        operations.c.worker == worker,
        operations.c.state == OperationState.RUNNING,
    )


def heartbeat(
    tx: sa.Connection, pk: int, *, worker: str, now: datetime, counter: Counter
) -> bool | None:
    """Record progress of a claimed operation; whether a cancel was requested, or None when
    ``worker`` no longer holds it (recovered as stale, or finished elsewhere)."""
    changed = tx.execute(_held(pk, worker).values(heartbeat_time=now, **_counter_values(counter)))
    if changed.rowcount != 1:
        return None
    flag = tx.execute(sa.select(operations.c.cancel_requested).where(operations.c.pk == pk))
    return bool(flag.scalar())


def release(tx: sa.Connection, pk: int, *, worker: str) -> bool:
    """Hand a claimed operation back to pending, unfinished and without using up an attempt
    (its worker is shutting down); whether ``worker`` still held it."""
    changed = tx.execute(
        _held(pk, worker).values(
            state=OperationState.PENDING,
            worker=None,
            heartbeat_time=None,
            attempts=operations.c.attempts - 1,
        )
    )
    return changed.rowcount == 1


def finish_claimed(
    tx: sa.Connection,
    pk: int,
    *,
    worker: str,
    now: datetime,
    counter: Counter,
    response: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> bool:
    """End a claimed operation with exactly one of ``response`` and ``error``; False when
    ``worker`` no longer holds it."""
    if (response is None) == (error is None):
        raise ValueError("an operation ends with exactly one of a response and an error")
    changed = tx.execute(
        _held(pk, worker).values(
            state=OperationState.DONE,
            response=response,
            error=error,
            end_time=now,
            heartbeat_time=now,
            **_counter_values(counter),
        )
    )
    return changed.rowcount == 1


def recover(
    tx: sa.Connection,
    *,
    now: datetime,
    stale_before: datetime | None,
    retryable: Collection[str],
    max_attempts: int,
    error: dict[str, Any],
    cancelled: dict[str, Any],
) -> tuple[int, int]:
    """Running operations whose worker died (heartbeat older than ``stale_before``; every
    running one when None): done with ``cancelled`` when a cancel was requested, back to pending
    when their method is in ``retryable`` and they have had fewer than ``max_attempts``
    attempts, else done with ``error``. (requeued, failed)."""
    stale = [operations.c.state == OperationState.RUNNING]
    if stale_before is not None:
        stale.append(
            sa.or_(
                operations.c.heartbeat_time.is_(None), operations.c.heartbeat_time < stale_before
            )
        )
    failed = tx.execute(
        operations.update()
        .where(*stale, operations.c.cancel_requested.is_(sa.true()))
        .values(state=OperationState.DONE, error=cancelled, end_time=now, response=None)
    ).rowcount
    again = sa.and_(
        operations.c.api_method_name.in_(list(retryable)),
        operations.c.attempts < max_attempts,
    )
    requeued = tx.execute(
        operations.update()
        .where(*stale, again)
        .values(state=OperationState.PENDING, worker=None, heartbeat_time=None)
    ).rowcount
    failed += tx.execute(
        operations.update()
        .where(*stale, sa.not_(again))
        .values(state=OperationState.DONE, error=error, end_time=now, response=None)
    ).rowcount
    return requeued, failed


# Asked once per STOW request: built once, with the LIKE pattern as a bind parameter (escaped
# by `under_pattern`: SQLAlchemy's autoescape takes only a literal string).
_UNFINISHED_UNDER = (
    sa.select(operations.c.pk)
    .where(
        operations.c.state != OperationState.DONE,
        operations.c.target.like(sa.bindparam("pattern"), escape="/"),
    )
    .limit(1)
)
#: Whether an unfinished operation acts on a target whose path starts with the prefix that
#: `under_pattern` made the ``pattern`` bind parameter of, as a column for a larger query.
UNFINISHED_UNDER = _UNFINISHED_UNDER.exists()


def under_pattern(prefix: str) -> str:
    """The ``pattern`` bind parameter value of `UNFINISHED_UNDER` for ``prefix``."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def any_unfinished_target_under(tx: sa.Connection, prefix: str) -> bool:
    """Whether an unfinished operation acts on a target whose path starts with ``prefix``."""
    return tx.execute(_UNFINISHED_UNDER, {"pattern": under_pattern(prefix)}).first() is not None


def unfinished_targets(tx: sa.Connection, targets: Collection[str]) -> set[str]:
    """Which of ``targets`` an unfinished operation is acting on."""
    rows = tx.execute(
        sa.select(operations.c.target).where(
            operations.c.state != OperationState.DONE, operations.c.target.in_(list(targets))
        )
    )
    return {row.target for row in rows}

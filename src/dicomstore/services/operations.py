"""``datasets.operations``: reading and cancelling long-running operations."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from dicomstore.clock import utcnow
from dicomstore.errors import InvalidArgument
from dicomstore.index import Index
from dicomstore.index import datasets as dataset_rows
from dicomstore.index import operations as operation_rows
from dicomstore.index.datasets import DatasetRow
from dicomstore.index.operations import OperationRow
from dicomstore.names import DatasetName, OperationName
from dicomstore.services.messages import operation_message
from dicomstore.services.paging import PageRequest

__all__ = ["OperationService", "record_finished_operation"]


def _new_operation_id() -> str:
    # Google's operation IDs are long decimal numbers; 19 digits fit a signed int64.
    return str(10**18 + secrets.randbelow(9 * 10**18 - 1))


def record_finished_operation(
    tx: sa.Connection, dataset: DatasetRow, api_method_name: str, response: dict[str, Any]
) -> OperationRow:
    """Record an operation whose work was done inside the caller's transaction."""
    now = utcnow()
    operation = operation_rows.insert(
        tx, dataset, _new_operation_id(), api_method_name=api_method_name, now=now
    )
    operation_rows.finish(tx, operation, now=now, response=response)
    return operation_rows.get(tx, dataset, operation.name.operation_id)


class OperationService:
    def __init__(self, index: Index) -> None:
        self.index = index

    def get(self, name: OperationName) -> dict[str, Any]:
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name.parent)
            return operation_message(operation_rows.get(tx, dataset, name.operation_id))

    def list(
        self,
        dataset_name: DatasetName,
        page_size: int | None,
        page_token: str | None,
        filter_text: str | None,
    ) -> dict[str, Any]:
        if filter_text:
            raise InvalidArgument(
                f"Invalid filter {filter_text!r}: filtering operations is not supported yet."
            )
        page = PageRequest.parse(page_size, page_token)
        if page.after is not None and not isinstance(page.after, int):
            raise InvalidArgument("Invalid page token.")
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, dataset_name)
            rows = operation_rows.list_page(tx, dataset, before_pk=page.after, limit=page.size + 1)
        answer: dict[str, Any] = {}
        if rows:
            answer["operations"] = [operation_message(row) for row in rows[: page.size]]
        if len(rows) > page.size:
            answer["nextPageToken"] = page.next_token(rows[page.size - 1].pk)
        return answer

    def cancel(self, name: OperationName) -> dict[str, Any]:
        """Ask a running operation to stop; a finished one is left as it is (best effort)."""
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, name.parent)
            operation = operation_rows.get(tx, dataset, name.operation_id)
            if not operation.done:
                operation_rows.request_cancel(tx, operation)
        return {}

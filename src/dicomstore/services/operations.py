"""``datasets.operations``: reading and cancelling long-running operations."""

from __future__ import annotations

import re
from dataclasses import dataclass
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
from dicomstore.services.jobs import new_operation_id
from dicomstore.services.messages import operation_message
from dicomstore.services.paging import PageRequest

__all__ = ["OperationFilter", "OperationService", "record_finished_operation"]

# One ``field = value`` term of an operations.list filter; terms are joined by AND.
_TERM = re.compile(r'\s*(done|metadata\.apiMethodName)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s"]+)\s*')
_AND = re.compile(r"\s+AND\s+")


@dataclass(frozen=True, slots=True)
class OperationFilter:
    """What ``datasets.operations.list`` can filter on: ``done=true|false`` and
    ``metadata.apiMethodName="…"``, AND-combined (``google-dicom-api.md`` §4.2)."""

    done: bool | None = None
    api_method_name: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> OperationFilter:
        if not text or not text.strip():
            return cls()
        done: bool | None = None
        method: str | None = None
        for term in _AND.split(text.strip()):
            match = _TERM.fullmatch(term)
            if match is None:
                raise cls._invalid(text)
            field, value = match.groups()
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            if field == "done":
                if done is not None or value not in ("true", "false"):
                    raise cls._invalid(text)
                done = value == "true"
            else:
                if method is not None:
                    raise cls._invalid(text)
                method = value
        return cls(done, method)

    @staticmethod
    def _invalid(text: str) -> InvalidArgument:
        return InvalidArgument(
            f"Invalid filter {text!r}: supported are done=true|false and "
            'metadata.apiMethodName="…", joined by AND.'
        )


def record_finished_operation(
    tx: sa.Connection, dataset: DatasetRow, api_method_name: str, response: dict[str, Any]
) -> OperationRow:
    """Record an operation whose work was done inside the caller's transaction."""
    now = utcnow()
    operation = operation_rows.insert(
        tx, dataset, new_operation_id(), api_method_name=api_method_name, now=now
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
        wanted = OperationFilter.parse(filter_text)
        page = PageRequest.parse(page_size, page_token)
        if page.after is not None and not isinstance(page.after, int):
            raise InvalidArgument("Invalid page token.")
        with self.index.transaction() as tx:
            dataset = dataset_rows.get(tx, dataset_name)
            rows = operation_rows.list_page(
                tx,
                dataset,
                before_pk=page.after,
                limit=page.size + 1,
                done=wanted.done,
                api_method_name=wanted.api_method_name,
            )
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

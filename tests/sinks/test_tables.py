"""Request-time checks of a ``bigqueryDestination`` and the modules' public names."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from typing import Any

import pytest

from dicomstore.dicom.bigquery import Column, TableUri, WriteDisposition
from dicomstore.errors import InvalidArgument
from dicomstore.sinks import (
    MetadataTable,
    RowFile,
    export_metadata,
    validate_destination,
)
from tests.sinks.instances import records


@pytest.mark.parametrize(
    "destination",
    [
        {"tableUri": "bq://p.d.t"},
        {"tableUri": "bq://p.d.t", "force": True, "schemaFlattened": {}},
        {"tableUri": "bq://p.d.t", "writeDisposition": "WRITE_APPEND", "force": False},
        {"tableUri": "bq://p.d.t", "schemaJson": {}, "includeSourceStore": True},
        {"tableUri": "bq://p.d.t", "schemaJson": None, "schemaFlattened": {}},
    ],
)
def test_valid_destinations(destination: dict[str, Any]) -> None:
    validate_destination(destination)


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ({}, "bigqueryDestination.tableUri is required."),
        ({"tableUri": ""}, "bigqueryDestination.tableUri is required."),
        ({"tableUri": "p.d.t"}, "Invalid bigqueryDestination.tableUri 'p.d.t': it must start"),
        ({"tableUri": "bq://p.d.t", "writeDisposition": "WRITE_SOMETIMES"},
         "Invalid bigqueryDestination.writeDisposition 'WRITE_SOMETIMES'"),
        ({"tableUri": "bq://p.d.t", "force": "true"},
         "Invalid bigqueryDestination.force 'true': expected a boolean."),
        ({"tableUri": "bq://p.d.t", "includeSourceStore": 1},
         "Invalid bigqueryDestination.includeSourceStore 1"),
        ({"tableUri": "bq://p.d.t", "schemaJson": {}, "schemaFlattened": {}},
         "Invalid bigqueryDestination: schemaFlattened and schemaJson cannot both be set."),
    ],
)  # fmt: skip
def test_invalid_destinations(destination: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        validate_destination(destination)
    assert refused.value.message.startswith(message)


class RecordingTable:
    """A backend that keeps what it is given."""

    def __init__(self, *, gzip_rows: bool) -> None:
        self.gzip_rows = gzip_rows
        self.checked: list[tuple[TableUri, WriteDisposition]] = []
        self.rows: list[dict[str, Any]] = []
        self.columns: list[Column] = []

    def check_writable(self, table: TableUri, disposition: WriteDisposition) -> None:
        self.checked.append((table, disposition))

    def load(
        self, table: TableUri, columns: Sequence[Column], rows: RowFile, disposition: Any
    ) -> int:
        assert rows.gzipped is self.gzip_rows
        assert rows.path.name.endswith(".gz") is self.gzip_rows
        with gzip.open(rows.path) if rows.gzipped else rows.path.open("rb") as source:
            lines = source.read().splitlines()
        assert rows.longest_row == max(len(line) + 1 for line in lines)
        self.rows = [json.loads(line) for line in lines]
        self.columns = list(columns)
        return rows.rows


@pytest.mark.parametrize("gzip_rows", [True, False])
def test_export_hands_the_backend_a_row_file(gzip_rows: bool) -> None:
    backend = RecordingTable(gzip_rows=gzip_rows)
    assert isinstance(backend, MetadataTable)
    instances = records("CT_small.dcm", "MR_small.dcm")
    destination = {"tableUri": "bq://p.d.t", "force": True, "includeSourceStore": False}
    assert export_metadata(destination, instances, backend=backend) == 2
    assert backend.checked == [(TableUri("p", "d", "t"), WriteDisposition.WRITE_TRUNCATE)]
    assert [row["Modality"] for row in backend.rows] == ["CT", "MR"]
    assert all("SourceDicomStore" not in row for row in backend.rows)  # not asked for
    names = {column.name for column in backend.columns}
    assert all(set(row) <= names for row in backend.rows)

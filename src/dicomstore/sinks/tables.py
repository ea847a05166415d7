"""Exporting instance metadata to an analytics table: ``dicomStores.export`` with a
``bigqueryDestination`` (``shared/spec/store-features.md`` §3, §8.2).

:func:`export_metadata` makes one pass over the instances, in bounded memory whatever their
number: each becomes a row (:mod:`dicomstore.dicom.bigquery`) written to a temporary
newline-delimited JSON file while the schema the rows need is merged; the file is then loaded in
one go, with that schema, by a :class:`MetadataTable` backend — an embedded DuckDB database
(:mod:`~dicomstore.sinks.duckdb_table`, the default) or Google BigQuery
(:mod:`~dicomstore.sinks.bigquery_table`). Nothing touches the table before the load, so an export
that fails or is cancelled while its rows are read leaves the table as it was.

Write dispositions, as Google's export applies them: a missing table is created whatever the
disposition; WRITE_EMPTY refuses a table holding rows (an existing empty one is accepted, its
columns completed), checked before the rows are read so that a refusal is quick, and again when
loading; WRITE_TRUNCATE replaces the table, schema included; WRITE_APPEND adds the rows, and the
columns the table lacks, and refuses a column whose type differs.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from dicomstore.dicom.bigquery import (
    Column,
    RowExtras,
    SchemaBuilder,
    SchemaType,
    TableUri,
    WriteDisposition,
    flattened_row,
    json_row,
    parse_table_uri,
    resolve_disposition,
    schema_type,
)
from dicomstore.errors import FailedPrecondition, InvalidArgument

__all__ = [
    "PROGRESS_INTERVAL",
    "InstanceRecord",
    "MetadataTable",
    "RowFile",
    "export_metadata",
    "not_empty",
    "open_metadata_table",
    "validate_destination",
]

PROGRESS_INTERVAL: Final = 1000
"""``export_metadata`` reports progress at least once every this many rows."""


@dataclass(frozen=True)
class InstanceRecord:
    """One instance to export: its DICOM JSON as the store keeps it, and the other columns."""

    metadata: Mapping[str, Any]
    extras: RowExtras


@dataclass(frozen=True)
class RowFile:
    """Rows ready to load: a newline-delimited JSON file, one object per row.

    Attributes
    ----------
    path : Path
        The file, UTF-8.
    rows : int
        How many lines it holds.
    longest_row : int
        Bytes of its longest line, uncompressed (DuckDB needs it to size its reader).
    gzipped : bool
        Whether the file is gzip-compressed.
    """

    path: Path
    rows: int
    longest_row: int
    gzipped: bool = False


@runtime_checkable
class MetadataTable(Protocol):
    """Where exported metadata goes: tables named by BigQuery table URIs.

    Errors are :mod:`dicomstore.errors`: FailedPrecondition for a table that the disposition
    refuses or whose columns conflict, Unavailable when the backend cannot be reached or is busy,
    PermissionDenied when it refuses access.
    """

    gzip_rows: bool
    """Whether the backend wants its row files gzip-compressed (a tenth of the disk space, for
    a little CPU)."""

    def check_writable(self, table: TableUri, disposition: WriteDisposition) -> None:
        """Fail now if loading into ``table`` with ``disposition`` is bound to fail: WRITE_EMPTY
        on a table holding rows (use :func:`not_empty` for the error), or a backend that cannot be
        reached. Creates nothing."""
        ...

    def load(
        self,
        table: TableUri,
        columns: Sequence[Column],
        rows: RowFile,
        disposition: WriteDisposition,
    ) -> int:
        """Load ``rows``, which fit ``columns``, into ``table`` under ``disposition``, atomically
        where the backend allows; return the number of rows written."""
        ...


def not_empty(table: TableUri) -> FailedPrecondition:
    """The error for WRITE_EMPTY on a table that holds rows."""
    return FailedPrecondition(
        f"BigQuery table {table} is not empty; use WRITE_TRUNCATE or WRITE_APPEND."
    )


def _optional_bool(destination: Mapping[str, Any], name: str) -> bool:
    value = destination.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"Invalid bigqueryDestination.{name} {value!r}: expected a boolean.")
    return bool(value)


def validate_destination(destination: Mapping[str, Any]) -> None:
    """Check a request's ``bigqueryDestination`` (``tableUri``, ``writeDisposition``, ``force``,
    the schema oneof), so that a bad request fails before an operation starts.

    Unknown fields are the HTTP layer's to reject; they are ignored here.

    Raises
    ------
    InvalidArgument
        A field is missing or not valid; the message names it.
    """
    table_uri = destination.get("tableUri")
    if not table_uri:
        raise InvalidArgument("bigqueryDestination.tableUri is required.")
    parse_table_uri(table_uri)
    force = _optional_bool(destination, "force")
    _optional_bool(destination, "includeSourceStore")
    resolve_disposition(destination.get("writeDisposition"), force)
    schema_type(destination)


def _spool(
    records: Iterable[InstanceRecord],
    write: Callable[[bytes], object],
    to_row: Callable[[Mapping[str, Any], RowExtras], dict[str, Any]],
    builder: SchemaBuilder,
    include_source_store: bool,
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    count = longest = 0
    for record in records:
        extras = record.extras
        if not include_source_store and extras.source_store is not None:
            extras = replace(extras, source_store=None)
        row = to_row(record.metadata, extras)
        builder.add(row)
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        # A lone surrogate (a "\\ud800" escape in stored JSON) cannot be UTF-8: it becomes "?".
        data = line.encode("utf-8", "replace") + b"\n"
        write(data)
        longest = max(longest, len(data))
        count += 1
        if progress is not None and count % PROGRESS_INTERVAL == 0:
            progress(count)
    if progress is not None and (count == 0 or count % PROGRESS_INTERVAL):
        progress(count)  # the total, unless just reported
    return count, longest


def export_metadata(
    destination: Mapping[str, Any],
    rows: Iterable[InstanceRecord],
    *,
    backend: MetadataTable,
    progress: Callable[[int], None] | None = None,
    spool_dir: Path | None = None,
) -> int:
    """Export instance metadata to the table a ``bigqueryDestination`` names.

    Parameters
    ----------
    destination : Mapping[str, Any]
        The request's ``bigqueryDestination`` (checked by :func:`validate_destination`).
    rows : Iterable[InstanceRecord]
        The instances, read once, lazily.
    backend : MetadataTable
        Where the table lives.
    progress : Callable[[int], None], optional
        Called with the number of rows read so far, every :data:`PROGRESS_INTERVAL` rows, and
        with the total once all are read (if not just reported), always before the table is
        touched: whatever it raises (a cancellation) stops the export and leaves the table as
        it was.
    spool_dir : Path, optional
        Where the temporary row file goes (it holds every row: a few kilobytes per instance,
        a tenth of that gzipped); the system's temporary directory by default.

    Returns
    -------
    int
        The number of rows written.
    """
    validate_destination(destination)
    table = parse_table_uri(destination["tableUri"])
    disposition = resolve_disposition(destination.get("writeDisposition"), destination.get("force"))
    schema = schema_type(destination)
    include_source_store = bool(destination.get("includeSourceStore"))
    backend.check_writable(table, disposition)

    builder = SchemaBuilder(schema, include_source_store=include_source_store)
    to_row = json_row if schema is SchemaType.JSON else flattened_row
    gzipped = backend.gzip_rows
    with tempfile.TemporaryDirectory(prefix="dicomstore-export-", dir=spool_dir) as directory:
        path = Path(directory) / ("rows.ndjson.gz" if gzipped else "rows.ndjson")
        with gzip.open(path, "wb", compresslevel=1) if gzipped else path.open("wb") as out:
            count, longest = _spool(
                rows, out.write, to_row, builder, include_source_store, progress
            )
        row_file = RowFile(path, count, longest, gzipped)
        return backend.load(table, builder.columns(), row_file, disposition)


def open_metadata_table(kind: str = "duckdb", *, duckdb_dir: Path) -> MetadataTable:
    """The backend for exported tables: ``duckdb`` (one database file per BigQuery project under
    ``duckdb_dir``) or ``bigquery`` (Google BigQuery with Application Default Credentials, or the
    emulator at ``BIGQUERY_EMULATOR_HOST``).

    Raises
    ------
    ValueError
        ``kind`` is neither.
    """
    if kind == "duckdb":
        from dicomstore.sinks.duckdb_table import DuckDBTable

        return DuckDBTable(duckdb_dir)
    if kind == "bigquery":
        from dicomstore.sinks.bigquery_table import BigQueryTable

        return BigQueryTable()
    raise ValueError(f"unknown metadata table backend {kind!r}: expected 'duckdb' or 'bigquery'")

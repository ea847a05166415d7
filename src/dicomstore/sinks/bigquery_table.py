"""Exported metadata tables in Google BigQuery, through google-cloud-bigquery.

Rows are loaded with one load job from the newline-delimited JSON file
(``SourceFormat.NEWLINE_DELIMITED_JSON``) with the export's schema, so a load is atomic: BigQuery
writes all the rows or none. Write dispositions map onto the job's:

- a missing table: the job creates it (the dataset must exist: FailedPrecondition otherwise);
- WRITE_TRUNCATE: ``WRITE_TRUNCATE``, which replaces rows and schema;
- WRITE_APPEND: ``WRITE_APPEND`` with the table's schema completed by the export's columns
  (``ALLOW_FIELD_ADDITION``); a column of another type is refused before the job starts;
- WRITE_EMPTY on an existing empty table: the table's schema is completed first (a patch: adding
  NULLABLE and REPEATED columns is always allowed), then ``WRITE_EMPTY``, which BigQuery itself
  refuses if rows arrived meanwhile.

Credentials are Application Default Credentials (``google.auth.default``). When
``BIGQUERY_EMULATOR_HOST`` is set (``host:port`` or a URL, as for the goccy/bigquery-emulator) the
client talks to it anonymously instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import google.auth
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from dicomstore.dicom.bigquery import (
    Column,
    ColumnMode,
    ColumnType,
    TableUri,
    WriteDisposition,
    merge_columns,
)
from dicomstore.errors import (
    DicomStoreError,
    FailedPrecondition,
    Internal,
    PermissionDenied,
    Unavailable,
)
from dicomstore.sinks.tables import RowFile, not_empty

__all__ = [
    "EMULATOR_HOST_VARIABLE",
    "BigQueryTable",
    "client_for",
    "columns_of",
    "load_job_config",
    "schema_fields",
]

EMULATOR_HOST_VARIABLE: Final = "BIGQUERY_EMULATOR_HOST"
_SCOPES: Final = ("https://www.googleapis.com/auth/bigquery",)
# The API's names for the types of Column (legacy SQL names, and their standard SQL aliases).
_COLUMN_TYPES: Final[dict[str, ColumnType]] = {
    "STRING": "STRING",
    "INTEGER": "INTEGER",
    "INT64": "INTEGER",
    "FLOAT": "FLOAT",
    "FLOAT64": "FLOAT",
    "DATE": "DATE",
    "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP",
    "RECORD": "RECORD",
    "STRUCT": "RECORD",
    "JSON": "JSON",
    "BOOLEAN": "BOOLEAN",
    "BOOL": "BOOLEAN",
}
_MODES: Final[dict[str, ColumnMode]] = {"NULLABLE": "NULLABLE", "REPEATED": "REPEATED"}


def schema_fields(columns: Sequence[Column]) -> list[bigquery.SchemaField]:
    """The BigQuery schema of ``columns``."""
    return [
        bigquery.SchemaField(
            column.name, column.type, mode=column.mode, fields=schema_fields(column.fields)
        )
        for column in columns
    ]


def _column(field: bigquery.SchemaField) -> Column | None:
    kind = _COLUMN_TYPES.get(field.field_type or "")
    mode = _MODES.get(field.mode or "NULLABLE")
    if kind is None or mode is None:
        return None
    fields = [_column(child) for child in field.fields]
    if None in fields or (kind == "RECORD" and not fields):
        return None
    return Column(field.name, kind, mode, tuple(f for f in fields if f is not None))


def columns_of(fields: Sequence[bigquery.SchemaField]) -> list[Column | None]:
    """The columns of a BigQuery schema, None for a field of a type or mode the export never
    writes (NUMERIC, BYTES, REQUIRED, …)."""
    return [_column(field) for field in fields]


def load_job_config(
    columns: Sequence[Column],
    write_disposition: str,
    *,
    allow_field_addition: bool = False,
) -> bigquery.LoadJobConfig:
    """The load job for a row file: newline-delimited JSON, ``columns``, no bad rows tolerated."""
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        schema=schema_fields(columns),
        write_disposition=write_disposition,
        create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
        max_bad_records=0,
        ignore_unknown_values=False,
    )
    if allow_field_addition:
        config.schema_update_options = [bigquery.SchemaUpdateOption.ALLOW_FIELD_ADDITION]
    return config


def client_for(project: str) -> bigquery.Client:
    """A BigQuery client for ``project``: the emulator at ``BIGQUERY_EMULATOR_HOST`` if set,
    else Google's with Application Default Credentials.

    Raises
    ------
    google.auth.exceptions.DefaultCredentialsError
        No credentials are configured.
    """
    host = os.environ.get(EMULATOR_HOST_VARIABLE)
    if host:
        endpoint = host if "://" in host else f"http://{host}"
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=endpoint),
        )
    credentials, _ = google.auth.default(scopes=list(_SCOPES))
    return bigquery.Client(project=project, credentials=credentials)


@contextmanager
def _translated(table: TableUri) -> Iterator[None]:
    """Turn the client's errors into the store's."""
    try:
        yield
    except DicomStoreError:
        raise
    except auth_exceptions.DefaultCredentialsError as error:
        raise FailedPrecondition(
            f"No Google credentials to write BigQuery table {table}: {error} Set "
            "GOOGLE_APPLICATION_CREDENTIALS (or run `gcloud auth application-default login`), "
            f"or {EMULATOR_HOST_VARIABLE} for a BigQuery emulator."
        ) from error
    except auth_exceptions.RefreshError as error:
        raise PermissionDenied(f"Google credentials were refused for {table}: {error}") from error
    except (api_exceptions.Unauthorized, api_exceptions.Forbidden) as error:
        raise PermissionDenied(f"BigQuery refused access to {table}: {error.message}") from error
    except api_exceptions.Conflict as error:  # a WRITE_EMPTY load found rows
        raise not_empty(table) from error
    except (api_exceptions.BadRequest, api_exceptions.NotFound) as error:
        raise FailedPrecondition(f"BigQuery refused to load {table}: {error.message}") from error
    except (
        api_exceptions.ServerError,
        api_exceptions.TooManyRequests,
        api_exceptions.RetryError,
        auth_exceptions.TransportError,
        OSError,  # requests' connection errors, timeouts
    ) as error:
        raise Unavailable(f"BigQuery is unavailable for {table}: {error}") from error
    except api_exceptions.GoogleAPICallError as error:
        raise Internal(f"BigQuery failed for {table}: {error.message}") from error


class BigQueryTable:
    """Metadata tables in BigQuery.

    Row files are uploaded uncompressed: BigQuery reads them in parallel, and limits gzipped
    JSON to 4 GB.

    Parameters
    ----------
    client_factory : Callable[[str], bigquery.Client], optional
        Makes the client for a project; :func:`client_for` by default.
    timeout : float, optional
        Seconds for which calls other than the load job itself (which runs as long as it takes)
        are retried while BigQuery cannot be reached, before giving up as Unavailable.
    """

    gzip_rows = False

    def __init__(
        self, client_factory: Callable[[str], Any] = client_for, *, timeout: float = 120.0
    ) -> None:
        self._client_factory = client_factory
        self._clients: dict[str, Any] = {}
        self._retry = bigquery.DEFAULT_RETRY.with_timeout(timeout)

    def _client(self, project: str) -> Any:
        if project not in self._clients:
            self._clients[project] = self._client_factory(project)
        return self._clients[project]

    def _existing(self, client: Any, table: TableUri) -> bigquery.Table | None:
        """The table, or None if it does not exist yet (its dataset must)."""
        dataset = bigquery.DatasetReference(table.project, table.dataset)
        try:
            found: bigquery.Table = client.get_table(dataset.table(table.table), retry=self._retry)
        except api_exceptions.NotFound:
            pass
        else:
            return found
        try:
            client.get_dataset(dataset, retry=self._retry)
        except api_exceptions.NotFound as error:
            raise FailedPrecondition(
                f"BigQuery dataset {table.project}.{table.dataset} does not exist; create it "
                f"before exporting to {table}."
            ) from error
        return None

    def check_writable(self, table: TableUri, disposition: WriteDisposition) -> None:
        with _translated(table):
            existing = self._existing(self._client(table.project), table)
        if (
            existing is not None
            and disposition is WriteDisposition.WRITE_EMPTY
            and _has_rows(existing)
        ):
            raise not_empty(table)

    def load(
        self,
        table: TableUri,
        columns: Sequence[Column],
        rows: RowFile,
        disposition: WriteDisposition,
    ) -> int:
        with _translated(table):
            client = self._client(table.project)
            existing = self._existing(client, table)
            if existing is None or disposition is WriteDisposition.WRITE_TRUNCATE:
                config = load_job_config(columns, disposition.value)
            else:
                if disposition is WriteDisposition.WRITE_EMPTY and _has_rows(existing):
                    raise not_empty(table)
                schema, widened = _widened_schema(table, existing.schema, columns)
                if widened and disposition is WriteDisposition.WRITE_EMPTY:
                    existing.schema = schema
                    client.update_table(existing, ["schema"], retry=self._retry)
                config = load_job_config([], disposition.value, allow_field_addition=widened)
                config.schema = schema
            destination = bigquery.DatasetReference(table.project, table.dataset).table(table.table)
            with rows.path.open("rb") as source:
                job = client.load_table_from_file(source, destination, job_config=config)
                job.result()
            return int(job.output_rows or 0)


def _has_rows(table: bigquery.Table) -> bool:
    buffered = table.streaming_buffer
    return bool(table.num_rows) or bool(buffered is not None and buffered.estimated_rows)


def _widened_schema(
    table: TableUri, existing: Sequence[bigquery.SchemaField], columns: Sequence[Column]
) -> tuple[list[bigquery.SchemaField], bool]:
    """The existing schema completed with ``columns``, and whether anything was added."""
    known = columns_of(existing)
    foreign = {
        field.name.casefold(): field
        for field, column in zip(existing, known, strict=True)
        if column is None
    }
    for column in columns:
        if (field := foreign.get(column.name.casefold())) is not None:
            raise FailedPrecondition(
                f"Cannot write to BigQuery table {table}: its column {field.name} is "
                f"{field.mode} {field.field_type}, not the export's {column.describe()}."
            )
    current = [column for column in known if column is not None]
    try:
        merged = merge_columns(current, columns)
    except FailedPrecondition as error:
        raise FailedPrecondition(f"Cannot write to BigQuery table {table}: {error}.") from error
    by_name = {column.name: column for column in merged}
    schema = [
        field if column is None else schema_fields([by_name[column.name]])[0]
        for field, column in zip(existing, known, strict=True)
    ]
    schema += schema_fields(merged[len(current) :])
    return schema, merged != current

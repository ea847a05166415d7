"""The BigQuery backend without a network: schema conversion, load jobs, errors and credentials.

Google's client is replaced by a recording fake for the write dispositions; the credential and
endpoint cases use the real client, which makes no call until asked to.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from dicomstore.dicom.bigquery import Column
from dicomstore.errors import FailedPrecondition, PermissionDenied, Unavailable
from dicomstore.sinks import InstanceRecord, export_metadata, open_metadata_table
from dicomstore.sinks.bigquery_table import (
    BigQueryTable,
    client_for,
    columns_of,
    load_job_config,
    schema_fields,
)
from tests.sinks.instances import extras, records

URI = "bq://my-project.my_dataset.my_table"
CODE = Column(
    "ConceptNameCodeSequence",
    "RECORD",
    "REPEATED",
    (Column("CodeValue", "STRING"), Column("CodingSchemeDesignator", "STRING")),
)


def test_schema_fields() -> None:
    fields = schema_fields([Column("Modality", "STRING"), Column("Rows", "INTEGER"), CODE])
    assert [field.to_api_repr() for field in fields] == [
        {"name": "Modality", "type": "STRING", "mode": "NULLABLE"},
        {"name": "Rows", "type": "INTEGER", "mode": "NULLABLE"},
        {
            "name": "ConceptNameCodeSequence",
            "type": "RECORD",
            "mode": "REPEATED",
            "fields": [
                {"name": "CodeValue", "type": "STRING", "mode": "NULLABLE"},
                {"name": "CodingSchemeDesignator", "type": "STRING", "mode": "NULLABLE"},
            ],
        },
    ]


def test_columns_of_reads_a_schema_back() -> None:
    columns = [
        Column("A", "STRING"),
        Column("B", "FLOAT", "REPEATED"),
        Column("C", "TIMESTAMP"),
        Column("D", "JSON"),
        CODE,
    ]
    assert columns_of(schema_fields(columns)) == columns
    foreign = [
        bigquery.SchemaField("N", "NUMERIC"),
        bigquery.SchemaField("R", "STRING", mode="REQUIRED"),
        bigquery.SchemaField("S", "RECORD", fields=[bigquery.SchemaField("B", "BYTES")]),
        bigquery.SchemaField("I", "INT64"),
    ]
    assert columns_of(foreign) == [None, None, None, Column("I", "INTEGER")]


def test_load_job_config() -> None:
    config = load_job_config([CODE], "WRITE_APPEND", allow_field_addition=True)
    assert config.source_format == bigquery.SourceFormat.NEWLINE_DELIMITED_JSON
    assert config.write_disposition == "WRITE_APPEND"
    assert config.create_disposition == "CREATE_IF_NEEDED"
    assert config.schema == schema_fields([CODE])
    assert config.schema_update_options == ["ALLOW_FIELD_ADDITION"]
    assert config.max_bad_records == 0
    assert not load_job_config([], "WRITE_EMPTY").schema_update_options


# --- Against a fake client ----------------------------------------------------------------------


class FakeJob:
    def __init__(self, rows: int, error: Exception | None) -> None:
        self.output_rows = rows
        self.error = error

    def result(self) -> FakeJob:
        if self.error is not None:
            raise self.error
        return self


class FakeClient:
    """Answers like BigQuery for one table and records what it is asked."""

    def __init__(
        self,
        table: bigquery.Table | None = None,
        *,
        dataset: bool = True,
        load_error: Exception | None = None,
    ) -> None:
        self.table = table
        self.dataset = dataset
        self.load_error = load_error
        self.updates: list[list[bigquery.SchemaField]] = []
        self.loads: list[tuple[str, bigquery.LoadJobConfig, list[dict[str, Any]]]] = []

    def get_table(self, reference: bigquery.TableReference, retry: Any = None) -> bigquery.Table:
        assert str(reference) == "my-project.my_dataset.my_table"
        if self.table is None:
            raise api_exceptions.NotFound("Not found: Table my-project:my_dataset.my_table")
        return self.table

    def get_dataset(self, reference: bigquery.DatasetReference, retry: Any = None) -> object:
        if not self.dataset:
            raise api_exceptions.NotFound("Not found: Dataset my-project:my_dataset")
        return object()

    def update_table(self, table: bigquery.Table, fields: list[str], retry: Any = None) -> None:
        assert fields == ["schema"]
        self.updates.append(list(table.schema))

    def load_table_from_file(
        self, source: IO[bytes], destination: bigquery.TableReference, job_config: Any
    ) -> FakeJob:
        rows = [json.loads(line) for line in source.read().splitlines()]
        self.loads.append((str(destination), job_config, rows))
        return FakeJob(len(rows), self.load_error)


def existing(*fields: bigquery.SchemaField, rows: int = 0) -> bigquery.Table:
    table = bigquery.Table("my-project.my_dataset.my_table", schema=list(fields))
    table._properties["numRows"] = str(rows)
    return table


def export(client: FakeClient, instances: Any, **options: Any) -> int:
    backend = BigQueryTable(lambda project: client)
    return export_metadata({"tableUri": URI, **options}, instances, backend=backend)


def never_read() -> Iterator[InstanceRecord]:
    raise AssertionError("the rows were read although the export was refused")
    yield  # pragma: no cover


def test_a_missing_table_is_created_by_the_load_job() -> None:
    client = FakeClient()
    assert export(client, records("CT_small.dcm", "MR_small.dcm")) == 2
    [(destination, config, rows)] = client.loads
    assert destination == "my-project.my_dataset.my_table"
    assert config.write_disposition == "WRITE_EMPTY"
    assert not config.schema_update_options
    names = [field.name for field in config.schema]
    assert {"PatientName", "PixelSpacing", "DroppedTags", "LastUpdated"} <= set(names)
    assert [row["Modality"] for row in rows] == ["CT", "MR"]
    assert all(set(row) <= set(names) for row in rows)
    assert client.updates == []


def test_the_dataset_must_exist() -> None:
    with pytest.raises(FailedPrecondition, match=r"dataset my-project\.my_dataset does not exist"):
        export(FakeClient(dataset=False), never_read())


def test_write_empty_refuses_a_table_with_rows_before_reading_any() -> None:
    client = FakeClient(existing(bigquery.SchemaField("Modality", "STRING"), rows=3))
    with pytest.raises(FailedPrecondition, match=f"BigQuery table {URI} is not empty"):
        export(client, never_read())
    table = existing(rows=0)
    table._properties["streamingBuffer"] = {"estimatedRows": "2"}
    with pytest.raises(FailedPrecondition, match="is not empty"):
        export(FakeClient(table), never_read())


def test_write_empty_completes_an_existing_empty_table_first() -> None:
    note = bigquery.SchemaField("Note", "NUMERIC")
    client = FakeClient(existing(bigquery.SchemaField("Modality", "STRING"), note))
    assert export(client, records("CT_small.dcm"), writeDisposition="WRITE_EMPTY") == 1
    [schema] = client.updates
    assert schema[:2] == [bigquery.SchemaField("Modality", "STRING"), note]
    [(_, config, _)] = client.loads
    assert config.write_disposition == "WRITE_EMPTY"
    assert config.schema == schema


def test_rows_arriving_meanwhile_make_the_write_empty_load_fail() -> None:
    conflict = api_exceptions.Conflict("Already Exists: Table my-project:my_dataset.my_table")
    with pytest.raises(FailedPrecondition, match="is not empty; use WRITE_TRUNCATE"):
        export(FakeClient(load_error=conflict), records("CT_small.dcm"))


def test_write_append_adds_fields_with_the_load() -> None:
    code = bigquery.SchemaField(
        "ReferencedImageSequence",
        "RECORD",
        mode="REPEATED",
        fields=[bigquery.SchemaField("ReferencedSOPInstanceUID", "STRING")],
    )
    client = FakeClient(existing(code, bigquery.SchemaField("Kept", "BYTES"), rows=10))
    metadata = {
        "00080060": {"vr": "CS", "Value": ["CT"]},
        "00081140": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2"]}}]},
    }
    export(client, [InstanceRecord(metadata, extras())], writeDisposition="WRITE_APPEND")
    assert client.updates == []
    [(_, config, _)] = client.loads
    assert config.write_disposition == "WRITE_APPEND"
    assert config.schema_update_options == ["ALLOW_FIELD_ADDITION"]
    assert config.schema[1] == bigquery.SchemaField("Kept", "BYTES")
    assert config.schema[0].name == "ReferencedImageSequence"
    assert [f.name for f in config.schema[0].fields] == [
        "ReferencedSOPInstanceUID",
        "ReferencedSOPClassUID",
    ]
    assert "Modality" in [field.name for field in config.schema]


def test_write_append_with_nothing_new_changes_no_schema() -> None:
    client = FakeClient()
    export(client, records("CT_small.dcm"))
    schema = client.loads[0][1].schema
    client = FakeClient(existing(*schema, rows=1))
    export(client, records("CT_small.dcm"), writeDisposition="WRITE_APPEND")
    assert not client.loads[0][1].schema_update_options
    assert client.loads[0][1].schema == schema


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (bigquery.SchemaField("Modality", "INTEGER"), "column Modality is INTEGER in the table"),
        (bigquery.SchemaField("modality", "BYTES"), "its column modality is NULLABLE BYTES"),
    ],
)
def test_write_append_refuses_conflicting_columns(
    field: bigquery.SchemaField, message: str
) -> None:
    client = FakeClient(existing(field, rows=1))
    with pytest.raises(FailedPrecondition, match=message):
        export(client, records("CT_small.dcm"), writeDisposition="WRITE_APPEND")
    assert client.loads == []


def test_write_truncate_replaces_the_schema() -> None:
    client = FakeClient(existing(bigquery.SchemaField("Modality", "INTEGER"), rows=5))
    export(client, records("CT_small.dcm"), force=True)
    [(_, config, _)] = client.loads
    assert config.write_disposition == "WRITE_TRUNCATE"
    assert bigquery.SchemaField("Modality", "STRING") in config.schema


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (api_exceptions.Forbidden("Access Denied"), PermissionDenied),
        (api_exceptions.BadRequest("Provided Schema does not match"), FailedPrecondition),
        (api_exceptions.ServiceUnavailable("try later"), Unavailable),
        (ConnectionError("refused"), Unavailable),
    ],
)
def test_load_errors(error: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected, match=URI):
        export(FakeClient(load_error=error), records("CT_small.dcm"))


def test_source_store_and_json_schema_reach_the_load() -> None:
    client = FakeClient()
    export(client, records("CT_small.dcm"), schemaJson={}, includeSourceStore=True)
    [(_, config, [row])] = client.loads
    assert [field.field_type for field in config.schema if field.name == "Metadata"] == ["JSON"]
    assert row["SourceDicomStore"] == extras().source_store
    assert row["Metadata"]["00080060"] == {"vr": "CS", "Value": ["CT"]}


# --- The real client, no network ----------------------------------------------------------------


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Application Default Credentials anywhere, and no metadata server to wait for."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:1")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:1")
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)


@pytest.mark.usefixtures("no_credentials")
def test_no_credentials_fail_fast_and_clearly(tmp_path: Path) -> None:
    backend = open_metadata_table("bigquery", duckdb_dir=tmp_path)
    started = time.monotonic()
    with pytest.raises(FailedPrecondition, match="No Google credentials to write BigQuery") as e:
        export_metadata({"tableUri": URI}, never_read(), backend=backend)
    assert time.monotonic() - started < 10
    assert "GOOGLE_APPLICATION_CREDENTIALS" in e.value.message


@pytest.mark.usefixtures("no_credentials")
def test_the_emulator_host_is_used_anonymously(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "localhost:9050")
    client = client_for("my-project")
    assert client.project == "my-project"
    assert client._connection.API_BASE_URL == "http://localhost:9050"
    assert isinstance(client._credentials, AnonymousCredentials)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "https://bq.example:443")
    assert client_for("p")._connection.API_BASE_URL == "https://bq.example:443"


@pytest.mark.usefixtures("no_credentials")
def test_an_unreachable_emulator_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "127.0.0.1:1")
    backend = BigQueryTable(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(Unavailable, match=f"BigQuery is unavailable for {URI}"):
        export_metadata({"tableUri": URI}, never_read(), backend=backend)
    assert time.monotonic() - started < 30

"""Exports to real DuckDB database files: what a user queries is what was exported."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import duckdb
import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicomstore.dicom.bigquery import RowExtras, flattened_row
from dicomstore.errors import Cancelled, FailedPrecondition, ResourceExhausted, Unavailable
from dicomstore.sinks import InstanceRecord, export_metadata, open_metadata_table
from dicomstore.sinks.duckdb_table import DuckDBTable
from tests.sinks.instances import FILES, STORE, extras, metadata_of, records

URI = "bq://my-project.my_dataset.my_table"
TABLE = '"my_dataset"."my_table"'


@pytest.fixture
def backend(tmp_path: Path) -> DuckDBTable:
    table = open_metadata_table("duckdb", duckdb_dir=tmp_path / "exports")
    assert isinstance(table, DuckDBTable)
    return table


@contextmanager
def database(backend: DuckDBTable, project: str = "my-project") -> Iterator[Any]:
    connection = duckdb.connect(str(backend.path_of(project)))
    connection.execute("SET TimeZone = 'UTC'")
    try:
        yield connection
    finally:
        connection.close()


def query(backend: DuckDBTable, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
    with database(backend) as connection:
        rows: list[tuple[Any, ...]] = connection.execute(sql, list(parameters)).fetchall()
        return rows


def count(backend: DuckDBTable) -> int:
    return int(query(backend, f"SELECT count(*) FROM {TABLE}")[0][0])


def column_names(backend: DuckDBTable) -> list[str]:
    with database(backend) as connection:
        return list(connection.sql(f"SELECT * FROM {TABLE}").columns)


def export(backend: DuckDBTable, instances: Any, uri: str = URI, **options: Any) -> int:
    return export_metadata({"tableUri": uri, **options}, instances, backend=backend)


# --- What is written ----------------------------------------------------------------------------


def test_a_database_file_per_project_a_schema_per_dataset(backend: DuckDBTable) -> None:
    assert export(backend, records()) == len(FILES)
    assert backend.path_of("my-project") == backend.directory / "my-project.duckdb"
    assert backend.path_of("my-project").is_file()
    assert count(backend) == len(FILES)
    export(backend, records("CT_small.dcm"), "bq://example.com:other.d.t")
    assert (backend.directory / "example.com_other.duckdb").is_file()


def test_values_can_be_queried_as_in_bigquery(backend: DuckDBTable) -> None:
    export(backend, records())
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    found = query(
        backend,
        f"SELECT PatientName.Alphabetic.FamilyName, PatientName.Alphabetic.GivenName,"
        f" PixelSpacing[2], ImageType, StudyDate, Rows, SliceThickness, InstanceNumber"
        f" FROM {TABLE} WHERE SOPInstanceUID = ?",
        ct.SOPInstanceUID,
    )
    assert found == [
        (
            "CompressedSamples",
            "CT1",
            float(ct.PixelSpacing[1]),
            list(ct.ImageType),
            datetime(2004, 1, 19).date(),
            ct.Rows,
            float(ct.SliceThickness),
            int(ct.InstanceNumber),
        )
    ]
    beams = query(
        backend,
        f"SELECT BeamSequence[1].BeamName,"
        f" BeamSequence[1].ControlPointSequence[1].NominalBeamEnergy FROM {TABLE}"
        f" WHERE BeamSequence IS NOT NULL",
    )
    assert beams == [("Field 1", 6.0)]
    meaning = query(
        backend,
        f"SELECT ContentSequence[1].ConceptNameCodeSequence[1].CodeMeaning FROM {TABLE}"
        f" WHERE Modality = 'SR'",
    )
    assert meaning == [("Some UID",)]
    extra = query(
        backend,
        f"SELECT DISTINCT Type, StorageClass, LastUpdated::VARCHAR, DroppedTags FROM {TABLE}",
    )
    assert extra == [("INSERT", "STANDARD", "2024-05-06 07:08:09+00", [])]
    assert query(backend, f"SELECT sum(BlobStorageSize), max(StructuredStorageSize) FROM {TABLE}")[
        0
    ] == (sum(20000 + index for index in range(len(FILES))), 1000 + len(FILES) - 1)


def _comparable(value: Any) -> Any:
    """A value with NULLs removed (DuckDB fills every struct field) and times made canonical."""
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, str):
        try:
            return time.fromisoformat(value).isoformat()
        except ValueError:
            pass
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            return value
        if stamp.tzinfo is not None:
            return stamp.astimezone(UTC).isoformat()
    return value


def test_every_row_holds_what_was_exported(backend: DuckDBTable) -> None:
    instances = records()
    export(backend, instances)
    with database(backend) as connection:
        stored = {
            row["SOPInstanceUID"]: row
            for (text,) in connection.execute(f"SELECT to_json(t) FROM {TABLE} AS t").fetchall()
            for row in [json.loads(text)]
        }
    for instance in instances:
        expected = flattened_row(instance.metadata, instance.extras)
        expected.pop("SourceDicomStore")  # includeSourceStore was not set
        actual = stored[expected["SOPInstanceUID"]]
        assert _comparable(actual) == _comparable(expected)


def test_dropped_tags_are_listed(backend: DuckDBTable) -> None:
    metadata = {
        "00080018": {"vr": "UI", "Value": ["1.2.3"]},
        "00080020": {"vr": "DA", "Value": ["20240230"]},
        "00200013": {"vr": "IS", "Value": ["seven"]},
    }
    export(backend, [InstanceRecord(metadata, extras())])
    assert query(backend, f"SELECT SOPInstanceUID, DroppedTags FROM {TABLE}") == [
        ("1.2.3", ["StudyDate", "InstanceNumber"])
    ]
    assert "StudyDate" not in column_names(backend)


def test_include_source_store(backend: DuckDBTable) -> None:
    export(backend, records("CT_small.dcm"), includeSourceStore=True)
    assert query(backend, f"SELECT SourceDicomStore FROM {TABLE}") == [(STORE,)]
    export(backend, records("CT_small.dcm"), "bq://my-project.my_dataset.other")
    with database(backend) as connection:
        assert "SourceDicomStore" not in connection.sql("SELECT * FROM my_dataset.other").columns


def test_json_schema_round_trips_the_metadata(backend: DuckDBTable) -> None:
    instances = records()
    export(backend, instances, schemaJson={}, includeSourceStore=True)
    assert column_names(backend) == [
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SourceDicomStore",
        "Metadata",
        "StructuredStorageSize",
        "DroppedTags",
        "StorageClass",
        "LastUpdated",
        "BlobStorageSize",
        "Type",
    ]
    stored = {
        sop: (study, json.loads(text))
        for sop, study, text in query(
            backend, f"SELECT SOPInstanceUID, StudyInstanceUID, Metadata FROM {TABLE}"
        )
    }
    for instance in instances:
        sop = instance.metadata["00080018"]["Value"][0]
        assert stored[sop] == (instance.metadata["0020000D"]["Value"][0], instance.metadata)
    modality = query(backend, f"SELECT Metadata->>'$.\"00080060\".Value[0]' FROM {TABLE}")
    assert sorted(value for (value,) in modality) == ["CT", "MR", "RTPLAN", "SR"]


def test_an_export_of_nothing_creates_the_table(backend: DuckDBTable) -> None:
    assert export(backend, []) == 0
    assert count(backend) == 0
    assert column_names(backend) == [
        "StructuredStorageSize",
        "DroppedTags",
        "StorageClass",
        "LastUpdated",
        "BlobStorageSize",
        "Type",
    ]


# --- Write dispositions -------------------------------------------------------------------------


def never_read() -> Iterator[InstanceRecord]:
    raise AssertionError("the rows were read although the export was refused")
    yield  # pragma: no cover


@pytest.mark.parametrize(
    "options", [{}, {"force": False}, {"writeDisposition": "WRITE_EMPTY"},
                {"writeDisposition": "WRITE_DISPOSITION_UNSPECIFIED", "force": False}],
)  # fmt: skip
def test_write_empty_refuses_a_table_with_rows_before_reading_any(
    backend: DuckDBTable, options: dict[str, Any]
) -> None:
    export(backend, records("CT_small.dcm"))
    with pytest.raises(FailedPrecondition) as refused:
        export(backend, never_read(), **options)
    assert refused.value.message == (
        "BigQuery table bq://my-project.my_dataset.my_table is not empty; "
        "use WRITE_TRUNCATE or WRITE_APPEND."
    )
    assert count(backend) == 1


def test_write_empty_refuses_rows_that_arrive_while_exporting(backend: DuckDBTable) -> None:
    def racing() -> Iterator[InstanceRecord]:
        export(backend, records("MR_small.dcm"))  # another export fills the table meanwhile
        yield from records("CT_small.dcm")

    with pytest.raises(FailedPrecondition, match="is not empty"):
        export(backend, racing())
    assert query(backend, f"SELECT Modality FROM {TABLE}") == [("MR",)]


def test_write_empty_accepts_an_existing_empty_table(backend: DuckDBTable) -> None:
    backend.directory.mkdir(parents=True)
    with database(backend) as connection:
        connection.execute("CREATE SCHEMA my_dataset")
        connection.execute(f"CREATE TABLE {TABLE} (Modality VARCHAR, Note VARCHAR)")
    assert export(backend, records(), writeDisposition="WRITE_EMPTY") == len(FILES)
    names = column_names(backend)
    assert names[:2] == ["Modality", "Note"]  # the table's own columns stay, others are added
    assert {"PatientName", "PixelSpacing", "DroppedTags"} <= set(names)
    assert query(backend, f"SELECT count(*) FROM {TABLE} WHERE Note IS NULL") == [(len(FILES),)]


@pytest.mark.parametrize(
    "options",
    [{"writeDisposition": "WRITE_TRUNCATE"}, {"force": True}],
)
def test_write_truncate_replaces_rows_and_schema(
    backend: DuckDBTable, options: dict[str, Any]
) -> None:
    export(backend, records("CT_small.dcm", "rtplan.dcm"))
    assert "BeamSequence" in column_names(backend)
    assert export(backend, records("MR_small.dcm"), **options) == 1
    assert query(backend, f"SELECT Modality FROM {TABLE}") == [("MR",)]
    assert "BeamSequence" not in column_names(backend)


def test_write_append_adds_rows_and_columns(backend: DuckDBTable) -> None:
    first = {
        "00080018": {"vr": "UI", "Value": ["1"]},
        "00081140": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.1"]}}]},
    }
    second = {
        "00080018": {"vr": "UI", "Value": ["2"]},
        "00080060": {"vr": "CS", "Value": ["CT"]},
        "00081140": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2.840"]}}]},
    }
    export(backend, [InstanceRecord(first, extras())])
    appended = export(backend, [InstanceRecord(second, extras())], writeDisposition="WRITE_APPEND")
    assert appended == 1
    rows = query(
        backend,
        f"SELECT SOPInstanceUID, Modality, ReferencedImageSequence FROM {TABLE} ORDER BY 1",
    )
    assert rows == [
        ("1", None, [{"ReferencedSOPInstanceUID": "1.1", "ReferencedSOPClassUID": None}]),
        ("2", "CT", [{"ReferencedSOPInstanceUID": None, "ReferencedSOPClassUID": "1.2.840"}]),
    ]
    export(backend, records("CT_small.dcm"), writeDisposition="WRITE_APPEND")
    assert count(backend) == 3


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ("Modality VARCHAR[]", "column Modality is REPEATED STRING in the table but the export "
         "writes STRING"),
        ("Modality INTEGER", 'its column Modality INTEGER is not the export\'s STRING'),
        ("PatientName STRUCT(Alphabetic VARCHAR)", "column PatientName.Alphabetic is STRING"),
    ],
)  # fmt: skip
def test_write_append_refuses_conflicting_columns(
    backend: DuckDBTable, definition: str, message: str
) -> None:
    backend.directory.mkdir(parents=True)
    with database(backend) as connection:
        connection.execute("CREATE SCHEMA my_dataset")
        connection.execute(f"CREATE TABLE {TABLE} ({definition}, Kept VARCHAR)")
        connection.execute(f"INSERT INTO {TABLE} (Kept) VALUES ('before')")
    with pytest.raises(FailedPrecondition, match=message) as refused:
        export(backend, records("CT_small.dcm"), writeDisposition="WRITE_APPEND")
    assert refused.value.message.startswith(f"Cannot write to BigQuery table {URI}: ")
    assert column_names(backend) == [definition.split()[0], "Kept"]
    assert query(backend, f"SELECT Kept FROM {TABLE}") == [("before",)]


# --- Failures -----------------------------------------------------------------------------------


def many(total: int) -> Iterator[InstanceRecord]:
    for index in range(total):
        metadata = {"00080018": {"vr": "UI", "Value": [f"1.2.{index}"]}}
        yield InstanceRecord(metadata, RowExtras(1, 2, "STANDARD", datetime(2024, 1, 1)))


def test_progress_is_reported_every_thousand_rows(backend: DuckDBTable) -> None:
    seen: list[int] = []
    written = export_metadata({"tableUri": URI}, many(2500), backend=backend, progress=seen.append)
    assert written == 2500
    assert seen == [1000, 2000, 2500]
    assert count(backend) == 2500


@pytest.mark.parametrize("disposition", ["WRITE_TRUNCATE", "WRITE_APPEND"])
def test_progress_raising_leaves_the_table_as_it_was(
    backend: DuckDBTable, disposition: str
) -> None:
    export(backend, records("CT_small.dcm"))

    def cancel(rows: int) -> None:
        if rows == 2500:  # the last report: every row is read, none loaded yet
            raise Cancelled("cancelled")

    with pytest.raises(Cancelled):
        export_metadata(
            {"tableUri": URI, "writeDisposition": disposition},
            many(2500),
            backend=backend,
            progress=cancel,
        )
    assert query(backend, f"SELECT Modality FROM {TABLE}") == [("CT",)]


def test_progress_raising_creates_no_table(backend: DuckDBTable) -> None:
    def cancel(rows: int) -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        export_metadata({"tableUri": URI}, many(1000), backend=backend, progress=cancel)
    assert not backend.path_of("my-project").exists()


def test_a_database_held_by_another_process_is_unavailable(backend: DuckDBTable) -> None:
    export(backend, records("CT_small.dcm"))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " sys.stdin.read()",
            str(backend.path_of("my-project")),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        with pytest.raises(Unavailable, match="in use by another process"):
            export(backend, records("MR_small.dcm"), writeDisposition="WRITE_APPEND")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()
    assert count(backend) == 1


def test_a_file_that_is_not_a_database(backend: DuckDBTable) -> None:
    backend.directory.mkdir(parents=True)
    backend.path_of("my-project").write_text("not a database")
    with pytest.raises(FailedPrecondition, match="not a valid DuckDB database file"):
        export(backend, records("CT_small.dcm"))


def test_a_load_beyond_the_memory_limit(tmp_path: Path) -> None:
    backend = DuckDBTable(tmp_path, memory_limit="1MB")
    with pytest.raises(ResourceExhausted, match=r"needs more than its memory limit \(1MB\)"):
        export(backend, records())
    # The schema and the table were created, then rolled back with the failed insert.
    assert query(DuckDBTable(tmp_path), "SELECT count(*) FROM duckdb_tables()") == [(0,)]


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown metadata table backend 'parquet'"):
        open_metadata_table("parquet", duckdb_dir=Path())


def test_metadata_of_helper_matches_pydicom() -> None:
    assert metadata_of("CT_small.dcm")["00080060"] == {"vr": "CS", "Value": ["CT"]}

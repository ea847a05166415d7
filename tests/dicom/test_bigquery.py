"""BigQuery rows and schemas for instance metadata (``shared/spec/store-features.md`` §3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicomstore.dicom import bigquery
from dicomstore.dicom.bigquery import (
    MAX_RECORD_DEPTH,
    Column,
    RowExtras,
    SchemaBuilder,
    SchemaType,
    TableUri,
    WriteDisposition,
    flattened_row,
    json_row,
    merge_columns,
    parse_table_uri,
    resolve_disposition,
    schema_type,
)
from dicomstore.errors import FailedPrecondition, InvalidArgument

EXTRAS = RowExtras(
    structured_size=1234,
    blob_size=56789,
    storage_class="STANDARD",
    last_updated=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
)
PERSON_NAME = (
    "RECORD<"
    + ", ".join(
        f"{group} RECORD<FamilyName STRING, GivenName STRING, MiddleName STRING, "
        "NamePrefix STRING, NameSuffix STRING>"
        for group in ("Alphabetic", "Ideographic", "Phonetic")
    )
    + ">"
)


def element(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


def flatten(**elements: dict[str, Any]) -> dict[str, Any]:
    """The DICOM part of the flattened row of an instance with these elements (by tag)."""
    row = flattened_row({tag.removeprefix("t"): value for tag, value in elements.items()}, EXTRAS)
    return {name: value for name, value in row.items() if name not in bigquery.EXTRA_COLUMNS}


def dropped(metadata: dict[str, Any]) -> list[str]:
    tags: list[str] = flattened_row(metadata, EXTRAS)["DroppedTags"]
    return tags


def schema_of(*rows: dict[str, Any], **options: Any) -> dict[str, str]:
    builder = SchemaBuilder(**options)
    for row in rows:
        builder.add(row)
    return {column.name: column.describe() for column in builder.columns()}


# --- Value representations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "json_element", "keyword", "value", "described"),
    [
        ("00080060", element("CS", "CT"), "Modality", "CT", "STRING"),
        ("00080018", element("UI", "1.2.3"), "SOPInstanceUID", "1.2.3", "STRING"),
        ("00101010", element("AS", "042Y"), "PatientAge", "042Y", "STRING"),
        ("00080119", element("UC", "long code"), "LongCodeValue", "long code", "STRING"),
        ("00020026", element("UR", "http://x/y"), "SourcePresentationAddress", "http://x/y",
         "STRING"),
        ("00280009", element("AT", "00181063"), "FrameIncrementPointer", ["00181063"],
         "REPEATED STRING"),
        ("00080020", element("DA", "20240131"), "StudyDate", "2024-01-31", "DATE"),
        ("00080020", element("DA", "2024.01.31"), "StudyDate", "2024-01-31", "DATE"),
        ("00080030", element("TM", "093005.25"), "StudyTime", "09:30:05.250000", "TIME"),
        ("00080030", element("TM", "0930"), "StudyTime", "09:30:00", "TIME"),
        ("00080030", element("TM", "09"), "StudyTime", "09:00:00", "TIME"),
        ("00080030", element("TM", "09:30:05"), "StudyTime", "09:30:05", "TIME"),
        ("0008002A", element("DT", "20240131093005.5+0130"), "AcquisitionDateTime",
         "2024-01-31T09:30:05.500000+01:30", "TIMESTAMP"),
        ("0008002A", element("DT", "2024"), "AcquisitionDateTime", "2024-01-01T00:00:00+00:00",
         "TIMESTAMP"),
        ("00180050", element("DS", 2.5), "SliceThickness", 2.5, "FLOAT"),
        ("00180050", element("DS", " 2.50 "), "SliceThickness", 2.5, "FLOAT"),
        ("00180050", element("DS", "1e-3"), "SliceThickness", 0.001, "FLOAT"),
        ("00109431", element("FL", 3.25), "ExaminedBodyThickness", 3.25, "FLOAT"),
        ("00081163", element("FD", 1, 2.5), "TimeRange", [1.0, 2.5], "REPEATED FLOAT"),
        ("00200013", element("IS", "7"), "InstanceNumber", 7, "INTEGER"),
        ("00200013", element("IS", 7), "InstanceNumber", 7, "INTEGER"),
        ("00280010", element("US", 512), "Rows", 512, "INTEGER"),
        ("00280106", element("SS", -3), "SmallestImagePixelValue", -3, "INTEGER"),
        ("00280106", element("US", 3), "SmallestImagePixelValue", 3, "INTEGER"),
        ("0008040C", element("UV", "18446744073"), "FileOffsetInContainer", 18446744073,
         "INTEGER"),
        ("00720082", element("SV", -5, 6), "SelectorSVValue", [-5, 6], "REPEATED INTEGER"),
        ("00283006", element("US", 1, 2, 3), "LUTData", [1, 2, 3], "REPEATED INTEGER"),
        ("00280030", element("DS", 0.5, "0.25"), "PixelSpacing", [0.5, 0.25], "REPEATED FLOAT"),
        ("00080008", element("CS", "ORIGINAL", "PRIMARY"), "ImageType", ["ORIGINAL", "PRIMARY"],
         "REPEATED STRING"),
        ("00080008", element("CS", "ORIGINAL"), "ImageType", ["ORIGINAL"], "REPEATED STRING"),
        ("00100010", element("PN", {"Alphabetic": "Doe^John"}), "PatientName",
         {"Alphabetic": {"FamilyName": "Doe", "GivenName": "John"}}, PERSON_NAME),
    ],
)  # fmt: skip
def test_value_representations(
    tag: str, json_element: dict[str, Any], keyword: str, value: Any, described: str
) -> None:
    row = flattened_row({tag: json_element}, EXTRAS)
    assert row[keyword] == value
    assert row["DroppedTags"] == []
    assert schema_of(row)[keyword] == described


@pytest.mark.parametrize(
    ("tag", "json_element"),
    [
        ("7FE00010", {"vr": "OW", "BulkDataURI": "http://host/bulk/7FE00010"}),
        ("00283006", {"vr": "OW", "InlineBinary": "AAEC"}),  # LUTData, "US or OW"
        ("00420011", {"vr": "OB", "InlineBinary": "AAEC"}),
        ("00181638", {"vr": "OF", "InlineBinary": "AAAAAA=="}),
        ("00081163", {"vr": "FD", "BulkDataURI": "http://host/bulk/00081163"}),  # > 512 values
        ("00100010", {"vr": "UN", "InlineBinary": "RG9l"}),
        ("00091001", element("LO", "private value")),
        ("00291010", element("SQ", {"00291011": element("LO", "x")})),
        ("00080000", element("UL", 100)),  # group length
    ],
)
def test_not_exported_and_not_reported(tag: str, json_element: dict[str, Any]) -> None:
    row = flattened_row({tag: json_element, "00080060": element("CS", "MR")}, EXTRAS)
    assert {name for name in row if name not in bigquery.EXTRA_COLUMNS} == {"Modality"}
    assert row["DroppedTags"] == []


def test_an_ambiguous_vr_is_typed_by_the_dictionary_whatever_the_json_says() -> None:
    # (0028,0106) is "US or SS": both INTEGER, so rows of either VR share the column.
    unsigned = flattened_row({"00280106": element("US", 65535)}, EXTRAS)
    signed = flattened_row({"00280106": element("SS", -1)}, EXTRAS)
    assert schema_of(unsigned, signed)["SmallestImagePixelValue"] == "INTEGER"
    # A wrong explicit VR in the file does not change the column's type.
    mislabelled = flattened_row({"00200013": element("LO", "12")}, EXTRAS)
    assert mislabelled["InstanceNumber"] == 12


# --- Empty values -------------------------------------------------------------------------------


def test_an_empty_element_is_null_but_has_its_column() -> None:
    row = flatten(
        t0008103E=element("LO"),
        t00080020=element("DA"),
        t00100010=element("PN"),
        t00080008=element("CS"),
        t00081115=element("SQ"),
        t00081140=element("SQ", {}, {"00091001": element("LO", "private")}),
    )
    assert row == {
        "StudyDate": None,
        "ImageType": [],  # BigQuery has no NULL arrays
        "SeriesDescription": None,
        "PatientName": None,
    }
    schema = schema_of(flattened_row({"0008103E": element("LO")}, EXTRAS))
    assert schema["SeriesDescription"] == "STRING"


def test_null_and_empty_values_in_a_list() -> None:
    assert flatten(t00080008=element("CS", "ORIGINAL", None, "AXIAL")) == {
        "ImageType": ["ORIGINAL", "", "AXIAL"]
    }
    assert flatten(t00080020=element("DA", None)) == {"StudyDate": None}


# --- Person names -------------------------------------------------------------------------------


def test_person_name_components_and_groups() -> None:
    name = {
        "Alphabetic": "Yamada^Tarou^M^Dr^Jr",
        "Ideographic": "山田^太郎",
        "Phonetic": "やまだ^たろう",
    }
    assert flatten(t00100010=element("PN", name)) == {
        "PatientName": {
            "Alphabetic": {
                "FamilyName": "Yamada",
                "GivenName": "Tarou",
                "MiddleName": "M",
                "NamePrefix": "Dr",
                "NameSuffix": "Jr",
            },
            "Ideographic": {"FamilyName": "山田", "GivenName": "太郎"},
            "Phonetic": {"FamilyName": "やまだ", "GivenName": "たろう"},
        }
    }


def test_person_name_skips_empty_components_and_keeps_positions_in_a_list() -> None:
    row = flatten(
        t00100010=element("PN", {"Alphabetic": "^John^^Dr"}),
        t00101001=element("PN", {"Alphabetic": "A^B"}, {}, "C^D=E"),
    )
    assert row == {
        "PatientName": {"Alphabetic": {"GivenName": "John", "NamePrefix": "Dr"}},
        "OtherPatientNames": [
            {"Alphabetic": {"FamilyName": "A", "GivenName": "B"}},
            {},
            {
                "Alphabetic": {"FamilyName": "C", "GivenName": "D"},
                "Ideographic": {"FamilyName": "E"},
            },
        ],
    }
    assert schema_of(flattened_row({"00101001": element("PN")}, EXTRAS))["OtherPatientNames"] == (
        f"REPEATED {PERSON_NAME}"
    )


def test_person_name_structure_is_complete_whatever_the_rows_hold() -> None:
    row = flattened_row({"00100010": element("PN", {"Alphabetic": "Doe"})}, EXTRAS)
    assert schema_of(row)["PatientName"] == PERSON_NAME


# --- Sequences ----------------------------------------------------------------------------------


def code(value: str) -> dict[str, Any]:
    return {"00080100": element("SH", value), "00080102": element("SH", "DCM")}


def test_sequences_nest_with_the_same_rules() -> None:
    metadata = {
        "00081140": element(
            "SQ",
            {"00081150": element("UI", "1.2"), "00081155": element("UI", "1.2.3")},
            {"00081155": element("UI", "1.2.4"), "00081160": element("IS", "1", "2")},
        ),
        "0040A730": element(
            "SQ",
            {
                "0040A010": element("CS", "CONTAINS"),
                "0040A043": element("SQ", code("121071")),
                "0040A730": element("SQ", {"0040A123": element("PN", {"Alphabetic": "Roe"})}),
            },
        ),
    }
    row = flattened_row(metadata, EXTRAS)
    assert row["ReferencedImageSequence"] == [
        {"ReferencedSOPClassUID": "1.2", "ReferencedSOPInstanceUID": "1.2.3"},
        {"ReferencedSOPInstanceUID": "1.2.4", "ReferencedFrameNumber": [1, 2]},
    ]
    assert row["ContentSequence"] == [
        {
            "RelationshipType": "CONTAINS",
            "ConceptNameCodeSequence": [{"CodeValue": "121071", "CodingSchemeDesignator": "DCM"}],
            "ContentSequence": [{"PersonName": {"Alphabetic": {"FamilyName": "Roe"}}}],
        }
    ]
    schema = schema_of(row)
    assert schema["ReferencedImageSequence"] == (
        "REPEATED RECORD<ReferencedSOPClassUID STRING, ReferencedSOPInstanceUID STRING, "
        "ReferencedFrameNumber REPEATED INTEGER>"
    )
    assert schema["ContentSequence"] == (
        "REPEATED RECORD<RelationshipType STRING, "
        "ConceptNameCodeSequence REPEATED RECORD<CodeValue STRING, CodingSchemeDesignator STRING>, "
        f"ContentSequence REPEATED RECORD<PersonName {PERSON_NAME}>>"
    )


def test_empty_items_keep_their_place_among_others() -> None:
    row = flatten(
        t00081140=element(
            "SQ", {}, {"00081155": element("UI", "1.2"), "7FE00010": {"vr": "OB"}}, None
        )
    )
    assert row == {"ReferencedImageSequence": [{}, {"ReferencedSOPInstanceUID": "1.2"}, {}]}


def test_a_sequence_holding_nothing_exportable_has_no_column() -> None:
    row = flattened_row({"00081140": element("SQ", {"00091001": element("LO", "p")})}, EXTRAS)
    assert "ReferencedImageSequence" not in row
    assert "ReferencedImageSequence" not in schema_of(row)


def test_sequences_deeper_than_bigquery_allows_are_dropped() -> None:
    def nested(levels: int) -> dict[str, Any]:
        item: dict[str, Any] = {"0040A160": element("UT", "leaf")}
        for _ in range(levels):
            item = {"0040A730": element("SQ", item)}
        return item

    assert dropped(nested(MAX_RECORD_DEPTH)) == []
    path = ".".join(["ContentSequence"] * (MAX_RECORD_DEPTH + 1))
    assert dropped(nested(MAX_RECORD_DEPTH + 1)) == [path]

    person = {"0040A123": element("PN", {"Alphabetic": "Roe"})}
    for _ in range(MAX_RECORD_DEPTH - 1):
        person = {"0040A730": element("SQ", person)}
    assert dropped(person) == [
        ".".join(["ContentSequence"] * (MAX_RECORD_DEPTH - 1)) + ".PersonName"
    ]


# --- Dropped tags -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "json_element", "name"),
    [
        ("00080020", element("DA", "20240230"), "StudyDate"),
        ("00080020", element("DA", "2024-01-31"), "StudyDate"),
        ("00080030", element("TM", "246000"), "StudyTime"),
        ("00080030", element("TM", "235960"), "StudyTime"),  # a leap second
        ("0008002A", element("DT", "20240131+2500"), "AcquisitionDateTime"),
        ("0008002A", element("DT", "0000"), "AcquisitionDateTime"),
        ("00200013", element("IS", "abc"), "InstanceNumber"),
        ("00200013", element("IS", "1.5"), "InstanceNumber"),
        ("00200013", element("IS", True), "InstanceNumber"),
        ("00200013", element("IS", 1, 2), "InstanceNumber"),  # VM 1
        ("00180050", element("DS", "1,5"), "SliceThickness"),
        ("00180050", element("DS", "1_000"), "SliceThickness"),
        ("00180050", element("DS", "NaN"), "SliceThickness"),
        ("00109431", element("FL", "NaN"), "ExaminedBodyThickness"),
        ("00081163", element("FD", 1.0, "Infinity"), "TimeRange"),
        ("00081163", element("FD", 1.0, "-Infinity"), "TimeRange"),
        ("00081163", element("FD", 1.0, None), "TimeRange"),
        ("0008040C", element("UV", 2**64 - 1), "FileOffsetInContainer"),  # beyond INT64
        ("00080060", element("CS", 12), "Modality"),
        ("00100010", element("PN", {"Alphabetic": "a^b^c^d^e^f"}), "PatientName"),
        ("00100010", element("PN", 12), "PatientName"),
        ("00081140", element("SQ", "not an item"), "ReferencedImageSequence"),
        ("00080060", ["CS", "CT"], "Modality"),
        ("00087777", element("LO", "unknown"), "00087777"),  # not in the dictionary
        ("60020010", element("US", 512), "60020010"),  # OverlayRows of a second overlay
        ("0008XYZW", element("LO", "x"), "0008XYZW"),
    ],
)
def test_values_that_cannot_be_converted_are_dropped(
    tag: str, json_element: Any, name: str
) -> None:
    row = flattened_row({tag: json_element, "00080018": element("UI", "1.2.3")}, EXTRAS)
    assert row["DroppedTags"] == [name]
    assert {key for key in row if key not in bigquery.EXTRA_COLUMNS} == {"SOPInstanceUID"}


def test_dropped_tags_inside_sequences_are_paths_listed_once() -> None:
    metadata = {
        "00081140": element(
            "SQ",
            {"00080020": element("DA", "bad")},
            {"00080020": element("DA", "worse"), "00200013": element("IS", "x")},
        ),
        "00080020": element("DA", "20240101"),
        "60000010": element("US", 512),  # the first overlay keeps the keyword
    }
    row = flattened_row(metadata, EXTRAS)
    assert row["DroppedTags"] == [
        "ReferencedImageSequence.StudyDate",
        "ReferencedImageSequence.InstanceNumber",
    ]
    assert "ReferencedImageSequence" not in row  # nothing left in its items
    assert row["StudyDate"] == "2024-01-01"
    assert row["OverlayRows"] == 512


# --- Timestamps ---------------------------------------------------------------------------------


def test_a_datetime_without_offset_takes_the_instance_timezone() -> None:
    metadata = {
        "00080201": element("SH", "-0500"),
        "0008002A": element("DT", "20240131093005"),
        "00081140": element("SQ", {"0008002A": element("DT", "20240131093005")}),
        "00189074": element("DT", "20240131093005+0100"),  # FrameAcquisitionDateTime
    }
    row = flattened_row(metadata, EXTRAS)
    assert row["AcquisitionDateTime"] == "2024-01-31T09:30:05-05:00"
    assert row["ReferencedImageSequence"] == [{"AcquisitionDateTime": "2024-01-31T09:30:05-05:00"}]
    assert row["FrameAcquisitionDateTime"] == "2024-01-31T09:30:05+01:00"
    assert row["TimezoneOffsetFromUTC"] == "-0500"


def test_an_invalid_instance_timezone_means_utc() -> None:
    row = flattened_row(
        {"00080201": element("SH", "EST"), "0008002A": element("DT", "202401310930")}, EXTRAS
    )
    assert row["AcquisitionDateTime"] == "2024-01-31T09:30:00+00:00"


# --- Extra columns and the JSON schema ----------------------------------------------------------


def test_extra_columns() -> None:
    row = flattened_row({}, EXTRAS)
    assert row == {
        "StructuredStorageSize": 1234,
        "DroppedTags": [],
        "StorageClass": "STANDARD",
        "LastUpdated": "2024-05-06T07:08:09.123456+00:00",
        "BlobStorageSize": 56789,
        "Type": "INSERT",
    }
    naive = RowExtras(1, 2, "ARCHIVE", datetime(2024, 1, 1), source_store="projects/p/x")
    row = flattened_row({}, naive)
    assert row["LastUpdated"] == "2024-01-01T00:00:00+00:00"
    assert row["SourceDicomStore"] == "projects/p/x"


def test_json_row_keeps_the_metadata_verbatim() -> None:
    metadata = {
        "0020000D": element("UI", "1.2"),
        "0020000E": element("UI", "1.2.3"),
        "00080018": element("UI", "1.2.3.4"),
        "00091001": element("LO", "private"),
        "7FE00010": {"vr": "OW", "BulkDataURI": "bulk"},
        "00080020": element("DA", "not a date"),
    }
    row = json_row(metadata, EXTRAS)
    assert row == {
        "StudyInstanceUID": "1.2",
        "SeriesInstanceUID": "1.2.3",
        "SOPInstanceUID": "1.2.3.4",
        "Metadata": metadata,
        "StructuredStorageSize": 1234,
        "DroppedTags": [],
        "StorageClass": "STANDARD",
        "LastUpdated": "2024-05-06T07:08:09.123456+00:00",
        "BlobStorageSize": 56789,
        "Type": "INSERT",
    }
    assert json_row({}, EXTRAS)["SOPInstanceUID"] is None


# --- Schemas ------------------------------------------------------------------------------------


def test_flattened_columns_are_in_tag_order_then_the_extras() -> None:
    row = flattened_row(
        {"00280010": element("US", 4), "00080060": element("CS", "CT"), "00100010": element("PN")},
        EXTRAS,
    )
    builder = SchemaBuilder()
    builder.add(row)
    assert [column.name for column in builder.columns()] == [
        "Modality",
        "PatientName",
        "Rows",
        "StructuredStorageSize",
        "DroppedTags",
        "StorageClass",
        "LastUpdated",
        "BlobStorageSize",
        "Type",
    ]


def test_fixed_columns_exist_before_any_row() -> None:
    assert schema_of(include_source_store=True) == {
        "SourceDicomStore": "STRING",
        "StructuredStorageSize": "INTEGER",
        "DroppedTags": "REPEATED STRING",
        "StorageClass": "STRING",
        "LastUpdated": "TIMESTAMP",
        "BlobStorageSize": "INTEGER",
        "Type": "STRING",
    }
    builder = SchemaBuilder(SchemaType.JSON)
    builder.add(json_row({"00080060": element("CS", "CT")}, EXTRAS))
    assert builder.columns() == [
        Column("StudyInstanceUID", "STRING"),
        Column("SeriesInstanceUID", "STRING"),
        Column("SOPInstanceUID", "STRING"),
        Column("Metadata", "JSON"),
        Column("StructuredStorageSize", "INTEGER"),
        Column("DroppedTags", "STRING", "REPEATED"),
        Column("StorageClass", "STRING"),
        Column("LastUpdated", "TIMESTAMP"),
        Column("BlobStorageSize", "INTEGER"),
        Column("Type", "STRING"),
    ]


def test_schema_is_the_union_of_the_rows() -> None:
    first = flattened_row(
        {
            "00080060": element("CS", "CT"),
            "00081140": element("SQ", {"00081155": element("UI", "1")}),
        },
        EXTRAS,
    )
    second = flattened_row(
        {
            "00180050": element("DS", 1),
            "00081140": element("SQ", {"00081150": element("UI", "2")}),
        },
        EXTRAS,
    )
    schema = schema_of(first, second)
    assert schema["Modality"] == "STRING"
    assert schema["SliceThickness"] == "FLOAT"
    assert schema["ReferencedImageSequence"] == (
        "REPEATED RECORD<ReferencedSOPClassUID STRING, ReferencedSOPInstanceUID STRING>"
    )


def test_schema_builder_refuses_unknown_columns() -> None:
    with pytest.raises(ValueError, match="NotAKeyword"):
        SchemaBuilder().add({"NotAKeyword": 1})


def test_merge_columns_adds_columns_and_record_fields() -> None:
    code_value = Column("CodeValue", "STRING")
    scheme = Column("CodingSchemeDesignator", "STRING")
    existing = [
        Column("Modality", "STRING"),
        Column("ConceptNameCodeSequence", "RECORD", "REPEATED", (code_value,)),
    ]
    new = [
        Column("conceptnamecodesequence", "RECORD", "REPEATED", (scheme, code_value)),
        Column("Rows", "INTEGER"),
    ]
    assert merge_columns(existing, new) == [
        Column("Modality", "STRING"),
        Column("ConceptNameCodeSequence", "RECORD", "REPEATED", (code_value, scheme)),
        Column("Rows", "INTEGER"),
    ]


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        (
            Column("Rows", "STRING"),
            "column Rows is STRING in the table but the export writes INTEGER",
        ),
        (Column("Rows", "INTEGER", "REPEATED"), "is REPEATED INTEGER in the table"),
        (
            Column("Seq", "RECORD", "REPEATED", (Column("Rows", "FLOAT"),)),
            "column Seq.Rows is FLOAT",
        ),
    ],
)
def test_merge_columns_refuses_conflicts(existing: Column, message: str) -> None:
    new = Column("Rows", "INTEGER")
    if existing.name == "Seq":
        new = Column("Seq", "RECORD", "REPEATED", (new,))
    with pytest.raises(FailedPrecondition, match=message):
        merge_columns([existing], [new])


# --- pydicom's test files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "waveform_ecg.dcm", "test-SR.dcm"]
)
def test_real_instances(name: str) -> None:
    dataset = pydicom.dcmread(get_testdata_file(name))
    metadata = dataset.file_meta.to_json_dict()
    metadata.update(dataset.to_json_dict(bulk_data_element_handler=lambda _: "bulk"))
    row = flattened_row(metadata, EXTRAS)
    json.dumps(row, allow_nan=False)
    assert row["DroppedTags"] == []
    assert row["SOPInstanceUID"] == dataset.SOPInstanceUID
    assert row["TransferSyntaxUID"] == dataset.file_meta.TransferSyntaxUID
    assert row["PatientName"]["Alphabetic"]["FamilyName"] == dataset.PatientName.family_name
    schema = schema_of(row)
    assert set(row) <= set(schema)
    assert "PixelData" not in row


# --- The destination ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("bq://p.d.t", TableUri("p", "d", "t")),
        ("bq://my-project-1.my_dataset.Table_2", TableUri("my-project-1", "my_dataset", "Table_2")),
        ("bq://example.com:my-project.d.t", TableUri("example.com:my-project", "d", "t")),
        (f"bq://p.d.{'t' * 1024}", TableUri("p", "d", "t" * 1024)),
    ],
)
def test_parse_table_uri(uri: str, parsed: TableUri) -> None:
    assert parse_table_uri(uri) == parsed
    assert str(parsed) == uri


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("p.d.t", "it must start with bq://"),
        ("gs://p.d.t", "it must start with bq://"),
        ("bq://p.d", "it must name a project, a dataset and a table"),
        ("bq://p..t", "it must name a project, a dataset and a table"),
        ("bq://p.d.", "it must name a project, a dataset and a table"),
        ("bq://P.d.t", "project ID 'P' is not valid"),
        ("bq://p-.d.t", "project ID 'p-' is not valid"),
        ("bq://a.b.c.d", "project ID 'a.b' is not valid"),
        ("bq://p.my-dataset.t", "dataset ID 'my-dataset' must be 1 to 1024 letters"),
        ("bq://p.d.t/x", "table ID 't/x' must be"),
        (f"bq://p.d.{'t' * 1025}", "table ID"),
        (f"bq://p.{'d' * 1000}.{'t' * 1000}", "longer than 2000 characters"),
    ],
)
def test_parse_table_uri_refuses(uri: str, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=reason) as raised:
        parse_table_uri(uri, field="streamConfigs[0].bigqueryDestination.tableUri")
    assert raised.value.message.startswith(
        f"Invalid streamConfigs[0].bigqueryDestination.tableUri {uri!r}: "
    )
    assert raised.value.message.endswith("; expected bq://PROJECT_ID.DATASET_ID.TABLE_ID.")


@pytest.mark.parametrize(
    ("write_disposition", "force", "resolved"),
    [
        (None, None, WriteDisposition.WRITE_EMPTY),
        (None, False, WriteDisposition.WRITE_EMPTY),
        (None, True, WriteDisposition.WRITE_TRUNCATE),
        ("WRITE_DISPOSITION_UNSPECIFIED", True, WriteDisposition.WRITE_TRUNCATE),
        ("WRITE_DISPOSITION_UNSPECIFIED", None, WriteDisposition.WRITE_EMPTY),
        ("WRITE_EMPTY", True, WriteDisposition.WRITE_EMPTY),
        ("WRITE_TRUNCATE", False, WriteDisposition.WRITE_TRUNCATE),
        ("WRITE_APPEND", True, WriteDisposition.WRITE_APPEND),
    ],
)
def test_resolve_disposition(
    write_disposition: str | None, force: bool | None, resolved: WriteDisposition
) -> None:
    assert resolve_disposition(write_disposition, force) is resolved


def test_resolve_disposition_refuses_unknown_values() -> None:
    with pytest.raises(InvalidArgument, match="writeDisposition 'WRITE_SOMETIMES': expected one"):
        resolve_disposition("WRITE_SOMETIMES", None)


def test_schema_type() -> None:
    assert schema_type({}) is SchemaType.FLATTENED
    assert schema_type({"schemaFlattened": {}}) is SchemaType.FLATTENED
    assert schema_type({"schemaJson": {}}) is SchemaType.JSON
    with pytest.raises(InvalidArgument, match="cannot both be set"):
        schema_type({"schemaJson": {}, "schemaFlattened": {}})

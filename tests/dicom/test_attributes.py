"""``dicomstore.dicom.attributes``: QIDO attribute lists, names, normalised values, ingest."""

from __future__ import annotations

from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomstore.dicom import attributes
from dicomstore.dicom.attributes import (
    GOOGLE_INSTANCE_DEFAULTS,
    GOOGLE_SEARCH_KEYS,
    GOOGLE_SERIES_ALL_ADDITIONS,
    GOOGLE_SERIES_DEFAULTS,
    GOOGLE_STUDY_ALL_ADDITIONS,
    GOOGLE_STUDY_DEFAULTS,
    SEARCH_KEYS,
    SERIES_LEVEL_ATTRIBUTES,
    STANDARD_SEARCH_KEYS,
    STANDARD_SERIES_DEFAULTS,
    STANDARD_STUDY_DEFAULTS,
    STUDY_LEVEL_ATTRIBUTES,
    Level,
    MatchKind,
    attribute_level,
    dictionary_vr,
    empty_element,
    instance_availability,
    keyword_for,
    normalise_date,
    normalise_person_name,
    normalise_text,
    normalise_time,
    person_name_tokens,
    series_attributes,
    series_columns,
    study_attributes,
    study_columns,
    tag_for,
    time_upper_bound,
)
from tests.test_public_api import _defined_public_names


def test_all_is_exact() -> None:
    assert sorted(attributes.__all__) == sorted(_defined_public_names(attributes))


def _keywords(tags: Any) -> list[str]:
    return [keyword_for(tag) for tag in tags]


def test_google_lists_are_the_specs() -> None:
    assert _keywords(GOOGLE_STUDY_DEFAULTS) == [
        "SpecificCharacterSet", "StudyDate", "StudyTime", "AccessionNumber",
        "InstanceAvailability", "ReferringPhysicianName", "TimezoneOffsetFromUTC", "PatientName",
        "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID",
    ]  # fmt: skip
    assert _keywords(GOOGLE_SERIES_DEFAULTS) == [
        "SpecificCharacterSet", "Modality", "TimezoneOffsetFromUTC", "SeriesDescription",
        "SeriesInstanceUID", "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime",
        "RequestAttributesSequence",
    ]  # fmt: skip
    assert _keywords(GOOGLE_INSTANCE_DEFAULTS) == [
        "SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "InstanceAvailability",
        "TimezoneOffsetFromUTC", "InstanceNumber", "Rows", "Columns", "BitsAllocated",
        "NumberOfFrames",
    ]  # fmt: skip
    assert len(GOOGLE_STUDY_ALL_ADDITIONS) == 23
    assert _keywords(GOOGLE_SERIES_ALL_ADDITIONS) == [
        "SeriesNumber", "Laterality", "SeriesDate", "SeriesTime"
    ]  # fmt: skip
    assert sorted(_keywords(GOOGLE_SEARCH_KEYS)) == sorted(
        ["StudyInstanceUID", "PatientName", "PatientID", "AccessionNumber",
         "ReferringPhysicianName", "StudyDate", "SeriesInstanceUID", "Modality", "SOPInstanceUID"]
    )  # fmt: skip


def test_standard_lists_add_the_computed_attributes() -> None:
    assert set(STANDARD_STUDY_DEFAULTS) - set(GOOGLE_STUDY_DEFAULTS) == {
        tag_for("ModalitiesInStudy"),
        tag_for("NumberOfStudyRelatedSeries"),
        tag_for("NumberOfStudyRelatedInstances"),
    }
    assert set(STANDARD_SERIES_DEFAULTS) - set(GOOGLE_SERIES_DEFAULTS) == {
        tag_for("SeriesNumber"),
        tag_for("NumberOfSeriesRelatedInstances"),
    }
    assert GOOGLE_SEARCH_KEYS <= STANDARD_SEARCH_KEYS == set(SEARCH_KEYS)


def test_rows_keep_every_attribute_their_answers_may_return() -> None:
    assert set(GOOGLE_STUDY_DEFAULTS + GOOGLE_STUDY_ALL_ADDITIONS) <= STUDY_LEVEL_ATTRIBUTES
    assert set(GOOGLE_SERIES_DEFAULTS + GOOGLE_SERIES_ALL_ADDITIONS) <= SERIES_LEVEL_ATTRIBUTES
    # Only the shared attributes of every level appear on both rows.
    shared = STUDY_LEVEL_ATTRIBUTES & SERIES_LEVEL_ATTRIBUTES
    assert shared == {tag_for("SpecificCharacterSet"), tag_for("TimezoneOffsetFromUTC")}


def test_search_keys_are_consistent() -> None:
    for path, key in SEARCH_KEYS.items():
        assert key.path == path
        assert ".".join(tag_for(part) or "?" for part in key.keyword.split(".")) == path
        assert (key.fuzzy_column is not None) == (key.kind is MatchKind.PERSON_NAME)
        assert key.tag == path.split(".")[0]
    modalities = SEARCH_KEYS[tag_for("ModalitiesInStudy") or ""]
    assert (modalities.level, modalities.table, modalities.column) == (
        Level.STUDY,
        Level.SERIES,
        "modality",
    )


@pytest.mark.parametrize(
    ("name", "dictionary_only", "expected"),
    [
        ("PatientName", True, "00100010"),
        ("00100010", True, "00100010"),
        ("0020000d", True, "0020000D"),
        ("60003000", True, "60003000"),  # a repeating group the dictionary knows
        ("patientname", True, None),  # keywords are case-sensitive
        ("NoSuchKeyword", True, None),
        ("00091001", True, None),  # private
        ("00091001", False, "00091001"),
        ("0010001", True, None),
        ("", True, None),
    ],
)
def test_tag_for(name: str, dictionary_only: bool, expected: str | None) -> None:
    assert tag_for(name, dictionary_only=dictionary_only) == expected


def test_keyword_for() -> None:
    assert keyword_for("00100010") == "PatientName"
    assert keyword_for("00400275.00400009") == "RequestAttributesSequence.ScheduledProcedureStepID"
    assert keyword_for("00091001") == "00091001"


def test_dictionary_vr_and_empty_elements() -> None:
    assert dictionary_vr("00100010") == "PN"
    assert dictionary_vr("00280106") == "US"  # "US or SS"
    assert dictionary_vr("60003000") == "OW"  # "OB or OW"
    assert dictionary_vr("00091001") is None
    assert empty_element("00080020") == {"vr": "DA"}
    assert empty_element("00400275") == {"vr": "SQ"}
    assert empty_element("00091001") is None


def test_attribute_level() -> None:
    level = {kw: attribute_level(tag_for(kw) or "") for kw in [
        "PatientName", "StudyDescription", "PatientAge", "ModalitiesInStudy",
        "NumberOfStudyRelatedInstances", "Modality", "SeriesNumber", "FrameOfReferenceUID",
        "NumberOfSeriesRelatedInstances", "Rows", "SliceThickness", "InstanceAvailability",
        "SpecificCharacterSet",
    ]}  # fmt: skip
    assert level == {
        "PatientName": Level.STUDY,
        "StudyDescription": Level.STUDY,
        "PatientAge": Level.STUDY,
        "ModalitiesInStudy": Level.STUDY,
        "NumberOfStudyRelatedInstances": Level.STUDY,
        "Modality": Level.SERIES,
        "SeriesNumber": Level.SERIES,
        "FrameOfReferenceUID": Level.SERIES,
        "NumberOfSeriesRelatedInstances": Level.SERIES,
        "Rows": Level.INSTANCE,
        "SliceThickness": Level.INSTANCE,
        "InstanceAvailability": Level.INSTANCE,
        "SpecificCharacterSet": Level.STUDY,
    }
    assert [lv.depth for lv in Level] == [0, 1, 2]


def test_instance_availability() -> None:
    assert instance_availability("STANDARD") == "ONLINE"
    for storage_class in ("NEARLINE", "COLDLINE", "ARCHIVE"):
        assert instance_availability(storage_class) == "NEARLINE"


# --- Normalised values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("ACC1", "ACC1"), ("  ACC1 ", "ACC1"), ("A B", "A B"), ("   ", None), ("", None)],
)
def test_normalise_text(value: str, expected: str | None) -> None:
    assert normalise_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Doe^John", "doe^john"),
        ("DOE^JOHN^^^", "doe^john"),
        (" Doe ^ John ", "doe^john"),
        ("Doe^John=ドウ^ジョン", "doe^john"),
        ("van der Berg^Anna Maria", "van der berg^anna maria"),
        ("Straße", "strasse"),
        ("^^", None),
        ("=山田^太郎", None),
    ],
)
def test_normalise_person_name(value: str, expected: str | None) -> None:
    assert normalise_person_name(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Doe^John", " doe john "),
        ("van der Berg^Anna Maria", " van der berg anna maria "),
        ("Yamada^Tarou=山田^太郎", " yamada tarou 山田 太郎 "),
        ("  ^ ", None),
    ],
)
def test_person_name_tokens(value: str, expected: str | None) -> None:
    assert person_name_tokens(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("20240115", "20240115"), ("2024.01.15", "20240115"), (" 20240115 ", "20240115"),
     ("2024-01-15", None), ("202401", None), ("", None)],
)  # fmt: skip
def test_normalise_date(value: str, expected: str | None) -> None:
    assert normalise_date(value) == expected


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("13", "130000.000000", "135959.999999"),
        ("1230", "123000.000000", "123059.999999"),
        ("123015", "123015.000000", "123015.999999"),
        ("123015.5", "123015.500000", "123015.599999"),
        ("123015.123456", "123015.123456", "123015.123456"),
        ("12:30:15", "123015.000000", "123015.999999"),
        ("123", None, None),
        ("1230151", None, None),
        ("ab", None, None),
    ],
)
def test_times(value: str, low: str | None, high: str | None) -> None:
    assert normalise_time(value) == low
    assert time_upper_bound(value) == high


# --- Ingest --------------------------------------------------------------------------------


def _json(**elements: Any) -> dict[str, Any]:
    ds = Dataset()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds.to_json_dict()


def test_study_columns_from_pydicom_json() -> None:
    document = _json(
        PatientName="Yamada^Tarou=山田^太郎",
        PatientID="  PID1 ",
        AccessionNumber="ACC1",
        StudyDate="20240115",
        StudyTime="1015",
        StudyID="S1",
        ReferringPhysicianName="House^Gregory",
        StudyDescription="CT CHEST",
        Modality="CT",
    )
    assert study_columns(document) == {
        "patient_name": "yamada^tarou",
        "patient_name_search": " yamada tarou 山田 太郎 ",
        "patient_id": "PID1",
        "accession_number": "ACC1",
        "referring_physician_name": "house^gregory",
        "referring_physician_name_search": " house gregory ",
        "study_date": "20240115",
        "study_time": "101500.000000",
        "study_id": "S1",
        "study_description": "CT CHEST",
    }


def test_missing_and_empty_values_are_null() -> None:
    empty = _json(PatientName="", StudyDate="", AccessionNumber="")
    assert set(study_columns(empty).values()) == {None}
    assert set(study_columns({}).values()) == {None}
    assert set(series_columns({}).values()) == {None}


def test_invalid_values_are_null_or_cut_to_fit() -> None:
    document = {
        "00100020": {"vr": "LO", "Value": ["X" * 100]},
        "00080020": {"vr": "DA", "Value": ["15 Jan 2024"]},
        "00080030": {"vr": "TM", "Value": [1015]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "A" * 400}]},
        "00080050": {"vr": "SH", "Value": [None]},
    }
    columns = study_columns(document)
    assert columns["patient_id"] == "X" * 64
    assert columns["patient_name"] == "a" * 324
    assert columns["study_date"] is None
    assert columns["study_time"] is None
    assert columns["accession_number"] is None


def test_series_columns_from_pydicom_json() -> None:
    first, second = Dataset(), Dataset()
    first.ScheduledProcedureStepID, first.RequestedProcedureID = "SPS1", "RP1"
    second.ScheduledProcedureStepID = "SPS2"
    document = _json(
        Modality="MR",
        SeriesNumber=4,
        SeriesDescription="T1 ",
        PerformedProcedureStepStartDate="20240115",
        PerformedProcedureStepStartTime="083000.5",
        RequestAttributesSequence=[first, second],
    )
    assert series_columns(document) == {
        "modality": "MR",
        "series_number": 4,
        "series_description": "T1",
        "performed_procedure_step_start_date": "20240115",
        "performed_procedure_step_start_time": "083000.500000",
        "scheduled_procedure_step_id": "SPS1",
        "requested_procedure_id": "RP1",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [(4, 4), (4.0, 4), ("12", 12), (" 7 ", 7), (4.5, None), ("x", None), (2**31, None),
     (True, None)],
)  # fmt: skip
def test_series_number_as_an_integer(value: Any, expected: int | None) -> None:
    document = {"00200011": {"vr": "IS", "Value": [value]}}
    assert series_columns(document)["series_number"] == expected


def test_empty_request_sequence() -> None:
    document = {"00400275": {"vr": "SQ", "Value": []}}
    assert series_columns(document)["scheduled_procedure_step_id"] is None
    assert series_columns({"00400275": {"vr": "SQ"}})["requested_procedure_id"] is None


def test_level_attributes_are_subsets_of_the_instance_json() -> None:
    document = _json(
        SpecificCharacterSet="ISO_IR 192",
        PatientName="Doe^John",
        PatientAge="054Y",
        StudyDescription="CT",
        InstitutionName="General",
        Modality="CT",
        SeriesNumber=1,
        Manufacturer="ACME",
        Rows=512,
        SOPInstanceUID="1.2.3",
    )
    assert set(study_attributes(document)) == {
        tag_for(k)
        for k in ("SpecificCharacterSet", "PatientName", "PatientAge", "StudyDescription",
                  "InstitutionName")
    }  # fmt: skip
    assert set(series_attributes(document)) == {
        tag_for(k) for k in ("SpecificCharacterSet", "Modality", "SeriesNumber", "Manufacturer")
    }
    assert study_attributes(document)["00100010"] == document["00100010"]

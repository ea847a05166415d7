"""``dicomstore.dicom.qido``: parsing QIDO-RS query strings, matchers, returned attributes."""

from __future__ import annotations

from typing import Any

import pytest

from dicomstore.dicom import qido
from dicomstore.dicom.attributes import (
    GOOGLE_INSTANCE_DEFAULTS,
    GOOGLE_SERIES_ALL_ADDITIONS,
    GOOGLE_SERIES_DEFAULTS,
    GOOGLE_STUDY_ALL_ADDITIONS,
    GOOGLE_STUDY_DEFAULTS,
    SERIES_LEVEL_ATTRIBUTES,
    STANDARD_INSTANCE_DEFAULTS,
    STANDARD_SERIES_DEFAULTS,
    STANDARD_STUDY_DEFAULTS,
    STUDY_LEVEL_ATTRIBUTES,
    Level,
    tag_for,
)
from dicomstore.dicom.qido import (
    AnyOf,
    DateRange,
    EmptyValue,
    FuzzyPersonName,
    Matcher,
    QidoMode,
    QidoQuery,
    SingleValue,
    TimeRange,
    UidList,
    Universal,
    Wildcard,
    matches,
    parse_query,
    returned_attributes,
)
from dicomstore.errors import InvalidArgument
from tests.test_public_api import _defined_public_names

GOOGLE, STANDARD = QidoMode.GOOGLE, QidoMode.STANDARD
STUDY, SERIES, INSTANCE = Level.STUDY, Level.SERIES, Level.INSTANCE


def test_all_is_exact() -> None:
    assert sorted(qido.__all__) == sorted(_defined_public_names(qido))


def _parse(
    level: Level, *params: tuple[str, str], mode: QidoMode = GOOGLE, **kwargs: Any
) -> QidoQuery:
    return parse_query(level, list(params), mode=mode, **kwargs)


def _matcher(level: Level, name: str, value: str, mode: QidoMode = GOOGLE, *extra: Any) -> Matcher:
    query = _parse(level, (name, value), *extra, mode=mode)
    (match,) = query.matches
    return match.matcher


def _fails(message: str, level: Level, *params: tuple[str, str], mode: QidoMode = GOOGLE) -> None:
    with pytest.raises(InvalidArgument) as raised:
        _parse(level, *params, mode=mode)
    assert raised.value.message == message


# --- Defaults and control parameters -------------------------------------------------------


def test_an_empty_query() -> None:
    query = _parse(STUDY)
    assert query == QidoQuery(level=STUDY, limit=100)
    assert query.mode is GOOGLE
    assert (query.offset, query.fuzzymatching, query.include_all) == (0, False, False)


@pytest.mark.parametrize(
    ("level", "value", "limit"),
    [
        (STUDY, None, 100),
        (SERIES, None, 100),
        (INSTANCE, None, 1000),
        (STUDY, "0", 100),
        (INSTANCE, "0", 1000),
        (STUDY, "1", 1),
        (STUDY, "5000", 5000),
        (STUDY, "5001", 5000),
        (SERIES, "1000000", 5000),
        (INSTANCE, "50000", 50000),
        (INSTANCE, "99999999999999999999", 50000),
    ],
)
def test_limit(level: Level, value: str | None, limit: int) -> None:
    params = [] if value is None else [("limit", value)]
    assert _parse(level, *params).limit == limit


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "", "1e3", "٣"])
def test_bad_limit(value: str) -> None:
    _fails(
        f"invalid limit value {value!r}: expected a non-negative integer", STUDY, ("limit", value)
    )


@pytest.mark.parametrize(("value", "offset"), [("0", 0), ("25", 25), ("1000000", 1_000_000)])
def test_offset(value: str, offset: int) -> None:
    assert _parse(INSTANCE, ("offset", value)).offset == offset


@pytest.mark.parametrize("value", ["-1", "1000001", "x", ""])
def test_bad_offset(value: str) -> None:
    _fails(
        f"invalid offset value {value!r}: expected an integer from 0 to 1000000",
        STUDY,
        ("offset", value),
    )


@pytest.mark.parametrize("name", ["limit", "offset", "fuzzymatching"])
def test_control_parameters_at_most_once(name: str) -> None:
    value = "true" if name == "fuzzymatching" else "1"
    _fails(f"{name} is given more than once", STUDY, (name, value), (name, value))


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("TRUE", True), ("false", False)])
def test_fuzzymatching(value: str, expected: bool) -> None:
    assert _parse(STUDY, ("fuzzymatching", value)).fuzzymatching is expected


def test_bad_fuzzymatching() -> None:
    _fails(
        "invalid fuzzymatching value 'yes': expected true or false",
        STUDY,
        ("fuzzymatching", "yes"),
    )


# --- includefield --------------------------------------------------------------------------


def test_includefield_forms() -> None:
    query = _parse(
        STUDY,
        ("includefield", "StudyDescription,00101010"),
        ("includefield", " 0008103e , PatientAge"),
        ("includefield", ""),
    )
    assert query.includefield == {"00081030", "00101010", "0008103E"}
    assert not query.include_all


@pytest.mark.parametrize("value", ["all", "ALL", "PatientAge,all"])
def test_includefield_all(value: str) -> None:
    assert _parse(INSTANCE, ("includefield", value)).include_all


def test_includefield_inside_a_sequence_names_the_sequence() -> None:
    query = _parse(SERIES, ("includefield", "RequestAttributesSequence.RequestedProcedureID"))
    assert query.includefield == {"00400275"}


@pytest.mark.parametrize("name", ["NoSuchAttribute", "patientname", "0010", "00091010"])
def test_unknown_includefield(name: str) -> None:
    _fails(f"unknown/unsupported QIDO attribute: {name}", STUDY, ("includefield", name))


def test_unsupported_includefield_in_google_mode() -> None:
    _fails(
        "unknown/unsupported QIDO attribute: AvailableTransferSyntaxUID",
        INSTANCE,
        ("includefield", "AvailableTransferSyntaxUID"),
    )
    _fails(
        "unknown/unsupported QIDO attribute: 00083002",
        INSTANCE,
        ("includefield", "Rows,00083002"),
    )


def test_standard_mode_includefield_is_lenient() -> None:
    query = _parse(INSTANCE, ("includefield", "AvailableTransferSyntaxUID,00091010"), mode=STANDARD)
    assert query.includefield == {"00091010"}
    _fails(
        "unknown/unsupported QIDO attribute: NoSuchAttribute",
        STUDY,
        ("includefield", "NoSuchAttribute"),
        mode=STANDARD,
    )


# --- Matching keys: which are allowed where -----------------------------------------------


@pytest.mark.parametrize(
    ("level", "name"),
    [
        (STUDY, "StudyInstanceUID"),
        (STUDY, "0020000D"),
        (STUDY, "PatientName"),
        (STUDY, "PatientID"),
        (STUDY, "AccessionNumber"),
        (STUDY, "ReferringPhysicianName"),
        (STUDY, "StudyDate"),
        (SERIES, "PatientID"),
        (SERIES, "SeriesInstanceUID"),
        (SERIES, "Modality"),
        (INSTANCE, "StudyDate"),
        (INSTANCE, "Modality"),
        (INSTANCE, "SOPInstanceUID"),
        (INSTANCE, "00080018"),
    ],
)
def test_google_searchable_keys(level: Level, name: str) -> None:
    (match,) = _parse(level, (name, "x" if "Date" not in name else "20240101")).matches
    assert match.key.path == tag_for(name)


@pytest.mark.parametrize(
    ("level", "name", "message"),
    [
        (INSTANCE, "SOPClassUID", "SOPClassUID is not a supported instance attribute"),
        (STUDY, "StudyDescription", "StudyDescription is not a supported study attribute"),
        (STUDY, "Modality", "Modality is not a supported study attribute"),
        (STUDY, "SOPInstanceUID", "SOPInstanceUID is not a supported study attribute"),
        (SERIES, "00080018", "SOPInstanceUID is not a supported series attribute"),
        (STUDY, "StudyTime", "StudyTime is not a supported study attribute"),
        (
            STUDY,
            "TimezoneOffsetFromUTC",
            "TimezoneOffsetFromUTC is not a supported study attribute",
        ),
        (STUDY, "ModalitiesInStudy", "ModalitiesInStudy is not a supported study attribute"),
    ],
)
def test_google_unsupported_keys(level: Level, name: str, message: str) -> None:
    _fails(f"{message} for QIDO search", level, (name, "1"))


@pytest.mark.parametrize(
    "name",
    ["Foo", "patientname", "emptyvaluematching", "multiplevaluematching", "PatientName.", "_"],
)
def test_unknown_keys(name: str) -> None:
    _fails(f"unknown/unsupported QIDO attribute: {name}", STUDY, (name, "1"))


def test_standard_mode_ignores_keys_it_cannot_match() -> None:
    query = _parse(
        STUDY,
        ("PatientAge", "054Y"),
        ("SOPInstanceUID", "1.2"),
        ("PatientID", "P"),
        mode=STANDARD,
    )
    assert query.unsupported_keys == ("PatientAge", "SOPInstanceUID")
    assert [m.key.keyword for m in query.matches] == ["PatientID"]
    _fails("unknown/unsupported QIDO attribute: Foo", STUDY, ("Foo", "1"), mode=STANDARD)


@pytest.mark.parametrize(
    ("level", "name"),
    [
        (STUDY, "StudyTime"),
        (STUDY, "StudyID"),
        (STUDY, "StudyDescription"),
        (STUDY, "ModalitiesInStudy"),
        (SERIES, "SeriesNumber"),
        (SERIES, "SeriesDescription"),
        (SERIES, "PerformedProcedureStepStartDate"),
        (SERIES, "PerformedProcedureStepStartTime"),
        (SERIES, "RequestAttributesSequence.ScheduledProcedureStepID"),
        (SERIES, "00400275.00401001"),
        (INSTANCE, "SOPClassUID"),
        (INSTANCE, "InstanceNumber"),
    ],
)
def test_standard_mode_keys(level: Level, name: str) -> None:
    query = _parse(level, (name, ""), mode=STANDARD)
    assert len(query.matches) == 1
    assert query.unsupported_keys == ()


def test_repeated_keys() -> None:
    _fails("PatientID is given more than once", STUDY, ("PatientID", "a"), ("PatientID", "b"))
    query = _parse(STUDY, ("PatientID", "a"), ("00100020", "b"), mode=STANDARD)
    (match,) = query.matches
    assert match.matcher == AnyOf((SingleValue("a"), SingleValue("b")))


@pytest.mark.parametrize(
    ("level", "study", "series"),
    [(STUDY, "1.2", None), (STUDY, None, "1.3"), (SERIES, "1.2", "1.3"), (INSTANCE, None, "1.3")],
)
def test_impossible_paths(level: Level, study: str | None, series: str | None) -> None:
    with pytest.raises(ValueError):
        parse_query(level, [], study_uid=study, series_uid=series)


def test_paths() -> None:
    query = _parse(INSTANCE, study_uid="1.2", series_uid="1.3")
    assert (query.study_uid, query.series_uid) == ("1.2", "1.3")


# --- Matchers by mode and kind ------------------------------------------------------------

MATCHERS = [
    # Google: single values; a "*" or "," is just a character.
    (GOOGLE, STUDY, "PatientID", "PID1", SingleValue("PID1")),
    (GOOGLE, STUDY, "PatientID", " PID1  ", SingleValue("PID1")),
    (GOOGLE, STUDY, "PatientID", "", Universal()),
    (GOOGLE, STUDY, "PatientID", "P*", SingleValue("P*")),
    (GOOGLE, STUDY, "PatientName", "Doe^John^^", SingleValue("doe^john")),
    (GOOGLE, STUDY, "PatientName", "DOE*", SingleValue("doe*")),
    (GOOGLE, STUDY, "ReferringPhysicianName", "House^G", SingleValue("house^g")),
    (GOOGLE, STUDY, "StudyInstanceUID", "1.2,1.3", SingleValue("1.2,1.3")),
    (GOOGLE, STUDY, "StudyDate", "20240115", DateRange("20240115", "20240115")),
    (GOOGLE, STUDY, "StudyDate", "20240101-20240131", DateRange("20240101", "20240131")),
    (GOOGLE, STUDY, "StudyDate", "20240101-", DateRange("20240101", None)),
    (GOOGLE, STUDY, "StudyDate", "-20240131", DateRange(None, "20240131")),
    (GOOGLE, STUDY, "StudyDate", "20240115-20240115", DateRange("20240115", "20240115")),
    (GOOGLE, SERIES, "Modality", "CT,MR", SingleValue("CT,MR")),
    # Standard: wildcards, lists, ranges, numbers.
    (STANDARD, STUDY, "PatientID", "P*", Wildcard("P*")),
    (STANDARD, STUDY, "PatientID", "P?D1", Wildcard("P?D1")),
    (STANDARD, STUDY, "PatientID", "*", Universal()),
    (STANDARD, STUDY, "PatientID", "**", Universal()),
    (STANDARD, STUDY, "PatientID", "a\\b", SingleValue("a\\b")),
    (STANDARD, STUDY, "PatientName", "DOE^J*", Wildcard("doe^j*")),
    (STANDARD, STUDY, "PatientName", "*", Universal()),
    (STANDARD, STUDY, "PatientName", "*=*", Universal()),
    (STANDARD, STUDY, "PatientName", "Yama*=山田*", Wildcard("yama*")),
    (STANDARD, STUDY, "PatientName", "Doe^John", SingleValue("doe^john")),
    (STANDARD, STUDY, "StudyInstanceUID", "1.2,1.3", UidList(("1.2", "1.3"))),
    (STANDARD, STUDY, "StudyInstanceUID", "1.2\\1.3\\1.4", UidList(("1.2", "1.3", "1.4"))),
    (STANDARD, STUDY, "StudyInstanceUID", "1.2", SingleValue("1.2")),
    (STANDARD, STUDY, "StudyInstanceUID", "*", Universal()),
    (STANDARD, STUDY, "StudyTime", "1015", TimeRange("101500.000000", "101559.999999")),
    (STANDARD, STUDY, "StudyTime", "10-11", TimeRange("100000.000000", "115959.999999")),
    (STANDARD, STUDY, "StudyTime", "-101530.5", TimeRange(None, "101530.599999")),
    (STANDARD, STUDY, "StudyTime", "0830-", TimeRange("083000.000000", None)),
    (STANDARD, STUDY, "StudyDate", "*", Universal()),
    (STANDARD, STUDY, "ModalitiesInStudy", "CT", SingleValue("CT")),
    (STANDARD, STUDY, "ModalitiesInStudy", "CT,MR", AnyOf((SingleValue("CT"), SingleValue("MR")))),
    (STANDARD, STUDY, "ModalitiesInStudy", "CT\\M*", AnyOf((SingleValue("CT"), Wildcard("M*")))),
    (STANDARD, STUDY, "ModalitiesInStudy", "CT,*", Universal()),
    (STANDARD, SERIES, "Modality", "CT,MR", AnyOf((SingleValue("CT"), SingleValue("MR")))),
    (STANDARD, SERIES, "SeriesNumber", "7", SingleValue(7)),
    (STANDARD, SERIES, "SeriesNumber", " -7 ", SingleValue(-7)),
    (STANDARD, INSTANCE, "InstanceNumber", "", Universal()),
    (
        STANDARD,
        INSTANCE,
        "SOPClassUID",
        "1.2.840.10008.5.1.4.1.1.2",
        SingleValue("1.2.840.10008.5.1.4.1.1.2"),
    ),
]


@pytest.mark.parametrize(("mode", "level", "name", "value", "expected"), MATCHERS)
def test_matchers(mode: QidoMode, level: Level, name: str, value: str, expected: Matcher) -> None:
    assert _matcher(level, name, value, mode) == expected


@pytest.mark.parametrize("mode", [GOOGLE, STANDARD])
def test_fuzzy_person_names(mode: QidoMode) -> None:
    fuzzy = ("fuzzymatching", "true")
    assert _matcher(STUDY, "PatientName", "John Doe", mode, fuzzy) == FuzzyPersonName(
        ("john", "doe")
    )
    assert _matcher(STUDY, "PatientName", "DOE^Jo", mode, fuzzy) == FuzzyPersonName(("doe", "jo"))
    assert _matcher(STUDY, "PatientName", "Yamada=山田", mode, fuzzy) == FuzzyPersonName(
        ("yamada", "山田")
    )
    assert _matcher(STUDY, "PatientName", "jo*", mode, fuzzy) == FuzzyPersonName(("jo",))
    assert _matcher(STUDY, "PatientName", " ^ ", mode, fuzzy) == Universal()


def test_fuzzy_matching_of_other_person_names_is_standard_only() -> None:
    fuzzy = ("fuzzymatching", "true")
    name = "ReferringPhysicianName"
    assert _matcher(STUDY, name, "House", GOOGLE, fuzzy) == SingleValue("house")
    assert _matcher(STUDY, name, "House", STANDARD, fuzzy) == FuzzyPersonName(("house",))


def test_multiple_value_matching() -> None:
    flag = ("multiplevaluematching", "true")
    assert _matcher(STUDY, "PatientID", "a\\b*", STANDARD, flag) == AnyOf(
        (SingleValue("a"), Wildcard("b*"))
    )
    assert _matcher(STUDY, "StudyDate", "20240101\\-20230101", STANDARD, flag) == AnyOf(
        (DateRange("20240101", "20240101"), DateRange(None, "20230101"))
    )
    assert _matcher(SERIES, "SeriesNumber", "1\\2", STANDARD, flag) == AnyOf(
        (SingleValue(1), SingleValue(2))
    )
    assert _matcher(STUDY, "PatientID", "a\\b", STANDARD, ("multiplevaluematching", "false")) == (
        SingleValue("a\\b")
    )


def test_empty_value_matching() -> None:
    flag = ("emptyvaluematching", "true")
    assert _matcher(STUDY, "PatientName", '""', STANDARD, flag) == EmptyValue()
    assert _matcher(STUDY, "StudyDate", '""', STANDARD, flag) == EmptyValue()
    assert _matcher(STUDY, "PatientID", '""', STANDARD) == SingleValue('""')


BAD_VALUES = [
    (GOOGLE, STUDY, "StudyDate", "2024011", "YYYYMMDD or a range YYYYMMDD-YYYYMMDD"),
    (GOOGLE, STUDY, "StudyDate", "2024-01-15", "YYYYMMDD or a range YYYYMMDD-YYYYMMDD"),
    (GOOGLE, STUDY, "StudyDate", "2024.01.15", "YYYYMMDD or a range YYYYMMDD-YYYYMMDD"),
    (GOOGLE, STUDY, "StudyDate", "20241301", "a calendar date YYYYMMDD"),
    (GOOGLE, STUDY, "StudyDate", "20230229", "a calendar date YYYYMMDD"),
    (GOOGLE, STUDY, "StudyDate", "-", "a value or a range with at least one bound"),
    (GOOGLE, STUDY, "StudyDate", "*", "YYYYMMDD or a range YYYYMMDD-YYYYMMDD"),
    (GOOGLE, STUDY, "StudyDate", "20240101-20240102-", "YYYYMMDD or a range YYYYMMDD-YYYYMMDD"),
    (STANDARD, STUDY, "StudyTime", "2500", "HHMMSS.FFFFFF or a range HHMMSS-HHMMSS"),
    (STANDARD, STUDY, "StudyTime", "1260", "HHMMSS.FFFFFF or a range HHMMSS-HHMMSS"),
    (STANDARD, STUDY, "StudyTime", "12:00", "HHMMSS.FFFFFF or a range HHMMSS-HHMMSS"),
    (STANDARD, STUDY, "StudyTime", "123", "HHMMSS.FFFFFF or a range HHMMSS-HHMMSS"),
    (STANDARD, STUDY, "StudyTime", "1200.", "HHMMSS.FFFFFF or a range HHMMSS-HHMMSS"),
    (STANDARD, STUDY, "StudyInstanceUID", "1.2.*", "a UID or a comma-separated list of UIDs"),
    (STANDARD, STUDY, "StudyInstanceUID", "1.2.x", "a UID or a comma-separated list of UIDs"),
    (STANDARD, STUDY, "StudyInstanceUID", "1" * 65, "a UID or a comma-separated list of UIDs"),
    (STANDARD, STUDY, "StudyInstanceUID", "1.2,,1.3", "no empty item in a list of values"),
    (STANDARD, STUDY, "ModalitiesInStudy", "CT,", "no empty item in a list of values"),
    (STANDARD, SERIES, "SeriesNumber", "one", "an integer"),
    (STANDARD, SERIES, "SeriesNumber", "1.5", "an integer"),
    (STANDARD, SERIES, "SeriesNumber", "*1", "an integer"),
    (STANDARD, SERIES, "SeriesNumber", "2147483648", "a 32-bit integer"),
]


@pytest.mark.parametrize(("mode", "level", "name", "value", "expected"), BAD_VALUES)
def test_bad_values(mode: QidoMode, level: Level, name: str, value: str, expected: str) -> None:
    _fails(f"invalid {name} value {value!r}: expected {expected}", level, (name, value), mode=mode)


@pytest.mark.parametrize(
    ("mode", "name", "value"),
    [(GOOGLE, "StudyDate", "20240201-20240101"), (STANDARD, "StudyTime", "1300-1200")],
)
def test_reversed_ranges(mode: QidoMode, name: str, value: str) -> None:
    _fails(
        f"invalid {name} range {value!r}: its start is after its end",
        STUDY,
        (name, value),
        mode=mode,
    )


# --- The reference semantics --------------------------------------------------------------

SEMANTICS: list[tuple[Matcher, str | int | None, bool]] = [
    (Universal(), None, True),
    (Universal(), "x", True),
    (EmptyValue(), None, True),
    (EmptyValue(), "x", False),
    (SingleValue("CT"), "CT", True),
    (SingleValue("CT"), "ct", False),
    (SingleValue("CT"), None, False),
    (SingleValue(7), 7, True),
    (SingleValue(7), 8, False),
    (UidList(("1.2", "1.3")), "1.3", True),
    (UidList(("1.2", "1.3")), "1.4", False),
    (DateRange("20240101", "20240131"), "20240101", True),
    (DateRange("20240101", "20240131"), "20240131", True),
    (DateRange("20240101", "20240131"), "20240201", False),
    (DateRange(None, "20240131"), "19000101", True),
    (DateRange("20240101", None), None, False),
    (TimeRange("101500.000000", "101559.999999"), "101559.999999", True),
    (TimeRange("101500.000000", "101559.999999"), "101600.000000", False),
    (Wildcard("a*c"), "abbbc", True),
    (Wildcard("a*c"), "ac", True),
    (Wildcard("a*c"), "abd", False),
    (Wildcard("a?c"), "abc", True),
    (Wildcard("a?c"), "ac", False),
    (Wildcard("a.c"), "abc", False),  # "." is a character, not a pattern
    (Wildcard("(a)+"), "(a)+", True),
    (Wildcard("*%_*"), "x%_y", True),
    (Wildcard("a*"), None, False),
    (FuzzyPersonName(("jo",)), " doe john ", True),
    (FuzzyPersonName(("oh",)), " doe john ", False),
    (FuzzyPersonName(("x", "do")), " doe john ", True),
    (FuzzyPersonName(("jo",)), None, False),
    (AnyOf((SingleValue("CT"), Wildcard("M*"))), "MR", True),
    (AnyOf((SingleValue("CT"), EmptyValue())), None, True),
    (AnyOf((SingleValue("CT"), Wildcard("M*"))), "US", False),
]


@pytest.mark.parametrize(("matcher", "value", "expected"), SEMANTICS)
def test_matches(matcher: Matcher, value: str | int | None, expected: bool) -> None:
    assert matches(matcher, value) is expected


# --- Returned attributes ------------------------------------------------------------------

STUDY_UID, SERIES_UID = {"0020000D"}, {"0020000E"}


def _returned(level: Level, *params: tuple[str, str], **kwargs: Any) -> Any:
    return returned_attributes(_parse(level, *params, **kwargs))


def test_google_returned_attributes_by_path() -> None:
    study, series, instance = (
        set(GOOGLE_STUDY_DEFAULTS),
        set(GOOGLE_SERIES_DEFAULTS),
        set(GOOGLE_INSTANCE_DEFAULTS),
    )
    cases = [
        (_returned(STUDY), (study, set(), set())),
        (_returned(SERIES), (study, series, set())),
        (_returned(SERIES, study_uid="1"), (STUDY_UID, series, set())),
        (_returned(INSTANCE), (study, series, instance)),
        (_returned(INSTANCE, study_uid="1"), (STUDY_UID, series, instance)),
        (_returned(INSTANCE, study_uid="1", series_uid="2"), (STUDY_UID, SERIES_UID, instance)),
    ]
    for returned, (expected_study, expected_series, expected_instance) in cases:
        assert returned.study == expected_study
        assert returned.series == expected_series
        assert returned.instance == expected_instance
        assert not returned.all_instance_metadata


def test_standard_returned_attributes() -> None:
    returned = _returned(INSTANCE, mode=STANDARD)
    assert returned.study == set(STANDARD_STUDY_DEFAULTS)
    assert returned.series == set(STANDARD_SERIES_DEFAULTS)
    assert returned.instance == set(STANDARD_INSTANCE_DEFAULTS)


def test_includefield_all_returned_attributes() -> None:
    google = _returned(SERIES, ("includefield", "all"))
    assert google.study == set(GOOGLE_STUDY_DEFAULTS + GOOGLE_STUDY_ALL_ADDITIONS)
    assert google.series == set(GOOGLE_SERIES_DEFAULTS + GOOGLE_SERIES_ALL_ADDITIONS)
    standard = _returned(SERIES, ("includefield", "all"), mode=STANDARD)
    assert standard.study == STUDY_LEVEL_ATTRIBUTES | set(STANDARD_STUDY_DEFAULTS)
    assert standard.series == SERIES_LEVEL_ATTRIBUTES | set(STANDARD_SERIES_DEFAULTS)
    instance = _returned(INSTANCE, ("includefield", "all"), study_uid="1", series_uid="2")
    assert instance.all_instance_metadata
    assert instance.study == STUDY_UID
    assert not _returned(STUDY, ("includefield", "all")).all_instance_metadata


def test_includefield_goes_to_the_row_of_its_level() -> None:
    fields = ("includefield", "PatientAge,Manufacturer,SliceThickness,ModalitiesInStudy")
    study = _returned(STUDY, fields)
    assert study.study == set(GOOGLE_STUDY_DEFAULTS) | {"00101010", "00080061"}
    assert study.series == study.instance == set()
    series = _returned(SERIES, fields, study_uid="1")
    assert series.study == STUDY_UID | {"00101010", "00080061"}
    assert series.series == set(GOOGLE_SERIES_DEFAULTS) | {"00080070"}
    instance = _returned(INSTANCE, fields, study_uid="1", series_uid="2")
    assert instance.instance == set(GOOGLE_INSTANCE_DEFAULTS) | {"00180050"}
    assert instance.series == SERIES_UID | {"00080070"}


def test_standard_mode_returns_its_matching_keys() -> None:
    params = [("StudyDescription", "CT*"), ("InstanceNumber", "1"), ("SeriesDescription", "x")]
    returned = _returned(INSTANCE, *params, study_uid="1", series_uid="2", mode=STANDARD)
    assert "00081030" in returned.study
    assert "0008103E" in returned.series
    assert "00200013" in returned.instance
    google = _returned(SERIES, ("PatientID", "P"), study_uid="1")
    assert "00100020" not in google.study

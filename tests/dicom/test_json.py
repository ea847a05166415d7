"""DICOM JSON of stored instances: pydicom's output with Google's bulk data rules (spec 4.4-4.5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import config
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dicomstore.dicom.json import MAX_SEQUENCE_LENGTH, is_bulk_data, to_dicom_json
from dicomstore.dicom.part10 import DEFER_SIZE
from tests.dicom.corpus import (
    TEST_FILES,
    corpus,
    corpus_id,
    readable,
    reference_json,
    save_file,
    write_file,
)

# pydicom warns about the many invalid values its test files carry on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

READABLE = [path for path in corpus() if readable(path)]


def uri(path: str) -> str:
    return f"bulk:{path}"


def dumps(value: dict[str, Any]) -> str:
    # Order-sensitive, and NaN-safe (NaN != NaN in a plain dict comparison).
    return json.dumps(value)


def deferred(path: Path) -> Dataset:
    return pydicom.dcmread(path, defer_size=DEFER_SIZE)


@pytest.mark.parametrize("path", READABLE, ids=corpus_id)
def test_matches_pydicom_with_google_bulk_data(path: Path) -> None:
    expected = reference_json(pydicom.dcmread(path), uri)
    assert dumps(to_dicom_json(deferred(path), uri)) == dumps(expected)


@pytest.mark.parametrize("path", READABLE, ids=corpus_id)
def test_without_bulk_data_uri_bulk_elements_are_left_out(path: Path) -> None:
    expected = reference_json(pydicom.dcmread(path), None)
    actual = to_dicom_json(deferred(path))
    assert dumps(actual) == dumps(expected)
    assert "BulkDataURI" not in dumps(actual)


@pytest.mark.parametrize("path", READABLE, ids=corpus_id)
def test_reference_is_pydicom_to_json_dict(path: Path) -> None:
    """The reference's plain mode is exactly ``Dataset.to_json_dict`` (the check of the check)."""
    dataset = pydicom.dcmread(path)
    try:
        expected = {**dataset.file_meta.to_json_dict(), **dataset.to_json_dict()}
    except Exception as error:
        pytest.skip(f"pydicom cannot convert {corpus_id(path)}: {error}")
    assert dumps(reference_json(dataset, None, google_rules=False)) == dumps(expected)


@pytest.mark.parametrize("path", READABLE, ids=corpus_id)
def test_file_meta_group_is_present(path: Path) -> None:
    dataset = deferred(path)
    result = to_dicom_json(dataset, uri)
    meta_keys = [f"{tag:08X}" for tag in dataset.file_meta._dict]
    assert meta_keys
    assert list(result)[: len(meta_keys)] == meta_keys
    if "TransferSyntaxUID" in dataset.file_meta:
        assert result["00020010"] == {
            "vr": "UI",
            "Value": [dataset.file_meta.TransferSyntaxUID],
        }
    # FileMetaInformationVersion is OB: bulk data regardless of its size, as Google does.
    if 0x00020001 in dataset.file_meta:
        assert result["00020001"] == {"vr": "OB", "BulkDataURI": "bulk:00020001"}


def test_ct_bulk_data_paths() -> None:
    path = TEST_FILES / "CT_small.dcm"
    result = to_dicom_json(deferred(path), uri)
    bulk = {key: value for key, value in result.items() if "BulkDataURI" in value}
    assert bulk == {
        "00020001": {"vr": "OB", "BulkDataURI": "bulk:00020001"},
        "00431028": {"vr": "OB", "BulkDataURI": "bulk:00431028"},
        "00431029": {"vr": "OB", "BulkDataURI": "bulk:00431029"},
        "0043102A": {"vr": "OB", "BulkDataURI": "bulk:0043102A"},
        "7FE00010": {"vr": "OW", "BulkDataURI": "bulk:7FE00010"},
        "FFFCFFFC": {"vr": "OB", "BulkDataURI": "bulk:FFFCFFFC"},
    }


def test_bulk_data_in_nested_sequences_has_item_paths(tmp_path: Path) -> None:
    inner = Dataset()
    inner.add_new(0x7FE00010, "OB", b"\x01\x02")
    middle = Dataset()
    middle.add_new(0x00081115, "SQ", Sequence([Dataset(), inner]))
    path = write_file(tmp_path, [(0x00081110, "SQ", Sequence([middle]))])
    result = to_dicom_json(deferred(path), uri)
    item = result["00081110"]["Value"][0]["00081115"]["Value"][1]
    assert item == {"7FE00010": {"vr": "OB", "BulkDataURI": "bulk:00081110/0/00081115/1/7FE00010"}}


def test_deferred_bulk_values_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    path = TEST_FILES / "MR_small_implicit.dcm"  # implicit VR: OB or OW
    dataset = pydicom.dcmread(path, defer_size=256)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a deferred value was read")

    monkeypatch.setattr(pydicom.filereader, "read_deferred_data_element", refuse)
    result = to_dicom_json(dataset, uri)
    assert result["7FE00010"] == {"vr": "OW", "BulkDataURI": "bulk:7FE00010"}
    raw = dataset._dict[Tag(0x7FE00010)]
    assert isinstance(raw, RawDataElement)
    assert raw.value is None


def test_deferred_values_that_are_not_bulk_are_read(tmp_path: Path) -> None:
    text = "x" * (DEFER_SIZE * 2)
    path = write_file(tmp_path, [(0x00204000, "LT", text)])
    assert to_dicom_json(deferred(path))["00204000"] == {"vr": "LT", "Value": [text]}


@pytest.mark.parametrize("undefined_length", [False, True])
def test_sequences_over_1_mib_are_left_out(tmp_path: Path, undefined_length: bool) -> None:
    big = Dataset()
    big.add_new(0x00081150, "UI", "1.2.3")
    big.add_new(0x00420011, "OB", b"\x00" * MAX_SEQUENCE_LENGTH)
    small = Dataset()
    small.add_new(0x00081150, "UI", "1.2.4")
    path = write_file(
        tmp_path,
        [(0x00081199, "SQ", Sequence([big])), (0x00081198, "SQ", Sequence([small]))],
        undefined_length=undefined_length,
    )
    dataset = deferred(path)
    result = to_dicom_json(dataset, uri)
    assert "00081199" not in result
    assert result["00081198"] == {
        "vr": "SQ",
        "Value": [{"00081150": {"vr": "UI", "Value": ["1.2.4"]}}],
    }
    assert dumps(result) == dumps(reference_json(pydicom.dcmread(path), uri))


def test_last_top_level_sequence_over_1_mib_is_left_out(tmp_path: Path) -> None:
    big = Dataset()
    big.add_new(0x00420011, "OB", b"\x00" * MAX_SEQUENCE_LENGTH)
    path = write_file(tmp_path, [(0xFFFAFFFA, "SQ", Sequence([big]))], undefined_length=True)
    assert "FFFAFFFA" not in to_dicom_json(deferred(path), uri)


@pytest.mark.parametrize(
    ("tag", "vr", "length", "bulk"),
    [
        (0x7FE00010, "OB", 2, True),
        (0x7FE00008, "OF", 4, True),
        (0x7FE00009, "OD", 8, True),
        (0x00020001, "OB", 2, True),
        (0x00091010, "UN", 1, True),
        (0x00283006, "OW", 2, True),
        (0x00660016, "OF", 2048, False),
        (0x00660016, "OF", 2052, True),
        (0x00660040, "OL", 2052, True),
        (0x00640009, "OD", 2048, False),
        (0x00283006, "US", 1024, False),
        (0x00283006, "US", 1026, True),
        (0x00660023, "FL", 2052, True),
        (0x0070022C, "FD", 4096, False),
        (0x0070022C, "FD", 4104, True),
        (0x00209165, "AT", 2052, True),
        (0x00209165, "AT", 2048, False),
        (0x00181310, "SS", 4000, False),  # SS and SL are not in Google's list
        (0x7FE00010, "OB", 0, False),  # empty: nothing to retrieve
        (0x00100010, "PN", 10_000, False),
    ],
)
def test_bulk_data_rule(tag: int, vr: str, length: int, bulk: bool) -> None:
    assert is_bulk_data(tag, vr, length) is bulk


# -- edge cases of the fast path against pydicom ---------------------------------------------

EDGE_VALUES: list[tuple[int, str, bytes]] = [
    (0x00200013, "IS", b"12 "),
    (0x00201002, "IS", b" 1\\-2 \\+3"),
    (0x00201004, "IS", b"1.0 "),
    (0x00201070, "IS", b"2.5 "),
    (0x00201200, "IS", b"   "),
    (0x00201202, "IS", b"12345678901234567890"),
    (0x00201204, "IS", b"abc "),
    (0x00201206, "IS", b"1\\\\2 "),
    (0x00201208, "IS", b"1\\ "),
    (0x00280030, "DS", b" 0.5\\.5 "),
    (0x00281050, "DS", b"1e3\\-2E-2 "),
    (0x00281051, "DS", b"nan "),
    (0x00281052, "DS", b"1_0 "),
    (0x00281053, "DS", b"5. "),
    (0x00181050, "DS", b"1\\\\2 "),
    (0x00181088, "DS", b"  "),
    (0x00080008, "CS", b"ORIGINAL\\PRIMARY\\ "),
    (0x00080060, "CS", b"\\"),
    (0x00180015, "CS", b"  "),
    (0x00080064, "CS", b"WSD\x00"),
    (0x00080020, "DA", b"20240101"),
    (0x00080030, "TM", b"101010.5 "),
    (0x0008002A, "DT", b"20240101101010 "),
    (0x00101010, "AS", b"030Y"),
    (0x00080054, "AE", b" AE1 \\AE2 "),
    (0x00080055, "AE", b"  "),
    (0x00081155, "UI", b"1.2.3\x00"),
    (0x00081150, "UI", b"1.2\\3.4 "),
    (0x00081190, "UR", b"http://example.com/a b  "),
    (0x00080120, "UR", b"http://x\\y"),
    (0x00100010, "PN", b"Doe^John "),
    (0x00100020, "LO", b" id \\x "),
    (0x00081070, "PN", b"Doe^John \\Smith\\"),
    (0x00081060, "PN", b"Yamada^Tarou=Yamada^T=yamada"),
    (0x00081050, "PN", b"="),
    (0x00081048, "PN", b"   "),
    (0x00080080, "LO", b"Hospital\\"),
    (0x00081030, "LO", b"  "),
    (0x0008103E, "LO", b"caf\xe9"),
    (0x00081010, "SH", b"A\x00"),
    (0x00204000, "LT", b" multi\\line\r\ntext \x00"),
    (0x00400280, "ST", b"   "),
    (0x00400441, "UT", b"x\\y"),
    (0x00080116, "UC", b"a\\b "),
    (0x00280010, "US", b"\x00\x02"),
    (0x00181310, "US", b"\x01\x00\x02\x00\x03\x00\x04\x00"),
    (0x00281101, "US", b"\x00\x01\x00\x00\x10\x00"),
    (0x00181611, "SS", b"\xff\xff"),
    (0x00181320, "FL", b"\x00\x00\xc0\x7f"),  # NaN
    (0x00189087, "FD", b"\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\xf0\x7f"),
    (0x00081160, "SL", b"\xff\xff\xff\xff"),
    (0x00189219, "UL", b"\x01\x00\x00\x00"),
    (0x00189306, "US", b"\x01\x00\x02"),  # odd length
    (0x00209165, "AT", b"\x08\x00\x18\x00\x10\x00\x10\x00"),
    (0x00209167, "AT", b"\x08\x00\x18"),
    (0x00660016, "OF", b"\x00\x00\x80\x3f"),
    (0x00640009, "OD", b"\x00" * 4096),
    (0x00660040, "OL", b"\x01\x00\x00\x00"),
    (0x00283010 & 0xFFFF0000 | 0x3006, "US", b"\x01\x00" * 600),  # VM 600: bulk
    (0x00091010, "LO", b"CREATOR "),
    (0x00091001, "UN", b"\x01\x02"),
    (0x00091000 | 0x0010, "LO", b"CREATOR"),
    (0x00100030, "UN", b"19700101"),  # UN with a dictionary VR: DA
    (0x00110010, "LO", b"ACME 1.1"),
    (0x00111001, "UN", b"text\\x "),
    (0x00280106, "US", b"\x10\x00"),
]


def _raw_dataset(values: list[tuple[int, str, bytes]], *, little_endian: bool) -> Dataset:
    dataset = Dataset()
    for tag, vr, value in values:
        dataset._dict[Tag(tag)] = RawDataElement(
            Tag(tag), vr, len(value), value, 0, False, little_endian
        )
    return dataset


@pytest.mark.parametrize(
    "transfer_syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian]
)
@pytest.mark.parametrize("charset", [None, "ISO_IR 100", "ISO_IR 192"])
def test_fast_path_edge_values_match_pydicom(
    tmp_path: Path, transfer_syntax: str, charset: str | None
) -> None:
    values = list(EDGE_VALUES)
    if charset is not None:
        values.append((0x00080005, "CS", charset.encode()))
    values = [(tag, vr, value + b" " * (len(value) % 2)) for tag, vr, value in values]
    little = transfer_syntax != ExplicitVRBigEndian
    dataset = _raw_dataset(values, little_endian=little)
    path = save_file(tmp_path, dataset, transfer_syntax)
    expected = reference_json(pydicom.dcmread(path), uri)
    assert dumps(to_dicom_json(deferred(path), uri)) == dumps(expected)


def test_pydicom_configuration_disables_the_fast_path(tmp_path: Path) -> None:
    path = save_file(
        tmp_path, _raw_dataset(EDGE_VALUES[:20], little_endian=True), ExplicitVRLittleEndian
    )
    expected = reference_json(pydicom.dcmread(path), uri)
    config.use_none_as_empty_text_VR_value = True
    try:
        expected_none = reference_json(pydicom.dcmread(path), uri)
        actual_none = to_dicom_json(deferred(path), uri)
    finally:
        config.use_none_as_empty_text_VR_value = False
    assert dumps(actual_none) == dumps(expected_none)
    assert dumps(to_dicom_json(deferred(path), uri)) == dumps(expected)


def test_iso_2022_and_multi_valued_charsets_match_pydicom(tmp_path: Path) -> None:
    japanese = (  # PS3.5 H.3.1: Yamada^Tarou=山田^太郎=やまだ^たろう in ISO 2022 IR 87
        b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B"
    )
    values = [
        (0x00080005, "CS", b"\\ISO 2022 IR 87"),
        (0x00100010, "PN", japanese),
        (0x00081030, "LO", b"\x1b$B;3ED\x1b(B"),
        (0x00080080, "LO", b"plain"),
    ]
    values = [(tag, vr, value + b" " * (len(value) % 2)) for tag, vr, value in values]
    path = save_file(tmp_path, _raw_dataset(values, little_endian=True), ExplicitVRLittleEndian)
    expected = reference_json(pydicom.dcmread(path), uri)
    actual = to_dicom_json(deferred(path), uri)
    assert dumps(actual) == dumps(expected)
    assert actual["00100010"]["Value"][0]["Ideographic"] == "山田^太郎"


def test_unconvertible_elements_are_left_out(tmp_path: Path) -> None:
    values = [(0x00201204, "IS", b"abc "), (0x00200013, "IS", b"12")]
    path = save_file(tmp_path, _raw_dataset(values, little_endian=True), ExplicitVRLittleEndian)
    result = to_dicom_json(deferred(path), uri)
    assert "00201204" not in result
    assert result["00200013"] == {"vr": "IS", "Value": [12]}


def test_implicit_vr_overlay_data_gets_a_valid_vr(tmp_path: Path) -> None:
    """pydicom leaves ``OB or OW`` for (60xx,3000); PS3.5 A.1 makes it OW in implicit VR."""
    values = [
        (0x60000010, "US", b"\x02\x00"),
        (0x60003000, "OW", b"\xff\x00"),
        (0x00281100, "US", b"\x00\x01\x00\x00\x10\x00"),  # US or SS, unknown to pydicom's fix
        (0x00280103, "US", b"\x00\x00"),
    ]
    path = save_file(tmp_path, _raw_dataset(values, little_endian=True), ImplicitVRLittleEndian)
    result = to_dicom_json(deferred(path), uri)
    assert result["60003000"] == {"vr": "OW", "BulkDataURI": "bulk:60003000"}
    assert result["00281100"] == {"vr": "US", "Value": [256, 0, 16]}
    assert dumps(result) == dumps(reference_json(pydicom.dcmread(path), uri))

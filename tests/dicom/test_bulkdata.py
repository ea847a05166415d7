"""Locating bulk data in the stored file, by BulkDataURI path (spec §4.5)."""

from __future__ import annotations

import warnings
from pathlib import Path
from struct import pack
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomstore.dicom.bulkdata import (
    bulk_data_locations,
    bulk_data_value,
    to_little_endian,
)
from dicomstore.dicom.json import to_dicom_json
from dicomstore.dicom.part10 import read_instance
from dicomstore.errors import InvalidArgument, NotFound
from tests.dicom.corpus import DATA_ROOT, corpus, corpus_id, element_at, write_file

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PACK = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d", "SV": "q", "UV": "Q"}


def _accepted(path: Path) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            read_instance(path)
        except Exception:
            return False
    return True


ACCEPTED = [path for path in corpus() if _accepted(path)]


def uri_paths(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if "BulkDataURI" in value:
            found.add(value["BulkDataURI"])
        for inner in value.values():
            found |= uri_paths(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= uri_paths(inner)
    return found


def expected_bytes(dataset: Dataset, path: str) -> bytes:
    element = element_at(dataset, path)
    value = element.value
    if isinstance(value, bytes):
        return value
    order = "<" if dataset.original_encoding[1] in (None, True) else ">"
    if element.VR == "AT":
        values = [value] if isinstance(value, int) else list(value)
        return pack(
            f"{order}{2 * len(values)}H", *[h for t in values for h in (t >> 16, t & 0xFFFF)]
        )
    values = [value] if isinstance(value, int | float) else list(value)
    return pack(f"{order}{len(values)}{PACK[element.VR]}", *values)


@pytest.mark.parametrize("path", ACCEPTED, ids=corpus_id)
@pytest.mark.parametrize("json_first", [False, True], ids=["fresh", "after-json"])
def test_every_bulk_data_uri_has_its_bytes(path: Path, json_first: bool) -> None:
    header = read_instance(path)
    paths = uri_paths(to_dicom_json(read_instance(path).dataset, lambda p: p))
    if json_first:  # the lead may convert, then locate, on one data set
        assert uri_paths(to_dicom_json(header.dataset, lambda p: p)) == paths
    locations = bulk_data_locations(header)
    full = pydicom.dcmread(path)
    if header.is_deflated:
        assert locations == {}
        for bulk_path in paths:
            assert bulk_data_value(header.dataset, bulk_path) == expected_bytes(full, bulk_path)
        return
    assert set(locations) == paths
    with path.open("rb") as file:
        for bulk_path, location in locations.items():
            file.seek(location.offset)
            assert file.read(location.length) == expected_bytes(full, bulk_path), bulk_path
            assert location.is_little_endian == (full.original_encoding[1] is not False) or (
                bulk_path.startswith("0002")
            )


@pytest.mark.parametrize("undefined_length", [False, True])
def test_bulk_data_inside_nested_sequences(tmp_path: Path, undefined_length: bool) -> None:
    inner = Dataset()
    inner.add_new(0x00420011, "OB", b"\x01\x02\x03\x04")
    inner.add_new(0x00660016, "OF", b"\x00\x00\x80\x3f" * 600)  # 2400 bytes: bulk
    middle = Dataset()
    middle.add_new(0x00081150, "UI", "1.2.3")
    middle.add_new(0x00081115, "SQ", Sequence([Dataset(), inner]))
    middle[0x00081115].is_undefined_length = not undefined_length  # mix both encodings
    path = write_file(
        tmp_path,
        [(0x00081110, "SQ", Sequence([middle])), (0x7FE00010, "OB", b"\x05\x06")],
        undefined_length=undefined_length,
    )
    dataset = pydicom.dcmread(path)
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    dataset.SOPInstanceUID = dataset.StudyInstanceUID = dataset.SeriesInstanceUID = "1.2.3.4"
    dataset.save_as(path)
    locations = bulk_data_locations(read_instance(path))
    assert set(locations) == {
        "00020001",
        "00081110/0/00081115/1/00420011",
        "00081110/0/00081115/1/00660016",
        "7FE00010",
    }
    content = path.read_bytes()
    nested = locations["00081110/0/00081115/1/00420011"]
    assert content[nested.offset : nested.offset + nested.length] == b"\x01\x02\x03\x04"
    floats = locations["00081110/0/00081115/1/00660016"]
    assert content[floats.offset : floats.offset + floats.length] == b"\x00\x00\x80\x3f" * 600


def test_encapsulated_pixel_data_location_is_its_items() -> None:
    path = DATA_ROOT / "test_files" / "examples_ybr_color.dcm"
    header = read_instance(path)
    location = bulk_data_locations(header)["7FE00010"]
    assert location.encapsulated
    assert header.pixel_data is not None
    assert (location.offset, location.length) == (
        header.pixel_data.offset,
        header.pixel_data.length,
    )


def test_big_endian_values_swap_to_little_endian() -> None:
    big = read_instance(DATA_ROOT / "test_files" / "MR_small_bigendian.dcm")
    location = bulk_data_locations(big)["7FE00010"]
    assert not location.is_little_endian
    with big.path.open("rb") as file:
        file.seek(location.offset)
        stored = file.read(location.length)
    little = pydicom.dcmread(DATA_ROOT / "test_files" / "MR_small.dcm").PixelData
    assert to_little_endian(stored, location.vr) == little
    assert to_little_endian(b"\x01\x02", "OB") == b"\x01\x02"
    assert to_little_endian(b"\x00\x00\x00\x01", "UL") == b"\x01\x00\x00\x00"


def test_bulk_data_value_errors() -> None:
    dataset = read_instance(DATA_ROOT / "test_files" / "image_dfl.dcm").dataset
    assert bulk_data_value(dataset, "7FE00010") == pydicom.dcmread(dataset.filename).PixelData
    with pytest.raises(NotFound):
        bulk_data_value(dataset, "00431028")
    with pytest.raises(InvalidArgument):
        bulk_data_value(dataset, "7FE0001")
    with pytest.raises(InvalidArgument):
        bulk_data_value(dataset, "7FE00010/0")

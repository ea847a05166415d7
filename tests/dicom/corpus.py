"""pydicom's bundled test files, and an independent reference for their DICOM JSON.

The reference reads each file whole (no deferred values) and converts it element by element with
pydicom's own ``DataElement.to_json_dict`` — the loop of ``Dataset.to_json_dict`` — then applies
Google's bulk data rules as the spec words them (``shared/spec/dicomweb-conformance.md`` §4.5),
written here again rather than imported, so that the module under test is checked against the
text and not against itself.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydicom
from pydicom.data import get_charset_files, get_testdata_files
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

DATA_ROOT = Path(os.path.dirname(pydicom.data.__file__))
TEST_FILES = DATA_ROOT / "test_files"

PIXEL_DATA = {0x7FE00008, 0x7FE00009, 0x7FE00010}
ALWAYS_BULK = {"OB", "OW", "UN"}
BULK_OVER_2_KIB = {"OD", "OF", "OL", "OV"}
BULK_OVER_512_VALUES = {"AT", "FD", "FL", "UL", "US", "SV", "UV"}
MAX_SEQUENCE = 1024 * 1024


def corpus() -> list[Path]:
    """Every file of pydicom's test data (and its character set files) present on disk."""
    names = get_testdata_files() + get_charset_files()
    return sorted(path for path in map(Path, names) if path.is_file())


def corpus_id(path: Path) -> str:
    return str(path.relative_to(DATA_ROOT))


def readable(path: Path) -> bool:
    """Whether pydicom reads ``path`` as a Part 10 file at all."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            return False
    return True


def reference_json(
    dataset: Dataset,
    bulk_data_uri: Callable[[str], str] | None,
    *,
    google_rules: bool = True,
) -> dict[str, Any]:
    """The expected DICOM JSON of a fully loaded ``dataset`` and its file meta.

    With ``google_rules=False`` this is plain pydicom (no bulk data, every sequence, ambiguous
    VRs as pydicom leaves them), which must equal ``Dataset.to_json_dict()``.
    """
    out: dict[str, Any] = {}
    file_meta = getattr(dataset, "file_meta", None)
    if file_meta is not None:
        _dataset(file_meta, "", out, bulk_data_uri, google_rules, top=False)
    _dataset(dataset, "", out, bulk_data_uri, google_rules, top=google_rules)
    return out


def _dataset(
    dataset: Dataset,
    prefix: str,
    out: dict[str, Any],
    bulk_data_uri: Callable[[str], str] | None,
    google_rules: bool,
    *,
    top: bool,
) -> None:
    skip_existing = bool(out)
    for tag in list(dataset.keys()):
        key = f"{tag:08X}"
        if skip_existing and key in out:
            continue
        try:
            element = dataset[tag]
        except Exception:
            continue
        path = prefix + key
        if element.VR == "SQ":
            if top and _encoded_length(dataset, element) > MAX_SEQUENCE:
                continue
            items = []
            for index, item in enumerate(element.value):
                item_out: dict[str, Any] = {}
                _dataset(item, f"{path}/{index}/", item_out, bulk_data_uri, google_rules, top=False)
                items.append(item_out)
            out[key] = {"vr": "SQ", "Value": items}
            continue
        if google_rules:
            vr, values = _unambiguous(dataset, element)
            if _is_bulk(element, vr, values):
                if bulk_data_uri is not None:
                    out[key] = {"vr": vr, "BulkDataURI": bulk_data_uri(path)}
                continue
            if vr != element.VR:
                out[key] = {"vr": vr, "Value": values} if values else {"vr": vr}
                continue
        try:
            out[key] = element.to_json_dict(None, 0)
        except Exception:
            continue


def _unambiguous(dataset: Dataset, element: DataElement) -> tuple[str, list[int]]:
    """VRs pydicom leaves ambiguous: OW, or US/SS by Pixel Representation (with values)."""
    if " or " not in element.VR:
        return element.VR, []
    if element.VR != "US or SS":
        return "OW", []
    signed = dataset.get("PixelRepresentation") == 1
    value = element.value
    if isinstance(value, bytes):
        size = len(value) // 2 * 2
        order = "<" if dataset.original_encoding[1] in (None, True) else ">"
        values = list(struct.unpack(f"{order}{size // 2}{'h' if signed else 'H'}", value[:size]))
    else:
        values = [value] if isinstance(value, int) else list(value or [])
    return ("SS" if signed else "US"), values


def _is_bulk(element: DataElement, vr: str, values: list[int]) -> bool:
    if element.is_empty:
        return False
    if element.tag in PIXEL_DATA or vr in ALWAYS_BULK:
        return True
    if vr in BULK_OVER_2_KIB:
        return len(element.value) > 2048
    if vr in BULK_OVER_512_VALUES:
        return (len(values) if values else element.VM) > 512
    return False


def _encoded_length(dataset: Dataset, element: DataElement) -> int:
    buffer = DicomBytesIO()
    implicit, little = dataset.original_encoding
    buffer.is_implicit_VR = bool(implicit)
    buffer.is_little_endian = little is None or bool(little)
    write_data_element(buffer, element)
    return len(buffer.getvalue()) - (8 if implicit else 12)


def element_at(dataset: Dataset, path: str) -> DataElement:
    """The element at a BulkDataURI path of a fully loaded data set."""
    parts = path.split("/")
    current = dataset
    for index in range(0, len(parts) - 1, 2):
        current = current[int(parts[index], 16)].value[int(parts[index + 1])]
    if parts[-1].startswith("0002"):
        return (
            current.file_meta[int(parts[-1], 16)]
            if current is dataset
            else current[int(parts[-1], 16)]
        )
    return current[int(parts[-1], 16)]


# -- files for tests ---------------------------------------------------------------------------


def write_file(
    tmp_path: Path, elements: list[tuple[int, str, Any]], *, undefined_length: bool = False
) -> Path:
    dataset = Dataset()
    for tag, vr, value in elements:
        dataset.add_new(tag, vr, value)
        if vr == "SQ":
            dataset[tag].is_undefined_length = undefined_length
            for item in value:
                item.is_undefined_length_sequence_item = undefined_length
    return save_file(tmp_path, dataset, ExplicitVRLittleEndian)


def save_file(tmp_path: Path, dataset: Dataset, transfer_syntax: str) -> Path:
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.7")
    dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    path = tmp_path / f"{generate_uid()}.dcm"
    dataset.save_as(path, enforce_file_format=True)
    return path


def pydicom_frames(dataset: Dataset) -> list[bytes]:
    """Each frame's bytes as stored, as pydicom finds them: the reference for frame ranges."""
    count = int(dataset.get("NumberOfFrames") or 1)
    if dataset.file_meta.TransferSyntaxUID.is_encapsulated:
        extended = None
        if "ExtendedOffsetTable" in dataset and "ExtendedOffsetTableLengths" in dataset:
            extended = (dataset.ExtendedOffsetTable, dataset.ExtendedOffsetTableLengths)
        return list(
            generate_frames(dataset.PixelData, number_of_frames=count, extended_offsets=extended)
        )
    tag = next(tag for tag in (0x7FE00010, 0x7FE00008, 0x7FE00009) if tag in dataset)
    pixels = dataset[tag].value
    length = get_expected_length(dataset, "bytes") // count
    return [pixels[index * length : (index + 1) * length] for index in range(count)]


def with_unknown_transfer_syntax(data: bytes) -> bytes:
    """A Part 10 file in Explicit VR Little Endian, its Transfer Syntax UID replaced by one of
    the same length that names no transfer syntax."""
    known = ExplicitVRLittleEndian.encode() + b"\0"
    assert data.count(known) == 1
    return data.replace(known, b"1.2.3.4.5.6.7.8.9.10")

"""Reading Part 10 headers and locating frames (PS3.10 §7, PS3.5 §8.1.1 and Annex A.4)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from dicomstore.dicom.frames import (
    FrameRanges,
    bit_packed_frame_range,
    extract_bit_packed_frame,
)
from dicomstore.dicom.part10 import DEFER_SIZE, InstanceHeader, read_instance
from dicomstore.errors import InvalidArgument
from tests.dicom.corpus import (
    DATA_ROOT,
    TEST_FILES,
    corpus,
    corpus_id,
    pydicom_frames,
    with_unknown_transfer_syntax,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# Why each of pydicom's bundled test files is refused: fragment of the InvalidArgument message.
REFUSED = {
    "test_files/rtstruct.dcm": "preamble",  # no file meta (PS3.10 7.1)
    "test_files/no_meta.dcm": "preamble",
    "test_files/ExplVR_LitEndNoMeta.dcm": "preamble",
    "test_files/ExplVR_BigEndNoMeta.dcm": "preamble",
    "test_files/meta_missing_tsyntax.dcm": "TransferSyntaxUID",
    "test_files/MR_truncated.dcm": "truncated",
    "test_files/rtplan_truncated.dcm": "truncated",
    "test_files/JPEGLSNearLossless_08.dcm": "StudyInstanceUID",
    "test_files/JPEGLSNearLossless_16.dcm": "StudyInstanceUID",
    "test_files/SC_rgb_jls_lossy_line.dcm": "StudyInstanceUID",
    "test_files/SC_rgb_jls_lossy_sample.dcm": "StudyInstanceUID",
    "test_files/UN_sequence.dcm": "StudyInstanceUID",
    "test_files/no_meta_group_length.dcm": "StudyInstanceUID",
    "test_files/nested_priv_SQ.dcm": "StudyInstanceUID",
    "test_files/priv_SQ.dcm": "StudyInstanceUID",
    "test_files/empty_charset_LEI.dcm": "StudyInstanceUID",
    "charset_files/chrSQEncoding.dcm": "StudyInstanceUID",
    "charset_files/chrSQEncoding1.dcm": "StudyInstanceUID",
    # DICOMDIRs (Media Storage Directory Storage) are not composite instances.
    "test_files/dicomdirtests/DICOMDIR": "StudyInstanceUID",
    "test_files/dicomdirtests/DICOMDIR-bigEnd": "StudyInstanceUID",
    "test_files/dicomdirtests/DICOMDIR-empty.dcm": "StudyInstanceUID",
    "test_files/dicomdirtests/DICOMDIR-implicit": "StudyInstanceUID",
    "test_files/dicomdirtests/DICOMDIR-nooffset": "StudyInstanceUID",
    "test_files/dicomdirtests/DICOMDIR-nopatient": "StudyInstanceUID",
    "test_files/dicomdirtests/DICOMDIR-reordered": "StudyInstanceUID",
    "test_files/dicomdirtests/TINY_ALPHA/DICOMDIR": "StudyInstanceUID",
}
NOT_DICOM_SUFFIXES = (".txt", ".json", ".dump", ".gz", ".icc", "README")


def _read(path: Path) -> InstanceHeader | None:
    with warnings.catch_warnings():  # collection time: the marks above do not apply yet
        warnings.simplefilter("ignore")
        try:
            return read_instance(path)
        except InvalidArgument:
            return None


HEADERS = {path: _read(path) for path in corpus()}
ACCEPTED = [path for path, header in HEADERS.items() if header is not None]
WITH_PIXELS = [path for path in ACCEPTED if HEADERS[path].pixel_data is not None]  # type: ignore[union-attr]


@pytest.mark.parametrize("path", sorted(HEADERS), ids=corpus_id)
def test_refusals_are_the_expected_ones(path: Path) -> None:
    name = corpus_id(path)
    if HEADERS[path] is not None:
        assert name not in REFUSED
        return
    with pytest.raises(InvalidArgument) as raised:
        read_instance(path)
    if name.endswith(NOT_DICOM_SUFFIXES):
        assert "not a DICOM Part 10 file" in raised.value.message
    elif name in REFUSED:
        assert REFUSED[name] in raised.value.message
    else:
        pytest.fail(f"{name} is refused: {raised.value.message}")


@pytest.mark.parametrize("path", ACCEPTED, ids=corpus_id)
def test_header_identifies_the_instance(path: Path) -> None:
    header = read_instance(path)
    full = pydicom.dcmread(path)
    assert header.study_instance_uid == full.StudyInstanceUID
    assert header.series_instance_uid == full.SeriesInstanceUID
    assert header.sop_instance_uid == full.SOPInstanceUID
    assert header.sop_class_uid == full.SOPClassUID
    assert header.transfer_syntax_uid == full.file_meta.TransferSyntaxUID
    assert header.dataset.file_meta.TransferSyntaxUID == header.transfer_syntax_uid
    assert header.file_size == path.stat().st_size
    assert (header.pixel_data is None) == (header.number_of_frames == 0)


@pytest.mark.parametrize("path", WITH_PIXELS, ids=corpus_id)
def test_frame_ranges_hold_pydicom_frames(path: Path) -> None:
    header = read_instance(path)
    full = pydicom.dcmread(path)
    if header.frames is None:
        # The two files of the corpus without frame ranges: a deflated one (image_dfl.dcm) and
        # one whose Number of Frames is "1A" (badVR.dcm).
        assert header.frames_unavailable
        if UID(header.transfer_syntax_uid).is_deflated:
            assert "deflated" in header.frames_unavailable
        else:
            assert "Number of Frames '1A'" in header.frames_unavailable
        return
    assert header.frames_unavailable is None
    assert len(header.frames) == header.number_of_frames
    assert [_read_frame(path, frame) for frame in header.frames] == pydicom_frames(full)


@pytest.mark.parametrize("path", WITH_PIXELS, ids=corpus_id)
def test_pixel_data_value_matches_the_element(path: Path) -> None:
    header = read_instance(path)
    assert header.pixel_data is not None
    if header.is_deflated:
        return
    full = pydicom.dcmread(path)
    value = full[header.pixel_data.tag].value
    assert _read_range(path, header.pixel_data.offset, header.pixel_data.length) == value
    assert header.pixel_data.encapsulated == UID(header.transfer_syntax_uid).is_encapsulated


@pytest.mark.parametrize(
    ("name", "defer_size"),
    [
        ("CT_small.dcm", DEFER_SIZE),  # native
        ("examples_ybr_color.dcm", DEFER_SIZE),  # encapsulated, 30 frames
        ("rtdose.dcm", 1024),  # implicit VR, 15 frames
    ],
)
def test_large_values_stay_on_disk(name: str, defer_size: int) -> None:
    header = read_instance(TEST_FILES / name, defer_size=defer_size)
    raw = header.dataset._dict[pydicom.tag.Tag(0x7FE00010)]
    assert isinstance(raw, RawDataElement)
    assert raw.value is None  # deferred: larger than DEFER_SIZE
    assert header.frames


def test_elements_after_pixel_data_are_seen() -> None:
    header = read_instance(TEST_FILES / "CT_small.dcm")
    assert 0xFFFCFFFC in header.dataset  # Data Set Trailing Padding


# -- synthetic encapsulated and native layouts ---------------------------------------------------


def _frames(count: int, size: int = 100) -> list[bytes]:
    return [bytes([index + 1]) * (size - 2) + b"\xff\xd9" for index in range(count)]


def test_extended_offset_table(tmp_path: Path) -> None:
    frames = _frames(3)
    data, offsets, lengths = encapsulate_extended(frames)
    path = _image(tmp_path, data, JPEGBaseline8Bit, frames=3, extended_offsets=(offsets, lengths))
    header = read_instance(path)
    assert header.frames is not None
    assert all(len(frame) == 1 for frame in header.frames)
    assert [_read_frame(path, frame) for frame in header.frames] == frames


@pytest.mark.parametrize("has_bot", [True, False])
def test_frames_of_several_fragments(tmp_path: Path, has_bot: bool) -> None:
    frames = _frames(3, size=300)
    data = encapsulate(frames, fragments_per_frame=3, has_bot=has_bot)
    path = _image(tmp_path, data, JPEGBaseline8Bit, frames=3)
    header = read_instance(path)
    assert header.frames is not None
    assert [len(frame) for frame in header.frames] == [3, 3, 3]
    assert [_read_frame(path, frame) for frame in header.frames] == frames
    expected = list(generate_frames(pydicom.dcmread(path).PixelData, number_of_frames=3))
    assert [_read_frame(path, frame) for frame in header.frames] == expected


def test_one_frame_in_several_fragments(tmp_path: Path) -> None:
    data = encapsulate([b"\x01" * 400], fragments_per_frame=4, has_bot=False)
    path = _image(tmp_path, data, JPEGBaseline8Bit, frames=1)
    header = read_instance(path)
    assert header.frames is not None
    assert len(header.frames) == 1
    assert len(header.frames[0]) == 4
    assert _read_frame(path, header.frames[0]) == b"\x01" * 400


def test_one_fragment_per_frame_without_offsets(tmp_path: Path) -> None:
    frames = [b"\x01\x02" * 10, b"\x03\x04" * 20]
    path = _image(tmp_path, encapsulate(frames, has_bot=False), RLELossless, frames=2)
    header = read_instance(path)
    assert header.frames is not None
    assert [_read_frame(path, frame) for frame in header.frames] == frames


def test_fewer_fragments_than_frames_have_no_ranges(tmp_path: Path) -> None:
    path = _image(tmp_path, encapsulate(_frames(2), has_bot=False), JPEGBaseline8Bit, frames=3)
    header = read_instance(path)
    assert header.frames is None
    assert header.frames_unavailable is not None
    assert "2 fragments for 3 frames" in header.frames_unavailable


def test_offset_table_that_disagrees_with_frames_has_no_ranges(tmp_path: Path) -> None:
    path = _image(tmp_path, encapsulate(_frames(2), has_bot=True), JPEGBaseline8Bit, frames=3)
    header = read_instance(path)
    assert header.frames is None
    assert "Basic Offset Table gives 2 frames" in str(header.frames_unavailable)


def test_malformed_encapsulation_is_invalid(tmp_path: Path) -> None:
    data = encapsulate(_frames(1), has_bot=False)
    broken = data[:8] + b"\x10\x00\x10\x00" + data[12:]  # not an item tag
    path = _image(tmp_path, broken, JPEGBaseline8Bit, frames=1)
    with pytest.raises(InvalidArgument, match="encapsulated Pixel Data"):
        read_instance(path)


def test_bit_packed_frames(tmp_path: Path) -> None:
    # 3x3 1-bit frames: 9 bits each, so frames 2 and 3 start inside a byte.
    bits = [1, 0, 1, 1, 0, 0, 1, 1, 1] + [0, 1, 1, 0, 1, 0, 0, 0, 1] + [1] * 9
    packed = int("".join(str(bit) for bit in reversed(bits)), 2).to_bytes(4, "little")
    path = _image(
        tmp_path, packed, ExplicitVRLittleEndian, frames=3, rows=3, columns=3, bits_allocated=1
    )
    header = read_instance(path)
    assert header.frames is None
    assert "packed across byte boundaries" in str(header.frames_unavailable)
    assert header.frame_bits == 9
    assert header.pixel_data is not None
    for index in range(3):
        offset, length, first_bit = bit_packed_frame_range(
            header.pixel_data.offset, header.frame_bits, index
        )
        frame = extract_bit_packed_frame(_read_range(path, offset, length), first_bit, 9)
        expected = bits[index * 9 : index * 9 + 9]
        assert int.from_bytes(frame, "little") == int(
            "".join(str(bit) for bit in reversed(expected)), 2
        )


def test_native_pixel_data_too_short_has_no_ranges(tmp_path: Path) -> None:
    path = _image(tmp_path, b"\x00" * 100, ExplicitVRLittleEndian, frames=2, rows=10, columns=10)
    header = read_instance(path)
    assert header.frames is None
    assert "holds 100 bytes" in str(header.frames_unavailable)


def test_unreadable_number_of_frames_has_no_ranges() -> None:
    header = read_instance(DATA_ROOT / "test_files" / "badVR.dcm")
    assert header.frames is None
    assert "Number of Frames '1A'" in str(header.frames_unavailable)


# -- refusals ----------------------------------------------------------------------------------


def test_non_dicom_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("not DICOM at all, but long enough to hold a preamble? " * 10)
    with pytest.raises(InvalidArgument, match="not a DICOM Part 10 file"):
        read_instance(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    with pytest.raises(InvalidArgument):
        read_instance(path)


def test_missing_file_is_not_an_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_instance(tmp_path / "absent.dcm")


@pytest.mark.parametrize(
    "keyword", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"]
)
def test_missing_uid_is_named(tmp_path: Path, keyword: str) -> None:
    dataset = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    delattr(dataset, keyword)
    path = tmp_path / "instance.dcm"
    dataset.save_as(path)
    with pytest.raises(InvalidArgument, match=keyword):
        read_instance(path)


def test_empty_uid_is_named(tmp_path: Path) -> None:
    dataset = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    dataset.SeriesInstanceUID = ""
    path = tmp_path / "instance.dcm"
    dataset.save_as(path)
    with pytest.raises(InvalidArgument, match="SeriesInstanceUID"):
        read_instance(path)


def test_unknown_transfer_syntax_is_refused(tmp_path: Path) -> None:
    """A Transfer Syntax UID that names no transfer syntax leaves the encoding unknown."""
    path = tmp_path / "instance.dcm"
    path.write_bytes(with_unknown_transfer_syntax((TEST_FILES / "CT_small.dcm").read_bytes()))
    with pytest.raises(InvalidArgument, match=r"TransferSyntaxUID 1\.2\.3\.4\.5\.6\.7\.8\.9\.10 "):
        read_instance(path)


def test_truncated_pixel_data_is_refused(tmp_path: Path) -> None:
    source = TEST_FILES / "CT_small.dcm"
    path = tmp_path / "truncated.dcm"
    shutil.copyfile(source, path)
    with path.open("r+b") as file:
        file.truncate(source.stat().st_size - 5000)
    with pytest.raises(InvalidArgument, match="truncated"):
        read_instance(path)


def test_truncated_encapsulated_pixel_data_is_refused(tmp_path: Path) -> None:
    path = _image(tmp_path, encapsulate(_frames(2, size=400)), JPEGBaseline8Bit, frames=2)
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size - 300)
    with pytest.raises(InvalidArgument):
        read_instance(path)


# -- helpers -----------------------------------------------------------------------------------


def _read_range(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read(length)


def _read_frame(path: Path, frame: FrameRanges) -> bytes:
    return b"".join(_read_range(path, offset, length) for offset, length in frame)


def _image(
    tmp_path: Path,
    pixel_data: bytes,
    transfer_syntax: str,
    *,
    frames: int,
    rows: int = 10,
    columns: int = 10,
    bits_allocated: int = 8,
    extended_offsets: tuple[bytes, bytes] | None = None,
) -> Path:
    dataset = Dataset()
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    dataset.SOPInstanceUID = generate_uid()
    dataset.StudyInstanceUID = generate_uid()
    dataset.SeriesInstanceUID = generate_uid()
    dataset.Rows = rows
    dataset.Columns = columns
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = bits_allocated
    dataset.BitsStored = bits_allocated
    dataset.HighBit = bits_allocated - 1
    dataset.PixelRepresentation = 0
    dataset.NumberOfFrames = frames
    if extended_offsets is not None:
        dataset.ExtendedOffsetTable, dataset.ExtendedOffsetTableLengths = extended_offsets
    dataset.PixelData = pixel_data
    encapsulated = UID(transfer_syntax).is_encapsulated
    dataset["PixelData"].VR = "OB"
    dataset["PixelData"].is_undefined_length = encapsulated
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    path = tmp_path / f"{dataset.SOPInstanceUID}.dcm"
    dataset.save_as(path, enforce_file_format=True)
    return path

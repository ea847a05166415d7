"""The one-pass header scan against the reference path it replaces when it can.

The reference is what ingest does without it: ``read_instance``, then ``to_dicom_json`` of its
data set and ``bulk_data_locations``. For every file, ``scan_instance`` either says "not covered"
(``None``) or gives exactly the same UIDs, frames, DICOM JSON (same key order, same JSON types)
and bulk data locations. The files: pydicom's test files (as they are, and re-encoded in implicit
VR and with undefined-length sequences), the shared test data, instances like the benchmark
corpus (CT slices, Enhanced CT with functional groups), and files made to hit each case the scan
refuses.
"""

from __future__ import annotations

import io
import json
import mmap
import struct
import warnings
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import config
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, encapsulate_extended
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    AllTransferSyntaxes,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from dicomstore.dicom import header_scan
from dicomstore.dicom.bulkdata import BulkDataLocation, bulk_data_locations
from dicomstore.dicom.header_scan import ScannedInstance, describe_file, scan_instance
from dicomstore.dicom.json import MAX_SEQUENCE_LENGTH, to_dicom_json
from dicomstore.dicom.part10 import DEFER_SIZE, InstanceHeader, read_instance
from tests.dicom.corpus import TEST_FILES, corpus, corpus_id, readable
from tests.test_public_api import _defined_public_names

# pydicom warns about the many invalid values its test files carry on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
READABLE = [path for path in corpus() if readable(path)]
ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"
NATIVE = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def uri(study: str, series: str, sop: str, path: str) -> str:
    return f"studies/{study}/series/{series}/instances/{sop}/bulkdata/{path}"


Reference = tuple[InstanceHeader, dict[str, Any], dict[str, BulkDataLocation]]


def reference(path: Path) -> Reference | None:
    """What ingest gets without the scan, ``None`` when it refuses the file."""
    try:
        header = read_instance(path)
    except Exception:
        return None
    uids = (header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid)
    metadata = to_dicom_json(header.dataset, partial(uri, *uids))
    return header, metadata, bulk_data_locations(header)


def check(path: Path) -> ScannedInstance | None:
    """Scan ``path``; when covered, assert that every field equals the reference's."""
    scanned = scan_instance(path.read_bytes(), uri)
    if scanned is None:
        return None
    expected = reference(path)
    assert expected is not None, "covers a file the reference path refuses"
    assert_same(scanned, expected)
    return scanned


def assert_same(scanned: ScannedInstance, expected: Reference) -> None:
    header, metadata, bulk_data = expected
    for name in (
        "study_instance_uid",
        "series_instance_uid",
        "sop_instance_uid",
        "sop_class_uid",
        "transfer_syntax_uid",
        "file_size",
        "pixel_data",
        "number_of_frames",
        "frames",
        "frames_unavailable",
        "frame_bits",
    ):
        assert getattr(scanned, name) == getattr(header, name), name
    # Order-sensitive, int/float-sensitive and NaN-safe (NaN != NaN in a dict comparison).
    assert json.dumps(scanned.metadata) == json.dumps(metadata)
    assert list(scanned.bulk_data.items()) == list(bulk_data.items())


def write(tmp_path: Path, data: bytes, name: str = "instance.dcm") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def part10(dataset: Dataset, transfer_syntax: str = ExplicitVRLittleEndian) -> bytes:
    if not hasattr(dataset, "file_meta"):
        dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def instance(**attributes: Any) -> Dataset:
    """A small Secondary Capture data set: the UIDs ingest requires, then ``attributes``."""
    dataset = Dataset()
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    dataset.SOPInstanceUID = generate_uid()
    dataset.StudyInstanceUID = generate_uid()
    dataset.SeriesInstanceUID = generate_uid()
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return dataset


def undefined_lengths(dataset: Dataset, undefined: bool) -> None:
    for element in dataset.iterall():
        if element.VR == "SQ":
            element.is_undefined_length = undefined
            for item in element.value:
                item.is_undefined_length_sequence_item = undefined


def test_all_is_exact() -> None:
    assert sorted(header_scan.__all__) == sorted(_defined_public_names(header_scan))


# -- the corpora ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", corpus(), ids=corpus_id)
def test_pydicom_test_files(path: Path) -> None:
    check(path)


@pytest.mark.parametrize("path", corpus(), ids=corpus_id)
def test_describe_file_gives_the_reference_scanned_or_not(path: Path) -> None:
    expected = reference(path)
    if expected is None:
        with pytest.raises(Exception) as refused:
            read_instance(path)
        with pytest.raises(type(refused.value)):
            describe_file(path, uri)
        return
    assert_same(describe_file(path, uri), expected)


def test_describe_file_scans_a_covered_file_without_pydicom(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reference test above would pass if describe_file always fell back: cut the fallback.
    path = TEST_FILES / "CT_small.dcm"
    expected = reference(path)
    assert expected is not None

    def refused(_path: Path) -> None:
        raise AssertionError("a covered file went through read_instance")

    monkeypatch.setattr(header_scan, "read_instance", refused)
    assert_same(describe_file(path, uri), expected)


def reencoded(path: Path) -> Iterator[tuple[str, bytes]]:
    """``path`` written again: implicit VR (native syntaxes), defined and undefined lengths."""
    transfer_syntax = pydicom.dcmread(path).file_meta.get("TransferSyntaxUID")
    if transfer_syntax not in AllTransferSyntaxes:
        return
    if transfer_syntax.is_deflated or not transfer_syntax.is_little_endian:
        return
    syntaxes = NATIVE if transfer_syntax in NATIVE else (transfer_syntax,)
    for syntax in syntaxes:
        for undefined in (False, True):
            dataset = pydicom.dcmread(path)
            undefined_lengths(dataset, undefined)
            dataset.file_meta.TransferSyntaxUID = syntax
            buffer = io.BytesIO()
            try:
                dataset.save_as(buffer, enforce_file_format=True)
            except Exception:  # values pydicom cannot write in this encoding
                continue
            yield (
                f"{UID(syntax).name}, {'un' if undefined else ''}defined lengths",
                buffer.getvalue(),
            )


@pytest.mark.parametrize("path", READABLE, ids=corpus_id)
def test_pydicom_test_files_reencoded(tmp_path: Path, path: Path) -> None:
    for variant, data in reencoded(path):
        try:
            check(write(tmp_path, data))
        except AssertionError as error:
            raise AssertionError(f"{variant}: {error}") from error


@pytest.mark.parametrize(
    "path",
    sorted(SHARED_DATA.rglob("*.dcm")) if SHARED_DATA.is_dir() else [],
    ids=lambda path: str(path.relative_to(SHARED_DATA)),
)
def test_shared_test_data(path: Path) -> None:
    scanned = check(path)
    if path.name in {"0_ORIGINAL_compressed.dcm", "2_ORIGINAL.dcm", "RGB_ORIGINAL.dcm"}:
        assert scanned is not None  # RLE Lossless, implicit VR with private groups, RGB


def test_most_little_endian_files_are_covered() -> None:
    counts: Counter[tuple[str, bool]] = Counter()
    for path in corpus():
        expected = reference(path)
        if expected is None:
            continue
        kind = {ImplicitVRLittleEndian: "implicit", ExplicitVRLittleEndian: "explicit"}.get(
            UID(expected[0].transfer_syntax_uid), "other"
        )
        counts[kind, scan_instance(path.read_bytes(), uri) is not None] += 1
    print(
        {
            f"{kind} {'covered' if covered else 'fallback'}": n
            for (kind, covered), n in counts.items()
        }
    )
    for kind in ("explicit", "implicit"):
        covered, fallback = counts[kind, True], counts[kind, False]
        assert covered >= 4 * fallback, (kind, covered, fallback)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm"])
def test_pydicom_ct_and_mr_are_covered(name: str) -> None:
    assert check(Path(str(get_testdata_file(name)))) is not None


# -- instances like the benchmark corpus (benchmarks/_workload.py) ------------------------------


def ct_slice(transfer_syntax: str, size: int = 512) -> bytes:
    """CT_small's header made a 512x512 slice, Pixel Data appended after the trailing padding."""
    dataset = pydicom.dcmread(str(get_testdata_file("CT_small.dcm")))
    del dataset.PixelData
    dataset.Rows = dataset.Columns = size
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 12, 11
    dataset.PixelRepresentation = 1
    dataset.PixelSpacing = [0.7, 0.7]
    dataset.RescaleIntercept, dataset.RescaleSlope = -1024, 1
    dataset.WindowCenter, dataset.WindowWidth = 40, 400
    dataset.PixelPaddingValue = -2000  # US or SS: SS by Pixel Representation
    dataset.ImagePositionPatient = [-179.2, -179.2, -12.5]
    dataset.SliceLocation = -12.5
    pixels = bytes(range(256)) * (size * size * 2 // 256)
    if transfer_syntax == ImplicitVRLittleEndian:
        header = struct.pack("<HHI", 0x7FE0, 0x0010, len(pixels))
    else:
        header = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, len(pixels))
    return part10(dataset, transfer_syntax) + header + pixels


def enhanced_ct(frames: int, *, undefined: bool = False, size: int = 64) -> bytes:
    """An Enhanced CT instance with shared and per-frame functional groups."""
    dataset = instance(
        SOPClassUID=ENHANCED_CT,
        SpecificCharacterSet="ISO_IR 100",
        ImageType=["ORIGINAL", "PRIMARY", "AXIAL", "NONE"],
        StudyDate="20230109",
        AcquisitionDateTime="20230109101500",
        Modality="CT",
        ReferringPhysicianName="Referrer^R0",
        PatientName="Doe^Enhanced",
        PatientID="PAT-ENHANCED",
        InstanceNumber=1,
        PositionReferenceIndicator="",
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        NumberOfFrames=frames,
        Rows=size,
        Columns=size,
        BitsAllocated=16,
        BitsStored=12,
        HighBit=11,
        PixelRepresentation=0,
    )
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([instance_item(PixelSpacing=[0.7, 0.7])])
    shared.PlaneOrientationSequence = Sequence(
        [instance_item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]
    )
    shared.PixelValueTransformationSequence = Sequence(
        [instance_item(RescaleIntercept=-1024, RescaleSlope=1, RescaleType="HU")]
    )
    dataset.SharedFunctionalGroupsSequence = Sequence([shared])
    dataset.PerFrameFunctionalGroupsSequence = Sequence(
        [
            instance_item(
                FrameContentSequence=Sequence(
                    [instance_item(StackID="1", InStackPositionNumber=frame + 1)]
                ),
                PlanePositionSequence=Sequence(
                    [instance_item(ImagePositionPatient=[-179.2, -179.2, -1.25 * frame])]
                ),
            )
            for frame in range(frames)
        ]
    )
    undefined_lengths(dataset, undefined)
    pixels = bytes(size * size * 2 * frames)
    header = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, len(pixels))
    return part10(dataset) + header + pixels


def instance_item(**values: Any) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


@pytest.mark.parametrize("transfer_syntax", NATIVE, ids=lambda uid: UID(uid).name)
def test_ct_slice_is_covered(tmp_path: Path, transfer_syntax: str) -> None:
    scanned = check(write(tmp_path, ct_slice(transfer_syntax)))
    assert scanned is not None
    assert scanned.frames is not None and len(scanned.frames) == 1
    assert scanned.metadata["00280120"] == {"vr": "SS", "Value": [-2000]}


@pytest.mark.parametrize(
    ("frames", "undefined"),
    [(50, False), (50, True), (120, False)],  # 120: a top-level sequence pydicom defers
)
def test_enhanced_ct_is_covered(tmp_path: Path, frames: int, undefined: bool) -> None:
    data = enhanced_ct(frames, undefined=undefined)
    scanned = check(write(tmp_path, data))
    assert scanned is not None
    assert scanned.number_of_frames == frames
    assert scanned.frames is not None and len(scanned.frames) == frames
    per_frame = scanned.metadata["52009230"]["Value"]
    assert len(per_frame) == frames
    assert per_frame[-1]["00209111"]["Value"][0]["00209057"] == {"vr": "UL", "Value": [frames]}
    if not undefined and frames == 120:
        assert struct.unpack_from("<I", data, data.index(b"\x00\x52\x30\x92") + 8)[0] > DEFER_SIZE


def test_buffers_of_every_kind_give_the_same_result(tmp_path: Path) -> None:
    path = write(tmp_path, ct_slice(ExplicitVRLittleEndian))
    expected = check(path)
    data = path.read_bytes()
    assert scan_instance(bytearray(data), uri) == expected
    assert scan_instance(memoryview(data), uri) == expected
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert scan_instance(mapped, uri) == expected
        view = memoryview(mapped)
        assert scan_instance(view, uri) == expected
        view.release()


# -- encapsulated Pixel Data ---------------------------------------------------------------------


def fragments(count: int, size: int = 100) -> list[bytes]:
    return [bytes([index % 255 + 1]) * (size - 2) + b"\xff\xd9" for index in range(count)]


def encapsulated(pixel_data: bytes, transfer_syntax: str, frames: int, **attributes: Any) -> bytes:
    dataset = instance(
        Rows=10,
        Columns=10,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
        PixelRepresentation=0,
        NumberOfFrames=frames,
        **attributes,
    )
    dataset.PixelData = pixel_data
    dataset["PixelData"].VR = "OB"
    dataset["PixelData"].is_undefined_length = True
    return part10(dataset, transfer_syntax)


@pytest.mark.parametrize(
    ("pixel_data", "frames"),
    [
        (encapsulate(fragments(3), has_bot=True), 3),
        (encapsulate(fragments(3, 300), fragments_per_frame=3, has_bot=True), 3),
        (encapsulate(fragments(3, 300), fragments_per_frame=3, has_bot=False), 3),  # JPEG EOI
        (encapsulate([b"\x01" * 400], fragments_per_frame=4, has_bot=False), 1),
        (encapsulate(fragments(2), has_bot=False), 3),  # no frame ranges, and why
        (encapsulate(fragments(400, 40), has_bot=True), 400),  # value deferred by pydicom
    ],
    ids=["bot", "bot-fragments", "eoi", "one-frame", "too-few", "large"],
)
def test_encapsulated_pixel_data(tmp_path: Path, pixel_data: bytes, frames: int) -> None:
    scanned = check(write(tmp_path, encapsulated(pixel_data, JPEGBaseline8Bit, frames)))
    assert scanned is not None
    assert scanned.pixel_data is not None and scanned.pixel_data.encapsulated
    assert scanned.bulk_data["7FE00010"].encapsulated


def test_extended_offset_table(tmp_path: Path) -> None:
    pixel_data, offsets, lengths = encapsulate_extended(fragments(3))
    data = encapsulated(
        pixel_data,
        JPEGBaseline8Bit,
        3,
        ExtendedOffsetTable=offsets,
        ExtendedOffsetTableLengths=lengths,
    )
    scanned = check(write(tmp_path, data))
    assert scanned is not None and scanned.frames is not None


def test_rle_frames(tmp_path: Path) -> None:
    data = encapsulated(encapsulate([b"\x01\x02" * 10, b"\x03\x04" * 20]), RLELossless, 2)
    assert check(write(tmp_path, data)) is not None


def test_malformed_encapsulation_is_not_covered(tmp_path: Path) -> None:
    pixel_data = encapsulate(fragments(1), has_bot=False)
    broken = pixel_data[:8] + b"\x10\x00\x10\x00" + pixel_data[12:]  # not an item tag
    assert check(write(tmp_path, encapsulated(broken, JPEGBaseline8Bit, 1))) is None


# -- what is covered -----------------------------------------------------------------------------


def test_iso_ir_192_text(tmp_path: Path) -> None:
    dataset = instance(
        SpecificCharacterSet="ISO_IR 192",
        PatientName="Gérard^Müller",
        StudyDescription="Étude — ½",
        ReferencedStudySequence=Sequence([instance_item(ReferencedSOPInstanceUID="1.2.3")]),
    )
    scanned = check(write(tmp_path, part10(dataset)))
    assert scanned is not None
    assert scanned.metadata["00100010"]["Value"] == [{"Alphabetic": "Gérard^Müller"}]


def test_an_item_with_its_own_character_set(tmp_path: Path) -> None:
    item = instance_item(SpecificCharacterSet="", PatientName="Rene^Jean")
    dataset = instance(
        SpecificCharacterSet="ISO_IR 192",
        PatientName="Gérard^Müller",
        OtherPatientIDsSequence=Sequence([item]),
    )
    data = part10(dataset).replace(b"Rene^Jean", "René^Jea".encode("latin_1") + b" ")
    scanned = check(write(tmp_path, data))
    assert scanned is not None
    assert scanned.metadata["00101002"]["Value"][0]["00100010"]["Value"] == [
        {"Alphabetic": "René^Jea"}
    ]


def private_instance() -> Dataset:
    dataset = instance(PatientName="Doe^J")
    block = dataset.private_block(0x0009, "GEMS_IDEN_01", create=True)
    block.add_new(0x01, "LO", "fidelity")
    unknown = dataset.private_block(0x0011, "SOMEONE ELSE", create=True)
    unknown.add_new(0x01, "LO", "opaque")
    unknown.add_new(0x02, "SQ", Sequence([instance_item(PatientID="X")]))
    dataset.add_new(0x00131001, "LO", "no creator")
    return dataset


@pytest.mark.parametrize("transfer_syntax", NATIVE, ids=lambda uid: UID(uid).name)
def test_private_elements(tmp_path: Path, transfer_syntax: str) -> None:
    scanned = check(write(tmp_path, part10(private_instance(), transfer_syntax)))
    assert scanned is not None
    if transfer_syntax == ImplicitVRLittleEndian:
        assert scanned.metadata["00091001"] == {"vr": "LO", "Value": ["fidelity"]}
        assert scanned.metadata["00111001"]["vr"] == "UN"
        assert "00111002" in scanned.bulk_data  # an unknown private sequence is UN bulk data


def test_explicit_un_elements(tmp_path: Path) -> None:
    dataset = private_instance()
    dataset[0x00111001].VR, dataset[0x00111001].value = "UN", b"opaque"  # unknown creator
    dataset.add_new(0x00151000, "UN", b"")
    scanned = check(write(tmp_path, part10(dataset)))
    assert scanned is not None
    assert scanned.bulk_data["00111001"].vr == "UN"
    dataset[0x00091001].VR, dataset[0x00091001].value = "UN", b"fidelity"  # known: LO
    assert check(write(tmp_path, part10(dataset))) is None


def test_sequences_of_every_shape(tmp_path: Path) -> None:
    nested = Sequence([instance_item(CodeValue="1"), Dataset(), instance_item(CodeValue="2")])
    dataset = instance(
        ReferencedStudySequence=Sequence([]),
        ReferencedSeriesSequence=Sequence([Dataset()]),
        ProcedureCodeSequence=Sequence([instance_item(CodeValue="A", ModifierCodeSequence=nested)]),
        IconImageSequence=Sequence(
            [
                instance_item(
                    Rows=2,
                    Columns=2,
                    SamplesPerPixel=1,
                    PhotometricInterpretation="MONOCHROME2",
                    BitsAllocated=8,
                    BitsStored=8,
                    HighBit=7,
                    PixelRepresentation=0,
                    PixelData=b"\x01\x02\x03\x04",
                )
            ]
        ),
    )
    dataset.ProcedureCodeSequence[0].ModifierCodeSequence.is_undefined_length = True
    for transfer_syntax in NATIVE:
        scanned = check(write(tmp_path, part10(dataset, transfer_syntax)))
        assert scanned is not None
        assert "00880200/0/7FE00010" in scanned.bulk_data


# -- what is not covered -------------------------------------------------------------------------


def test_non_default_pydicom_configuration_is_not_covered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, part10(instance(SliceThickness="1.25")))
    assert check(path) is not None
    monkeypatch.setattr(config, "use_DS_decimal", True)
    assert scan_instance(path.read_bytes(), uri) is None


def test_other_character_sets_are_not_covered(tmp_path: Path) -> None:
    dataset = instance(SpecificCharacterSet="ISO_IR 144", PatientName="Люкceмбypг")
    assert check(write(tmp_path, part10(dataset))) is None


@pytest.mark.parametrize("transfer_syntax", NATIVE, ids=lambda uid: UID(uid).name)
def test_a_repeated_tag_is_not_covered(tmp_path: Path, transfer_syntax: str) -> None:
    data = part10(instance(PatientName="First^Name"), transfer_syntax)
    if transfer_syntax == ImplicitVRLittleEndian:
        repeated = struct.pack("<HHI", 0x0010, 0x0010, 8) + b"Last^Nm "
    else:
        repeated = struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", 8) + b"Last^Nm "
    assert reference(write(tmp_path, data + repeated)) is not None
    assert check(write(tmp_path, data + repeated)) is None


def test_a_private_creator_after_its_elements_is_not_covered(tmp_path: Path) -> None:
    dataset = instance()
    dataset.add_new(0x00091001, "LO", "fidelity")
    data = part10(dataset, ImplicitVRLittleEndian)
    assert check(write(tmp_path, data)) is not None
    creator = struct.pack("<HHI", 0x0009, 0x0010, 12) + b"GEMS_IDEN_01"
    assert check(write(tmp_path, data + creator)) is None


def test_truncated_and_padded_files_are_not_covered(tmp_path: Path) -> None:
    data = ct_slice(ExplicitVRLittleEndian, size=16)
    assert check(write(tmp_path, data)) is not None
    assert check(write(tmp_path, data[:-1])) is None
    assert check(write(tmp_path, data + b"\x00\x00")) is None
    assert check(write(tmp_path, data[:1000])) is None
    assert check(write(tmp_path, data[:140])) is None
    assert check(write(tmp_path, b"\x00" * 128 + b"DICX" + data[132:])) is None


def test_a_long_top_level_sequence_is_not_covered(tmp_path: Path) -> None:
    count = MAX_SEQUENCE_LENGTH // (8 + 8 + 8000)  # item header, LT header, value
    items = [instance_item(PatientComments="x" * 8000) for _ in range(count)]
    dataset = instance(OtherPatientIDsSequence=Sequence(items))
    assert check(write(tmp_path, part10(dataset))) is not None  # a little under 1 MiB
    dataset.OtherPatientIDsSequence.append(instance_item(PatientComments="x" * 8000))
    assert check(write(tmp_path, part10(dataset))) is None


def test_a_long_text_value_is_not_covered(tmp_path: Path) -> None:
    assert check(write(tmp_path, part10(instance(PatientComments="x" * (DEFER_SIZE + 2))))) is None


def test_us_or_ss_in_an_item_is_not_covered(tmp_path: Path) -> None:
    item = instance_item(PixelRepresentation=1, SmallestImagePixelValue=-3)
    dataset = instance(PixelRepresentation=1, IconImageSequence=Sequence([item]))
    assert check(write(tmp_path, part10(dataset, ExplicitVRLittleEndian))) is not None
    assert check(write(tmp_path, part10(dataset, ImplicitVRLittleEndian))) is None


def test_uids_that_pydicom_strips_are_not_covered(tmp_path: Path) -> None:
    # pydicom's UID strips whitespace such as \t or \x1c; json's fast converter leaves those
    # values to it, and read_instance reads the required UIDs through pydicom.
    for keyword in ("FrameOfReferenceUID", "SeriesInstanceUID"):
        dataset = instance()
        setattr(dataset, keyword, "1.2.3")
        path = write(tmp_path, part10(dataset).replace(b"1.2.3\x00", b"1.2.3\x1c"))
        expected = reference(path)
        assert expected is not None
        assert expected[1][dataset[keyword].tag.json_key]["Value"] == ["1.2.3"]
        assert check(path) is None


def test_refused_files_are_not_covered(tmp_path: Path) -> None:
    dataset = instance()
    del dataset.StudyInstanceUID
    assert check(write(tmp_path, part10(dataset))) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert check(TEST_FILES / "no_meta.dcm") is None
        assert check(TEST_FILES / "MR_small_bigendian.dcm") is None
        assert check(TEST_FILES / "image_dfl.dcm") is None

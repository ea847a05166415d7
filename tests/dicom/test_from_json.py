"""JSON metadata and bulk data to Part 10 (spec §2.1 item 2; PS3.18 §10.5 and Annex F).

The round trips send what a DICOMweb client sends for a Part 10 file (its DICOM JSON with Pixel
Data as a BulkDataURI, one compressed frame per bulk part), then read the written file back with
pydicom and compare every element and the pixel data with the original.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import tracemalloc
import warnings
from dataclasses import dataclass
from pathlib import Path
from struct import pack, unpack
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from dicomstore.dicom import from_json
from dicomstore.dicom.from_json import (
    CHARACTER_SET,
    OCTET_STREAM,
    BulkDataIndex,
    BulkDataPart,
    BulkDataReference,
    bulk_data_references,
    check_bulk_part,
    inline_binary_syntax,
    parse_metadata_part,
    sop_uids,
    write_part10,
)
from dicomstore.dicom.part10 import read_instance
from dicomstore.errors import InvalidArgument
from tests.dicom.corpus import TEST_FILES
from tests.test_public_api import _defined_public_names

MEDIA_TYPES = {
    JPEGBaseline8Bit: "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    JPEG2000Lossless: "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    RLELossless: "image/dicom-rle",
}
SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage


def read(path: Path | io.BytesIO) -> Dataset:
    """A pydicom test file or a written file; pydicom warns about some test files' values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


@dataclass
class ClientRequest:
    source: Dataset
    instance: dict[str, Any]
    uri: str
    part: BulkDataPart
    frames: list[bytes] | None


def client_request(name: str, uri: str = "pixel-data") -> ClientRequest:
    """What a client sends for test file ``name``: its JSON, Pixel Data as one bulk data part.

    The client converts with pydicom's ``to_json_dict``, its bulk data handler naming Pixel Data
    (the only element long enough), and declares UTF-8 and the transfer syntax, as spec §2.1
    requires. Compressed pixel data go as one frame, without fragment delimiters, in the media
    type of the syntax (PS3.18 §8.7.3.3.2).
    """
    source = read(TEST_FILES / name)
    transfer_syntax = source.file_meta.TransferSyntaxUID
    pixel_data = source["PixelData"].value

    def bulk_data_uri(element: DataElement) -> str:
        assert element.tag == 0x7FE00010, element
        return uri

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        instance = copy.deepcopy(source).to_json_dict(
            bulk_data_element_handler=bulk_data_uri,
            bulk_data_threshold=len(base64.b64encode(pixel_data)) - 1,
        )
    instance["00020010"] = {"vr": "UI", "Value": [transfer_syntax]}
    instance["00080005"] = {"vr": "CS", "Value": [CHARACTER_SET]}
    assert instance["7FE00010"] == {"vr": source["PixelData"].VR, "BulkDataURI": uri}
    if not transfer_syntax.is_compressed:
        return ClientRequest(source, instance, uri, BulkDataPart(pixel_data), None)
    frames = list(generate_frames(pixel_data, number_of_frames=1))
    part = BulkDataPart(frames[0], MEDIA_TYPES[transfer_syntax], transfer_syntax)
    return ClientRequest(source, instance, uri, part, frames)


def write(instance: dict[str, Any], bulk: dict[str, Any] | None = None, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    write_part10(instance, bulk or {}, out, **kwargs)
    return out.getvalue()


def without(instance: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``instance`` without ``keys``, group lengths and the file meta group."""
    return {
        key: value
        for key, value in instance.items()
        if key not in keys and not key.endswith("0000") and not key.startswith("0002")
    }


def meta_group_length(data: bytes) -> tuple[int, int]:
    """(0002,0000)'s value and the actual length of the file meta elements after it."""
    assert data[:128] == b"\x00" * 128 and data[128:132] == b"DICM"
    assert data[132:140] == b"\x02\x00\x00\x00UL\x04\x00"
    (value,) = unpack("<L", data[140:144])
    position = 144
    while unpack("<H", data[position : position + 2])[0] == 0x0002:
        vr = data[position + 4 : position + 6]
        if vr in (b"OB", b"OW", b"UN", b"UT", b"SQ"):
            (length,) = unpack("<L", data[position + 8 : position + 12])
            position += 12 + length
        else:
            (length,) = unpack("<H", data[position + 6 : position + 8])
            position += 8 + length
    return value, position - 144


def decodable(transfer_syntax: str) -> bool:
    try:
        return bool(get_decoder(UID(transfer_syntax)).is_available)
    except NotImplementedError:
        return False


def pixels(dataset: Dataset) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dataset.pixel_array


# -- round trips -----------------------------------------------------------------------------------

ROUND_TRIPS = [
    "CT_small.dcm",  # native, explicit VR
    "MR_small.dcm",
    "MR_small_implicit.dcm",  # native, implicit VR
    pytest.param(  # native, implicit VR, 15 frames; pydicom warns about a 65-character UID
        "rtdose.dcm", marks=pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
    ),
    "SC_rgb_small_odd.dcm",  # native, odd length
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline
    "JPEG-lossy.dcm",  # JPEG extended, 12 bits
    "JPEG2000.dcm",  # JPEG 2000
    "MR_small_jp2klossless.dcm",  # JPEG 2000 lossless
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS
    "MR_small_RLE.dcm",  # RLE
]


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_round_trip(name: str, tmp_path: Path) -> None:
    request = client_request(name)
    out = tmp_path / "instance.dcm"
    write_part10(request.instance, {request.uri: request.part}, out)
    data = out.read_bytes()
    back = read(out)
    source = request.source
    transfer_syntax = source.file_meta.TransferSyntaxUID

    # File meta information (PS3.10 §7.1).
    value, actual = meta_group_length(data)
    assert value == actual
    meta = back.file_meta
    assert meta.TransferSyntaxUID == transfer_syntax
    assert meta.MediaStorageSOPClassUID == source.SOPClassUID
    assert meta.MediaStorageSOPInstanceUID == source.SOPInstanceUID
    assert meta.ImplementationClassUID == PYDICOM_IMPLEMENTATION_UID
    assert meta.FileMetaInformationVersion == b"\x00\x01"

    # Every element: as sent, and as in the original but for the character set.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back_json = back.to_json_dict(bulk_data_threshold=1 << 30)
        source_json = source.to_json_dict(bulk_data_threshold=1 << 30)
    assert without(back_json, "7FE00010") == without(request.instance, "7FE00010")
    assert without(back_json, "7FE00010", "00080005") == without(
        source_json, "7FE00010", "00080005"
    )
    written_vr = back["PixelData"].VR
    assert written_vr == ("OB" if transfer_syntax.is_compressed else source["PixelData"].VR)

    # Pixel data.
    if request.frames is None:
        assert back.PixelData == source.PixelData
    else:
        assert back.PixelData == encapsulate(request.frames)
        assert list(generate_frames(back.PixelData, number_of_frames=1)) == request.frames
    if decodable(transfer_syntax):
        try:
            expected = pixels(source)
        except RuntimeError:  # e.g. Pillow and 12-bit JPEG: the frames were compared above
            expected = None
        if expected is not None:
            np.testing.assert_array_equal(pixels(back), expected)

    # And ingest reads it as any Part 10 upload.
    header = read_instance(out)
    assert header.transfer_syntax_uid == transfer_syntax
    assert header.sop_instance_uid == source.SOPInstanceUID
    assert header.frames is not None
    assert header.number_of_frames == int(source.get("NumberOfFrames") or 1)


def test_google_jpeg_example() -> None:
    """Google's how-to: Secondary Capture JSON with the Image Pixel attributes, and a JPEG."""
    image = (np.arange(24 * 32 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    jpeg = buffer.getvalue()
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    metadata = f"""[{{
        "00020010": {{"vr": "UI", "Value": ["1.2.840.10008.1.2.4.50"]}},
        "00080005": {{"vr": "CS", "Value": ["ISO_IR 192"]}},
        "00080016": {{"vr": "UI", "Value": ["{SC_IMAGE}"]}},
        "00080018": {{"vr": "UI", "Value": ["{sop}"]}},
        "00080020": {{"vr": "DA", "Value": ["20160205"]}},
        "00080060": {{"vr": "CS", "Value": ["OT"]}},
        "00100010": {{"vr": "PN", "Value": [{{"Alphabetic": "Müller^Jürgen"}}]}},
        "0020000D": {{"vr": "UI", "Value": ["{study}"]}},
        "0020000E": {{"vr": "UI", "Value": ["{series}"]}},
        "00280002": {{"vr": "US", "Value": [3]}},
        "00280004": {{"vr": "CS", "Value": ["YBR_FULL_422"]}},
        "00280006": {{"vr": "US", "Value": [0]}},
        "00280008": {{"vr": "IS", "Value": [1]}},
        "00280010": {{"vr": "US", "Value": [24]}},
        "00280011": {{"vr": "US", "Value": [32]}},
        "00280100": {{"vr": "US", "Value": [8]}},
        "00280101": {{"vr": "US", "Value": [8]}},
        "00280102": {{"vr": "US", "Value": [7]}},
        "00280103": {{"vr": "US", "Value": [0]}},
        "7FE00010": {{"vr": "OB", "BulkDataURI": "jpeg-image"}}
    }}]""".encode()

    # The route's steps (module docstring).
    instances = parse_metadata_part(metadata)
    syntax = inline_binary_syntax(None)
    index = BulkDataIndex(instances)
    assert index.claim("jpeg-image") == 0
    parts = {"jpeg-image": BulkDataPart(jpeg, "image/jpeg", "1.2.840.10008.1.2.4.50")}
    index.check_complete()
    out = io.BytesIO()
    write_part10(instances[0], parts, out, inline_binary_syntax=syntax)

    out.seek(0)
    back = read(out)
    assert back.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert back.SOPInstanceUID == sop and back.StudyInstanceUID == study
    assert str(back.PatientName) == "Müller^Jürgen"
    assert back.SpecificCharacterSet == "ISO_IR 192"
    assert (back.Rows, back.Columns, back.PhotometricInterpretation) == (24, 32, "YBR_FULL_422")
    assert back.PixelData == encapsulate([jpeg + b"\x00" * (len(jpeg) % 2)])
    (frame,) = generate_frames(back.PixelData, number_of_frames=1)
    assert frame.rstrip(b"\x00") == jpeg
    if decodable(JPEGBaseline8Bit):
        # Lossy JPEG: decoders differ by a few steps of chroma upsampling and rounding
        # (pylibjpeg's libjpeg against Pillow's), never more.
        expected = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)
        difference = np.abs(pixels(back).astype(int) - expected)
        assert difference.max() <= 4 and difference.mean() < 1


def test_native_multi_frame_and_bulk_file(tmp_path: Path) -> None:
    """Frames decompressed from an RLE file, sent natively from a spooled part file."""
    source = read(TEST_FILES / "SC_rgb_rle_2frame.dcm")
    frames = pixels(source)
    instance = json_of(source, ExplicitVRLittleEndian)
    instance["7FE00010"] = {"vr": "OB", "BulkDataURI": "frames"}
    spooled = tmp_path / "frames.part"
    spooled.write_bytes(frames.tobytes())
    back = read(io.BytesIO(write(instance, {"frames": spooled})))
    assert back.NumberOfFrames == 2
    np.testing.assert_array_equal(pixels(back), frames)


def json_of(source: Dataset, transfer_syntax: str) -> dict[str, Any]:
    dataset = copy.deepcopy(source)
    del dataset.PixelData
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        instance = dataset.to_json_dict(bulk_data_threshold=1 << 30)
    instance["00020010"] = {"vr": "UI", "Value": [transfer_syntax]}
    instance["00080005"] = {"vr": "CS", "Value": [CHARACTER_SET]}
    return instance


def minimal(transfer_syntax: str = ExplicitVRLittleEndian, **extra: Any) -> dict[str, Any]:
    """The smallest accepted instance: the six attributes spec §2.1 requires."""
    instance: dict[str, Any] = {
        "00020010": {"vr": "UI", "Value": [transfer_syntax]},
        "00080005": {"vr": "CS", "Value": [CHARACTER_SET]},
        "00080016": {"vr": "UI", "Value": [SC_IMAGE]},
        "00080018": {"vr": "UI", "Value": ["1.2.3.4.5"]},
        "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
        "0020000E": {"vr": "UI", "Value": ["1.2.3.4"]},
    }
    instance.update(extra)
    return instance


def test_large_pixel_data_is_copied_in_chunks(tmp_path: Path) -> None:
    size = 32 << 20
    spooled = tmp_path / "pixels.part"
    with open(spooled, "wb") as file:
        for start in range(0, size, 1 << 20):
            file.write(bytes([start >> 20 & 0xFF]) * (1 << 20))
    instance = minimal(
        **{
            "00280010": {"vr": "US", "Value": [4096]},
            "00280011": {"vr": "US", "Value": [4096]},
            "00280002": {"vr": "US", "Value": [1]},
            "00280100": {"vr": "US", "Value": [16]},
            "00280004": {"vr": "CS", "Value": ["MONOCHROME2"]},
            "7FE00010": {"vr": "OW", "BulkDataURI": "big"},
        }
    )
    out = tmp_path / "big.dcm"
    tracemalloc.start()
    try:
        write_part10(instance, {"big": spooled}, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    header = read_instance(out)
    assert header.pixel_data is not None and header.pixel_data.length == size
    with open(out, "rb") as file:
        file.seek(header.pixel_data.offset + (5 << 20))
        assert file.read(4) == b"\x05" * 4


# -- what is written -------------------------------------------------------------------------------


def test_minimal_instance_and_outputs(tmp_path: Path) -> None:
    data = write(minimal())
    (tmp_path / "a.dcm").write_bytes(b"old content that is longer than the new file" * 100)
    write_part10(minimal(), {}, tmp_path / "a.dcm")
    assert (tmp_path / "a.dcm").read_bytes() == data
    back = read(io.BytesIO(data))
    assert "PixelData" not in back
    assert back.file_meta.MediaStorageSOPClassUID == SC_IMAGE


def test_client_file_meta_is_kept_except_what_the_writer_sets() -> None:
    instance = minimal(
        **{
            "00020000": {"vr": "UL", "Value": [9999]},
            "00020001": {"vr": "OB", "InlineBinary": base64.b64encode(b"\x00\x07").decode()},
            "00020002": {"vr": "UI", "Value": [SC_IMAGE]},
            "00020003": {"vr": "UI", "Value": ["1.2.3.4.5"]},
            "00020012": {"vr": "UI", "Value": ["1.2.3.999"]},
            "00020013": {"vr": "SH", "Value": ["CLIENT"]},
            "00020016": {"vr": "AE", "Value": ["SENDER"]},
            "00080000": {"vr": "UL", "Value": [1234]},
        }
    )
    data = write(instance)
    value, actual = meta_group_length(data)
    assert value == actual
    meta = read(io.BytesIO(data)).file_meta
    assert meta.SourceApplicationEntityTitle == "SENDER"
    assert meta.ImplementationClassUID == PYDICOM_IMPLEMENTATION_UID
    assert meta.ImplementationVersionName != "CLIENT"
    assert meta.FileMetaInformationVersion == b"\x00\x01"
    assert 0x00080000 not in read(io.BytesIO(data))


def test_bulk_data_in_the_file_meta() -> None:
    instance = minimal(
        **{
            "00020100": {"vr": "UI", "Value": ["1.2.3.77"]},
            "00020102": {"vr": "OB", "BulkDataURI": "private"},
        }
    )
    data = write(instance, {"private": b"abc"})
    value, actual = meta_group_length(data)
    assert value == actual
    assert read(io.BytesIO(data)).file_meta[0x00020102].value == b"abc\x00"


def test_values_pydicom_would_write_badly() -> None:
    instance = minimal(
        **{
            "00280030": {"vr": "DS", "Value": [0.30000000000000004, 1 / 3]},
            "00181050": {"vr": "DS", "Value": [123456.78901234567]},
            "00200013": {"vr": "IS", "Value": [1, None, 3]},
            "00100010": {"vr": "UN", "InlineBinary": base64.b64encode(b"Doe^John").decode()},
            "00280010": {"vr": "UN", "InlineBinary": base64.b64encode(pack("<H", 16)).decode()},
            "00291010": {"vr": "UN", "InlineBinary": base64.b64encode(b"ab").decode()},
            "00091010": {"vr": "AT", "Value": ["00100010", "7FE00010"]},
            "00101001": {
                "vr": "PN",
                "Value": [{"Alphabetic": "A^B", "Ideographic": "亜^ベ"}, None],
            },
        }
    )
    data = write(instance)
    back = read(io.BytesIO(data))
    written = [*back[0x00280030].value, back[0x00181050].value]
    for value, sent in zip(written, (0.3, 1 / 3, 123456.789), strict=True):
        assert len(str(value)) <= 16  # PS3.5 Table 6.2-1
        assert float(value) == pytest.approx(sent, rel=1e-5)
    assert list(back.InstanceNumber) == [1, "", 3]
    # UN stays UN, with its bytes (pydicom reads known tags back with their dictionary VR).
    assert pack("<HH2s2xL", 0x0010, 0x0010, b"UN", 8) + b"Doe^John" in data
    assert pack("<HH2s2xL", 0x0028, 0x0010, b"UN", 2) + pack("<H", 16) in data
    assert list(back[0x00091010].value) == [0x00100010, 0x7FE00010]
    assert str(back[0x00101001].value[0]) == "A^B=亜^ベ"


@pytest.mark.parametrize("transfer_syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_top_level_bulk_data_other_than_pixel_data(transfer_syntax: str) -> None:
    """A private OB/UN element streamed between the elements before and after it."""
    instance = minimal(
        transfer_syntax,
        **{
            "00290010": {"vr": "LO", "Value": ["ACME"]},
            "00291010": {"vr": "UN", "BulkDataURI": "csa"},
            "00291020": {"vr": "LO", "Value": ["after"]},
            "00420011": {"vr": "OB", "InlineBinary": base64.b64encode(b"%PDF").decode()},
        },
    )
    back = read(io.BytesIO(write(instance, {"csa": b"odd"})))
    assert back[0x00291010].value == b"odd\x00"
    if transfer_syntax == ExplicitVRLittleEndian:
        assert back[0x00291010].VR == "UN"
        assert back[0x00291020].value == "after"
    else:  # no VR in the file, and pydicom does not know the private tag
        assert back[0x00291020].value == b"after "
    assert back.EncapsulatedDocument == b"%PDF"


def test_bulk_data_inside_a_sequence_and_compressed_top_level() -> None:
    """An icon's native Pixel Data in a sequence of a JPEG instance (loaded, not streamed)."""
    icon = {
        "00280010": {"vr": "US", "Value": [2]},
        "00280011": {"vr": "US", "Value": [2]},
        "7FE00010": {"vr": "OB", "BulkDataURI": "icon"},
    }
    instance = minimal(JPEGBaseline8Bit, **{"00880200": {"vr": "SQ", "Value": [icon]}})
    assert bulk_data_references(instance) == [
        BulkDataReference("icon", "00880200/0/7FE00010", "OB")
    ]
    back = read(io.BytesIO(write(instance, {"icon": b"\x01\x02\x03\x04"})))
    assert back.IconImageSequence[0].PixelData == b"\x01\x02\x03\x04"


def test_inline_binary_in_big_endian_is_swapped() -> None:
    words = pack(">3H", 1, 2, 0x0102)
    instance = minimal(
        **{
            "00281201": {"vr": "OW", "InlineBinary": base64.b64encode(words).decode()},
            "00091001": {"vr": "OB", "InlineBinary": base64.b64encode(b"\x01\x02").decode()},
        }
    )
    back = read(io.BytesIO(write(instance, inline_binary_syntax=ExplicitVRBigEndian)))
    assert back[0x00281201].value == pack("<3H", 1, 2, 0x0102)
    assert back[0x00091001].value == b"\x01\x02"
    little = read(io.BytesIO(write(instance)))
    assert little[0x00281201].value == words


def test_octet_stream_in_the_instance_syntax() -> None:
    """application/octet-stream may carry the instance's own compressed syntax."""
    frame = b"\xff\xd8 not really a JPEG \xff\xd9"
    instance = minimal(JPEGBaseline8Bit, **{"7FE00010": {"vr": "OB", "BulkDataURI": "f"}})
    part = BulkDataPart(frame, OCTET_STREAM, JPEGBaseline8Bit)
    assert read(io.BytesIO(write(instance, {"f": part}))).PixelData == encapsulate([frame])


def test_video_bitstream_is_one_fragment_after_an_empty_offset_table() -> None:
    mpeg4 = "1.2.840.10008.1.2.4.102"
    stream = bytes(range(256)) * 3
    instance = minimal(
        mpeg4,
        **{
            "00280008": {"vr": "IS", "Value": [300]},
            "7FE00010": {"vr": "OB", "BulkDataURI": "video"},
        },
    )
    back = read(io.BytesIO(write(instance, {"video": BulkDataPart(stream, OCTET_STREAM, mpeg4)})))
    assert back.PixelData == encapsulate([stream], has_bot=False)


def test_syntax_newer_than_pydicom() -> None:
    jpeg_xl = "1.2.840.10008.1.2.4.112"
    instance = minimal(jpeg_xl, **{"7FE00010": {"vr": "OB", "BulkDataURI": "f"}})
    data = write(instance, {"f": BulkDataPart(b"\xff\x0a", OCTET_STREAM, jpeg_xl)})
    assert data.endswith(encapsulate([b"\xff\x0a"]) + pack("<HHL", 0xFFFE, 0xE0DD, 0))


def test_sop_uids() -> None:
    assert sop_uids(minimal()) == (SC_IMAGE, "1.2.3.4.5")
    assert sop_uids({"00080018": {"vr": "UI", "Value": ["1", "2"]}}) == (None, None)
    assert sop_uids({"00080016": "x"}) == (None, None)


# -- instance-level failures -----------------------------------------------------------------------


def _set(key: str, element: Any) -> Any:
    def change(instance: dict[str, Any]) -> None:
        if element is None:
            del instance[key]
        else:
            instance[key] = element

    return change


INSTANCE_FAILURES = {
    "no character set": (_set("00080005", None), "no (0008,0005) SpecificCharacterSet"),
    "latin-1": (
        _set("00080005", {"vr": "CS", "Value": ["ISO_IR 100"]}),
        "SpecificCharacterSet must be ISO_IR 192",
    ),
    "no transfer syntax": (_set("00020010", None), "no (0002,0010) TransferSyntaxUID"),
    "big endian": (
        _set("00020010", {"vr": "UI", "Value": [ExplicitVRBigEndian]}),
        "1.2.840.10008.1.2.2 (Explicit VR Big Endian) is not accepted",
    ),
    "deflated": (
        _set("00020010", {"vr": "UI", "Value": ["1.2.840.10008.1.2.1.99"]}),
        "1.2.840.10008.1.2.1.99 (Deflated Explicit VR Little Endian) is not accepted",
    ),
    "jpip deflate": (
        _set("00020010", {"vr": "UI", "Value": ["1.2.840.10008.1.2.4.95"]}),
        "its data set is deflated",
    ),
    "unknown syntax": (
        _set("00020010", {"vr": "UI", "Value": ["1.2.3.4"]}),
        "1.2.3.4 is not a transfer syntax this store knows",
    ),
    "no SOP class": (_set("00080016", None), "no (0008,0016) SOPClassUID"),
    "no study": (_set("0020000D", None), "no (0020,000D) StudyInstanceUID"),
    "no series": (_set("0020000E", {"vr": "UI"}), "no (0020,000E) SeriesInstanceUID"),
    "no SOP instance": (
        _set("00080018", {"vr": "UI", "Value": [None]}),
        "no (0008,0018) SOPInstanceUID",
    ),
    "two SOP instance UIDs": (
        _set("00080018", {"vr": "UI", "Value": ["1.2", "1.3"]}),
        "(0008,0018) SOPInstanceUID must hold exactly one UID",
    ),
    "file meta disagrees": (
        _set("00020003", {"vr": "UI", "Value": ["1.2.3.4.6"]}),
        "MediaStorageSOPInstanceUID ['1.2.3.4.6'] differs from SOPInstanceUID 1.2.3.4.5",
    ),
    "bulk data on FL": (
        _set("00189219", {"vr": "OF", "BulkDataURI": "x"}),
        "00189219 has VR OF; a BulkDataURI is accepted only on OB, OW and UN",
    ),
    "two bulk data": (
        lambda instance: instance.update(
            {
                "00091010": {"vr": "OB", "BulkDataURI": "a"},
                "7FE00010": {"vr": "OB", "BulkDataURI": "b"},
            }
        ),
        "the instance has 2 BulkDataURIs (00091010: 'a', 7FE00010: 'b'); at most one",
    ),
    "inline pixel data": (
        _set("7FE00010", {"vr": "OB", "InlineBinary": "AAAA"}),
        "PixelData must be sent as a bulk data part named by a BulkDataURI, not as InlineBinary",
    ),
    "empty pixel data": (
        _set("7FE00010", {"vr": "OW"}),
        "PixelData must be sent as a bulk data part named by a BulkDataURI, not as an inline",
    ),
    "inline binary on US": (
        _set("00280010", {"vr": "US", "InlineBinary": "AAA="}),
        "00280010 has VR US; InlineBinary is only for OB, OD, OF, OL, OV, OW and UN",
    ),
    "not base64": (
        _set("00091010", {"vr": "OB", "InlineBinary": "not base64!"}),
        "00091010: InlineBinary is not base64",
    ),
    "value on OB": (
        _set("00091010", {"vr": "OB", "Value": ["AAAA"]}),
        "00091010 has VR OB; its value must be InlineBinary or a BulkDataURI, not Value",
    ),
    "bad tag": (_set("0010001", {"vr": "PN"}), "'0010001' is not an attribute tag"),
    "bad VR": (_set("00100010", {"vr": "XX"}), "00100010 has no valid 'vr': 'XX'"),
    "no VR": (_set("00100010", {"Value": []}), "00100010 has no valid 'vr': None"),
    "not an object": (_set("00100010", ["Doe"]), "00100010 must be a JSON object"),
    "empty bulk data URI": (
        _set("7FE00010", {"vr": "OB", "BulkDataURI": ""}),
        "7FE00010: BulkDataURI must be a non-empty string",
    ),
    "two value keys": (
        _set("00091010", {"vr": "OB", "InlineBinary": "AAAA", "BulkDataURI": "x"}),
        "00091010 has both InlineBinary and BulkDataURI",
    ),
    "value not a list": (
        _set("00100020", {"vr": "LO", "Value": "ID"}),
        "00100020: Value must be a JSON array",
    ),
    "person name as text": (
        _set("00100010", {"vr": "PN", "Value": ["Doe^John"]}),
        "00100010: 'Doe^John' is not a value of VR PN",
    ),
    "number as text": (
        _set("00100020", {"vr": "LO", "Value": [7]}),
        "00100020: 7 is not a value of VR LO",
    ),
    "bad AT": (_set("00209165", {"vr": "AT", "Value": ["0010"]}), "'0010' is not a value of VR AT"),
    "null among US": (
        _set("00280010", {"vr": "US", "Value": [1, None]}),
        "00280010: a US value cannot be null among other values",
    ),
    "bad item": (
        _set("00081115", {"vr": "SQ", "Value": ["item"]}),
        "00081115: item 0 must be a JSON object",
    ),
    "bad nested element": (
        _set("00081115", {"vr": "SQ", "Value": [{"0020000E": {"vr": "UI", "Value": 1}}]}),
        "00081115/0/0020000E: Value must be a JSON array",
    ),
    "file meta in an item": (
        _set("00081115", {"vr": "SQ", "Value": [{"00020010": {"vr": "UI"}}]}),
        "00081115/0/00020010: file meta elements belong at the top level",
    ),
    "command element": (_set("00000100", {"vr": "US", "Value": [1]}), "command elements"),
    "unencodable number": (
        _set("00200013", {"vr": "IS", "Value": ["twelve"]}),
        "the data set cannot be encoded",
    ),
}


@pytest.mark.parametrize("case", INSTANCE_FAILURES, ids=list(INSTANCE_FAILURES))
def test_instance_failures(case: str) -> None:
    change, message = INSTANCE_FAILURES[case]
    instance = minimal()
    change(instance)
    out = io.BytesIO()
    with pytest.raises(InvalidArgument) as raised:
        write_part10(instance, {"x": b"", "a": b"", "b": b""}, out)
    assert message in raised.value.message
    assert out.getvalue() == b""  # nothing written


def test_compressed_multi_frame_fails() -> None:
    request = client_request("SC_rgb_jpeg_dcmtk.dcm")
    request.instance["00280008"] = {"vr": "IS", "Value": [2]}
    with pytest.raises(InvalidArgument, match="NumberOfFrames is 2 but a compressed PixelData"):
        write(request.instance, {request.uri: request.part})


def test_missing_bulk_part_fails_the_instance() -> None:
    request = client_request("CT_small.dcm")
    with pytest.raises(InvalidArgument, match="no bulk data part has Content-Location"):
        write(request.instance, {"other": b""})


def test_too_large_a_value() -> None:
    class Huge(BulkDataPart):
        @property
        def length(self) -> int:
            return 0xFFFFFFFF

    instance = minimal(**{"7FE00010": {"vr": "OB", "BulkDataURI": "f"}})
    with pytest.raises(InvalidArgument, match="a DICOM value holds at most 4294967294"):
        write(instance, {"f": Huge(b"")})


# -- bulk data parts -------------------------------------------------------------------------------

PIXEL_DATA = "7FE00010"
JPEG_50 = "1.2.840.10008.1.2.4.50"
ACCEPTED_PARTS = [
    # media type, its transfer-syntax, instance syntax, element
    (OCTET_STREAM, None, ExplicitVRLittleEndian, PIXEL_DATA),
    (OCTET_STREAM, ExplicitVRLittleEndian, ImplicitVRLittleEndian, PIXEL_DATA),
    ("Application/Octet-Stream", None, JPEG_50, "00420011"),  # uncompressed, not Pixel Data
    (OCTET_STREAM, JPEG_50, JPEG_50, PIXEL_DATA),
    ("image/jpeg", JPEG_50, JPEG_50, PIXEL_DATA),
    ("image/jpeg", None, "1.2.840.10008.1.2.4.70", PIXEL_DATA),  # PS3.18 default
    ("image/jpeg", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.51", PIXEL_DATA),
    ("image/jpeg", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.57", PIXEL_DATA),
    ("image/dicom-rle", None, RLELossless, PIXEL_DATA),
    ("image/jls", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.81", PIXEL_DATA),
    ("image/jls", None, "1.2.840.10008.1.2.4.80", PIXEL_DATA),
    ("image/jp2", None, JPEG2000Lossless, PIXEL_DATA),
    ("image/jp2", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.91", PIXEL_DATA),
    ("image/jpx", "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.93", PIXEL_DATA),
    ("image/jpx", None, "1.2.840.10008.1.2.4.92", PIXEL_DATA),
]


@pytest.mark.parametrize(("media_type", "syntax", "instance_syntax", "path"), ACCEPTED_PARTS)
def test_accepted_bulk_parts(
    media_type: str, syntax: str | None, instance_syntax: str, path: str
) -> None:
    check_bulk_part(media_type, syntax, instance_transfer_syntax=instance_syntax, path=path)


REFUSED_PARTS = [
    ("image/png", None, ExplicitVRLittleEndian, PIXEL_DATA, "has media type image/png"),
    ("application/dicom", None, JPEG_50, PIXEL_DATA, "has media type application/dicom"),
    ("image/jpeg", JPEG2000Lossless, JPEG2000Lossless, PIXEL_DATA, "image/jpeg takes"),
    ("image/jp2", JPEG_50, JPEG_50, PIXEL_DATA, "image/jp2 takes"),
    ("image/dicom-rle", JPEG_50, JPEG_50, PIXEL_DATA, "image/dicom-rle takes"),
    ("image/jpeg", None, JPEG_50, PIXEL_DATA, "1.2.840.10008.1.2.4.70 is not the instance's"),
    ("image/jpeg", JPEG_50, ExplicitVRLittleEndian, PIXEL_DATA, "is not the instance's"),
    ("image/jls", None, JPEG_50, PIXEL_DATA, "must be equal"),
    (OCTET_STREAM, None, JPEG_50, PIXEL_DATA, "its PixelData part must be compressed too"),
    (OCTET_STREAM, ExplicitVRBigEndian, ExplicitVRLittleEndian, PIXEL_DATA, "only uncompressed"),
    (OCTET_STREAM, JPEG_50, RLELossless, PIXEL_DATA, "only uncompressed little endian"),
    ("image/jp2", None, JPEG2000Lossless, "00420011", "accepted only for the top-level"),
    ("image/jpeg", JPEG_50, JPEG_50, "00880200/0/7FE00010", "accepted only for the top-level"),
    (OCTET_STREAM, JPEG_50, JPEG_50, "00091010", "accepted only for the top-level"),
]


@pytest.mark.parametrize(
    ("media_type", "syntax", "instance_syntax", "path", "message"), REFUSED_PARTS
)
def test_refused_bulk_parts(
    media_type: str, syntax: str | None, instance_syntax: str, path: str, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(".", r"\.")):
        check_bulk_part(media_type, syntax, instance_transfer_syntax=instance_syntax, path=path)


@pytest.mark.parametrize(
    ("part", "message"),
    [
        (BulkDataPart(b"\xff\xd8"), "its PixelData part must be compressed too"),
        (BulkDataPart(b"\xff\xd8", "image/jpeg"), "1.2.840.10008.1.2.4.70 is not the instance's"),
    ],
)
def test_write_checks_the_part(part: BulkDataPart, message: str) -> None:
    request = client_request("SC_rgb_jpeg_dcmtk.dcm")
    with pytest.raises(InvalidArgument) as raised:
        write(request.instance, {request.uri: part})
    assert message in raised.value.message


# -- request-level failures ------------------------------------------------------------------------


def test_parse_metadata_part() -> None:
    instances = [minimal(), minimal(**{"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Ø"}]}})]
    body = json.dumps(instances, ensure_ascii=False).encode()
    assert parse_metadata_part(body) == instances
    assert parse_metadata_part(b"\xef\xbb\xbf" + body) == instances


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff[]", "not UTF-8 text (byte 0)"),
        (b"[{", "not valid JSON: Expecting property name enclosed in double quotes at line 1"),
        (b'[{"00280030": {"vr": "DS", "Value": [NaN]}}]', "NaN is not a JSON number"),
        (b'{"00080005": {}}', "must hold a JSON array of DICOM JSON objects"),
        (b'"x"', "it holds a JSON string"),
        (b"[]", "holds no instances"),
        (b"[{}, 5]", "Item 2 of the metadata array is a JSON number"),
        (b"[null]", "Item 1 of the metadata array is a JSON null"),
    ],
)
def test_malformed_metadata_fails_the_request(body: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_metadata_part(body)
    assert message in raised.value.message


def test_inline_binary_syntax() -> None:
    assert inline_binary_syntax(None) == ExplicitVRLittleEndian
    assert inline_binary_syntax(" ") == ExplicitVRLittleEndian
    assert inline_binary_syntax(" 1.2.840.10008.1.2.2") == ExplicitVRBigEndian
    for bad in ("*", "1.2.x", "01.2"):
        with pytest.raises(InvalidArgument, match="Invalid transfer-syntax parameter"):
            inline_binary_syntax(bad)


def test_bulk_data_references_are_found_leniently() -> None:
    instance = {
        "00020001": {"vr": "OB", "BulkDataURI": "meta"},
        "00081115": {
            "vr": "SQ",
            "Value": [
                None,
                {"00091010": {"vr": "UN", "BulkDataURI": ["nested"]}},
                "broken item",
            ],
        },
        "00091010": {"vr": "US", "BulkDataURI": "wrong-vr"},
        "00091011": {"BulkDataURI": "no-vr"},
        "00091012": {"vr": "OB", "BulkDataURI": 5},
        "00091013": "broken element",
        "7fe00010": {"vr": "OW", "BulkDataURI": "pixels"},
    }
    assert bulk_data_references(instance) == [
        BulkDataReference("meta", "00020001", "OB"),
        BulkDataReference("nested", "00081115/1/00091010", "UN"),
        BulkDataReference("wrong-vr", "00091010", "US"),
        BulkDataReference("no-vr", "00091011", ""),
        BulkDataReference("pixels", "7FE00010", "OW"),
    ]
    assert bulk_data_references(instance)[1].tag == 0x00091010
    assert bulk_data_references(instance)[-1].is_pixel_data
    assert not bulk_data_references(instance)[1].is_pixel_data


def test_bulk_data_index() -> None:
    broken = {"00091010": {"vr": "US", "BulkDataURI": "c"}}  # fails as an instance, later
    index = BulkDataIndex(
        [
            minimal(**{"7FE00010": {"vr": "OB", "BulkDataURI": "a"}}),
            minimal(),
            minimal(**{"7FE00010": {"vr": "OB", "BulkDataURI": "b"}}),
            broken,
        ]
    )
    assert (index.owner("a"), index.owner("b"), index.owner("c"), index.owner("d")) == (
        0,
        2,
        3,
        None,
    )
    assert index.claim("b") == 2
    with pytest.raises(InvalidArgument, match="Two bulk data parts have Content-Location 'b'"):
        index.claim("b")
    with pytest.raises(InvalidArgument, match="has no Content-Location header"):
        index.claim(None)
    with pytest.raises(InvalidArgument, match="'d' matches no BulkDataURI"):
        index.claim("d")
    assert index.claim("c") == 3
    with pytest.raises(InvalidArgument, match="No bulk data part has Content-Location 'a'"):
        index.check_complete()
    index.claim("a")
    index.check_complete()


@pytest.mark.parametrize(
    ("instances", "where"),
    [
        (
            [
                minimal(**{"7FE00010": {"vr": "OB", "BulkDataURI": "same"}}),
                minimal(**{"7FE00010": {"vr": "OB", "BulkDataURI": "same"}}),
            ],
            "instances 1 and 2",
        ),
        (
            [
                minimal(),
                minimal(
                    **{
                        "00091010": {"vr": "OB", "BulkDataURI": "same"},
                        "7FE00010": {"vr": "OB", "BulkDataURI": "same"},
                    }
                ),
            ],
            "instance 2",
        ),
    ],
)
def test_a_bulk_data_uri_used_twice_fails_the_request(
    instances: list[dict[str, Any]], where: str
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        BulkDataIndex(instances)
    assert f"'same' appears more than once in the request ({where})" in raised.value.message


def test_all_is_exact() -> None:
    assert sorted(from_json.__all__) == sorted(_defined_public_names(from_json))

"""Transcoding instances and frames (dicomstore.dicom.transcode, dicomstore.dicom.codecs).

The reference is pydicom's own decoding of the stored file (``Dataset.pixel_array``): a lossless
transcode must give the same array, a lossy one an array within a stated PSNR. The corpus is
pydicom's bundled test files, one per kind of pixels (transfer syntax, photometric
interpretation, samples, bits, signedness, multi-frame), without the few pydicom itself cannot
decode and the files over 400 KB.
"""

from __future__ import annotations

import io
import math
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
    generate_uid,
)

from dicomstore.dicom import codecs, transcode
from dicomstore.dicom.json import to_dicom_json
from dicomstore.dicom.part10 import read_instance
from dicomstore.dicom.transcode import (
    LITTLE_ENDIAN_NATIVE,
    LOSSLESS_COMPRESSED,
    LOSSY_TARGETS,
    PixelDescription,
    TranscodeError,
    can_transcode,
    describe_pixels,
    frame_in_syntax,
    target_syntaxes,
    transcode_capability,
)
from dicomstore.errors import NotAcceptable
from tests.dicom.corpus import DATA_ROOT, corpus, corpus_id

# pydicom warns about the odd files of its own corpus (implicit VR under an explicit syntax, …).
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

MAX_SIZE = 400_000
PSNR_BOUND = 30.0
"""Lossy outputs decode within this PSNR (dB) of the original, over its dynamic range…"""
SMALL_FRAME_PSNR_BOUND = 20.0
"""…or this one for frames under 64 × 64 pixels, where the codestream headers eat the budget of a
fixed compression ratio (a 32 × 32 JPEG 2000 frame at 10:1 keeps 100 bytes for its data)."""


def _psnr_bound(array: np.ndarray[Any, Any]) -> float:
    rows, columns = (
        array.shape[-3:-1] if array.ndim >= 3 and array.shape[-1] == 3 else array.shape[-2:]
    )
    return PSNR_BOUND if rows * columns >= 64 * 64 else SMALL_FRAME_PSNR_BOUND


LOSSLESS_TARGETS = sorted(LITTLE_ENDIAN_NATIVE | LOSSLESS_COMPRESSED)
FRAME_TARGETS = sorted(
    {
        ExplicitVRLittleEndian,
        JPEGBaseline8Bit,
        JPEGExtended12Bit,
        JPEGLossless,
        JPEGLosslessSV1,
        JPEGLSLossless,
        JPEGLSNearLossless,
        JPEG2000Lossless,
        JPEG2000,
        RLELossless,
    }
)
"""The frame syntaxes of dicomweb-conformance.md §4.2 this store writes."""


def _read(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


@cache
def _reference(path: Path) -> np.ndarray[Any, Any] | None:
    """pydicom's decoding of the stored file; ``None`` when pydicom cannot decode it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _read(path).pixel_array
    except Exception:
        return None


def _kind(dataset: Dataset) -> tuple[Any, ...]:
    return (
        dataset.file_meta.TransferSyntaxUID,
        dataset.get("PhotometricInterpretation"),
        dataset.get("SamplesPerPixel"),
        dataset.get("BitsAllocated"),
        dataset.get("BitsStored"),
        dataset.get("PixelRepresentation"),
        int(dataset.get("NumberOfFrames", 1) or 1) > 1,
    )


def _image_corpus() -> list[Path]:
    """One decodable Part 10 image file of each kind."""
    chosen: dict[tuple[Any, ...], Path] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in corpus():
            if path.stat().st_size > MAX_SIZE:
                continue
            try:
                dataset = _read(path)
            except Exception:
                continue
            if "TransferSyntaxUID" not in getattr(dataset, "file_meta", {}):
                continue
            if describe_pixels(dataset) is None or _reference(path) is None:
                continue
            chosen.setdefault(_kind(dataset), path)
    return sorted(chosen.values())


IMAGES = _image_corpus()


def _id(value: object) -> str:
    return corpus_id(value) if isinstance(value, Path) else str(value)


def _decoded(data: bytes) -> tuple[Dataset, np.ndarray[Any, Any]]:
    dataset = pydicom.dcmread(io.BytesIO(data))
    return dataset, dataset.pixel_array


def _psnr(original: np.ndarray[Any, Any], result: np.ndarray[Any, Any]) -> float:
    original = original.astype(np.float64)
    error = np.mean((original - result.astype(np.float64)) ** 2)
    peak = max(float(original.max() - original.min()), 1.0)
    return math.inf if error == 0 else 10 * math.log10(peak**2 / error)


def _transcode(path: Path, target: str, **options: Any) -> bytes:
    with path.open("rb") as stream:
        return transcode.transcode(stream, target, **options)


# -- the corpus, instance by instance ------------------------------------------------------------


def test_corpus_covers_the_syntaxes_and_pixel_kinds() -> None:
    datasets = [_read(path) for path in IMAGES]
    syntaxes = {dataset.file_meta.TransferSyntaxUID for dataset in datasets}
    assert {
        ExplicitVRBigEndian,
        ImplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
        RLELossless,
        JPEGBaseline8Bit,
        JPEGLosslessSV1,
        JPEGLSLossless,
        JPEGLSNearLossless,
        JPEG2000Lossless,
        JPEG2000,
    } <= syntaxes
    assert any(int(d.get("NumberOfFrames", 1) or 1) > 1 for d in datasets)
    assert any(d.SamplesPerPixel == 3 for d in datasets)
    assert any(d.PixelRepresentation == 1 for d in datasets)
    assert any(d.BitsStored < d.BitsAllocated for d in datasets)


@pytest.mark.parametrize("target", LOSSLESS_TARGETS, ids=_id)
@pytest.mark.parametrize("path", IMAGES, ids=_id)
def test_lossless_targets_keep_the_pixels(path: Path, target: str) -> None:
    source = _read(path)
    pixels = describe_pixels(source)
    capability = transcode_capability(
        source.file_meta.TransferSyntaxUID, target, pixels, lossless_from_lossy=True
    )
    if not capability.possible:
        with pytest.raises(TranscodeError) as refused:
            _transcode(path, target, lossless_from_lossy=True)
        assert refused.value.message == capability.reason
        return
    output, array = _decoded(_transcode(path, target, lossless_from_lossy=True))
    assert output.file_meta.TransferSyntaxUID == target
    np.testing.assert_array_equal(array, _reference(path))
    assert output.SOPInstanceUID == source.SOPInstanceUID
    assert output.get("NumberOfFrames") == source.get("NumberOfFrames")
    if capability.output is not None and target != source.file_meta.TransferSyntaxUID:
        assert output.PhotometricInterpretation == capability.output.photometric_interpretation


@pytest.mark.parametrize("target", sorted(LOSSY_TARGETS), ids=_id)
@pytest.mark.parametrize("path", IMAGES, ids=_id)
def test_lossy_targets_stay_close(path: Path, target: str) -> None:
    source = _read(path)
    capability = transcode_capability(
        source.file_meta.TransferSyntaxUID, target, describe_pixels(source)
    )
    if not capability.possible:
        with pytest.raises(TranscodeError):
            _transcode(path, target)
        return
    output, array = _decoded(_transcode(path, target))
    assert output.file_meta.TransferSyntaxUID == target
    reference = _reference(path)
    assert reference is not None and array.shape == reference.shape
    assert _psnr(reference, array) > _psnr_bound(reference)
    if target != source.file_meta.TransferSyntaxUID:
        assert output.LossyImageCompression == "01"
        methods = np.atleast_1d(output.LossyImageCompressionMethod)
        assert (
            methods[-1]
            == {
                JPEGBaseline8Bit: "ISO_10918_1",
                JPEGExtended12Bit: "ISO_10918_1",
                JPEGLSNearLossless: "ISO_14495_1",
                JPEG2000: "ISO_15444_1",
            }[target]
        )
        # Uncompressed over compressed size: under 1 for the tiniest frames.
        assert float(np.atleast_1d(output.LossyImageCompressionRatio)[-1]) > 0


def test_the_supported_pairs_of_typical_images() -> None:
    """What must be possible for a CT, an RGB photo and a JPEG Baseline colour multi-frame."""
    ct = describe_pixels(_read(DATA_ROOT / "test_files" / "CT_small.dcm"))
    rgb = describe_pixels(_read(DATA_ROOT / "test_files" / "examples_rgb_color.dcm"))
    ybr = describe_pixels(_read(DATA_ROOT / "test_files" / "examples_ybr_color.dcm"))
    explicit = ExplicitVRLittleEndian
    everything_lossless = LITTLE_ENDIAN_NATIVE | LOSSLESS_COMPRESSED
    assert set(target_syntaxes(explicit, ct)) == everything_lossless | {JPEG2000}
    assert set(target_syntaxes(explicit, rgb)) == everything_lossless | {
        JPEGBaseline8Bit,
        JPEGLSNearLossless,
        JPEG2000,
    }
    assert set(target_syntaxes(JPEGBaseline8Bit, ybr)) == LITTLE_ENDIAN_NATIVE | {
        JPEGBaseline8Bit,
        JPEGLSNearLossless,
        JPEG2000,
    }
    assert set(target_syntaxes(JPEGBaseline8Bit, ybr, lossless_from_lossy=True)) == (
        LITTLE_ENDIAN_NATIVE
        | LOSSLESS_COMPRESSED
        | {JPEGBaseline8Bit, JPEGLSNearLossless, JPEG2000}
    )


# -- frames --------------------------------------------------------------------------------------

FRAME_FILES = [
    "CT_small.dcm",
    "MR_small_bigendian.dcm",
    "SC_rgb_rle_2frame.dcm",
    "SC_rgb_rle_16bit_2frame.dcm",
    "SC_rgb_small_odd.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "examples_ybr_color.dcm",
    "JPEG2000.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "SC_rgb_jpeg_gdcm.dcm",
    "rtdose.dcm",
    "examples_palette.dcm",
]


def _stored_frames(path: Path) -> list[bytes]:
    header = read_instance(path)
    assert header.frames is not None, header.frames_unavailable
    data = path.read_bytes()
    return [b"".join(data[o : o + n] for o, n in ranges) for ranges in header.frames]


def _frame_array(data: bytes, target: str, output: PixelDescription) -> np.ndarray[Any, Any]:
    """A frame sent in ``target``, decoded by pydicom as the output description says."""
    array, _ = codecs.decode_frame(data, target, raw=False, **output.decoding_options())
    return array


@pytest.mark.parametrize("target", FRAME_TARGETS, ids=_id)
@pytest.mark.parametrize("name", FRAME_FILES)
def test_frames_in_other_syntaxes(name: str, target: str) -> None:
    path = DATA_ROOT / "test_files" / name
    dataset = _read(path)
    source = dataset.file_meta.TransferSyntaxUID
    pixels = describe_pixels(dataset)
    assert pixels is not None
    capability = transcode_capability(source, target, pixels, lossless_from_lossy=True)
    frames = _stored_frames(path)
    if not capability.possible:
        with pytest.raises(TranscodeError):
            frame_in_syntax(frames[0], source, pixels, target, lossless_from_lossy=True)
        return
    assert capability.output is not None
    reference = _reference(path)
    assert reference is not None
    if pixels.number_of_frames == 1:
        reference = reference[np.newaxis]
    for index in sorted({0, len(frames) - 1}):
        sent = frame_in_syntax(frames[index], source, pixels, target, lossless_from_lossy=True)
        array = _frame_array(sent, target, capability.output)
        if UID(target) in LOSSY_TARGETS and target != source:
            assert _psnr(reference[index], array) > _psnr_bound(reference[index])
        else:
            np.testing.assert_array_equal(array, reference[index])


def test_a_frame_as_stored_is_returned_as_it_is() -> None:
    path = DATA_ROOT / "test_files" / "JPEG2000.dcm"
    pixels = describe_pixels(_read(path))
    assert pixels is not None
    frame = _stored_frames(path)[0]
    assert frame_in_syntax(frame, JPEG2000, pixels, JPEG2000) is frame
    assert frame_in_syntax(frame, JPEG2000, pixels, "*") is frame


def test_a_deflated_instance_frame_arrives_inflated() -> None:
    path = DATA_ROOT / "test_files" / "image_dfl.dcm"
    dataset = _read(path)
    pixels = describe_pixels(dataset)
    assert pixels is not None
    native = bytes(dataset.PixelData)
    sent = frame_in_syntax(native, DeflatedExplicitVRLittleEndian, pixels, JPEGLSLossless)
    array, _ = codecs.decode_frame(sent, JPEGLSLossless, raw=False, **pixels.decoding_options())
    np.testing.assert_array_equal(array, dataset.pixel_array)
    assert frame_in_syntax(native, DeflatedExplicitVRLittleEndian, pixels, ExplicitVRLittleEndian)


# -- rules ---------------------------------------------------------------------------------------


def _pixels(**changes: Any) -> PixelDescription:
    values: dict[str, Any] = {
        "rows": 512,
        "columns": 512,
        "samples_per_pixel": 1,
        "photometric_interpretation": "MONOCHROME2",
        "bits_allocated": 16,
        "bits_stored": 12,
        "pixel_representation": 0,
    }
    values.update(changes)
    return PixelDescription(**values)


def test_the_stored_syntax_and_the_wildcard_never_transcode() -> None:
    for target in ("*", JPEG2000):
        capability = transcode_capability(JPEG2000, target, _pixels(bits_allocated=1))
        assert capability.possible and not capability.decode


def test_one_bit_and_float_pixels_only_move_between_native_syntaxes() -> None:
    for pixels in (
        _pixels(bits_allocated=1, bits_stored=1),
        _pixels(pixel_keyword="FloatPixelData", bits_allocated=32, bits_stored=32),
    ):
        assert can_transcode(ExplicitVRLittleEndian, ImplicitVRLittleEndian, pixels)
        assert can_transcode(ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian, pixels)
        for target in LOSSLESS_COMPRESSED | LOSSY_TARGETS:
            reason = transcode_capability(ExplicitVRLittleEndian, target, pixels).reason
            assert reason is not None and "uncompressed" in reason


def test_colour_deeper_than_8_bits_never_goes_to_jpeg() -> None:
    rgb16 = _pixels(samples_per_pixel=3, photometric_interpretation="RGB", bits_stored=16)
    for target in (JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1):
        reason = transcode_capability(ExplicitVRLittleEndian, target, rgb16).reason
        assert reason is not None and "Non-monochrome" in reason
    assert can_transcode(ExplicitVRLittleEndian, JPEGLosslessSV1, _pixels(bits_stored=16))
    assert can_transcode(ExplicitVRLittleEndian, JPEG2000Lossless, rgb16)


def test_lossy_pixels_go_lossless_only_when_the_client_accepts_it() -> None:
    jpeg = _pixels(bits_allocated=8, bits_stored=8)
    flagged = _pixels(lossy_image_compression="01")
    for source, pixels in ((JPEGBaseline8Bit, jpeg), (ExplicitVRLittleEndian, flagged)):
        for target in LOSSLESS_COMPRESSED:
            refused = transcode_capability(source, target, pixels)
            assert refused.reason is not None and "lossy compressed" in refused.reason
            assert can_transcode(source, target, pixels, lossless_from_lossy=True)
        for target in LITTLE_ENDIAN_NATIVE | {JPEG2000}:
            assert can_transcode(source, target, pixels)
    # JPEG 2000 and JPEG-LS near-lossless may hold lossless data: (0028,2110) "00" says so.
    assert can_transcode(JPEG2000, JPEG2000Lossless, _pixels(lossy_image_compression="00"))
    assert not can_transcode(JPEG2000, JPEG2000Lossless, _pixels())


def test_lossy_source_keeps_its_flag_when_decompressed() -> None:
    dataset = _read(DATA_ROOT / "test_files" / "SC_rgb_jpeg_dcmtk.dcm")
    del dataset.LossyImageCompression, dataset.LossyImageCompressionMethod
    stored = io.BytesIO()
    dataset.save_as(stored)
    stored.seek(0)
    output, _ = _decoded(transcode.transcode(stored, ExplicitVRLittleEndian))
    assert output.LossyImageCompression == "01"
    assert output.LossyImageCompressionMethod == "ISO_10918_1"
    assert output.PhotometricInterpretation == "RGB"


def test_lossy_output_appends_to_the_compression_history() -> None:
    path = DATA_ROOT / "test_files" / "examples_ybr_color.dcm"
    before = _read(path)
    assert before.LossyImageCompression == "01"
    output, _ = _decoded(_transcode(path, JPEG2000))
    assert output.LossyImageCompression == "01"
    assert list(output.LossyImageCompressionRatio)[:-1] == list(
        np.atleast_1d(before.LossyImageCompressionRatio)
    )
    assert list(output.LossyImageCompressionMethod) == ["ISO_10918_1", "ISO_15444_1"]
    assert output.PhotometricInterpretation == "YBR_ICT"


def test_syntaxes_that_cannot_be_written_or_read_are_refused() -> None:
    for target in (
        ExplicitVRBigEndian,
        "1.2.840.10008.1.2.4.201",  # HTJ2K Lossless
        "1.2.840.10008.1.2.4.110",  # JPEG XL Lossless
        "1.2.840.10008.1.2.8.1",  # Deflated Image Frame Compression
        "1.2.3.4",
    ):
        reason = transcode_capability(ExplicitVRLittleEndian, target, _pixels()).reason
        assert reason is not None and "cannot be produced" in reason
    reason = transcode_capability("1.2.840.10008.1.2.4.100", ExplicitVRLittleEndian).reason
    assert reason is not None and "decodes" in reason  # MPEG2: no decoder


def test_broken_image_pixel_modules_only_move_between_native_syntaxes() -> None:
    pixels = describe_pixels({"7FE00010": {"vr": "OW"}, "00280010": {"vr": "US", "Value": [4]}})
    assert pixels is not None and pixels.problem is not None
    assert can_transcode(ExplicitVRLittleEndian, ImplicitVRLittleEndian, pixels)
    assert can_transcode(ExplicitVRBigEndian, ExplicitVRLittleEndian, pixels)  # OW: by words
    reason = transcode_capability(ExplicitVRLittleEndian, RLELossless, pixels).reason
    assert reason is not None and "lacks" in reason


def test_transcode_raises_a_clear_error_for_a_refused_pair() -> None:
    path = DATA_ROOT / "test_files" / "liver_1frame.dcm"  # 1-bit
    with pytest.raises(TranscodeError, match="1-bit") as refused:
        _transcode(path, JPEG2000Lossless)
    assert isinstance(refused.value, NotAcceptable) and refused.value.http_status == 406


def test_a_codec_failure_is_a_transcode_error_not_a_crash() -> None:
    dataset = _dataset(np.zeros((40, 40), np.uint16))
    dataset.file_meta.TransferSyntaxUID = JPEGLSLossless
    dataset.PixelData = encapsulate([b"\xff\xd8 not a JPEG-LS codestream \xff\xd9"])
    data = _write(dataset)
    with pytest.raises(TranscodeError, match="Decoding JPEG-LS"):
        transcode.transcode(io.BytesIO(data), ExplicitVRLittleEndian)
    pixels = describe_pixels(dataset)
    assert pixels is not None
    with pytest.raises(TranscodeError, match="Decoding JPEG-LS"):
        frame_in_syntax(b"garbage", JPEGLSLossless, pixels, JPEG2000Lossless)


def test_a_missing_plugin_makes_the_pair_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    path = DATA_ROOT / "test_files" / "CT_small.dcm"
    pixels = describe_pixels(_read(path))
    assert can_transcode(ExplicitVRLittleEndian, JPEG2000Lossless, pixels)
    assert can_transcode(JPEG2000Lossless, ExplicitVRLittleEndian, pixels)
    original_encoders = codecs.encoder_plugins
    original_decoders = codecs.decoder_plugins

    def no_openjpeg(function: Any) -> Any:
        return lambda uid: () if UID(uid) in (JPEG2000, JPEG2000Lossless) else function(uid)

    monkeypatch.setattr(codecs, "encoder_plugins", no_openjpeg(original_encoders))
    monkeypatch.setattr(codecs, "decoder_plugins", no_openjpeg(original_decoders))
    assert not can_transcode(ExplicitVRLittleEndian, JPEG2000Lossless, pixels)
    assert not can_transcode(JPEG2000Lossless, ExplicitVRLittleEndian, pixels)
    assert can_transcode(ExplicitVRLittleEndian, JPEGLSLossless, pixels)
    reason = transcode_capability(ExplicitVRLittleEndian, JPEG2000, pixels).reason
    assert reason is not None and "No codec installed" in reason
    with pytest.raises(TranscodeError, match="No codec installed"):
        _transcode(path, JPEG2000Lossless)
    support = {codec.transfer_syntax: codec for codec in codecs.available()}
    assert support[JPEG2000Lossless].encoders == ()
    assert support[JPEGLSLossless].encoders == ("pyjpegls",)


def test_available_codecs_are_discoverable() -> None:
    support = {codec.transfer_syntax: codec for codec in codecs.available()}
    assert support[JPEGLosslessSV1].encoders == ("numpy",)
    assert support[JPEGBaseline8Bit].encoders == ("pillow",)
    assert "pylibjpeg" in support[JPEGLosslessSV1].decoders
    assert support[ExplicitVRBigEndian].decoders == ("pydicom",)
    assert support["1.2.840.10008.1.2.4.201"].encoders == ()  # HTJ2K: decode only
    assert support["1.2.840.10008.1.2.4.201"].decoders
    for codec in support.values():
        assert codec.decoders == codecs.decoder_plugins(codec.transfer_syntax)
        if "gdcm" in codec.decoders:
            assert codec.decoders[-1] == "gdcm"


def test_without_a_description_only_syntaxes_and_plugins_count() -> None:
    # The existing two-argument call: no pixel data, or not known.
    assert can_transcode(ExplicitVRLittleEndian, ImplicitVRLittleEndian)
    assert can_transcode(ExplicitVRBigEndian, ExplicitVRLittleEndian)
    assert can_transcode(ExplicitVRLittleEndian, JPEG2000Lossless)
    assert not can_transcode(JPEGBaseline8Bit, RLELossless)
    assert not can_transcode(ExplicitVRLittleEndian, ExplicitVRBigEndian)


def test_an_instance_without_pixel_data_changes_encoding_only() -> None:
    data = _write(_dataset(None))
    output = pydicom.dcmread(io.BytesIO(transcode.transcode(io.BytesIO(data), JPEG2000Lossless)))
    assert output.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert output.PatientName == "Test^Transcode"


# -- describing pixels ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", IMAGES, ids=_id)
def test_the_stored_json_describes_the_pixels_as_the_dataset_does(path: Path) -> None:
    dataset = _read(path)
    document = to_dicom_json(dataset, lambda tag_path: f"bulk/{tag_path}")
    assert describe_pixels(document) == describe_pixels(dataset)


def test_description_of_an_instance_without_pixels_is_none() -> None:
    assert describe_pixels({"00100010": {"vr": "PN"}}) is None
    assert describe_pixels(Dataset()) is None


def test_description_reads_the_json_forms() -> None:
    pixels = describe_pixels(
        {
            "00280002": {"vr": "US", "Value": [3]},
            "00280004": {"vr": "CS", "Value": ["RGB"]},
            "00280006": {"vr": "US", "Value": [1]},
            "00280008": {"vr": "IS", "Value": ["12"]},
            "00280010": {"vr": "US", "Value": [64]},
            "00280011": {"vr": "US", "Value": [32]},
            "00280100": {"vr": "US", "Value": [8]},
            "00280101": {"vr": "US", "Value": [8]},
            "00280103": {"vr": "US", "Value": [0]},
            "00282110": {"vr": "CS", "Value": ["01"]},
            "7FE00010": {"vr": "OB", "BulkDataURI": "https://example/bulk/7FE00010"},
        }
    )
    assert pixels == PixelDescription(
        rows=64,
        columns=32,
        samples_per_pixel=3,
        photometric_interpretation="RGB",
        bits_allocated=8,
        bits_stored=8,
        pixel_representation=0,
        planar_configuration=1,
        number_of_frames=12,
        pixel_vr="OB",
        lossy_image_compression="01",
    )
    float_pixels = describe_pixels(
        {
            "00280002": {"vr": "US", "Value": [1]},
            "00280004": {"vr": "CS", "Value": ["MONOCHROME2"]},
            "00280010": {"vr": "US", "Value": [4]},
            "00280011": {"vr": "US", "Value": [4]},
            "00280100": {"vr": "US", "Value": [32]},
            "7FE00008": {"vr": "OF", "BulkDataURI": "bulk"},
        }
    )
    assert float_pixels is not None and float_pixels.is_float and float_pixels.problem is None


# -- constructed instances -----------------------------------------------------------------------


def _dataset(pixels: np.ndarray[Any, Any] | None, **attributes: Any) -> Dataset:
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    dataset.SOPInstanceUID = generate_uid()
    dataset.PatientName = "Test^Transcode"
    if pixels is not None:
        frames = pixels.shape[0] if pixels.ndim == 3 else 1
        dataset.Rows, dataset.Columns = pixels.shape[-2:]
        dataset.SamplesPerPixel = 1
        dataset.PhotometricInterpretation = "MONOCHROME2"
        dataset.BitsAllocated = pixels.dtype.itemsize * 8
        dataset.BitsStored = pixels.dtype.itemsize * 8
        dataset.HighBit = dataset.BitsStored - 1
        dataset.PixelRepresentation = int(pixels.dtype.kind == "i")
        if frames > 1:
            dataset.NumberOfFrames = frames
        dataset.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return dataset


def _write(dataset: Dataset, *, big_endian: bool = False) -> bytes:
    output = io.BytesIO()
    if big_endian:
        dataset.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    pydicom.dcmwrite(output, dataset, enforce_file_format=True)
    return output.getvalue()


def test_big_endian_words_are_swapped_everywhere() -> None:
    values = np.arange(-200, 200, dtype=np.int16).reshape(2, 10, 20)
    dataset = _dataset(values)
    dataset.PixelData = values.astype(">i2").tobytes()
    lut = np.arange(256, dtype=np.uint16) * 3
    dataset.RedPaletteColorLookupTableData = lut.astype(">u2").tobytes()
    dataset["RedPaletteColorLookupTableData"].VR = "OW"
    data = _write(dataset, big_endian=True)
    output, array = _decoded(transcode.transcode(io.BytesIO(data), ExplicitVRLittleEndian))
    np.testing.assert_array_equal(array, values)
    assert output.RedPaletteColorLookupTableData == lut.astype("<u2").tobytes()
    assert output.PatientName == "Test^Transcode"


def test_big_endian_8_bit_ow_frames_of_odd_length_are_refused() -> None:
    path = DATA_ROOT / "test_files" / "SC_rgb_small_odd_big_endian.dcm"  # 3x3 RGB, OW
    pixels = describe_pixels(_read(path))
    assert pixels is not None and pixels.pixel_vr == "OW"
    with pytest.raises(TranscodeError, match="odd number"):
        frame_in_syntax(
            _stored_frames(path)[0], ExplicitVRBigEndian, pixels, ExplicitVRLittleEndian
        )
    _, array = _decoded(_transcode(path, ExplicitVRLittleEndian))  # the whole value is fine
    np.testing.assert_array_equal(array, _reference(path))


def test_float_pixels_move_between_native_syntaxes() -> None:
    values = np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8)
    dataset = _dataset(None)
    dataset.Rows = dataset.Columns = 8
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = 32
    dataset.FloatPixelData = values.astype(">f4").tobytes()
    data = _write(dataset, big_endian=True)
    output, array = _decoded(transcode.transcode(io.BytesIO(data), ImplicitVRLittleEndian))
    assert output.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    np.testing.assert_array_equal(array, values)
    with pytest.raises(TranscodeError, match="float"):
        transcode.transcode(io.BytesIO(data), RLELossless)


def test_multi_frame_is_decoded_one_frame_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.arange(6 * 40 * 40, dtype=np.uint16).reshape(6, 40, 40) % 4096
    data = _write(_dataset(values, BitsStored=12))
    shapes: list[tuple[int, ...]] = []
    original = codecs.encode_frame

    def spy(array: np.ndarray[Any, Any], *args: Any, **kwargs: Any) -> bytes:
        shapes.append(array.shape)
        return original(array, *args, **kwargs)

    monkeypatch.setattr(codecs, "encode_frame", spy)
    output, array = _decoded(transcode.transcode(io.BytesIO(data), JPEGLosslessSV1))
    assert shapes == [(40, 40)] * 6
    np.testing.assert_array_equal(array, values)
    fragments = list(generate_frames(output.PixelData, number_of_frames=6))
    assert len(fragments) == 6


# -- the JPEG Lossless encoder -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "bits_allocated", "bits_stored", "signed"),
    [
        ((1, 1), 8, 8, False),
        ((3, 5), 8, 2, False),
        ((7, 3, 3), 8, 8, False),
        ((33, 17), 16, 16, False),
        ((33, 17), 16, 16, True),
        ((16, 9), 16, 12, True),
        ((9, 16, 3), 16, 16, False),
    ],
)
@pytest.mark.parametrize("content", ["random", "extremes", "flat"])
def test_jpeg_lossless_round_trips(
    shape: tuple[int, ...], bits_allocated: int, bits_stored: int, signed: bool, content: str
) -> None:
    rng = np.random.default_rng(sum(shape) + bits_stored)
    low, high = (
        (-(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1)
        if signed
        else (
            0,
            (1 << bits_stored) - 1,
        )
    )
    if content == "random":
        values = rng.integers(low, high + 1, size=shape)
    elif content == "extremes":  # differences of ±2**15 and 2**16 wrap-arounds
        values = rng.choice([low, high], size=shape)
    else:
        values = np.full(shape, low)
    dtype = np.dtype(f"{'i' if signed else 'u'}{bits_allocated // 8}")
    array = values.astype(dtype)
    photometric = "RGB" if len(shape) == 3 else "MONOCHROME2"
    options = {
        "rows": shape[0],
        "columns": shape[1],
        "samples_per_pixel": 1 if len(shape) == 2 else shape[2],
        "bits_allocated": bits_allocated,
        "bits_stored": bits_stored,
        "pixel_representation": int(signed),
        "photometric_interpretation": photometric,
        "planar_configuration": 0,
    }
    encoded = codecs.encode_frame(
        array,
        JPEGLosslessSV1,
        photometric_interpretation=photometric,
        bits_allocated=bits_allocated,
        bits_stored=bits_stored,
        pixel_representation=int(signed),
    )
    assert encoded[:2] == b"\xff\xd8" and encoded[-2:] == b"\xff\xd9"
    decoded, _ = codecs.decode_frame(encoded, JPEGLosslessSV1, raw=True, **options)
    np.testing.assert_array_equal(decoded, array)


def test_huffman_code_lengths_are_limited_to_16_bits() -> None:
    fibonacci = [1, 1]
    while len(fibonacci) < 17:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    bits, values = codecs._huffman_table(fibonacci)
    assert len(bits) == 16 and sum(bits) == 17 and sorted(values) == list(range(17))
    # Kraft: the lengths leave room for the reserved all-ones code.
    assert sum(count / 2 ** (length + 1) for length, count in enumerate(bits)) < 1


def test_jpeg_lossless_frames_decode_with_the_sos_predictor_one() -> None:
    encoded = codecs.encode_frame(
        np.zeros((4, 4), np.uint8),
        JPEGLossless,
        photometric_interpretation="MONOCHROME2",
        bits_allocated=8,
        bits_stored=8,
        pixel_representation=0,
    )
    sos = encoded.index(b"\xff\xda")
    assert encoded[sos + 4 : sos + 7] == b"\x01\x01\x00"  # one component, table 0
    assert encoded[sos + 7] == 1  # Ss: selection value 1
    assert encapsulate([encoded])

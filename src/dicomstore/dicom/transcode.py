"""Changing the transfer syntax of an instance or of one frame (PS3.5 §8 and §10, PS3.18 §8.7.3).

WADO-RS sends an instance, or a frame, in the transfer syntax the client asks for
(``dicomweb-conformance.md`` §4.1, §4.2). The retrieve service decides *before* streaming whether
it can (:func:`can_transcode`, with the pixels described from the stored DICOM JSON by
:func:`describe_pixels`), answers 406 when it cannot, and otherwise calls :func:`transcode` (a whole
Part 10 file) or :func:`frame_in_syntax` (one frame). Codecs are plugins
(:mod:`dicomstore.dicom.codecs`): a missing one makes :func:`can_transcode` say no, never crashes.

The rules, checked by :func:`transcode_capability` in this order, each refusal with its reason:

1. ``*`` and the syntax the object already has never transcode (spec §4.6).
2. The target must be one this module writes (:data:`TARGET_SYNTAXES`): the native little-endian
   syntaxes and RLE Lossless, JPEG Baseline, JPEG Extended (8-bit samples), JPEG Lossless (.57 and
   SV1 .70), JPEG-LS lossless and near-lossless, JPEG 2000 lossless and lossy. Not Explicit VR Big
   Endian (retired, and forbidden by PS3.18 §8.7.3), HTJ2K, JPEG XL or Deflated Image Frame
   Compression, which nothing installed encodes.
3. Between native syntaxes only the encoding of the data set changes (big endian values are
   swapped to little endian): always possible, whatever the pixels.
4. Otherwise the pixels are decoded, so the Image Pixel module must make sense, and 1-bit and
   float pixel data are refused (they only move between native syntaxes, spec §4.6).
5. The source syntax needs an installed decoder, the target an installed encoder.
6. Non-monochrome images of more than 8 bits stored never go to a JPEG syntax (spec §4.6).
7. Pixels that were ever lossy compressed (a lossy source syntax, or Lossy Image Compression
   (0028,2110) ``01``) are not re-encoded in a *lossless compressed* syntax unless the caller says
   the client accepts it (``lossless_from_lossy=True``): the syntax would claim a fidelity the
   pixels do not have. Decompressing them to a native syntax is allowed — it is Google's default
   answer to a plain ``application/dicom`` Accept — and keeps Lossy Image Compression ``01``
   (PS3.3 C.7.6.1.1.5), as DCMTK does.
8. Lossy targets refuse PALETTE COLOR (lossy coding of palette indices makes other colours), and
   JPEG-LS near-lossless refuses signed pixels (an error of NEAR can flip the sign, PS3.5 §8.2.3).
9. The pixels, as the encoder would receive them, must fit the target's PS3.5 §8.2 profile
   (:func:`dicomstore.dicom.codecs.fits_profile`) and the limits of the installed encoders:
   JPEG 2000 (openjpeg with 6 resolution levels) needs at least 32 × 32 pixels and 24 bits stored
   at most, JPEG-LS (pyjpegls) at least 256 samples per frame, JPEG Baseline and Extended 8-bit
   samples (Pillow), JPEG frames at most 65535 × 65535.

Colour (PS3.3 C.7.6.3.1.2, PS3.5 §8.2): lossy JPEG sources in YBR_FULL / YBR_FULL_422 are decoded
to RGB (the YCbCr there is the codec's colour transform); other YBR_FULL and YBR_FULL_422 pixels
keep their samples, up-sampled to YBR_FULL; JPEG 2000 YBR_RCT / YBR_ICT come out of the codec as
RGB. JPEG Baseline output is ``YBR_FULL_422`` for colour, JPEG 2000 output of RGB is ``YBR_RCT``
(lossless) or ``YBR_ICT`` (lossy) with the multiple component transform; all output is Planar
Configuration 0. Lossy output sets Lossy Image Compression ``01`` and appends to Lossy Image
Compression Ratio and Method (0028,2112), (0028,2114). UIDs are kept: the response must carry the
instance the client asked for.

Memory: the stored instance is read whole and the answer built in memory; pixels are decoded and
encoded one frame at a time, so a large multi-frame instance never has all its frames decoded at
once.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, Final

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, encapsulate_extended
from pydicom.uid import (
    HTJ2K,
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
)

from dicomstore.dicom import codecs
from dicomstore.errors import NotAcceptable

__all__ = [
    "J2K_COMPRESSION_RATIO",
    "JLS_NEAR",
    "JPEG_QUALITY",
    "LITTLE_ENDIAN_NATIVE",
    "LOSSLESS_COMPRESSED",
    "LOSSY_TARGETS",
    "NATIVE",
    "TARGET_SYNTAXES",
    "PixelDescription",
    "TranscodeCapability",
    "TranscodeError",
    "can_transcode",
    "describe_pixels",
    "frame_in_syntax",
    "target_syntaxes",
    "transcode",
    "transcode_capability",
]

LITTLE_ENDIAN_NATIVE: Final = frozenset(
    {ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
)
"""Native syntaxes that may be sent (PS3.18 §8.7.3 forbids big endian in web services)."""

NATIVE: Final = LITTLE_ENDIAN_NATIVE | {ExplicitVRBigEndian}
"""Uncompressed syntaxes (PS3.5 §8.1.1); big endian only as a source."""

LOSSLESS_COMPRESSED: Final = frozenset(
    {RLELossless, JPEGLossless, JPEGLosslessSV1, JPEGLSLossless, JPEG2000Lossless}
)
"""Targets that promise lossless compression (rule 7 of the module notes)."""

LOSSY_TARGETS: Final = frozenset(
    {JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSNearLossless, JPEG2000}
)
"""Targets whose encoding here loses information."""

TARGET_SYNTAXES: Final = LITTLE_ENDIAN_NATIVE | LOSSLESS_COMPRESSED | LOSSY_TARGETS
"""Every syntax this module can write, given the codec plugins (spec §4.1 and §4.2 lists)."""

JPEG_QUALITY: Final = 90
"""Pillow/libjpeg quality of JPEG Baseline and Extended output."""

JLS_NEAR: Final = 2
"""NEAR parameter (largest absolute error) of JPEG-LS near-lossless output."""

J2K_COMPRESSION_RATIO: Final = 10.0
"""Compression ratio asked of lossy JPEG 2000 output (one quality layer)."""

_JPEG_FAMILY: Final = frozenset(
    {JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1}
)
_JPEG_2000: Final = frozenset({JPEG2000Lossless, JPEG2000})
_DCT_JPEG: Final = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit})
# Lossy whatever the data set says; lossy unless (0028,2110) says "00".
_ALWAYS_LOSSY: Final = _DCT_JPEG
_MAYBE_LOSSY: Final = frozenset(
    {JPEGLSNearLossless, JPEG2000, HTJ2K, UID("1.2.840.10008.1.2.4.112")}
)
_LOSSY_METHOD: Final = {
    JPEGBaseline8Bit: "ISO_10918_1",
    JPEGExtended12Bit: "ISO_10918_1",
    JPEGLSNearLossless: "ISO_14495_1",
    JPEG2000: "ISO_15444_1",
}
_MONOCHROME: Final = frozenset({"MONOCHROME1", "MONOCHROME2"})
_PIXEL_KEYWORDS: Final = {
    0x7FE00010: "PixelData",
    0x7FE00008: "FloatPixelData",
    0x7FE00009: "DoubleFloatPixelData",
}
_SWAP_SIZES: Final = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_MIN_J2K_SIDE: Final = 32
_MIN_JLS_SAMPLES: Final = 256
_MAX_J2K_BITS: Final = 24
_MAX_JPEG_SIDE: Final = 0xFFFF


class TranscodeError(NotAcceptable):
    """The instance or frame cannot be produced in the asked syntax (HTTP 406).

    Raised by :func:`transcode` and :func:`frame_in_syntax` for pairs :func:`can_transcode`
    refuses, and when a codec fails on the data itself (corrupt pixel data, values outside
    Bits Stored); the message says why.
    """


@dataclass(frozen=True, slots=True)
class PixelDescription:
    """The Image Pixel module of an instance (PS3.3 C.7.6.3), as transcoding needs it.

    Attributes
    ----------
    rows, columns, samples_per_pixel : int
        (0028,0010), (0028,0011), (0028,0002).
    photometric_interpretation : str
        (0028,0004).
    bits_allocated, bits_stored : int
        (0028,0100), (0028,0101); for float pixel data Bits Stored is Bits Allocated.
    pixel_representation : int
        (0028,0103), 1 for signed samples.
    planar_configuration : int
        (0028,0006), 0 when absent.
    number_of_frames : int
        (0028,0008), 1 when absent.
    pixel_keyword : str
        ``PixelData``, ``FloatPixelData`` or ``DoubleFloatPixelData``.
    pixel_vr : str | None
        VR of the pixel data element when known (``OB``/``OW``; big endian 8-bit ``OW`` data
        has its bytes swapped in pairs).
    lossy_image_compression : str | None
        (0028,2110): ``01`` when the pixels were ever lossy compressed, ``00`` when not.
    problem : str | None
        Why the pixels cannot be decoded (a missing or inconsistent attribute); such pixels only
        move between native syntaxes.
    """

    rows: int
    columns: int
    samples_per_pixel: int
    photometric_interpretation: str
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    planar_configuration: int = 0
    number_of_frames: int = 1
    pixel_keyword: str = "PixelData"
    pixel_vr: str | None = None
    lossy_image_compression: str | None = None
    problem: str | None = None

    @property
    def is_float(self) -> bool:
        """Float or Double Float Pixel Data (PS3.3 C.7.6.24)."""
        return self.pixel_keyword != "PixelData"

    @property
    def is_monochrome(self) -> bool:
        return self.photometric_interpretation in _MONOCHROME

    def decoding_options(self) -> dict[str, Any]:
        """pydicom's decoding options for these pixels."""
        options: dict[str, Any] = {
            "rows": self.rows,
            "columns": self.columns,
            "samples_per_pixel": self.samples_per_pixel,
            "photometric_interpretation": self.photometric_interpretation,
            "bits_allocated": self.bits_allocated,
            "bits_stored": self.bits_stored,
            "pixel_keyword": self.pixel_keyword,
        }
        if not self.is_float:
            options["pixel_representation"] = self.pixel_representation
        if self.samples_per_pixel > 1:
            options["planar_configuration"] = self.planar_configuration
        if self.pixel_vr:
            options["pixel_vr"] = self.pixel_vr
        return options


@dataclass(frozen=True, slots=True)
class TranscodeCapability:
    """Whether, and how, pixels in ``source`` can be sent in ``target``.

    Attributes
    ----------
    source, target : str
        The stored and the asked Transfer Syntax UIDs.
    reason : str | None
        Why it cannot be done (a sentence for a 406 body); ``None`` when it can.
    decode : bool
        The pixel data is decoded (and, unless the target is native, re-encoded).
    lossy : bool
        The output loses information the stored pixels had.
    output : PixelDescription | None
        The pixels as sent (photometric interpretation and planar configuration may change),
        when a description was given.
    """

    source: str
    target: str
    reason: str | None = None
    decode: bool = False
    lossy: bool = False
    output: PixelDescription | None = None

    @property
    def possible(self) -> bool:
        return self.reason is None


# -- deciding ------------------------------------------------------------------------------------


def describe_pixels(source: Dataset | Mapping[str, Any]) -> PixelDescription | None:
    """The Image Pixel module of a data set or of its DICOM JSON (PS3.18 F.2); ``None`` without
    pixel data.

    Parameters
    ----------
    source : pydicom.dataset.Dataset | Mapping[str, Any]
        The data set, or its DICOM JSON object as stored at ingest (tags 00280002, 00280004,
        00280006, 00280008, 00280010, 00280011, 00280100, 00280101, 00280103, 00282110 and the
        presence of 7FE00008, 7FE00009 or 7FE00010 are read).

    Returns
    -------
    PixelDescription | None
        ``None`` when there is no top-level pixel data element. Missing or inconsistent values
        do not raise: they are reported in :attr:`PixelDescription.problem`.
    """
    read: _Reader = _DatasetReader(source) if isinstance(source, Dataset) else _JsonReader(source)
    present = [(tag, vr) for tag in _PIXEL_KEYWORDS if (vr := read.vr(tag)) is not None]
    if not present:
        return None
    tag, vr = present[0]
    keyword = _PIXEL_KEYWORDS[tag]
    is_float = keyword != "PixelData"
    values = {
        "rows": read.integer(0x00280010),
        "columns": read.integer(0x00280011),
        "samples_per_pixel": read.integer(0x00280002),
        "bits_allocated": read.integer(0x00280100),
        "bits_stored": read.integer(0x00280101),
        "pixel_representation": read.integer(0x00280103),
    }
    if is_float:
        values["bits_stored"] = values["bits_stored"] or values["bits_allocated"]
        values["pixel_representation"] = values["pixel_representation"] or 0
    photometric = (read.text(0x00280004) or "").strip().upper()
    problems = [name for name, value in values.items() if value is None]
    if not photometric:
        problems.append("photometric_interpretation")
    problem = None
    if len(present) > 1:
        problem = "more than one of Pixel Data, Float and Double Float Pixel Data is present"
    elif problems:
        problem = "the Image Pixel module lacks " + ", ".join(
            name.replace("_", " ") for name in problems
        )
    number_of_frames = read.integer(0x00280008)
    description = PixelDescription(
        rows=values["rows"] or 0,
        columns=values["columns"] or 0,
        samples_per_pixel=values["samples_per_pixel"] or 0,
        photometric_interpretation=photometric,
        bits_allocated=values["bits_allocated"] or 0,
        bits_stored=values["bits_stored"] or 0,
        pixel_representation=values["pixel_representation"] or 0,
        planar_configuration=read.integer(0x00280006) or 0,
        number_of_frames=number_of_frames if number_of_frames and number_of_frames > 0 else 1,
        pixel_keyword=keyword,
        pixel_vr=vr or None,
        lossy_image_compression=(read.text(0x00282110) or "").strip() or None,
        problem=problem,
    )
    if description.problem is None:
        description = replace(description, problem=_inconsistency(description))
    return description


def transcode_capability(
    source: str,
    target: str,
    pixels: PixelDescription | None = None,
    *,
    lossless_from_lossy: bool = False,
) -> TranscodeCapability:
    """Whether an instance stored in ``source`` can be sent in ``target``, and how.

    Parameters
    ----------
    source : str
        The stored Transfer Syntax UID.
    target : str
        The asked one, or ``*``.
    pixels : PixelDescription, optional
        The instance's pixels (:func:`describe_pixels`). ``None`` means no pixel data (or not
        known): the answer then rests on the syntaxes and the installed codecs alone, assuming
        the pixels would need them.
    lossless_from_lossy : bool
        The client accepts pixels that were lossy compressed in a lossless compressed syntax
        (rule 7 of the module notes).

    Returns
    -------
    TranscodeCapability
    """
    source_uid = UID(source)
    target_uid = UID(target)
    if target in ("*", source):
        return TranscodeCapability(source, target, output=pixels)

    def refuse(reason: str) -> TranscodeCapability:
        return TranscodeCapability(source, target, reason=reason)

    if target_uid not in TARGET_SYNTAXES:
        return refuse(
            f"Transfer syntax {_named(target_uid)} cannot be produced by this store; it can "
            "send " + ", ".join(sorted(TARGET_SYNTAXES)) + " (installed codecs permitting)."
        )
    if not source_uid.is_transfer_syntax:
        return refuse(f"The stored transfer syntax {source} is not a known transfer syntax.")
    if source_uid in NATIVE and target_uid in LITTLE_ENDIAN_NATIVE:
        return TranscodeCapability(source, target, output=pixels)
    if pixels is not None:
        if pixels.problem:
            return refuse(f"The pixel data cannot be decoded: {pixels.problem}.")
        if pixels.bits_allocated == 1 or pixels.is_float:
            kind = "1-bit" if pixels.bits_allocated == 1 else "float"
            return refuse(
                f"Images with {kind} pixel data only move between uncompressed transfer syntaxes."
            )
    if source_uid not in NATIVE and not codecs.can_decode(source_uid):
        return refuse(f"No codec installed here decodes {_named(source_uid)}.")
    source_lossy = _is_lossy(source_uid, pixels)
    if target_uid in LOSSLESS_COMPRESSED and source_lossy and not lossless_from_lossy:
        return refuse(
            "The pixel data was lossy compressed; re-encoding it in the lossless syntax "
            f"{_named(target_uid)} would hide that. Ask for an uncompressed or a lossy syntax, "
            "or transfer-syntax=*."
        )
    if target_uid not in NATIVE and not codecs.can_encode(target_uid):
        return refuse(f"No codec installed here encodes {_named(target_uid)}.")
    lossy = target_uid in LOSSY_TARGETS
    if pixels is None:
        return TranscodeCapability(source, target, decode=True, lossy=lossy)

    decoded = _decoded(pixels, source_uid)
    if target_uid in LITTLE_ENDIAN_NATIVE:
        return TranscodeCapability(source, target, decode=True, output=decoded)
    reason = _encoding_refusal(decoded, target_uid)
    if reason is not None:
        return refuse(reason)
    return TranscodeCapability(
        source, target, decode=True, lossy=lossy, output=_encoded(decoded, target_uid)
    )


def can_transcode(
    source: str,
    target: str,
    pixels: PixelDescription | None = None,
    *,
    lossless_from_lossy: bool = False,
) -> bool:
    """Whether an instance stored in ``source`` can be sent in ``target`` (``*``: as stored).

    See :func:`transcode_capability` for the parameters and the reason of a refusal.
    """
    return transcode_capability(
        source, target, pixels, lossless_from_lossy=lossless_from_lossy
    ).possible


def target_syntaxes(
    source: str, pixels: PixelDescription | None = None, *, lossless_from_lossy: bool = False
) -> tuple[str, ...]:
    """Every syntax an instance stored in ``source`` can be sent in, its own first.

    For the list of supported syntaxes a 406 may carry (PS3.18 §9.4.2.4).
    """
    others = sorted(
        str(target)
        for target in TARGET_SYNTAXES
        if target != source
        and can_transcode(source, target, pixels, lossless_from_lossy=lossless_from_lossy)
    )
    return (source, *others)


# -- doing ---------------------------------------------------------------------------------------


def transcode(stream: BinaryIO, target: str, *, lossless_from_lossy: bool = False) -> bytes:
    """The Part 10 file read from ``stream``, re-encoded in ``target``.

    Parameters
    ----------
    stream : BinaryIO
        The stored Part 10 file, positioned at its start.
    target : str
        The Transfer Syntax UID to send (``*`` or the stored one: the file as it is).
    lossless_from_lossy : bool
        As for :func:`transcode_capability`.

    Returns
    -------
    bytes
        The whole Part 10 file in ``target``.

    Raises
    ------
    TranscodeError
        The pair is refused (the reason of :func:`transcode_capability`) or a codec failed on
        the pixel data.
    """
    start = stream.tell()
    dataset = pydicom.dcmread(stream)
    source = UID(dataset.file_meta.TransferSyntaxUID)
    if target in ("*", source):
        stream.seek(start)
        return stream.read()
    target_uid = UID(target)
    pixels = describe_pixels(dataset)
    capability = transcode_capability(
        source, target_uid, pixels, lossless_from_lossy=lossless_from_lossy
    )
    if capability.reason is not None:
        raise TranscodeError(capability.reason)
    if pixels is not None and source in _ALWAYS_LOSSY:
        # Stored in a lossy syntax: say so if the data set does not (PS3.3 C.7.6.1.1.5).
        dataset.LossyImageCompression = "01"
        if "LossyImageCompressionMethod" not in dataset:
            _append(dataset, "LossyImageCompressionMethod", _LOSSY_METHOD[source])
    if pixels is not None and capability.decode:
        if target_uid in LITTLE_ENDIAN_NATIVE:
            _decode_pixels(dataset, source, pixels)
        else:
            _encode_pixels(dataset, source, pixels, target_uid)
    if source == ExplicitVRBigEndian:
        _swap_to_little_endian(dataset, None if capability.decode else pixels)
    # Parse every element still raw: its bytes were read in the source encoding, which may not
    # be the target's (or, in the odd file, even the one its own meta claims).
    for _ in dataset.iterall():
        pass
    dataset.file_meta.TransferSyntaxUID = target_uid
    output = io.BytesIO()
    # dcmwrite, unlike save_as, lets the byte order change (values swapped above).
    pydicom.dcmwrite(output, dataset, enforce_file_format=True)
    return output.getvalue()


def frame_in_syntax(
    frame: bytes,
    source_ts: str,
    pixels: PixelDescription,
    target_ts: str,
    *,
    lossless_from_lossy: bool = False,
) -> bytes:
    """One frame's bytes in another syntax: decoded, and re-encoded unless the target is native.

    Parameters
    ----------
    frame : bytes
        The stored frame: the native frame (for a deflated instance, the inflated one; 1-bit
        frames re-aligned to start on a byte), or the encoded frame's fragments joined.
    source_ts : str
        The stored Transfer Syntax UID.
    pixels : PixelDescription
        The instance's pixels (:func:`describe_pixels`).
    target_ts : str
        One of the frame syntaxes of spec §4.2 (``*``: the frame as given). For a native target
        the frame is little-endian pixels as :attr:`TranscodeCapability.output` describes them.
    lossless_from_lossy : bool
        As for :func:`transcode_capability`.

    Raises
    ------
    TranscodeError
        The pair is refused or a codec failed on the frame.
    """
    source = UID(source_ts)
    target = UID(target_ts)
    if target_ts in ("*", source_ts):
        return frame
    capability = transcode_capability(
        source, target, pixels, lossless_from_lossy=lossless_from_lossy
    )
    if capability.reason is not None:
        raise TranscodeError(capability.reason)
    if source in NATIVE and target in LITTLE_ENDIAN_NATIVE:
        if source != ExplicitVRBigEndian:
            return frame
        if len(frame) % 2 and pixels.bits_allocated == 8 and pixels.pixel_vr == "OW":
            raise TranscodeError(
                "A big endian frame of an odd number of 8-bit samples encoded as OW cannot be "
                "swapped on its own; retrieve the instance instead."
            )
        return _little_endian_pixels(frame, pixels.pixel_vr or "OB", pixels)
    if source in LITTLE_ENDIAN_NATIVE:
        source = ExplicitVRLittleEndian  # a deflated instance's frames arrive inflated
    options = pixels.decoding_options()
    try:
        array, properties = codecs.decode_frame(
            frame, source, raw=not _to_rgb(pixels, source), **options
        )
    except codecs.CodecError as exc:
        raise TranscodeError(str(exc)) from exc
    decoded = _described(pixels, properties)
    if target in LITTLE_ENDIAN_NATIVE:
        return _little_endian_bytes(array, decoded)
    return _encode_frame(array, decoded, target)[0]


# -- decisions, in detail ------------------------------------------------------------------------


def _is_lossy(source: UID, pixels: PixelDescription | None) -> bool:
    flag = pixels.lossy_image_compression if pixels is not None else None
    return flag == "01" or source in _ALWAYS_LOSSY or (source in _MAYBE_LOSSY and flag != "00")


def _to_rgb(pixels: PixelDescription, source: UID) -> bool:
    """Whether decoding converts YCbCr to RGB: only where the codec made the YCbCr."""
    return source in _DCT_JPEG and pixels.photometric_interpretation in (
        "YBR_FULL",
        "YBR_FULL_422",
    )


def _decoded(pixels: PixelDescription, source: UID) -> PixelDescription:
    """The pixels as decoding gives them (see the colour notes of the module)."""
    photometric = pixels.photometric_interpretation
    if photometric in ("YBR_FULL", "YBR_FULL_422"):
        photometric = "RGB" if _to_rgb(pixels, source) else "YBR_FULL"
    elif photometric in ("YBR_RCT", "YBR_ICT"):
        photometric = "RGB"
    return replace(pixels, photometric_interpretation=photometric, planar_configuration=0)


def _encoded(decoded: PixelDescription, target: UID) -> PixelDescription:
    """The pixels as the target holds them."""
    photometric = decoded.photometric_interpretation
    if decoded.samples_per_pixel == 3:
        if target in _DCT_JPEG:
            photometric = "YBR_FULL_422"
        elif target in _JPEG_2000 and photometric == "RGB":
            photometric = "YBR_RCT" if target == JPEG2000Lossless else "YBR_ICT"
    lossy = "01" if target in LOSSY_TARGETS else decoded.lossy_image_compression
    return replace(
        decoded,
        photometric_interpretation=photometric,
        planar_configuration=0,
        lossy_image_compression=lossy,
    )


def _encoding_refusal(decoded: PixelDescription, target: UID) -> str | None:
    """Why ``decoded`` pixels cannot be encoded in ``target`` (rules 6, 8 and 9)."""
    name = _named(target)
    if (
        target in _JPEG_FAMILY
        and not decoded.is_monochrome
        and max(decoded.bits_stored, decoded.bits_allocated) > 8
    ):
        return f"Non-monochrome images deeper than 8 bits cannot be sent in {name}."
    if target in LOSSY_TARGETS and decoded.photometric_interpretation == "PALETTE COLOR":
        return f"PALETTE COLOR indices cannot be lossy compressed ({name})."
    if target == JPEGLSNearLossless and decoded.pixel_representation == 1:
        return f"Signed pixels are not sent in {name}: the coding error could flip their sign."
    if target in _DCT_JPEG and decoded.bits_allocated != 8:
        return (
            f"{name} output is limited to 8-bit samples here (no 12-bit JPEG encoder); "
            "ask for a lossless syntax or an uncompressed one."
        )
    if target in _JPEG_FAMILY and max(decoded.rows, decoded.columns) > _MAX_JPEG_SIDE:
        return f"A {name} frame is at most {_MAX_JPEG_SIDE} pixels on a side."
    if target in _JPEG_2000:
        if min(decoded.rows, decoded.columns) < _MIN_J2K_SIDE:
            return (
                f"The installed JPEG 2000 encoder needs frames of at least {_MIN_J2K_SIDE} x "
                f"{_MIN_J2K_SIDE} pixels, not {decoded.rows} x {decoded.columns}."
            )
        if decoded.bits_stored > _MAX_J2K_BITS:
            return f"The installed JPEG 2000 encoder holds at most {_MAX_J2K_BITS} bits stored."
    if target in (JPEGLSLossless, JPEGLSNearLossless):
        samples = decoded.rows * decoded.columns * decoded.samples_per_pixel
        if samples < _MIN_JLS_SAMPLES:
            return (
                f"The installed JPEG-LS encoder needs frames of at least {_MIN_JLS_SAMPLES} "
                f"samples, not {samples}."
            )
    encoded = _encoded(decoded, target)
    # JPEG Baseline takes RGB or YBR_FULL in and makes YBR_FULL_422: check what comes out.
    if not codecs.fits_profile(
        target,
        photometric_interpretation=encoded.photometric_interpretation,
        samples_per_pixel=encoded.samples_per_pixel,
        pixel_representation=encoded.pixel_representation,
        bits_allocated=encoded.bits_allocated,
        bits_stored=encoded.bits_stored,
    ):
        return (
            f"{name} cannot hold {encoded.photometric_interpretation} pixels of "
            f"{encoded.samples_per_pixel} sample(s), {encoded.bits_stored} of "
            f"{encoded.bits_allocated} bits, "
            f"{'signed' if encoded.pixel_representation else 'unsigned'} (PS3.5 8.2)."
        )
    return None


def _inconsistency(pixels: PixelDescription) -> str | None:
    if min(pixels.rows, pixels.columns, pixels.samples_per_pixel) <= 0:
        return "Rows, Columns and Samples per Pixel must be positive"
    if pixels.bits_allocated != 1 and (pixels.bits_allocated <= 0 or pixels.bits_allocated % 8):
        return f"Bits Allocated {pixels.bits_allocated} is neither 1 nor a multiple of 8"
    if not 0 < pixels.bits_stored <= pixels.bits_allocated:
        return f"Bits Stored {pixels.bits_stored} does not fit Bits Allocated"
    if pixels.pixel_representation not in (0, 1):
        return f"Pixel Representation {pixels.pixel_representation} is neither 0 nor 1"
    if pixels.samples_per_pixel not in (1, 3):
        return f"Samples per Pixel {pixels.samples_per_pixel} is not 1 or 3"
    return None


# -- doing, in detail ----------------------------------------------------------------------------


def _frames(
    dataset: Dataset, source: UID, pixels: PixelDescription
) -> Iterator[tuple[np.ndarray[Any, Any], PixelDescription]]:
    """Each frame of the data set decoded, with what describes it; exactly Number of Frames."""
    produced = 0
    try:
        for array, properties in codecs.iter_decoded(
            dataset, source, raw=not _to_rgb(pixels, source)
        ):
            if produced == pixels.number_of_frames:
                break  # pydicom also yields fragments past Number of Frames
            produced += 1
            yield array, _described(pixels, properties)
    except codecs.CodecError as exc:
        raise TranscodeError(str(exc)) from exc
    if produced != pixels.number_of_frames:
        raise TranscodeError(
            f"The pixel data holds {produced} frames, not the {pixels.number_of_frames} that "
            "Number of Frames says."
        )


def _decode_pixels(dataset: Dataset, source: UID, pixels: PixelDescription) -> None:
    """Replace the pixel data by its native little-endian form."""
    chunks: list[bytes] = []
    described = _decoded(pixels, source)
    if pixels.bits_allocated == 1:
        # Frames of 1-bit pixels are packed across frame boundaries (PS3.5 8.1.1).
        bits = [array.ravel() for array, _ in _frames(dataset, source, pixels)]
        chunks.append(np.packbits(np.concatenate(bits), bitorder="little").tobytes())
    else:
        for array, described in _frames(dataset, source, pixels):
            chunks.append(_little_endian_bytes(array, described))
    data = b"".join(chunks)
    keyword = pixels.pixel_keyword
    dataset[keyword].value = data + b"\0" * (len(data) % 2)
    element = dataset[keyword]
    element.is_undefined_length = False
    if keyword == "PixelData":
        element.VR = "OB" if pixels.bits_allocated <= 8 else "OW"
    _drop_offset_tables(dataset)
    _set_image_pixel(dataset, described)


def _encode_pixels(dataset: Dataset, source: UID, pixels: PixelDescription, target: UID) -> None:
    """Replace the pixel data by its frames encoded in ``target``, one frame at a time."""
    encoded: list[bytes] = []
    raw_size = 0
    output: PixelDescription | None = None
    for array, described in _frames(dataset, source, pixels):
        data, output = _encode_frame(array, described, target)
        encoded.append(data)
        raw_size += array.size * array.dtype.itemsize
    assert output is not None  # at least one frame (Number of Frames >= 1)
    total = sum(len(frame) + 8 for frame in encoded)
    if total > 0xFFFFFFFF:
        # The Basic Offset Table cannot point that far: Extended Offset Table (PS3.5 A.4).
        data, offsets, lengths = encapsulate_extended(encoded)
        dataset.PixelData = data
        dataset.ExtendedOffsetTable = offsets
        dataset.ExtendedOffsetTableLengths = lengths
    else:
        _drop_offset_tables(dataset)
        dataset.PixelData = encapsulate(encoded, has_bot=True)
    element = dataset["PixelData"]
    element.VR = "OB"
    element.is_undefined_length = True
    _set_image_pixel(dataset, output)
    if target in LOSSY_TARGETS:
        dataset.LossyImageCompression = "01"
        ratio = raw_size / max(1, sum(len(frame) for frame in encoded))
        _append(dataset, "LossyImageCompressionRatio", f"{ratio:.2f}")
        _append(dataset, "LossyImageCompressionMethod", _LOSSY_METHOD[target])


def _encode_frame(
    array: np.ndarray[Any, Any], decoded: PixelDescription, target: UID
) -> tuple[bytes, PixelDescription]:
    """One decoded frame encoded in ``target``, and the description of what was encoded."""
    reason = _encoding_refusal(decoded, target)
    if reason is not None:
        raise TranscodeError(reason)
    encoded = _encoded(decoded, target)
    options: dict[str, Any] = {}
    if target in _DCT_JPEG:
        options["jpeg_quality"] = JPEG_QUALITY
        # Pillow takes the input colour space; it makes the YBR_FULL_422 itself.
        photometric = decoded.photometric_interpretation
    else:
        photometric = encoded.photometric_interpretation
    if target == JPEGLSNearLossless:
        options["jls_error"] = JLS_NEAR
    elif target == JPEG2000:
        options["j2k_cr"] = [J2K_COMPRESSION_RATIO]
    dtype = _dtype(decoded)
    try:
        data = codecs.encode_frame(
            array.astype(dtype, copy=False),
            target,
            photometric_interpretation=photometric,
            bits_allocated=decoded.bits_allocated,
            bits_stored=decoded.bits_stored,
            pixel_representation=decoded.pixel_representation,
            **options,
        )
    except codecs.CodecError as exc:
        raise TranscodeError(str(exc)) from exc
    return data, encoded


def _described(pixels: PixelDescription, properties: Mapping[str, str | int]) -> PixelDescription:
    """``pixels`` updated with the properties pydicom reports after decoding."""
    changes: dict[str, Any] = {"planar_configuration": 0}
    for key in ("photometric_interpretation", "bits_stored", "pixel_representation"):
        if key in properties:
            changes[key] = properties[key]
    return replace(pixels, **changes)


def _dtype(pixels: PixelDescription) -> np.dtype[Any]:
    size = max(1, (pixels.bits_allocated + 7) // 8)
    size = {3: 4, 5: 8, 6: 8, 7: 8}.get(size, size)
    if pixels.is_float:
        return np.dtype(f"<f{size}")
    return np.dtype(f"<{'i' if pixels.pixel_representation else 'u'}{size}")


def _little_endian_bytes(array: np.ndarray[Any, Any], pixels: PixelDescription) -> bytes:
    if pixels.bits_allocated == 1:
        return np.packbits(array.ravel(), bitorder="little").tobytes()
    return array.astype(_dtype(pixels), copy=False).tobytes()


def _little_endian_pixels(value: bytes, vr: str, pixels: PixelDescription | None) -> bytes:
    """Native big endian pixel data as little endian, its layout kept (PS3.5 §7.3, §8.1.1).

    Pixel cells of Bits Allocated 16, 32 or 64 are swapped whole; 8-bit samples only when the
    value is OW (its bytes are swapped in pairs); 1-bit pixels are kept as they are, as pydicom
    reads them. Without a usable description the value is swapped by the word size of its VR.
    """
    if pixels is None or pixels.problem:
        size = _SWAP_SIZES.get(vr, 1)
    elif pixels.bits_allocated == 1:
        size = 1
    elif pixels.bits_allocated == 8:
        size = 2 if vr == "OW" else 1
    else:
        size = pixels.bits_allocated // 8
    if size == 1 or len(value) % size:
        return value
    return np.frombuffer(value, f">u{size}").astype(f"<u{size}").tobytes()


def _swap_to_little_endian(dataset: Dataset, pixels: PixelDescription | None) -> None:
    """Swap every value read from a big endian data set whose bytes pydicom keeps as they are
    (PS3.5 §7.3): OW, OF, OL, OD and OV by their word size, the top-level pixel data by its
    pixel cells (``pixels``; ``None`` when it was already replaced). pydicom parsed every other
    value and writes it in the new byte order; UN values have no known structure and stay.
    """
    top_level = {id(dataset[tag]): tag for tag in _PIXEL_KEYWORDS if tag in dataset}
    for element in dataset.iterall():
        if not isinstance(element.value, bytes):
            continue
        if id(element) in top_level:
            if pixels is not None:
                element.value = _little_endian_pixels(element.value, element.VR, pixels)
            continue
        size = _SWAP_SIZES.get(element.VR)
        if size is not None and len(element.value) % size == 0:
            swapped = np.frombuffer(element.value, f">u{size}").astype(f"<u{size}")
            element.value = swapped.tobytes()


def _set_image_pixel(dataset: Dataset, pixels: PixelDescription) -> None:
    dataset.PhotometricInterpretation = pixels.photometric_interpretation
    if pixels.samples_per_pixel > 1:
        dataset.PlanarConfiguration = 0
    if "BitsStored" in dataset and dataset.BitsStored != pixels.bits_stored:
        dataset.BitsStored = pixels.bits_stored
        dataset.HighBit = pixels.bits_stored - 1
    if "PixelRepresentation" in dataset:
        dataset.PixelRepresentation = pixels.pixel_representation


def _drop_offset_tables(dataset: Dataset) -> None:
    for keyword in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths"):
        if keyword in dataset:
            del dataset[keyword]


def _append(dataset: Dataset, keyword: str, value: str) -> None:
    """Add a value to a multi-valued attribute (PS3.3 C.7.6.1.1.5: one per compression)."""
    current = dataset[keyword].value if keyword in dataset else None
    if current is None or current == "":
        values: list[Any] = []
    elif isinstance(current, str | int | float):
        values = [current]
    else:
        values = list(current)
    setattr(dataset, keyword, [*values, value] if values else value)


def _named(uid: UID) -> str:
    name = uid.name
    return f"{name} ({uid})" if name != str(uid) else str(uid)


# -- reading the Image Pixel module from a data set or its DICOM JSON -----------------------------


class _Reader:
    def vr(self, tag: int) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError

    def value(self, tag: int) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def integer(self, tag: int) -> int | None:
        value = self.value(tag)
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        try:
            return int(value) if value is not None and value != "" else None
        except (TypeError, ValueError):
            return None

    def text(self, tag: int) -> str | None:
        value = self.value(tag)
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        return None if value is None else str(value)


class _DatasetReader(_Reader):
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def vr(self, tag: int) -> str | None:
        if tag not in self.dataset:
            return None
        return str(self.dataset[tag].VR)

    def value(self, tag: int) -> Any:
        if tag not in self.dataset:
            return None
        try:
            value = self.dataset[tag].value
        except (ValueError, TypeError, UserWarning):
            return None  # an unreadable value (UserWarning: when warnings are errors)
        if hasattr(value, "__iter__") and not isinstance(value, str | bytes):
            return list(value)
        return value


class _JsonReader(_Reader):
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def vr(self, tag: int) -> str | None:
        element = self.document.get(f"{tag:08X}")
        if not isinstance(element, Mapping):
            return None
        return str(element.get("vr") or "")

    def value(self, tag: int) -> Any:
        element = self.document.get(f"{tag:08X}")
        if not isinstance(element, Mapping):
            return None
        return element.get("Value")

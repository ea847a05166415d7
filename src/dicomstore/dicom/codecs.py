"""Pixel data codecs: which transfer syntaxes this installation can decode and encode.

Codecs are optional plugins, as in pydicom (``pydicom.pixels.decoders`` and ``encoders``): every
compressed transfer syntax (PS3.5 §8.2, §10) has a list of plugins, each usable only when its
package is installed. A missing plugin never breaks an import; it makes :func:`can_decode` or
:func:`can_encode` answer ``False``, so the retrieve service answers 406 instead of failing, and
:func:`available` says what is there.

- **Decoding** is pydicom's decoders with their plugins: pylibjpeg (with pylibjpeg-libjpeg,
  -openjpeg, -rle), pyjpegls, Pillow, pydicom's own RLE and native decoders, and GDCM when
  present. They are tried in the order of :data:`DECODER_PREFERENCE`, GDCM last: a C++ exception
  inside python-gdcm aborts the whole process (seen with a JPEG Lossless frame of Bits Stored 2 in
  Bits Allocated 8), which a server cannot afford.
- **Encoding** is pydicom's encoders for RLE Lossless (pylibjpeg-rle, pydicom), JPEG-LS
  (pyjpegls) and JPEG 2000 (pylibjpeg-openjpeg), and two that pydicom 3.0 lacks, kept here:

  - ``pillow``: JPEG Baseline, process 1 (ISO/IEC 10918-1), 8-bit, through Pillow's libjpeg —
    for 1.2.840.10008.1.2.4.50 and the 8-bit profile of 1.2.840.10008.1.2.4.51 (a process 1
    stream is a valid process 2 stream);
  - ``numpy``: JPEG Lossless, process 14, first-order prediction (selection value 1, ITU-T T.81
    Annex H) with a Huffman table optimised per frame (T.81 Annex K.2) — for
    1.2.840.10008.1.2.4.70 and 1.2.840.10008.1.2.4.57, written with numpy alone.

  Which images each syntax may hold follows PS3.5 §8.2 as pydicom encodes it
  (``pydicom.pixels.encoders.base.ENCODING_PROFILES``), see :func:`fits_profile`.

Frames go through one at a time (:func:`iter_decoded`, :func:`decode_frame`, :func:`encode_frame`):
nothing here holds more than one decoded frame.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from pydicom.encaps import encapsulate
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.encoders.base import ENCODING_PROFILES, get_encoder
from pydicom.uid import (
    UID,
    AllTransferSyntaxes,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
)

__all__ = [
    "DECODER_PREFERENCE",
    "NATIVE_SYNTAXES",
    "CodecError",
    "CodecSupport",
    "available",
    "can_decode",
    "can_encode",
    "decode_frame",
    "decoder_plugins",
    "encode_frame",
    "encoder_plugins",
    "fits_profile",
    "iter_decoded",
]

NATIVE_SYNTAXES: Final = frozenset(
    {
        ImplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
        ExplicitVRBigEndian,
    }
)
"""Uncompressed syntaxes (PS3.5 §8.1.1): no codec needed, pydicom reads them."""

DECODER_PREFERENCE: Final = ("pyjpegls", "pylibjpeg", "pydicom", "pillow", "gdcm")
"""Order in which installed decoding plugins are tried (see the module notes about GDCM)."""

_PILLOW: Final = "pillow"
_NUMPY: Final = "numpy"


class CodecError(ValueError):
    """A frame could not be decoded or encoded: corrupt data, or values the codec refuses."""


@dataclass(frozen=True, slots=True)
class CodecSupport:
    """What this installation can do with one transfer syntax.

    Attributes
    ----------
    transfer_syntax : str
        The Transfer Syntax UID.
    name : str
        Its name in PS3.6 Table A-1.
    decoders, encoders : tuple[str, ...]
        Installed plugins, in the order they are tried; empty when none is installed.
    """

    transfer_syntax: str
    name: str
    decoders: tuple[str, ...]
    encoders: tuple[str, ...]


# -- lookup ---------------------------------------------------------------------------------------


def decoder_plugins(transfer_syntax: str) -> tuple[str, ...]:
    """Installed plugins that decode pixel data in ``transfer_syntax``, in the order tried.

    Native syntaxes answer ``("pydicom",)``; a syntax pydicom has no decoder for (JPEG XL, MPEG
    and HEVC video, private syntaxes) answers ``()``.
    """
    uid = UID(transfer_syntax)
    if uid in NATIVE_SYNTAXES:
        return ("pydicom",)
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        return ()
    return _preferred(decoder.available_plugins)


def encoder_plugins(transfer_syntax: str) -> tuple[str, ...]:
    """Installed plugins that encode pixel data in ``transfer_syntax``, in the order tried."""
    uid = UID(transfer_syntax)
    if uid in NATIVE_SYNTAXES:
        return ("pydicom",)
    own = _OWN_ENCODERS.get(uid)
    if own is not None:
        return tuple(name for name, (is_available, _) in own.items() if is_available())
    try:
        encoder = get_encoder(uid)
    except NotImplementedError:
        return ()
    # pydicom's own RLE encoder is pure Python: slowest, tried last.
    return tuple(sorted(encoder.available_plugins, key=lambda name: name == "pydicom"))


def can_decode(transfer_syntax: str) -> bool:
    """Whether pixel data in ``transfer_syntax`` can be decoded here."""
    return bool(decoder_plugins(transfer_syntax))


def can_encode(transfer_syntax: str) -> bool:
    """Whether pixel data can be encoded in ``transfer_syntax`` here."""
    return bool(encoder_plugins(transfer_syntax))


def available(transfer_syntaxes: tuple[str, ...] | None = None) -> tuple[CodecSupport, ...]:
    """The installed codecs for each syntax (default: every syntax pydicom knows a codec for)."""
    if transfer_syntaxes is None:
        known = {*NATIVE_SYNTAXES, *ENCODING_PROFILES, *_OWN_ENCODERS}
        known.update(uid for uid in _pydicom_decodable())
        transfer_syntaxes = tuple(sorted(known, key=_uid_sort_key))
    return tuple(
        CodecSupport(str(uid), UID(uid).name, decoder_plugins(uid), encoder_plugins(uid))
        for uid in transfer_syntaxes
    )


def fits_profile(
    transfer_syntax: str,
    *,
    photometric_interpretation: str,
    samples_per_pixel: int,
    pixel_representation: int,
    bits_allocated: int,
    bits_stored: int,
) -> bool:
    """Whether PS3.5 §8.2 allows such pixels in ``transfer_syntax`` (always, for native ones)."""
    profiles = ENCODING_PROFILES.get(UID(transfer_syntax))
    if profiles is None:
        return True
    return any(
        photometric_interpretation == pi
        and samples_per_pixel == spp
        and pixel_representation in representations
        and bits_allocated in allocated
        and bits_stored in stored
        for pi, spp, representations, allocated, stored in profiles
    )


# -- decoding -------------------------------------------------------------------------------------


def iter_decoded(
    source: Any, transfer_syntax: str, *, raw: bool, **options: Any
) -> Iterator[tuple[np.ndarray[Any, Any], dict[str, str | int]]]:
    """Each frame of ``source`` decoded, with the Image Pixel values that describe it.

    Parameters
    ----------
    source : pydicom.dataset.Dataset | bytes
        A data set holding the pixel data, or the pixel data value with ``options`` describing it
        (pydicom's decoding options: ``rows``, ``columns``, ``samples_per_pixel``, …).
    transfer_syntax : str
        The syntax the pixel data is in.
    raw : bool
        Keep the samples as stored; ``False`` converts YBR_FULL and YBR_FULL_422 to RGB.

    Yields
    ------
    tuple[numpy.ndarray, dict[str, str | int]]
        The frame, shaped ``(rows, columns)`` or ``(rows, columns, samples)``, and pydicom's
        pixel properties after decoding (``photometric_interpretation`` says whether the codec
        or the conversion produced RGB).

    Raises
    ------
    CodecError
        No plugin decodes the data.
    """
    uid = UID(transfer_syntax)
    decoder = get_decoder(uid)
    plugins = decoder_plugins(uid) if uid not in NATIVE_SYNTAXES else ("",)
    if not plugins:
        raise CodecError(f"No installed plugin decodes {uid.name} ({uid}).")
    errors: list[str] = []
    for plugin in plugins:
        started = False
        try:
            for frame in decoder.iter_array(source, raw=raw, decoding_plugin=plugin, **options):
                started = True
                yield frame
            return
        except Exception as exc:  # plugins are third-party code: any failure is the codec's
            if started:
                # Frames already yielded cannot be taken back: report, do not switch plugins.
                raise CodecError(f"Decoding {uid.name} pixel data failed: {exc}") from exc
            errors.append(f"{plugin or 'pydicom'}: {_first_line(exc)}")
    raise CodecError(f"Decoding {uid.name} pixel data failed ({'; '.join(errors)}).")


def decode_frame(
    frame: bytes, transfer_syntax: str, *, raw: bool, **options: Any
) -> tuple[np.ndarray[Any, Any], dict[str, str | int]]:
    """One frame's bytes (a native frame, or an encoded frame's fragments joined) decoded.

    ``options`` are pydicom's decoding options describing the frame (``rows``, ``columns``,
    ``samples_per_pixel``, ``bits_allocated``, ``bits_stored``, ``pixel_representation``,
    ``photometric_interpretation``, ``planar_configuration``, ``pixel_keyword``, ``pixel_vr``).
    """
    uid = UID(transfer_syntax)
    source = frame if uid in NATIVE_SYNTAXES else encapsulate([frame])
    return next(iter_decoded(source, uid, raw=raw, number_of_frames=1, **options))


# -- encoding -------------------------------------------------------------------------------------


def encode_frame(
    array: np.ndarray[Any, Any],
    transfer_syntax: str,
    *,
    photometric_interpretation: str,
    bits_allocated: int,
    bits_stored: int,
    pixel_representation: int,
    **options: Any,
) -> bytes:
    """One frame encoded in ``transfer_syntax`` (an encapsulated syntax).

    Parameters
    ----------
    array : numpy.ndarray
        The frame, ``(rows, columns)`` or ``(rows, columns, samples)`` (planar configuration 0),
        an integer dtype matching ``pixel_representation``.
    transfer_syntax : str
        The target syntax.
    photometric_interpretation, bits_allocated, bits_stored, pixel_representation
        The Image Pixel values describing the encoded frame (PS3.3 C.7.6.3). For JPEG 2000,
        ``YBR_RCT`` / ``YBR_ICT`` with RGB samples applies the multiple component transform.
    **options
        Codec options: ``jpeg_quality`` (Pillow, 1–95), ``jls_error`` (JPEG-LS NEAR),
        ``j2k_cr`` (JPEG 2000 compression ratios).

    Raises
    ------
    CodecError
        No installed plugin encodes ``transfer_syntax``, or every plugin refused the frame.
    """
    uid = UID(transfer_syntax)
    rows, columns = array.shape[:2]
    samples = array.shape[2] if array.ndim == 3 else 1
    own = _OWN_ENCODERS.get(uid)
    if own is not None:
        for name, (is_available, encode) in own.items():
            if is_available():
                try:
                    return encode(
                        array,
                        photometric_interpretation=photometric_interpretation,
                        bits_stored=bits_stored,
                        pixel_representation=pixel_representation,
                        **options,
                    )
                except Exception as exc:  # Pillow and numpy: any failure is the codec's
                    raise CodecError(f"{name} could not encode {uid.name}: {exc}") from exc
        raise CodecError(f"No installed plugin encodes {uid.name} ({uid}).")
    plugins = encoder_plugins(uid)
    if not plugins:
        raise CodecError(f"No installed plugin encodes {uid.name} ({uid}).")
    kwargs: dict[str, Any] = {
        "rows": rows,
        "columns": columns,
        "samples_per_pixel": samples,
        "bits_allocated": bits_allocated,
        "bits_stored": bits_stored,
        "pixel_representation": pixel_representation,
        "photometric_interpretation": photometric_interpretation,
        "number_of_frames": 1,
    }
    if samples > 1:
        kwargs["planar_configuration"] = 0
    kwargs.update({key: value for key, value in options.items() if key in _PYDICOM_OPTIONS})
    errors = []
    for plugin in plugins:
        try:
            return bytes(get_encoder(uid).encode(array, encoding_plugin=plugin, **kwargs))
        except Exception as exc:  # plugins are third-party code: any failure is the codec's
            errors.append(f"{plugin}: {_first_line(exc)}")
    raise CodecError(f"Encoding {uid.name} failed ({'; '.join(errors)}).")


_PYDICOM_OPTIONS: Final = frozenset({"jls_error", "j2k_cr", "j2k_psnr"})


def _pillow_available() -> bool:
    try:
        from PIL import features
    except ImportError:
        return False
    return bool(features.check_codec("jpg"))


def _encode_jpeg_baseline(
    array: np.ndarray[Any, Any],
    *,
    photometric_interpretation: str,
    bits_stored: int,
    pixel_representation: int,
    jpeg_quality: int = 90,
    **_: Any,
) -> bytes:
    """JPEG Baseline (process 1) with Pillow: 8-bit unsigned, grey or 3 samples.

    RGB samples are converted to YCbCr and the chrominance subsampled 2:1 horizontally, YBR_FULL
    samples are written as they are: the result is ``YBR_FULL_422`` (PS3.5 §8.2.1). Grey frames
    stay as they are.
    """
    from PIL import Image

    if array.dtype != np.uint8 or pixel_representation != 0 or bits_stored > 8:
        raise ValueError("JPEG Baseline holds 8-bit unsigned samples only")
    if array.ndim == 2:
        mode, subsampling = "L", 0
    elif photometric_interpretation in ("RGB", "YBR_FULL"):
        mode = "RGB" if photometric_interpretation == "RGB" else "YCbCr"
        subsampling = 1  # 4:2:2
    else:
        raise ValueError(f"JPEG Baseline cannot hold {photometric_interpretation} samples")
    size = (array.shape[1], array.shape[0])
    image = Image.frombuffer(mode, size, np.ascontiguousarray(array), "raw", mode, 0, 1)
    output = io.BytesIO()
    image.save(output, format="JPEG", quality=jpeg_quality, subsampling=subsampling)
    return output.getvalue()


def _encode_jpeg_lossless(
    array: np.ndarray[Any, Any],
    *,
    photometric_interpretation: str,
    bits_stored: int,
    pixel_representation: int,
    **_: Any,
) -> bytes:
    """JPEG Lossless, process 14, selection value 1 (ITU-T T.81 Annex H, PS3.5 §8.2.1).

    The sample precision is Bits Stored (at least 2, T.81 H.4.1); signed samples are coded as
    their two's complement bit pattern in that precision, as PS3.5 §8.2.1 says, and pydicom sign-
    extends them on decoding. Components are interleaved (one MCU = one pixel), each predicted
    from its left neighbour, the first column from the row above, the first sample from
    ``2**(P-1)``; the difference, modulo 2**16, is Huffman coded (T.81 H.1.2.2) with one table
    built from this frame's statistics (T.81 Annex K.2).
    """
    precision = max(bits_stored, 2)
    if precision > 16:
        raise ValueError(f"JPEG Lossless holds at most 16 bits, not {bits_stored}")
    rows, columns = array.shape[:2]
    if rows > 0xFFFF or columns > 0xFFFF:
        raise ValueError(f"a JPEG frame is at most 65535 x 65535, not {rows} x {columns}")
    samples = array.reshape(rows, columns, -1).astype(np.int32) & ((1 << precision) - 1)
    components = samples.shape[2]
    predicted = np.empty_like(samples)
    predicted[:, 1:] = samples[:, :-1]
    predicted[1:, 0] = samples[:-1, 0]
    predicted[0, 0] = 1 << (precision - 1)
    difference = (samples - predicted).ravel() & 0xFFFF
    difference = np.where(difference > 0x8000, difference - 0x10000, difference).astype(np.int64)
    category = np.frexp(np.abs(difference).astype(np.float64))[1].astype(np.int64)

    bits, values = _huffman_table(np.bincount(category, minlength=17).tolist())
    code_of = np.zeros(17, np.int64)
    length_of = np.zeros(17, np.int64)
    code = position = 0
    for length, count in enumerate(bits, start=1):
        for symbol in values[position : position + count]:
            code_of[symbol] = code
            length_of[symbol] = length
            code += 1
        position += count
        code <<= 1

    # Category 16 (difference 32768) has no additional bits (T.81 H.1.2.2).
    extra_bits = np.where(category == 16, 0, category)
    extra = np.where(difference < 0, difference - 1, difference) & ((1 << extra_bits) - 1)
    scan = _pack_bits(code_of[category] << extra_bits | extra, length_of[category] + extra_bits)

    header = bytearray(b"\xff\xd8")
    frame_header = bytes([precision]) + rows.to_bytes(2, "big") + columns.to_bytes(2, "big")
    frame_header += bytes([components])
    for component in range(1, components + 1):
        frame_header += bytes([component, 0x11, 0])
    header += _marker(0xC3, frame_header)  # SOF3: lossless, Huffman
    header += _marker(0xC4, bytes([0x00, *bits, *values]))  # DHT: DC table 0
    scan_header = bytes([components])
    for component in range(1, components + 1):
        scan_header += bytes([component, 0x00])
    header += _marker(0xDA, scan_header + bytes([1, 0, 0]))  # SOS: predictor 1, Pt 0
    return bytes(header) + scan + b"\xff\xd9"


def _marker(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _pack_bits(values: np.ndarray[Any, Any], lengths: np.ndarray[Any, Any]) -> bytes:
    """Variable-length codes (each at most 32 bits) packed MSB first, padded with 1-bits and
    byte-stuffed (every 0xFF followed by 0x00, T.81 F.1.2.3)."""
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    starts = ends - lengths
    words = (total + 31) // 32 + 1
    word = starts >> 5
    shift = 32 - (starts & 31) - lengths  # < 0 when the code runs into the next word
    head = np.where(shift >= 0, values << np.maximum(shift, 0), values >> np.maximum(-shift, 0))
    tail = np.where(shift < 0, (values << (32 + np.minimum(shift, 0))) & 0xFFFFFFFF, 0)
    # The codes occupy disjoint bits of each word, so their sum is their union; float64 holds a
    # 32-bit word exactly.
    packed = np.bincount(word, weights=head.astype(np.float64), minlength=words)
    packed += np.bincount(word + 1, weights=tail.astype(np.float64), minlength=words)
    padded = packed.astype(np.uint64)
    pad = -total % 8
    if pad:
        padded[total >> 5] |= np.uint64(((1 << pad) - 1) << (32 - (total & 31) - pad))
    data = np.frombuffer(padded.astype(">u4").tobytes()[: (total + pad) // 8], np.uint8)
    is_ff = data == 0xFF
    stuffed = np.repeat(data, 1 + is_ff)
    stuffed[np.flatnonzero(is_ff) + np.arange(1, int(is_ff.sum()) + 1)] = 0
    return stuffed.tobytes()


def _huffman_table(frequencies: list[int]) -> tuple[list[int], list[int]]:
    """BITS and HUFFVAL of an optimal table of code lengths <= 16 (T.81 Annex K.2)."""
    frequency = [float(f) for f in frequencies] + [1.0]  # reserved: no code is all 1-bits
    count = len(frequency)
    size = [0] * count
    others = [-1] * count
    while True:
        live = [i for i in range(count) if frequency[i] > 0]
        if len(live) < 2:
            break
        # Least frequent first; on ties the larger symbol (K.2, Figure K.1).
        first = min(live, key=lambda i: (frequency[i], -i))
        live.remove(first)
        second = min(live, key=lambda i: (frequency[i], -i))
        frequency[first] += frequency[second]
        frequency[second] = 0
        for start in (first, second):
            node = start
            size[node] += 1
            while others[node] != -1:
                node = others[node]
                size[node] += 1
        node = first
        while others[node] != -1:
            node = others[node]
        others[node] = second
    bits = [0] * 33
    for length in size:
        if length:
            bits[length] += 1
    length = 32
    while length > 16:  # Adjust_BITS (Figure K.3)
        while bits[length] > 0:
            shorter = length - 2
            while bits[shorter] == 0:
                shorter -= 1
            bits[length] -= 2
            bits[length - 1] += 1
            bits[shorter + 1] += 2
            bits[shorter] -= 1
        length -= 1
    while bits[length] == 0:
        length -= 1
    bits[length] -= 1  # drop the reserved code
    symbols = sorted((s for s in range(count - 1) if size[s]), key=lambda s: (size[s], s))
    return bits[1:17], symbols


_Encode = Callable[..., bytes]

_OWN_ENCODERS: Final[Mapping[UID, dict[str, tuple[Callable[[], bool], _Encode]]]] = {
    JPEGBaseline8Bit: {_PILLOW: (_pillow_available, _encode_jpeg_baseline)},
    JPEGExtended12Bit: {_PILLOW: (_pillow_available, _encode_jpeg_baseline)},
    JPEGLossless: {_NUMPY: (lambda: True, _encode_jpeg_lossless)},
    JPEGLosslessSV1: {_NUMPY: (lambda: True, _encode_jpeg_lossless)},
}


# -- helpers --------------------------------------------------------------------------------------


def _preferred(plugins: tuple[str, ...]) -> tuple[str, ...]:
    rank = {name: index for index, name in enumerate(DECODER_PREFERENCE)}
    return tuple(sorted(plugins, key=lambda name: rank.get(name, len(rank))))


def _pydicom_decodable() -> list[UID]:
    decodable = []
    for uid in AllTransferSyntaxes:
        try:
            get_decoder(uid)
        except NotImplementedError:
            continue
        decodable.append(UID(uid))
    return decodable


def _uid_sort_key(uid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in uid.split(".") if part.isdigit())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

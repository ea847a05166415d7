"""What ingest needs from a Part 10 file, in one pass over its bytes, when that pass is exact.

For each stored instance, ingest needs the UIDs and frame ranges of
:func:`~dicomstore.dicom.part10.read_instance`, the DICOM JSON of
:func:`~dicomstore.dicom.json.to_dicom_json` and the bulk data locations of
:func:`~dicomstore.dicom.bulkdata.bulk_data_locations`. That reference path parses the file with
pydicom and walks the data set twice: ~2 ms for a CT slice, most of it spent building pydicom
objects that are then thrown away. :func:`scan_instance` reads the elements straight from the
buffer with ``struct.unpack_from`` and converts each value, in the same pass, with the per-VR
converters of :mod:`~dicomstore.dicom.json` (``_FAST``); frames are located with the helpers of
:mod:`~dicomstore.dicom.frames`, as ``read_instance`` does. ~0.3 ms for a CT slice.

Its result must be *equal* to the reference path's, so it covers only what it can prove it
reproduces, and answers ``None`` ("not covered": run the reference path, which also gives the
proper error for an invalid file) for anything else. Covered:

- Part 10 files (preamble, ``DICM``, file meta information) in implicit VR little endian,
  explicit VR little endian or an encapsulated transfer syntax (all little endian, explicit VR);
- defined and undefined length sequences and items, nested, and elements out of tag order
  (pydicom keeps file order: the generated CT slices put Pixel Data after Data Set Trailing
  Padding);
- private elements, with their VR from the private dictionary in implicit VR, as pydicom's VR
  hook finds it through the element's creator; unknown ones are UN bulk data;
- in implicit VR, ``OB or OW`` (OW, or OB for encapsulated Pixel Data) and top-level
  ``US or SS`` after Pixel Representation, corrected as pydicom corrects them;
- native and encapsulated Pixel Data (Basic and Extended Offset Tables, JPEG markers);
- the default character repertoire, ``ISO_IR 100`` and ``ISO_IR 192``.

Not covered, because pydicom has a special case there that would have to be copied, and such
files are rare: big endian and deflated transfer syntaxes; non-default pydicom configuration or
hooks (``json._fast_path_allowed``); other or several Specific Character Sets; other ambiguous VRs
and ``US or SS`` inside sequences (pydicom resolves them from whatever it read before); UN other
than unknown tags; any value a ``_FAST`` converter declines (pydicom's conversion then decides);
a repeated tag, or a private creator or Specific Character Set after elements that depend on it;
group 0000 or 0002 elements in the data set body; odd value lengths; top-level values pydicom
defers (longer than :data:`~dicomstore.dicom.part10.DEFER_SIZE`) that are not bulk data;
top-level sequences over :data:`~dicomstore.dicom.json.MAX_SEQUENCE_LENGTH`; a switch between
explicit and implicit VR that pydicom detects; truncated files and trailing bytes; missing or
multi-valued UIDs; unusable Number of Frames or Image Pixel attributes; encapsulated Pixel Data
that :func:`~dicomstore.dicom.frames.read_encapsulated_items` refuses or that has a defined
length.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from struct import Struct
from typing import Any, BinaryIO, Final, cast

from pydicom.charset import default_encoding
from pydicom.uid import UID, AllTransferSyntaxes, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

from dicomstore.dicom.bulkdata import BulkDataLocation, bulk_data_locations
from dicomstore.dicom.frames import (
    FrameLayout,
    FrameRanges,
    PixelDataItems,
    encapsulated_frames,
    native_frames,
    read_encapsulated_items,
)
from dicomstore.dicom.json import (
    _DICTIONARY_VR,
    _FAST,
    _KEYS,
    _NEVER_BULK,
    MAX_SEQUENCE_LENGTH,
    PIXEL_DATA_TAGS,
    _Converter,
    _dictionary_vr,
    _fast_path_allowed,
    _key,
    _private_vr,
    to_dicom_json,
)
from dicomstore.dicom.part10 import DEFER_SIZE, PixelDataValue, read_instance

__all__ = [
    "BulkDataUris",
    "ScannedInstance",
    "describe_file",
    "scan_instance",
]

_DICM: Final = slice(128, 132)
_FILE_META_START: Final = 132
_UNDEFINED: Final = 0xFFFFFFFF
_ITEM: Final = 0xFFFEE000
_ITEM_DELIMITER: Final = 0xFFFEE00D
_SEQUENCE_DELIMITER: Final = 0xFFFEE0DD
_ITEM_TAG_BYTES: Final = b"\xfe\xff\x00\xe0"
_SPECIFIC_CHARACTER_SET: Final = 0x00080005
_TRANSFER_SYNTAX_KEY: Final = "00020010"
_REQUIRED_UID_KEYS: Final = ("0020000D", "0020000E", "00080018", "00080016")

# Top-level elements read_instance looks at to locate frames.
_PIXEL_DATA: Final = 0x7FE00010
_PIXEL_DATA_ORDER: Final = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # read_instance takes the first
_NUMBER_OF_FRAMES: Final = 0x00280008
_PHOTOMETRIC_INTERPRETATION: Final = 0x00280004
_IMAGE_ATTRIBUTES: Final = (
    ("rows", 0x00280010),
    ("columns", 0x00280011),
    ("samples_per_pixel", 0x00280002),
    ("bits_allocated", 0x00280100),
)
_EXTENDED_OFFSET_TABLES: Final = (0x7FE00001, 0x7FE00002)  # offsets, lengths
_PIXEL_REPRESENTATION: Final = 0x00280103
_RECORDED_TAGS: Final = frozenset(
    {
        *_PIXEL_DATA_ORDER,
        _NUMBER_OF_FRAMES,
        _PHOTOMETRIC_INTERPRETATION,
        *(tag for _, tag in _IMAGE_ATTRIBUTES),
        *_EXTENDED_OFFSET_TABLES,
        _PIXEL_REPRESENTATION,
    }
)
# The US or SS tags pydicom corrects by Pixel Representation (filewriter._AMBIGUOUS_US_SS_TAGS)
# that follow (0028,0103); not the LUT Descriptors, whose first value it also rewrites.
_US_OR_SS_TAGS: Final = frozenset(
    {0x00280104, 0x00280105, 0x00280106, 0x00280107, 0x00280108, 0x00280109, 0x00280110}
    | {0x00280111, 0x00280120, 0x00280121, 0x00409211, 0x00409216, 0x00603004, 0x00603006}
)

# Tag, then the VR as a little endian 16-bit number and the 16-bit length (explicit VR), or the
# two halves of the 32-bit length (implicit VR): one unpack for both.
_HEADER: Final = Struct("<HHHH")
_LENGTH: Final = Struct("<L")
_ITEM_HEADER: Final = Struct("<HHL")
_UNSIGNED_SHORT: Final = Struct("<H")
_NEVER: Final = 1 << 64
# VR -> (length over which a value is bulk data, converter): json._FAST without its sentinel.
_CONVERSIONS: Final[dict[str, tuple[int, _Converter]]] = {
    vr: (_NEVER if threshold == _NEVER_BULK else threshold, convert)
    for vr, (threshold, convert, _) in _FAST.items()
}
_LONG_VRS: Final = frozenset(str(vr) for vr in EXPLICIT_VR_LENGTH_32)
# Explicit VR as a little endian 16-bit number -> (VR, 32-bit length?, conversion or None).
_EXPLICIT_VRS: Final[dict[int, tuple[str, bool, tuple[int, _Converter] | None]]] = {
    int.from_bytes(vr.encode("ascii"), "little"): (vr, vr in _LONG_VRS, _CONVERSIONS.get(vr))
    for vr in (*_FAST, "SQ", "UN")
}
_UNKNOWN_VR: Final[tuple[str, bool, tuple[int, _Converter] | None]] = ("", False, None)
_UPPERCASE: Final = range(0x41, 0x5B)

_IMPLICIT_SYNTAXES: Final = frozenset({str(ImplicitVRLittleEndian)})
# pydicom reads these as explicit VR little endian (the last branch of read_partial).
_EXPLICIT_SYNTAXES: Final = frozenset(
    {str(ExplicitVRLittleEndian)}
    | {
        str(uid)
        for uid in AllTransferSyntaxes
        if UID(uid).is_encapsulated and UID(uid).is_little_endian and not UID(uid).is_deflated
    }
)
# (0008,0005) value -> the first encoding pydicom gives the data set (json._first_encoding): the
# Python codecs that decode as pydicom's decode_bytes does when there is no escape sequence.
_ENCODINGS: Final = {
    "": default_encoding,
    "ISO_IR 100": "latin_1",
    "ISO_IR 192": "UTF8",
}
_NOT_A_STRING: Final = object()  # a private creator pydicom would not look up as a string


class _NotCovered(Exception):
    """The file holds something the scan does not reproduce: use the reference path."""


@dataclass(frozen=True, slots=True)
class ScannedInstance:
    """What ingest needs from a Part 10 file, equal to what the reference path gives.

    For the same file, with ``header = read_instance(path)``, every attribute equals its
    counterpart.

    Attributes
    ----------
    study_instance_uid, series_instance_uid, sop_instance_uid, sop_class_uid : str
        ``header.study_instance_uid``... (0020,000D), (0020,000E), (0008,0018), (0008,0016).
    transfer_syntax_uid : str
        ``header.transfer_syntax_uid``, (0002,0010).
    file_size : int
        ``header.file_size``.
    metadata : dict[str, Any]
        ``to_dicom_json(header.dataset, bulk_data_uri)``, in the same key order.
    bulk_data : dict[str, BulkDataLocation]
        ``bulk_data_locations(header)``, in the same order.
    pixel_data : PixelDataValue | None
        ``header.pixel_data``.
    number_of_frames : int
        ``header.number_of_frames``.
    frames : tuple[FrameRanges, ...] | None
        ``header.frames``.
    frames_unavailable : str | None
        ``header.frames_unavailable``.
    frame_bits : int | None
        ``header.frame_bits``.
    """

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    file_size: int
    metadata: dict[str, Any]
    bulk_data: dict[str, BulkDataLocation]
    pixel_data: PixelDataValue | None
    number_of_frames: int
    frames: tuple[FrameRanges, ...] | None
    frames_unavailable: str | None
    frame_bits: int | None


BulkDataUris = Callable[[str, str, str, str], str]
"""Makes a BulkDataURI from an instance's Study, Series and SOP Instance UIDs and the path of
one of its elements (as ``to_dicom_json``'s ``bulk_data_uri`` does with the path alone)."""


def scan_instance(
    data: bytes | bytearray | memoryview | mmap.mmap, bulk_data_uri: BulkDataUris
) -> ScannedInstance | None:
    """Read a Part 10 file's header, DICOM JSON, bulk data and frames in one pass, if covered.

    Parameters
    ----------
    data : bytes | bytearray | memoryview | mmap.mmap
        The whole file. Header values are copied out of it; Pixel Data and other bulk data are
        only located (for encapsulated Pixel Data, its item headers are read, and the last
        bytes of each fragment when frames are told apart by JPEG markers).
    bulk_data_uri : BulkDataUris
        Makes each BulkDataURI, once the whole header is read (a bulk data element may come
        before the UIDs).

    Returns
    -------
    ScannedInstance | None
        ``None`` when the file is not covered (see the module docstring): then
        ``read_instance``, ``to_dicom_json`` and ``bulk_data_locations`` give the answer, or
        the error.
    """
    if not _fast_path_allowed():
        return None
    try:
        buffer: Any = data
        if isinstance(data, memoryview) and (data.format != "B" or data.ndim != 1):
            buffer = data.cast("B")
        return _Scan(buffer, bulk_data_uri).run()
    except Exception:
        # _NotCovered, and anything a malformed file makes fail (struct.error past the end,
        # the frames helpers' ValueError...): the reference path reports it properly.
        return None


def describe_file(path: Path, bulk_data_uri: BulkDataUris) -> ScannedInstance:
    """What ingest needs from the Part 10 file at ``path``: scanned through a memory map when
    :func:`scan_instance` covers the file, else read with pydicom.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        As :func:`~dicomstore.dicom.part10.read_instance` does for a file that is not a valid
        Part 10 instance.
    """
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size:
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                scanned = scan_instance(mapped, bulk_data_uri)
            if scanned is not None:
                return scanned
    header = read_instance(path)
    uids = (header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid)
    return ScannedInstance(
        study_instance_uid=header.study_instance_uid,
        series_instance_uid=header.series_instance_uid,
        sop_instance_uid=header.sop_instance_uid,
        sop_class_uid=header.sop_class_uid,
        transfer_syntax_uid=header.transfer_syntax_uid,
        file_size=header.file_size,
        metadata=to_dicom_json(header.dataset, partial(bulk_data_uri, *uids)),
        bulk_data=bulk_data_locations(header),
        pixel_data=header.pixel_data,
        number_of_frames=header.number_of_frames,
        frames=header.frames,
        frames_unavailable=header.frames_unavailable,
        frame_bits=header.frame_bits,
    )


class _BufferFile:
    """The ``seek``/``read`` that :mod:`~dicomstore.dicom.frames` needs, over the buffer."""

    def __init__(self, buffer: Any) -> None:
        self._buffer = buffer
        self._position = 0

    def seek(self, position: int, whence: int = 0) -> int:
        self._position = position
        return position

    def read(self, size: int) -> bytes:
        data = bytes(self._buffer[self._position : self._position + size])
        self._position += len(data)
        return data


class _Scan:
    """The scan of one file."""

    def __init__(self, buffer: Any, bulk_data_uri: BulkDataUris) -> None:
        self.buffer = buffer
        self.size = len(buffer)
        # Converters need bytes; slices of bytes and mmap are, of the others are not.
        self.copy = not isinstance(buffer, bytes | mmap.mmap)
        self.bulk_data_uri = bulk_data_uri
        # The JSON of each bulk data element and its path: URIs are added once the UIDs are in.
        self.bulk_nodes: list[tuple[dict[str, Any], str]] = []
        self.implicit = False
        self.bulk: dict[str, BulkDataLocation] = {}
        # Top-level elements read_instance uses for frames: tag -> (VR, value offset, length).
        self.recorded: dict[int, tuple[str, int, int]] = {}
        self.encapsulated: PixelDataItems | None = None

    def run(self) -> ScannedInstance:
        buffer = self.buffer
        if self.size < _FILE_META_START + 8 or bytes(buffer[_DICM]) != b"DICM":
            raise _NotCovered
        metadata: dict[str, Any] = {}
        position = self.file_meta(metadata)
        transfer_syntax = _single_uid(metadata, _TRANSFER_SYNTAX_KEY)
        if transfer_syntax in _IMPLICIT_SYNTAXES:
            self.implicit = True
            # pydicom switches to explicit VR when the first element looks like it.
            if buffer[position + 4] in _UPPERCASE and buffer[position + 5] in _UPPERCASE:
                raise _NotCovered
        elif transfer_syntax not in _EXPLICIT_SYNTAXES:
            raise _NotCovered
        self.walk(position, self.size, False, "", metadata, default_encoding, True)
        uids = [_single_uid(metadata, key) for key in _REQUIRED_UID_KEYS]
        for node, path in self.bulk_nodes:
            node["BulkDataURI"] = self.bulk_data_uri(uids[0], uids[1], uids[2], path)
        pixel_data, layout, number_of_frames = self.frames(metadata, transfer_syntax)
        return ScannedInstance(
            study_instance_uid=uids[0],
            series_instance_uid=uids[1],
            sop_instance_uid=uids[2],
            sop_class_uid=uids[3],
            transfer_syntax_uid=transfer_syntax,
            file_size=self.size,
            metadata=metadata,
            bulk_data=self.bulk,
            pixel_data=pixel_data,
            number_of_frames=number_of_frames,
            frames=layout.frames if layout else None,
            frames_unavailable=layout.reason if layout else None,
            frame_bits=layout.frame_bits if layout else None,
        )

    # -- elements ------------------------------------------------------------------------------

    def file_meta(self, out: dict[str, Any]) -> int:
        """Convert the file meta information (PS3.10 §7.1) into ``out``; return where it ends.

        It is explicit VR little endian, read by pydicom in full (nothing deferred) up to the
        first element of another group.
        """
        buffer, size = self.buffer, self.size
        position = _FILE_META_START
        previous = -1
        while True:
            if position + 8 > size:
                raise _NotCovered
            group, element, code, short_length = _HEADER.unpack_from(buffer, position)
            if group != 0x0002:
                if previous < 0:
                    raise _NotCovered  # no file meta information
                return position
            tag = group << 16 | element
            vr, long_length, conversion = _EXPLICIT_VRS.get(code, _UNKNOWN_VR)
            if tag <= previous or conversion is None:
                raise _NotCovered  # unordered, or an unknown VR (pydicom retries implicit), SQ, UN
            previous = tag
            if long_length:
                (length,) = _LENGTH.unpack_from(buffer, position + 8)
                start = position + 12
            else:
                length = short_length
                start = position + 8
            if start + length > size or length & 1:
                raise _NotCovered
            key = _KEYS.get(tag) or _key(tag)
            if length == 0:
                out[key] = {"vr": vr}
            elif length > conversion[0]:
                self.bulk_element(vr, start, length, key, "", out)
            else:
                out[key] = self.convert(tag, vr, start, length, conversion[1], default_encoding)
            position = start + length

    def walk(
        self,
        position: int,
        end: int,
        delimited: bool,
        prefix: str,
        out: dict[str, Any],
        encoding: str,
        top: bool,
    ) -> int:
        """Convert the elements of one data set into ``out``; return the offset after it.

        The data set ends at ``end`` or, when ``delimited``, at an Item Delimitation Item
        before ``end``. ``prefix`` is the BulkDataURI path of the data set (``""`` at the top),
        ``encoding`` its parent's first text encoding. This is the hot loop: one unpack and a
        few dictionary lookups per element.
        """
        buffer = self.buffer
        implicit = self.implicit
        unpack_header = _HEADER.unpack_from
        unpack_length = _LENGTH.unpack_from
        explicit_vrs = _EXPLICIT_VRS
        conversions = _CONVERSIONS
        dictionary_vr = _DICTIONARY_VR
        keys = _KEYS
        recorded = self.recorded if top else None
        recorded_tags = _RECORDED_TAGS
        copy = self.copy
        character_set = _SPECIFIC_CHARACTER_SET
        undefined = _UNDEFINED
        defer_size = DEFER_SIZE
        creators: dict[int, Any] = {}
        previous = -1
        while True:
            if position >= end and not delimited:
                if position != end:
                    raise _NotCovered
                return position
            if position + 8 > end:
                raise _NotCovered  # truncated, or trailing bytes pydicom would ignore
            group, element, third, fourth = unpack_header(buffer, position)
            tag = group << 16 | element
            if group < 8 or group == 0xFFFE:
                if tag == _ITEM_DELIMITER and delimited:
                    return position + 8
                if group != 4:
                    # Command or file meta elements, an illegal group, or a delimiter that
                    # would end pydicom's data set wherever it is.
                    raise _NotCovered
            key = keys.get(tag) or _key(tag)
            if tag > previous:
                previous = tag
            elif key in out or tag == character_set or (group & 1 and element < 0x100):
                # Out of order is fine, not a repeated tag (pydicom keeps its first position
                # and its last value), nor a character set or creator after its dependents.
                raise _NotCovered
            if implicit:
                length = third | fourth << 16
                start = position + 8
                vr = dictionary_vr.get(tag)
                if vr is None:
                    vr = self.implicit_vr(tag, creators)
                conversion = conversions.get(vr)
            else:
                explicit = explicit_vrs.get(third)
                if explicit is None:
                    raise _NotCovered
                vr, long_length, conversion = explicit
                if long_length:
                    (length,) = unpack_length(buffer, position + 8)
                    start = position + 12
                else:
                    length = fourth
                    start = position + 8
            if length == undefined:
                position = self.undefined_length(
                    tag, vr, start, end, key, prefix, out, encoding, top
                )
                continue
            value_end = start + length
            if value_end > end or length & 1:
                raise _NotCovered
            if recorded is not None and tag in recorded_tags:
                recorded[tag] = (vr, start, length)
            if vr == "SQ":
                self.sequence(start, length, key, prefix, out, encoding, top, value_end)
                position = value_end
                continue
            if conversion is None:
                resolved = self.other(
                    tag, vr, start, length, key, prefix, out, encoding, top, creators
                )
                if resolved is None:
                    position = value_end
                    continue
                vr, conversion = resolved, conversions[resolved]
            if length == 0:
                out[key] = {"vr": vr}
            elif length > conversion[0] or (tag >= 0x7FE00008 and _bulk_pixel_data(tag, vr)):
                self.bulk_element(vr, start, length, key, prefix, out)
            else:
                if length > defer_size and top and tag != character_set:
                    raise _NotCovered  # deferred by pydicom, then converted by pydicom
                value = buffer[start:value_end]
                result = conversion[1](vr, tag, bytes(value) if copy else value, True, encoding)
                if result is None:
                    raise _NotCovered
                out[key] = result
            if group & 1:
                if 0x0010 <= element < 0x0100:
                    creators[tag] = _creator(out[key], vr)
            elif tag == character_set:
                encoding = _encoding(out[key])
            position = value_end

    def convert(
        self, tag: int, vr: str, start: int, length: int, convert: _Converter, encoding: str
    ) -> dict[str, Any]:
        value = self.buffer[start : start + length]
        result = convert(vr, tag, bytes(value) if self.copy else value, True, encoding)
        if result is None:
            raise _NotCovered
        return result

    def implicit_vr(self, tag: int, creators: dict[int, Any]) -> str:
        """The VR pydicom gives an implicit VR element that is not in the public dictionary."""
        vr = _dictionary_vr(tag)  # repeating groups (60xx,3000)...
        if vr is not None:
            return vr
        if tag & 0x10000:
            return self.private_vr(tag, creators)
        if tag & 0xFFFF == 0:
            return "UL"  # group length
        raise _NotCovered  # pydicom warns and makes it UN

    def private_vr(self, tag: int, creators: dict[int, Any]) -> str:
        """The VR pydicom's hook gives a private element: by its creator, else UN."""
        if creators.get((tag & 0xFFFF0000) | ((tag & 0xFFFF) >> 8)) is _NOT_A_STRING:
            raise _NotCovered
        # Creators come before their elements (see walk), so one not seen is absent, as
        # _NO_DATASET answers.
        return _private_vr(_NO_DATASET, tag, creators)  # type: ignore[arg-type]

    def other(
        self,
        tag: int,
        vr: str,
        start: int,
        length: int,
        key: str,
        prefix: str,
        out: dict[str, Any],
        encoding: str,
        top: bool,
        creators: dict[int, Any],
    ) -> str | None:
        """A defined-length element of a VR that ``_FAST`` does not convert, but for SQ.

        Converts UN bulk data (and returns ``None``), or returns the VR pydicom corrects an
        ambiguous one to.
        """
        if vr == "UN":
            # json.py asks pydicom's VR hook about an explicit UN (replace_un_with_known_vr):
            # UN again for an unknown tag. An implicit VR one is already unknown.
            if not self.implicit and (
                self.private_vr(tag, creators) != "UN"
                if tag & 0x10000
                else _dictionary_vr(tag) is not None
            ):
                raise _NotCovered
            if length == 0:
                out[key] = {"vr": vr}
            else:
                self.bulk_element(vr, start, length, key, prefix, out)
            return None
        if self.implicit:
            if vr == "OB or OW":
                return "OW"  # PS3.5 §A.1, as pydicom corrects it; Pixel Data included
            representation = self.recorded.get(_PIXEL_REPRESENTATION)
            if (
                vr == "US or SS"
                and top
                and length
                and tag in _US_OR_SS_TAGS
                and representation is not None
                and representation[0] == "US"
                and representation[2] == 2
            ):
                # pydicom corrects it by the data set's Pixel Representation, seen before.
                (value,) = _UNSIGNED_SHORT.unpack_from(self.buffer, representation[1])
                return "US" if value == 0 else "SS"
        raise _NotCovered

    def undefined_length(
        self,
        tag: int,
        vr: str,
        start: int,
        end: int,
        key: str,
        prefix: str,
        out: dict[str, Any],
        encoding: str,
        top: bool,
    ) -> int:
        """An undefined-length element: a sequence, or encapsulated Pixel Data."""
        if self.implicit:
            # pydicom's reader: the dictionary VR, or SQ when an item follows.
            vr = _dictionary_vr(tag) or ""
            if not vr and bytes(self.buffer[start : start + 4]) == _ITEM_TAG_BYTES:
                vr = "SQ"
        if vr == "SQ":
            return self.sequence(start, _UNDEFINED, key, prefix, out, encoding, top, end)
        if not (top and tag == _PIXEL_DATA and vr in ("OB", "OW", "OB or OW")):
            raise _NotCovered
        if vr == "OB or OW":
            vr = "OB"  # pydicom's correction for encapsulated Pixel Data (PS3.5 §A.4)
        items = read_encapsulated_items(
            cast(BinaryIO, _BufferFile(self.buffer)), start, file_size=self.size
        )
        after = items.end + 8  # the Sequence Delimitation Item
        if after > end:
            raise _NotCovered
        length = items.end - start
        self.recorded[tag] = (vr, start, length)
        self.encapsulated = items
        self.bulk_element(vr, start, length, key, prefix, out, encapsulated=True)
        return after

    def sequence(
        self,
        start: int,
        length: int,
        key: str,
        prefix: str,
        out: dict[str, Any],
        encoding: str,
        top: bool,
        end: int,
    ) -> int:
        """A sequence (PS3.5 §7.5) ending at ``end``, or before it if of undefined length."""
        buffer = self.buffer
        delimited = length == _UNDEFINED
        items: list[dict[str, Any]] = []
        item_prefix = f"{prefix}{key}/"
        position = start
        while True:
            if position >= end and not delimited:
                if position != end:
                    raise _NotCovered
                break
            if position + 8 > end:
                raise _NotCovered
            group, element, item_length = _ITEM_HEADER.unpack_from(buffer, position)
            tag = group << 16 | element
            if tag == _SEQUENCE_DELIMITER and delimited:
                position += 8
                break
            if tag != _ITEM:
                raise _NotCovered
            item: dict[str, Any] = {}
            path = f"{item_prefix}{len(items)}/"
            if item_length == _UNDEFINED:
                position = self.walk(position + 8, end, True, path, item, encoding, False)
            else:
                item_end = position + 8 + item_length
                if item_end > end:
                    raise _NotCovered
                position = self.walk(position + 8, item_end, False, path, item, encoding, False)
            items.append(item)
        if top and position - start > MAX_SEQUENCE_LENGTH:
            raise _NotCovered  # json.py leaves it out
        out[key] = {"vr": "SQ", "Value": items}
        return position

    def bulk_element(
        self,
        vr: str,
        start: int,
        length: int,
        key: str,
        prefix: str,
        out: dict[str, Any],
        *,
        encapsulated: bool = False,
    ) -> None:
        path = prefix + key
        out[key] = node = {"vr": vr}
        self.bulk_nodes.append((node, path))
        self.bulk[path] = BulkDataLocation(path, vr, start, length, True, encapsulated)

    # -- frames --------------------------------------------------------------------------------

    def frames(
        self, metadata: dict[str, Any], transfer_syntax: str
    ) -> tuple[PixelDataValue | None, FrameLayout | None, int]:
        """``part10._frames``, from the recorded top-level elements."""
        recorded = self.recorded
        tag = next((tag for tag in _PIXEL_DATA_ORDER if tag in recorded), None)
        if tag is None:
            return None, None, 0
        number_of_frames = self.number_of_frames(metadata)
        _, offset, length = recorded[tag]
        items = self.encapsulated
        if tag == _PIXEL_DATA and items is not None:
            layout = encapsulated_frames(
                cast(BinaryIO, _BufferFile(self.buffer)),
                items,
                number_of_frames,
                self.extended_offsets(),
            )
            return PixelDataValue(tag, offset, length, True, items), layout, number_of_frames
        if UID(transfer_syntax).is_encapsulated:
            raise _NotCovered  # a defined length where fragments are expected
        attributes: dict[str, int] = {}
        for keyword, attribute in _IMAGE_ATTRIBUTES:
            element = recorded.get(attribute)
            if element is None or element[0] != "US" or element[2] != 2:
                raise _NotCovered  # read_instance says which one is missing
            (attributes[keyword],) = _UNSIGNED_SHORT.unpack_from(self.buffer, element[1])
        layout = native_frames(
            offset,
            length,
            number_of_frames=number_of_frames,
            photometric_interpretation=self.photometric_interpretation(metadata),
            **attributes,
        )
        return PixelDataValue(tag, offset, length, False), layout, number_of_frames

    def number_of_frames(self, metadata: dict[str, Any]) -> int:
        """``part10._number_of_frames`` for the plain values, without its problems."""
        element = self.recorded.get(_NUMBER_OF_FRAMES)
        if element is None or element[2] == 0:
            return 1
        values = metadata[_key(_NUMBER_OF_FRAMES)].get("Value")
        if element[0] != "IS" or not values or len(values) != 1 or values[0].__class__ is not int:
            raise _NotCovered
        value: int = values[0]
        return value if value > 0 else 1

    def photometric_interpretation(self, metadata: dict[str, Any]) -> str | None:
        element = self.recorded.get(_PHOTOMETRIC_INTERPRETATION)
        if element is None:
            return None
        values = metadata[_key(_PHOTOMETRIC_INTERPRETATION)].get("Value")
        if element[0] != "CS" or (values is not None and len(values) != 1):
            raise _NotCovered
        return str(values[0]).strip() if values else ""

    def extended_offsets(self) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        """``part10._extended_offsets``: the Extended Offset Table and its lengths, if any."""
        tables: list[tuple[int, ...]] = []
        for tag in _EXTENDED_OFFSET_TABLES:
            element = self.recorded.get(tag)
            if element is None or element[2] == 0:
                return None
            vr, offset, length = element
            if vr not in ("OV", "OB", "OW") or length % 8:
                raise _NotCovered
            raw = bytes(self.buffer[offset : offset + length])
            tables.append(Struct(f"<{length // 8}Q").unpack(raw))
        return tables[0], tables[1]


class _NoDataset:
    """A data set without private creators, for ``json._private_vr`` (see ``implicit_vr``)."""

    @staticmethod
    def get(tag: int, default: Any = None) -> Any:
        return default


_NO_DATASET: Final = _NoDataset()


def _bulk_pixel_data(tag: int, vr: str) -> bool:
    """Whether a pixel data element is bulk data whatever its length (``json.is_bulk_data``)."""
    return tag in PIXEL_DATA_TAGS and _CONVERSIONS[vr][0] != _NEVER


def _encoding(element: dict[str, Any]) -> str:
    """The first encoding pydicom decodes text with, from a (0008,0005) element's JSON."""
    values = element.get("Value", [""])
    encoding = _ENCODINGS.get(values[0]) if len(values) == 1 else None
    if encoding is None:
        raise _NotCovered  # ISO 2022 code extensions, other character sets, several
    return encoding


def _creator(element: dict[str, Any], vr: str) -> Any:
    """A private creator as pydicom's private dictionary lookup gets it, from its JSON."""
    values = element.get("Value")
    if vr != "LO" or (values is not None and len(values) != 1):
        return _NOT_A_STRING
    return values[0] if values else ""


def _single_uid(metadata: dict[str, Any], key: str) -> str:
    """A UI element with exactly one value; read_instance refuses the others, with a reason."""
    element = metadata.get(key)
    values = element.get("Value") if element is not None else None
    if element is None or element["vr"] != "UI" or not values or len(values) != 1:
        raise _NotCovered
    return str(values[0])

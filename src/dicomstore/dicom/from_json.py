"""DICOM JSON metadata and bulk data parts to a Part 10 file: STOW-RS's second request form.

Besides Part 10 files, Google's STOW-RS accepts ``multipart/related;
type="application/dicom+json"`` (``shared/spec/dicomweb-conformance.md`` §2.1 item 2, PS3.18
§10.5): a first part holding a JSON array of DICOM JSON data sets (PS3.18 Annex F), one per
instance, then one part per BulkDataURI, the one whose ``Content-Location`` equals it. This
module turns such an instance into the Part 10 file the rest of ingest reads
(:func:`write_part10`), and holds every rule of that form:

- each instance has (0008,0005) SpecificCharacterSet ``ISO_IR 192``, (0002,0010)
  TransferSyntaxUID, SOPClassUID, StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID; the
  transfer syntax may be any but Explicit VR Big Endian and Deflated Explicit VR Little Endian;
- BulkDataURI only on OB, OW and UN elements, at most one per instance, unique in the request;
- bulk parts are ``application/octet-stream`` or one of the single-frame image types of PS3.18
  Table 8.7.3-5 that Google lists (:func:`check_bulk_part`); compressed bytes only for
  (7FE0,0010) Pixel Data, in the instance's own transfer syntax;
- InlineBinary anywhere but in the top-level Pixel Data, in the byte order of the metadata
  part's ``transfer-syntax`` parameter (:func:`inline_binary_syntax`);
- file meta elements (0002,xxxx) may be given with the data set.

Request or instance
-------------------
A broken rule fails either the whole request (``InvalidArgument`` before anything is stored:
HTTP 400) or one instance (``InvalidArgument`` from :func:`write_part10` or
:func:`check_bulk_part`, which the route turns into a FailedSOPSequence item with the message as
FailureDetail while the other instances are stored: HTTP 409). The line follows spec §2.3 (400
for a malformed multipart or JSON body, 409 when an instance is not stored) and PS3.18 §10.5,
for which a request whose bulk data parts do not match the BulkDataURIs of its metadata is
invalid as a whole. The request fails when

- the metadata part is not UTF-8 JSON, not an array, an empty array, or has an item that is not
  an object (:func:`parse_metadata_part`);
- its ``transfer-syntax`` parameter is not a UID (:func:`inline_binary_syntax`);
- a BulkDataURI appears twice in the request, in one instance or two: its part could belong to
  either (:class:`BulkDataIndex`);
- a bulk part has no ``Content-Location``, one that no BulkDataURI names, or one an earlier part
  had; or a BulkDataURI has no part (:class:`BulkDataIndex`).

Everything else fails the instance alone: DICOM JSON that is not PS3.18 F.2's model, a required
attribute missing or wrong, a refused transfer syntax, a BulkDataURI on another VR or a second
one in the instance, Pixel Data not sent as bulk data, InlineBinary on a non-binary VR or not
base64, a bulk part of a media type or transfer syntax that cannot carry its element. The spec
does not say which of the two Google does for bulk part media types and transfer syntaxes;
failing the instance keeps the other instances of the request, as the route already does for a
Part 10 part of the wrong media type.

Compressed pixel data
---------------------
A compressed bulk part holds "only the compressed octet stream without the fragment delimiters"
(PS3.18 §8.7.3.3.2), and every image media type here is a *single frame* type (PS3.18 Table
8.7.3-5): its bytes are one frame, written as encapsulated Pixel Data with a one-entry Basic
Offset Table and one fragment, exactly what ``pydicom.encaps.encapsulate([frame])`` gives. A
multi-frame instance (Number of Frames > 1) in an image syntax therefore cannot be sent in this
form and fails. An ``application/octet-stream`` part may also carry the instance's own
encapsulated transfer syntax (``transfer-syntax=`` equal to it): for the video syntaxes (MPEG-2,
MPEG-4, HEVC), whose bitstream is the whole multi-frame value, it is written as one fragment
behind an empty Basic Offset Table (PS3.5 §8.2.5–8.2.8).

Memory
------
The one bulk value of an instance is usually its top-level Pixel Data, possibly large and
spooled to disk by the caller: :func:`write_part10` copies it from its file to the output in
chunks, never holding it whole. The rest of the data set is encoded by pydicom in memory (it is
what the JSON already holds). A bulk value inside a sequence, or in the file meta, is loaded
whole: pydicom needs it in memory to encode the sequence; there is at most one per instance.

How the STOW route uses it
--------------------------
1. Read the first part whole; its type must be ``application/dicom+json``.
   ``instances = parse_metadata_part(body)`` and ``syntax =
   inline_binary_syntax(params.get("transfer-syntax"))``.
2. ``index = BulkDataIndex(instances)``.
3. For each further part: ``index.claim(part.content_location)``, then spool its body and keep
   ``BulkDataPart(path, part.content_type.type, part.content_type.params.get("transfer-syntax"))``
   under its Content-Location (an absent Content-Type is ``application/octet-stream``).
4. After the last part: ``index.check_complete()``.
5. For each instance: ``write_part10(instance, parts, spool, inline_binary_syntax=syntax)``,
   then store the spooled file as a Part 10 upload. An ``InvalidArgument`` fails that instance
   only: FailureDetail = its message, with the UIDs of :func:`sop_uids` when present.
6. Discard every spooled part, stored or not.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from struct import pack
from typing import Any, Final, Protocol

from pydicom._uid_dict import UID_dictionary
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    JPEG2000,
    JPEG2000MC,
    RE_VALID_UID,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEG2000MCLossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pydicom.valuerep import DSfloat

from dicomstore.dicom.bulkdata import to_little_endian
from dicomstore.errors import InvalidArgument

__all__ = [
    "CHARACTER_SET",
    "OCTET_STREAM",
    "BulkDataIndex",
    "BulkDataPart",
    "BulkDataReference",
    "bulk_data_references",
    "check_bulk_part",
    "inline_binary_syntax",
    "parse_metadata_part",
    "sop_uids",
    "write_part10",
]

CHARACTER_SET: Final = "ISO_IR 192"
"""The (0008,0005) Specific Character Set every JSON instance must have: UTF-8, as JSON is."""

OCTET_STREAM: Final = "application/octet-stream"
"""The bulk data media type of uncompressed bytes, and of a part without a Content-Type."""

_STRING_VRS: Final = frozenset(
    {"AE", "AS", "CS", "DA", "DT", "LO", "LT", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
_NUMBER_STRING_VRS: Final = frozenset({"DS", "IS"})
_BINARY_NUMBER_VRS: Final = frozenset({"FD", "FL", "SL", "SS", "SV", "UL", "US", "UV"})
_INLINE_BINARY_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})  # PS3.18 F.2.7
_BULK_DATA_VRS: Final = frozenset({"OB", "OW", "UN"})  # Google, spec §2.1
_JSON_VRS: Final = (  # PS3.18 Table F.2.3-1
    _STRING_VRS | _NUMBER_STRING_VRS | _BINARY_NUMBER_VRS | _INLINE_BINARY_VRS | {"AT", "PN", "SQ"}
)
_PN_COMPONENTS: Final = frozenset({"Alphabetic", "Ideographic", "Phonetic"})
_VALUE_KEYS: Final = ("Value", "InlineBinary", "BulkDataURI")
_KEY_RE: Final = re.compile(r"[0-9A-Fa-f]{8}")

_PIXEL_DATA: Final = 0x7FE00010
_SPECIFIC_CHARACTER_SET: Final = 0x00080005
_TRANSFER_SYNTAX_UID: Final = 0x00020010
_MEDIA_STORAGE_SOP_CLASS_UID: Final = 0x00020002
_MEDIA_STORAGE_SOP_INSTANCE_UID: Final = 0x00020003
_NUMBER_OF_FRAMES: Final = 0x00280008
# Set by pydicom when the file meta is written: the file is ours, whoever sent the metadata.
_WRITER_META: Final = (0x00020001, 0x00020012, 0x00020013)
_REQUIRED_UIDS: Final = (
    (0x00080016, "SOPClassUID"),
    (0x0020000D, "StudyInstanceUID"),
    (0x0020000E, "SeriesInstanceUID"),
    (0x00080018, "SOPInstanceUID"),
)

_NATIVE: Final = frozenset({ImplicitVRLittleEndian, ExplicitVRLittleEndian})
_REFUSED_SYNTAXES: Final = {
    ExplicitVRBigEndian: "Google does not accept it with JSON metadata",
    DeflatedExplicitVRLittleEndian: "Google does not accept it with JSON metadata",
    "1.2.840.10008.1.2.4.95": "its data set is deflated, which this store cannot write",
    "1.2.840.10008.1.2.4.205": "its data set is deflated, which this store cannot write",
    "1.2.840.10008.1.20": "it is not the encoding of a data set",
    "1.2.840.10008.1.2.6.1": "it is not the encoding of a data set",
    "1.2.840.10008.1.2.6.2": "it is not the encoding of a data set",
}
# Encapsulated syntaxes newer than pydicom 3.0.2's dictionary, which Google accepts (spec §4.6).
_NEWER_SYNTAXES: Final = {
    "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
    "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
    "1.2.840.10008.1.2.4.112": "JPEG XL",
    "1.2.840.10008.1.2.8.1": "Deflated Image Frame Compression",
}
# Video: the bitstream of all frames is the value (PS3.5 §8.2.5–8.2.8).
_VIDEO_SYNTAXES: Final = frozenset(
    [f"1.2.840.10008.1.2.4.{n}" for n in range(100, 109)]
    + [f"1.2.840.10008.1.2.4.{n}.1" for n in range(100, 107)]
)
# PS3.18 Table 8.7.3-5, the single frame types Google accepts; the first is the default.
_IMAGE_MEDIA_TYPES: Final[Mapping[str, tuple[str, ...]]] = {
    "image/jpeg": (JPEGLosslessSV1, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless),
    "image/dicom-rle": (RLELossless,),
    "image/jls": (JPEGLSLossless, JPEGLSNearLossless),
    "image/jp2": (JPEG2000Lossless, JPEG2000),
    "image/jpx": (JPEG2000MCLossless, JPEG2000MC),
}

_PREAMBLE: Final = b"\x00" * 128 + b"DICM"
_MAX_LENGTH: Final = 0xFFFFFFFE  # the longest even defined length
_UNDEFINED_LENGTH: Final = 0xFFFFFFFF
_CHUNK: Final = 1 << 20


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True, slots=True)
class BulkDataReference:
    """A BulkDataURI in an instance's metadata.

    Attributes
    ----------
    uri : str
        The BulkDataURI, which the ``Content-Location`` of its part must equal.
    path : str
        Where the element is, as in the stored metadata's BulkDataURIs: ``7FE00010`` at the top
        level, ``SSSSSSSS/{item}/TTTTTTTT`` inside item ``item`` (0-based) of sequence
        ``SSSSSSSS``, repeated for nested sequences.
    vr : str
        The VR the metadata gives the element.
    """

    uri: str
    path: str
    vr: str

    @property
    def tag(self) -> int:
        """The element's own tag."""
        return int(self.path.rsplit("/", 1)[-1], 16)

    @property
    def is_pixel_data(self) -> bool:
        """Whether this is the top-level (7FE0,0010) Pixel Data, the only compressed element."""
        return self.path == "7FE00010"


@dataclass(frozen=True, slots=True)
class BulkDataPart:
    """The received bytes of one BulkDataURI.

    Attributes
    ----------
    content : Path | bytes
        The part's body: a spooled file (copied in chunks when it is the top-level bulk value)
        or bytes.
    media_type : str
        Its ``Content-Type`` without parameters; ``application/octet-stream`` when absent.
    transfer_syntax : str | None
        Its ``transfer-syntax`` parameter, if any.
    """

    content: Path | bytes
    media_type: str = OCTET_STREAM
    transfer_syntax: str | None = None

    @property
    def length(self) -> int:
        if isinstance(self.content, Path):
            return self.content.stat().st_size
        return len(self.content)

    def read(self) -> bytes:
        if isinstance(self.content, Path):
            return self.content.read_bytes()
        return bytes(self.content)

    def chunks(self, length: int) -> Iterator[bytes]:
        """The first ``length`` bytes in chunks; OSError if the content has become shorter."""
        if not isinstance(self.content, Path):
            yield self.content[:length]
            return
        with open(self.content, "rb") as file:
            left = length
            while left:
                chunk = file.read(min(left, _CHUNK))
                if not chunk:
                    raise OSError(f"{self.content} ended {left} bytes early")
                left -= len(chunk)
                yield chunk


# -- the request ---------------------------------------------------------------------------------


def parse_metadata_part(body: bytes) -> list[dict[str, Any]]:
    """The instances of the metadata part: a JSON array of DICOM JSON data sets (PS3.18 F.2).

    Only the framing is checked here; each data set is checked by :func:`write_part10`, so that
    one bad instance does not fail the others.

    Parameters
    ----------
    body : bytes
        The first part of a ``multipart/related; type="application/dicom+json"`` request, UTF-8
        (a byte order mark is ignored).

    Returns
    -------
    list[dict[str, Any]]
        One DICOM JSON object per instance, in request order.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        The body is not UTF-8 JSON, not an array, an empty array, or an item is not an object:
        the request is malformed (HTTP 400).
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidArgument(
            f"The metadata part is not UTF-8 text (byte {error.start}); DICOM JSON is UTF-8."
        ) from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InvalidArgument(
            f"The metadata part is not valid JSON: {error.msg} at line {error.lineno} "
            f"column {error.colno}."
        ) from None
    except ValueError as error:
        raise InvalidArgument(f"The metadata part is not valid JSON: {error}.") from None
    if not isinstance(value, list):
        raise InvalidArgument(
            "The metadata part must hold a JSON array of DICOM JSON objects, one per instance "
            f"(PS3.18 F.2); it holds a JSON {_json_type(value)}."
        )
    if not value:
        raise InvalidArgument("The metadata part holds no instances: its JSON array is empty.")
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise InvalidArgument(
                f"Item {number} of the metadata array is a JSON {_json_type(item)}; each item "
                "must be a DICOM JSON object (PS3.18 F.2)."
            )
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def inline_binary_syntax(transfer_syntax: str | None) -> str:
    """The transfer syntax InlineBinary values are encoded in (spec §2.1).

    It is the ``transfer-syntax`` parameter of the metadata part; without one, InlineBinary
    values are little endian (Explicit VR Little Endian). Only the byte order matters: values of
    Explicit VR Big Endian are swapped to little endian by their VR's word size.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        The parameter is not a UID (HTTP 400 for the request).
    """
    if transfer_syntax is None or not transfer_syntax.strip():
        return ExplicitVRLittleEndian
    value = transfer_syntax.strip()
    if len(value) > 64 or RE_VALID_UID.fullmatch(value) is None:
        raise InvalidArgument(
            f"Invalid transfer-syntax parameter {value!r} on the metadata part: expected the "
            "UID of the transfer syntax of its InlineBinary values."
        )
    return value


def bulk_data_references(instance: Mapping[str, Any]) -> list[BulkDataReference]:
    """Every BulkDataURI of an instance, in the order of its JSON, sequences and file meta included.

    The walk is lenient: it finds the BulkDataURIs of a malformed instance too (a string, or a
    list of one string as pydicom also accepts), so that the parts of an instance that is going
    to fail are still recognised as belonging to the request. No rule is checked here.
    """
    found: list[BulkDataReference] = []
    _find_references(instance, "", found)
    return found


def _find_references(
    dataset: Mapping[str, Any], prefix: str, found: list[BulkDataReference]
) -> None:
    for key, element in dataset.items():
        if not isinstance(element, Mapping):
            continue
        path = prefix + str(key).upper()
        vr = element.get("vr")
        vr = vr if isinstance(vr, str) else ""
        uri = _single_string(element.get("BulkDataURI"))
        if uri:
            found.append(BulkDataReference(uri, path, vr))
        items = element.get("Value")
        if vr == "SQ" and isinstance(items, list):
            for index, item in enumerate(items):
                if isinstance(item, Mapping):
                    _find_references(item, f"{path}/{index}/", found)


def _single_string(value: Any) -> str | None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, str) else None


class BulkDataIndex:
    """The BulkDataURIs of one request, matched to its bulk data parts as they arrive.

    Holds the request-level rules of bulk data: a BulkDataURI names one part of the request,
    each part is named by one BulkDataURI, and every BulkDataURI has its part (spec §2.1, PS3.18
    §10.5). Every rule it checks fails the request (HTTP 400).

    Parameters
    ----------
    instances : Sequence[Mapping[str, Any]]
        The instances of the metadata part.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        A BulkDataURI appears twice in the request, in one instance or in two.
    """

    def __init__(self, instances: Sequence[Mapping[str, Any]]) -> None:
        self._owners: dict[str, int] = {}
        self._received: set[str] = set()
        for index, instance in enumerate(instances):
            for reference in bulk_data_references(instance):
                owner = self._owners.get(reference.uri)
                if owner is not None:
                    where = (
                        f"instance {index + 1}"
                        if owner == index
                        else f"instances {owner + 1} and {index + 1}"
                    )
                    raise InvalidArgument(
                        f"The BulkDataURI {reference.uri!r} appears more than once in the "
                        f"request ({where}); each BulkDataURI must be unique across the request."
                    )
                self._owners[reference.uri] = index

    def owner(self, uri: str) -> int | None:
        """The index of the instance that has BulkDataURI ``uri``, if one does."""
        return self._owners.get(uri)

    def claim(self, content_location: str | None) -> int:
        """Record the arrival of the bulk data part with this ``Content-Location``.

        Returns
        -------
        int
            The index of the instance whose BulkDataURI it is.

        Raises
        ------
        dicomstore.errors.InvalidArgument
            The part has no Content-Location, one that no BulkDataURI of the metadata names,
            or one an earlier part had.
        """
        if not content_location:
            raise InvalidArgument(
                "A bulk data part has no Content-Location header; it must equal the BulkDataURI "
                "of its element in the metadata."
            )
        owner = self._owners.get(content_location)
        if owner is None:
            raise InvalidArgument(
                f"The bulk data part with Content-Location {content_location!r} matches no "
                "BulkDataURI of the metadata."
            )
        if content_location in self._received:
            raise InvalidArgument(
                f"Two bulk data parts have Content-Location {content_location!r}; each "
                "BulkDataURI has one part."
            )
        self._received.add(content_location)
        return owner

    def check_complete(self) -> None:
        """Check, once the body has ended, that every BulkDataURI had its part.

        Raises
        ------
        dicomstore.errors.InvalidArgument
            Naming the BulkDataURIs that no part carried.
        """
        missing = [uri for uri in self._owners if uri not in self._received]
        if missing:
            raise InvalidArgument(
                "No bulk data part has Content-Location "
                + ", ".join(repr(uri) for uri in missing)
                + ", named as BulkDataURI in the metadata."
            )


# -- bulk data parts ---------------------------------------------------------------------------


def check_bulk_part(
    media_type: str,
    transfer_syntax: str | None,
    *,
    instance_transfer_syntax: str,
    path: str,
) -> None:
    """Check that a bulk data part may carry the element at ``path`` (spec §2.1).

    The allowed media types are ``application/octet-stream`` (uncompressed bytes, or the
    instance's own compressed syntax when its ``transfer-syntax`` says so) and ``image/jpeg``,
    ``image/dicom-rle``, ``image/jls``, ``image/jp2``, ``image/jpx`` with the transfer syntaxes
    Google lists; without a ``transfer-syntax`` parameter, a type means its PS3.18 default
    (Table 8.7.3-5). Compressed bytes are accepted only for the top-level (7FE0,0010) Pixel
    Data, and only in the instance's transfer syntax; an instance in a compressed syntax needs
    its Pixel Data compressed.

    Parameters
    ----------
    media_type : str
        The part's ``Content-Type`` without parameters (case-insensitive).
    transfer_syntax : str | None
        Its ``transfer-syntax`` parameter.
    instance_transfer_syntax : str
        The instance's (0002,0010) Transfer Syntax UID.
    path : str
        The element's path (:attr:`BulkDataReference.path`).

    Raises
    ------
    dicomstore.errors.InvalidArgument
        The part cannot carry that element: the instance fails.
    """
    _part_syntax(media_type, transfer_syntax, instance_transfer_syntax, path)


def _part_syntax(
    media_type: str, transfer_syntax: str | None, instance_syntax: str, path: str
) -> str:
    """The transfer syntax of the part's bytes, once checked (see `check_bulk_part`)."""
    media_type = media_type.strip().lower()
    given = transfer_syntax.strip() if transfer_syntax else None
    pixel_data = path == "7FE00010"
    if media_type == OCTET_STREAM:
        syntax = given or ExplicitVRLittleEndian
        compressed = syntax not in _NATIVE
        if compressed and syntax != instance_syntax:
            raise InvalidArgument(
                f"the bulk data part for {path} is {OCTET_STREAM} with transfer-syntax={syntax}: "
                f"only uncompressed little endian bytes ({ExplicitVRLittleEndian}) or bytes in "
                f"the instance's transfer syntax {instance_syntax} are accepted"
            )
    elif media_type in _IMAGE_MEDIA_TYPES:
        allowed = _IMAGE_MEDIA_TYPES[media_type]
        syntax = given or allowed[0]
        if syntax not in allowed:
            raise InvalidArgument(
                f"the bulk data part for {path} is {media_type} with transfer-syntax={syntax}; "
                f"{media_type} takes " + ", ".join(allowed)
            )
        compressed = True
    else:
        raise InvalidArgument(
            f"the bulk data part for {path} has media type {media_type}; accepted are "
            f"{OCTET_STREAM}, " + ", ".join(_IMAGE_MEDIA_TYPES)
        )
    if compressed:
        if not pixel_data:
            raise InvalidArgument(
                f"the bulk data part for {path} holds compressed bytes ({syntax}); compressed "
                "bytes are accepted only for the top-level (7FE0,0010) PixelData"
            )
        if syntax != instance_syntax:
            raise InvalidArgument(
                f"the PixelData part's transfer syntax {syntax} is not the instance's "
                f"TransferSyntaxUID {instance_syntax}; they must be equal"
            )
    elif pixel_data and _is_encapsulated(instance_syntax):
        raise InvalidArgument(
            f"the instance's TransferSyntaxUID {instance_syntax} is compressed, so its PixelData "
            f"part must be compressed too, with transfer-syntax={instance_syntax}; it holds "
            f"uncompressed bytes ({media_type})"
        )
    return syntax


# -- the instance --------------------------------------------------------------------------------


def sop_uids(instance: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(0008,0016) SOP Class UID and (0008,0018) SOP Instance UID, when each is one string.

    For the Referenced SOP Class/Instance UID of a failed instance's response item.
    """
    return _uid_value(instance, "00080016"), _uid_value(instance, "00080018")


def _uid_value(dataset: Mapping[str, Any], key: str) -> str | None:
    element = dataset.get(key)
    if not isinstance(element, Mapping):
        return None
    value = element.get("Value")
    if not isinstance(value, list) or len(value) != 1:
        return None
    return value[0] if isinstance(value[0], str) and value[0] else None


@dataclass(slots=True)
class _Checked:
    """An instance's JSON once checked, split for writing."""

    meta: dict[str, Any]
    body: dict[str, Any]
    transfer_syntax: str
    sop_class_uid: str
    sop_instance_uid: str
    references: list[BulkDataReference]
    un_paths: list[str]


def write_part10(
    instance: Mapping[str, Any],
    bulk: Mapping[str, BulkDataPart | Path | bytes],
    out: _Writable | Path,
    *,
    inline_binary_syntax: str = ExplicitVRLittleEndian,
) -> None:
    """Write one instance of a JSON metadata STOW-RS request as a DICOM Part 10 file.

    The file has the 128-byte preamble, ``DICM``, the file meta information (group length,
    version, Media Storage SOP Class and Instance UIDs, the instance's Transfer Syntax UID,
    pydicom's Implementation Class UID and version name, and any other group 0002 element the
    metadata gives), then the data set in the instance's transfer syntax (PS3.10 §7.1). Bulk
    data come from their parts: the raw value for uncompressed bytes, encapsulated Pixel Data
    (Basic Offset Table and one fragment, PS3.5 §A.4) for a compressed frame. Nothing is
    derived from the pixel data: the client supplies the Image Pixel attributes (spec §2.1).

    Parameters
    ----------
    instance : Mapping[str, Any]
        One DICOM JSON object of :func:`parse_metadata_part`.
    bulk : Mapping[str, BulkDataPart | Path | bytes]
        The bulk data parts by BulkDataURI (Content-Location); others are ignored. A bare
        ``Path`` or ``bytes`` is an ``application/octet-stream`` part without parameters.
    out : typing.BinaryIO | Path
        Where to write: anything with ``write(bytes)`` (a spool that hashes what it is given,
        an open file), or a file to create or replace.
    inline_binary_syntax : str
        The syntax of the InlineBinary values (:func:`inline_binary_syntax`).

    Raises
    ------
    dicomstore.errors.InvalidArgument
        The instance breaks a rule of spec §2.1 or PS3.18 F.2 (see the module docstring), or
        pydicom cannot encode a value: the instance fails. Nothing has been written to ``out``.
    OSError
        A bulk file or ``out`` cannot be read or written (``out`` may then hold part of the
        file).
    """
    checked = _check_instance(instance, inline_binary_syntax == ExplicitVRBigEndian)
    streamed: _Streamed | None = None
    loaded: dict[str, bytes] = {}
    for reference in checked.references:
        given = bulk.get(reference.uri)
        if given is None:
            raise InvalidArgument(f"no bulk data part has Content-Location {reference.uri!r}")
        part = given if isinstance(given, BulkDataPart) else BulkDataPart(given)
        syntax = _part_syntax(
            part.media_type, part.transfer_syntax, checked.transfer_syntax, reference.path
        )
        if "/" in reference.path or reference.tag >> 16 == 0x0002:
            loaded[reference.uri] = part.read()
        else:
            streamed = _Streamed(reference, part, syntax, part.length)
            del checked.body[f"{reference.tag:08X}"]
            checked.un_paths = [path for path in checked.un_paths if path != reference.path]
    if streamed is not None and streamed.encapsulated:
        _check_single_frame(checked)

    def load(uri: str) -> bytes:
        return loaded[uri]

    implicit = checked.transfer_syntax == ImplicitVRLittleEndian
    meta = _encode_meta(checked, load)
    head, tail = _encode_body(checked, load, implicit, streamed.reference.tag if streamed else None)
    start = streamed.start(implicit) if streamed is not None else b""
    if isinstance(out, Path):
        with open(out, "wb") as file:
            _write(file, meta, head, start, streamed, tail)
    else:
        _write(out, meta, head, start, streamed, tail)


@dataclass(frozen=True, slots=True)
class _Streamed:
    """The instance's top-level bulk element, copied from its part rather than loaded."""

    reference: BulkDataReference
    part: BulkDataPart
    syntax: str
    length: int

    @property
    def encapsulated(self) -> bool:
        return self.syntax not in _NATIVE

    def start(self, implicit: bool) -> bytes:
        """The element's bytes up to its value (encapsulated: up to its fragment's value)."""
        reference, padded = self.reference, self.length + self.length % 2
        if padded > _MAX_LENGTH:
            raise InvalidArgument(
                f"the bulk data part for {reference.path} holds {self.length} bytes; a DICOM "
                f"value holds at most {_MAX_LENGTH}"
            )
        group, number = reference.tag >> 16, reference.tag & 0xFFFF
        if not self.encapsulated:
            if implicit:
                return pack("<HHL", group, number, padded)
            return pack("<HH2s2xL", group, number, reference.vr.encode("ascii"), padded)
        # PS3.5 §A.4: explicit VR OB of undefined length, a Basic Offset Table holding the one
        # frame's offset (empty for video, §8.2.5), one fragment; as pydicom's encapsulate().
        offsets = b"" if self.syntax in _VIDEO_SYNTAXES else pack("<L", 0)
        return (
            pack("<HH2s2xL", group, number, b"OB", _UNDEFINED_LENGTH)
            + pack("<HHL", 0xFFFE, 0xE000, len(offsets))
            + offsets
            + pack("<HHL", 0xFFFE, 0xE000, padded)
        )


def _write(
    out: _Writable,
    meta: bytes,
    head: bytes,
    start: bytes,
    streamed: _Streamed | None,
    tail: bytes,
) -> None:
    out.write(_PREAMBLE)
    out.write(meta)
    out.write(head)
    if streamed is not None:
        out.write(start)
        for chunk in streamed.part.chunks(streamed.length):
            out.write(chunk)
        if streamed.length % 2:
            out.write(b"\x00")
        if streamed.encapsulated:
            out.write(pack("<HHL", 0xFFFE, 0xE0DD, 0))  # Sequence Delimitation Item
    out.write(tail)


def _check_single_frame(checked: _Checked) -> None:
    if checked.transfer_syntax in _VIDEO_SYNTAXES:
        return
    element = checked.body.get(f"{_NUMBER_OF_FRAMES:08X}")
    value = element.get("Value") if isinstance(element, Mapping) else None
    try:
        frames = int(value[0]) if isinstance(value, list) and value else 1
    except (TypeError, ValueError):
        frames = 1  # as frame location does: a bad Number of Frames is not the client's loss
    if frames > 1:
        raise InvalidArgument(
            f"(0028,0008) NumberOfFrames is {frames} but a compressed PixelData part holds one "
            "frame (its media type is a single frame type, PS3.18 Table 8.7.3-5); send this "
            "instance as a Part 10 file"
        )


def _encode_meta(checked: _Checked, load: Any) -> bytes:
    try:
        parsed = Dataset.from_json(checked.meta, load)
        for path in checked.un_paths:
            if path.startswith("0002"):
                _element_at(parsed, path).VR = "UN"
        file_meta = FileMetaDataset()
        for element in parsed:
            if element.tag not in _WRITER_META:
                file_meta.add(element)
        file_meta.MediaStorageSOPClassUID = UID(checked.sop_class_uid)
        file_meta.MediaStorageSOPInstanceUID = UID(checked.sop_instance_uid)
        buffer = DicomBytesIO()
        write_file_meta_info(buffer, file_meta, enforce_standard=True)
    except OSError:
        raise
    except Exception as error:
        raise InvalidArgument(f"the file meta information cannot be encoded: {error}") from error
    return buffer.getvalue()


def _encode_body(
    checked: _Checked, load: Any, implicit: bool, split: int | None
) -> tuple[bytes, bytes]:
    """The data set's bytes before and after the streamed element (all of it in the first)."""
    try:
        dataset = Dataset.from_json(checked.body, load)
        for path in checked.un_paths:
            if not path.startswith("0002"):
                _element_at(dataset, path).VR = "UN"
        _fix_number_strings(dataset)
        head, tail = Dataset(), Dataset()
        for element in dataset:
            (tail if split is not None and element.tag > split else head).add(element)
        return _encode(head, implicit), _encode(tail, implicit)
    except OSError:
        raise
    except Exception as error:
        raise InvalidArgument(f"the data set cannot be encoded: {error}") from error


def _encode(dataset: Dataset, implicit: bool) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = implicit
    write_dataset(buffer, dataset, parent_encoding=CHARACTER_SET)
    return buffer.getvalue()


def _element_at(dataset: Dataset, path: str) -> DataElement:
    parts = path.split("/")
    for tag, item in zip(parts[::2], parts[1::2], strict=False):
        dataset = dataset[int(tag, 16)].value[int(item)]
    element: DataElement = dataset[int(parts[-1], 16)]
    return element


def _fix_number_strings(dataset: Dataset) -> None:
    """Make IS and DS values encodable: JSON nulls empty, JSON numbers at most 16 characters.

    pydicom writes a null inside a multi-valued IS or DS as ``None`` and a float such as
    ``0.30000000000000004`` as its 19-character repr; PS3.5 §6.2 allows 16 (12 for IS).
    """
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                _fix_number_strings(item)
        elif element.VR in _NUMBER_STRING_VRS and element.VM > 1:
            element.value = [_number_string(value) for value in element.value]
        elif element.VR == "DS" and element.VM == 1:
            element.value = _number_string(element.value)


def _number_string(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, DSfloat) and len(str(value)) > 16:
        return DSfloat(value, auto_format=True)
    return value


def _check_instance(instance: Mapping[str, Any], big_endian: bool) -> _Checked:
    """Check one instance against PS3.18 F.2 and spec §2.1, and split it for writing."""
    walk = _Walk(big_endian)
    meta: dict[str, Any] = {}
    body: dict[str, Any] = {}
    for key, element in walk.dataset(instance, "").items():
        (meta if key.startswith("0002") else body)[key] = element
    charset = body.get(f"{_SPECIFIC_CHARACTER_SET:08X}", {}).get("Value")
    if charset is None:
        raise InvalidArgument(
            f"the instance has no (0008,0005) SpecificCharacterSet; it must be {CHARACTER_SET} "
            "(UTF-8, the encoding of DICOM JSON)"
        )
    if charset != [CHARACTER_SET]:
        raise InvalidArgument(
            f"(0008,0005) SpecificCharacterSet must be {CHARACTER_SET} (UTF-8, the encoding of "
            f"DICOM JSON), not {charset!r}"
        )
    transfer_syntax = _required_uid(meta, _TRANSFER_SYNTAX_UID, "TransferSyntaxUID")
    problem = _syntax_problem(transfer_syntax)
    if problem is not None:
        raise InvalidArgument(problem)
    uids = {keyword: _required_uid(body, tag, keyword) for tag, keyword in _REQUIRED_UIDS}
    for tag, keyword, expected in (
        (_MEDIA_STORAGE_SOP_CLASS_UID, "SOPClassUID", uids["SOPClassUID"]),
        (_MEDIA_STORAGE_SOP_INSTANCE_UID, "SOPInstanceUID", uids["SOPInstanceUID"]),
    ):
        given = meta.get(f"{tag:08X}", {}).get("Value")
        if given and given != [expected]:
            raise InvalidArgument(
                f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {_MEDIA_STORAGE[tag]} {given!r} differs "
                f"from {keyword} {expected} (PS3.10 7.1)"
            )
    if len(walk.references) > 1:
        raise InvalidArgument(
            "the instance has "
            f"{len(walk.references)} BulkDataURIs ("
            + ", ".join(f"{ref.path}: {ref.uri!r}" for ref in walk.references)
            + "); at most one BulkDataURI per instance is accepted"
        )
    pixel_data = body.get(f"{_PIXEL_DATA:08X}")
    if pixel_data is not None and "BulkDataURI" not in pixel_data:
        raise InvalidArgument(
            "(7FE0,0010) PixelData must be sent as a bulk data part named by a BulkDataURI, "
            "not as " + ("InlineBinary" if "InlineBinary" in pixel_data else "an inline value")
        )
    return _Checked(
        meta=meta,
        body=body,
        transfer_syntax=transfer_syntax,
        sop_class_uid=uids["SOPClassUID"],
        sop_instance_uid=uids["SOPInstanceUID"],
        references=walk.references,
        un_paths=walk.un_paths,
    )


_MEDIA_STORAGE: Final = {
    _MEDIA_STORAGE_SOP_CLASS_UID: "MediaStorageSOPClassUID",
    _MEDIA_STORAGE_SOP_INSTANCE_UID: "MediaStorageSOPInstanceUID",
}


def _required_uid(dataset: Mapping[str, Any], tag: int, keyword: str) -> str:
    name = f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword}"
    element = dataset.get(f"{tag:08X}")
    value = element.get("Value") if element is not None else None
    if not value or value == [None] or value == [""]:
        raise InvalidArgument(f"the instance has no {name}")
    if len(value) != 1 or not isinstance(value[0], str):
        raise InvalidArgument(f"{name} must hold exactly one UID, found {value!r}")
    return str(value[0])


def _syntax_problem(uid: str) -> str | None:
    name = f"(0002,0010) TransferSyntaxUID {uid}"
    if uid in _REFUSED_SYNTAXES:
        return f"{name} ({UID(uid).name}) is not accepted: {_REFUSED_SYNTAXES[uid]}"
    if uid in _NATIVE or _is_encapsulated(uid):
        return None
    return f"{name} is not a transfer syntax this store knows"


def _is_encapsulated(uid: str) -> bool:
    """Whether Pixel Data is encapsulated in this (known) syntax (PS3.5 §A.4)."""
    if uid in _NEWER_SYNTAXES:
        return True
    entry = UID_dictionary.get(uid)
    return (
        entry is not None
        and entry[1] == "Transfer Syntax"
        and uid not in _NATIVE
        and uid not in _REFUSED_SYNTAXES
    )


class _Walk:
    """One pass over an instance's JSON: checks the model, collects what writing needs.

    :meth:`dataset` returns a copy in which group lengths are left out (PS3.18 F.2.2 excludes
    them, and pydicom recomputes the file meta's), big endian InlineBinary values are swapped,
    and UN elements are relabelled OB for pydicom, whose ``from_json`` converts a UN value by
    the dictionary VR of its tag and then cannot encode it; :attr:`un_paths` keeps their paths
    to restore UN after.
    """

    def __init__(self, big_endian: bool) -> None:
        self.big_endian = big_endian
        self.references: list[BulkDataReference] = []
        self.un_paths: list[str] = []

    def dataset(self, dataset: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, element in dataset.items():
            if not isinstance(key, str) or _KEY_RE.fullmatch(key) is None:
                raise InvalidArgument(
                    f"{prefix}{key!r} is not an attribute tag: DICOM JSON names each attribute "
                    "by 8 hexadecimal digits (PS3.18 F.2.2)"
                )
            key = key.upper()
            tag = int(key, 16)
            if tag >> 16 == 0x0000:
                raise InvalidArgument(f"{prefix}{key}: command elements (0000,xxxx) are not data")
            if tag & 0xFFFF == 0:
                continue  # group length
            if tag >> 16 == 0x0002 and prefix:
                raise InvalidArgument(f"{prefix}{key}: file meta elements belong at the top level")
            out[key] = self.element(element, prefix + key)
        return out

    def element(self, element: Any, path: str) -> dict[str, Any]:
        if not isinstance(element, Mapping):
            raise InvalidArgument(f"{path} must be a JSON object with a 'vr' (PS3.18 F.2.2)")
        vr = element.get("vr")
        if not isinstance(vr, str) or vr not in _JSON_VRS:
            raise InvalidArgument(f"{path} has no valid 'vr': {vr!r} (PS3.18 F.2.3)")
        present = [key for key in _VALUE_KEYS if key in element]
        if len(present) > 1:
            raise InvalidArgument(
                f"{path} has both {present[0]} and {present[1]}; an attribute has at most one "
                "of Value, InlineBinary and BulkDataURI (PS3.18 F.2.2)"
            )
        out = dict(element)
        if present == ["Value"]:
            out["Value"] = self.value(element["Value"], path, vr)
        elif present == ["InlineBinary"]:
            out["InlineBinary"] = self.inline_binary(element["InlineBinary"], path, vr)
        elif present == ["BulkDataURI"]:
            uri = _single_string(element["BulkDataURI"])
            if not uri:
                raise InvalidArgument(f"{path}: BulkDataURI must be a non-empty string")
            if vr not in _BULK_DATA_VRS:
                raise InvalidArgument(
                    f"{path} has VR {vr}; a BulkDataURI is accepted only on OB, OW and UN"
                )
            self.references.append(BulkDataReference(uri, path, vr))
        if vr == "UN":
            out["vr"] = "OB"
            self.un_paths.append(path)
        return out

    def value(self, value: Any, path: str, vr: str) -> list[Any]:
        if not isinstance(value, list):
            raise InvalidArgument(f"{path}: Value must be a JSON array (PS3.18 F.2.4)")
        if vr in _INLINE_BINARY_VRS:
            raise InvalidArgument(
                f"{path} has VR {vr}; its value must be InlineBinary or a BulkDataURI, not "
                "Value (PS3.18 F.2.4)"
            )
        if vr == "SQ":
            items = []
            for index, item in enumerate(value):
                if item is None:
                    item = {}
                if not isinstance(item, Mapping):
                    raise InvalidArgument(f"{path}: item {index} must be a JSON object")
                items.append(self.dataset(item, f"{path}/{index}/"))
            return items
        for item in value:
            if item is None:
                if len(value) > 1 and vr in _BINARY_NUMBER_VRS | {"AT"}:
                    raise InvalidArgument(f"{path}: a {vr} value cannot be null among other values")
            elif not _fits(item, vr):
                raise InvalidArgument(f"{path}: {item!r} is not a value of VR {vr}")
        return value

    def inline_binary(self, value: Any, path: str, vr: str) -> str:
        text = _single_string(value)
        if text is None:
            raise InvalidArgument(f"{path}: InlineBinary must be a base64 string (PS3.18 F.2.7)")
        if vr not in _INLINE_BINARY_VRS:
            raise InvalidArgument(
                f"{path} has VR {vr}; InlineBinary is only for OB, OD, OF, OL, OV, OW and UN "
                "(PS3.18 F.2.7)"
            )
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidArgument(f"{path}: InlineBinary is not base64: {error}") from None
        if self.big_endian:
            return base64.b64encode(to_little_endian(data, vr)).decode("ascii")
        return text


def _fits(item: Any, vr: str) -> bool:
    if vr in _STRING_VRS:
        return isinstance(item, str)
    if vr in _BINARY_NUMBER_VRS:
        return isinstance(item, int | float) and not isinstance(item, bool)
    if vr in _NUMBER_STRING_VRS:
        return isinstance(item, int | float | str) and not isinstance(item, bool)
    if vr == "AT":
        return isinstance(item, str) and _KEY_RE.fullmatch(item) is not None
    if vr == "PN":
        return (
            isinstance(item, Mapping)
            and set(item) <= _PN_COMPONENTS
            and all(isinstance(part, str) for part in item.values())
        )
    return False

"""DICOM JSON (PS3.18 Annex F) of a stored instance, with Google's bulk data rules.

Ingest turns every instance header into DICOM JSON once; WADO-RS metadata and QIDO-RS
``includefield=all`` serve that JSON (``shared/spec/dicomweb-conformance.md`` §4.4). It holds

- the file meta information group (0002,xxxx) and the data set, in file order;
- bulk data (§4.5, :func:`is_bulk_data`) as ``{"vr": VR, "BulkDataURI": uri}`` where ``uri`` is
  what the caller's ``bulk_data_uri`` makes of the element's path: ``7FE00010`` at the top level,
  ``SSSSSSSS/{item}/TTTTTTTT`` inside item ``item`` (0-based) of sequence ``SSSSSSSS``, the pattern
  repeating for nested sequences;
- no sequence whose encoded value exceeds 1 MiB (:data:`MAX_SEQUENCE_LENGTH`): Google leaves them
  in the Part 10 object only, without a BulkDataURI.

Every other element is exactly what pydicom 3.0.2's ``DataElement.to_json_dict`` gives (person
names, IS/DS as numbers, AT as hex, empty values as ``{"vr": VR}``, private tags, UN, character
sets). pydicom needs ~2 ms for a CT header because it first builds a ``DataElement`` for every
element; :func:`to_dicom_json` converts the common cases straight from the raw bytes (~0.2 ms)
and hands everything else to pydicom, element by element: escape sequences (ISO 2022 character
sets), person names with ideographic or phonetic groups, numbers it cannot prove are plain,
undecodable text, UN elements, ambiguous VRs, deferred values, and all elements when pydicom's
configuration or hooks are not the defaults.

Two intended differences from ``to_json_dict``:

- ambiguous VRs that pydicom leaves unresolved in implicit VR data sets (e.g. ``OB or OW`` for
  (60xx,3000) Overlay Data, ``US or SS`` for (0028,1100)) would be written as invalid JSON VRs:
  ``OB or OW``, ``US or OW`` and ``US or SS or OW`` become ``OW`` (PS3.5 §A.1 gives OW for them
  in implicit VR) and ``US or SS`` becomes US or SS by Pixel Representation, as pydicom does for
  the tags it knows;
- an element pydicom cannot convert (``to_json_dict`` raises, e.g. an IS value ``"abc"``) is
  left out and logged, as pydicom's own ``suppress_invalid_tags=True`` does, instead of failing
  the whole instance.

Deferred values are never loaded to write a BulkDataURI: the decision uses the tag, the VR and
the value length only. Non-bulk deferred values (long text, sequences) are read from the file.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from struct import unpack
from typing import Any, Final

from pydicom import config, hooks
from pydicom._dicom_dict import DicomDictionary
from pydicom.charset import default_encoding
from pydicom.datadict import dictionary_VR, private_dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import _correct_ambiguous_vr_element, write_data_element
from pydicom.tag import BaseTag
from pydicom.uid import UID
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

__all__ = [
    "MAX_SEQUENCE_LENGTH",
    "PIXEL_DATA_TAGS",
    "BulkDataElement",
    "is_bulk_data",
    "to_dicom_json",
    "walk_bulk_data",
]

_log = logging.getLogger(__name__)

MAX_SEQUENCE_LENGTH: Final = 1 << 20
"""Sequences whose encoded value is longer than this are left out of the metadata (§4.4)."""

PIXEL_DATA_TAGS: Final = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
"""Float Pixel Data, Double Float Pixel Data and Pixel Data: always bulk data."""

_ALWAYS_BULK_VRS: Final = frozenset({"OB", "OW", "UN"})
_BULK_OVER_2_KIB_VRS: Final = frozenset({"OD", "OF", "OL", "OV"})
_BULK_LENGTH: Final = 2048
# Bytes per value of the VRs that are bulk with VM > 512.
_BULK_OVER_512_VALUES_VRS: Final = {
    "AT": 4,
    "FD": 8,
    "FL": 4,
    "UL": 4,
    "US": 2,
    "SV": 8,
    "UV": 8,
}
_BULK_VM: Final = 512
_UNDEFINED_LENGTH: Final = 0xFFFFFFFF


def is_bulk_data(tag: int, vr: str, length: int) -> bool:
    """Whether an element is bulk data under Google's definition (spec §4.5).

    Bulk data are: any pixel data element (7FE0,0008), (7FE0,0009), (7FE0,0010); every OB, OW
    and UN element; OD, OF, OL and OV elements longer than 2 KiB; AT, FD, FL, UL, US, SV and UV
    elements with more than 512 values. Empty elements are never bulk data (there is nothing to
    retrieve); they are written as ``{"vr": VR}``.

    Parameters
    ----------
    tag : int
        The element tag.
    vr : str
        Its (resolved) VR.
    length : int
        Length of its value in bytes, ``0xFFFFFFFF`` when undefined.
    """
    if length == 0:
        return False
    if tag in PIXEL_DATA_TAGS or vr in _ALWAYS_BULK_VRS:
        return True
    if length == _UNDEFINED_LENGTH:
        return vr != "SQ"
    if vr in _BULK_OVER_2_KIB_VRS:
        return length > _BULK_LENGTH
    size = _BULK_OVER_512_VALUES_VRS.get(vr)
    return size is not None and length // size > _BULK_VM


@dataclass(frozen=True, slots=True)
class BulkDataElement:
    """A bulk data element met while walking a data set.

    Attributes
    ----------
    path : str
        Its BulkDataURI path (``7FE00010``, ``00081111/0/7FE00010``...).
    tag : int
        Its tag.
    vr : str
        Its resolved VR.
    offset : int | None
        Offset of its value field in the file, ``None`` when the data set was not read from a
        file or is deflated (then offsets are positions in the inflated stream).
    length : int
        Length of its value in bytes, ``0xFFFFFFFF`` when undefined (encapsulated pixel data
        whose value was not loaded).
    is_little_endian : bool
        Byte order of the value as stored.
    """

    path: str
    tag: int
    vr: str
    offset: int | None
    length: int
    is_little_endian: bool


def to_dicom_json(
    dataset: Dataset, bulk_data_uri: Callable[[str], str] | None = None
) -> dict[str, Any]:
    """The DICOM JSON model (PS3.18 F.2) of ``dataset`` and its file meta information.

    Parameters
    ----------
    dataset : pydicom.dataset.Dataset
        A data set read from a Part 10 file (deferred values allowed), with ``file_meta``.
        Elements pydicom has to convert are converted in place, as ``dataset[tag]`` would.
    bulk_data_uri : Callable[[str], str], optional
        Makes the BulkDataURI of a bulk data element from its path (see the module docstring).
        Without it, bulk data elements are left out.

    Returns
    -------
    dict[str, Any]
        ``{"GGGGEEEE": {"vr": ..., "Value" | "InlineBinary" | "BulkDataURI": ...}}``, group 0002
        first; a group 0002 element found in the data set body too is taken from the file meta.
    """
    walker = _Walker(dataset, bulk_data_uri, None)
    return walker.run()


def walk_bulk_data(dataset: Dataset) -> list[BulkDataElement]:
    """The bulk data elements of ``dataset`` (and its file meta), in the order of its JSON.

    These are exactly the elements :func:`to_dicom_json` writes with a BulkDataURI: the same
    bulk data rule, the same paths, nothing inside sequences it leaves out. Bulk values are not
    loaded, nor other values except deferred sequences (to look inside them).
    """
    found: list[BulkDataElement] = []
    walker = _Walker(dataset, None, found)
    walker.run()
    return found


# -- fast conversion of raw values -------------------------------------------------------------
#
# Each converter reproduces pydicom's ``values.convert_*`` for one VR followed by
# ``DataElement.to_json_dict``, for the values it accepts, and returns ``None`` for the others
# (which then go to pydicom). They take a non-empty, non-deferred, non-bulk raw value.

_Converter = Callable[[str, int, bytes, bool, "str | None"], "dict[str, Any] | None"]

_ESC: Final = 0x1B
# Values pydicom's IS and DSfloat turn into the same int / float as int() / float() would. IS
# digits are capped at 15 because pydicom compares the int with float(value) and keeps a float
# when they differ.
_IS_VALUE: Final = re.compile(r" *[+-]?[0-9]{1,15} *")
_DS_VALUE: Final = re.compile(r" *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *")
# pydicom.tag._LUT_DESCRIPTOR_TAGS: pydicom rewrites their first value, leave them to it.
_LUT_DESCRIPTOR_TAGS: Final = frozenset({0x00281101, 0x00281102, 0x00281103, 0x00283002})


def _string(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    # AS CS DA DT TM (values.convert_string): default repertoire, trailing spaces/NULs dropped.
    text = value.decode("latin_1").rstrip(" \x00")
    if "\\" in text:
        return {"vr": vr, "Value": text.split("\\")}
    return {"vr": vr, "Value": [text]} if text else {"vr": vr}


def _ui(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    text = value.decode("latin_1").rstrip("\x00 ")
    # pydicom's UID also strips each value of whitespace (str.strip: tabs, \x1c...): leave
    # such values to it.
    if "\\" in text:
        parts = text.split("\\")
        for part in parts:
            if part != part.strip():
                return None
        return {"vr": vr, "Value": parts}
    if text != text.strip():
        return None
    return {"vr": vr, "Value": [text]} if text else {"vr": vr}


def _ae(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    parts = [part.strip() for part in value.decode("latin_1").split("\\")]
    if len(parts) == 1 and not parts[0]:
        return {"vr": vr}
    return {"vr": vr, "Value": parts}


def _ur(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    text = value.decode("latin_1").rstrip()
    if "\\" in text:
        return None
    return {"vr": vr, "Value": [text]} if text else {"vr": vr}


def _text(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    # SH LO UC (values.convert_text). Escape sequences (ISO 2022) need pydicom's decoder.
    if _ESC in value or encoding is None:
        return None
    try:
        text = value.decode(encoding)
    except (LookupError, UnicodeError):
        return None
    if "\\" in text:
        return {"vr": vr, "Value": [part.rstrip("\x00 ") for part in text.split("\\")]}
    text = text.rstrip("\x00 ")
    return {"vr": vr, "Value": [text]} if text else {"vr": vr}


def _long_text(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    # LT ST UT (values.convert_single_string): one value, backslashes included.
    if _ESC in value or encoding is None:
        return None
    try:
        text = value.decode(encoding).rstrip("\x00 ")
    except (LookupError, UnicodeError):
        return None
    return {"vr": vr, "Value": [text]} if text else {"vr": vr}


def _pn(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    value = value.rstrip(b"\x00 ")
    # "=" separates the alphabetic, ideographic and phonetic groups: leave those to pydicom.
    if _ESC in value or 0x3D in value or encoding is None:
        return None
    try:
        text = value.decode(encoding)
    except (LookupError, UnicodeError):
        return None
    if not text:
        return {"vr": vr}
    names = text.split("\\")
    if "" in names:  # pydicom 3.0.2 fails on an empty name among several (IndexError)
        return None
    return {"vr": vr, "Value": [{"Alphabetic": name} for name in names]}


def _is(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    parts = value.decode("latin_1").rstrip(" \x00").split("\\")
    if len(parts) == 1:
        part = parts[0]
        if _IS_VALUE.fullmatch(part):
            return {"vr": vr, "Value": [int(part)]}
        return None if part.strip() else {"vr": vr}
    for part in parts:
        if not _IS_VALUE.fullmatch(part):
            return None
    return {"vr": vr, "Value": [int(part) for part in parts]}


def _ds(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    parts = value.decode("latin_1").strip().rstrip(" \x00").split("\\")
    if len(parts) == 1:
        part = parts[0]
        if _DS_VALUE.fullmatch(part):
            return {"vr": vr, "Value": [float(part)]}
        return None if part else {"vr": vr}
    for part in parts:
        if not _DS_VALUE.fullmatch(part):
            return None
    return {"vr": vr, "Value": [float(part) for part in parts]}


def _numbers(code: str, size: int) -> _Converter:
    little_format = f"<{code}"
    big_format = f">{code}"

    def convert(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
        if len(value) == size:
            return {"vr": vr, "Value": list(unpack(little_format if little else big_format, value))}
        count, remainder = divmod(len(value), size)
        if remainder or tag in _LUT_DESCRIPTOR_TAGS:
            return None
        return {"vr": vr, "Value": list(unpack(f"{'<' if little else '>'}{count}{code}", value))}

    return convert


def _at(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    count, remainder = divmod(len(value), 4)
    if remainder:
        return None
    numbers = unpack(f"{'<' if little else '>'}{2 * count}H", value)
    return {
        "vr": vr,
        "Value": [f"{numbers[i]:04X}{numbers[i + 1]:04X}" for i in range(0, 2 * count, 2)],
    }


def _binary(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    return {"vr": vr, "InlineBinary": base64.b64encode(value).decode("ascii")}


def _never(vr: str, tag: int, value: bytes, little: bool, encoding: str | None) -> Any:
    return None


_NEVER_BULK: Final = -1
_ALWAYS: Final = 0


def _values_over(size: int) -> int:
    """Bulk threshold (in bytes) of a VR whose elements are bulk with VM > 512."""
    return (_BULK_VM + 1) * size - 1


# VR -> (bulk threshold in bytes, converter, needs the specific character set). A value is bulk
# data when the threshold is not _NEVER_BULK and its length exceeds it; pixel data always is.
_FAST: Final[dict[str, tuple[int, _Converter, bool]]] = {
    "AE": (_NEVER_BULK, _ae, False),
    "AS": (_NEVER_BULK, _string, False),
    "AT": (_values_over(4), _at, False),
    "CS": (_NEVER_BULK, _string, False),
    "DA": (_NEVER_BULK, _string, False),
    "DS": (_NEVER_BULK, _ds, False),
    "DT": (_NEVER_BULK, _string, False),
    "FD": (_values_over(8), _numbers("d", 8), False),
    "FL": (_values_over(4), _numbers("f", 4), False),
    "IS": (_NEVER_BULK, _is, False),
    "LO": (_NEVER_BULK, _text, True),
    "LT": (_NEVER_BULK, _long_text, True),
    "OB": (_ALWAYS, _never, False),
    "OD": (_BULK_LENGTH, _binary, False),
    "OF": (_BULK_LENGTH, _binary, False),
    "OL": (_BULK_LENGTH, _binary, False),
    "OV": (_BULK_LENGTH, _binary, False),
    "OW": (_ALWAYS, _never, False),
    "PN": (_NEVER_BULK, _pn, True),
    "SH": (_NEVER_BULK, _text, True),
    "SL": (_NEVER_BULK, _numbers("l", 4), False),
    "SS": (_NEVER_BULK, _numbers("h", 2), False),
    "ST": (_NEVER_BULK, _long_text, True),
    "SV": (_values_over(8), _numbers("q", 8), False),
    "TM": (_NEVER_BULK, _string, False),
    "UC": (_NEVER_BULK, _text, True),
    "UI": (_NEVER_BULK, _ui, False),
    "UL": (_values_over(4), _numbers("L", 4), False),
    "UR": (_NEVER_BULK, _ur, False),
    "US": (_values_over(2), _numbers("H", 2), False),
    "UT": (_NEVER_BULK, _long_text, True),
    "UV": (_values_over(8), _numbers("Q", 8), False),
}

# Converted values that DataElement.to_json_dict writes as [value].
_PLAIN_STRINGS: Final = frozenset({str, UID})
_STRING_VRS: Final = frozenset(
    {"AE", "AS", "CS", "DA", "DT", "TM", "UI", "SH", "LO", "UC", "LT", "ST", "UT", "UR"}
)
_INTEGER_VRS: Final = frozenset({"US", "SS", "UL", "SL", "SV", "UV"})

# VRs of the public dictionary, ambiguous ones ("US or SS"...) included.
_DICTIONARY_VR: Final[dict[int, str]] = {tag: entry[0] for tag, entry in DicomDictionary.items()}
# dictionary_VR() of other tags (repeating groups such as 60xx, or None), and private VRs by
# (creator, tag): pydicom's lookups walk masks and build strings, these are asked per element.
_OTHER_VR: dict[int, str | None] = {}
_PRIVATE_VR: dict[tuple[str, int], str] = {}
_KEYS: dict[int, str] = {}
_CACHE_LIMIT: Final = 65536
_MISSING: Final = object()


def _key(tag: int) -> str:
    key = f"{tag:08X}"
    if len(_KEYS) < _CACHE_LIMIT:
        _KEYS[tag] = key
    return key


def _dictionary_vr(tag: int) -> str | None:
    """pydicom's ``dictionary_VR(tag)``, ``None`` for an unknown tag."""
    vr = _DICTIONARY_VR.get(tag)
    if vr is not None:
        return vr
    vr = _OTHER_VR.get(tag, _MISSING)  # type: ignore[arg-type]
    if vr is _MISSING:
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            vr = None
        if len(_OTHER_VR) < _CACHE_LIMIT:
            _OTHER_VR[tag] = vr
    return vr


def _fast_path_allowed() -> bool:
    """Whether pydicom is configured as the fast path assumes (its defaults)."""
    return (
        not config.datetime_conversion
        and not config.use_DS_decimal
        and not config.use_DS_numpy
        and not config.use_IS_numpy
        and not config.use_none_as_empty_text_VR_value
        and config.data_element_callback is None
        and config.settings.reading_validation_mode != config.RAISE
        and hooks.hooks.raw_element_vr is hooks.raw_element_vr
        and hooks.hooks.raw_element_value is hooks.raw_element_value
        and not hooks.hooks.raw_element_kwargs
    )


def _first_encoding(dataset: Dataset) -> str:
    # As Dataset.__getitem__ and values.convert_value choose the encoding of text values.
    encodings: Any = dataset.original_character_set or dataset._character_set
    if not encodings:
        return default_encoding
    if isinstance(encodings, str):
        return encodings
    return str(encodings[0])


# -- the walk ----------------------------------------------------------------------------------


class _Walker:
    """One conversion of a data set: JSON, bulk data elements, or both."""

    def __init__(
        self,
        dataset: Dataset,
        bulk_data_uri: Callable[[str], str] | None,
        bulk_elements: list[BulkDataElement] | None,
    ) -> None:
        self.dataset = dataset
        self.bulk_data_uri = bulk_data_uri
        self.bulk_elements = bulk_elements
        # Only locating bulk data: other values need no conversion.
        self.values = bulk_elements is None
        self.fast = _fast_path_allowed()
        file_meta = getattr(dataset, "file_meta", None)
        self.file_meta: Dataset | None = file_meta
        transfer_syntax = file_meta.get(0x00020010) if file_meta is not None else None
        deflated = bool(transfer_syntax and UID(str(transfer_syntax.value)).is_deflated)
        filename = getattr(dataset, "filename", None)
        # Offsets are file offsets only for a data set read, not inflated, from a file.
        self.filename: str | None = filename if isinstance(filename, str) and not deflated else None
        self._top_starts: list[int] | None = None

    def run(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.file_meta is not None:
            self.walk(self.file_meta, "", out, top=False, base=0, little_endian=True)
        encoding = self.dataset.original_encoding
        little_endian = True if encoding[1] is None else bool(encoding[1])
        self.walk(self.dataset, "", out, top=True, base=0, little_endian=little_endian)
        return out

    def walk(
        self,
        dataset: Dataset,
        prefix: str,
        out: dict[str, Any],
        *,
        top: bool,
        base: int | None,
        little_endian: bool,
    ) -> None:
        """Convert the elements of ``dataset`` into ``out``.

        ``base`` is the file offset that the elements' ``value_tell`` are relative to: pydicom
        parses a defined-length sequence from a copy of its value, so the offsets inside it
        start at that value; an undefined-length sequence is parsed in place.
        """
        fast = _FAST if self.fast else {}
        values = self.values
        dictionary_vr = _DICTIONARY_VR
        keys = _KEYS
        pixel_data_tags = PIXEL_DATA_TAGS
        raw_type = RawDataElement
        encoding: str | None = None
        creators: dict[int, Any] = {}
        skip_existing = top and bool(out)
        for tag_object, element in list(dataset._dict.items()):
            tag = tag_object.real  # a plain int: BaseTag.__eq__ is Python code
            key = keys.get(tag) or _key(tag)
            if skip_existing and key in out:
                continue
            if element.__class__ is not raw_type:
                self.converted(
                    dataset,
                    tag,
                    element,  # type: ignore[arg-type]
                    key,
                    prefix,
                    out,
                    top,
                    base,
                    little_endian,
                )
                continue
            raw: RawDataElement = element
            vr = raw.VR
            if vr is None or vr == "UN":
                # Implicit VR, or UN: as pydicom's raw_element_vr hook decides, without the value.
                vr = dictionary_vr.get(tag) if vr is None else None
                if vr is None:
                    vr = self._raw_vr(dataset, tag, raw, creators)
            entry = fast.get(vr) if vr is not None else None
            if entry is None or vr is None:
                self.raw(dataset, tag, raw, key, prefix, out, top, base, little_endian, creators)
                continue
            length = raw.length
            if length == 0:
                out[key] = {"vr": vr}
                continue
            threshold, convert, needs_encoding = entry
            if threshold != _NEVER_BULK and (length > threshold or tag in pixel_data_tags):
                self.bulk(tag, vr, raw, key, prefix, out, base, little_endian)
                continue
            if not values:
                continue
            value = raw.value
            if value is not None:
                if needs_encoding and encoding is None:
                    encoding = _first_encoding(dataset)
                result = convert(vr, tag, value, raw.is_little_endian, encoding)
                if result is not None:
                    out[key] = result
                    continue
            self.raw(dataset, tag, raw, key, prefix, out, top, base, little_endian, creators)

    def raw(
        self,
        dataset: Dataset,
        tag: int,
        element: RawDataElement,
        key: str,
        prefix: str,
        out: dict[str, Any],
        top: bool,
        base: int | None,
        little_endian: bool,
        creators: dict[int, Any],
    ) -> None:
        """A raw element the fast path did not take: resolve its VR without loading it."""
        vr = self._raw_vr(dataset, tag, element, creators)
        if vr == "SQ":
            self.sequence(dataset, tag, element, key, prefix, out, top, base, little_endian)
            return
        if vr == "OB or OW":
            vr = self._ob_or_ow(dataset, element)
        if vr is not None and " or " not in vr:
            length = element.length
            if is_bulk_data(tag, vr, length):
                self.bulk(tag, vr, element, key, prefix, out, base, little_endian)
                return
            if not self.values:
                return
            entry = _FAST.get(vr) if self.fast else None
            if entry is not None:
                if length == 0:
                    out[key] = {"vr": vr}
                    return
                if element.value is not None:
                    convert = entry[1]
                    encoding = _first_encoding(dataset) if entry[2] else None
                    result = convert(vr, tag, element.value, element.is_little_endian, encoding)
                    if result is not None:
                        out[key] = result
                        return
        converted = self._load(dataset, tag, prefix + key)
        if converted is not None:
            self.converted(dataset, tag, converted, key, prefix, out, top, base, little_endian)

    def converted(
        self,
        dataset: Dataset,
        tag: int,
        element: DataElement,
        key: str,
        prefix: str,
        out: dict[str, Any],
        top: bool,
        base: int | None,
        little_endian: bool,
    ) -> None:
        """An element pydicom has converted: bulk, sequence, or pydicom's own JSON."""
        vr = element.VR
        if self.fast:
            # The simplest converted values (e.g. the file meta elements pydicom read itself),
            # as DataElement.to_json_dict writes them.
            value = element.value
            if value.__class__ in _PLAIN_STRINGS and vr in _STRING_VRS:
                out[key] = {"vr": vr, "Value": [str(value)]} if value else {"vr": vr}
                return
            if value.__class__ is int and vr in _INTEGER_VRS:
                out[key] = {"vr": vr, "Value": [value]}
                return
        if vr == "SQ":
            self.sequence(dataset, tag, element, key, prefix, out, top, base, little_endian)
            return
        if " or " in vr:
            resolved = _resolve_leftover_ambiguity(dataset, element, little_endian)
            if resolved is None:  # OB or OW, US or OW, US or SS or OW: OW, always bulk
                if element.is_empty:
                    out[key] = {"vr": "OW"}
                else:
                    self.bulk(tag, "OW", element, key, prefix, out, base, little_endian)
                return
            vr, values = resolved
            if not values:
                out[key] = {"vr": vr}
            elif is_bulk_data(tag, vr, len(values) * 2):
                self.bulk(tag, vr, element, key, prefix, out, base, little_endian)
            else:
                out[key] = {"vr": vr, "Value": values}
            return
        if not element.is_empty and is_bulk_data(tag, vr, _value_length(element, vr)):
            self.bulk(tag, vr, element, key, prefix, out, base, little_endian)
            return
        if not self.values:
            return
        try:
            out[key] = element.to_json_dict(None, 0)
        except Exception as error:
            _log.warning("leaving %s out of the DICOM JSON: %s", prefix + key, error)

    def sequence(
        self,
        dataset: Dataset,
        tag: int,
        element: RawDataElement | DataElement,
        key: str,
        prefix: str,
        out: dict[str, Any],
        top: bool,
        base: int | None,
        little_endian: bool,
    ) -> None:
        """A sequence: left out if too long, else its items converted recursively."""
        if top and self._sequence_length(dataset, element) > MAX_SEQUENCE_LENGTH:
            _log.debug("leaving sequence %s out of the DICOM JSON: over 1 MiB", key)
            return
        if isinstance(element, RawDataElement):
            loaded = self._load(dataset, tag, prefix + key)
            if loaded is None:
                return
            if loaded.VR != "SQ":
                self.converted(dataset, tag, loaded, key, prefix, out, top, base, little_endian)
                return
            element = loaded
        if element.is_undefined_length:
            inner_base = base
        elif base is None or element.file_tell is None:
            inner_base = None
        else:
            inner_base = base + element.file_tell
        items: list[dict[str, Any]] = []
        for index, item in enumerate(element.value):
            item_out: dict[str, Any] = {}
            self.walk(
                item,
                f"{prefix}{key}/{index}/",
                item_out,
                top=False,
                base=inner_base,
                little_endian=little_endian,
            )
            items.append(item_out)
        out[key] = {"vr": "SQ", "Value": items}

    def bulk(
        self,
        tag: int,
        vr: str,
        element: RawDataElement | DataElement,
        key: str,
        prefix: str,
        out: dict[str, Any],
        base: int | None,
        little_endian: bool,
    ) -> None:
        if self.bulk_data_uri is not None:
            out[key] = {"vr": vr, "BulkDataURI": self.bulk_data_uri(prefix + key)}
        if self.bulk_elements is None:
            return
        if isinstance(element, RawDataElement):
            position: int | None = element.value_tell
            length = element.length
            if length == _UNDEFINED_LENGTH and element.value is not None:
                length = len(element.value)
            element_little_endian = element.is_little_endian
        else:
            position = element.file_tell
            length = (
                _UNDEFINED_LENGTH
                if element.value is None and element.is_undefined_length
                else _value_length(element, vr)
            )
            element_little_endian = little_endian
        offset = (
            base + position
            if self.filename is not None and base is not None and position is not None
            else None
        )
        self.bulk_elements.append(
            BulkDataElement(prefix + key, tag, vr, offset, length, element_little_endian)
        )

    # -- helpers -------------------------------------------------------------------------------

    def _raw_vr(
        self, dataset: Dataset, tag: int, element: RawDataElement, creators: dict[int, Any]
    ) -> str | None:
        """The VR pydicom gives a raw element (``hooks.raw_element_vr``), without its value.

        ``None`` when the lookup fails (pydicom then fails too, or warns and uses UN).
        """
        vr = element.VR
        if vr is not None and vr != "UN":
            return vr
        if self.fast:
            # hooks.raw_element_vr, with cached dictionary and private dictionary lookups.
            if vr is None:
                vr = _dictionary_vr(tag)
                if vr is not None:
                    return vr
                if tag & 0x10000:
                    return _private_vr(dataset, tag, creators)
                if tag & 0xFFFF == 0:
                    return "UL"
            elif config.replace_un_with_known_vr:
                if tag & 0x10000:
                    return _private_vr(dataset, tag, creators)
                if element.value is None or len(element.value) < 0xFFFF:
                    return _dictionary_vr(tag) or "UN"
                return "UN"
            else:
                return "UN"
        data: dict[str, Any] = {}
        try:
            hooks.hooks.raw_element_vr(
                element, data, encoding=None, ds=dataset, **hooks.hooks.raw_element_kwargs
            )
        except Exception:
            return None
        return str(data["VR"])

    def _ob_or_ow(self, dataset: Dataset, element: RawDataElement) -> str:
        # pydicom's own correction, on a value-less copy so that nothing is read.
        probe = DataElement(
            element.tag,
            "OB or OW",
            None,
            element.value_tell,
            element.length == _UNDEFINED_LENGTH,
            already_converted=True,
        )
        try:
            _correct_ambiguous_vr_element(probe, [dataset], element.is_little_endian)
        except Exception:
            return "OW"
        return "OW" if " or " in probe.VR else str(probe.VR)

    def _load(self, dataset: Dataset, tag: int, path: str) -> DataElement | None:
        try:
            return dataset[tag]
        except Exception as error:
            _log.warning("leaving %s out of the DICOM JSON: %s", path, error)
            return None

    def _sequence_length(self, dataset: Dataset, element: RawDataElement | DataElement) -> int:
        """Encoded length of a top-level sequence's value (items and delimiters included)."""
        if isinstance(element, RawDataElement) and element.length != _UNDEFINED_LENGTH:
            return int(element.length)
        start = element.value_tell if isinstance(element, RawDataElement) else element.file_tell
        if self.filename is not None and start is not None:
            starts = self._element_starts(dataset)
            index = bisect_right(starts, start)
            end = starts[index] if index < len(starts) else os.path.getsize(self.filename)
            return end - start
        if isinstance(element, RawDataElement):
            element = dataset[element.tag]
        encoding = dataset.original_encoding
        buffer = DicomBytesIO()
        buffer.is_implicit_VR = bool(encoding[0])
        buffer.is_little_endian = True if encoding[1] is None else bool(encoding[1])
        write_data_element(buffer, element)
        return len(buffer.getvalue())

    def _element_starts(self, dataset: Dataset) -> list[int]:
        """Sorted file offsets of the first byte of each top-level element."""
        if self._top_starts is None:
            implicit = bool(dataset.original_encoding[0])
            starts = []
            for element in dataset._dict.values():
                if isinstance(element, RawDataElement):
                    on_disk_vr = element.VR
                    header = (
                        8
                        if element.is_implicit_VR or on_disk_vr not in EXPLICIT_VR_LENGTH_32
                        else 12
                    )
                    starts.append(element.value_tell - header)
                elif element.file_tell is not None:
                    starts.append(element.file_tell - (8 if implicit else 12))
            self._top_starts = sorted(starts)
        return self._top_starts


def _private_vr(dataset: Dataset, tag: int, creators: dict[int, Any]) -> str:
    """pydicom's ``hooks._private_vr_for_tag``, caching the private dictionary lookup."""
    element = tag & 0xFFFF
    if 0x0010 <= element < 0x0100:  # a private creator
        return "LO"
    if not element & 0xFF00:
        return "UN"
    creator_tag = (tag & 0xFFFF0000) | (element >> 8)
    creator = creators.get(creator_tag, _MISSING)
    if creator is _MISSING:
        found = dataset.get(creator_tag, "")
        creator = found.value if found else None
        creators[creator_tag] = creator
    if creator is None:
        return "UN"
    if not isinstance(creator, str):
        return str(hooks._private_vr_for_tag(dataset, BaseTag(tag)))
    vr = _PRIVATE_VR.get((creator, tag))
    if vr is None:
        try:
            vr = str(private_dictionary_VR(BaseTag(tag), creator))
        except KeyError:
            vr = "UN"
        if len(_PRIVATE_VR) < _CACHE_LIMIT:
            _PRIVATE_VR[(creator, tag)] = vr
    return vr


def _value_length(element: DataElement, vr: str) -> int:
    value = element.value
    if isinstance(value, bytes | bytearray):
        return len(value)
    size = _BULK_OVER_512_VALUES_VRS.get(vr)
    if size is not None:
        return int(element.VM) * size
    return 0


def _resolve_leftover_ambiguity(
    dataset: Dataset, element: DataElement, little_endian: bool
) -> tuple[str, list[int]] | None:
    """Resolve an ambiguous VR pydicom left as is: ``None`` means OW, else US/SS and values."""
    if element.VR != "US or SS":
        return None
    pixel_representation = dataset.get(0x00280103)
    signed = bool(pixel_representation is not None and pixel_representation.value == 1)
    value = element.value
    if isinstance(value, bytes | bytearray):
        count = len(value) // 2
        code = f"{'<' if little_endian else '>'}{count}{'h' if signed else 'H'}"
        numbers = list(unpack(code, value[: 2 * count]))
    elif value is None:
        numbers = []
    elif isinstance(value, int):
        numbers = [value]
    else:
        numbers = [int(v) for v in value]
    return ("SS" if signed else "US"), numbers

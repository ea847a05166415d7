"""Locating bulk data in a stored Part 10 file, for WADO-RS RetrieveBulkdata (spec §4.5).

The metadata of an instance (:func:`dicomstore.dicom.json.to_dicom_json`) replaces each bulk data
element with a BulkDataURI ending in the element's path: ``7FE00010`` at the top level,
``SSSSSSSS/{item}/TTTTTTTT`` inside item ``item`` (0-based) of sequence ``SSSSSSSS``, repeated for
nested sequences. Retrieving that URI returns the element's value bytes.

The design: at ingest, :func:`bulk_data_locations` walks the header once (with the same rules and
paths as the JSON, without loading any value) and gives, for every path, the offset and length of
the value field in the file. These are small and can be kept with the instance, next to its frame
ranges; a bulkdata request is then one range read of the stored blob, with no parsing. For the
rare deflated instance there are no file offsets (the file is a zlib stream); read the value from
the parsed data set with :func:`bulk_data_value` instead.

Values are returned as stored. For the retired big endian transfer syntax, Google returns
little-endian bytes: :func:`to_little_endian` swaps them by the VR's word size (PS3.5 §7.3).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from struct import pack
from typing import Final

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomstore.dicom.json import walk_bulk_data
from dicomstore.dicom.part10 import InstanceHeader
from dicomstore.errors import InvalidArgument, NotFound

__all__ = [
    "BulkDataLocation",
    "bulk_data_locations",
    "bulk_data_value",
    "to_little_endian",
]

# Word size of each VR whose values are byte-swapped between little and big endian (PS3.5 §7.3).
_WORD_SIZES: Final = {
    "AT": 2,  # a pair of 16-bit unsigned integers
    "OW": 2,
    "US": 2,
    "SS": 2,
    "OF": 4,
    "OL": 4,
    "FL": 4,
    "UL": 4,
    "SL": 4,
    "OD": 8,
    "OV": 8,
    "FD": 8,
    "SV": 8,
    "UV": 8,
}
_ARRAY_CODES: Final = {2: "H", 4: "I", 8: "Q"}
_PACK_CODES: Final = {
    "US": "H",
    "SS": "h",
    "UL": "L",
    "SL": "l",
    "FL": "f",
    "FD": "d",
    "SV": "q",
    "UV": "Q",
}


@dataclass(frozen=True, slots=True)
class BulkDataLocation:
    """Where the value of one bulk data element lies in its Part 10 file.

    Attributes
    ----------
    path : str
        The element's BulkDataURI path.
    vr : str
        Its VR as written in the metadata.
    offset : int
        File offset of the value field.
    length : int
        Length of the value in bytes. For encapsulated pixel data, the items up to (not including)
        the Sequence Delimitation Item.
    is_little_endian : bool
        Byte order of the stored value (see :func:`to_little_endian`).
    encapsulated : bool
        Whether the value is encapsulated pixel data (a sequence of fragment items, PS3.5 §A.4)
        rather than the element's raw value.
    """

    path: str
    vr: str
    offset: int
    length: int
    is_little_endian: bool
    encapsulated: bool = False


def bulk_data_locations(header: InstanceHeader) -> dict[str, BulkDataLocation]:
    """The location of every bulk data element of an instance, by BulkDataURI path.

    The paths are exactly those :func:`~dicomstore.dicom.json.to_dicom_json` writes for the same
    data set. Nothing is read from the file.

    Parameters
    ----------
    header : InstanceHeader
        The instance, as read by :func:`~dicomstore.dicom.part10.read_instance`.

    Returns
    -------
    dict[str, BulkDataLocation]
        Empty for a deflated instance, which has no file offsets (use :func:`bulk_data_value`).
    """
    if header.is_deflated:
        return {}
    pixel = header.pixel_data
    locations: dict[str, BulkDataLocation] = {}
    for element in walk_bulk_data(header.dataset):
        if element.offset is None:
            continue
        length = element.length
        encapsulated = False
        if length == 0xFFFFFFFF:
            if pixel is None or "/" in element.path or element.offset != pixel.offset:
                # An undefined-length value other than the top-level pixel data is kept in
                # memory by pydicom, so its length is known; this is not reachable for files.
                continue
            length = pixel.length
            encapsulated = True
        elif pixel is not None and element.offset == pixel.offset:
            encapsulated = pixel.encapsulated
        locations[element.path] = BulkDataLocation(
            element.path, element.vr, element.offset, length, element.is_little_endian, encapsulated
        )
    return locations


def bulk_data_value(dataset: Dataset, path: str) -> bytes:
    """The value of the element at BulkDataURI ``path``, read from a parsed data set.

    This loads the value (and the sequences on the way) into memory: it is meant for deflated
    instances, which cannot be range-read. Encapsulated pixel data is returned as its items,
    binary values as stored, numbers encoded in the data set's byte order.

    Raises
    ------
    dicomstore.errors.InvalidArgument
        ``path`` is not a well-formed path.
    dicomstore.errors.NotFound
        No element or item at ``path``.
    """
    parts = path.split("/")
    if len(parts) % 2 == 0:
        raise InvalidArgument(f"invalid bulk data path {path!r}")
    current = dataset
    element: DataElement | None = None
    for index, part in enumerate(parts):
        if index % 2 == 0:
            tag = _parse_tag(part, path)
            file_meta = getattr(current, "file_meta", None) if index == 0 else None
            if tag >> 16 == 0x0002 and file_meta is not None and tag in file_meta:
                current = file_meta
            if tag not in current:
                raise NotFound(f"no element {part} at bulk data path {path!r}")
            element = current[tag]
        else:
            if element is None or element.VR != "SQ" or not part.isdigit():
                raise InvalidArgument(f"invalid bulk data path {path!r}")
            items = element.value
            if int(part) >= len(items):
                raise NotFound(f"no item {part} at bulk data path {path!r}")
            current = items[int(part)]
    assert element is not None
    value = element.value
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    code = _PACK_CODES.get(element.VR)
    if element.VR == "AT":
        values = [value] if isinstance(value, int) else list(value)
        words = [half for tag in values for half in (tag >> 16, tag & 0xFFFF)]
        return pack(f"{_order(dataset)}{len(words)}H", *words)
    if code is None:
        raise NotFound(f"the element at {path!r} is not bulk data")
    numbers = [value] if isinstance(value, int | float) else list(value or [])
    return pack(f"{_order(dataset)}{len(numbers)}{code}", *numbers)


def to_little_endian(data: bytes, vr: str) -> bytes:
    """Swap a big endian value to little endian by the word size of ``vr`` (PS3.5 §7.3).

    OB, UN and encapsulated data have no byte order and are returned unchanged.
    """
    size = _WORD_SIZES.get(vr)
    if size is None or len(data) % size:
        return data
    words = array(_ARRAY_CODES[size])
    words.frombytes(data)
    words.byteswap()
    return words.tobytes()


def _parse_tag(part: str, path: str) -> int:
    if len(part) != 8:
        raise InvalidArgument(f"invalid tag {part!r} in bulk data path {path!r}")
    try:
        return int(part, 16)
    except ValueError:
        raise InvalidArgument(f"invalid tag {part!r} in bulk data path {path!r}") from None


def _order(dataset: Dataset) -> str:
    little = dataset.original_encoding[1]
    return "<" if little is None or little else ">"

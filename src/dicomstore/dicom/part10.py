"""Reading a stored instance: a DICOM Part 10 file (PS3.10 §7), header only.

:func:`read_instance` parses the file meta information and the data set with pydicom's deferred
reading: values larger than :data:`DEFER_SIZE` bytes (pixel data, large private blobs, big
sequences) are skipped on disk and read only if something asks for them, so a 2 GB multi-frame
instance costs the same memory as a CT slice. The whole file is still walked, so the elements
after Pixel Data (Data Set Trailing Padding, Digital Signatures) are seen.

It also computes the byte ranges of every frame (:mod:`dicomstore.dicom.frames`), which ingest
keeps so that WADO-RS frame retrieval is a range read.

Hashing is left to the caller, who already streams the bytes while spooling them: this module
never reads the file a second time for it.

Only Part 10 files are accepted, as Google's STOW-RS does (``application/dicom`` parts, see
``shared/spec/dicomweb-conformance.md`` §2.1): a data set without the 128-byte preamble, the
``DICM`` prefix and a file meta Transfer Syntax UID is refused with
:class:`~dicomstore.errors.InvalidArgument`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from struct import unpack
from typing import Any, Final

import pydicom
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag
from pydicom.uid import UID

from dicomstore.dicom.frames import (
    FrameLayout,
    FrameRanges,
    PixelDataItems,
    encapsulated_frames,
    native_frames,
    read_encapsulated_items,
)
from dicomstore.errors import InvalidArgument

__all__ = [
    "DEFER_SIZE",
    "InstanceHeader",
    "PixelDataValue",
    "read_instance",
]

DEFER_SIZE: Final = 8192
"""Values longer than this many bytes stay on disk until asked for (pydicom ``defer_size``)."""

_PIXEL_DATA_TAGS: Final = (0x7FE00010, 0x7FE00008, 0x7FE00009)
"""(7FE0,0010) Pixel Data, (7FE0,0008) Float Pixel Data, (7FE0,0009) Double Float Pixel Data."""

_REQUIRED_UIDS: Final = (
    (0x0020000D, "StudyInstanceUID"),
    (0x0020000E, "SeriesInstanceUID"),
    (0x00080018, "SOPInstanceUID"),
    (0x00080016, "SOPClassUID"),
)


@dataclass(frozen=True, slots=True)
class PixelDataValue:
    """Where the pixel data value lies in the file.

    Attributes
    ----------
    tag : int
        (7FE0,0010), (7FE0,0008) or (7FE0,0009).
    offset : int
        File offset of the value field.
    length : int
        Length of the value field in bytes. For encapsulated pixel data, the items up to (not
        including) the Sequence Delimitation Item.
    encapsulated : bool
        Whether the value is a sequence of fragments (PS3.5 §A.4).
    items : PixelDataItems | None
        The parsed items of encapsulated pixel data.
    """

    tag: int
    offset: int
    length: int
    encapsulated: bool
    items: PixelDataItems | None = None


@dataclass(frozen=True, slots=True, eq=False)
class InstanceHeader:
    """What ingest needs from a Part 10 file, read without loading its large values.

    Attributes
    ----------
    path : Path
        The file. The deferred values of :attr:`dataset` are read from it, so it must stay in
        place (and unchanged) while the data set is used.
    dataset : pydicom.dataset.Dataset
        The data set, with ``file_meta``; values above :data:`DEFER_SIZE` bytes are deferred.
        Deflated files are read whole (see :attr:`frames_unavailable`).
    study_instance_uid, series_instance_uid, sop_instance_uid, sop_class_uid : str
        (0020,000D), (0020,000E), (0008,0018), (0008,0016) from the data set.
    transfer_syntax_uid : str
        (0002,0010) from the file meta information.
    file_size : int
        Size of the file in bytes.
    pixel_data : PixelDataValue | None
        The top-level pixel data element, if any. For a deflated data set its offsets are
        positions in the inflated stream, not in the file.
    number_of_frames : int
        Frames in the pixel data: (0028,0008) Number of Frames, 1 when absent, 0 or not a
        number, and 0 when the instance has no pixel data.
    frames : tuple[FrameRanges, ...] | None
        Byte ranges of each frame (index 0 = frame 1); ``None`` when there is no pixel data or
        when :attr:`frames_unavailable` says why there are no ranges.
    frames_unavailable : str | None
        Why an instance with pixel data has no frame ranges, e.g. a deflated transfer syntax
        (the stored bytes are a zlib stream: no range of the file is a frame, the data set must
        be inflated first), 1-bit pixels packed across frames (see :attr:`frame_bits`), or
        attributes that disagree with the pixel data.
    frame_bits : int | None
        For native pixel data, bits per frame; with :mod:`dicomstore.dicom.frames`
        ``bit_packed_frame_range`` it locates bit-packed frames.
    """

    path: Path
    dataset: Dataset
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    file_size: int
    pixel_data: PixelDataValue | None
    number_of_frames: int
    frames: tuple[FrameRanges, ...] | None
    frames_unavailable: str | None
    frame_bits: int | None

    @property
    def is_little_endian(self) -> bool:
        """Byte order of the data set (the file meta is always little endian)."""
        return self.transfer_syntax_uid != pydicom.uid.ExplicitVRBigEndian

    @property
    def is_deflated(self) -> bool:
        """Whether the data set is deflated, so no element can be range-read from the file."""
        return bool(UID(self.transfer_syntax_uid).is_deflated)


def read_instance(path: Path, *, defer_size: int = DEFER_SIZE) -> InstanceHeader:
    """Read the header of a Part 10 file and locate its frames (PS3.10 §7, PS3.5 §8 and A.4).

    Parameters
    ----------
    path : Path
        The file, typically the staging copy of a STOW-RS part.
    defer_size : int
        Values longer than this stay on disk.

    Returns
    -------
    InstanceHeader

    Raises
    ------
    dicomstore.errors.InvalidArgument
        The file is not a Part 10 file (no preamble and ``DICM`` prefix, no Transfer Syntax
        UID), cannot be parsed, is truncated, or lacks one of Study, Series and SOP Instance UID
        and SOP Class UID.
    OSError
        The file cannot be opened (a fault of the caller, not of the data).
    """
    file_size = path.stat().st_size
    dataset = _parse(path, defer_size)
    transfer_syntax = _file_meta_transfer_syntax(dataset)
    if UID(transfer_syntax).is_deflated:
        # Offsets of a deflated data set are offsets in the inflated stream, which deferred
        # reads would look up in the compressed file: read it whole instead.
        dataset = _parse(path, None)
    else:
        _check_not_truncated(dataset, file_size)
    uids = [_required_uid(dataset, tag, keyword) for tag, keyword in _REQUIRED_UIDS]
    little_endian = transfer_syntax != pydicom.uid.ExplicitVRBigEndian
    pixel_data, layout, number_of_frames = _frames(
        path, dataset, transfer_syntax, file_size, little_endian
    )
    return InstanceHeader(
        path=path,
        dataset=dataset,
        study_instance_uid=uids[0],
        series_instance_uid=uids[1],
        sop_instance_uid=uids[2],
        sop_class_uid=uids[3],
        transfer_syntax_uid=transfer_syntax,
        file_size=file_size,
        pixel_data=pixel_data,
        number_of_frames=number_of_frames,
        frames=layout.frames if layout else None,
        frames_unavailable=layout.reason if layout else None,
        frame_bits=layout.frame_bits if layout else None,
    )


def _parse(path: Path, defer_size: int | None) -> Dataset:
    try:
        return pydicom.dcmread(path, defer_size=defer_size, force=False)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except InvalidDicomError as error:
        raise InvalidArgument(
            "not a DICOM Part 10 file: the 128-byte preamble and the 'DICM' prefix of the file "
            f"meta information are missing (PS3.10 7.1) ({error})"
        ) from error
    except Exception as error:
        raise InvalidArgument(f"the DICOM file cannot be parsed: {error}") from error


def _file_meta_transfer_syntax(dataset: Dataset) -> str:
    value = _string_value(getattr(dataset, "file_meta", None), 0x00020010)
    if not value:
        raise InvalidArgument(
            "the file meta information has no (0002,0010) TransferSyntaxUID (PS3.10 7.1)"
        )
    if not UID(value).is_transfer_syntax:
        raise InvalidArgument(
            f"the file meta information's TransferSyntaxUID {value} is no transfer syntax this "
            "store knows (PS3.6 Annex A): how the data set is encoded is unknown"
        )
    return value


def _required_uid(dataset: Dataset, tag: int, keyword: str) -> str:
    try:
        value = _string_value(dataset, tag)
    except InvalidArgument:
        raise
    except Exception as error:
        raise InvalidArgument(
            f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword} cannot be read: {error}"
        ) from error
    if not value:
        raise InvalidArgument(f"the data set has no ({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword}")
    return value


def _string_value(dataset: Dataset | None, tag: int) -> str | None:
    if dataset is None or tag not in dataset:
        return None
    value = dataset[tag].value
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidArgument(
            f"({tag >> 16:04X},{tag & 0xFFFF:04X}) must hold exactly one UID, found {value!r}"
        )
    return str(value)


def _check_not_truncated(dataset: Dataset, file_size: int) -> None:
    """Refuse a file that ends inside a top-level value.

    pydicom skips deferred values with a seek, which succeeds past the end of a file, so a
    truncated file would otherwise read as a valid one with short pixel data.
    """
    for part in (getattr(dataset, "file_meta", None), dataset):
        if part is None:
            continue
        for tag, element in part._dict.items():
            if isinstance(element, RawDataElement) and element.length != 0xFFFFFFFF:
                end = element.value_tell + element.length
                if end > file_size:
                    raise InvalidArgument(
                        f"the file is truncated: element ({tag >> 16:04X},{tag & 0xFFFF:04X}) "
                        f"needs {element.length} bytes at offset {element.value_tell} but the "
                        f"file has {file_size} bytes"
                    )


def _frames(
    path: Path, dataset: Dataset, transfer_syntax: str, file_size: int, little_endian: bool
) -> tuple[PixelDataValue | None, FrameLayout | None, int]:
    tag = next((tag for tag in _PIXEL_DATA_TAGS if tag in dataset), None)
    if tag is None:
        return None, None, 0
    number_of_frames, frames_problem = _number_of_frames(dataset)
    # Not get_item(): it reads deferred values.
    offset, length, undefined = _value_position(dataset._dict[BaseTag(tag)])
    if UID(transfer_syntax).is_deflated:
        return (
            PixelDataValue(tag, offset, length, undefined),
            FrameLayout(
                None,
                "the transfer syntax is deflated (PS3.5 A.5): the stored file is a zlib stream, "
                "so no byte range of it holds a frame",
            ),
            number_of_frames,
        )
    if undefined:
        try:
            with open(path, "rb") as file:
                items = read_encapsulated_items(
                    file, offset, little_endian=little_endian, file_size=file_size
                )
                pixel = PixelDataValue(tag, offset, items.end - offset, True, items)
                if frames_problem is not None:
                    return pixel, FrameLayout(None, frames_problem), number_of_frames
                layout = encapsulated_frames(
                    file, items, number_of_frames, _extended_offsets(dataset, little_endian)
                )
        except ValueError as error:
            raise InvalidArgument(f"invalid encapsulated Pixel Data: {error}") from error
        return pixel, layout, number_of_frames
    pixel = PixelDataValue(tag, offset, length, False)
    if frames_problem is not None:
        return pixel, FrameLayout(None, frames_problem), number_of_frames
    if UID(transfer_syntax).is_encapsulated:
        return (
            pixel,
            FrameLayout(
                None,
                f"the transfer syntax {transfer_syntax} is encapsulated but the Pixel Data has a "
                "defined length (PS3.5 A.4)",
            ),
            number_of_frames,
        )
    try:
        attributes = {
            keyword: int(dataset[attribute].value)
            for keyword, attribute in (
                ("rows", 0x00280010),
                ("columns", 0x00280011),
                ("samples_per_pixel", 0x00280002),
                ("bits_allocated", 0x00280100),
            )
        }
    except (KeyError, TypeError, ValueError) as error:
        return (
            pixel,
            FrameLayout(
                None,
                "native Pixel Data needs Rows, Columns, Samples per Pixel and Bits Allocated "
                f"(PS3.3 C.7.6.3): {error!r}",
            ),
            number_of_frames,
        )
    photometric = dataset.get(0x00280004)
    layout = native_frames(
        offset,
        length,
        number_of_frames=number_of_frames,
        photometric_interpretation=str(photometric.value).strip() if photometric else None,
        **attributes,
    )
    return pixel, layout, number_of_frames


def _value_position(element: RawDataElement | DataElement) -> tuple[int, int, bool]:
    if isinstance(element, RawDataElement):
        undefined = element.length == 0xFFFFFFFF
        length = element.length
        if undefined and element.value is not None:
            length = len(element.value)
        return element.value_tell, length, undefined
    value: Any = element.value
    if element.file_tell is None:  # not read from a file: cannot happen for read_instance
        raise InvalidArgument(f"{element.tag} was not read from the file")
    return element.file_tell, len(value or b""), bool(element.is_undefined_length)


def _number_of_frames(dataset: Dataset) -> tuple[int, str | None]:
    """(0028,0008) Number of Frames, and why it is unusable if it is.

    Like ``pydicom.pixels.utils.get_nr_frames``, absent, empty or 0 means one frame. A value
    that is not a number does not make the instance invalid (Google parses minimally), but its
    frames cannot be located.
    """
    element = dataset.get(0x00280008)
    if element is None or element.value is None or element.value == "":
        return 1, None
    try:
        value = int(element.value)
    except (TypeError, ValueError):
        return 1, f"(0028,0008) Number of Frames {element.value!r} is not a number"
    return (value if value > 0 else 1), None


def _extended_offsets(
    dataset: Dataset, little_endian: bool
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    offsets = dataset.get(0x7FE00001)
    lengths = dataset.get(0x7FE00002)
    if offsets is None or lengths is None or not offsets.value or not lengths.value:
        return None
    order = "<" if little_endian else ">"
    raw_offsets, raw_lengths = bytes(offsets.value), bytes(lengths.value)
    return (
        unpack(f"{order}{len(raw_offsets) // 8}Q", raw_offsets),
        unpack(f"{order}{len(raw_lengths) // 8}Q", raw_lengths),
    )

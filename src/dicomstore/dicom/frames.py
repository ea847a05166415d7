"""Where each frame of an instance's pixel data lies in its Part 10 file.

A frame is returned by WADO-RS ``.../frames/{n}`` as its stored bytes (PS3.18 §10.4.1.1.5 with
``transfer-syntax=*``), so ingest computes, once, the byte ranges that make up every frame and
keeps them: a frame request is then one or a few range reads of the stored blob.

- **Native** (uncompressed) pixel data (PS3.5 §8.1.1): frames are consecutive and all of the same
  size, ``Rows × Columns × SamplesPerPixel × BitsAllocated / 8`` bytes (two thirds of that for
  ``YBR_FULL_422``, PS3.3 C.7.6.3.1.2). With ``BitsAllocated`` 1, pixels are packed across frame
  boundaries (PS3.5 §8.1.1 and Annex D), so a frame may start inside a byte: those frames have no
  byte range, :func:`bit_packed_frame_range` and :func:`extract_bit_packed_frame` read them.
- **Encapsulated** pixel data (PS3.5 §A.4): the value is a sequence of items, the first holding
  the Basic Offset Table, the next ones the fragments. Fragments are mapped to frames exactly as
  pydicom's :func:`pydicom.encaps.generate_fragmented_frames` does (Extended Offset Table, then
  Basic Offset Table, then one fragment per frame, all fragments for one frame, or JPEG EOI/EOC
  markers), so a frame may be several ranges, one per fragment.

A frame is a tuple of ``(offset, length)`` byte ranges of the file; concatenated, they are the
frame's bytes. When the ranges cannot be computed (deflated data set, bit-packed frames,
inconsistent attributes, offset tables that disagree with the fragments) the reason is given
instead, in words a STOW failure or a log line can carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from struct import Struct, unpack
from typing import BinaryIO, Final

__all__ = [
    "ByteRange",
    "FrameLayout",
    "FrameRanges",
    "PixelDataItems",
    "bit_packed_frame_range",
    "encapsulated_frames",
    "extract_bit_packed_frame",
    "native_frames",
    "read_encapsulated_items",
]

ByteRange = tuple[int, int]
"""``(offset, length)`` of a run of bytes in a file."""

FrameRanges = tuple[ByteRange, ...]
"""The byte ranges that, concatenated, hold one frame."""

_ITEM: Final = 0xFFFEE000
_SEQUENCE_DELIMITER: Final = 0xFFFEE0DD
# JPEG EOI / JPEG 2000 EOC marker, searched in the last 10 bytes of a fragment like pydicom does.
_EOI_MARKER: Final = b"\xff\xd9"
_EOI_WINDOW: Final = 10


@dataclass(frozen=True, slots=True)
class PixelDataItems:
    """The items of an encapsulated pixel data value (PS3.5 §A.4), as found on disk.

    Attributes
    ----------
    basic_offset_table : tuple[int, ...]
        The Basic Offset Table entries (empty when the first item is empty).
    fragments : tuple[ByteRange, ...]
        ``(offset, length)`` of each fragment's value in the file, in order.
    first_fragment_item : int
        File offset of the first byte of the item tag of the first fragment (the origin of the
        Basic and Extended Offset Tables); the end of the items when there is no fragment.
    end : int
        File offset of the Sequence Delimitation Item that closes the value.
    """

    basic_offset_table: tuple[int, ...]
    fragments: tuple[ByteRange, ...]
    first_fragment_item: int
    end: int


@dataclass(frozen=True, slots=True)
class FrameLayout:
    """The frames of an instance, or why they have no byte ranges.

    Attributes
    ----------
    frames : tuple[FrameRanges, ...] | None
        One entry per frame, ``None`` when :attr:`reason` says why there are no ranges.
    reason : str | None
        Why :attr:`frames` is ``None``.
    frame_bits : int | None
        For native pixel data, the size of one frame in bits (lets a caller read bit-packed
        frames with :func:`bit_packed_frame_range`).
    """

    frames: tuple[FrameRanges, ...] | None
    reason: str | None = None
    frame_bits: int | None = None


def read_encapsulated_items(
    file: BinaryIO, offset: int, *, little_endian: bool = True, file_size: int | None = None
) -> PixelDataItems:
    """Parse the items of an encapsulated pixel data value without reading their values.

    Parameters
    ----------
    file : BinaryIO
        The Part 10 file, opened for binary reading and seekable.
    offset : int
        File offset of the value field (the item tag of the Basic Offset Table).
    little_endian : bool
        Byte order of the transfer syntax (encapsulated syntaxes are all little endian).
    file_size : int, optional
        Size of the file, to detect items that run past its end.

    Returns
    -------
    PixelDataItems

    Raises
    ------
    ValueError
        The value is not a well-formed item sequence (PS3.5 §A.4): a tag other than Item or
        Sequence Delimitation Item, an item of undefined length, or the end of the file before
        the delimiter.
    """
    header = Struct("<HHL" if little_endian else ">HHL")
    position = offset
    items: list[ByteRange] = []
    while True:
        file.seek(position)
        raw = file.read(8)
        if len(raw) < 8:
            raise ValueError(
                f"the encapsulated Pixel Data ends at byte {position} without a Sequence "
                "Delimitation Item (PS3.5 A.4)"
            )
        group, element, length = header.unpack(raw)
        tag = group << 16 | element
        if tag == _SEQUENCE_DELIMITER:
            break
        if tag != _ITEM:
            raise ValueError(
                f"unexpected tag ({group:04X},{element:04X}) at byte {position} inside the "
                "encapsulated Pixel Data, expected an Item (FFFE,E000) (PS3.5 A.4)"
            )
        if length == 0xFFFFFFFF:
            raise ValueError(
                f"item of undefined length at byte {position} inside the encapsulated Pixel Data"
            )
        if file_size is not None and position + 8 + length > file_size:
            raise ValueError(
                f"the encapsulated Pixel Data item at byte {position} needs {length} bytes but the "
                "file ends before"
            )
        items.append((position + 8, length))
        position += 8 + length
    if not items:
        raise ValueError("the encapsulated Pixel Data has no Basic Offset Table item (PS3.5 A.4)")
    bot_offset, bot_length = items[0]
    if bot_length % 4:
        raise ValueError("the Basic Offset Table length is not a multiple of 4 (PS3.5 A.4)")
    table: tuple[int, ...] = ()
    if bot_length:
        file.seek(bot_offset)
        table = unpack(f"{'<' if little_endian else '>'}{bot_length // 4}L", file.read(bot_length))
    first_fragment_item = items[1][0] - 8 if len(items) > 1 else position
    return PixelDataItems(table, tuple(items[1:]), first_fragment_item, position)


def encapsulated_frames(
    file: BinaryIO,
    items: PixelDataItems,
    number_of_frames: int,
    extended_offsets: tuple[Sequence[int], Sequence[int]] | None = None,
) -> FrameLayout:
    """Map the fragments of encapsulated pixel data to frames (PS3.5 §A.4, PS3.3 C.7.6.3.1.8).

    The rules are pydicom 3's (:func:`pydicom.encaps.generate_fragmented_frames`), in order:

    1. an Extended Offset Table: one fragment per frame, at the table's offset, with the table's
       length;
    2. a non-empty Basic Offset Table: a frame is the fragments from its offset up to the next
       frame's offset;
    3. one fragment: one frame;
    4. as many fragments as frames: one fragment per frame;
    5. one frame: all fragments;
    6. more fragments than frames: a frame ends with the first fragment whose last 10 bytes hold
       a JPEG EOI / JPEG 2000 EOC marker ``FFD9``.

    Unlike pydicom, which then yields whatever it found, the layout is refused (``frames`` is
    ``None`` with a reason) when the result does not give exactly ``number_of_frames`` frames or
    when an offset table does not point at fragment boundaries: serving a wrong frame is worse
    than not serving it.

    Parameters
    ----------
    file : BinaryIO
        The Part 10 file (read only for the EOI/EOC marker search of rule 6).
    items : PixelDataItems
        The parsed items (:func:`read_encapsulated_items`).
    number_of_frames : int
        (0028,0008) Number of Frames, 1 when absent.
    extended_offsets : tuple[Sequence[int], Sequence[int]], optional
        Decoded (7FE0,0001) Extended Offset Table and (7FE0,0002) Extended Offset Table Lengths.

    Returns
    -------
    FrameLayout
    """
    fragments = items.fragments
    if not fragments:
        return FrameLayout(None, "the encapsulated Pixel Data holds no fragment")
    origin = items.first_fragment_item
    # Offsets of each fragment's item tag relative to the first fragment's item tag.
    starts = [value_offset - 8 - origin for value_offset, _ in fragments]

    if extended_offsets is not None:
        offsets, lengths = extended_offsets
        if len(offsets) != len(lengths):
            return FrameLayout(
                None, "the Extended Offset Table and its Lengths have different sizes"
            )
        by_start = {start: index for index, start in enumerate(starts)}
        frames: list[FrameRanges] = []
        for frame_offset, frame_length in zip(offsets, lengths, strict=True):
            index = by_start.get(frame_offset)
            if index is None or frame_length > fragments[index][1]:
                return FrameLayout(
                    None,
                    "the Extended Offset Table does not point at the fragments (PS3.3 C.7.6.3.1.8)",
                )
            frames.append(((fragments[index][0], frame_length),))
        return _checked(frames, number_of_frames, "Extended Offset Table")

    table = items.basic_offset_table
    if table:
        start_set = set(starts)
        if table[0] != 0 or any(b <= a for a, b in pairwise(table)):
            return FrameLayout(None, "the Basic Offset Table is not increasing from 0 (PS3.5 A.4)")
        if any(offset not in start_set for offset in table):
            return FrameLayout(
                None, "the Basic Offset Table does not point at fragment boundaries (PS3.5 A.4)"
            )
        frames = []
        current: list[ByteRange] = []
        next_index = 1
        for start, fragment in zip(starts, fragments, strict=True):
            if next_index < len(table) and start >= table[next_index]:
                frames.append(tuple(current))
                current = []
                next_index += 1
            current.append(fragment)
        frames.append(tuple(current))
        return _checked(frames, number_of_frames, "Basic Offset Table")

    if len(fragments) == 1:
        return _checked([(fragments[0],)], number_of_frames, "single fragment")
    if len(fragments) == number_of_frames:
        return FrameLayout(tuple((fragment,) for fragment in fragments))
    if number_of_frames == 1:
        return FrameLayout((tuple(fragments),))
    if len(fragments) < number_of_frames:
        return FrameLayout(
            None,
            f"the encapsulated Pixel Data has {len(fragments)} fragments for "
            f"{number_of_frames} frames and no offset table",
        )
    frames = []
    current = []
    for fragment in fragments:
        current.append(fragment)
        value_offset, length = fragment
        tail = min(length, _EOI_WINDOW)
        file.seek(value_offset + length - tail)
        if _EOI_MARKER in file.read(tail):
            frames.append(tuple(current))
            current = []
    if current:
        frames.append(tuple(current))
    return _checked(frames, number_of_frames, "JPEG EOI/EOC markers")


def _checked(frames: list[FrameRanges], number_of_frames: int, rule: str) -> FrameLayout:
    if len(frames) != number_of_frames:
        return FrameLayout(
            None,
            f"the {rule} gives {len(frames)} frames but Number of Frames is {number_of_frames}",
        )
    return FrameLayout(tuple(frames))


def native_frames(
    offset: int,
    length: int,
    *,
    rows: int,
    columns: int,
    samples_per_pixel: int,
    bits_allocated: int,
    number_of_frames: int,
    photometric_interpretation: str | None = None,
) -> FrameLayout:
    """Byte ranges of the frames of native pixel data (PS3.5 §8.1.1).

    Parameters
    ----------
    offset, length : int
        File offset and length of the Pixel Data value field.
    rows, columns, samples_per_pixel, bits_allocated, number_of_frames : int
        The Image Pixel module attributes (PS3.3 C.7.6.3).
    photometric_interpretation : str, optional
        ``YBR_FULL_422`` frames hold two samples per pixel, not three (PS3.3 C.7.6.3.1.2).

    Returns
    -------
    FrameLayout
        ``frames`` is ``None`` when a frame does not start on a byte boundary (``BitsAllocated``
        1) or when the value is shorter than the frames need.
    """
    if min(rows, columns, samples_per_pixel, bits_allocated, number_of_frames) <= 0:
        return FrameLayout(
            None,
            "Rows, Columns, Samples per Pixel, Bits Allocated and Number of Frames must be "
            "positive",
        )
    if bits_allocated != 1 and bits_allocated % 8:
        return FrameLayout(
            None, f"Bits Allocated {bits_allocated} is neither 1 nor a multiple of 8 (PS3.5 8.1.1)"
        )
    frame_bits = rows * columns * samples_per_pixel * bits_allocated
    if photometric_interpretation == "YBR_FULL_422" and bits_allocated != 1:
        frame_bits = frame_bits // 3 * 2
    needed_bits = frame_bits * number_of_frames
    if (needed_bits + 7) // 8 > length:
        return FrameLayout(
            None,
            f"the Pixel Data holds {length} bytes but {number_of_frames} frames of "
            f"{rows}x{columns}x{samples_per_pixel} samples of {bits_allocated} bits need "
            f"{(needed_bits + 7) // 8}",
            frame_bits,
        )
    if frame_bits % 8:
        return FrameLayout(
            None,
            f"frames of {frame_bits} bits are packed across byte boundaries (Bits Allocated 1, "
            "PS3.5 8.1.1): read them with bit_packed_frame_range",
            frame_bits,
        )
    frame_length = frame_bits // 8
    return FrameLayout(
        tuple(((offset + i * frame_length, frame_length),) for i in range(number_of_frames)),
        None,
        frame_bits,
    )


def bit_packed_frame_range(offset: int, frame_bits: int, index: int) -> tuple[int, int, int]:
    """The bytes holding frame ``index`` of bit-packed native pixel data, and its first bit.

    Parameters
    ----------
    offset : int
        File offset of the Pixel Data value field.
    frame_bits : int
        Bits per frame (:attr:`FrameLayout.frame_bits`).
    index : int
        0-based frame index.

    Returns
    -------
    tuple[int, int, int]
        ``(byte_offset, byte_length, first_bit)``: read ``byte_length`` bytes at ``byte_offset``
        and pass them with ``first_bit`` to :func:`extract_bit_packed_frame`.
    """
    first = index * frame_bits
    last = first + frame_bits  # exclusive
    start_byte = first // 8
    return offset + start_byte, (last + 7) // 8 - start_byte, first % 8


def extract_bit_packed_frame(data: bytes, first_bit: int, frame_bits: int) -> bytes:
    """Repack one frame of 1-bit pixels so that it starts on a byte boundary.

    Pixels are packed from the least significant bit of each byte (PS3.5 Annex D); the result
    holds ``frame_bits`` bits from bit 0, the unused high bits of its last byte set to 0.

    Parameters
    ----------
    data : bytes
        The bytes given by :func:`bit_packed_frame_range`.
    first_bit : int
        Bit of ``data[0]`` where the frame starts (0 = least significant).
    frame_bits : int
        Bits in the frame.
    """
    value = int.from_bytes(data, "little") >> first_bit
    value &= (1 << frame_bits) - 1
    return value.to_bytes((frame_bits + 7) // 8, "little")

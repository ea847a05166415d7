"""WADO-RS: instances, metadata, frames and bulk data (``dicomweb-conformance.md`` §4).

Everything is served from what ingest kept: the blob for instance bytes, the stored DICOM JSON for
metadata (no file is re-read), frame and bulk data byte ranges for range reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dicomstore.blobs import BlobStore, reads_locally
from dicomstore.dicom import bulk_data_value, to_little_endian
from dicomstore.dicom.frames import native_frames
from dicomstore.dicom.json import walk_bulk_data
from dicomstore.dicom.transcode import (
    PixelDescription,
    describe_pixels,
    frame_in_syntax,
    transcode,
    transcode_capability,
)
from dicomstore.errors import InvalidArgument, NotAcceptable, NotFound
from dicomstore.index import Index
from dicomstore.index import dicom_stores as store_rows
from dicomstore.index import instances as instance_rows
from dicomstore.index.instances import InstanceLocation
from dicomstore.names import DicomStoreName
from dicomstore.services.frame_cache import FrameCache

__all__ = [
    "Frame",
    "InstanceBody",
    "Retrieval",
    "RetrieveService",
    "Scope",
    "absolute_bulk_data_uris",
    "locate",
    "parse_frame_numbers",
    "sent_as_stored",
]

_CHUNK = 256 * 1024
# Blobs up to this size are read whole with one positioned read and sent as one body or part
# (cheaper than chunked reads); larger ones are streamed in chunks so memory stays bounded.
WHOLE_READ_MAX = 8 * 1024 * 1024
# Reads up to this size are done at once by the ``*_at_once`` methods, when the storage is local:
# from the page cache that takes tens of microseconds, less than handing the work to a thread.
AT_ONCE_MAX = 2 * 1024 * 1024
# ... and lookups of up to this many instances (a larger study is located in a worker thread).
AT_ONCE_INSTANCES = 64
# BulkDataURIs are stored relative to the store's dicomWeb root and made absolute on the way out.
# Stored text is compact JSON (the engine's serialiser) or, read back from PostgreSQL JSONB or
# written by older versions, ``json.dumps`` form with a space after the colon.
_RELATIVE_BULK_DATA_URIS = ('"BulkDataURI":"studies/', '"BulkDataURI": "studies/')


def absolute_bulk_data_uris(json_text: str, dicomweb_url: str) -> str:
    """Serialised DICOM JSON with its stored (relative) BulkDataURIs made absolute.

    A text replacement on the serialised form: cheaper than walking every element, and exact,
    since a JSON encoder writes each BulkDataURI key and its value in one of these forms.
    """
    for relative in _RELATIVE_BULK_DATA_URIS:
        if relative in json_text:
            json_text = json_text.replace(relative, f"{relative[:-8]}{dicomweb_url}/studies/")
    return json_text


@dataclass(frozen=True, slots=True)
class Scope:
    """A study, a series in it, or one instance."""

    store: DicomStoreName
    study: str
    series: str | None = None
    instance: str | None = None

    def describe(self) -> str:
        if self.instance is not None:
            return f"Instance {self.instance} of series {self.series} in study {self.study}"
        if self.series is not None:
            return f"Series {self.series} in study {self.study}"
        return f"Study {self.study}"


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame's stored bytes and the syntax they are in."""

    number: int
    data: bytes
    transfer_syntax_uid: str


@dataclass(frozen=True, slots=True)
class InstanceBody:
    """An instance as it will be sent: its syntax and, when small enough, its bytes read whole
    (``None``: large and as stored, to be streamed with ``RetrieveService.instance_chunks``)."""

    transfer_syntax_uid: str
    data: bytes | None


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What a WADO-RS instance retrieval needs before it sends its status line."""

    instances: list[InstanceLocation]
    choice: int  # position, in the client's preference order, of the syntax they are sent in
    first: InstanceBody  # the first instance, already read


def parse_frame_numbers(text: str) -> list[int]:
    """``1,3,5`` → ``[1, 3, 5]``; frame numbers are 1-based (PS3.18 §10.4.1.1.4)."""
    numbers: list[int] = []
    for item in text.split(","):
        item = item.strip()
        if not item.isascii() or not item.isdigit() or int(item) < 1:
            raise InvalidArgument(f"Invalid frame number {item!r}: frames are numbered from 1.")
        numbers.append(int(item))
    return numbers


def locate(index: Index, scope: Scope, *, limit: int | None = None) -> list[InstanceLocation]:
    """The instances in ``scope`` (the first ``limit`` of them), in series and instance order;
    NotFound if there are none."""
    store, study, series, instance = scope.store, scope.study, scope.series, scope.instance
    found = instance_rows.locate_named(index, store, study, series, instance, limit=limit)
    if not found:
        with index.transaction() as tx:
            store_rows.get_by_name(tx, scope.store)  # NotFound naming a missing store or dataset
        raise NotFound(f"{scope.describe()} not found.")
    return found


class RetrieveService:
    """WADO-RS reads.

    `retrieval_at_once` and `frames_at_once` are the event loop's twins of `retrieval` and
    `frames`. With an embedded index and local blobs (`answers_at_once`), a small read sent as
    stored takes less time than handing it to a worker thread (from the page cache; a cold read
    waits for the disk, as an SQLite query does), so the twin does it. Otherwise — conversion,
    large bytes, a study too large to locate at once, remote storage — it returns None and the
    caller runs the plain method in a thread. `reads_at_once` says the same of `instance_body`.
    """

    def __init__(self, index: Index, blobs: BlobStore, cache: FrameCache) -> None:
        self.index = index
        self.blobs = blobs
        self.cache = cache
        self.answers_at_once = index.embedded and reads_locally(blobs)

    def locate(self, scope: Scope) -> list[InstanceLocation]:
        return locate(self.index, scope)

    def retrieval_at_once(self, scope: Scope, transfer_syntaxes: list[str]) -> Retrieval | None:
        """`retrieval`, when the scope holds at most `AT_ONCE_INSTANCES` instances, all sent as
        stored in the first of ``transfer_syntaxes``, the first of them small (see the class);
        else None."""
        if not self.answers_at_once:
            return None
        instances = locate(self.index, scope, limit=AT_ONCE_INSTANCES + 1)
        if len(instances) > AT_ONCE_INSTANCES:
            return None
        syntax = transfer_syntaxes[0]
        if not all(sent_as_stored(instance, syntax) for instance in instances):
            return None
        if not self.reads_at_once(instances[0], syntax):
            return None
        return Retrieval(instances, 0, self.instance_body(instances[0], syntax))

    def reads_at_once(self, instance: InstanceLocation, transfer_syntax: str) -> bool:
        """Whether `instance_body` of ``instance`` is quick enough for the event loop: local
        storage, sent as stored, small (see the class)."""
        return (
            self.answers_at_once
            and sent_as_stored(instance, transfer_syntax)
            and instance.blob_size_bytes <= AT_ONCE_MAX
        )

    def retrieval(self, scope: Scope, transfer_syntaxes: list[str]) -> Retrieval:
        """The instances in scope, the first of ``transfer_syntaxes`` they can all be sent in,
        and the first instance read: everything before the status line, in one call (one thread
        hop per request)."""
        instances = self.locate(scope)
        choice = self.first_producible(instances, transfer_syntaxes)
        return Retrieval(
            instances, choice, self.instance_body(instances[0], transfer_syntaxes[choice])
        )

    def instance_body(self, instance: InstanceLocation, transfer_syntax: str) -> InstanceBody:
        """The instance in ``transfer_syntax`` (``*``: as stored), read whole unless it is large
        and sent as stored."""
        stored = instance.transfer_syntax_uid
        if transfer_syntax not in ("*", stored):
            with self.blobs.open(instance.blob_key) as stream:
                return InstanceBody(transfer_syntax, transcode(stream, transfer_syntax))
        if instance.blob_size_bytes > WHOLE_READ_MAX:
            return InstanceBody(stored, None)
        return InstanceBody(
            stored, self.blobs.read_range(instance.blob_key, 0, instance.blob_size_bytes)
        )

    def first_producible(
        self, instances: list[InstanceLocation], transfer_syntaxes: list[str]
    ) -> int:
        """Index of the first of ``transfer_syntaxes`` (the client's preference order) that every
        instance can be sent in; NotAcceptable, with the reason, if none.

        Each instance's pixel description is read once, whatever the number of syntaxes tried.
        """
        pixels: dict[int, PixelDescription | None] = {}
        reasons = []
        for position, syntax in enumerate(transfer_syntaxes):
            reason = self._unproducible(instances, syntax, pixels)
            if reason is None:
                return position
            reasons.append(reason)
        raise NotAcceptable(reasons[0] if reasons else "No acceptable transfer syntax.")

    def _unproducible(
        self,
        instances: list[InstanceLocation],
        transfer_syntax: str,
        pixels: dict[int, PixelDescription | None],
    ) -> str | None:
        """Why the instances cannot all be sent in ``transfer_syntax`` (None: they can)."""
        for instance in instances:
            stored = instance.transfer_syntax_uid
            if transfer_syntax in ("*", stored):
                continue
            if instance.pk not in pixels:
                pixels[instance.pk] = self._pixels(instance)
            capability = transcode_capability(stored, transfer_syntax, pixels[instance.pk])
            if not capability.possible:
                return (
                    f"Instance {instance.sop_instance_uid} is stored in transfer syntax {stored} "
                    f"and cannot be sent in {transfer_syntax}: {capability.reason}"
                )
        return None

    def _pixels(self, instance: InstanceLocation) -> PixelDescription | None:
        with self.index.transaction() as tx:
            text = instance_rows.metadata_text(tx, instance.pk)
        return describe_pixels(json.loads(text)) if text is not None else None

    def instance_chunks(
        self, instance: InstanceLocation, transfer_syntax: str
    ) -> tuple[str, Iterator[bytes]]:
        """The instance in ``transfer_syntax`` (``*``: as stored), and the syntax actually sent."""
        stored = instance.transfer_syntax_uid
        if transfer_syntax in ("*", stored):
            return stored, self._blob_chunks(instance.blob_key)
        with self.blobs.open(instance.blob_key) as stream:
            return transfer_syntax, iter([transcode(stream, transfer_syntax)])

    def _blob_chunks(self, key: str) -> Iterator[bytes]:
        with self.blobs.open(key) as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk

    def metadata_json(self, scope: Scope, dicomweb_url: str) -> bytes:
        """The DICOM JSON array of every instance in scope, BulkDataURIs made absolute."""
        with self.index.transaction() as tx:
            documents = instance_rows.metadata_in_named_store(
                tx, scope.store, scope.study, scope.series, scope.instance
            )
            if not documents:
                store_rows.get_by_name(tx, scope.store)  # NotFound naming a missing store
        if not documents:
            raise NotFound(f"{scope.describe()} not found.")
        return absolute_bulk_data_uris(f"[{','.join(documents)}]", dicomweb_url).encode()

    def frames_at_once(
        self, scope: Scope, numbers: list[int], transfer_syntax: str
    ) -> list[Frame] | None:
        """`frames`, when they are sent as stored, by range, and are small (see the class);
        else None."""
        if not self.answers_at_once:
            return None
        (instance,) = self.locate(scope)
        ranges = instance.frame_ranges
        if not sent_as_stored(instance, transfer_syntax) or ranges is None:
            return None
        _check_frame_numbers(scope, instance, numbers)
        chosen = [ranges[number - 1] for number in numbers]
        if sum(length for frame in chosen for _, length in frame) > AT_ONCE_MAX:
            return None
        stored = instance.transfer_syntax_uid
        return [
            Frame(number, self._read_ranges(instance.blob_key, frame), stored)
            for number, frame in zip(numbers, chosen, strict=True)
        ]

    def frames(self, scope: Scope, numbers: list[int], transfer_syntax: str) -> list[Frame]:
        """Each requested frame of one instance, as stored (``*``) or in ``transfer_syntax``."""
        (instance,) = self.locate(scope)
        stored = instance.transfer_syntax_uid
        pixels: PixelDescription | None = None
        if transfer_syntax not in ("*", stored):
            pixels = self._pixels(instance)
            capability = transcode_capability(stored, transfer_syntax, pixels)
            if not capability.possible:
                raise NotAcceptable(
                    f"The frames of {scope.describe()} are stored in transfer syntax {stored} "
                    f"and cannot be sent in {transfer_syntax}: {capability.reason}"
                )
        count = _check_frame_numbers(scope, instance, numbers)
        sent = stored if transfer_syntax == "*" else transfer_syntax
        if instance.frame_ranges is None and UID(stored).is_deflated:
            # A deflated file is a zlib stream: no byte range of it is a frame (rare: inflate).
            inflated = _inflated_frames(self._inflated(instance), count, scope)
            return [
                Frame(number, self._converted(inflated[number - 1], stored, pixels,
                                              transfer_syntax), sent)
                for number in numbers
            ]  # fmt: skip
        if instance.frame_ranges is None:
            raise InvalidArgument(
                f"The frames of {scope.describe()} cannot be retrieved one by one (its transfer "
                f"syntax {instance.transfer_syntax_uid} or pixel layout does not allow it); "
                "retrieve the whole instance instead."
            )
        frames = []
        for number in numbers:
            read = partial(self._read_ranges, instance.blob_key, instance.frame_ranges[number - 1])
            if pixels is None:
                frames.append(Frame(number, read(), sent))
                continue
            convert = partial(self._converted_read, read, stored, pixels, transfer_syntax)
            key = ("frame", instance.blob_key, number, transfer_syntax)
            frames.append(Frame(number, self.cache.get_or_make(key, convert), sent))
        return frames

    def _read_ranges(self, key: str, ranges: list[Any]) -> bytes:
        return b"".join(self.blobs.read_range(key, offset, length) for offset, length in ranges)

    @staticmethod
    def _converted_read(
        read: Callable[[], bytes], stored: str, pixels: PixelDescription, transfer_syntax: str
    ) -> bytes:
        return frame_in_syntax(read(), stored, pixels, transfer_syntax)

    @staticmethod
    def _converted(
        frame: bytes, stored: str, pixels: PixelDescription | None, transfer_syntax: str
    ) -> bytes:
        if pixels is None:
            return frame
        return frame_in_syntax(frame, stored, pixels, transfer_syntax)

    def bulk_data(self, scope: Scope, path: str) -> bytes:
        """The value of the bulk data element at ``path``, little endian (spec §4.5)."""
        (instance,) = self.locate(scope)
        location: list[Any] | None = (instance.bulk_data or {}).get(path)
        if location is None and UID(instance.transfer_syntax_uid).is_deflated:
            # Ingest keeps no byte ranges for a deflated file (a zlib stream): inflate it.
            dataset = self._inflated(instance)
            if path not in {element.path for element in walk_bulk_data(dataset)}:
                raise NotFound(f"No bulk data at {path} in {scope.describe()}.")
            return bulk_data_value(dataset, path)
        if location is None:
            raise NotFound(f"No bulk data at {path} in {scope.describe()}.")
        offset, length, vr, little_endian, _encapsulated = location
        data = self.blobs.read_range(instance.blob_key, offset, length)
        return data if little_endian else to_little_endian(data, vr)

    def _inflated(self, instance: InstanceLocation) -> Dataset:
        """The whole data set of a stored instance, read into memory."""
        with self.blobs.open(instance.blob_key) as stream:
            return pydicom.dcmread(stream)


def sent_as_stored(instance: InstanceLocation, transfer_syntax: str) -> bool:
    """Whether asking for ``transfer_syntax`` (``*``: as stored) gets the stored bytes."""
    return transfer_syntax in ("*", instance.transfer_syntax_uid)


def _check_frame_numbers(scope: Scope, instance: InstanceLocation, numbers: list[int]) -> int:
    """The instance's number of frames; InvalidArgument if it has none or fewer than asked."""
    count = instance.number_of_frames or 0
    if count == 0:
        raise InvalidArgument(f"{scope.describe()} has no pixel data, so it has no frames.")
    out_of_range = [number for number in numbers if number > count]
    if out_of_range:
        raise InvalidArgument(
            f"Frame {out_of_range[0]} is out of range: {scope.describe()} has {count} "
            f"frame{'s' if count != 1 else ''}."
        )
    return count


def _inflated_frames(dataset: Dataset, count: int, scope: Scope) -> list[bytes]:
    """The frames of native pixel data held in memory (a deflated instance, read whole)."""
    tag = next(tag for tag in (0x7FE00010, 0x7FE00008, 0x7FE00009) if tag in dataset)
    pixels = bytes(dataset[tag].value)
    try:
        layout = native_frames(
            0,
            len(pixels),
            rows=int(dataset.Rows),
            columns=int(dataset.Columns),
            samples_per_pixel=int(dataset.SamplesPerPixel),
            bits_allocated=int(dataset.BitsAllocated),
            number_of_frames=count,
            photometric_interpretation=str(dataset.get("PhotometricInterpretation", "")).strip(),
        )
    except (AttributeError, TypeError, ValueError):
        layout = None
    if layout is None or layout.frames is None:
        raise InvalidArgument(
            f"The frames of {scope.describe()} cannot be retrieved one by one"
            + (f" ({layout.reason})" if layout is not None and layout.reason else "")
            + "; retrieve the whole instance instead."
        )
    return [b"".join(pixels[offset : offset + length] for offset, length in frame)
            for frame in layout.frames]  # fmt: skip

"""Rendered images and thumbnails (``dicomweb-conformance.md`` §4.3, PS3.18 §10.4.1.1.5 and
§10.4.3.3.4): the stored instance decoded one frame at a time and turned into JPEG, PNG or GIF.

Results are kept in a size-bounded cache keyed by the immutable blob key, so a viewer scrolling
back over frames is answered without decoding them again.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import lru_cache

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dicomstore.blobs import BlobStore
from dicomstore.dicom.render import (
    RenderParameters,
    decode_native_frame,
    number_of_frames,
    render_decoded,
    render_frame,
    render_instance,
    render_thumbnail,
    rendering_attributes,
    representative_index,
)
from dicomstore.index import Index
from dicomstore.index import instances as instance_rows
from dicomstore.index.instances import InstanceLocation
from dicomstore.json_text import parse_json
from dicomstore.services.frame_cache import FrameCache
from dicomstore.services.retrieve import WHOLE_READ_MAX, Scope, locate

_GIF = "image/gif"
# Instances whose rendering attributes are kept (parsed from the stored DICOM JSON): a few KiB
# each, more for an enhanced multi-frame instance, whose frames a viewer asks for one by one.
_ATTRIBUTES_KEPT = 64

__all__ = ["RenderService"]


class RenderService:
    def __init__(self, index: Index, blobs: BlobStore, cache: FrameCache) -> None:
        self.index = index
        self.blobs = blobs
        self.cache = cache
        # By blob key: immutable, so an entry never goes stale.
        self._attributes = lru_cache(maxsize=_ATTRIBUTES_KEPT)(self._read_attributes)

    def rendered(
        self,
        scope: Scope,
        frame_number: int | None,
        media_type: str,
        parameters: RenderParameters,
    ) -> bytes:
        """An instance (first frame, or every frame as an animated GIF) or one of its frames."""
        (instance,) = locate(self.index, scope)

        def make() -> bytes:
            if frame_number is not None or media_type != _GIF:  # one frame, not an animation
                index = 0 if frame_number is None else frame_number - 1
                image = self._rendered_by_range(instance, index, media_type, parameters)
                if image is not None:
                    return image
            dataset = self._dataset(instance)
            if frame_number is None:
                return render_instance(dataset, media_type, parameters)
            return render_frame(dataset, frame_number - 1, media_type, parameters)

        key = ("rendered", instance.blob_key, frame_number, media_type, repr(parameters))
        return self.cache.get_or_make(key, make)

    def thumbnail(
        self,
        scope: Scope,
        frame_number: int | None,
        media_type: str,
        parameters: RenderParameters,
    ) -> bytes:
        """A small image standing for a study, series, instance or frame: the middle instance of
        the study or series, its middle frame unless a frame is named."""
        found = locate(self.index, scope)
        instance = found[representative_index(len(found))]

        def make() -> bytes:
            frame_index = None if frame_number is None else frame_number - 1
            dataset = self._dataset(instance)
            return render_thumbnail(dataset, media_type, parameters, frame_index=frame_index)

        key = ("thumbnail", instance.blob_key, frame_number, media_type, repr(parameters))
        return self.cache.get_or_make(key, make)

    def each_frame(self, instance: InstanceLocation, media_type: str) -> Iterator[bytes]:
        """Every frame of an instance rendered with default parameters, the instance read once
        (export: the cache is not used, the frames are written out once)."""
        dataset = self._dataset(instance)
        for index in range(number_of_frames(dataset)):
            yield render_frame(dataset, index, media_type, RenderParameters())

    def _rendered_by_range(
        self,
        instance: InstanceLocation,
        frame_index: int,
        media_type: str,
        parameters: RenderParameters,
    ) -> bytes | None:
        """The frame rendered from its byte range and the stored attributes, without reading the
        rest of the file: for native pixel data (None otherwise, or when the attributes hold
        bulk data by reference)."""
        ranges = instance.frame_ranges
        syntax = UID(instance.transfer_syntax_uid)
        if (
            ranges is None
            or not 0 <= frame_index < len(ranges)
            or syntax.is_encapsulated
            or syntax.is_deflated
            or not syntax.is_little_endian
        ):
            return None
        attributes = self._attributes(instance.blob_key, instance.pk)
        if attributes is None:
            return None
        key = instance.blob_key
        frame = b"".join(self.blobs.read_range(key, *part) for part in ranges[frame_index])
        decoded = decode_native_frame(attributes, frame_index, syntax, frame)
        return render_decoded(attributes, decoded, media_type, parameters)

    def _read_attributes(self, blob_key: str, instance_pk: int) -> Dataset | None:
        """The rendering attributes of the instance stored under ``blob_key`` (cached by it)."""
        text = instance_rows.read_metadata_text(self.index, instance_pk)
        return None if text is None else rendering_attributes(parse_json(text))

    def _dataset(self, instance: InstanceLocation) -> Dataset:
        # The whole instance is read: pydicom needs the pixel data value to decode a frame of it.
        # A small one in one positioned read, parsed from memory (pydicom's many small reads
        # cost less on BytesIO than on a file); a large one from the file.
        if instance.blob_size_bytes <= WHOLE_READ_MAX:
            data = self.blobs.read_range(instance.blob_key, 0, instance.blob_size_bytes)
            return pydicom.dcmread(io.BytesIO(data))
        with self.blobs.open(instance.blob_key) as stream:
            return pydicom.dcmread(stream)

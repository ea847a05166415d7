"""Changing a Part 10 instance's transfer syntax.

For now only between the little-endian native syntaxes — Implicit VR (1.2.840.10008.1.2),
Explicit VR (1.2.840.10008.1.2.1) and Deflated Explicit VR (1.2.840.10008.1.2.1.99) — where the
pixel bytes stay as they are and only the encoding of the data set changes. Compressed syntaxes
and big endian need codecs and byte swapping; until they are added, :func:`can_transcode` says no
and the caller answers 406 (PS3.18 §8.7.3.5: never send bytes in a syntax the client did not ask
for).
"""

from __future__ import annotations

import io
from typing import BinaryIO

import pydicom
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

__all__ = ["LITTLE_ENDIAN_NATIVE", "can_transcode", "transcode"]

LITTLE_ENDIAN_NATIVE = frozenset(
    {ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
)


def can_transcode(source: str, target: str) -> bool:
    """Whether an instance stored in ``source`` can be sent in ``target``."""
    return target in ("*", source) or (
        source in LITTLE_ENDIAN_NATIVE and target in LITTLE_ENDIAN_NATIVE
    )


def transcode(stream: BinaryIO, target: str) -> bytes:
    """The Part 10 file read from ``stream``, re-encoded in ``target``.

    Only for the pairs :func:`can_transcode` accepts; the whole instance is read into memory.
    """
    dataset = pydicom.dcmread(stream)
    dataset.file_meta.TransferSyntaxUID = UID(target)
    output = io.BytesIO()
    dataset.save_as(output, enforce_file_format=True)
    return output.getvalue()

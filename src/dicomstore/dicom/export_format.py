"""What ``gcsDestination.mimeType`` asks an export to write (``store-features.md`` §8.1).

The catalogue is the retrieve path's: whole Part 10 files (as stored, or transcoded), frames as
raw bytes (as stored, or decoded to native pixels), or frames rendered as consumer JPEG or PNG.
Frame-oriented formats write one object per frame for multi-frame instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dicomstore.errors import InvalidArgument

__all__ = ["ExportFormat", "ExportKind", "parse_export_mime_type"]

_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
_JPEG_BASELINE = "1.2.840.10008.1.2.4.50"

# Transfer syntaxes an application/dicom export may name (``*``: as stored, no transcoding).
_PART10_SYNTAXES = frozenset(
    {
        "*",
        "1.2.840.10008.1.2",
        _EXPLICIT_VR_LITTLE_ENDIAN,
        "1.2.840.10008.1.2.1.99",
        _JPEG_BASELINE,
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.110",
        "1.2.840.10008.1.2.4.111",
        "1.2.840.10008.1.2.4.112",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.8.1",
    }
)


class ExportKind(StrEnum):
    PART10 = "application/dicom"
    FRAMES = "application/octet-stream"
    JPEG = "image/jpeg"
    PNG = "image/png"


_EXTENSIONS = {
    ExportKind.PART10: ".dcm",
    ExportKind.FRAMES: "",
    ExportKind.JPEG: ".jpg",
    ExportKind.PNG: ".png",
}


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """One export format: its kind and transfer syntax (``*``: as stored)."""

    kind: ExportKind
    transfer_syntax: str = "*"

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.kind]

    @property
    def per_frame(self) -> bool:
        """Whether a multi-frame instance becomes one object per frame."""
        return self.kind is not ExportKind.PART10

    @property
    def content_type(self) -> str:
        if self.kind in (ExportKind.JPEG, ExportKind.PNG):
            return str(self.kind)
        return f"{self.kind}; transfer-syntax={self.transfer_syntax}"


def parse_export_mime_type(text: str, *, field: str = "gcsDestination.mimeType") -> ExportFormat:
    """The format a ``mimeType`` names; empty means Part 10 files as they were stored."""
    media_type, _, rest = text.partition(";")
    media_type = media_type.strip().lower()
    parameters: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(";"))):
        name, equals, value = item.partition("=")
        if not equals:
            raise _invalid(text, field)
        parameters[name.strip().lower()] = value.strip().strip('"')
    unknown = set(parameters) - {"transfer-syntax"}
    if unknown:
        raise InvalidArgument(
            f"Invalid {field} {text!r}: unknown parameter {sorted(unknown)[0]!r}."
        )
    syntax = parameters.get("transfer-syntax")
    if media_type in ("", "application/dicom"):
        if media_type == "" and text.strip():
            raise _invalid(text, field)
        chosen = syntax or "*"
        if chosen not in _PART10_SYNTAXES:
            raise InvalidArgument(
                f"Invalid {field} {text!r}: transfer syntax {chosen} is not supported for "
                "application/dicom exports."
            )
        return ExportFormat(ExportKind.PART10, chosen)
    if media_type == "application/octet-stream":
        chosen = syntax or "*"
        if chosen not in ("*", _EXPLICIT_VR_LITTLE_ENDIAN):
            raise InvalidArgument(
                f"Invalid {field} {text!r}: frames are exported as stored (transfer-syntax=*) or "
                f"decoded ({_EXPLICIT_VR_LITTLE_ENDIAN})."
            )
        return ExportFormat(ExportKind.FRAMES, chosen)
    if media_type == "image/jpeg":
        if syntax not in (None, _JPEG_BASELINE):
            raise InvalidArgument(
                f"Invalid {field} {text!r}: image/jpeg exports are in transfer syntax "
                f"{_JPEG_BASELINE}."
            )
        return ExportFormat(ExportKind.JPEG, _JPEG_BASELINE)
    if media_type == "image/png":
        if syntax is not None:
            raise InvalidArgument(f"Invalid {field} {text!r}: image/png takes no transfer-syntax.")
        return ExportFormat(ExportKind.PNG)
    raise _invalid(text, field)


def _invalid(text: str, field: str) -> InvalidArgument:
    return InvalidArgument(
        f"Invalid {field} {text!r}: use application/dicom, application/octet-stream, image/jpeg "
        "or image/png, with an optional transfer-syntax parameter."
    )

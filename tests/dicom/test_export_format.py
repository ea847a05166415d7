"""gcsDestination.mimeType: the formats an export writes (store-features.md §8.1)."""

from __future__ import annotations

import pytest

from dicomstore.dicom.export_format import ExportFormat, ExportKind, parse_export_mime_type
from dicomstore.errors import InvalidArgument


@pytest.mark.parametrize(
    ("text", "expected", "extension", "per_frame"),
    [
        ("", ExportFormat(ExportKind.PART10, "*"), ".dcm", False),
        ("application/dicom", ExportFormat(ExportKind.PART10, "*"), ".dcm", False),
        ("application/dicom; transfer-syntax=*", ExportFormat(ExportKind.PART10, "*"), ".dcm",
         False),
        ("application/dicom; transfer-syntax=1.2.840.10008.1.2.4.90",
         ExportFormat(ExportKind.PART10, "1.2.840.10008.1.2.4.90"), ".dcm", False),
        ('application/dicom;transfer-syntax="1.2.840.10008.1.2"',
         ExportFormat(ExportKind.PART10, "1.2.840.10008.1.2"), ".dcm", False),
        ("application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1",
         ExportFormat(ExportKind.FRAMES, "1.2.840.10008.1.2.1"), "", True),
        ("application/octet-stream; transfer-syntax=*", ExportFormat(ExportKind.FRAMES, "*"), "",
         True),
        ("image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50",
         ExportFormat(ExportKind.JPEG, "1.2.840.10008.1.2.4.50"), ".jpg", True),
        ("image/jpeg", ExportFormat(ExportKind.JPEG, "1.2.840.10008.1.2.4.50"), ".jpg", True),
        ("IMAGE/PNG", ExportFormat(ExportKind.PNG), ".png", True),
    ],
)  # fmt: skip
def test_each_format_in_the_catalogue(
    text: str, expected: ExportFormat, extension: str, per_frame: bool
) -> None:
    parsed = parse_export_mime_type(text)
    assert parsed == expected
    assert parsed.extension == extension
    assert parsed.per_frame is per_frame


@pytest.mark.parametrize(
    "text",
    [
        "text/plain",
        "application/dicom; transfer-syntax=1.2.3",
        "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.50",
        "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.70",
        "image/png; transfer-syntax=1.2.840.10008.1.2.1",
        "application/dicom; charset=utf-8",
        "application/dicom; transfer-syntax",
        "; transfer-syntax=*",
    ],
)
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidArgument, match=r"gcsDestination\.mimeType"):
        parse_export_mime_type(text)

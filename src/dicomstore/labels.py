"""Label rules for DICOM stores (``shared/spec/google-dicom-api.md`` §1.4).

Keys: 1–63 characters and at most 128 UTF-8 bytes,
``[\\p{Ll}\\p{Lo}][\\p{Ll}\\p{Lo}\\p{N}_-]{0,62}``.
Values: 0–63 characters and at most 128 UTF-8 bytes, ``[\\p{Ll}\\p{Lo}\\p{N}_-]{0,63}``.
At most 64 labels on one resource.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from dicomstore.errors import InvalidArgument

__all__ = ["MAX_LABELS", "validate_labels"]

MAX_LABELS = 64
_MAX_CHARS = 63
_MAX_BYTES = 128


def _is_lower_or_caseless_letter(char: str) -> bool:
    return unicodedata.category(char) in ("Ll", "Lo")


def _is_label_char(char: str) -> bool:
    return (
        char in "_-" or _is_lower_or_caseless_letter(char) or unicodedata.category(char)[0] == "N"
    )


def _check_size(text: str, what: str) -> None:
    if len(text) > _MAX_CHARS or len(text.encode()) > _MAX_BYTES:
        raise InvalidArgument(
            f"{what} {text[:16]!r}... is too long: at most {_MAX_CHARS} characters and "
            f"{_MAX_BYTES} bytes."
        )


def _validate_key(key: str) -> None:
    if not key:
        raise InvalidArgument("Label keys must not be empty.")
    _check_size(key, "Label key")
    if not _is_lower_or_caseless_letter(key[0]) or not all(map(_is_label_char, key[1:])):
        raise InvalidArgument(
            f"Invalid label key {key!r}: it must start with a lowercase letter and contain only "
            "lowercase letters, numbers, underscores and dashes."
        )


def _validate_value(key: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidArgument(f"Label {key!r} must have a string value.")
    _check_size(value, "Label value")
    if not all(map(_is_label_char, value)):
        raise InvalidArgument(
            f"Invalid value {value!r} for label {key!r}: it may contain only lowercase letters, "
            "numbers, underscores and dashes."
        )


def validate_labels(labels: Mapping[str, object]) -> dict[str, str]:
    """Check every key and value; return the labels as a plain ``dict[str, str]``."""
    if len(labels) > MAX_LABELS:
        raise InvalidArgument(f"At most {MAX_LABELS} labels are allowed; got {len(labels)}.")
    for key, value in labels.items():
        _validate_key(key)
        _validate_value(key, value)
    return {key: str(value) for key, value in labels.items()}

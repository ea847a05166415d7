"""DICOM JSON answers (QIDO-RS results, WADO-RS metadata, STOW-RS responses) as rows: one row
per DICOM JSON object, one column per attribute named by its PS3.6 keyword (``PatientName``;
the eight-digit tag for private or unknown attributes), in tag order.

A value is the element's single value, or the list of its values when it has several; a person
name is its string form (``Alphabetic=Ideographic=Phonetic``, trailing parts left out); a
sequence is a list of items, each an object keyed the same way; bulk data is its
``BulkDataURI`` and inline binary its base64 text; an element without a value is NULL.
"""

from __future__ import annotations

from typing import Any

__all__ = ["dicom_rows"]

_PERSON_NAME_PARTS = ("Alphabetic", "Ideographic", "Phonetic")


def dicom_rows(answer: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns (attributes in tag order) and rows of a DICOM JSON array or object."""
    # Imported here: the DICOM layer loads pydicom, which other statements never need.
    from dicomstore.dicom.attributes import keyword_for

    objects = answer if isinstance(answer, list) else [answer]
    tags = sorted({tag for item in objects if isinstance(item, dict) for tag in item})
    columns = [keyword_for(tag) for tag in tags]
    rows = [_item(item) for item in objects if isinstance(item, dict)]
    return columns, rows


def _item(item: dict[str, Any]) -> dict[str, Any]:
    from dicomstore.dicom.attributes import keyword_for

    return {keyword_for(tag): _value(element) for tag, element in sorted(item.items())}


def _value(element: Any) -> Any:
    if not isinstance(element, dict):
        return element
    if "BulkDataURI" in element:
        return element["BulkDataURI"]
    if "InlineBinary" in element:
        return element["InlineBinary"]
    values = element.get("Value")
    if not values:
        return None
    vr = element.get("vr")
    if vr == "SQ":
        return [_item(item) for item in values if isinstance(item, dict)]
    if vr == "PN":
        values = [_person_name(value) for value in values]
    return values[0] if len(values) == 1 else values


def _person_name(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return "=".join(str(value.get(part, "")) for part in _PERSON_NAME_PARTS).rstrip("=")

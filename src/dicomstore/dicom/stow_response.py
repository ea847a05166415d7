"""The Store Instances Response Module: what STOW-RS answers (PS3.18 §10.5.3 and Annex I).

A STOW-RS request stores each instance of its body or fails it; the response data set reports
both, in DICOM JSON or Native DICOM Model XML as the client accepts (spec §2.2):

- (0008,1190) Retrieve URL (type 2): the study's URL when every stored instance belongs to one
  study, and empty otherwise (several studies, or none stored). PS3.18 Table I.1-1 makes it type 2
  and defines it as the URL "where the Study is available", which only exists for a single study;
  Google's sample shows it filled for a one-study request.
- (0008,1198) Failed SOP Sequence (type 1C, present when an instance failed): per failure, the
  Referenced SOP Class and Instance UIDs when the instance could be read that far, (0008,1197)
  Failure Reason, and Google's private FailureDetail, a human-readable reason.
- (0008,1199) Referenced SOP Sequence (type 1C, present when an instance was stored): per stored
  instance, its Referenced SOP Class and Instance UIDs and (0008,1190) Retrieve URL.

FailureDetail is Google's private element in the block of creator ``GOOGLE`` (spec §2.2):
(0009,1097) in DICOM JSON, ``tag="00090097" privateCreator="GOOGLE" keyword="FailureDetail"`` in
XML, both LT. Whether Google's JSON also carries the private creator (0009,0010) is UNCONFIRMED;
this module writes it, next to FailureDetail in each item of the Failed SOP Sequence, because
PS3.5 §7.8.1 requires every private block to be reserved by its creator in the same data set:
without it a reader has no way to tell whose (0009,1097) it is (pydicom's ``private_block`` finds
it only with the creator). Clients that ignore private elements are unaffected either way; the XML
form carries the creator as an attribute (:mod:`dicomstore.dicom.xml`).

Google reports every failure, including a conflicting duplicate, as 272 (0110H, Processing
failure) and answers 409 when any instance failed, 200 otherwise: a re-sent instance identical to
the stored one is a success (spec §2.3), so it is a `StoredInstance` here. Google never answers
202 (PS3.18's "some stored with warnings") and never sets Warning Reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, TypeAlias

from dicomstore.dicom.xml import PrivateKeywords, to_dicom_xml

__all__ = [
    "FAILURE_DETAIL_JSON_TAG",
    "FAILURE_DETAIL_XML_TAG",
    "GOOGLE_PRIVATE_CREATOR",
    "FailedInstance",
    "FailureReason",
    "StoreOutcome",
    "StoredInstance",
    "response_dataset",
    "response_json",
    "response_xml",
    "status_code",
]

GOOGLE_PRIVATE_CREATOR: Final = "GOOGLE"
"""The private creator of Google's FailureDetail block, written in (0009,0010)."""

FAILURE_DETAIL_JSON_TAG: Final = "00091097"
"""FailureDetail in DICOM JSON: (0009,1097), block 10 of creator ``GOOGLE``."""

FAILURE_DETAIL_XML_TAG: Final = "00090097"
"""FailureDetail in Native DICOM Model XML, where the creator is an attribute (PS3.19 §A.1.1)."""

_PRIVATE_CREATOR_TAG: Final = "00090010"
_RETRIEVE_URL: Final = "00081190"
_FAILED_SOP_SEQUENCE: Final = "00081198"
_REFERENCED_SOP_SEQUENCE: Final = "00081199"
_REFERENCED_SOP_CLASS_UID: Final = "00081150"
_REFERENCED_SOP_INSTANCE_UID: Final = "00081155"
_FAILURE_REASON: Final = "00081197"
_XML_KEYWORDS: Final[PrivateKeywords] = {
    (GOOGLE_PRIVATE_CREATOR, int(FAILURE_DETAIL_XML_TAG, 16)): "FailureDetail"
}


class FailureReason(IntEnum):
    """Failure Reason (0008,1197) values of a Store Instances Response (PS3.18 Table I.2-2).

    Google uses `PROCESSING_FAILURE` for every failure (spec §2.2), and dicomstore does the same
    to stay compatible; the others are here for the archive user and for reading responses. PS3.18
    allows other codes, and the A7xx, A9xx and Cxxx ranges: `FailedInstance` takes any 16-bit
    value.
    """

    PROCESSING_FAILURE = 0x0110
    """272: a general failure in processing the operation (Google: every failure)."""
    REFERENCED_SOP_CLASS_NOT_SUPPORTED = 0x0122
    """290: the SOP Class of the instance is not supported."""
    REFUSED_OUT_OF_RESOURCES = 0xA700
    """42752 (A7xx): not stored because the origin server is out of resources."""
    DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
    """43264 (A9xx): the instance does not conform to its SOP Class."""
    CANNOT_UNDERSTAND = 0xC000
    """49152 (Cxxx): some data elements cannot be understood."""
    REFERENCED_TRANSFER_SYNTAX_NOT_SUPPORTED = 0xC122
    """49442: the transfer syntax of the instance is not supported."""


@dataclass(frozen=True, slots=True)
class StoredInstance:
    """An instance the request stored, or that was already stored with identical content.

    Attributes
    ----------
    sop_class_uid : str
        Its SOP Class UID, written as Referenced SOP Class UID (0008,1150).
    sop_instance_uid : str
        Its SOP Instance UID, written as Referenced SOP Instance UID (0008,1155).
    retrieve_url : str
        The instance's WADO-RS URL, ``…/dicomWeb/studies/{st}/series/{se}/instances/{sop}``.
    study_retrieve_url : str
        The URL of its study, ``…/dicomWeb/studies/{st}``: the response's top-level Retrieve URL
        when all stored instances share it.
    """

    sop_class_uid: str
    sop_instance_uid: str
    retrieve_url: str
    study_retrieve_url: str

    def __post_init__(self) -> None:
        for name in ("sop_class_uid", "sop_instance_uid", "retrieve_url", "study_retrieve_url"):
            if not getattr(self, name):
                raise ValueError(f"A stored instance needs a {name}.")


@dataclass(frozen=True, slots=True)
class FailedInstance:
    """An instance the request did not store.

    Attributes
    ----------
    failure_detail : str
        Why, for a person: Google's private FailureDetail, e.g. ``"An instance already exists
        in this DICOM Store with the same Study/Series/SOPInstance UID, but the DICOM files
        differ (checksum mismatch)."``
    failure_reason : int, default FailureReason.PROCESSING_FAILURE
        The Failure Reason (0008,1197) code, a 16-bit unsigned value; Google's is always 272.
    sop_class_uid, sop_instance_uid : str, optional
        The instance's UIDs when it could be read that far; Referenced SOP Class/Instance UID
        are written only when both are known (PS3.3 Table 10-11 makes both type 1).
    """

    failure_detail: str
    failure_reason: int = FailureReason.PROCESSING_FAILURE
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.failure_reason, bool) or not 0 <= self.failure_reason <= 0xFFFF:
            raise ValueError(
                f"A Failure Reason is an unsigned 16-bit code, not {self.failure_reason!r}."
            )


StoreOutcome: TypeAlias = StoredInstance | FailedInstance
"""What happened to one instance of a STOW-RS request."""


def status_code(outcomes: Iterable[StoreOutcome]) -> int:
    """The HTTP status of a STOW-RS response (spec §2.3).

    Parameters
    ----------
    outcomes : Iterable[StoreOutcome]
        What happened to each instance of the request.

    Returns
    -------
    int
        409 (Conflict) when at least one instance failed, else 200. Google never answers 202, so
        partial success is 409 too, its body listing both the stored and the failed instances.
        No outcomes at all gives 200: a request without instances is refused (400) before a
        response is built.
    """
    return 409 if any(isinstance(outcome, FailedInstance) for outcome in outcomes) else 200


def response_dataset(outcomes: Iterable[StoreOutcome]) -> dict[str, Any]:
    """The Store Instances Response Module as a DICOM JSON data set (PS3.18 Table I.1-1, §F.2).

    Parameters
    ----------
    outcomes : Iterable[StoreOutcome]
        What happened to each instance of the request, in request order (the sequences keep it).

    Returns
    -------
    dict[str, Any]
        The data set, its attributes in tag order: Retrieve URL, then Failed SOP Sequence and
        Referenced SOP Sequence when they have items.
    """
    stored: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    study_urls: set[str] = set()
    for outcome in outcomes:
        if isinstance(outcome, StoredInstance):
            study_urls.add(outcome.study_retrieve_url)
            stored.append(
                {
                    _REFERENCED_SOP_CLASS_UID: _string("UI", outcome.sop_class_uid),
                    _REFERENCED_SOP_INSTANCE_UID: _string("UI", outcome.sop_instance_uid),
                    _RETRIEVE_URL: _string("UR", outcome.retrieve_url),
                }
            )
        else:
            item: dict[str, Any] = {}
            if outcome.sop_class_uid and outcome.sop_instance_uid:
                item[_REFERENCED_SOP_CLASS_UID] = _string("UI", outcome.sop_class_uid)
                item[_REFERENCED_SOP_INSTANCE_UID] = _string("UI", outcome.sop_instance_uid)
            item[_FAILURE_REASON] = {"vr": "US", "Value": [int(outcome.failure_reason)]}
            item[_PRIVATE_CREATOR_TAG] = _string("LO", GOOGLE_PRIVATE_CREATOR)
            item[FAILURE_DETAIL_JSON_TAG] = _string("LT", outcome.failure_detail)
            failed.append(item)
    dataset: dict[str, Any] = {
        _RETRIEVE_URL: _string("UR", study_urls.pop() if len(study_urls) == 1 else "")
    }
    if failed:
        dataset[_FAILED_SOP_SEQUENCE] = {"vr": "SQ", "Value": failed}
    if stored:
        dataset[_REFERENCED_SOP_SEQUENCE] = {"vr": "SQ", "Value": stored}
    return dataset


def response_json(outcomes: Iterable[StoreOutcome]) -> bytes:
    """The response body for ``application/dicom+json``: `response_dataset` as UTF-8 JSON."""
    dataset = response_dataset(outcomes)
    try:
        return json.dumps(dataset, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a detail quoting a lone surrogate: escape it
        return json.dumps(dataset).encode("ascii")


def response_xml(outcomes: Iterable[StoreOutcome]) -> bytes:
    """The response body for ``application/dicom+xml`` (Google's default): `response_dataset`
    as a Native DICOM Model document (PS3.19 §A.1), FailureDetail as Google writes it.
    """
    return to_dicom_xml(response_dataset(outcomes), private_keywords=_XML_KEYWORDS)


def _string(vr: str, value: str) -> dict[str, Any]:
    return {"vr": vr, "Value": [value]} if value else {"vr": vr}

"""Domain errors, each carrying the google.rpc status it maps to.

Every transport translates these in one place (``api/http/errors.py`` for REST); services raise
them and never know about HTTP. The hierarchy::

    DicomStoreError                 UNKNOWN (500)
     ├── InvalidArgument            INVALID_ARGUMENT (400)
     ├── FailedPrecondition         FAILED_PRECONDITION (400)
     ├── OutOfRange                 OUT_OF_RANGE (400)
     ├── Unauthenticated            UNAUTHENTICATED (401)
     ├── PermissionDenied           PERMISSION_DENIED (403)
     ├── NotFound                   NOT_FOUND (404)
     ├── AlreadyExists              ALREADY_EXISTS (409)
     ├── Aborted                    ABORTED (409)
     ├── ResourceExhausted          RESOURCE_EXHAUSTED (429)
     ├── Cancelled                  CANCELLED (499)
     ├── Unimplemented              UNIMPLEMENTED (501)
     ├── Unavailable                UNAVAILABLE (503)
     ├── Internal                   INTERNAL (500)
     └── NotAcceptable              INVALID_ARGUMENT, but HTTP 406

The codes and their HTTP equivalents are google.rpc.Code's (googleapis ``google/rpc/code.proto``).
An error whose HTTP status is not its code's overrides `DicomStoreError.http_status`: the HTTP
transport answers that status with the code's name in the envelope, other transports (gRPC,
``Operation.error``) use the code alone.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = [
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "Code",
    "DicomStoreError",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotAcceptable",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
]


class Code(IntEnum):
    """google.rpc.Code, with the HTTP status each maps to."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    Code.OK: 200,
    Code.CANCELLED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}


class DicomStoreError(Exception):
    """Base of every error a service raises on purpose."""

    code = Code.UNKNOWN

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    @property
    def http_status(self) -> int:
        """The HTTP status to answer: the code's, unless a subclass needs a more precise one."""
        return self.code.http_status

    def to_status(self) -> dict[str, Any]:
        """This error as a google.rpc.Status in proto3 JSON (used inside Operation.error)."""
        status: dict[str, Any] = {"code": int(self.code), "message": self.message}
        if self.details:
            status["details"] = self.details
        return status


class InvalidArgument(DicomStoreError):
    code = Code.INVALID_ARGUMENT


class FailedPrecondition(DicomStoreError):
    code = Code.FAILED_PRECONDITION


class OutOfRange(DicomStoreError):
    code = Code.OUT_OF_RANGE


class Unauthenticated(DicomStoreError):
    code = Code.UNAUTHENTICATED


class PermissionDenied(DicomStoreError):
    code = Code.PERMISSION_DENIED


class NotFound(DicomStoreError):
    code = Code.NOT_FOUND


class AlreadyExists(DicomStoreError):
    code = Code.ALREADY_EXISTS


class Aborted(DicomStoreError):
    code = Code.ABORTED


class ResourceExhausted(DicomStoreError):
    code = Code.RESOURCE_EXHAUSTED


class Cancelled(DicomStoreError):
    code = Code.CANCELLED


class Unimplemented(DicomStoreError):
    code = Code.UNIMPLEMENTED


class Unavailable(DicomStoreError):
    code = Code.UNAVAILABLE


class Internal(DicomStoreError):
    code = Code.INTERNAL


class NotAcceptable(DicomStoreError):
    """No representation the client accepts can be produced: HTTP 406 (RFC 9110 §15.5.7).

    Google's DICOMweb answers 406 for an ``Accept`` it cannot satisfy (spec §2.2, §3.4, §4.7).
    google.rpc has no code that maps to 406; the request names something this resource cannot
    give, which is what INVALID_ARGUMENT means ("arguments that are problematic regardless of the
    state of the system", ``code.proto``), so that is the code and the envelope's status, and gRPC
    sees INVALID_ARGUMENT. It is not an `InvalidArgument` subclass, so that handlers catching
    malformed input do not turn it into a 400.
    """

    code = Code.INVALID_ARGUMENT

    @property
    def http_status(self) -> int:
        return 406

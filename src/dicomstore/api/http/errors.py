"""The one place where errors become HTTP answers: Google's JSON error envelope.

``{"error": {"code": 404, "message": "...", "status": "NOT_FOUND"}}`` (google-dicom-api.md §3).
``code`` is the HTTP status: the google.rpc code's, or the error's own ``http_status`` where it
differs (`dicomstore.errors.NotAcceptable`: 406 with status ``INVALID_ARGUMENT``).
Anything unexpected is answered as INTERNAL without details (the server logs the traceback).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dicomstore.errors import Code, DicomStoreError

__all__ = ["error_response", "handle_domain_error", "handle_http_error", "handle_unexpected"]


def error_response(
    code: Code,
    message: str,
    details: list[dict[str, Any]] | None = None,
    *,
    http_status: int | None = None,
) -> Response:
    """Google's envelope for ``code``, answered with ``http_status`` (default: the code's)."""
    status_code = code.http_status if http_status is None else http_status
    error: dict[str, Any] = {"code": status_code, "message": message, "status": code.name}
    if details:
        error["details"] = details
    body = json.dumps({"error": error}, indent=2, ensure_ascii=False) + "\n"
    try:
        content = body.encode("utf-8")
    except UnicodeEncodeError:  # a message quoting a lone surrogate from the request: escape it
        content = (json.dumps({"error": error}, indent=2) + "\n").encode("ascii")
    return Response(content, status_code=status_code, media_type="application/json; charset=UTF-8")


async def handle_domain_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, DicomStoreError)
    return error_response(error.code, error.message, error.details, http_status=error.http_status)


async def handle_http_error(request: Request, error: Exception) -> Response:
    """Starlette's own errors: unknown routes and wrong methods, as Google's front end answers."""
    assert isinstance(error, HTTPException)
    if error.status_code in (404, 405):
        response = error_response(Code.NOT_FOUND, "Method not found.")
        if error.headers and "Allow" in error.headers:
            response.headers["Allow"] = error.headers["Allow"]
        return response
    if error.status_code == 413:
        return error_response(Code.INVALID_ARGUMENT, "Request body too large.")
    code = Code.INVALID_ARGUMENT if 400 <= error.status_code < 500 else Code.INTERNAL
    return error_response(code, str(error.detail))


async def handle_unexpected(_request: Request, _error: Exception) -> Response:
    # Starlette re-raises after answering, so the server logs the traceback once; uvicorn then
    # closes the connection, which a keep-alive client must know not to reuse.
    response = error_response(Code.INTERNAL, "Internal error encountered.")
    response.headers["Connection"] = "close"
    return response

"""The error translation point: domain errors as Google's JSON envelope, with their HTTP status."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dicomstore.api.http import errors
from dicomstore.api.http.negotiation import STORE_OFFERS, negotiate
from dicomstore.errors import (
    Code,
    DicomStoreError,
    InvalidArgument,
    NotAcceptable,
    NotFound,
)


def answer(error: DicomStoreError) -> Response:
    return asyncio.run(errors.handle_domain_error(Request({"type": "http"}), error))


def test_not_acceptable_is_406_with_googles_envelope() -> None:
    response = answer(NotAcceptable("No supported media type found in [text/html]."))
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert json.loads(bytes(response.body)) == {
        "error": {
            "code": 406,
            "message": "No supported media type found in [text/html].",
            "status": "INVALID_ARGUMENT",
        }
    }


def test_not_acceptable_keeps_its_code_elsewhere() -> None:
    error = NotAcceptable("nope")
    assert error.code is Code.INVALID_ARGUMENT
    assert error.http_status == 406
    assert error.to_status() == {"code": 3, "message": "nope"}  # Operation.error, gRPC
    assert not isinstance(error, InvalidArgument)  # a handler of bad input does not catch it


@pytest.mark.parametrize(
    ("error", "status"), [(InvalidArgument("bad"), 400), (NotFound("gone"), 404)]
)
def test_other_errors_answer_their_codes_status(error: DicomStoreError, status: int) -> None:
    assert error.http_status == status == error.code.http_status
    response = answer(error)
    assert response.status_code == status
    assert json.loads(bytes(response.body))["error"]["code"] == status


def test_error_response_status_override() -> None:
    response = errors.error_response(Code.INVALID_ARGUMENT, "m", http_status=406)
    assert response.status_code == 406
    assert json.loads(bytes(response.body))["error"] == {
        "code": 406,
        "message": "m",
        "status": "INVALID_ARGUMENT",
    }


def test_negotiation_failure_through_an_app() -> None:
    """A route that negotiates, behind the app's handler: 406 for a refused Accept, 400 for a
    malformed one."""

    async def endpoint(request: Request) -> Response:
        offer = negotiate(request.headers.get("accept"), STORE_OFFERS)
        return Response(b"", media_type=offer.content_type())

    app = Starlette(
        routes=[Route("/", endpoint)],
        exception_handlers={DicomStoreError: errors.handle_domain_error},
    )

    async def get(accept: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/", headers={"Accept": accept})

    refused = asyncio.run(get("text/html"))
    assert refused.status_code == 406
    assert refused.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "application/dicom+xml" in refused.json()["error"]["message"]
    malformed = asyncio.run(get("text/html;q=2"))
    assert malformed.status_code == 400
    assert malformed.json()["error"]["status"] == "INVALID_ARGUMENT"
    chosen = asyncio.run(get("application/dicom+json"))
    assert chosen.status_code == 200
    assert chosen.headers["content-type"] == "application/dicom+json"

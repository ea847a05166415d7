"""What every management endpoint shares: reading the request, answering JSON.

A route is a plain function ``handler(services, call) -> message``. ``endpoint`` wraps it: checks
the query string against the method's parameters plus Google's system parameters, reads and parses
the body, runs the handler in a worker thread (services are synchronous) and writes the answer
honouring ``prettyPrint`` and ``fields``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from dicomstore.api.http.messages import MessageType, parse_body
from dicomstore.api.http.partial_response import Selector, apply_fields, parse_fields
from dicomstore.errors import InvalidArgument
from dicomstore.services import Services

__all__ = ["Call", "endpoint"]

# Google's system parameters, accepted on every method (google-dicom-api.md §0).
SYSTEM_PARAMETERS = frozenset(
    {"$.xgafv", "access_token", "alt", "callback", "fields", "key", "oauth_token", "prettyPrint",
     "quotaUser", "uploadType", "upload_protocol"}
)  # fmt: skip
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
# proto3 JSON int32: ASCII digits only (Python's int() would also take "5_0", " 5" and "٥").
_INT32_RE = re.compile(r"[-+]?[0-9]+", re.ASCII)
_INT32_RANGE = range(-(2**31), 2**31)


@dataclass(frozen=True, slots=True)
class Call:
    """One parsed request: path parameters, method query parameters and the body message."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    body: dict[str, Any]

    def integer(self, name: str) -> int | None:
        text = self.query.get(name)
        if text is None or text == "":
            return None
        if not _INT32_RE.fullmatch(text) or int(text) not in _INT32_RANGE:
            raise InvalidArgument(f"Invalid value at '{_snake(name)}' (TYPE_INT32), \"{text}\"")
        return int(text)

    def boolean(self, name: str) -> bool | None:
        text = self.query.get(name)
        if text is None or text == "":
            return None
        if text.lower() not in _BOOLEANS:
            raise InvalidArgument(f"Invalid value at '{_snake(name)}' (TYPE_BOOL), \"{text}\"")
        return _BOOLEANS[text.lower()]

    def string(self, name: str) -> str | None:
        return self.query.get(name)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _query(request: Request, parameters: frozenset[str]) -> dict[str, str]:
    # Query parameters bind to request fields by JSON name or proto name, as in the body.
    known = {name: name for name in parameters | SYSTEM_PARAMETERS}
    known |= {_snake(name): name for name in parameters}
    query: dict[str, str] = {}
    for given, value in request.query_params.multi_items():
        name = known.get(given)
        if name is None:
            raise InvalidArgument(
                f'Invalid JSON payload received. Unknown name "{given}": Cannot bind query '
                f"parameter. Field '{given}' could not be found in request message."
            )
        if name in query and query[name] != value:
            raise InvalidArgument(f"Parameter {name!r} was given more than once.")
        query[name] = value
    alt = query.get("alt", "json")
    if alt != "json":
        raise InvalidArgument(f"alt={alt} is not supported for this method; use alt=json.")
    if query.get("$.xgafv", "1") not in ("1", "2"):
        raise InvalidArgument(f"Invalid value for $.xgafv: {query['$.xgafv']!r}; use 1 or 2.")
    if query.get("prettyPrint", "true").lower() not in _BOOLEANS:
        raise InvalidArgument(f"Invalid value for prettyPrint: {query['prettyPrint']!r}.")
    return query


def _selector(query: Mapping[str, str]) -> Selector | None:
    return parse_fields(query["fields"]) if query.get("fields") else None


def json_response(message: Any, query: Mapping[str, str], selector: Selector | None) -> Response:
    if selector is not None:
        message = apply_fields(message, selector)
    if _BOOLEANS[query.get("prettyPrint", "true").lower()]:
        text = json.dumps(message, indent=2, ensure_ascii=False)
    else:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    return Response(text + "\n", media_type="application/json; charset=UTF-8")


Handler = Callable[[Services, Call], Any]


def endpoint(
    handler: Handler,
    *,
    parameters: frozenset[str] = frozenset(),
    body: MessageType | None = None,
    body_name: str = "",
) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        query = _query(request, parameters)
        selector = _selector(query)  # a bad selector must fail before the method changes anything
        message: dict[str, Any] = {}
        if body is not None:
            message = parse_body(await request.body(), body, body_name)
        call = Call(path=request.path_params, query=query, body=message)
        services: Services = request.app.state.services
        answer = await run_in_threadpool(handler, services, call)
        return json_response(answer, query, selector)

    run.__name__ = handler.__name__
    return run

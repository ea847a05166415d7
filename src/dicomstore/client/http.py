"""One HTTP client for the Healthcare API: JSON calls, list pages, streamed bodies and waiting on
operations, with every failure turned into `ApiError` carrying the server's own message."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import httpx

from dicomstore.errors import Code

__all__ = ["DEFAULT_ENDPOINT", "ApiError", "HealthcareClient", "Unreachable"]

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"


class ApiError(Exception):
    """A request the server refused, or an operation that ended in error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        where = f" ({self.status})" if self.status else ""
        return f"{self.code}{where}: {self.message}"


class Unreachable(ApiError):
    """No answer at all: nothing listens at the endpoint, or the connection broke."""

    def __init__(self, endpoint: str, reason: str) -> None:
        super().__init__(0, "UNAVAILABLE", f"cannot reach {endpoint}: {reason}")


class HealthcareClient:
    """Requests to ``{endpoint}/v1/…`` with keep-alive; ``token`` is sent as a Bearer token
    (a Google access token, for Google's service)."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        token: str | None = None,
        timeout: float = 300.0,
        max_connections: int = 16,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.endpoint + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=max_connections),
        )

    def __enter__(self) -> HealthcareClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        allow_status: Collection[int] = (),
    ) -> httpx.Response:
        """The answer to one request whose body is read; `ApiError` for any 4xx or 5xx but those
        in ``allow_status`` (a STOW-RS 409 carries the per-instance outcomes in its body)."""
        with self.stream(
            method,
            path,
            params=params,
            json=json,
            content=content,
            headers=headers,
            allow_status=allow_status,
        ) as response:
            response.read()
        return response

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        allow_status: Collection[int] = (),
    ) -> Iterator[httpx.Response]:
        """The answer with its body unread, for bodies too large to hold; `ApiError` as above."""
        try:
            with self._http.stream(
                method,
                path.lstrip("/"),
                params=_query(params),
                json=json,
                content=content,
                headers=headers,
            ) as response:
                if response.status_code >= 400 and response.status_code not in allow_status:
                    response.read()
                    raise _api_error(response)
                yield response
        except httpx.TransportError as error:
            raise Unreachable(self.endpoint, str(error) or type(error).__name__) from None

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """A JSON request; the decoded answer (``{}`` for an empty one)."""
        response = self.request(method, path, params=params, json=body)
        return response.json() if response.content else {}

    def pages(
        self, path: str, field: str, *, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list method, following ``nextPageToken``."""
        query = dict(params or {})
        while True:
            page = self.call("GET", path, params=query)
            yield from page.get(field, [])
            token = page.get("nextPageToken")
            if not token:
                return
            query["pageToken"] = token

    def wait(
        self,
        operation: str,
        *,
        interval: float = 0.5,
        timeout: float | None = None,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll the operation named ``operation`` until done; `ApiError` if it ended in error.
        ``progress`` sees each poll's operation."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            current: dict[str, Any] = self.call("GET", f"v1/{operation}")
            if progress is not None:
                progress(current)
            if current.get("done"):
                error = current.get("error")
                if error:
                    raise ApiError(0, _code_name(error.get("code")), error.get("message", ""))
                return current
            if deadline is not None and time.monotonic() > deadline:
                raise ApiError(0, "DEADLINE_EXCEEDED", f"{operation} is still running")
            time.sleep(interval)


def _query(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters without the unset ones; booleans as the API spells them."""
    if params is None:
        return None
    query: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        query[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return query


def _api_error(response: httpx.Response) -> ApiError:
    """Google's envelope ``{"error": {"code", "message", "status"}}``, or the body's first line."""
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, str(error["status"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().splitlines()
        reason = text[0][:300] if text else response.reason_phrase
        return ApiError(response.status_code, _code_name(None, response.status_code), reason)


def _code_name(code: Any, http_status: int | None = None) -> str:
    if isinstance(code, int) and code in Code._value2member_map_:
        return Code(code).name
    if http_status is not None:
        for member in Code:
            if member.value and member.http_status == http_status:
                return member.name
    return "UNKNOWN"

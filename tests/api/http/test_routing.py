"""The application's router picks, for every path and method, the route Starlette's would."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Message

from dicomstore.api.http.app import ShapeRouter
from dicomstore.api.http.dicomweb import routes as dicomweb_routes
from dicomstore.api.http.management import routes as management_routes

METHODS = ("GET", "POST", "DELETE", "PATCH", "PUT")


def _concrete_paths(template: str) -> list[str]:
    """Paths a template matches, and near misses (a segment more or less, a ``:verb``)."""
    filled = re.sub(r"\{[^}:]+(:[^}]+)?\}", "x1", template)
    return [filled, filled + "/extra", filled + ":verb", filled.rsplit("/", 1)[0], filled + "/"]


def _paths() -> list[str]:
    paths = {"/", "/healthz", "/v1", "/nothing/here"}
    for route in [*management_routes, *dicomweb_routes]:
        assert isinstance(route, Route)
        paths.update(_concrete_paths(route.path))
    paths.add(_concrete_paths(dicomweb_routes[-1].path)[0] + "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o")
    return sorted(paths)


def _chosen(routes: list[BaseRoute], path: str, method: str) -> tuple[str, BaseRoute | None]:
    """What Starlette's loop does: the first full match, else the first partial (a 405)."""
    scope = {"type": "http", "path": path, "method": method, "root_path": ""}
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return "match", route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return ("not allowed", partial) if partial is not None else ("not found", None)


def _dispatched(router: Router, path: str, method: str) -> tuple[str, BaseRoute | None]:
    """Which route ``router`` hands the request to (``scope["route"]``), with handlers that
    only record."""
    scope: dict[str, Any] = {
        "type": "http",
        "path": path,
        "raw_path": path.encode(),
        "method": method,
        "root_path": "",
        "query_string": b"",
        "headers": [],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    asyncio.run(router.app(scope, receive, send))
    route = scope.get("route")
    if route is None:
        return "not found", None
    status = sent[0]["status"]
    return ("not allowed" if status == 405 else "match"), route


def _recording(routes: list[BaseRoute]) -> list[BaseRoute]:
    def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("")

    recording: list[BaseRoute] = []
    for route in routes:
        assert isinstance(route, Route)
        recording.append(Route(route.path, endpoint, methods=route.methods))
    return recording


@pytest.fixture(scope="module")
def routes() -> list[BaseRoute]:
    healthz = Route("/healthz", lambda request: PlainTextResponse(""), methods=["GET"])
    return _recording([healthz, *management_routes, *dicomweb_routes])


def test_every_path_and_method_goes_where_starlette_sends_it(routes: list[BaseRoute]) -> None:
    router = ShapeRouter(routes)
    for path in _paths():
        for method in METHODS:
            expected_outcome, expected_route = _chosen(routes, path, method)
            outcome, route = _dispatched(router, path, method)
            assert (outcome, route) == (expected_outcome, expected_route), (path, method)


def test_path_convertors_and_other_routes_are_tried_for_longer_paths() -> None:
    def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("")

    files = Route("/files/{rest:path}", endpoint)
    mounted = Mount("/mounted", routes=[Route("/a/b/c", endpoint)])
    short = Route("/files", endpoint)
    router = ShapeRouter([short, files, mounted])
    assert _dispatched(router, "/files", "GET") == ("match", short)
    assert _dispatched(router, "/files/", "GET") == ("match", files)
    assert _dispatched(router, "/files/a/b/c/d", "GET") == ("match", files)
    assert _dispatched(router, "/mounted/a/b/c", "GET") == ("match", mounted.routes[0])
    assert _dispatched(router, "/other/a/b/c/d/e/f", "GET") == ("not found", None)

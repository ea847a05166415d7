"""The ASGI application: routes, the error translation point and the health endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dicomstore.api.http import errors
from dicomstore.api.http.dicomweb import routes as dicomweb_routes
from dicomstore.api.http.management import routes as management_routes
from dicomstore.errors import Code, DicomStoreError
from dicomstore.services import Services

__all__ = ["ShapeRouter", "create_app"]


class RejectEncodedSlashes:
    """Refuse ``%2F`` inside a path: a resource ID never holds a slash, and decoding one would
    silently route the request somewhere else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and b"%2f" in scope.get("raw_path", b"").lower():
            response = errors.error_response(
                Code.INVALID_ARGUMENT, "Resource names must not contain encoded slashes (%2F)."
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


# The form holds what would have been a URL's query string; Google caps URLs far below this.
_MAX_OVERRIDE_FORM_BYTES = 64 * 1024


class MethodOverride:
    """Honour ``X-HTTP-Method-Override`` on a POST, as Google's front end does.

    google-api-python-client and gcloud (apitools) send a GET whose URL would pass 2048
    characters as a POST carrying this header, with the query string moved into an
    ``application/x-www-form-urlencoded`` body; here the body goes back into the query string.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method = headers.get("x-http-method-override", "").strip().upper()
        if not method:
            await self.app(scope, receive, send)
            return
        scope = {**scope, "method": method}
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            form = b""
            while True:
                message = await receive()
                form += message.get("body", b"")
                if len(form) > _MAX_OVERRIDE_FORM_BYTES:
                    response = errors.error_response(
                        Code.INVALID_ARGUMENT, "The method-override form body is too large."
                    )
                    await response(scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break
            query = b"&".join(part for part in (scope["query_string"], form.strip()) if part)
            scope["query_string"] = query
            receive = _body_consumed(receive)
        await self.app(scope, receive, send)


def _body_consumed(receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return replay


class ShapeRouter(Router):
    """Starlette's router, trying for each request only the routes whose path template has as
    many ``/`` as the request's path.

    A template's parameters match no ``/`` (except a ``path`` convertor's, whose route is tried
    for every path at least as long), so the other routes could not match at all: the outcome —
    a match, a 405 naming the first route whose path matches, a 404 — is the same, for a few
    regular expression matches instead of one per route before the right one (about 60).
    Trailing-slash redirects are off, as Google's paths have none.
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        super().__init__(routes, redirect_slashes=False)
        shapes = [_shape(route) for route in self.routes]
        longest = max((shape[0] for shape in shapes if shape is not None), default=0)
        self._by_slashes = {
            slashes: Router(
                [
                    route
                    for route, shape in zip(self.routes, shapes, strict=True)
                    if shape is None or shape[0] == slashes or (shape[1] and shape[0] < slashes)
                ],
                redirect_slashes=False,
            )
            for slashes in range(longest + 1)
        }

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Behind a root path Starlette matches a shortened path: let it (never the case here).
        if scope["type"] == "http" and not scope.get("root_path"):
            router = self._by_slashes.get(scope["path"].count("/"))
            if router is not None:
                scope.setdefault("router", self)
                await router.app(scope, receive, send)
                return
        await super().app(scope, receive, send)


def _shape(route: BaseRoute) -> tuple[int, bool] | None:
    """How many ``/`` a path must have to match ``route``, and whether it may have more (a
    ``path`` convertor); None when that cannot be told (not a plain ``Route``)."""
    if type(route) is not Route:
        return None
    return route.path.count("/"), ":path}" in route.path


def _health(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        services.index.ping()
    except Exception:  # any database failure means "not healthy", never a 500 trace
        return JSONResponse({"status": "unavailable", "index": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok"})


def create_app(services: Services) -> Starlette:
    """The HTTP application over ``services``; the caller owns their lifetime."""

    handlers: dict[type[Exception] | int, Callable[[Request, Exception], Awaitable[Response]]] = {
        DicomStoreError: errors.handle_domain_error,
        HTTPException: errors.handle_http_error,
        Exception: errors.handle_unexpected,
    }
    app = Starlette(
        middleware=[Middleware(RejectEncodedSlashes), Middleware(MethodOverride)],
        exception_handlers=handlers,
    )
    # Google's paths have no trailing slash; ".../datasets/" is an unknown path, not a redirect.
    app.router = ShapeRouter(
        [Route("/healthz", _health, methods=["GET"]), *management_routes, *dicomweb_routes]
    )
    app.state.services = services
    return app

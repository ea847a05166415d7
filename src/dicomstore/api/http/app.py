"""The ASGI application: routes, the error translation point and the health endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dicomstore.api.http import errors
from dicomstore.api.http.management import routes as management_routes
from dicomstore.errors import Code, DicomStoreError
from dicomstore.services import Services

__all__ = ["create_app"]


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
        routes=[Route("/healthz", _health, methods=["GET"]), *management_routes],
        middleware=[Middleware(RejectEncodedSlashes)],
        exception_handlers=handlers,
    )
    app.state.services = services
    return app

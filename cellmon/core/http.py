"""HTTP plumbing shared by every router: error mapping, path normalisation, direct routes."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from cellmon.core.errors import (
    BackendUnavailable,
    ConflictError,
    MissingReferenceError,
    NotFoundError,
)

RETRY_AFTER_SECONDS = 5


class StripTrailingSlash:
    """Serve `/api/v1/classes/` as `/api/v1/classes` instead of redirecting or 404ing.

    The real client posts to a configured URL as it is, so a trailing slash typed by an
    operator must reach the same route; a redirect would turn its POST into a second request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope)
                scope["path"] = path.rstrip("/") or "/"
                raw_path = scope.get("raw_path")
                if raw_path:
                    scope["raw_path"] = raw_path.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


Endpoint = Callable[[Request], Awaitable[Response]]


class DirectRoutes:
    """Serve a few hot routes by calling their endpoint at once, before routing.

    On the way to an endpoint, the router tries every route's pattern and FastAPI wraps the
    call in its exception middlewares and solves its dependencies: on a one-event POST that is
    more CPU than the endpoint's own work. A direct route's endpoint takes the Request alone
    and returns a Response; the route stays registered with the app, which documents it in
    OpenAPI. Installed inside CORSMiddleware and StripTrailingSlash, so their work still
    applies; an exception the app has a handler for gets that handler's response.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], prefix: str = "") -> None:
        """`routes`: those of an APIRouter, included in the app under `prefix`."""
        self.app = app
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        for route in routes:
            if not isinstance(route, APIRoute):
                raise TypeError(f"{route!r}: only an APIRoute can be direct")
            dependant = route.dependant
            if (
                dependant.dependencies
                or dependant.path_params
                or dependant.query_params
                or dependant.header_params
                or dependant.cookie_params
                or dependant.body_params
            ):
                raise ValueError(f"{route.path}: a direct route takes the Request alone")
            for method in route.methods or ():
                self._endpoints[(method, prefix + route.path)] = route.endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root_path: str = scope.get("root_path", "")
            if root_path and path.startswith(root_path):
                path = path[len(root_path) :]
            endpoint = self._endpoints.get((scope["method"], path))
            if endpoint is not None:
                request = Request(scope, receive, send)
                try:
                    response = await endpoint(request)
                except Exception as exc:
                    response = await _handled(request, exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _handled(request: Request, exc: Exception) -> Response:
    """The response of the app's handler for this exception; re-raised when it has none."""
    handlers: Mapping[Any, Callable[..., Any]] = request.app.exception_handlers
    for kind in type(exc).__mro__:
        handler = handlers.get(kind)
        if handler is not None:
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
            assert isinstance(response, Response)
            return response
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    async def conflict(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    async def missing_reference(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    async def unavailable(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": f"temporarily unavailable: {exc}"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    async def invalid_request(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        # The default handler echoes the input and fails with a 500 when it holds NaN or
        # Infinity (Python's JSON parser accepts them): orjson writes them as null. Input
        # nested too deep to echo back is left out.
        try:
            body = orjson.dumps({"detail": jsonable_encoder(errors)})
        except (TypeError, RecursionError):
            errors = [{k: v for k, v in error.items() if k != "input"} for error in errors]
            body = orjson.dumps({"detail": jsonable_encoder(errors)})
        return Response(body, status_code=422, media_type="application/json")

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(ConflictError, conflict)
    app.add_exception_handler(MissingReferenceError, missing_reference)
    app.add_exception_handler(BackendUnavailable, unavailable)

"""HTTP plumbing shared by every router: error mapping, path normalisation, direct routes."""

from __future__ import annotations

import inspect
import time
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

from cellmon.core.api_types import ErrorMessage
from cellmon.core.cors import ORIGIN_HEADER, CorsPolicy
from cellmon.core.errors import (
    BackendUnavailable,
    ConflictError,
    MissingReferenceError,
    NotFoundError,
)
from cellmon.core.logging import current_request_id
from cellmon.core.request_tracking import REQUEST_ID_HEADER, RouteLatency, request_id_of

RETRY_AFTER_SECONDS = 5
# A 422 echoes each wrong value back only up to this size (as JSON), so that its answer does
# not grow with the request: a 67 MB body once came back whole.
MAX_ECHOED_INPUT_BYTES = 256


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


def app_path(scope: Scope) -> str:
    """The request's path within the app: without the root path a proxy mounts it under."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :]
    return path


Endpoint = Callable[[Request], Awaitable[Response]]


class DirectRoutes:
    """Serve a few hot routes by calling their endpoint at once, before every other middleware.

    On the way to an endpoint, each middleware is one more call and a wrapper of `send`, the
    router tries every route's pattern, and FastAPI wraps the call in its exception
    middlewares and solves its dependencies: on a one-event POST that is more CPU than the
    endpoint's own work. What the generic layers give every other route, a direct route gets
    here in one step: its path with or without a trailing slash, the request id and the
    duration (core/request_tracking.py), the CORS headers of its answer (`cors`; a preflight is
    an OPTIONS request, answered by CORSMiddleware), and the app's handler's response for an
    exception it has a handler for. Limits (rate, body size) are the endpoint's own.

    A direct route's endpoint takes the Request alone and returns a Response; the route stays
    registered with the app, which documents it in OpenAPI.
    """

    def __init__(
        self, app: ASGIApp, routes: Sequence[BaseRoute], prefix: str, cors: CorsPolicy
    ) -> None:
        """`routes`: those of an APIRouter, included in the app under `prefix`."""
        self.app = app
        self._cors = cors
        self._latency = RouteLatency()
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
            path = app_path(scope)
            if len(path) > 1:
                path = path.rstrip("/")
            endpoint = self._endpoints.get((scope["method"], path))
            if endpoint is not None:
                await self._serve(endpoint, path, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(
        self, endpoint: Endpoint, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        started = time.perf_counter()
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        request_id = request_id_of(headers)
        token = current_request_id.set(request_id)
        status = 500
        try:
            request = Request(scope, receive, send)
            try:
                response = await endpoint(request)
            except Exception as exc:
                response = await _handled(request, exc)
            status = response.status_code
            origin = next((value for name, value in headers if name == ORIGIN_HEADER), None)
            response.raw_headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
            response.raw_headers.extend(self._cors.answer_headers(origin))
            await response(scope, receive, send)
        finally:
            current_request_id.reset(token)
            self._latency.observe(scope["method"], path, status, time.perf_counter() - started)


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
        errors = [_without_large_input(error) for error in exc.errors()]
        # orjson, not the default handler's encoder: an echoed NaN or Infinity (Python's JSON
        # parser accepts them) is written as null instead of failing with a 500.
        body = orjson.dumps({"detail": jsonable_encoder(errors)})
        return Response(body, status_code=422, media_type="application/json")

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(ConflictError, conflict)
    app.add_exception_handler(MissingReferenceError, missing_reference)
    app.add_exception_handler(BackendUnavailable, unavailable)


def _without_large_input(error: Any) -> Any:
    """A validation error without its `input` when that is large or cannot be written as JSON
    (nested too deep for the serializer)."""
    if "input" not in error:
        return error
    try:
        echoed = orjson.dumps(jsonable_encoder(error["input"]))
    except (TypeError, RecursionError):
        echoed = None
    if echoed is not None and len(echoed) <= MAX_ECHOED_INPUT_BYTES:
        return error
    return {key: value for key, value in error.items() if key != "input"}


_SCHEMAS = "#/components/schemas/"
_ERROR_MESSAGE = {"$ref": f"{_SCHEMAS}ErrorMessage"}
_SIGNED_IN_ANSWERS = {
    "401": "Nobody is signed in, or the token or session is no longer good.",
    "403": "The account may not do this: its role, or a write with the session cookie "
    "without its CSRF header.",
}
_READ_BODY_ANSWERS = {
    "400": "The body cannot be read: not UTF-8, or not parseable as sent.",
    "413": "The body is larger than the server takes (CELLMON_MAX_API_BODY_BYTES).",
}


def document_error_answers(app: FastAPI) -> None:
    """Make the app's OpenAPI document describe the error answers every route may give.

    FastAPI documents a 422 as a list of validation errors, while a domain 422 (a referenced
    entity missing) is one message; a route for signed-in accounts answers 401 and 403; and a
    route whose body FastAPI reads may answer 400 (when the body cannot be decoded) or 413
    (BodyLimit). What a route documents itself stays.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        described = app.openapi_schema is not None
        document = build()
        if not described:
            _describe_error_answers(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_error_answers(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "ErrorMessage", ErrorMessage.model_json_schema(ref_template=_SCHEMAS + "{model}")
    )
    validation_errors = {"$ref": f"{_SCHEMAS}HTTPValidationError"}
    unprocessable = {"application/json": {"schema": {"anyOf": [validation_errors, _ERROR_MESSAGE]}}}
    message = {"application/json": {"schema": _ERROR_MESSAGE}}
    validation_only = {"application/json": {"schema": validation_errors}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            answers = operation.setdefault("responses", {})
            answer = answers.get("422")
            # A 422 that a route describes with a body of its own (not one of these) keeps it.
            if answer is not None and answer.get("content") in (None, message, validation_only):
                answer["content"] = unprocessable
                if answer.get("description") == "Validation Error":
                    answer["description"] = (
                        "Validation errors (a list), or a referenced entity that does not "
                        "exist (one message)."
                    )
            if operation.get("security"):
                for code, description in _SIGNED_IN_ANSWERS.items():
                    answers.setdefault(code, {"description": description, "content": message})
            # A route that documents its own 413 reads its body itself (BodyLimit leaves it).
            if "requestBody" in operation and "413" not in answers:
                for code, description in _READ_BODY_ANSWERS.items():
                    answers.setdefault(code, {"description": description, "content": message})

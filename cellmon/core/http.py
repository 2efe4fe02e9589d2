"""HTTP plumbing shared by every router: error mapping and path normalisation."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
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

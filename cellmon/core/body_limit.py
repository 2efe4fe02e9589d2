"""A bound on every request body: 413 before reading when Content-Length says so, else while
the body streams in.

Without it a route reads and parses whatever arrives: a 256 MiB JSON body to
`POST /api/v1/classes` took the process from 137 MB to 937 MB before its 422. Routes that
bound their body themselves (the events routes, by CELLMON_MAX_BODY_BYTES counted after
decompression) are left to do so.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cellmon.core.http import app_path


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body passes the limit. FastAPI lets an HTTPException
    through its body parsing, so its handler answers the 413; BodyLimit answers it otherwise."""

    def __init__(self, limit: int) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, too_large_detail(limit))


def too_large_detail(limit: int) -> str:
    return f"request body over {limit} bytes (CELLMON_MAX_API_BODY_BYTES)"


class BodyLimit:
    """Refuse a request body over `limit` bytes with a 413, except under `exempt` paths."""

    def __init__(self, app: ASGIApp, limit: int, exempt: Sequence[str] = ()) -> None:
        """`exempt`: paths (and their sub-paths) whose routes bound their bodies themselves."""
        self.app = app
        self.limit = limit
        self._exempt = tuple(exempt)

    def _is_exempt(self, scope: Scope) -> bool:
        path = app_path(scope)
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self._exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_exempt(scope):
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            # Raised where no handler answers it (e.g. a middleware reading the body).
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The client may still be sending: closing the connection spares reading the rest.
        response = JSONResponse(
            {"detail": too_large_detail(self.limit)},
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _declared_length(scope: Scope) -> int | None:
    declared = Headers(scope=scope).get("content-length")
    if declared is None or not declared.isdigit():
        return None
    return int(declared)

"""Each HTTP request's id and its duration by route.

The id is the request's `X-Request-ID` when it is well-formed (a proxy's or a client's, so
one id follows a request through nginx and cellmon), else a new one; it is answered in the
response's `X-Request-ID` and is on every log record made while the request is handled
(`core/logging.py`). The duration goes to `cellmon_http_request_duration_seconds` under the
route's template (`/api/v1/students/{student_id}`), never the path, so that ids and keys in
paths neither make new series nor reach the metrics.

The direct routes (core/http.py DirectRoutes), served before this middleware, do the same
with `request_id_of` and `RouteLatency`. The hot route (one event per request) pays two clock
reads, the header scan, a context variable and one histogram observation (measured in
docs/operations.md, Metrics).
"""

from __future__ import annotations

import itertools
import os
import re
import time

from fastapi.routing import iter_route_contexts
from prometheus_client.metrics import Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cellmon.core.logging import current_request_id
from cellmon.core.metrics import REQUEST_DURATION

REQUEST_ID_HEADER = b"x-request-id"
# Ids others made: letters, digits and `-_.:`, up to 128 characters (a UUID, a trace id,
# nginx's $request_id). Anything else (too long, spaces, control characters) is replaced:
# it would make log lines ambiguous.
_WELL_FORMED = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
# A route no template matched (404s, scanners): one label, whatever the path.
UNMATCHED_ROUTE = "unmatched"

# Ids this process makes: a random prefix per process and a sequence number, unique without
# a random draw per request.
_PROCESS_PREFIX = os.urandom(6).hex()
_sequence = itertools.count(1)


def new_request_id() -> str:
    return f"{_PROCESS_PREFIX}-{next(_sequence):x}"


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The incoming id when well-formed, else a new one."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            if _WELL_FORMED.fullmatch(value):
                return value.decode("ascii")
            break
    return new_request_id()


class RouteLatency:
    """Observes request durations, each (method, route, status) series looked up once."""

    def __init__(self) -> None:
        self._observers: dict[tuple[str, str, int], Histogram] = {}

    def observe(self, method: str, template: str, status: int, seconds: float) -> None:
        key = (method, template, status)
        observer = self._observers.get(key)
        if observer is None:
            observer = self._observers[key] = REQUEST_DURATION.labels(method, template, str(status))
        observer.observe(seconds)


class RequestTracking:
    """Outermost middleware: sees every HTTP request, and the route the router chose."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The app's route templates, found at the first request (every route is included by
        # then).
        self._templates: dict[int, str] | None = None
        self._fixed_paths: frozenset[str] = frozenset()
        self._latency = RouteLatency()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope["headers"])
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
            self._latency.observe(
                scope["method"], self._template(scope), status, time.perf_counter() - started
            )

    def _template(self, scope: Scope) -> str:
        if self._templates is None:
            self._templates = _templates(scope["app"].routes)
            self._fixed_paths = frozenset(
                path for path in self._templates.values() if "{" not in path
            )
        route = scope.get("route")
        if route is not None:
            template = self._templates.get(id(route))
            if template is not None:
                return template
        # A request answered before routing (a rate limit's 429, the body limit's 413) has no
        # route in the scope: a path without parameters is its own template.
        path: str = scope["path"]
        return path if path in self._fixed_paths else UNMATCHED_ROUTE


def _templates(routes: list[BaseRoute]) -> dict[int, str]:
    """Each route's full path template (prefixes of included routers included), by the
    identity of the route object the router puts in the scope."""
    return {
        id(context.original_route): context.path
        for context in iter_route_contexts(routes)
        if context.path is not None
    }

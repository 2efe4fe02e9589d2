"""InfluxDB 1.8's 2.x-compatible write endpoint, in front of the InfluxDB 1.x installed here.

Debian's package is InfluxDB 1.6, which predates `/api/v2/write` (added in 1.8). This shim does
what 1.8's compatibility endpoint does with a write: bucket "db" or "db/rp", token
"user:password" in `Authorization: Token …`, the precision; then it hands the lines to the real
server's `/write` and answers as 2.x does (204, or the status with a JSON error). So the sink's
2.x code path writes real points that the tests read back from the real server. A delete
(`/api/v2/delete`) with a predicate of `key = value` pairs joined by AND, each a double-quoted
InfluxQL identifier as 2.x's parser reads them, becomes the real server's DROP SERIES over
the whole time range (the only range the sink asks for). Every request
is recorded, and anything else is passed to the server as it is. Flux (`/api/v2/query`) cannot
be served: 1.6 has no Flux engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellmon.core.timeseries.line_protocol import influxql_identifier, influxql_string


@dataclass
class SeenRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes every request to the real server and remembers it."""

    seen: list[SeenRequest] = field(default_factory=list)
    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.seen.append(
            SeenRequest(
                request.method,
                request.url.path,
                dict(request.url.params),
                {key.lower(): value for key, value in request.headers.items()},
                body,
            )
        )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


# A double-quoted InfluxQL identifier, its escapes as InfluxQL's scanner reads them.
_QUOTED = r'"((?:[^"\\\n]|\\[\\"n])*)"'
_PAIR = re.compile(rf"\s*{_QUOTED}\s*=\s*{_QUOTED}\s*")
_ESCAPE = re.compile(r"\\([\\\"n])")


def _unquote(text: str) -> str:
    return _ESCAPE.sub(lambda match: "\n" if match.group(1) == "n" else match.group(1), text)


def parse_delete_predicate(predicate: str) -> dict[str, str]:
    """`"k" = "v" AND …` as {k: v}; ValueError for anything else."""
    pairs: dict[str, str] = {}
    for part in re.split(r"\s+AND\s+", predicate):
        match = _PAIR.fullmatch(part)
        if match is None:
            raise ValueError(f"bad predicate part: {part!r}")
        pairs[_unquote(match.group(1))] = _unquote(match.group(2))
    return pairs


def v2_compat_transport(upstream: str, token: str | None) -> httpx.ASGITransport:
    """A transport that serves the 2.x write API by way of the 1.x server at `upstream`."""

    async def write(request: Request) -> Response:
        if token is not None and request.headers.get("authorization") != f"Token {token}":
            return JSONResponse({"code": "unauthorized", "message": "bad token"}, 401)
        bucket = request.query_params.get("bucket")
        if not bucket:
            return JSONResponse({"code": "invalid", "message": "bucket is required"}, 400)
        database, _, retention_policy = bucket.partition("/")
        params = {"db": database, "precision": request.query_params.get("precision", "ns")}
        if retention_policy:
            params["rp"] = retention_policy
        async with httpx.AsyncClient(base_url=upstream) as client:
            answer = await client.post("/write", params=params, content=await request.body())
        if answer.status_code == 204:
            return Response(status_code=204)
        message = answer.json().get("error", answer.text)
        return JSONResponse({"code": "invalid", "message": message}, answer.status_code)

    async def delete(request: Request) -> Response:
        if token is not None and request.headers.get("authorization") != f"Token {token}":
            return JSONResponse({"code": "unauthorized", "message": "bad token"}, 401)
        body = await request.json()
        try:
            tags = parse_delete_predicate(body["predicate"])
        except ValueError as exc:
            return JSONResponse({"code": "invalid", "message": str(exc)}, 400)
        measurement = tags.pop("_measurement")
        conditions = " AND ".join(
            f"{influxql_identifier(key)} = {influxql_string(value)}" for key, value in tags.items()
        )
        database = request.query_params["bucket"].partition("/")[0]
        query = f"DROP SERIES FROM {influxql_identifier(measurement)} WHERE {conditions}"
        async with httpx.AsyncClient(base_url=upstream) as client:
            answer = await client.post("/query", data={"db": database, "q": query})
        result = answer.json()["results"][0]
        if "error" in result:
            return JSONResponse({"code": "invalid", "message": result["error"]}, 400)
        return Response(status_code=204)

    async def passthrough(request: Request) -> Response:
        async with httpx.AsyncClient(base_url=upstream) as client:
            answer = await client.request(
                request.method,
                request.url.path,
                params=dict(request.query_params),
                content=await request.body(),
                headers={"content-type": request.headers.get("content-type", "")},
            )
        return Response(
            answer.content, answer.status_code, media_type=answer.headers.get("content-type")
        )

    app = Starlette(
        routes=[
            Route("/api/v2/write", write, methods=["POST"]),
            Route("/api/v2/delete", delete, methods=["POST"]),
            Route("/{path:path}", passthrough, methods=["GET", "POST"]),
        ]
    )
    return httpx.ASGITransport(app=app)

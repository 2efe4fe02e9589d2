"""Hostile input on every route but the events route: a clear 4xx, never a 500 nor a stall.

Integers past the columns' range, times that overflow once converted to UTC, bodies past the
limit (declared or streamed), 422s that would echo a large input, and /ws upgrades whose head
is too large or never finishes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from cellmon.core import server_protocols
from cellmon.core.api_types import MAX_ID
from cellmon.core.http import MAX_ECHOED_INPUT_BYTES
from tests.conftest import LiveServer

LIMIT = 64 * 1024


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CELLMON_MAX_API_BODY_BYTES": LIMIT}


def integer_parameters(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                for variant in schema.get("anyOf", [schema]):
                    if variant.get("type") == "integer":
                        found.append((f"{method.upper()} {path}", parameter["name"], variant))
    return found


def test_every_integer_parameter_is_bounded_within_the_id_range() -> None:
    from cellmon.app import create_app
    from tests.services import make_settings

    document = create_app(make_settings()).openapi()
    parameters = integer_parameters(document)
    assert len(parameters) > 50
    unbounded = [
        (operation, name, schema)
        for operation, name, schema in parameters
        if not (schema.get("minimum", -1) >= 0 and schema.get("maximum", MAX_ID + 1) <= MAX_ID)
    ]
    assert unbounded == []


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/cell-executions?skip=9223372036854775808",
        "/api/v1/cell-executions?student_id=9223372036854775808",
        "/api/v1/cell-executions?notebook_id=9223372036854775808",
        "/api/v1/cell-executions?cell_id=9223372036854775808",
        "/api/v1/cell-executions?skip=2147483648",
        "/api/v1/progress/students/9223372036854775808",
        "/api/v1/cell-executions?since=0001-01-01T00:00:00%2B14:00",
        "/api/v1/cell-executions?since=9999-12-31T23:59:59-14:00",
        "/api/v1/audit?since=0001-01-01T00:00:00%2B14:00",
    ],
)
async def test_out_of_range_numbers_and_times_are_a_422_naming_the_parameter(
    client: httpx.AsyncClient, url: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 422, response.text
    name = url.split("?")[1].split("=")[0] if "?" in url else "student_id"
    assert [error["loc"][-1] for error in response.json()["detail"]] == [name]


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(app: FastAPI) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/classes",
        "raw_path": b"/api/v1/classes",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(LIMIT + 1).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    body = orjson.loads(b"".join(message.get("body", b"") for message in sent[1:]))
    assert "CELLMON_MAX_API_BODY_BYTES" in body["detail"]


async def test_a_streamed_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    chunks_read = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal chunks_read
        yield b'{"name": "'
        for _ in range(64):
            chunks_read += 1
            yield b"x" * 4096
        yield b'"}'

    response = await client.post(
        "/api/v1/classes", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "CELLMON_MAX_API_BODY_BYTES" in response.json()["detail"]
    assert "content-length" not in response.request.headers


async def test_a_body_at_the_limit_is_read(client: httpx.AsyncClient) -> None:
    name = "x" * (LIMIT - len(b'{"name": ""}'))
    response = await client.post("/api/v1/classes", json={"name": name})
    # Read and validated: too long a name, not too large a body.
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


async def test_a_422_does_not_echo_a_large_input(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/classes", json={"name": "x" * (LIMIT // 2), "notes": ["y" * 1000] * 20}
    )
    assert response.status_code == 422
    assert len(response.content) < 2 * MAX_ECHOED_INPUT_BYTES + 1024
    errors = response.json()["detail"]
    assert {tuple(error["loc"]) for error in errors} >= {("body", "name")}
    assert all("input" not in error for error in errors)


async def test_a_422_still_echoes_a_small_input(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/classes?limit=abc")
    assert response.status_code == 422
    assert response.json()["detail"][0]["input"] == "abc"


async def _ask(server: LiveServer, head: bytes, wait: float = 10) -> tuple[bytes, float]:
    """What the server answers to `head`, read until it closes, and how long that took."""
    port = int(server.base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        writer.write(head)
        await writer.drain()
        async with asyncio.timeout(wait):
            answer = await reader.read()
        return answer, time.monotonic() - started
    finally:
        writer.close()


UPGRADE = (
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)
THOUSAND_CLASSES = ",".join(f"class:{number}" for number in range(1000)).encode()


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /ws?channels=" + THOUSAND_CLASSES + b" HTTP/1.1\r\nHost: x\r\n" + UPGRADE, b"414"),
        (b"GET /ws HTTP/1.1\r\nHost: x\r\n" + UPGRADE + b"X-Big: " + b"a" * 9000 + b"\r\n", b"431"),
        (
            b"GET /ws HTTP/1.1\r\nHost: x\r\n" + UPGRADE + b"X-Many: header\r\n" * 200,
            b"431",
        ),
    ],
    ids=["long request line", "long header", "too many headers"],
)
async def test_a_ws_upgrade_with_too_large_a_head_is_answered_and_closed(
    live_server: LiveServer, head: bytes, status: bytes
) -> None:
    answer, _ = await _ask(live_server, head + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:100]


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", [b"/ws", b"/health"])
async def test_a_request_head_that_never_finishes_is_closed(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, path: bytes
) -> None:
    monkeypatch.setattr(server_protocols, "REQUEST_HEAD_SECONDS", 0.5)
    answer, waited = await _ask(live_server, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + UPGRADE)
    assert answer == b""
    assert 0.4 < waited < 5


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
async def test_a_slow_but_complete_request_head_is_served(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The head takes 0.6 s in three parts: the rest of the limit is slack for a loaded machine.
    monkeypatch.setattr(server_protocols, "REQUEST_HEAD_SECONDS", 2.0)
    port = int(live_server.base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for part in (b"GET /health HTTP/1.1\r\n", b"Host: x\r\n", b"Connection: close\r\n\r\n"):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.3)
        async with asyncio.timeout(10):
            answer = await reader.read()
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200")

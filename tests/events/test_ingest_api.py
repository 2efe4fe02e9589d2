"""POST /api/v1/events: what is accepted, what is refused and how, before any worker runs."""

from __future__ import annotations

import gzip
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from cellmon.app import create_app
from cellmon.db.models import CellExecution, Notebook, Student
from cellmon.events.service import truncation_marker
from tests.events.helpers import CLIENT_SUCCESS, SESSION_ID, client_event, drain, execution
from tests.services import make_settings

JSON = {"Content-Type": "application/json"}
MAX_BODY = 8192
MAX_EVENTS = 5
MAX_FIELD = 256


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "CELLMON_MAX_BODY_BYTES": MAX_BODY,
        "CELLMON_MAX_EVENTS_PER_REQUEST": MAX_EVENTS,
        "CELLMON_MAX_FIELD_BYTES": MAX_FIELD,
    }


async def post(client: httpx.AsyncClient, events: Any, **headers: str) -> httpx.Response:
    content = events if isinstance(events, bytes) else orjson.dumps(events)
    return await client.post("/api/v1/events", content=content, headers={**JSON, **headers})


async def executions(app: FastAPI) -> list[CellExecution]:
    async with app.state.database.sessions() as session:
        return list((await session.scalars(select(CellExecution))).all())


async def test_one_event_object_is_accepted_as_a_batch_of_one(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await post(client, orjson.loads(CLIENT_SUCCESS)[0])
    assert response.status_code == 202
    assert response.json() == {"message": "1 events received and queued for processing."}
    await drain(app)
    assert len(await executions(app)) == 1


async def test_an_empty_batch_is_accepted(client: httpx.AsyncClient) -> None:
    response = await post(client, [])
    assert response.status_code == 202
    assert response.json() == {"message": "0 events received and queued for processing."}


async def test_trailing_slash_reaches_the_route(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/events/", content=CLIENT_SUCCESS, headers=JSON)
    assert response.status_code == 202


async def test_gzip_body_is_accepted(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await post(client, gzip.compress(CLIENT_SUCCESS), **{"Content-Encoding": "gzip"})
    assert response.status_code == 202
    await drain(app)
    assert [e.event_id for e in await executions(app)] == ["3f2b9c1e-7a4d-4e8b-9c2a-1d5e6f7a8b9c"]


async def test_gzip_body_over_the_limit_once_decompressed_is_413(
    client: httpx.AsyncClient,
) -> None:
    padding = " " * (MAX_BODY * 4)
    body = gzip.compress(b"[" + padding.encode() + b"]")
    assert len(body) < MAX_BODY
    response = await post(client, body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "CELLMON_MAX_BODY_BYTES" in response.json()["detail"]
    assert "decompression" in response.json()["detail"]


async def test_broken_gzip_is_400(client: httpx.AsyncClient) -> None:
    response = await post(client, b"not gzip at all", **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "gzip" in response.json()["detail"]
    truncated = gzip.compress(CLIENT_SUCCESS)[:20]
    response = await post(client, truncated, **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    response = await post(client, CLIENT_SUCCESS, **{"Content-Encoding": "br"})
    assert response.status_code == 400
    assert "Content-Encoding" in response.json()["detail"]


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    event = client_event(code="x" * 100)
    response = await post(client, [event] * 40)
    assert response.status_code == 413
    assert str(MAX_BODY) in response.json()["detail"]


async def test_streamed_body_without_length_over_the_limit_is_413(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        for _ in range(MAX_BODY // 100 + 1):
            yield b" " * 100
        yield b"]"

    response = await client.post("/api/v1/events", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_a_declared_length_over_the_limit_is_413_before_a_byte_is_read(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    pulled: list[bytes] = []

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b"[", b" " * MAX_BODY, b"]"):
            pulled.append(chunk)
            yield chunk

    declared = str(MAX_BODY + 2)
    response = await client.post(
        "/api/v1/events", content=chunks(), headers={**JSON, "Content-Length": declared}
    )
    assert response.request.headers["content-length"] == declared
    assert response.status_code == 413
    # Refused on the header alone: the streamed check would answer 413 too, after reading.
    assert pulled == []
    assert await app.state.backends.queue.depth() == 0


async def test_a_client_leaving_mid_body_queues_nothing_and_raises_nothing(app: FastAPI) -> None:
    # Driven at the ASGI level: an HTTP client cannot hang up half-way through its own body.
    incoming = [
        {"type": "http.request", "body": b'[{"eventType": "help"', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/events",
        "raw_path": b"/api/v1/events",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "app": app,
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert await app.state.backends.queue.depth() == 0


async def test_more_events_than_allowed_is_413_and_nothing_is_queued(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await post(client, [execution(f"c{i}") for i in range(MAX_EVENTS + 1)])
    assert response.status_code == 413
    assert "CELLMON_MAX_EVENTS_PER_REQUEST" in response.json()["detail"]
    assert await app.state.backends.queue.depth() == 0


async def test_wrong_type_is_422_naming_event_and_field_and_nothing_is_queued(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await post(client, [execution("ok"), execution("bad", cellIndex="third")])
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["event_index"] == 1
    assert error["field"] == "cellIndex"
    assert "integer" in error["message"]
    await drain(app)
    assert await executions(app) == []


async def test_single_object_errors_name_index_zero(client: httpx.AsyncClient) -> None:
    response = await post(client, {"eventType": "cell_executed", "eventTime": "yesterday"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["event_index"] == 0
    assert response.json()["detail"][0]["field"] == "eventTime"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'[{"eventId": "x"}]', "eventType"),
        (b'[{"eventType": ""}]', "eventType"),
        (b'[{"eventType": "help", "sessionId": "' + b"s" * 65 + b'"}]', "sessionId"),
        (b'[{"eventType": "help", "hasError": "perhaps"}]', "hasError"),
    ],
)
async def test_unusable_events_are_422(client: httpx.AsyncClient, body: bytes, field: str) -> None:
    response = await post(client, body)
    assert response.status_code == 422
    assert response.json()["detail"][0] == {
        "event_index": 0,
        "field": field,
        "message": response.json()["detail"][0]["message"],
    }


@pytest.mark.parametrize("body", [b"", b"not json", b'"a string"', b"[1, 2", b"[1]"])
async def test_bodies_that_are_not_events_are_422(client: httpx.AsyncClient, body: bytes) -> None:
    response = await post(client, body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["message"]


async def test_event_with_only_a_type_is_accepted_and_recorded(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await post(
        client,
        [
            {"eventType": "cell_executed"},
            {"eventType": "cell_executed", "sessionId": SESSION_ID, "emailAddress": "  "},
            {"eventType": "help", "emailAddress": None, "eventTime": None, "cellIndex": None},
        ],
    )
    assert response.status_code == 202
    await drain(app)
    rows = await executions(app)
    assert len(rows) == 2
    assert all(row.event_time == row.received_at for row in rows)
    assert all(row.status == "success" for row in rows)
    async with app.state.database.sessions() as session:
        emails = set((await session.scalars(select(Student.email))).all())
        paths = set((await session.scalars(select(Notebook.path))).all())
    assert emails == {"unknown@unknown.invalid", f"unknown+{SESSION_ID}@unknown.invalid"}
    assert paths == {"unknown"}


async def test_event_without_event_id_dedupes_when_retried(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    event = execution("c1")
    del event["eventId"]
    for _ in range(2):
        assert (await post(client, [event])).status_code == 202
    await drain(app)
    [row] = await executions(app)
    assert len(row.event_id) == 36


async def test_email_is_lower_cased_and_naive_time_taken_as_utc(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    event = execution("c1", emailAddress=" Student001@Example.COM ", time="2025-01-19T03:21:45")
    assert (await post(client, [event])).status_code == 202
    await drain(app)
    [row] = await executions(app)
    assert row.event_time.isoformat() == "2025-01-19T03:21:45+00:00"
    async with app.state.database.sessions() as session:
        assert await session.scalar(select(Student.email)) == "student001@example.com"


async def test_long_text_is_truncated_and_marked_not_refused(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    code = "é" * 500
    event = execution(
        "c1",
        error=True,
        code=code,
        result="r" * 5000,
        errorMessage="E" * 300,
        userName="名" * 300,
    )
    assert (await post(client, [event])).status_code == 202
    await drain(app)
    [row] = await executions(app)
    assert row.code is not None
    assert row.result is not None
    assert row.error_message is not None
    assert len(row.code.encode()) <= MAX_FIELD
    assert row.code.endswith(truncation_marker(len(code.encode())))
    assert row.code.startswith("éé")
    assert row.result.endswith(truncation_marker(5000))
    assert row.error_message.endswith(truncation_marker(300))
    async with app.state.database.sessions() as session:
        assert await session.scalar(select(Student.name)) == "名" * 255


async def test_nul_characters_are_replaced(client: httpx.AsyncClient, app: FastAPI) -> None:
    event = execution("c1", code="a\u0000b", result="\u0000")
    assert (await post(client, [event])).status_code == 202
    await drain(app)
    [row] = await executions(app)
    assert row.code == "a\ufffdb"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_503_with_retry_after_when_the_queue_is_down(
    database_overrides: dict[str, Any],
) -> None:
    settings = make_settings(
        **database_overrides,
        REDIS_HOST="127.0.0.1",
        REDIS_PORT=closed_port(),
        CELLMON_RUN_WORKER_IN_SERVER=False,
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await post(client, CLIENT_SUCCESS)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0


async def test_cors_preflight_from_jupyterlab(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/v1/events",
        headers={
            "Origin": "http://localhost:8888",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:8888"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"].lower()
    posted = await client.post(
        "/api/v1/events",
        content=CLIENT_SUCCESS,
        headers={**JSON, "Origin": "http://127.0.0.1:8888"},
    )
    assert posted.status_code == 202
    assert posted.headers["access-control-allow-origin"] == "http://127.0.0.1:8888"


async def test_cors_allows_configured_origins_only(database_overrides: dict[str, Any]) -> None:
    settings = make_settings(
        **database_overrides, BACKEND_CORS_ORIGINS="https://jupyter.example.edu"
    )
    app = create_app(settings)
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            allowed = await client.options(
                "/api/v1/events", headers={"Origin": "https://jupyter.example.edu", **preflight}
            )
            refused = await client.options(
                "/api/v1/events", headers={"Origin": "https://evil.example.com", **preflight}
            )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://jupyter.example.edu"
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/events/"])
async def test_the_direct_route_answers_with_the_apps_cors_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    origin = {"Origin": "http://localhost:8888"}
    posted = await client.post(path, content=CLIENT_SUCCESS, headers={**JSON, **origin})
    # The same request headers through the app's whole chain (router included).
    routed = await client.get("/health", headers=origin)
    assert posted.status_code == 202

    def cors(response: httpx.Response) -> dict[str, str]:
        return {
            name: value
            for name, value in response.headers.items()
            if name.startswith("access-control-") or name == "vary"
        }

    assert cors(posted) == cors(routed)
    assert cors(posted)["access-control-allow-origin"] == "http://localhost:8888"


async def test_the_direct_route_refuses_other_origins_as_the_app_does(
    client: httpx.AsyncClient,
) -> None:
    posted = await client.post(
        "/api/v1/events", content=CLIENT_SUCCESS, headers={**JSON, "Origin": "https://evil.test"}
    )
    assert posted.status_code == 202
    assert "access-control-allow-origin" not in posted.headers


async def test_the_route_is_documented_in_openapi(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/events"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["type"] == "array"
    assert set(operation["responses"]) >= {"202", "413", "422", "503"}
    errors = operation["responses"]["422"]["content"]["application/json"]["schema"]
    assert errors == {"$ref": "#/components/schemas/EventErrors"}
    assert "EventErrors" in document["components"]["schemas"]
    docs = await client.get("/docs")
    assert docs.status_code == 200

"""The test-event API, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, insert, select

from cellmon.app import create_app
from cellmon.core.database import Database
from cellmon.core.settings import Settings
from cellmon.db.base import utcnow
from cellmon.db.models import TestEvent
from tests.accounts import create_account, signed_in

URL = "/api/v1/test/events"
TEST_ID = "e2e_test_1f2e3d_1732870000"
MAX_BODY_BYTES = 2048


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CELLMON_MAX_BODY_BYTES": MAX_BODY_BYTES}


def event(number: int, **extra: Any) -> dict[str, Any]:
    return {"eventId": f"id-{number}", "eventType": "cell_executed", "teamName": "チームA", **extra}


async def test_events_are_stored_and_read_back_in_arrival_order(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post(f"{URL}/{TEST_ID}", json=[event(1)])
    assert first.status_code == 201
    assert first.json() == {"test_id": TEST_ID, "received": 1}
    # One object (not an array) is one event; an array may hold several.
    assert (await client.post(f"{URL}/{TEST_ID}", json=event(2))).json()["received"] == 1
    more = await client.post(f"{URL}/{TEST_ID}", json=[event(3, nested={"a": [1, None]}), event(4)])
    assert more.json()["received"] == 2

    response = await client.get(f"{URL}/{TEST_ID}")
    assert response.status_code == 200
    assert response.json() == {
        "test_id": TEST_ID,
        "count": 4,
        "events": [event(1), event(2), event(3, nested={"a": [1, None]}), event(4)],
    }


async def test_an_unknown_test_id_reads_as_empty(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{URL}/never_used")
    assert response.status_code == 200
    assert response.json() == {"test_id": "never_used", "count": 0, "events": []}


async def test_delete_clears_one_test_id(client: httpx.AsyncClient) -> None:
    await client.post(f"{URL}/{TEST_ID}", json=[event(1), event(2)])
    await client.post(f"{URL}/other", json=[event(3)])

    response = await client.delete(f"{URL}/{TEST_ID}")
    assert response.status_code == 200
    assert response.json() == {"test_id": TEST_ID, "deleted": 2}
    assert (await client.get(f"{URL}/{TEST_ID}")).json()["count"] == 0
    assert (await client.get(f"{URL}/other")).json()["count"] == 1
    assert (await client.delete(f"{URL}/{TEST_ID}")).json()["deleted"] == 0


async def test_the_list_has_each_test_id_with_count_and_last_arrival(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get(URL)).json() == {"count": 0, "tests": []}
    before = utcnow()
    await client.post(f"{URL}/b-test", json=[event(1)])
    await client.post(f"{URL}/a.test", json=[event(2), event(3)])

    body = (await client.get(URL)).json()
    assert body["count"] == 2
    assert [(item["test_id"], item["count"]) for item in body["tests"]] == [
        ("a.test", 2),
        ("b-test", 1),
    ]
    last = datetime.fromisoformat(body["tests"][0]["last_received_at"])
    assert last.tzinfo is not None
    assert before <= last <= utcnow()


async def test_expired_events_are_invisible_and_removed_on_the_next_write(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    database: Database = app.state.database
    eleven_minutes_ago = utcnow() - timedelta(minutes=11)
    nine_minutes_ago = utcnow() - timedelta(minutes=9)
    async with database.sessions.begin() as session:
        await session.execute(
            insert(TestEvent),
            [
                {"test_id": TEST_ID, "payload": '{"old": true}', "received_at": eleven_minutes_ago},
                {"test_id": "gone", "payload": "{}", "received_at": eleven_minutes_ago},
                {"test_id": TEST_ID, "payload": '{"old": false}', "received_at": nine_minutes_ago},
            ],
        )
    assert settings.CELLMON_TEST_EVENTS_RETENTION_SECONDS == 600

    assert (await client.get(f"{URL}/{TEST_ID}")).json()["events"] == [{"old": False}]
    assert (await client.get(f"{URL}/gone")).json()["count"] == 0
    assert [item["test_id"] for item in (await client.get(URL)).json()["tests"]] == [TEST_ID]

    await client.post(f"{URL}/another", json=[event(1)])
    async with database.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(TestEvent))
    assert stored == 2  # the two expired rows are gone from the table


@pytest.mark.parametrize(
    "test_id",
    ["has space", "dollar$sign", "x" * 129, "quote'", "%E3%83%86%E3%82%B9%E3%83%88"],
)
async def test_a_bad_test_id_is_a_422(client: httpx.AsyncClient, test_id: str) -> None:
    for method in ("GET", "DELETE", "POST"):
        response = await client.request(method, f"{URL}/{test_id}", json=[event(1)])
        assert response.status_code == 422, (method, test_id, response.text)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"42", "JSON array of events or one event object"),
        (b'"text"', "JSON array of events or one event object"),
    ],
)
async def test_a_body_that_is_not_events_is_a_422(
    client: httpx.AsyncClient, body: bytes, reason: str
) -> None:
    response = await client.post(
        f"{URL}/{TEST_ID}", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert reason in response.json()["detail"]
    assert (await client.get(f"{URL}/{TEST_ID}")).json()["count"] == 0


async def test_a_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    big = [event(1, code="x" * MAX_BODY_BYTES)]
    assert (await client.post(f"{URL}/{TEST_ID}", json=big)).status_code == 413

    async def chunks():  # type: ignore[no-untyped-def]
        # No Content-Length: the limit holds while the body streams in.
        yield b"["
        for number in range(200):
            yield (b"," if number else b"") + b'{"eventId": "%d"}' % number
        yield b"]"

    response = await client.post(
        f"{URL}/{TEST_ID}", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert (await client.get(f"{URL}/{TEST_ID}")).json()["count"] == 0


async def test_a_declared_length_over_the_limit_is_a_413_before_a_byte_is_read(
    client: httpx.AsyncClient,
) -> None:
    pulled: list[bytes] = []

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b"[", b" " * MAX_BODY_BYTES, b"]"):
            pulled.append(chunk)
            yield chunk

    declared = str(MAX_BODY_BYTES + 2)
    response = await client.post(
        f"{URL}/{TEST_ID}",
        content=chunks(),
        headers={"Content-Type": "application/json", "Content-Length": declared},
    )
    assert response.request.headers["content-length"] == declared
    assert response.status_code == 413
    # Refused on the header alone: the streamed check would answer 413 too, after reading.
    assert pulled == []


async def test_events_outlive_the_server_process(settings: Settings) -> None:
    async def call(method: str, body: Any = None) -> httpx.Response:
        # A whole server life: start, one request, shut down.
        application = create_app(settings)
        async with LifespanManager(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://cellmon") as http:
                return await http.request(method, f"{URL}/{TEST_ID}", json=body)

    assert (await call("POST", [event(1)])).status_code == 201
    assert (await call("GET")).json()["events"] == [event(1)]


class TestProduction:
    """In production the test-event API is for admins alone."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"CELLMON_ENV": "production"}

    async def test_an_admin_uses_it(self, client: httpx.AsyncClient) -> None:
        assert (await client.post(f"{URL}/{TEST_ID}", json=[event(1)])).status_code == 201
        assert (await client.get(f"{URL}/{TEST_ID}")).json()["count"] == 1
        assert (await client.get(URL)).status_code == 200
        assert (await client.delete(f"{URL}/{TEST_ID}")).status_code == 200

    async def test_nobody_signed_in_is_401_and_nothing_is_stored(
        self, client: httpx.AsyncClient, anonymous_client: httpx.AsyncClient
    ) -> None:
        assert (await anonymous_client.post(f"{URL}/{TEST_ID}", json=[event(1)])).status_code == 401
        assert (await anonymous_client.get(f"{URL}/{TEST_ID}")).status_code == 401
        assert (await anonymous_client.get(URL)).status_code == 401
        assert (await anonymous_client.delete(f"{URL}/{TEST_ID}")).status_code == 401
        assert (await client.get(f"{URL}/{TEST_ID}")).json()["count"] == 0

    @pytest.mark.parametrize("role", ["instructor", "student"])
    async def test_other_accounts_are_403(self, app: FastAPI, role: str) -> None:
        account = await create_account(app, f"{role}@example.org", role)
        async with signed_in(app, account) as http:
            assert (await http.post(f"{URL}/{TEST_ID}", json=[event(1)])).status_code == 403
            assert (await http.get(f"{URL}/{TEST_ID}")).status_code == 403


async def test_development_needs_no_credentials(anonymous_client: httpx.AsyncClient) -> None:
    """The extension's Jupyter-side proxy posts here without any."""
    assert (await anonymous_client.post(f"{URL}/{TEST_ID}", json=[event(1)])).status_code == 201
    assert (await anonymous_client.get(f"{URL}/{TEST_ID}")).json()["count"] == 1

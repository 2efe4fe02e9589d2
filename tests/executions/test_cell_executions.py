"""GET /api/v1/cell-executions: filters, paging, order."""

from __future__ import annotations

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from cellmon.db.models import Cell, Notebook, Student
from tests.events.helpers import drain, execution

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def recorded(client: httpx.AsyncClient, app: FastAPI) -> dict[str, int]:
    events = [
        execution("a1", time="2025-01-19T03:00:03.000Z", eventId="e3"),
        execution("a1", error=True, time="2025-01-19T03:00:01.000Z", eventId="e1"),
        execution("a2", time="2025-01-19T03:00:02.000Z", eventId="e2"),
        execution("b1", time="2025-01-19T03:00:04.000Z", eventId="e4", notebookPath="other.ipynb"),
        execution(
            "a1",
            error=True,
            time="2025-01-19T03:00:05.000Z",
            eventId="e5",
            emailAddress="other@example.com",
            sessionId=None,
        ),
    ]
    response = await client.post("/api/v1/events", content=orjson.dumps(events), headers=JSON)
    assert response.status_code == 202
    await drain(app)
    async with app.state.database.sessions() as session:
        ids = {
            "student": await session.scalar(
                select(Student.id).where(Student.email == "student001@example.com")
            ),
            "other_student": await session.scalar(
                select(Student.id).where(Student.email == "other@example.com")
            ),
            "notebook": await session.scalar(
                select(Notebook.id).where(Notebook.path == "lessons/week1.ipynb")
            ),
            "cell": await session.scalar(select(Cell.id).where(Cell.client_cell_id == "a1")),
        }
    return {key: int(value or 0) for key, value in ids.items()}


async def event_ids(client: httpx.AsyncClient, **params: object) -> list[str]:
    response = await client.get("/api/v1/cell-executions", params=params)
    assert response.status_code == 200
    return [item["event_id"] for item in response.json()]


async def test_all_in_event_time_order(client: httpx.AsyncClient, recorded: dict[str, int]) -> None:
    assert await event_ids(client) == ["e1", "e2", "e3", "e4", "e5"]
    response = await client.get("/api/v1/cell-executions", params={"limit": 1})
    [item] = response.json()
    assert set(item) >= {
        "event_id",
        "student_id",
        "notebook_id",
        "cell_id",
        "execution_count",
        "status",
        "error_message",
        "code",
        "result",
        "event_time",
        "received_at",
        "session_id",
    }


async def test_filters(client: httpx.AsyncClient, recorded: dict[str, int]) -> None:
    assert await event_ids(client, student_id=recorded["other_student"]) == ["e5"]
    assert await event_ids(client, student_id=recorded["student"], status="error") == ["e1"]
    assert await event_ids(client, notebook_id=recorded["notebook"]) == ["e1", "e2", "e3", "e5"]
    assert await event_ids(client, cell_id=recorded["cell"]) == ["e1", "e3", "e5"]
    assert await event_ids(client, since="2025-01-19T03:00:03Z") == ["e3", "e4", "e5"]
    assert await event_ids(client, since="2025-01-19T03:00:03") == ["e3", "e4", "e5"]
    assert await event_ids(client, skip=1, limit=2) == ["e2", "e3"]


async def test_session_id_is_the_clients(
    client: httpx.AsyncClient, recorded: dict[str, int]
) -> None:
    items = (await client.get("/api/v1/cell-executions")).json()
    sessions = {item["event_id"]: item["session_id"] for item in items}
    assert sessions["e1"] == "a1b2c3d4-e5f6-4789-8abc-def012345678"
    assert sessions["e5"] is None


@pytest.mark.parametrize(
    "params", [{"status": "broken"}, {"limit": 0}, {"skip": -1}, {"since": "tuesday"}]
)
async def test_bad_filters_are_422(client: httpx.AsyncClient, params: dict[str, object]) -> None:
    response = await client.get("/api/v1/cell-executions", params=params)
    assert response.status_code == 422

"""GET /api/v1/progress/students/{id}."""

from __future__ import annotations

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import select

from cellmon.db.models import Student
from tests.events.helpers import client_event, drain, execution

JSON = {"Content-Type": "application/json"}


async def test_missing_student_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/progress/students/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "student 999 does not exist"}


async def test_progress_per_notebook(client: httpx.AsyncClient, app: FastAPI) -> None:
    events = [
        execution("a", error=True, time="2025-01-19T03:00:01.000Z"),
        execution("a", error=True, time="2025-01-19T03:00:02.000Z"),
        execution("b", time="2025-01-19T03:00:03.000Z"),
        execution("x", error=True, time="2025-01-19T04:00:00.000Z", notebookPath="hw/2.ipynb"),
        client_event(eventType="notebook_opened", notebookPath="hw/3.ipynb"),
    ]
    response = await client.post("/api/v1/events", content=orjson.dumps(events), headers=JSON)
    assert response.status_code == 202
    await drain(app)
    async with app.state.database.sessions() as session:
        student_id = await session.scalar(select(Student.id))
    body = (await client.get(f"/api/v1/progress/students/{student_id}")).json()
    assert body["student_id"] == student_id
    assert body["help"] == {
        "active": False,
        "requested_at": None,
        "last_seen_at": None,
        "handled_at": None,
    }
    assert body["last_activity_at"] == "2025-01-19T04:00:00Z"
    second, first = body["notebooks"]  # most recent activity first
    assert second["path"] == "hw/2.ipynb"
    assert (second["executions"], second["errors"], second["cells_run"]) == (1, 1, 1)
    assert first["path"] == "lessons/week1.ipynb"
    assert (first["executions"], first["errors"], first["cells_run"]) == (3, 2, 2)
    assert first["last_activity_at"] == "2025-01-19T03:00:03Z"
    assert first["current_error_streak"] == 2
    [streak] = first["error_streaks"]
    assert streak["client_cell_id"] == "a"
    assert streak["consecutive_errors"] == 2
    assert streak["last_error_message"] == "NameError: name 'y' is not defined"

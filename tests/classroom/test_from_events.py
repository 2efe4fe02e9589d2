"""The class read-outs over what the real ingest recorded: events posted as the client posts
them, one per request, then the worker drained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from tests.classroom.seed import Seeder, database
from tests.events.helpers import client_event, drain, execution


def _at(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _post(client: httpx.AsyncClient, event: dict[str, object]) -> None:
    response = await client.post("/api/v1/events", json=[event])
    assert response.status_code == 202, response.text


async def test_read_outs_follow_the_recorded_events(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        ann = await seed.student("student001@example.com", klass)
        bob = await seed.student("student002@example.com", klass)
        await session.commit()
    start = datetime.now(UTC) - timedelta(seconds=30)
    await _post(client, execution("cell-a", cellIndex=0, time=_at(start)))
    for second in range(1, 4):
        await _post(
            client,
            execution(
                "cell-b",
                error=True,
                cellIndex=1,
                time=_at(start + timedelta(seconds=second)),
            ),
        )
    await _post(
        client,
        client_event(
            eventType="help",
            emailAddress="student002@example.com",
            userName="Bob",
            eventTime=_at(start + timedelta(seconds=5)),
        ),
    )
    await drain(app)

    roster = (await client.get(f"/api/v1/progress/classes/{klass.id}")).json()
    cells = (await client.get(f"/api/v1/progress/classes/{klass.id}/cells")).json()
    timeline = (
        await client.get(f"/api/v1/progress/classes/{klass.id}/timeline", params={"minutes": 3})
    ).json()

    students = {row["id"]: row for row in roster["students"]}
    assert students[ann.id]["state"] == "stuck"
    assert students[ann.id]["name"] == "テスト学生001"
    assert (students[ann.id]["executions"], students[ann.id]["errors"]) == (4, 3)
    assert students[ann.id]["current"]["client_cell_id"] == "cell-b"
    assert students[ann.id]["stuck_on"]["consecutive_errors"] == 3
    assert students[bob.id]["state"] == "help"
    assert students[bob.id]["help_requested_at"] is not None
    heat = {cell["client_cell_id"]: cell for cell in cells["notebooks"][0]["cells"]}
    assert heat["cell-a"]["students"] == 1
    assert heat["cell-b"]["students_stuck"] == 1
    assert heat["cell-b"]["latest_error_message"] == "NameError: name 'y' is not defined"
    assert sum(bucket["executions"] for bucket in timeline["buckets"]) == 4
    assert sum(bucket["errors"] for bucket in timeline["buckets"]) == 3


async def test_a_help_event_sent_before_the_resolution_does_not_reopen_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        student = await seed.student("student001@example.com", klass)
        await session.commit()
    asked = datetime.now(UTC) - timedelta(seconds=20)
    await _post(client, client_event(eventType="help", eventTime=_at(asked)))
    await drain(app)
    resolve = f"/api/v1/progress/classes/{klass.id}/help/{student.id}/resolve"
    assert (await client.post(resolve)).json()["was_active"] is True

    # The client repeats `help` every 10 s: one sent before the click arrives after it.
    await _post(
        client, client_event(eventType="help", eventTime=_at(asked + timedelta(seconds=10)))
    )
    await drain(app)
    roster = (await client.get(f"/api/v1/progress/classes/{klass.id}")).json()
    assert roster["students"][0]["help_active"] is False
    assert roster["students"][0]["state"] != "help"

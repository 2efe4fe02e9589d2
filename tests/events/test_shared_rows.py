"""A batch writes a student's or a session's row only when it changes what the row says.

Activity (a student's last_activity_at, a session's last_seen_at) is kept to
ACTIVITY_RESOLUTION; names, teams, help state, a session's start and end are kept exactly;
cell states count every execution.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import select

from cellmon.db.models import Student, StudentCellState, StudentSession
from cellmon.events.batch import ACTIVITY_RESOLUTION
from tests.events.helpers import client_event, drain, execution, postgres_only
from tests.events.test_concurrent_batches import PAUSE, record, record_while_paused

START = datetime(2025, 1, 19, 3, 0, tzinfo=UTC)
# Seconds; the tests' other events come within 20 s of each other, well within it.
RESOLUTION = ACTIVITY_RESOLUTION.total_seconds()
JSON = {"Content-Type": "application/json"}


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


async def send(client: httpx.AsyncClient, app: FastAPI, *events: dict[str, Any]) -> None:
    response = await client.post("/api/v1/events", content=orjson.dumps(events), headers=JSON)
    assert response.status_code == 202
    await drain(app)


async def stored(app: FastAPI) -> tuple[Student, StudentSession, StudentCellState]:
    async with app.state.database.sessions() as session:
        student = (await session.execute(select(Student))).scalar_one()
        student_session = (await session.execute(select(StudentSession))).scalar_one()
        state = (await session.execute(select(StudentCellState))).scalar_one()
    return student, student_session, state


async def test_activity_moves_once_it_passes_the_resolution(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await send(client, app, execution("c", time=at(0)))
    student, student_session, _ = await stored(app)
    written_at = student.updated_at
    assert student.last_activity_at == START

    # Within the resolution: the student's row is not rewritten, the execution still counts.
    await send(client, app, execution("c", error=True, time=at(RESOLUTION - 10)))
    student, student_session, state = await stored(app)
    assert (student.last_activity_at, student.updated_at) == (START, written_at)
    assert student_session.last_seen_at == START
    assert (state.executions, state.errors, state.consecutive_errors) == (2, 1, 1)
    assert state.last_event_time == START + ACTIVITY_RESOLUTION - timedelta(seconds=10)
    # The read-outs that show activity take the cell states' exact time.
    progress = (await client.get(f"/api/v1/progress/students/{student.id}")).json()
    assert progress["notebooks"][0]["last_activity_at"] == at(RESOLUTION - 10)

    # Measured from the stored time, not from the previous batch's.
    later = at(RESOLUTION + 5)
    await send(client, app, client_event(eventType="notebook_opened", eventTime=later))
    student, student_session, _ = await stored(app)
    assert student.last_activity_at == START + ACTIVITY_RESOLUTION + timedelta(seconds=5)
    assert student.updated_at > written_at
    assert student_session.last_seen_at == student.last_activity_at


async def test_names_teams_and_session_bounds_are_written_within_the_resolution(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await send(client, app, execution("c", time=at(0)))
    await send(client, app, execution("c", time=at(5), userName="Renamed", teamName="Team B"))
    student, _, _ = await stored(app)
    assert (student.name, student.team_name) == ("Renamed", "Team B")
    # A row written for another reason takes the exact activity.
    assert student.last_activity_at == START + timedelta(seconds=5)

    # A batch without name or team keeps them.
    await send(client, app, execution("c", time=at(6), userName=None, teamName=None))
    student, _, _ = await stored(app)
    assert (student.name, student.team_name) == ("Renamed", "Team B")

    # An earlier event that arrives late widens the session; its end is kept exactly.
    await send(client, app, client_event(eventType="session_start", eventTime=at(-50)))
    await send(client, app, client_event(eventType="session_end", eventTime=at(10)))
    _, student_session, state = await stored(app)
    assert student_session.started_at == START - timedelta(seconds=50)
    assert student_session.ended_at == START + timedelta(seconds=10)
    assert student_session.last_seen_at == START + timedelta(seconds=10)
    assert state.executions == 3


async def test_help_opens_and_closes_within_the_resolution(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await send(client, app, execution("c", time=at(0)))
    await send(client, app, client_event(eventType="help", eventTime=at(2)))
    student, _, _ = await stored(app)
    assert student.help_active
    assert student.help_requested_at == START + timedelta(seconds=2)
    await send(client, app, client_event(eventType="help_stop", eventTime=at(4)))
    student, _, _ = await stored(app)
    assert not student.help_active
    assert student.help_requested_at is None
    assert student.help_last_seen_at == START + timedelta(seconds=4)
    # A help event older than the stored stop changes nothing; the activity stays put.
    await send(client, app, client_event(eventType="help", eventTime=at(3)))
    student, _, _ = await stored(app)
    assert not student.help_active
    assert student.help_last_seen_at == START + timedelta(seconds=4)
    assert student.last_activity_at == START + timedelta(seconds=4)


@postgres_only
async def test_a_batch_that_skips_its_merge_loses_nothing_a_concurrent_one_wrote(
    app: FastAPI,
) -> None:
    await record(app, "before", [execution("c", time=at(0))])
    # The first batch reads the stored rows, finds nothing to change, and waits in its
    # handlers while the second one renames the student, moves its activity and ends the
    # session.
    await record_while_paused(
        app,
        [execution("c", time=at(10)), client_event(eventType=PAUSE, eventTime=at(11))],
        [
            execution("c", error=True, time=at(60), userName="Renamed"),
            client_event(eventType="session_end", eventTime=at(61), userName="Renamed"),
        ],
    )
    student, student_session, state = await stored(app)
    assert student.name == "Renamed"
    assert student.last_activity_at == START + timedelta(seconds=61)
    assert student_session.last_seen_at == START + timedelta(seconds=61)
    assert student_session.ended_at == START + timedelta(seconds=61)
    assert (state.executions, state.errors) == (3, 1)
    assert state.last_event_time == START + timedelta(seconds=60)

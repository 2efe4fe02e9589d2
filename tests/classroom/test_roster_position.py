"""The roster's `position` and the live messages' `position` are one order: a roster of
position P includes every message of position up to P and none after it (live/positions.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from cellmon.classroom import repository
from cellmon.core.database import Database, snapshot
from cellmon.live.positions import current_position
from tests.classroom.seed import Seeder, ago, database
from tests.events.helpers import EMAIL, PAUSE, PausingRegistry, client_event, execution, record


async def _class_of_one(app: FastAPI) -> tuple[int, int]:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        student = await seed.student(EMAIL, klass, help_requested_at=ago(minutes=2))
        await session.commit()
    return klass.id, student.id


async def _roster(client: httpx.AsyncClient, class_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/progress/classes/{class_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_batch_s_messages_carry_the_position_of_the_roster_that_includes_them(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    class_id, _ = await _class_of_one(app)
    before = await _roster(client, class_id)

    outcome = await record(app, "two runs", [execution("c1"), execution("c1", error=True)])

    positions = {message.position for message in outcome.messages}
    assert len(outcome.messages) == 2
    [position] = positions
    assert position is not None
    assert position > before["position"]
    after = await _roster(client, class_id)
    assert after["position"] == position
    assert after["students"][0]["executions"] == 2
    assert before["students"][0]["executions"] == 0


async def test_a_roster_read_while_a_batch_is_open_is_older_than_its_messages(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    class_id, _ = await _class_of_one(app)
    pausing = PausingRegistry()
    batch = asyncio.create_task(
        record(
            app,
            "held open",
            [execution("c1"), client_event(eventType=PAUSE)],
            pausing.registry,
        )
    )
    async with asyncio.timeout(10):
        await pausing.paused.wait()

    during = await _roster(client, class_id)
    pausing.release.set()
    async with asyncio.timeout(10):
        outcome = await batch

    assert during["students"][0]["executions"] == 0
    [position] = {message.position for message in outcome.messages}
    assert position is not None
    assert position > during["position"]


async def test_resolving_help_answers_the_position_its_message_carries(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    class_id, student_id = await _class_of_one(app)
    before = await _roster(client, class_id)

    first = await client.post(f"/api/v1/progress/classes/{class_id}/help/{student_id}/resolve")
    again = await client.post(f"/api/v1/progress/classes/{class_id}/help/{student_id}/resolve")

    assert first.json()["position"] > before["position"]
    assert again.json()["position"] is None  # nothing changed, nothing to order
    after = await _roster(client, class_id)
    assert after["position"] == first.json()["position"]
    assert after["students"][0]["state"] != "help"


async def test_a_snapshot_sees_one_moment_whatever_commits_meanwhile(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The roster's queries run in one `snapshot`: a batch committed between two of them is
    in neither, so the roster never says more than its position."""
    class_id, _ = await _class_of_one(app)
    store: Database = app.state.database
    async with store.sessions() as session, snapshot(session):
        position = await current_position(session)
        await record(app, "meanwhile", [execution("c1")])
        totals = await repository.student_totals(session, class_id)
        assert await current_position(session) == position
    assert totals == {}
    assert (await _roster(client, class_id))["position"] > position

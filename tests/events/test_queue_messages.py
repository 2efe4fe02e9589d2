"""A request's events travel as one queue message; workers read it, and the older forms."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from cellmon.core.queue import QueuedMessage
from cellmon.db.models import Cell, CellExecution, DeadLetter
from cellmon.events.pipeline import BatchProcessor, ClaimSizer
from tests.events.helpers import drain, execution

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # No worker in the app: the tests look at the queue before anything claims it.
    return {"CELLMON_RUN_WORKER_IN_SERVER": False}


async def recorded_cells(app: FastAPI) -> list[str]:
    async with app.state.database.sessions() as session:
        rows = await session.scalars(
            select(Cell.client_cell_id)
            .join(CellExecution, CellExecution.cell_id == Cell.id)
            .order_by(Cell.client_cell_id)
        )
        return list(rows.all())


async def dead_letter_bodies(app: FastAPI) -> list[bytes]:
    async with app.state.database.sessions() as session:
        return list((await session.scalars(select(DeadLetter.body).order_by(DeadLetter.id))).all())


async def test_a_request_is_one_message_holding_its_normalised_events(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    events = [execution("c1"), execution("c2", emailAddress=None), execution("c3")]
    response = await client.post("/api/v1/events", content=orjson.dumps(events), headers=JSON)
    assert response.status_code == 202
    queue = app.state.backends.queue
    assert await queue.depth() == 1
    (message,) = await queue.claim("test", 10, 0)
    queued = orjson.loads(message.bodies[0])
    assert [event["cellId"] for event in queued] == ["c1", "c2", "c3"]
    # Normalised as before: the missing address got the unknown identity.
    assert queued[1]["emailAddress"].endswith("@unknown.invalid")
    assert all(event["receivedAt"] for event in queued)


async def test_an_empty_request_queues_nothing(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.post("/api/v1/events", content=b"[]", headers=JSON)
    assert response.status_code == 202
    assert await app.state.backends.queue.depth() == 0


async def test_a_message_of_one_event_object_from_the_previous_version_is_recorded(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    posted = execution("c-array")
    await client.post("/api/v1/events", content=orjson.dumps([posted]), headers=JSON)
    (message,) = await app.state.backends.queue.claim("test", 10, 0)
    await app.state.backends.queue.ack([message.id])
    # What the previous version queued for the same event: the object alone.
    (normalised,) = orjson.loads(message.bodies[0])
    legacy = dict(normalised, cellId="c-object", eventId="legacy-1")
    await app.state.backends.queue.enqueue([message.bodies[0], orjson.dumps(legacy)])
    await drain(app)
    assert await recorded_cells(app) == ["c-array", "c-object"]
    assert await dead_letter_bodies(app) == []


async def test_an_unusable_event_in_a_message_is_dead_lettered_alone_as_its_own_json(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await client.post(
        "/api/v1/events",
        content=orjson.dumps([execution("good-1"), execution("good-2")]),
        headers=JSON,
    )
    (message,) = await app.state.backends.queue.claim("test", 10, 0)
    await app.state.backends.queue.ack([message.id])
    good_1, good_2 = orjson.loads(message.bodies[0])
    broken = {"eventType": "cell_executed", "cellId": "no-id-nor-time"}
    await app.state.backends.queue.enqueue([orjson.dumps([good_1, broken, good_2])])
    await drain(app)
    assert await recorded_cells(app) == ["good-1", "good-2"]
    assert await dead_letter_bodies(app) == [orjson.dumps(broken)]


async def test_an_undecodable_message_is_dead_lettered_whole(app: FastAPI) -> None:
    await app.state.backends.queue.enqueue([b'[{"eventType": "help"'])
    await drain(app)
    assert await dead_letter_bodies(app) == [b'[{"eventType": "help"']


async def test_the_same_event_in_two_messages_of_one_batch_is_recorded_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    event = execution("twice")
    for _ in range(2):
        response = await client.post(
            "/api/v1/events", content=orjson.dumps([event, execution("other")]), headers=JSON
        )
        assert response.status_code == 202
    worker_messages = await app.state.backends.queue.claim("test", 10, 0)
    assert len(worker_messages) == 2
    processor = BatchProcessor(app.state.database, app.state.settings)
    outcome = await processor.process(worker_messages)
    await app.state.backends.queue.ack(outcome.ack_ids)
    # Each "other" is an event of its own; "twice" is the same event in both requests.
    assert await recorded_cells(app) == ["other", "other", "twice"]


async def test_a_message_of_several_bodies_records_the_events_of_each(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    for cell in ("first", "second"):
        await client.post("/api/v1/events", content=orjson.dumps([execution(cell)]), headers=JSON)
    claimed = await app.state.backends.queue.claim("test", 10, 0)
    # What the Redis queue makes of concurrent requests: their bodies in one message.
    merged = QueuedMessage("merged", tuple(body for m in claimed for body in m.bodies), 1)
    outcome = await BatchProcessor(app.state.database, app.state.settings).process([merged])
    assert outcome.ack_ids == ["merged"]
    assert await recorded_cells(app) == ["first", "second"]


def test_claim_sizer_keeps_batches_near_their_size_in_events() -> None:
    sizer = ClaimSizer(batch_events=1000, max_events_per_message=1000)
    # Nothing seen yet: messages may be as large as a request can be.
    assert sizer.messages() == 1
    claims = []
    for _ in range(12):
        claims.append(sizer.messages())
        sizer.record(messages=claims[-1], events=claims[-1])
    # Messages of one event each: the claim doubles per batch up to the batch size.
    assert claims[:4] == [1, 2, 4, 8]
    assert sizer.messages() == 1000
    # Messages of 100 events: the very next claim is cut to ten messages.
    sizer.record(messages=1000, events=100_000)
    assert sizer.messages() == 10
    # Back to single events: the claim grows again, by at most twice per batch.
    sizer.record(messages=10, events=10)
    assert sizer.messages() == 20

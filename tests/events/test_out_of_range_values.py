"""Values the databases cannot hold: accepted, made storable, marked; poison isolated at once.

A 4xx loses the student's event for good, so an event whose integers or time no column can
hold is accepted and recorded with that value replaced and kept as text under
`outOfRangeFields`. An event that still cannot be stored (queued by an earlier version, or
replayed from the dead letters) costs the worker no back-off: it is dead-lettered alone and
the events around it are recorded without delay.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from cellmon.db.models import Cell, CellExecution, DeadLetter, ProgressEvent
from cellmon.events.schemas import EVENT_LIST
from cellmon.events.service import OUT_OF_RANGE_FIELD, queue_body
from tests.events.helpers import client_event, drain, execution

JSON = {"Content-Type": "application/json"}
RECEIVED = datetime(2025, 1, 19, 4, 0, tzinfo=UTC)
# The back-off before a failing batch's second try, long in these tests so that a good event
# held up by even one round of it is told apart from one slowed by a loaded machine.
RETRY_BASE_SECONDS = 20.0
# What a student's good event may wait behind a request of 20 poison events: about 40 short
# transactions (1 s on an idle machine), and less than the first round of back-off, which the
# poison once made everyone wait for (12 s with the default back-off).
GOOD_EVENT_DELAY = RETRY_BASE_SECONDS / 2


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"CELLMON_WORKER_RETRY_BASE_SECONDS": RETRY_BASE_SECONDS}


def json_body(events: list[dict[str, Any]]) -> bytes:
    """The events' JSON, integers of any size included (orjson stops at 64 bits)."""
    return json.dumps(events).encode()


def queued(events: list[dict[str, Any]], received_at: datetime = RECEIVED) -> list[Any]:
    """The events' queue forms, as the API queues them."""
    body = queue_body(EVENT_LIST.validate_json(json_body(events)), received_at, 65536)
    return list(orjson.loads(body))


async def post(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post("/api/v1/events", content=body, headers=JSON)


async def rows(app: FastAPI, model: type) -> list[Any]:
    async with app.state.database.sessions() as session:
        return list((await session.scalars(select(model))).all())


@pytest.mark.parametrize(
    ("field", "value", "kept"),
    [
        ("cellIndex", 2**31 - 1, True),
        ("cellIndex", 2**31, False),
        ("cellIndex", -(2**31), True),
        ("cellIndex", -(2**31) - 1, False),
        ("cellIndex", 18446744073709551616, False),
        ("executionCount", -(2**63) - 1, False),
        ("executionDurationMs", 2147483647.4, True),
        ("executionDurationMs", 2147483647.5, False),
        ("executionDurationMs", 9.3e18, False),
    ],
)
def test_integer_fields_are_bounded_by_their_columns(field: str, value: Any, kept: bool) -> None:
    [event] = queued([execution("c", **{field: value})])
    if kept:
        assert event[field] == value
        assert OUT_OF_RANGE_FIELD not in event
    else:
        assert event[field] is None
        assert event[OUT_OF_RANGE_FIELD] == {field: str(value)}


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("1678-01-01T00:00:00Z", True),
        ("2261-12-31T23:59:59.999Z", True),
        ("1677-12-31T23:59:59.999Z", False),
        ("2262-01-01T00:00:00Z", False),
        ("0001-01-01T00:00:00+14:00", False),
        ("9999-12-31T23:59:59-14:00", False),
    ],
)
def test_an_event_time_outside_the_stores_becomes_the_receive_time(sent: str, kept: bool) -> None:
    [event] = queued([client_event(eventType="help", eventTime=sent)])
    if kept:
        assert datetime.fromisoformat(event["eventTime"]) == datetime.fromisoformat(sent)
        assert OUT_OF_RANGE_FIELD not in event
    else:
        assert datetime.fromisoformat(event["eventTime"]) == RECEIVED
        original = event[OUT_OF_RANGE_FIELD]["eventTime"]
        assert datetime.fromisoformat(original) == datetime.fromisoformat(sent)


def test_a_retry_of_an_event_without_id_keeps_its_derived_id() -> None:
    event = {"eventType": "cell_executed", "eventTime": "0001-01-01T00:00:00Z", "cellIndex": 2**64}
    [first] = queued([event], RECEIVED)
    [retry] = queued([event], datetime(2025, 1, 19, 4, 5, tzinfo=UTC))
    assert first["eventId"] == retry["eventId"]
    assert first["eventTime"] != retry["eventTime"]


def test_extra_fields_past_64_bits_are_kept_as_json_text() -> None:
    fine = client_event(eventType="quiz_answer", score=2**64 - 1, ratio=-(2**63))
    huge = client_event(eventType="quiz_answer", answer={"value": [1, 2**64]}, note="kept")
    without_id = {"eventType": "quiz_answer", "score": -(2**63) - 1}
    first, second, third = queued([fine, huge, without_id])
    assert first["score"] == 2**64 - 1
    assert OUT_OF_RANGE_FIELD not in first
    assert second["answer"] is None
    assert second["note"] == "kept"
    assert orjson.loads(second[OUT_OF_RANGE_FIELD]["answer"].replace("18446744073709551616", "0"))
    assert second[OUT_OF_RANGE_FIELD] == {"answer": '{"value": [1, 18446744073709551616]}'}
    assert third["score"] is None
    assert third[OUT_OF_RANGE_FIELD] == {"score": str(-(2**63) - 1)}
    assert third["eventId"]


def test_a_client_field_named_like_the_mark_cannot_break_it() -> None:
    [event] = queued(
        [execution("c", cellIndex=2**40, outOfRangeFields=["mine"], truncatedFields=2**70)]
    )
    assert event[OUT_OF_RANGE_FIELD] == {
        "cellIndex": str(2**40),
        "truncatedFields": str(2**70),
    }


async def test_hostile_values_are_accepted_and_recorded(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = (
        b'[{"eventType":"cell_executed","eventId":"e-huge","cellId":"c1",'
        b'"cellIndex":18446744073709551616,"executionCount":-9223372036854775809,'
        b'"executionDurationMs":9.3e18,"eventTime":"0001-01-01T00:00:00+14:00",'
        b'"extra":{"deep":[340282366920938463463374607431768211456]}},'
        b'{"eventType":"help","eventId":"e-help","eventTime":"9999-12-31T23:59:59Z",'
        b'"answer":-340282366920938463463374607431768211456},'
        b'{"eventType":"cell_executed","eventId":"e-edge","cellId":"c2","cellIndex":2147483647,'
        b'"executionCount":-2147483648,"executionDurationMs":2147483647},'
        b'{"eventType":"cell_executed","eventId":"e-past32","cellId":"c3","cellIndex":2147483648,'
        b'"executionCount":-2147483649,"executionDurationMs":2147483648}]'
    )
    before = datetime.now(UTC)
    response = await post(client, body)
    assert response.status_code == 202
    await drain(app)

    assert await rows(app, DeadLetter) == []
    by_id = {row.event_id: row for row in await rows(app, CellExecution)}
    huge, edge = by_id["e-huge"], by_id["e-edge"]
    assert (huge.execution_count, huge.client_duration_ms) == (None, None)
    assert huge.event_time >= before
    assert (edge.execution_count, edge.client_duration_ms) == (-(2**31), 2**31 - 1)
    past = by_id["e-past32"]
    assert (past.execution_count, past.client_duration_ms) == (None, None)
    cells = {cell.client_cell_id: cell.cell_index for cell in await rows(app, Cell)}
    assert cells == {"c1": None, "c2": 2**31 - 1, "c3": None}
    [help_event] = await rows(app, ProgressEvent)
    assert help_event.event_time >= before
    payload = orjson.loads(help_event.payload)
    assert payload["answer"] is None
    assert payload[OUT_OF_RANGE_FIELD] == {
        "eventTime": "9999-12-31T23:59:59+00:00",
        "answer": str(-(2**128)),
    }


async def recorded(app: FastAPI, event_id: str) -> bool:
    async with app.state.database.sessions() as session:
        statement = select(func.count()).where(CellExecution.event_id == event_id)
        return bool(await session.scalar(statement))


async def wait_until_recorded(app: FastAPI, event_id: str) -> float:
    """Seconds until the app's own worker recorded the event."""
    start = time.monotonic()
    async with asyncio.timeout(60):
        while True:
            if await recorded(app, event_id):
                return time.monotonic() - start
            await asyncio.sleep(0.02)


def poison_events(count: int) -> list[Any]:
    """Queue forms no column can hold, as an earlier version queued them or a dead-letter
    replay does: an integer past 64 bits, a duration past 32, a time before the time series'."""
    poison: list[Any] = []
    for index in range(count):
        [event] = queued([execution(f"p{index}")])
        kind = index % 3
        if kind == 0:
            event["cellIndex"] = 2**63
        elif kind == 1:
            event["executionDurationMs"] = 1e19
        else:
            event["eventTime"] = "0001-01-01T00:00:00Z"
        poison.append(event)
    return poison


async def dead_letters_are_exactly(app: FastAPI, poison: list[Any]) -> None:
    letters = await rows(app, DeadLetter)
    assert sorted(letter.event_id for letter in letters) == sorted(e["eventId"] for e in poison)
    for letter in letters:
        # Alone and at once: a data error is not retried.
        assert letter.attempts == 1
        assert letter.error


async def test_a_good_event_after_a_request_of_poison_is_recorded_at_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    # The back-off a failing batch of other kinds gets: what poison events must not wait for.
    assert app.state.settings.CELLMON_WORKER_RETRY_BASE_SECONDS == RETRY_BASE_SECONDS
    poison = poison_events(20)
    await app.state.backends.queue.enqueue([orjson.dumps(poison)])
    good = execution("after")
    response = await post(client, json_body([good]))
    assert response.status_code == 202
    assert await wait_until_recorded(app, good["eventId"]) < GOOD_EVENT_DELAY
    await drain(app)
    await dead_letters_are_exactly(app, poison)


async def test_poison_among_good_events_alone_is_dead_lettered(app: FastAPI) -> None:
    poison = poison_events(6)
    good = queued([execution(f"g{index}") for index in range(12)])
    mixed = [event for pair in zip(good[::2], good[1::2], poison, strict=True) for event in pair]
    await app.state.backends.queue.enqueue([orjson.dumps(mixed)])
    await drain(app)
    await dead_letters_are_exactly(app, poison)
    for event in good:
        assert await recorded(app, event["eventId"])
    assert await app.state.backends.queue.depth() == 0


async def test_hostile_events_posted_among_good_ones_cost_them_no_delay(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    hostile = [
        execution(f"h{index}", cellIndex=2**64, executionDurationMs=9.3e18, eventTime=time_)
        for index, time_ in enumerate(["0001-01-01T00:00:00+14:00", "9999-12-31T00:00:00Z"] * 10)
    ]
    response = await post(client, json_body([*hostile, execution("between")]))
    assert response.status_code == 202
    good = execution("after")
    response = await post(client, json_body([good]))
    assert await wait_until_recorded(app, good["eventId"]) < GOOD_EVENT_DELAY
    await drain(app)
    assert await rows(app, DeadLetter) == []
    assert len(await rows(app, CellExecution)) == len(hostile) + 2

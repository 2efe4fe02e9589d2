"""Events that keep failing go to the dead letters; `cellmon dlq` lists and replays them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from cellmon import cli
from cellmon.core.settings import Settings
from cellmon.db.models import CellExecution, DeadLetter, ProgressEvent
from cellmon.events.context import BatchContext
from cellmon.events.registry import default_registry, register_handler
from cellmon.events.schemas import IngestEvent
from tests.events.helpers import client_event, count, drain, execution

JSON = {"Content-Type": "application/json"}
MAX_ATTEMPTS = 2


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "CELLMON_WORKER_MAX_ATTEMPTS": MAX_ATTEMPTS,
        "CELLMON_WORKER_RETRY_BASE_SECONDS": 0,
    }


@pytest.fixture
def failing_handler() -> Iterator[list[int]]:
    """`always_fails` events raise in their handler; the list counts the calls."""
    calls: list[int] = []

    async def always_fails(context: BatchContext, events: Sequence[IngestEvent]) -> None:
        calls.append(len(events))
        raise RuntimeError("grading service rejected the answer")

    register_handler("always_fails", always_fails)
    yield calls
    default_registry.unregister("always_fails")


async def run_cli(settings: Settings, *argv: str) -> None:
    """Run a `cellmon` subcommand as the command line would, with the test's settings."""
    args = cli.build_parser().parse_args(list(argv))
    await asyncio.to_thread(args.handler, settings, args)


async def test_failing_event_is_dead_lettered_and_its_batch_recorded(
    client: httpx.AsyncClient, app: FastAPI, failing_handler: list[int]
) -> None:
    poison = client_event(eventType="always_fails")
    events = [execution("c1"), poison, client_event(eventType="help"), execution("c2")]
    response = await client.post("/api/v1/events", content=orjson.dumps(events), headers=JSON)
    assert response.status_code == 202
    await drain(app)

    assert await count(app, CellExecution) == 2
    assert await count(app, ProgressEvent) == 1
    assert await app.state.backends.queue.depth() == 0
    async with app.state.database.sessions() as session:
        [letter] = (await session.scalars(select(DeadLetter))).all()
    assert letter.event_id == poison["eventId"]
    assert letter.event_type == "always_fails"
    assert letter.attempts == MAX_ATTEMPTS
    assert letter.error == "RuntimeError: grading service rejected the answer"
    assert orjson.loads(letter.body)["eventId"] == poison["eventId"]
    # Alone, the poison event was tried MAX_ATTEMPTS times.
    assert failing_handler[-MAX_ATTEMPTS:] == [1] * MAX_ATTEMPTS


async def test_dlq_list_and_replay(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    failing_handler: list[int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    poisons = [client_event(eventType="always_fails") for _ in range(2)]
    await client.post("/api/v1/events", content=orjson.dumps(poisons), headers=JSON)
    await drain(app)
    assert await count(app, DeadLetter) == 2

    await run_cli(settings, "dlq", "list")
    listed = capsys.readouterr()
    for poison in poisons:
        assert poison["eventId"] in listed.out
    assert "  reason  RuntimeError: grading service rejected the answer" in listed.out
    assert "2 dead letter(s)" in listed.err
    await run_cli(settings, "dlq", "list", "--full")
    assert "  | RuntimeError: grading service rejected the answer" in capsys.readouterr().out

    # The cause is fixed (here: the type goes back to the generic handler); replay one, then all.
    default_registry.unregister("always_fails")
    async with app.state.database.sessions() as session:
        first_id = await session.scalar(select(func.min(DeadLetter.id)))
    await run_cli(settings, "dlq", "replay", "--id", str(first_id))
    assert "1 dead letter(s) queued again" in capsys.readouterr().err
    assert await count(app, DeadLetter) == 1
    await run_cli(settings, "dlq", "replay", "--all")
    assert await count(app, DeadLetter) == 0
    await drain(app)
    async with app.state.database.sessions() as session:
        recorded = set((await session.scalars(select(ProgressEvent.event_id))).all())
    assert recorded == {poison["eventId"] for poison in poisons}
    assert await count(app, DeadLetter) == 0


async def test_an_unreadable_queue_message_is_dead_lettered(app: FastAPI) -> None:
    await app.state.backends.queue.enqueue([b"not an event", b'{"eventType": "help"}'])
    await drain(app)
    async with app.state.database.sessions() as session:
        letters = (await session.scalars(select(DeadLetter).order_by(DeadLetter.id))).all()
    # Sorted: the app's own worker and drain's may each take one of them.
    assert sorted(letter.body for letter in letters) == [b"not an event", b'{"eventType": "help"}']
    assert all(letter.event_id is None for letter in letters)
    assert await app.state.backends.queue.depth() == 0

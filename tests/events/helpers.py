"""Helpers for tests that post events: the real client's events, and `drain`.

`drain(app)` runs a worker on the app's own backends until the queue is empty, entries in
flight in the app's in-server worker included, so that a test can assert on the database
right after it returns. Other domains' tests may use it. `record` runs one batch through
the recording pipeline directly, and `PausingRegistry` holds a batch inside its transaction.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from sqlalchemy import func, select

from cellmon.core.backends import Backends
from cellmon.core.database import Database
from cellmon.core.queue import QueuedMessage
from cellmon.core.settings import Settings
from cellmon.events.context import BatchContext
from cellmon.events.pipeline import BatchOutcome, BatchProcessor
from cellmon.events.registry import HandlerRegistry, builtin_registry
from cellmon.events.schemas import EVENT_LIST, IngestEvent
from cellmon.events.service import queue_body
from cellmon.worker.runner import Worker
from tests.services import REDIS_HOST, REDIS_PORT, service_missing, unique_name

SESSION_ID = "a1b2c3d4-e5f6-4789-8abc-def012345678"
EMAIL = "student001@example.com"

# The three examples of shared/spec/client-wire-format.md, byte for byte.
CLIENT_SUCCESS = (
    '[{"eventId":"3f2b9c1e-7a4d-4e8b-9c2a-1d5e6f7a8b9c","eventType":"cell_executed",'
    '"eventTime":"2025-01-19T03:21:45.123Z","emailAddress":"student001@example.com",'
    '"teamName":"チームA","userName":"テスト学生001",'
    '"sessionId":"a1b2c3d4-e5f6-4789-8abc-def012345678","notebookPath":"lessons/week1.ipynb",'
    '"cellId":"6c1f4b2e-90aa-4d1b-8f7e-2b3c4d5e6f70","cellIndex":3,"cellType":"code",'
    '"code":"x = 2 + 2\\nx","executionCount":5,"hasError":false,"result":"4",'
    '"executionDurationMs":2}]'
).encode()
CLIENT_ERROR = (
    '[{"eventId":"0b7c5a55-1f0e-4c39-9d64-3a0d2f8e9b11","eventType":"cell_executed",'
    '"eventTime":"2025-01-19T03:22:10.004Z","emailAddress":"student001@example.com",'
    '"teamName":"チームA","userName":"テスト学生001",'
    '"sessionId":"a1b2c3d4-e5f6-4789-8abc-def012345678","notebookPath":"lessons/week1.ipynb",'
    '"cellId":"9e8d7c6b-5a49-4382-9170-fedcba987654","cellIndex":4,"cellType":"code",'
    '"code":"1/0","executionCount":6,"hasError":true,'
    '"errorMessage":"ZeroDivisionError: division by zero",'
    '"result":"ZeroDivisionError: division by zero","executionDurationMs":1}]'
).encode()
CLIENT_HELP = (
    '[{"eventId":"c0ffee00-1234-4abc-8def-0123456789ab","eventType":"help",'
    '"eventTime":"2025-01-19T03:25:00.000Z","emailAddress":"student001@example.com",'
    '"teamName":"チームA","userName":"テスト学生001",'
    '"sessionId":"a1b2c3d4-e5f6-4789-8abc-def012345678","notebookPath":"lessons/week1.ipynb"}]'
).encode()

_BASE: dict[str, Any] = {
    "eventType": "cell_executed",
    "eventTime": "2025-01-19T03:30:00.000Z",
    "emailAddress": EMAIL,
    "teamName": "チームA",
    "userName": "テスト学生001",
    "sessionId": SESSION_ID,
    "notebookPath": "lessons/week1.ipynb",
}


def client_event(**fields: Any) -> dict[str, Any]:
    """An event as the real client sends it; a fresh eventId unless one is given."""
    event = copy.deepcopy(_BASE)
    event["eventId"] = str(uuid.uuid4())
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


def execution(
    cell_id: str,
    *,
    error: bool = False,
    time: str = "2025-01-19T03:30:00.000Z",
    **fields: Any,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "eventType": "cell_executed",
        "eventTime": time,
        "cellId": cell_id,
        "cellIndex": 0,
        "cellType": "code",
        "code": "print(1)",
        "executionCount": 1,
        "hasError": error,
        "result": "",
        "executionDurationMs": 3,
    }
    if error:
        values["errorMessage"] = "NameError: name 'y' is not defined"
    values.update(fields)
    return client_event(**values)


def worker_for(app: FastAPI, registry: HandlerRegistry | None = None) -> Worker:
    database: Database = app.state.database
    backends: Backends = app.state.backends
    settings: Settings = app.state.settings
    return Worker(database, backends, settings, registry=registry)


async def drain(
    app: FastAPI, *, registry: HandlerRegistry | None = None, give_up_after: float = 60
) -> int:
    """Process queued events until none is left; how many messages this call processed."""
    worker = worker_for(app, registry)
    queue = app.state.backends.queue
    processed = 0
    async with asyncio.timeout(give_up_after):
        while True:
            claimed = await worker.drain()
            processed += claimed
            if claimed:
                continue
            if await queue.depth() == 0:
                return processed
            # Entries in flight in another worker (the app's own): wait for its ack.
            await asyncio.sleep(0.02)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of one test (import this fixture in a conftest); its keys are
    deleted afterwards."""
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        service_missing("Redis", exc)
    prefix = unique_name("cellmon_test")
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def redis_overrides(prefix: str) -> dict[str, Any]:
    return {"REDIS_HOST": REDIS_HOST, "REDIS_PORT": REDIS_PORT, "CELLMON_REDIS_PREFIX": prefix}


postgres_only = pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)


PAUSE = "test_pause"


class PausingRegistry:
    """The built-in handlers, plus one for PAUSE events that holds its batch's transaction
    open (after the handlers of the events before it) until released."""

    def __init__(self) -> None:
        self.registry: HandlerRegistry = builtin_registry()
        self.paused = asyncio.Event()
        self.release = asyncio.Event()
        self.registry.register(PAUSE, self._pause)

    async def _pause(self, context: BatchContext, events: Sequence[IngestEvent]) -> None:
        self.paused.set()
        await self.release.wait()


def message(name: str, events: list[dict[str, Any]]) -> QueuedMessage:
    body = queue_body(EVENT_LIST.validate_python(events), datetime.now(UTC), 65536)
    return QueuedMessage(name, (body,), 1)


async def record(
    app: FastAPI, name: str, events: list[dict[str, Any]], registry: HandlerRegistry | None = None
) -> BatchOutcome:
    processor = BatchProcessor(app.state.database, app.state.settings, registry)
    return await processor.process([message(name, events)])


async def count(app: FastAPI, model: type) -> int:
    """How many rows the model's table holds now."""
    async with app.state.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)

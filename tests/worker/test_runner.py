"""The consumer loop: redelivery, graceful stop, transient failures, concurrent workers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from cellmon.core.backends import Backends
from cellmon.core.errors import BackendUnavailable
from cellmon.core.timeseries import Point, TimeSeriesSink
from cellmon.core.timeseries.base import CountBucket, DeletedPoints
from cellmon.core.timeseries.influx import InfluxSink
from cellmon.db.models import (
    CellExecution,
    DeadLetter,
    ProgressEvent,
    StudentCellState,
    TimeSeriesPoint,
)
from cellmon.events.context import BatchContext
from cellmon.events.pipeline import BatchProcessor
from cellmon.events.registry import builtin_registry
from cellmon.events.schemas import IngestEvent
from cellmon.live.messages import decode_packet
from cellmon.worker.runner import Worker
from tests.events.helpers import client_event, count, drain, execution, postgres_only

JSON = {"Content-Type": "application/json"}
LEASE_SECONDS = 0.3


OVERRIDES: dict[str, Any] = {
    # No worker inside the app: each test drives its own.
    "CELLMON_RUN_WORKER_IN_SERVER": False,
    "CELLMON_QUEUE_LEASE_SECONDS": LEASE_SECONDS,
    "CELLMON_WORKER_RETRY_BASE_SECONDS": 0,
    # One try: an event failing for its own sake is dead-lettered at once.
    "CELLMON_WORKER_MAX_ATTEMPTS": 1,
}
# For tests that hold a batch in hand on purpose and count its writes: a lease that cannot
# end meanwhile, however slow the machine (a redelivered batch would be written again).
long_lease = pytest.mark.parametrize(
    "settings_overrides", [{**OVERRIDES, "CELLMON_QUEUE_LEASE_SECONDS": 60}]
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return OVERRIDES


async def post(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    response = await client.post("/api/v1/events", content=orjson.dumps(events), headers=JSON)
    assert response.status_code == 202


async def test_entry_redelivered_after_a_worker_died_is_recorded_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await post(client, [execution("c", error=True), client_event(eventType="help")])
    queue = app.state.backends.queue
    claimed = await queue.claim("dies-before-ack", 10, block_ms=0)
    # The request's two events are one message.
    assert len(claimed) == 1
    # It committed its rows, then died before acknowledging them.
    await BatchProcessor(app.state.database, app.state.settings).process(claimed)
    await asyncio.sleep(LEASE_SECONDS * 1.5)
    assert await drain(app) == 1
    assert await queue.depth() == 0
    # The second pass changed nothing; it did not fail into the dead letters either.
    assert await count(app, DeadLetter) == 0
    assert await count(app, CellExecution) == 1
    assert await count(app, ProgressEvent) == 1
    async with app.state.database.sessions() as session:
        state = await session.scalar(select(StudentCellState))
    assert state is not None
    assert (state.executions, state.errors, state.consecutive_errors) == (1, 1, 1)


async def test_stop_finishes_and_acknowledges_the_current_batch(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    registry = builtin_registry()

    async def slow(context: BatchContext, events: Sequence[IngestEvent]) -> None:
        entered.set()
        await release.wait()

    registry.register("slow", slow)
    settings = app.state.settings.model_copy(update={"CELLMON_WORKER_BATCH_SIZE": 2})
    worker = Worker(app.state.database, app.state.backends, settings, registry=registry)
    await post(client, [client_event(eventType="slow"), execution("c")])
    await post(client, [execution("later")])
    running = asyncio.create_task(worker.run())
    await entered.wait()
    worker.stop()
    release.set()
    await asyncio.wait_for(running, 10)
    # The batch in hand was committed and acknowledged; the next one was left for later.
    assert await count(app, CellExecution) == 1
    assert await app.state.backends.queue.depth() == 1


async def test_backend_outage_is_waited_out_never_dead_lettered(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    failures = 3  # more than CELLMON_WORKER_MAX_ATTEMPTS
    registry = builtin_registry()

    async def flaky(context: BatchContext, events: Sequence[IngestEvent]) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise BackendUnavailable("database restarting")

    registry.register("flaky", flaky)
    await post(client, [client_event(eventType="flaky"), execution("c")])
    await drain(app, registry=registry)
    assert failures == 0
    assert await count(app, DeadLetter) == 0
    assert await count(app, CellExecution) == 1


async def test_a_worker_inside_the_server_processes_events(
    database_overrides: dict[str, Any],
) -> None:
    from asgi_lifespan import LifespanManager

    from cellmon.app import create_app
    from tests.services import make_settings

    # The defaults of `make run`: embedded queue, so a worker runs in the server.
    settings = make_settings(**database_overrides)
    assert settings.run_worker_in_server
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await post(client, [execution("c")])
            async with asyncio.timeout(20):
                while True:
                    if (await client.get("/api/v1/cell-executions")).json():
                        break
                    await asyncio.sleep(0.05)
        assert not app.state.worker.stopping
    assert app.state.worker.stopping


async def test_a_query_the_database_refuses_is_dead_lettered(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    registry = builtin_registry()

    async def broken(context: BatchContext, events: Sequence[IngestEvent]) -> None:
        await context.session.execute(text("SELECT * FROM no_such_table"))

    registry.register("broken", broken)
    await post(client, [client_event(eventType="broken"), execution("c")])
    await drain(app, registry=registry)
    assert await count(app, DeadLetter) == 1
    assert await count(app, CellExecution) == 1
    # The dead-lettered event has no point either.
    assert await count(app, TimeSeriesPoint) == 1


@postgres_only
async def test_a_dropped_database_connection_is_retried_not_dead_lettered(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    registry = builtin_registry()
    kills = 2  # more than CELLMON_WORKER_MAX_ATTEMPTS, which a content failure would exhaust

    async def kill_connection(context: BatchContext, events: Sequence[IngestEvent]) -> None:
        nonlocal kills
        if kills:
            kills -= 1
            await context.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    registry.register("kill_connection", kill_connection)
    await post(client, [client_event(eventType="kill_connection"), execution("c")])
    await drain(app, registry=registry)
    assert kills == 0
    assert await count(app, DeadLetter) == 0
    assert await count(app, CellExecution) == 1


async def test_embedded_points_are_committed_with_their_rows(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await post(client, [execution("c", error=True), client_event(eventType="help")])
    claimed = await app.state.backends.queue.claim("one", 10, block_ms=0)
    processor = BatchProcessor(
        app.state.database, app.state.settings, timeseries=app.state.backends.timeseries
    )
    outcome = await processor.process(claimed)
    # Nothing is left for the worker to write after the commit: the points are in already.
    assert outcome.points == []
    assert await count(app, TimeSeriesPoint) == 2
    assert await count(app, CellExecution) == 1


async def test_live_messages_go_out_at_commit_before_the_time_series_write(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    # An InfluxDB that does not answer makes the time-series write slow (tries and back-off);
    # the dashboards must not wait for it.
    settings = app.state.settings.model_copy(
        update={
            "INFLUXDB_URL": "http://127.0.0.1:1",
            "INFLUXDB_API_VERSION": 1,
            "CELLMON_INFLUXDB_RETRY_SECONDS": 0.5,
        }
    )
    sink = InfluxSink.from_settings(settings, app.state.database)
    await sink.start()
    backends = app.state.backends
    worker = Worker(
        app.state.database,
        Backends(queue=backends.queue, bus=backends.bus, timeseries=sink),
        settings,
    )
    listener = backends.bus.listen()
    try:
        await post(client, [execution("c")])
        processing = asyncio.create_task(worker.drain())
        [message] = decode_packet(await asyncio.wait_for(anext(listener), 10))
        assert message.type == "execution_update"
        assert not processing.done()
        assert await backends.queue.depth() == 1  # not yet acknowledged

        assert await asyncio.wait_for(processing, 30) == 1
        assert await backends.queue.depth() == 0
    finally:
        await listener.aclose()
        await sink.close()


class HeldSink(TimeSeriesSink):
    """Time-series writes that wait to be released, one at a time, and are counted."""

    def __init__(self) -> None:
        self.entered = asyncio.Queue[int]()
        self.release = asyncio.Event()
        self.written: list[int] = []
        self.writing = 0

    async def write(self, points: Sequence[Point]) -> None:
        self.writing += 1
        self.entered.put_nowait(len(points))
        try:
            await self.release.wait()
        finally:
            self.writing -= 1
        self.written.append(len(points))

    async def count_per_interval(self, *args: Any, **kwargs: Any) -> list[CountBucket]:
        return []

    async def delete_tagged(self, measurement: str, tag: str, value: str) -> DeletedPoints:
        return DeletedPoints(stored=0)

    async def ping(self) -> None:
        return None


def held_worker(app: FastAPI, sink: HeldSink) -> Worker:
    settings = app.state.settings.model_copy(update={"CELLMON_WORKER_BATCH_SIZE": 1})
    backends = app.state.backends
    return Worker(
        app.state.database,
        Backends(queue=backends.queue, bus=backends.bus, timeseries=sink),
        settings,
    )


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll the condition for up to 10 s."""
    for _ in range(1000):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 10 s")


async def _second_batch_recorded_while_the_first_writes(
    client: httpx.AsyncClient, app: FastAPI, sink: HeldSink
) -> tuple[Worker, asyncio.Task[None]]:
    """Three one-event batches queued; a running worker whose first batch is held in its
    point write while the second is committed."""
    worker = held_worker(app, sink)
    for cell in ("a", "b", "c"):
        await post(client, [execution(cell)])
    running = asyncio.create_task(worker.run())
    assert await asyncio.wait_for(sink.entered.get(), 10) == 1
    await until(lambda: _equals(count(app, CellExecution), 2))
    return worker, running


@long_lease
async def test_next_batch_is_recorded_while_the_previous_one_writes_its_points(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    sink = HeldSink()
    worker, running = await _second_batch_recorded_while_the_first_writes(client, app, sink)
    try:
        # The third batch waits for the first's ack.
        await asyncio.sleep(0.1)
        assert await count(app, CellExecution) == 2
        assert sink.writing == 1
        # Nothing is acknowledged before its points are written.
        assert await app.state.backends.queue.depth() == 3

        sink.release.set()
        await until(lambda: _equals(app.state.backends.queue.depth(), 0))
        assert sink.written == [1, 1, 1]
        assert await count(app, CellExecution) == 3
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)


async def test_stop_reaches_a_worker_waiting_for_work(app: FastAPI) -> None:
    claiming = asyncio.Event()

    class Empty:
        """A queue with nothing in it, whose claims wait as long as they are let."""

        async def claim(
            self, consumer: str, max_count: int, block_ms: int, stop: asyncio.Event | None = None
        ) -> list[Any]:
            claiming.set()
            await (stop or asyncio.Event()).wait()
            return []

    backends = app.state.backends
    worker = Worker(
        app.state.database,
        Backends(queue=Empty(), bus=backends.bus, timeseries=backends.timeseries),  # type: ignore[arg-type]
        app.state.settings,
    )
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(claiming.wait(), 10)
    worker.stop()
    await asyncio.wait_for(running, 10)


@long_lease
async def test_stop_finishes_and_acknowledges_both_batches_in_hand(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    sink = HeldSink()
    worker, running = await _second_batch_recorded_while_the_first_writes(client, app, sink)
    worker.stop()
    sink.release.set()
    await asyncio.wait_for(running, 10)
    assert sink.written == [1, 1]
    # The third was never claimed.
    assert await app.state.backends.queue.depth() == 1
    assert await count(app, CellExecution) == 2


async def test_a_cancelled_worker_leaves_the_batch_writing_its_points_unacknowledged(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    sink = HeldSink()
    worker = held_worker(app, sink)
    await post(client, [execution("a")])
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(sink.entered.get(), 10)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert sink.writing == 0
    assert sink.written == []
    assert await app.state.backends.queue.depth() == 1
    # Delivered again after the lease, recorded once.
    await asyncio.sleep(LEASE_SECONDS * 1.5)
    assert await drain(app) == 1
    assert await count(app, CellExecution) == 1


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


@long_lease
async def test_a_batch_without_points_to_write_is_acknowledged_before_the_next_claim(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    # The embedded store takes the points in the batch's transaction: only the ack is left.
    calls: list[str] = []
    queue = app.state.backends.queue

    class Recording:
        async def claim(self, *args: Any) -> list[Any]:
            calls.append("claim")
            return list(await queue.claim(*args))

        async def ack(self, ids: Sequence[str]) -> None:
            calls.append("ack")
            await queue.ack(ids)

    settings = app.state.settings.model_copy(update={"CELLMON_WORKER_BATCH_SIZE": 1})
    backends = app.state.backends
    worker = Worker(
        app.state.database,
        Backends(queue=Recording(), bus=backends.bus, timeseries=backends.timeseries),  # type: ignore[arg-type]
        settings,
    )
    for cell in ("a", "b"):
        await post(client, [execution(cell)])
    assert await worker.drain() == 2
    assert calls == ["claim", "ack", "claim", "ack", "claim"]
    assert await count(app, TimeSeriesPoint) == 2

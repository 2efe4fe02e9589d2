"""The production pipeline: PostgreSQL + Redis, several workers, `cellmon worker` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from cellmon.core.settings import Settings
from cellmon.db.models import CellExecution, DeadLetter, StudentCellState
from tests.events.helpers import execution, postgres_only, redis_overrides, worker_for

pytestmark = postgres_only
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def settings_overrides(redis_prefix: str) -> dict[str, Any]:
    return {**redis_overrides(redis_prefix), "CELLMON_WORKER_BATCH_SIZE": 25}


def student_events(students: int, cells: int, per_cell: int) -> list[dict[str, Any]]:
    """Executions that collide on the same students and cells, errors and successes mixed."""
    return [
        execution(
            f"cell-{cell}",
            error=(run % 3 != 2),
            emailAddress=f"s{student}@example.com",
            sessionId=f"session-{student}",
            time=f"2025-01-19T03:{cell:02d}:{run:02d}.000Z",
        )
        for student in range(students)
        for cell in range(cells)
        for run in range(per_cell)
    ]


async def post_all(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 100):
        response = await client.post(
            "/api/v1/events", content=orjson.dumps(events[start : start + 100]), headers=JSON
        )
        assert response.status_code == 202


async def test_redis_is_the_queue_and_no_worker_runs_in_the_server(app: FastAPI) -> None:
    from cellmon.core.queue.redis_stream import RedisStreamQueue

    assert isinstance(app.state.backends.queue, RedisStreamQueue)
    assert not hasattr(app.state, "worker")


async def test_concurrent_workers_record_each_event_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    events = student_events(students=4, cells=3, per_cell=10)
    # Every event twice, as retries of the client would.
    await post_all(client, events + events)
    workers = [worker_for(app) for _ in range(4)]

    await asyncio.gather(*(worker.drain() for worker in workers))
    assert await app.state.backends.queue.depth() == 0
    async with app.state.database.sessions() as session:
        executions = await session.scalar(select(func.count()).select_from(CellExecution))
        totals = (
            await session.execute(
                select(
                    func.sum(StudentCellState.executions),
                    func.sum(StudentCellState.errors),
                    func.count(),
                )
            )
        ).one()
    assert executions == len(events)
    assert totals == (len(events), sum(1 for e in events if e["hasError"]), 12)
    # Each event's second copy changed nothing; none failed into the dead letters.
    async with app.state.database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DeadLetter)) == 0


def worker_environment(settings: Settings) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELLMON_", "POSTGRES_", "REDIS_", "INFLUXDB_"))
    }
    env.update(
        {
            "POSTGRES_SERVER": str(settings.POSTGRES_SERVER),
            "POSTGRES_PORT": str(settings.POSTGRES_PORT),
            "POSTGRES_USER": settings.POSTGRES_USER,
            "POSTGRES_PASSWORD": settings.POSTGRES_PASSWORD.get_secret_value(),
            "POSTGRES_DB": settings.POSTGRES_DB,
            "REDIS_HOST": str(settings.REDIS_HOST),
            "REDIS_PORT": str(settings.REDIS_PORT),
            "CELLMON_REDIS_PREFIX": settings.CELLMON_REDIS_PREFIX,
            "CELLMON_LOG_FORMAT": "console",
        }
    )
    return env


async def test_cellmon_worker_processes_then_stops_cleanly_on_sigterm(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    events = student_events(students=2, cells=2, per_cell=5)
    await post_all(client, events)
    cellmon = Path(sys.executable).parent / "cellmon"
    log = (tmp_path / "worker.log").open("wb")
    processes = [
        await asyncio.create_subprocess_exec(
            str(cellmon),
            "worker",
            "--concurrency",
            "2",
            env=worker_environment(settings),
            stdout=log,
            stderr=log,
        )
        for _ in range(2)
    ]
    try:
        async with asyncio.timeout(60):
            # Every worker is running (a SIGTERM before that just ends a process that holds
            # nothing) and the queue is empty.
            while True:
                started = (tmp_path / "worker.log").read_text().count("worker started")
                if started == 4 and await app.state.backends.queue.depth() == 0:
                    break
                await asyncio.sleep(0.1)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(process.wait(), 30) for process in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        log.close()
    assert codes == [0, 0], (tmp_path / "worker.log").read_text()
    async with app.state.database.sessions() as session:
        recorded = await session.scalar(select(func.count()).select_from(CellExecution))
    assert recorded == len(events)

"""Two real `cellmon serve` processes sharing PROMETHEUS_MULTIPROC_DIR: each one's /metrics
adds up both, and a process killed with -9 still counts what it did."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL

from cellmon.db import migrate
from tests.events.helpers import client_event
from tests.faults.checks import eventually
from tests.faults.conftest import Processes
from tests.faults.processes import cellmon_env
from tests.metrics.helpers import parse, value

pytestmark = pytest.mark.slow

ACCEPTED = "cellmon_events_accepted_total"
PROCESSED = "cellmon_events_processed_total"


async def test_every_server_reports_the_sum_of_all_processes(
    processes: Processes, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    migrate.upgrade(URL.create("sqlite+aiosqlite", database=str(data_dir / "cellmon.db")))
    env = cellmon_env(
        data_dir=data_dir,
        extra={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "PYTHONUNBUFFERED": "1"},
    )
    first = processes.server(env, name="serve-1")
    second = processes.server(env, name="serve-2")

    async with httpx.AsyncClient(timeout=10) as http:

        async def post(url: str, count: int) -> None:
            events = [client_event() for _ in range(count)]
            response = await http.post(f"{url}/api/v1/events", json=events)
            assert response.status_code == 202, response.text

        async def samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
            response = await http.get(f"{url}/metrics")
            assert response.status_code == 200
            return parse(response.text)

        await post(first.url, 3)
        await post(second.url, 2)
        await post(second.url, 1)

        async def all_processed() -> bool:
            return value(await samples(first.url), PROCESSED) == 6

        await eventually(all_processed, "6 events processed, as the first server reports")
        for server in (first, second):
            reported = await samples(server.url)
            assert value(reported, ACCEPTED) == 6, server.name
            assert value(reported, PROCESSED) == 6, server.name

        second.kill()
        await asyncio.sleep(0)
        after = await samples(first.url)
        assert value(after, ACCEPTED) == 6
        assert value(after, PROCESSED) == 6

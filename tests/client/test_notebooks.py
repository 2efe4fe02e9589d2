"""End to end: a real notebook run by a real kernel with cellmon.client, against a real
cellmon (embedded in the test, and the production stack of `cellmon serve` + `cellmon worker`
on PostgreSQL, Redis and InfluxDB); the server killed and restarted mid-notebook."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from cellmon.db import migrate
from tests.accounts import add_instructor, create_account, token_for
from tests.client.notebooks import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    STUDENT,
    check_lesson_executions,
    check_lesson_updates,
    execution_updates,
    kernel,
    kernel_env,
    lesson,
    run_cells,
    subscribed,
    token_of,
    upgrade_database,
)
from tests.client.server_side import class_with_key, executions, wait_for_executions
from tests.conftest import LiveServer
from tests.faults.processes import CellmonProcess, CellmonServer, cellmon_env
from tests.services import (
    INFLUXDB_URL,
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    REDIS_HOST,
    REDIS_PORT,
    postgres_url,
    service_missing,
    unique_name,
)

pytestmark = pytest.mark.slow
CODE_CELLS = [1, 2, 3, 4]


async def test_a_notebook_against_the_embedded_server(
    live_server: LiveServer, live_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    class_id, key = await class_with_key(live_client)
    instructor = await create_account(live_server.app, "teacher@example.org", "instructor")
    await add_instructor(live_server.app, class_id, instructor.id)
    events_url = f"{live_server.base_url}/api/v1/events?key={key}"
    token = token_for(live_server.app, instructor)
    async with subscribed(live_server.ws_url, token, class_id) as ws:
        env = kernel_env(events_url, tmp_path / "queue.sqlite3")
        async with kernel(lesson(), env, tmp_path) as runner:
            await run_cells(runner, range(len(runner.nb.cells)))
            check_lesson_updates(await execution_updates(ws, len(CODE_CELLS)))
    check_lesson_executions(await wait_for_executions(live_client, len(CODE_CELLS)))
    students = (await live_client.get(f"/api/v1/classes/{class_id}/students")).json()
    assert [student["email"] for student in students] == [STUDENT]


class Started:
    """cellmon processes of one test, killed at its end."""

    def __init__(self) -> None:
        self.processes: list[CellmonProcess] = []

    def add(self, process: CellmonProcess) -> CellmonProcess:
        self.processes.append(process)
        process.start()
        return process


@pytest.fixture
def started() -> Iterator[Started]:
    processes = Started()
    try:
        yield processes
    finally:
        for process in processes.processes:
            process.kill()
            print(process.output())


async def _new_postgres_database() -> str:
    name = unique_name("client_e2e")
    try:
        connection = await asyncpg.connect(
            host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database="postgres"
        )
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL", exc)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


def _services_or_skip() -> None:
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing("Redis", exc)
    try:
        httpx.get(f"{INFLUXDB_URL}/ping", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        service_missing("InfluxDB", exc)


async def _influx(query: str) -> None:
    async with httpx.AsyncClient() as http:
        (await http.post(f"{INFLUXDB_URL}/query", data={"q": query})).raise_for_status()


async def test_a_notebook_against_the_production_stack(started: Started, tmp_path: Path) -> None:
    _services_or_skip()
    database = await _new_postgres_database()
    influx = unique_name("client_e2e")
    await _influx(f'CREATE DATABASE "{influx}"')
    await asyncio.to_thread(migrate.upgrade, postgres_url(database))
    env = cellmon_env(
        data_dir=tmp_path / "data",
        postgres_port=POSTGRES_PORT,
        postgres_db=database,
        redis_port=REDIS_PORT,
        redis_prefix=unique_name("client_e2e"),
        influxdb_url=INFLUXDB_URL,
        influxdb_database=influx,
        extra={"CELLMON_ADMIN_EMAIL": ADMIN_EMAIL, "CELLMON_ADMIN_PASSWORD": ADMIN_PASSWORD},
    )
    server = started.add(CellmonServer(env, tmp_path / "serve.log"))
    assert isinstance(server, CellmonServer)
    started.add(CellmonProcess("cellmon worker", ["worker"], env, tmp_path / "worker.log"))
    try:
        token = await token_of(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            class_id, key = await class_with_key(http)
            ws_url = server.url.replace("http://", "ws://") + "/ws"
            async with subscribed(ws_url, token, class_id) as ws:
                kernel_environment = kernel_env(
                    f"{server.url}/api/v1/events?key={key}", tmp_path / "queue.sqlite3"
                )
                async with kernel(lesson(), kernel_environment, tmp_path) as runner:
                    await run_cells(runner, range(len(runner.nb.cells)))
                    check_lesson_updates(await execution_updates(ws, len(CODE_CELLS)))
            check_lesson_executions(await wait_for_executions(http, len(CODE_CELLS)))
    finally:
        await _influx(f'DROP DATABASE "{influx}"')


async def test_every_cell_arrives_once_across_a_server_crash_and_a_kernel_restart(
    started: Started, tmp_path: Path
) -> None:
    env = cellmon_env(
        data_dir=tmp_path / "data",
        extra={"CELLMON_ADMIN_EMAIL": ADMIN_EMAIL, "CELLMON_ADMIN_PASSWORD": ADMIN_PASSWORD},
    )
    upgrade_database(env, tmp_path)
    server = started.add(CellmonServer(env, tmp_path / "serve.log"))
    assert isinstance(server, CellmonServer)
    token = await token_of(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    notebook = lesson()
    kernel_environment = kernel_env(f"{server.url}/api/v1/events", tmp_path / "queue.sqlite3")
    async with kernel(notebook, kernel_environment, tmp_path) as runner:
        await run_cells(runner, [1, 2])
        # Killed at once, maybe while the first cells' batch is on its way.
        server.kill()
        await run_cells(runner, [3])
    # The kernel stopped with its last cell still queued on disk; a new kernel of the same
    # student (same queue file) starts while the server is still down, then it comes back.
    async with kernel(notebook, kernel_environment, tmp_path) as runner:
        await run_cells(runner, [4])
        server.start()
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            recorded = await wait_for_executions(http, len(CODE_CELLS), within=60)
            assert sorted(execution["code"] for execution in recorded) == sorted(
                notebook.cells[index].source for index in CODE_CELLS
            )
            assert len({execution["event_id"] for execution in recorded}) == len(CODE_CELLS)
    # Nothing more arrives once the second kernel has stopped.
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        assert len(await executions(http)) == len(CODE_CELLS)

"""Fixtures of the fault tests: private services, cellmon processes, the load driver.

The private PostgreSQL, Redis and InfluxDB are started once for the fault suite; each test
gets its own database, key prefix and InfluxDB database on them and may stop, kill and
restart them (the next test finds them running again).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import URL

from cellmon.db import migrate
from tests.faults.load import LoadDriver
from tests.faults.processes import CellmonProcess, CellmonServer
from tests.faults.services import PrivateInfluxDB, PrivatePostgres, PrivateRedis
from tests.services import unique_name

Server = TypeVar("Server", PrivatePostgres, PrivateRedis, PrivateInfluxDB)


def _running(server: Server) -> Iterator[Server]:
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    yield from _running(PrivatePostgres())


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    yield from _running(PrivateRedis())


@pytest.fixture(scope="session")
def private_influxdb() -> Iterator[PrivateInfluxDB]:
    yield from _running(PrivateInfluxDB())


@dataclass(frozen=True)
class FaultPostgres:
    server: PrivatePostgres
    database: str

    @property
    def port(self) -> int:
        return self.server.port


async def _create_database(port: int, name: str, template: str | None = None) -> None:
    connection = await asyncpg.connect(
        host="127.0.0.1", port=port, user="postgres", database="postgres", timeout=10
    )
    try:
        copied = f' TEMPLATE "{template}"' if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{copied}')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def fault_template(private_postgres: PrivatePostgres) -> str:
    """A database on the private cluster migrated once; each test's database is a copy (a
    file copy in the server, where migrating took about half a second of this process)."""
    private_postgres.ensure_running()
    name = unique_name("faults_template")
    asyncio.run(_create_database(private_postgres.port, name))
    migrate.upgrade(
        URL.create(
            "postgresql+asyncpg",
            username="postgres",
            host="127.0.0.1",
            port=private_postgres.port,
            database=name,
        )
    )
    return name


@pytest.fixture
def fault_postgres(private_postgres: PrivatePostgres, fault_template: str) -> FaultPostgres:
    """A migrated database of this test on the private cluster (running)."""
    private_postgres.ensure_running()
    name = unique_name("faults")
    asyncio.run(_create_database(private_postgres.port, name, template=fault_template))
    return FaultPostgres(private_postgres, name)


@dataclass(frozen=True)
class FaultRedis:
    server: PrivateRedis
    prefix: str

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture
def fault_redis(private_redis: PrivateRedis) -> FaultRedis:
    private_redis.ensure_running()
    return FaultRedis(private_redis, unique_name("faults"))


@dataclass(frozen=True)
class FaultInfluxDB:
    server: PrivateInfluxDB
    database: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def fault_influxdb(private_influxdb: PrivateInfluxDB) -> FaultInfluxDB:
    private_influxdb.ensure_running()
    return FaultInfluxDB(private_influxdb, unique_name("faults"))


class Processes:
    """The cellmon processes of one test, every one killed at its end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[CellmonProcess] = []

    def server(self, env: Mapping[str, str], name: str = "serve") -> CellmonServer:
        server = CellmonServer(env, self.folder / f"{name}.log")
        self.started.append(server)
        server.start()
        return server

    def worker(self, env: Mapping[str, str], name: str) -> CellmonProcess:
        worker = CellmonProcess(name, ["worker"], env, self.folder / f"{name}.log")
        self.started.append(worker)
        worker.start()
        return worker

    def kill_all(self) -> None:
        for process in self.started:
            process.kill()

    def output(self) -> str:
        return "\n".join(process.output() for process in self.started)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()
        # Shown by pytest only when the test failed.
        print(started.output())


@pytest.fixture
async def make_driver() -> AsyncIterator[Callable[[Sequence[str]], LoadDriver]]:
    """Load drivers aimed at the given server URLs, closed at the end of the test."""
    drivers: list[LoadDriver] = []

    def make(base_urls: Sequence[str]) -> LoadDriver:
        driver = LoadDriver(base_urls)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        print(driver.summary())
        await driver.close()

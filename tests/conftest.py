"""Shared fixtures: a clean database per test on SQLite and on PostgreSQL, the real app.

Every test that takes `settings`, `app` or `client` runs twice, once per database. Each test
gets a database of its own state: a fresh copy of a migrated SQLite file, or the session's
migrated PostgreSQL database with every table emptied.

Each test starts the app afresh (its lifespan: database engine, queue, hub, worker, limiter),
but the app object itself is built once per worker for each distinct `Settings` and reused
(`AppPool`): FastAPI works out each route's dependencies and parameters at an app's first
request, which cost about half the CPU time of a typical test. The settings of the tests of
one database kind are equal (the same data folder, emptied and refilled for each test), so
they share one app. What an app keeps from one lifespan to the next is what `create_app`
builds (token codec, rate-limit rules, the ingest-key cache, middleware), none of which
holds a test's data.

A test that needs a real socket takes `live_server` (the app under uvicorn) and talks to
it, or to its app through `live_client`; never to a second app beside it, whose worker
would compete for the same queue and announce on a bus the server's sockets never hear.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import URL

from cellmon.app import create_app
from cellmon.auth import passwords
from cellmon.cli import server_config
from cellmon.core.settings import Settings
from cellmon.db import (
    migrate,
    models,  # noqa: F401  (puts every table on the metadata)
)
from cellmon.db.base import Base
from cellmon.db.models import User
from tests.accounts import ADMIN_EMAIL, create_account, signed_in
from tests.services import (
    INFLUXDB_URL,
    make_settings,
    postgres_overrides,
    postgres_url,
    service_missing,
    unique_name,
)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """Argon2id at its least cost in this process: the production parameters take 0.13 s per
    hash or check here, about 40 s of the suite's CPU. The `cellmon` processes that tests
    start keep the production parameters."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        )
        passwords._decoy_hash.cache_clear()
        yield
    passwords._decoy_hash.cache_clear()


DB_BACKENDS = ["sqlite", "postgresql"]
# Every model is imported through `models`, so the metadata knows every table. A test leaves
# a handful of rows, which DELETE removes in milliseconds where TRUNCATE (new files for every
# table and index) takes about 0.4 s; children go first, then every id counts from the start.
EMPTY_ALL = "BEGIN; {} SELECT {} FROM {}; COMMIT;".format(
    " ".join(f'DELETE FROM "{table.name}";' for table in reversed(Base.metadata.sorted_tables)),
    "setval(format('%I.%I', schemaname, sequencename), start_value, false)",
    "pg_sequences WHERE schemaname = current_schema()",
)


FAULT_TESTS = Path(__file__).resolve().parent / "faults"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test`: `-n … --dist loadgroup`), the fault tests share one
    worker: their private PostgreSQL, Redis and InfluxDB start once rather than once per
    worker, and the services they stop and kill are theirs alone. Every other test runs on
    any worker, each worker with its own databases (see `postgres_database`)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return  # `-p no:xdist`: one process, and no `xdist_group` marker to set
    for item in items:
        if item.path.is_relative_to(FAULT_TESTS):
            item.add_marker(pytest.mark.xdist_group("faults"))


async def _admin_connect() -> asyncpg.Connection:
    url = postgres_url("postgres")
    try:
        return await asyncpg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database="postgres",
            timeout=5,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL", exc)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session (under xdist, per worker: each has a
    temporary folder of its own); each test copies it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "cellmon.db"
    migrate.upgrade(make_settings(CELLMON_DATA_DIR=path.parent).database_url)
    return path


async def _admin_execute(statement: str) -> None:
    admin = await _admin_connect()
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


# These fixtures are synchronous on purpose: they are looked up by name from
# `database_overrides`, and an async fixture cannot be started from inside another.
@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of this test session (under xdist, of this worker: the name is
    new each time), migrated to head, dropped at the end."""
    name = unique_name("cellmon_test")
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    try:
        migrate.upgrade(postgres_url(name))
        yield name
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_postgres(database: str) -> None:
    url = postgres_url(database)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=database
    )
    try:
        await connection.execute(EMPTY_ALL)
    finally:
        await connection.close()


@pytest.fixture(params=DB_BACKENDS)
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[URL]:
    """The URL of a database with nothing in it, not even migrations (for migration tests)."""
    if request.param == "sqlite":
        yield URL.create("sqlite+aiosqlite", database=str(tmp_path / "empty.db"))
        return
    name = unique_name("cellmon_empty")
    await _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url(name)
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=DB_BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
def data_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """This worker's data folder for each database kind: the same folder for every test of
    that kind, so that their settings are equal and their app is shared (see `AppPool`)."""
    return {backend: tmp_path_factory.mktemp(f"data-{backend}") for backend in DB_BACKENDS}


def _empty_folder(folder: Path) -> None:
    # A test leaves files behind (the database's -wal and -shm among them); none may reach
    # the next test.
    shutil.rmtree(folder)
    folder.mkdir()


@pytest.fixture
def database_overrides(
    db_backend: str, data_dirs: dict[str, Path], request: pytest.FixtureRequest
) -> dict[str, Any]:
    """Settings values that point at a clean database of the parametrized kind."""
    data_dir = data_dirs[db_backend]
    _empty_folder(data_dir)
    if db_backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, data_dir / "cellmon.db")
        return {"CELLMON_DATA_DIR": data_dir}
    database: str = request.getfixturevalue("postgres_database")
    asyncio.run(_empty_postgres(database))
    return {"CELLMON_DATA_DIR": data_dir, **postgres_overrides(database)}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its tests."""
    return {}


@pytest.fixture
def settings(database_overrides: dict[str, Any], settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(**database_overrides, **settings_overrides)


class AppPool:
    """Apps built by `create_app`, lent to one test at a time and kept for the next test with
    equal settings. A test that runs two apps of the same settings at once gets two; an app
    that a test changed (a route added, a dependency overridden) is not lent again."""

    # Tests with settings of their own (a Redis prefix, an InfluxDB database) make apps that
    # no later test asks for; the oldest idle ones are let go.
    KEEP = 8

    def __init__(self) -> None:
        self._idle: list[tuple[Settings, FastAPI]] = []

    def _take(self, settings: Settings) -> FastAPI:
        for index, (kept, application) in enumerate(self._idle):
            if kept == settings:
                del self._idle[index]
                return application
        return create_app(settings)

    @contextlib.contextmanager
    def borrowed(self, settings: Settings) -> Iterator[FastAPI]:
        application = self._take(settings)
        as_lent = _shape(application)
        try:
            yield application
        finally:
            if _shape(application) == as_lent:
                self._idle.append((settings, application))
                del self._idle[: -self.KEEP]


def _shape(application: FastAPI) -> tuple[object, ...]:
    """What a test may change in an app that a later test would see."""
    return (
        tuple(map(id, application.routes)),
        tuple(application.dependency_overrides.items()),
        application.openapi,
    )


@pytest.fixture(scope="session")
def app_pool() -> AppPool:
    return AppPool()


@pytest.fixture
async def app(settings: Settings, app_pool: AppPool) -> AsyncIterator[FastAPI]:
    with app_pool.borrowed(settings) as application:
        async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
            yield application


@pytest.fixture
async def admin_user(app: FastAPI) -> User:
    return await create_account(app, ADMIN_EMAIL, "admin", full_name="Test Admin")


@pytest.fixture
async def client(app: FastAPI, admin_user: User) -> AsyncIterator[httpx.AsyncClient]:
    """The app's HTTP client, signed in as an admin (who may do anything)."""
    async with signed_in(app, admin_user) as http:
        yield http


@pytest.fixture
async def anonymous_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(app, None) as http:
        yield http


@pytest.fixture
def influxdb_database() -> Iterator[str]:
    """A database of its own on the test InfluxDB (1.x API), dropped afterwards."""
    name = unique_name("cellmon_test")
    # One client for the three requests: each new one loads the CA bundle.
    with httpx.Client(base_url=INFLUXDB_URL, timeout=5) as influxdb:
        try:
            influxdb.get("/ping").raise_for_status()
        except httpx.HTTPError as exc:
            service_missing("InfluxDB", f"{INFLUXDB_URL}: {exc}")
        influxdb.post("/query", data={"q": f'CREATE DATABASE "{name}"'}).raise_for_status()
        try:
            yield name
        finally:
            influxdb.post("/query", data={"q": f'DROP DATABASE "{name}"'})


@pytest.fixture
async def live_admin(live_server: LiveServer) -> User:
    """An admin of the live server, who may do anything and watch every channel."""
    return await create_account(live_server.app, ADMIN_EMAIL, "admin", full_name="Test Admin")


@pytest.fixture
async def live_client(
    live_server: LiveServer, live_admin: User
) -> AsyncIterator[httpx.AsyncClient]:
    """The live server's own app as an HTTP client, signed in as its admin."""
    async with signed_in(live_server.app, live_admin) as http:
        yield http


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests leave files for people to look at (screenshots, logs)."""
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


class _TestServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Ctrl-C must stop pytest, not only this server.
        yield


@dataclass(frozen=True)
class LiveServer:
    app: FastAPI
    base_url: str  # http://127.0.0.1:PORT
    ws_url: str  # ws://127.0.0.1:PORT/ws


@pytest.fixture
async def live_server(
    request: pytest.FixtureRequest, settings: Settings, app_pool: AppPool
) -> AsyncIterator[LiveServer]:
    """The real app under uvicorn on a free port, in the test's event loop (so async tests
    only: a test that blocks the loop freezes the server). Runs on both databases."""
    if "app" in request.fixturenames:
        # A second app on the same database and queue: its worker may take the events and
        # announce them on a bus the live server's sockets never hear.
        pytest.fail("live_server runs the app: use live_client, not app, client or the like")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    with app_pool.borrowed(settings) as application:
        server = _TestServer(server_config(application, settings, "127.0.0.1", port))
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        try:
            async with asyncio.timeout(30):
                while not server.started:
                    if serving.done():
                        serving.result()
                        pytest.fail("the live server stopped during start-up")
                    await asyncio.sleep(0.01)
            yield LiveServer(application, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws")
        finally:
            server.should_exit = True
            await serving
            listener.close()

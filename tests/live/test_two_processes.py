"""Two real `cellmon serve` processes sharing PostgreSQL and a Redis prefix: a message
published in either process, or straight on the bus, reaches subscribers on both."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from cellmon.auth.tokens import TokenCodec
from cellmon.core.bus.redis_pubsub import RedisPubSubBus, bus_channel
from cellmon.core.database import Database
from cellmon.db.models import User
from cellmon.db.models.classes import Class
from cellmon.live.messages import LiveMessage, publish
from tests import accounts
from tests.live.helpers import receive
from tests.services import (
    REDIS_HOST,
    REDIS_PORT,
    make_settings,
    postgres_overrides,
    unique_name,
)

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT_SECONDS = 60
# Every process of a deployment signs and checks tokens with the same key.
SECRET_KEY = "two-processes-" + "k" * 32
# Variables of the developer's environment that must not reach the servers under test.
CONFIG_PREFIXES = ("CELLMON_", "POSTGRES_", "REDIS_", "INFLUXDB_", "BACKEND_CORS_", "PROJECT_")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    def __init__(self, name: str, env: dict[str, str], directory: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = directory / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cellmon", "serve", "--port", str(self.port)],
                env=env,
                cwd=directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def wait_healthy(self) -> None:
        async with (
            asyncio.timeout(STARTUP_TIMEOUT_SECONDS),
            httpx.AsyncClient(base_url=self.base_url, timeout=2) as http,
        ):
            while True:
                if self.process.poll() is not None:
                    pytest.fail(f"server {self.name} exited:\n{self.log_path.read_text()}")
                try:
                    if (await http.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
async def servers(
    postgres_database: str, redis_prefix: str, tmp_path: Path
) -> AsyncIterator[list[ServerProcess]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    env.update({key: str(value) for key, value in postgres_overrides(postgres_database).items()})
    env.update(
        REDIS_HOST=REDIS_HOST,
        REDIS_PORT=str(REDIS_PORT),
        CELLMON_REDIS_PREFIX=redis_prefix,
        CELLMON_DATA_DIR=str(tmp_path),
        CELLMON_LOG_FORMAT="console",
        CELLMON_SECRET_KEY=SECRET_KEY,
    )
    started: list[ServerProcess] = []
    try:
        for name in ("a", "b"):
            started.append(ServerProcess(name, env, tmp_path))
        for server in started:
            await server.wait_healthy()
        yield started
    finally:
        for server in started:
            server.stop()


async def add_class_and_admin(postgres_database: str) -> tuple[int, dict[str, str]]:
    """A class, and the bearer header of an admin who may watch it and broadcast."""
    database = Database(make_settings(**postgres_overrides(postgres_database)))
    try:
        async with database.sessions() as session:
            klass = Class(name="Across processes", class_code=unique_name("X"))
            admin = User(
                email=f"{unique_name('admin')}@example.org",
                role="admin",
                password_hash=accounts.test_password_hash(),
                is_active=True,
                tokens_valid_after=datetime.now(UTC),
            )
            session.add_all([klass, admin])
            await session.commit()
            token = TokenCodec(SECRET_KEY, 3600).issue(admin.id).token
            return klass.id, {"Authorization": f"Bearer {token}"}
    finally:
        await database.dispose()


async def test_a_message_reaches_subscribers_on_every_process(
    servers: list[ServerProcess], postgres_database: str, redis_prefix: str
) -> None:
    a, b = servers
    class_id, admin = await add_class_and_admin(postgres_database)
    async with (
        connect(
            f"{a.ws_url}?channels=broadcast,class:{class_id}", additional_headers=admin
        ) as on_a,
        connect(f"{b.ws_url}?channels=class:{class_id}", additional_headers=admin) as on_b,
    ):
        assert (await receive(on_a))["channels"] == ["broadcast", f"class:{class_id}"]
        assert (await receive(on_b))["channels"] == [f"class:{class_id}"]

        # POSTed to B, received on A.
        async with httpx.AsyncClient(base_url=b.base_url, headers=admin) as http:
            response = await http.post("/api/v1/broadcast", json={"message": "from B"})
        assert response.status_code == 202
        frame = await receive(on_a)
        assert (frame["type"], frame["channel"], frame["data"]["message"]) == (
            "system_message",
            "broadcast",
            "from B",
        )

        # Published straight on the bus, as a worker process does: both get it.
        settings = make_settings(
            REDIS_HOST=REDIS_HOST, REDIS_PORT=REDIS_PORT, CELLMON_REDIS_PREFIX=redis_prefix
        )
        bus = RedisPubSubBus(settings.redis_url, bus_channel(redis_prefix))
        try:
            update = LiveMessage(
                "execution_update", ("progress:1", f"class:{class_id}"), {"cell": "c1"}
            )
            await publish(bus, [update])
        finally:
            await bus.close()
        for ws in (on_a, on_b):
            frame = await receive(ws)
            assert (frame["type"], frame["channel"], frame["data"]) == (
                "execution_update",
                f"class:{class_id}",
                {"cell": "c1"},
            )

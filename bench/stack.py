"""Processes and services of one benchmark run: a fresh database, Redis prefix and InfluxDB
database per run (dropped afterwards), `cellmon serve` / `cellmon worker` / baseline servers
as separate processes, and their resident memory.

Each run's database gets an admin account (made with cellmon's own code); once the server is
up, `sign_in` takes the admin's token and makes a class and its ingest key through the API,
so that the load posts to the class's events URL, as students do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil
import redis.asyncio as aioredis
import redis.exceptions

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POSTGRES_HOST = os.environ.get("BENCH_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("BENCH_POSTGRES_PORT", "5432"))
REDIS_HOST = os.environ.get("BENCH_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6379"))
INFLUXDB_URL = os.environ.get("BENCH_INFLUXDB_URL", "http://127.0.0.1:8086")


def cellmon_command(*args: str) -> list[str]:
    return [str(BIN / "cellmon"), *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def influx_query(url: str, query: str, database: str | None = None) -> bytes:
    params = {"q": query}
    if database:
        params["db"] = database
    data = urllib.parse.urlencode(params).encode()
    with urllib.request.urlopen(f"{url}/query", data=data, timeout=30) as response:
        body: bytes = response.read()
        return body


class InfluxServer:
    """The InfluxDB 1.x the project's scripts/services.sh starts, or one of our own.

    Ours listens on a free port with its data under a temporary folder, and is stopped and
    removed at the end of the run.
    """

    def __init__(self) -> None:
        self.url = INFLUXDB_URL
        self._process: subprocess.Popen[bytes] | None = None
        self._home: Path | None = None

    def start(self) -> None:
        if http_ok(f"{self.url}/ping"):
            return
        if shutil.which("influxd") is None:
            raise RuntimeError("influxd is not installed (scripts/services.sh up installs it)")
        self._home = Path(tempfile.mkdtemp(prefix="cellmon-bench-influx-"))
        http_port, rpc_port = free_port(), free_port()
        config = self._home / "influxdb.conf"
        config.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{self._home}/meta"
  logging-enabled = false
[data]
  dir = "{self._home}/data"
  wal-dir = "{self._home}/wal"
  query-log-enabled = false
  max-series-per-database = 0
  max-values-per-tag = 0
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
[logging]
  level = "warn"
[continuous_queries]
  enabled = false
"""
        )
        self.url = f"http://127.0.0.1:{http_port}"
        self._process = subprocess.Popen(
            ["influxd", "-config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self._home / "influxd.log", "wb"),  # noqa: SIM115 (lives with the process)
        )
        deadline = time.monotonic() + 30
        while not http_ok(f"{self.url}/ping"):
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError(f"influxd did not start; see {self._home}/influxd.log")
            time.sleep(0.2)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=15)
            if self._process.poll() is None:
                self._process.kill()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)

    def create_database(self, name: str) -> None:
        influx_query(self.url, f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        influx_query(self.url, f'DROP DATABASE "{name}"')

    def count_points(self, database: str, measurement: str) -> int:
        import orjson

        # Every student_progress point has a notebookPath: counting one field reads far less
        # than count(*) over all of them.
        query = f'SELECT count("notebookPath") FROM "{measurement}"'
        answer = orjson.loads(influx_query(self.url, query, database))
        series = answer["results"][0].get("series") or []
        return int(series[0]["values"][0][1]) if series else 0


# Settings a run takes from the environment, to compare a tuning with the default in the
# same conditions (e.g. CELLMON_WORKER_BATCH_SIZE=1000 python -m bench ingest); every other
# service and CELLMON_ variable is the stack's own.
TUNABLE_SETTINGS = frozenset({"CELLMON_WORKER_BATCH_SIZE"})
# The load of a run is far beyond a classroom's (hundreds of thousands of events a minute from
# one address and key, ten thousand sockets of one user): the limits are raised above it, not
# switched off ("0"), so that a run pays for checking them as a real server does.
RAISED_LIMITS = {
    "CELLMON_RATE_LIMIT_INGEST_PER_ADDRESS": "1000000000/minute",
    "CELLMON_RATE_LIMIT_INGEST_PER_KEY": "1000000000/minute",
    "CELLMON_RATE_LIMIT_WRITES_PER_USER": "1000000000/minute",
    "CELLMON_RATE_LIMIT_SIGNIN_PER_ADDRESS": "1000/minute",
    "CELLMON_RATE_LIMIT_SIGNIN_PER_ACCOUNT": "1000/minute",
    "CELLMON_WS_MAX_CONNECTIONS_PER_USER": "1000000",
    "CELLMON_WS_MAX_CONNECTIONS_PER_ADDRESS": "1000000",
}
ADMIN_EMAIL = "bench-admin@example.org"


@dataclass(frozen=True)
class Credentials:
    """What a run's clients present: the admin's bearer token (for /ws and the broadcast
    route) and the ingest key of the run's class (in the events URL)."""

    token: str
    key: str

    @property
    def events_path(self) -> str:
        return f"/api/v1/events?{urllib.parse.urlencode({'key': self.key})}"

    @property
    def authorization(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Stack:
    """What one configuration of cellmon needs: its environment and its fresh stores."""

    mode: str  # "production" (PostgreSQL + Redis + InfluxDB) or "embedded" (SQLite)
    influx: InfluxServer | None = None
    env: dict[str, str] = field(default_factory=dict)
    postgres_db: str | None = None
    redis_prefix: str | None = None
    influx_db: str | None = None
    data_dir: Path | None = None
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    async def create(self) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("POSTGRES_", "REDIS_", "INFLUXDB_", "CELLMON_"))
            or key in TUNABLE_SETTINGS
        }
        # Logging as `make run` and the image have it (INFO, no access log unless
        # CELLMON_ACCESS_LOG): a run measures the server an operator starts.
        env.update(RAISED_LIMITS)
        self.data_dir = Path(tempfile.mkdtemp(prefix="cellmon-bench-"))
        env["CELLMON_DATA_DIR"] = str(self.data_dir)
        if self.mode == "production":
            assert self.influx is not None
            self.postgres_db = unique_name("cellmon_bench")
            admin = await _admin()
            try:
                await admin.execute(f'CREATE DATABASE "{self.postgres_db}"')
            finally:
                await admin.close()
            self.redis_prefix = unique_name("cellmon_bench")
            self.influx_db = unique_name("cellmon_bench")
            self.influx.create_database(self.influx_db)
            env.update(
                POSTGRES_SERVER=POSTGRES_HOST,
                POSTGRES_PORT=str(POSTGRES_PORT),
                POSTGRES_USER="postgres",
                POSTGRES_DB=self.postgres_db,
                REDIS_HOST=REDIS_HOST,
                REDIS_PORT=str(REDIS_PORT),
                CELLMON_REDIS_PREFIX=self.redis_prefix,
                INFLUXDB_URL=self.influx.url,
                INFLUXDB_API_VERSION="1",
                INFLUXDB_BUCKET=self.influx_db,
            )
        self.env = env
        await asyncio.to_thread(
            subprocess.run, cellmon_command("db", "upgrade"), env=env, check=True, cwd=ROOT
        )
        await self._create_admin()

    async def _create_admin(self) -> None:
        """The run's admin account, straight into its fresh database."""
        from cellmon.auth.principal import Role
        from cellmon.auth.service import create_user
        from cellmon.core.database import Database
        from cellmon.core.settings import Settings

        # Validated from the run's environment alone (not the bench's own, nor a .env file).
        settings = Settings.model_validate(
            {name: value for name, value in self.env.items() if name in Settings.model_fields}
        )
        database = Database(settings)
        try:
            async with database.sessions() as session:
                await create_user(
                    session, email=ADMIN_EMAIL, password=self.admin_password, role=Role.ADMIN
                )
                await session.commit()
        finally:
            await database.dispose()

    def sign_in(self, port: int) -> Credentials:
        """The admin's token, and the key of a new class made with it through the API."""
        base = f"http://127.0.0.1:{port}/api/v1"
        form = urllib.parse.urlencode({"username": ADMIN_EMAIL, "password": self.admin_password})
        token = _api(f"{base}/auth/token", form.encode(), "application/x-www-form-urlencoded")
        authorization = {"Authorization": f"Bearer {token['access_token']}"}
        created = _api(
            f"{base}/classes",
            json.dumps({"name": "Benchmark", "class_code": unique_name("BENCH")}).encode(),
            "application/json",
            authorization,
        )
        key = _api(
            f"{base}/classes/{created['id']}/ingest-keys",
            json.dumps({"label": "benchmark load"}).encode(),
            "application/json",
            authorization,
        )
        return Credentials(token["access_token"], key["key"])

    async def destroy(self) -> None:
        if self.postgres_db:
            admin = await _admin()
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.postgres_db}" WITH (FORCE)')
            finally:
                await admin.close()
        if self.redis_prefix:
            client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT)
            try:
                async for key in client.scan_iter(match=f"{self.redis_prefix}*", count=1000):
                    await client.delete(key)
            finally:
                await client.aclose()
        if self.influx_db and self.influx:
            self.influx.drop_database(self.influx_db)
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def queue_is_empty(self) -> bool:
        """Whether the queue holds nothing (a cheap check, polled often while the pipeline
        drains; the exact counts of `count_processed` cost the services real CPU, InfluxDB's
        count(*) most of all, so they are taken once the queue looks empty)."""
        if self.mode == "production":
            client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT)
            try:
                # Entries are deleted when acknowledged, after their work is committed.
                return int(await client.xlen(f"{self.redis_prefix}:events")) == 0
            finally:
                await client.aclose()
        import sqlite3

        assert self.data_dir is not None
        with contextlib.closing(
            sqlite3.connect(f"file:{self.data_dir / 'cellmon.db'}?mode=ro", uri=True, timeout=30)
        ) as connection:
            return connection.execute("SELECT 1 FROM queue_entries LIMIT 1").fetchone() is None

    async def count_processed(self) -> tuple[int, int]:
        """(rows in cell_executions, student_progress points in the time-series store)."""
        if self.mode == "production":
            assert self.influx is not None
            assert self.influx_db is not None
            assert self.postgres_db is not None
            connection = await asyncpg.connect(
                host=POSTGRES_HOST, port=POSTGRES_PORT, user="postgres", database=self.postgres_db
            )
            try:
                rows = await connection.fetchval("SELECT count(*) FROM cell_executions")
            finally:
                await connection.close()
            points = await asyncio.to_thread(
                self.influx.count_points, self.influx_db, "student_progress"
            )
            return int(rows), points
        import sqlite3

        assert self.data_dir is not None
        with contextlib.closing(
            sqlite3.connect(f"file:{self.data_dir / 'cellmon.db'}?mode=ro", uri=True, timeout=30)
        ) as connection:
            rows = connection.execute("SELECT count(*) FROM cell_executions").fetchone()[0]
            points = connection.execute(
                "SELECT count(*) FROM timeseries_points WHERE measurement = 'student_progress'"
            ).fetchone()[0]
        return int(rows), int(points)


def _api(
    url: str, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> dict[str, str]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type, **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, str] = json.loads(response.read())
        return answer


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user="postgres", database="postgres"
    )


class Process:
    """A server or worker process we started; stopped (and only it) at the end."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop)
            prefix=f"cellmon-bench-{name}-", suffix=".log", delete=False
        )
        self.popen = subprocess.Popen(
            list(argv), env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.ps = psutil.Process(self.popen.pid)
        self.peak_rss = 0

    def rss(self) -> int:
        try:
            value: int = self.ps.memory_info().rss
        except psutil.Error:
            return 0
        self.peak_rss = max(self.peak_rss, value)
        return value

    def cpu_seconds(self) -> float:
        try:
            times = self.ps.cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 20) -> str:
        text = Path(self.log.name).read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])[-3000:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def wait_ready(url: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not http_ok(url):
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} not ready at {url}:\n{process.tail()}")
        time.sleep(0.1)


def cellmon_server(stack: Stack, port: int, extra_env: dict[str, str] | None = None) -> Process:
    env = {**stack.env, **(extra_env or {})}
    process = Process(
        "server", cellmon_command("serve", "--host", "127.0.0.1", "--port", str(port)), env
    )
    wait_ready(f"http://127.0.0.1:{port}/ready", process)
    return process


def cellmon_workers(stack: Stack, count: int) -> list[Process]:
    return [
        Process(f"worker{index}", cellmon_command("worker"), stack.env) for index in range(count)
    ]


async def wait_workers(stack: Stack, count: int, seconds: float = 20) -> None:
    """Until `count` workers read the queue (consumers of its Redis group), or `seconds`."""
    if not count or stack.redis_prefix is None:
        return
    client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                consumers = await client.xinfo_consumers(f"{stack.redis_prefix}:events", "workers")
            except redis.exceptions.ResponseError:
                consumers = []
            if len(consumers) >= count:
                return
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()


def baseline_server(kind: str, port: int) -> Process:
    process = Process(
        f"baseline-{kind}",
        [sys.executable, "-m", "bench.baseline", kind, "--port", str(port)],
        {**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wait_ready(f"http://127.0.0.1:{port}/health", process)
    return process


# The services a production run uses, by process name; their CPU counts towards each event.
SERVICE_PROCESSES = {"postgres": "PostgreSQL", "influxd": "InfluxDB", "redis-server": "Redis"}


def cpu_seconds(items: Sequence[Process], services: bool) -> dict[tuple[str, int], float]:
    """User + system CPU seconds so far of each of our processes and, with `services`, of every
    PostgreSQL backend, influxd and redis-server on the machine (other sessions' too), by
    (group, pid)."""
    seconds = {(item.name, item.ps.pid): item.cpu_seconds() for item in items}
    if services:
        for proc in psutil.process_iter(["name", "cpu_times"]):
            group = SERVICE_PROCESSES.get(proc.info["name"] or "")
            times = proc.info["cpu_times"]
            if group and times is not None:
                seconds[(group, proc.pid)] = times.user + times.system
    return seconds


@contextlib.contextmanager
def processes(*items: Process) -> Iterator[None]:
    try:
        yield
    finally:
        for item in items:
            item.stop()


def raise_open_files_limit(wanted: int = 65536) -> int:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else max(hard, wanted)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
        return target
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft

"""Real `cellmon serve` and `cellmon worker` processes, configured through the environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.faults.services import START_TIMEOUT_SECONDS, free_port, stop_process, tail

# What the processes may inherit from the test run; everything cellmon reads comes from `env`.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")


class CellmonProcess:
    """One `cellmon` subprocess; its output goes to a log file kept for failure reports."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.args = args
        self.env = {key: os.environ[key] for key in INHERITED if key in os.environ}
        self.env.update(env)
        # A .env file in the working directory must not leak in: run from the log's folder.
        self.cwd = log.parent
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            log.write(f"--- start {self.name}: cellmon {' '.join(self.args)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "cellmon", *self.args],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} is not running"
        return self._process.pid

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """kill -9, as a crash or the OOM killer would."""
        if self._process is not None:
            stop_process(self._process, signal.SIGKILL)

    def terminate(self) -> None:
        if self._process is not None:
            stop_process(self._process, signal.SIGTERM)

    def send(self, sig: int) -> None:
        """A signal to the process alone, without waiting for it."""
        os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int | None:
        """Its exit status once it has ended; None if it still runs after `timeout` s."""
        assert self._process is not None, f"{self.name} was never started"
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self, lines: int = 40) -> str:
        return f"=== {self.name} ({self.log}) ===\n{tail(self.log, lines)}"


class CellmonServer(CellmonProcess):
    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.port = free_port()
        super().__init__(
            "cellmon serve", ["serve", "--host", "127.0.0.1", "--port", str(self.port)], env, log
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        # One client for every try: each new one loads the CA bundle, which took more CPU
        # than the server starting beside it could spare.
        with httpx.Client(timeout=1) as http:
            while True:
                if not self.is_running():
                    raise RuntimeError(f"cellmon serve exited at start-up:\n{self.output()}")
                try:
                    if http.get(f"{self.url}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cellmon serve did not answer /health:\n{self.output()}")
                time.sleep(0.1)


def cellmon_env(
    *,
    data_dir: Path,
    postgres_port: int | None = None,
    postgres_db: str | None = None,
    redis_port: int | None = None,
    redis_prefix: str | None = None,
    influxdb_url: str | None = None,
    influxdb_database: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a cellmon process; a service left as None stays embedded."""
    env = {
        "CELLMON_DATA_DIR": str(data_dir),
        "CELLMON_LOG_FORMAT": "console",
        "CELLMON_LOG_LEVEL": "INFO",
    }
    if postgres_port is not None:
        assert postgres_db is not None
        env |= {
            "POSTGRES_SERVER": "127.0.0.1",
            "POSTGRES_PORT": str(postgres_port),
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "",
            "POSTGRES_DB": postgres_db,
        }
    if redis_port is not None:
        assert redis_prefix is not None
        env |= {
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis_port),
            "CELLMON_REDIS_PREFIX": redis_prefix,
            "CELLMON_RUN_WORKER_IN_SERVER": "false",
        }
    if influxdb_url is not None:
        assert influxdb_database is not None
        env |= {
            "INFLUXDB_URL": influxdb_url,
            "INFLUXDB_API_VERSION": "1",
            "INFLUXDB_BUCKET": influxdb_database,
        }
    env |= dict(extra or {})
    return env

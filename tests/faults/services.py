"""Private service instances that the fault tests may stop, kill and restart.

The shared PostgreSQL (5432), Redis (6379) and InfluxDB (8086) serve other test runs at the
same time, so a fault test never touches them: each class here runs its own server on a free
port with its data in a temporary folder, and can take it down and bring it back on the same
port and data.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.services import service_missing

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGRES_OS_USER = "postgres"
REDIS_SERVER = "redis-server"
INFLUXD = "/usr/bin/influxd"
START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout:.0f} s")
        time.sleep(0.05)


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def signal_process(process: subprocess.Popen[bytes] | None, sig: int) -> None:
    if process is not None and process.poll() is None:
        os.killpg(process.pid, sig)


def stop_process(process: subprocess.Popen[bytes], sig: int, timeout: float = 20.0) -> None:
    """Send sig to the process's whole group (it was started in a session of its own)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class PrivatePostgres:
    """A PostgreSQL 15 cluster of its own (run by the `postgres` OS user under root), trust
    auth."""

    def __init__(self) -> None:
        for tool in ("initdb", "pg_ctl"):
            if not (POSTGRES_BIN / tool).exists():
                service_missing("PostgreSQL 15 binaries", f"{POSTGRES_BIN / tool} not found")
        # PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                service_missing("runuser", "needed to run PostgreSQL as the postgres user")
            self._run_as = ["runuser", "-u", POSTGRES_OS_USER, "--"]
        self.port = free_port()
        # pytest's tmp_path lives under a root-only folder that `postgres` cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="cellmon-faults-pg-"))
        if self._run_as:
            shutil.chown(self.root, POSTGRES_OS_USER)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._pg_tool(
            str(POSTGRES_BIN / "initdb"),
            "--pgdata",
            str(self.data),
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--no-instructions",
        )

    def _pg_tool(self, *command: str) -> None:
        result = subprocess.run(
            [*self._run_as, *command],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}"
                f"{result.stderr}\n{tail(self.log)}"
            )

    def start(self) -> None:
        # fsync off: the tests kill server processes, never the machine, so the OS keeps every
        # write; synchronous_commit stays on so that a commit has reached the OS before the
        # client hears of it (what makes "committed, then acknowledged" safe here).
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._pg_tool(
            str(POSTGRES_BIN / "pg_ctl"),
            "start",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.log),
            "--options",
            options,
            "--wait",
            f"--timeout={int(START_TIMEOUT_SECONDS)}",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; "fast" cuts every client off, "immediate" is a crash."""
        self._pg_tool(
            str(POSTGRES_BIN / "pg_ctl"), "stop", "--pgdata", str(self.data), "--mode", mode
        )

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists() and port_answers(self.port)

    def ensure_running(self) -> None:
        if not self.is_running():
            self.start()

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class ChildServer:
    """A server this test run started as a child process, which a test may freeze or kill."""

    _process: subprocess.Popen[bytes] | None

    def start(self) -> None:
        raise NotImplementedError

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections and nothing answers, as in a hang."""
        signal_process(self._process, signal.SIGSTOP)

    def thaw(self) -> None:
        signal_process(self._process, signal.SIGCONT)

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def ensure_running(self) -> None:
        self.thaw()
        if not self.is_running():
            self.start()


class PrivateRedis(ChildServer):
    """A Redis of its own with an append-only file synced on every write.

    Without persistence a Redis restart empties the stream by definition; with
    `appendfsync always` every acknowledged XADD / XACK survives even kill -9.
    """

    def __init__(self) -> None:
        binary = shutil.which(REDIS_SERVER)
        if binary is None:
            service_missing("Redis", f"{REDIS_SERVER} not found")
        self.binary = binary
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cellmon-faults-redis-"))
        self.log = self.root / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.root),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.log),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, start_new_session=True)
        try:
            wait_until(self._answers, "Redis did not answer", START_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}:\n{tail(self.log)}") from exc

    def _answers(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"redis-server exited:\n{tail(self.log)}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                # While loading the append-only file Redis answers -LOADING.
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """kill -9: whatever was acknowledged is in the append-only file already."""
        if self._process is not None:
            stop_process(self._process, signal.SIGKILL)
            self._process = None

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


INFLUXDB_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  max-series-per-database = 0
  max-values-per-tag = 0

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  # Every point in one answer: the checker reads them all.
  max-row-limit = 0

[logging]
  level = "warn"

[continuous_queries]
  enabled = false
"""


class PrivateInfluxDB(ChildServer):
    """An InfluxDB 1.x of its own, from a generated config."""

    def __init__(self) -> None:
        if not Path(INFLUXD).exists():
            service_missing("InfluxDB 1.x", f"{INFLUXD} not found")
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cellmon-faults-influxdb-"))
        self.config = self.root / "influxdb.conf"
        self.config.write_text(
            INFLUXDB_CONFIG.format(root=self.root, rpc_port=self.rpc_port, http_port=self.http_port)
        )
        self.log = self.root / "influxd.log"
        self.url = f"http://127.0.0.1:{self.http_port}"
        self._process: subprocess.Popen[bytes] | None = None
        # One client for every ping and query: each new one loads the CA bundle.
        self._http = httpx.Client(base_url=self.url, timeout=30)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [INFLUXD, "-config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(self._answers, "InfluxDB did not answer /ping", START_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}:\n{tail(self.log)}") from exc

    def _answers(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"influxd exited:\n{tail(self.log)}")
        try:
            return self._http.get("/ping", timeout=1).status_code == 204
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            self.thaw()
            stop_process(self._process, signal.SIGTERM)
            self._process = None

    def query(self, database: str, statement: str) -> list[list[object]]:
        """Rows of the first series of an InfluxQL query (empty when there is none)."""
        response = self._http.get("/query", params={"db": database, "q": statement})
        response.raise_for_status()
        result = response.json()["results"][0]
        if "error" in result:
            raise RuntimeError(f"InfluxDB: {result['error']}")
        rows: list[list[object]] = []
        for series in result.get("series", []):
            rows.extend(series["values"])
        return rows

    def destroy(self) -> None:
        self.stop()
        self._http.close()
        shutil.rmtree(self.root, ignore_errors=True)

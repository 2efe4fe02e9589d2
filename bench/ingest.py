"""Ingest benchmark (issue 3): wrk drives `POST /api/v1/events` on the real server and on the
bare baseline, in the same run; the project's figures include the time until every accepted
event is in `cell_executions` and in the time-series store.
"""

from __future__ import annotations

import asyncio
import json
import resource
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bench.events import BASE_TIME
from bench.stack import (
    ROOT,
    InfluxServer,
    Process,
    Stack,
    baseline_server,
    cellmon_server,
    cellmon_workers,
    cpu_seconds,
    free_port,
    processes,
    wait_workers,
)

WRK_SCRIPT = ROOT / "bench" / "wrk_events.lua"
EVENTS_PATH = "/api/v1/events"
# What the bare baseline receives in place of a class's key: the same URL shape and length.
BASELINE_PATH = f"{EVENTS_PATH}?key=cmk_{'0' * 43}"


@dataclass(frozen=True)
class Load:
    name: str
    batch: int
    connections: int


@dataclass(frozen=True)
class Options:
    duration: int  # seconds of load per measurement
    drain_timeout: int  # seconds to wait, after the load, for every event to be processed
    worker_counts: tuple[int, ...]
    loads: tuple[Load, ...]


FULL = Options(
    duration=6,
    drain_timeout=45,
    worker_counts=(1, 2),
    loads=(Load("single event per request", 1, 100), Load("batches of 100", 100, 50)),
)
QUICK = Options(
    duration=3,
    drain_timeout=45,
    worker_counts=(1,),
    loads=(Load("single event per request", 1, 50), Load("batches of 100", 100, 20)),
)


@dataclass
class Result:
    target: str  # "baseline", "production, 1 worker", ...
    load: Load
    wrk: dict[str, Any]
    accepted_events: int
    accepted_rate: float
    processed_rate: float | None = None
    processed_seconds: float | None = None
    drained: bool | None = None
    rows: int | None = None
    points: int | None = None
    rss: dict[str, int] = field(default_factory=dict)  # process name -> peak RSS bytes
    cpu: dict[str, float] = field(default_factory=dict)  # process name -> CPU % under load
    # process group -> CPU µs per processed event, from the start of the load until drained
    cpu_per_event: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "load": self.load.name,
            "batch": self.load.batch,
            "connections": self.load.connections,
            "requests": self.wrk["requests"],
            "non_2xx": self.wrk["status_errors"],
            "socket_errors": self.wrk["connect_errors"]
            + self.wrk["read_errors"]
            + self.wrk["write_errors"]
            + self.wrk["timeouts"],
            "accepted_events": self.accepted_events,
            "accepted_rate": self.accepted_rate,
            "processed_rate": self.processed_rate,
            "processed_seconds": self.processed_seconds,
            "drained": self.drained,
            "rows": self.rows,
            "points": self.points,
            "p50_ms": self.wrk["p50_us"] / 1000,
            "p99_ms": self.wrk["p99_us"] / 1000,
            "rss_mib": {name: round(value / 2**20, 1) for name, value in self.rss.items()},
            "cpu_percent": {name: round(value) for name, value in self.cpu.items()},
            "cpu_us_per_event": {
                name: round(value, 1) for name, value in self.cpu_per_event.items()
            },
            "wrk_cpu_percent": round(self.wrk["cpu_percent"]),
        }


class RssSampler:
    """Samples the processes' resident memory every 0.25 s in a thread; keeps the peaks."""

    def __init__(self, items: list[Process]) -> None:
        self.items = items
        self.cpu_percent: dict[str, float] = {}
        self._cpu_start: dict[str, float] = {}
        self._started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            for item in self.items:
                item.rss()

    def __enter__(self) -> RssSampler:
        self._started = time.monotonic()
        for item in self.items:
            item.rss()
            self._cpu_start[item.name] = item.cpu_seconds()
        self._thread.start()
        return self

    def note_cpu(self) -> None:
        """CPU use of each process since the sampler started (called when the load ends)."""
        elapsed = time.monotonic() - self._started
        for item in self.items:
            used = item.cpu_seconds() - self._cpu_start[item.name]
            self.cpu_percent[item.name] = 100 * used / elapsed

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if not self.cpu_percent:
            self.note_cpu()

    def peaks(self) -> dict[str, int]:
        return {item.name: item.peak_rss for item in self.items}


class CpuLedger:
    """CPU seconds spent between two readings by our processes and, in production, by the
    services' processes (every PostgreSQL backend, influxd, redis-server): where an event's
    cost goes, all of it, while the pipeline is loaded and drains. Other sessions' PostgreSQL
    backends on a shared machine count too, so read it as an upper bound."""

    def __init__(self, items: list[Process], services: bool) -> None:
        self.items = items
        self.services = services
        self._start = self._read()

    def _read(self) -> dict[tuple[str, int], float]:
        return cpu_seconds(self.items, self.services)

    def per_event(self, events: int) -> dict[str, float]:
        """CPU µs per event of each group since the ledger was opened."""
        used: dict[str, float] = {}
        for (group, pid), seconds in self._read().items():
            spent = seconds - self._start.get((group, pid), 0.0)
            used[group] = used.get(group, 0.0) + spent
        return {group: 1e6 * spent / events for group, spent in used.items() if events}


def run_wrk(port: int, load: Load, duration: int, path: str = EVENTS_PATH) -> dict[str, Any]:
    """wrk's figures for `load` on the events route at `path` (with the run's key)."""
    base_epoch = int(BASE_TIME.timestamp())
    argv = [
        "wrk",
        "-t1",
        f"-c{load.connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        f"http://127.0.0.1:{port}{path}",
        "--",
        secrets.token_hex(4),
        str(load.batch),
        str(base_epoch),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            figures: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
            # wrk is the only child that ends meanwhile: its CPU use shows it is not the limit.
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            figures["cpu_percent"] = 100 * cpu / (figures["duration_us"] / 1e6)
            return figures
    raise RuntimeError(f"wrk printed no figures:\n{output}")


def _accepted(wrk: dict[str, Any], load: Load) -> tuple[int, float]:
    accepted = (wrk["requests"] - wrk["status_errors"]) * load.batch
    return accepted, accepted / (wrk["duration_us"] / 1e6)


def measure_baseline(load: Load, options: Options, log: Any) -> Result:
    port = free_port()
    server = baseline_server("ingest", port)
    with processes(server), RssSampler([server]) as sampler:
        wrk = run_wrk(port, load, options.duration, BASELINE_PATH)
    accepted, rate = _accepted(wrk, load)
    result = Result(
        "bare FastAPI + pydantic",
        load,
        wrk,
        accepted,
        rate,
        rss=sampler.peaks(),
        cpu=sampler.cpu_percent,
    )
    log(f"  baseline: {rate:,.0f} events/s accepted, p99 {wrk['p99_us'] / 1000:.1f} ms")
    return result


async def measure_cellmon(
    mode: str, workers: int, load: Load, options: Options, influx: InfluxServer | None, log: Any
) -> Result:
    stack = Stack(mode, influx)
    await stack.create()
    try:
        port = free_port()
        server = cellmon_server(stack, port)
        worker_processes = cellmon_workers(stack, workers)
        everything = [server, *worker_processes]
        await wait_workers(stack, workers)
        with processes(*reversed(everything)):
            # Before the sampler starts: signing in costs the server a password hash.
            credentials = await asyncio.to_thread(stack.sign_in, port)
            with RssSampler(everything) as sampler:
                ledger = CpuLedger(everything, services=mode == "production")
                started = time.monotonic()
                wrk = await asyncio.to_thread(
                    run_wrk, port, load, options.duration, credentials.events_path
                )
                sampler.note_cpu()
                accepted, rate = _accepted(wrk, load)
                deadline = time.monotonic() + options.drain_timeout
                rows = points = 0
                drained = False
                while time.monotonic() < deadline:
                    if await stack.queue_is_empty():
                        rows, points = await stack.count_processed()
                        if rows >= accepted and points >= accepted:
                            drained = True
                            break
                    for item in everything:
                        if not item.alive():
                            raise RuntimeError(f"{item.name} exited:\n{item.tail()}")
                    await asyncio.sleep(0.1)
                if not drained:
                    rows, points = await stack.count_processed()
                elapsed = time.monotonic() - started
                processed = min(rows, points)
                cpu_per_event = ledger.per_event(processed)
        target = (
            f"cellmon production, {workers} worker{'s' if workers > 1 else ''}"
            if mode == "production"
            else "cellmon embedded (SQLite, in-server worker)"
        )
        result = Result(
            target,
            load,
            wrk,
            accepted,
            rate,
            processed_rate=processed / elapsed,
            processed_seconds=elapsed,
            drained=drained,
            rows=rows,
            points=points,
            rss=sampler.peaks(),
            cpu=sampler.cpu_percent,
            cpu_per_event=cpu_per_event,
        )
        log(
            f"  {target}: {rate:,.0f} events/s accepted, {processed / elapsed:,.0f} events/s "
            f"processed ({'all' if drained else 'NOT all'} {accepted:,} in {elapsed:.1f} s), "
            f"p99 {wrk['p99_us'] / 1000:.1f} ms"
        )
        log(
            "    CPU µs per processed event: "
            + ", ".join(f"{name} {value:.1f}" for name, value in cpu_per_event.items())
        )
        return result
    finally:
        await stack.destroy()


async def run(options: Options, influx: InfluxServer, log: Any) -> list[Result]:
    results: list[Result] = []
    for load in options.loads:
        log(f"ingest, {load.name} ({load.connections} connections, {options.duration} s):")
        results.append(await asyncio.to_thread(measure_baseline, load, options, log))
        for workers in options.worker_counts:
            results.append(await measure_cellmon("production", workers, load, options, influx, log))
        results.append(await measure_cellmon("embedded", 0, load, options, None, log))
    return results

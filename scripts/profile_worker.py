"""Time a worker draining a pre-filled queue (a profiling aid, not the benchmark).

    .venv/bin/python scripts/profile_worker.py pg-sql|pg-influx|sqlite [--events N]
        [--per-request N] [--batch-size N] [--concurrency N] [--processes N]

Enqueues N realistic events (100 students, 3 notebooks of 20 cells, 20 % errors, some help
and notebook events) straight into the queue: --per-request of them per body, as the API
queues a request of that many events, 1000 bodies per enqueue call (on Redis they share
entries of up to 64 KiB, as concurrent requests' bodies do). Then runs workers until every
event is in cell_executions / progress tables and the queue is empty, and prints events/s.
With --processes N, N worker processes (each of --concurrency workers) drain the queue, as N
`cellmon worker` processes would; the worker CPU is then their sum.
Uses a PostgreSQL database, Redis prefix and InfluxDB database of its own, dropped afterwards.
Run it under `py-spy record -o profile.svg -- ...` to see where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing
import os
import random
import subprocess
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis
from sqlalchemy import func, select

from cellmon.core.backends import build_backends
from cellmon.core.database import Database
from cellmon.core.runtime import tune_garbage_collector
from cellmon.core.settings import Settings
from cellmon.db import migrate
from cellmon.db.models import CellExecution, ProgressEvent
from cellmon.events import repository
from cellmon.events.pipeline import BatchProcessor
from cellmon.events.schemas import EVENT_LIST
from cellmon.events.service import queue_body
from cellmon.worker.runner import Worker

INFLUXDB_URL = "http://127.0.0.1:8086"


def client_events(count: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=1)
    events: list[dict[str, Any]] = []
    for index in range(count):
        student = rng.randrange(100)
        notebook = rng.randrange(3)
        cell = rng.randrange(20)
        roll = rng.random()
        base = {
            "eventId": str(uuid.uuid4()),
            "eventTime": (start + timedelta(milliseconds=index * 7)).isoformat(),
            "emailAddress": f"student{student}@example.edu",
            "userName": f"Student {student}",
            "teamName": f"team-{student % 10}",
            "sessionId": f"session-{student}",
            "notebookPath": f"course/lesson{notebook}.ipynb",
        }
        if roll < 0.02:
            base["eventType"] = rng.choice(["help", "help_stop"])
        elif roll < 0.05:
            base["eventType"] = rng.choice(["notebook_opened", "notebook_saved"])
        else:
            error = rng.random() < 0.2
            base.update(
                {
                    "eventType": "cell_executed",
                    "cellId": f"cell-{notebook}-{cell}",
                    "cellIndex": cell,
                    "cellType": "code",
                    "code": f"x = {cell}\nprint(x * {student})\n" * 3,
                    "executionCount": index % 50,
                    "hasError": error,
                    "errorMessage": "NameError: name 'y' is not defined" if error else None,
                    "result": None if error else str(cell * student),
                    "executionDurationMs": rng.randrange(1, 500),
                }
            )
        events.append(base)
    return events


def time_steps(worker: Worker, backends: Any) -> dict[str, float]:
    """Wrap each step of a batch to add up its wall time (shared by every worker)."""
    totals: dict[str, float] = {}

    def wrap(owner: Any, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                totals[label] = totals.get(label, 0.0) + time.perf_counter() - began

        setattr(owner, attribute, timed)

    wrap(backends.queue, "claim", "claim")
    wrap(BatchProcessor, "process", "record (transaction)")
    wrap(backends.timeseries, "write", "time-series write")
    wrap(backends.queue, "ack", "ack")
    wrap(backends.bus, "publish", "publish")
    for name in (
        "resolve_ids",
        "resolve_notebooks",
        "resolve_cells",
        "insert_executions",
        "insert_accesses",
        "insert_progress_events",
        "merge_students",
        "merge_sessions",
        "update_cell_states",
        "enrollments",
    ):
        wrap(repository, name, f"  sql {name}")
    return totals


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_of(program: str) -> list[int]:
    found = subprocess.run(["pgrep", "-x", program], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


async def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the database."""
    connection = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", database
        )
    finally:
        await connection.close()
    return {row["pid"]: cpu_seconds(row["pid"]) for row in rows}


async def service_cpu(database: str, mode: str) -> dict[str, float]:
    """CPU seconds so far of what serves the worker: its PostgreSQL backends (the machine's
    other users have their own), and influxd and redis-server (shared: read with care)."""
    if mode == "sqlite":
        return {}
    backends = await backend_cpu(database)
    return {
        **{f"postgres {pid}": seconds for pid, seconds in backends.items()},
        "influxd": sum(cpu_seconds(pid) for pid in pids_of("influxd")),
        "redis": sum(cpu_seconds(pid) for pid in pids_of("redis-server")),
    }


def service_report(before: dict[str, float], after: dict[str, float], events: int) -> str:
    used: dict[str, float] = {}
    for key, seconds in after.items():
        name = key.split()[0]
        used[name] = used.get(name, 0.0) + seconds - before.get(key, 0.0)
    return ", ".join(f"{name} {seconds / events * 1e6:.1f}" for name, seconds in used.items())


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def drain_in_processes(
    database: str, args: argparse.Namespace, values: dict[str, Any]
) -> tuple[float, float, dict[str, float], dict[str, float]]:
    """Wall seconds and summed worker CPU seconds of --processes processes draining the
    queue, and the services' CPU before and after (read while the processes are connected)."""
    context = multiprocessing.get_context("spawn")
    go, leave = context.Event(), context.Event()
    ready = [context.Event() for _ in range(args.processes)]
    pipes = [context.Pipe(duplex=False) for _ in range(args.processes)]
    children = [
        context.Process(
            target=drain_in_child, args=(values, args.concurrency, ready[n], go, leave, pipes[n][1])
        )
        for n in range(args.processes)
    ]
    for child in children:
        child.start()
    try:
        for event in ready:
            await asyncio.to_thread(event.wait, 60)
        services_before = await service_cpu(database, args.mode)
        started = time.perf_counter()
        go.set()
        cpu = sum([await asyncio.to_thread(receiving.recv) for receiving, _ in pipes])
        elapsed = time.perf_counter() - started
        services_after = await service_cpu(database, args.mode)
    finally:
        leave.set()
        for child in children:
            child.join(30)
    return elapsed, cpu, services_before, services_after


def drain_in_child(
    values: dict[str, Any],
    concurrency: int,
    ready: Event,
    go: Event,
    leave: Event,
    report: Connection,
) -> None:
    tune_garbage_collector()
    asyncio.run(drain_child(Settings(**values), concurrency, ready, go, leave, report))


async def drain_child(
    settings: Settings, concurrency: int, ready: Event, go: Event, leave: Event, report: Connection
) -> None:
    """Connect, wait for `go`, drain, report the CPU seconds it took; stay connected (so
    that the parent can read the CPU of this process's PostgreSQL backends) until `leave`."""
    database = Database(settings)
    backends = build_backends(settings, database)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(database.dispose)
        await backends.start(stack)
        workers = [Worker(database, backends, settings) for _ in range(concurrency)]
        async with database.sessions() as session:
            await session.execute(select(1))
        ready.set()
        await asyncio.to_thread(go.wait)
        cpu_started = time.process_time()
        await asyncio.gather(*(worker.drain() for worker in workers))
        report.send(time.process_time() - cpu_started)
        await asyncio.to_thread(leave.wait)


async def run(args: argparse.Namespace) -> None:
    name = f"cellmon_profile_{uuid.uuid4().hex[:10]}"
    values: dict[str, Any] = {
        "CELLMON_WORKER_BATCH_SIZE": args.batch_size,
        "CELLMON_RUN_WORKER_IN_SERVER": False,
    }
    tmp = tempfile.TemporaryDirectory()
    if args.mode == "sqlite":
        values["CELLMON_DATA_DIR"] = Path(tmp.name)
    else:
        await admin(f'CREATE DATABASE "{name}"')
        values.update(
            POSTGRES_SERVER="127.0.0.1",
            POSTGRES_USER="postgres",
            POSTGRES_DB=name,
            REDIS_HOST="127.0.0.1",
            CELLMON_REDIS_PREFIX=name,
        )
    if args.mode == "pg-influx":
        values.update(INFLUXDB_URL=INFLUXDB_URL, INFLUXDB_API_VERSION=1, INFLUXDB_BUCKET=name)
    settings = Settings(**values)
    try:
        migrate.upgrade(settings.database_url)
        database = Database(settings)
        backends = build_backends(settings, database)
        async with AsyncExitStack() as stack:
            stack.push_async_callback(database.dispose)
            await backends.start(stack)
            events = EVENT_LIST.validate_python(client_events(args.events))
            moment = datetime.now(UTC)
            bodies = [
                queue_body(events[offset : offset + args.per_request], moment, 65536)
                for offset in range(0, len(events), args.per_request)
            ]
            for offset in range(0, len(bodies), 1000):
                await backends.queue.enqueue(bodies[offset : offset + 1000])
            if args.processes:
                elapsed, cpu, services_before, services_after = await drain_in_processes(
                    name, args, values
                )
                steps: dict[str, float] = {}
            else:
                workers = [Worker(database, backends, settings) for _ in range(args.concurrency)]
                steps = time_steps(workers[0], backends) if args.steps else {}
                profiler = cProfile.Profile() if args.profile else None
                services_before = await service_cpu(name, args.mode)
                started = time.perf_counter()
                cpu_started = time.process_time()
                if profiler:
                    profiler.enable()
                await asyncio.gather(*(worker.drain() for worker in workers))
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
                services_after = await service_cpu(name, args.mode)
                if profiler:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
            async with database.sessions() as session:
                executions = await session.scalar(select(func.count()).select_from(CellExecution))
                progress = await session.scalar(select(func.count()).select_from(ProgressEvent))
            print(
                f"{args.mode}: {args.events} events in {elapsed:.2f}s = "
                f"{args.events / elapsed:,.0f} events/s, worker CPU {cpu:.2f}s = "
                f"{args.events / cpu:,.0f} events per CPU-second "
                f"(executions {executions}, progress events {progress}, "
                f"{args.per_request} per request, batch {args.batch_size}, "
                f"concurrency {args.concurrency}, processes {args.processes or 'this one'})"
            )
            print(
                f"  CPU-µs per event: worker {cpu / args.events * 1e6:.1f}"
                + (", " if services_after else "")
                + service_report(services_before, services_after, args.events)
            )
            for step, seconds in steps.items():
                print(f"  {step}: {seconds:.2f}s")
    finally:
        if args.mode != "sqlite":
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            client = Redis(host="127.0.0.1")
            await client.delete(f"{name}:events")
            await client.aclose()
        if args.mode == "pg-influx":
            async with httpx.AsyncClient() as http:
                await http.post(f"{INFLUXDB_URL}/query", data={"q": f'DROP DATABASE "{name}"'})
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["pg-sql", "pg-influx", "sqlite"])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--per-request", type=int, default=1, help="events per queued body")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1, help="workers per process")
    parser.add_argument(
        "--processes", type=int, default=0, help="worker processes (default: this one)"
    )
    parser.add_argument("--profile", help="write the drain's cProfile stats to this file")
    parser.add_argument("--steps", action="store_true", help="print the time of each step")
    args = parser.parse_args()
    # As `cellmon worker` runs.
    tune_garbage_collector()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

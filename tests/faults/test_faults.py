"""Fault tests: take a service or a process away in the middle of a stream of events, bring it
back, and prove that every event the server accepted (answered 202) is recorded exactly once:
one `cell_executions` row and one time-series point per eventId, nothing extra, nothing
dead-lettered, nothing left in the queue.

Each test runs real `cellmon serve` / `cellmon worker` processes against private PostgreSQL,
Redis and InfluxDB servers (tests/faults/services.py) that it may kill, and drives them with
the real client's events, retried the way the client retries them (tests/faults/load.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from tests.faults.checks import (
    by_event_id,
    compare,
    eventually,
    influxdb_execution_counts,
    postgres_count,
    postgres_executions,
    postgres_points_pending,
    redis_pending_per_consumer,
    redis_stale_pending,
    sqlite_executions,
    sqlite_point_execution_counts,
    sqlite_rows,
    wait_for_records,
)
from tests.faults.conftest import FaultInfluxDB, FaultPostgres, FaultRedis, Processes
from tests.faults.load import WITHOUT_RETRY_AFTER, LoadDriver
from tests.faults.processes import CellmonProcess, CellmonServer, cellmon_env

pytestmark = pytest.mark.slow

T = TypeVar("T")

EVENTS = 3000
LEASE_MS = 2000
# Short leases and retry intervals, so that recovery takes seconds, not minutes.
FAST_RECOVERY = {
    "CELLMON_QUEUE_LEASE_SECONDS": str(LEASE_MS / 1000),
    "CELLMON_WORKER_BATCH_SIZE": "100",
    "CELLMON_WORKER_RETRY_BASE_SECONDS": "0.05",
    "CELLMON_INFLUXDB_RETRY_SECONDS": "0.05",
    "CELLMON_INFLUXDB_TIMEOUT_SECONDS": "2",
    "CELLMON_INFLUXDB_PENDING_INTERVAL_SECONDS": "0.5",
    "CELLMON_INFLUXDB_PENDING_MAX_SECONDS": "2",
    "PYTHONUNBUFFERED": "1",
}
# Where the Redis queue keeps its entries (cellmon/core/queue/redis_stream.py).
STREAM_SUFFIX = ":events"
CONSUMER_GROUP = "workers"
WORKER_STARTED = "worker started"
WORKER_STOPPED = "worker stopped"
WAIT_SECONDS = 60.0


async def within(awaitable: Awaitable[T], what: str, driver: LoadDriver) -> T:
    """Await with a deadline, failing with what the driver saw (never hang the suite)."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            return await awaitable
    except TimeoutError:
        raise AssertionError(
            f"{what}: not within {WAIT_SECONDS:.0f} s; {driver.summary()}"
        ) from None


@dataclass
class ProductionStack:
    """PostgreSQL + Redis + InfluxDB, one `cellmon serve`, two `cellmon worker`s."""

    postgres: FaultPostgres
    redis: FaultRedis
    influxdb: FaultInfluxDB
    server: CellmonServer
    workers: list[CellmonProcess]
    driver: LoadDriver
    processes: Processes
    env: dict[str, str]

    @property
    def stream(self) -> str:
        return self.redis.prefix + STREAM_SUFFIX

    async def pending_per_consumer(self) -> dict[str, int]:
        return await redis_pending_per_consumer(self.redis.port, self.stream, CONSUMER_GROUP)

    async def consumers_of(self, worker: CellmonProcess) -> list[str]:
        # Consumer names carry the worker's pid (cellmon/worker/runner.py: consumer_name).
        return [name for name in await self.pending_per_consumer() if f"-{worker.pid}-" in name]

    def post(self, count: int) -> asyncio.Task[None]:
        return self.driver.start(count)

    async def start_workers(self, *names: str) -> list[CellmonProcess]:
        """New `cellmon worker`s, once they run (fails with the output of one that stops)."""
        started = [self.processes.worker(self.env, name) for name in names]

        async def running() -> bool:
            for worker in started:
                if not worker.is_running():
                    raise AssertionError(f"{worker.name} exited:\n{worker.output()}")
            return all(WORKER_STARTED in worker.log.read_text() for worker in started)

        # A worker that is still starting when a test takes Redis away would stop at its
        # start-up check: tests go on once it has said that it runs (cellmon/worker/runner.py).
        await eventually(running, f"{', '.join(names)} started")
        self.workers += started
        return started


@pytest.fixture
async def production(
    fault_postgres: FaultPostgres,
    fault_redis: FaultRedis,
    fault_influxdb: FaultInfluxDB,
    processes: Processes,
    make_driver: Callable[[Sequence[str]], LoadDriver],
    tmp_path: Path,
) -> ProductionStack:
    env = cellmon_env(
        data_dir=tmp_path / "data",
        postgres_port=fault_postgres.port,
        postgres_db=fault_postgres.database,
        redis_port=fault_redis.port,
        redis_prefix=fault_redis.prefix,
        influxdb_url=fault_influxdb.url,
        influxdb_database=fault_influxdb.database,
        extra=FAST_RECOVERY,
    )
    server = processes.server(env)
    stack = ProductionStack(
        fault_postgres,
        fault_redis,
        fault_influxdb,
        server,
        [],
        make_driver([server.url]),
        processes,
        env,
    )
    await stack.start_workers("worker-1", "worker-2")
    return stack


async def assert_rows_recorded_exactly_once(stack: ProductionStack) -> None:
    """Every accepted event has its one cell_executions row in PostgreSQL."""
    driver, postgres = stack.driver, stack.postgres
    recorded = await wait_for_records(
        lambda: postgres_executions(postgres.port, postgres.database), driver.accepted
    )
    rows = compare("cell_executions", recorded, driver.accepted, driver.sent)
    assert rows.ok, str(rows)


async def assert_recorded_exactly_once(stack: ProductionStack) -> None:
    driver, postgres, influxdb = stack.driver, stack.postgres, stack.influxdb
    assert not driver.rejected, f"the server refused good events: {driver.summary()}"
    assert len(driver.accepted) == len(driver.sent)

    await assert_rows_recorded_exactly_once(stack)

    async def queue_drained() -> bool:
        return sum((await stack.pending_per_consumer()).values()) == 0

    async def points_written() -> bool:
        return await postgres_points_pending(postgres.port, postgres.database) == 0

    await eventually(queue_drained, "every queue entry acknowledged")
    await eventually(points_written, "every pending time-series write delivered")

    async def influxdb_points() -> Counter[str]:
        counts = await asyncio.to_thread(
            influxdb_execution_counts, influxdb.server, influxdb.database
        )
        return by_event_id(counts, driver.sent)

    points = compare(
        "InfluxDB student_progress",
        await wait_for_records(influxdb_points, driver.accepted),
        driver.accepted,
        driver.sent,
    )
    assert points.ok, str(points)
    assert await postgres_count(postgres.port, postgres.database, "dead_letters") == 0


async def freeze_while_holding(
    process: CellmonProcess, holding: Callable[[], Awaitable[int]], driver: LoadDriver
) -> int:
    """Stop the process at a moment when it holds claimed, unacknowledged entries.

    Returns with the process stopped (SIGSTOP) and the number of entries it holds; the caller
    kills it. Stopping first makes "in the middle of a batch" certain instead of likely.
    """

    async def attempt() -> int:
        while True:
            os.kill(process.pid, signal.SIGSTOP)
            held = await holding()
            if held:
                return held
            os.kill(process.pid, signal.SIGCONT)
            await asyncio.sleep(0.01)

    return await within(attempt(), f"{process.name} holding queue entries", driver)


async def _worker_frozen_holding(
    production: ProductionStack, victim: CellmonProcess
) -> tuple[asyncio.Task[None], int, list[str]]:
    """Events streaming in, and `victim` frozen while its consumers hold claimed entries: the
    stream, how many entries it holds, and its consumer names."""
    driver = production.driver
    stream = production.post(EVENTS)
    await within(driver.wait_accepted(EVENTS // 3), "a third of the events accepted", driver)

    async def victim_holds() -> int:
        pending = await production.pending_per_consumer()
        return sum(pending[name] for name in await production.consumers_of(victim))

    held = await freeze_while_holding(victim, victim_holds, driver)
    return stream, held, await production.consumers_of(victim)


async def test_kill_9_a_worker_mid_stream(production: ProductionStack) -> None:
    driver = production.driver
    victim, survivor = production.workers
    stream, held, victim_consumers = await _worker_frozen_holding(production, victim)
    victim.kill()
    assert held > 0

    await within(stream, "every event accepted", driver)
    await assert_recorded_exactly_once(production)
    # The survivor took over what the dead worker had claimed.
    pending = await production.pending_per_consumer()
    assert all(pending[name] == 0 for name in victim_consumers)
    assert survivor.is_running()


async def test_restart_redis_mid_stream(production: ProductionStack) -> None:
    driver, redis = production.driver, production.redis.server
    first = production.post(EVENTS // 2)
    await within(driver.wait_accepted(EVENTS // 4), "a quarter of the events accepted", driver)

    await asyncio.to_thread(redis.kill)
    refused_before = driver.outcomes["503"]
    second = production.post(EVENTS // 2)
    # While Redis is down the API answers 503 (the client retries), never 202 or 500.
    await within(driver.wait_outcome("503", refused_before + 20), "503 while Redis is down", driver)
    await asyncio.to_thread(redis.start)

    await within(asyncio.gather(first, second), "every event accepted", driver)
    assert all(worker.is_running() for worker in production.workers)
    assert driver.outcomes["500"] == 0, driver.summary()
    assert driver.outcomes[WITHOUT_RETRY_AFTER] == 0, driver.summary()
    await assert_recorded_exactly_once(production)


async def test_freeze_redis_mid_stream(production: ProductionStack) -> None:
    """Redis hangs (SIGSTOP): connections stay open, nothing answers. XADDs that the API gave
    up on (503) may still be applied when Redis resumes, so the client's retry queues the same
    events twice: the second copy must change nothing."""
    driver, redis = production.driver, production.redis.server
    first = production.post(EVENTS // 2)
    await within(driver.wait_accepted(EVENTS // 4), "a quarter of the events accepted", driver)

    redis.freeze()
    refused_before = driver.outcomes["503"]
    second = production.post(EVENTS // 2)
    await within(
        driver.wait_outcome("503", refused_before + driver.concurrency),
        "503 while Redis hangs",
        driver,
    )
    redis.thaw()

    await within(asyncio.gather(first, second), "every event accepted", driver)
    assert all(worker.is_running() for worker in production.workers)
    assert driver.outcomes["500"] == 0, driver.summary()
    await assert_recorded_exactly_once(production)


# "stop": InfluxDB refuses connections; "freeze" (SIGSTOP): it accepts them and never answers.
@pytest.mark.parametrize("outage", ["stop", "freeze"])
async def test_influxdb_away_for_a_while(production: ProductionStack, outage: str) -> None:
    driver, influxdb, postgres = production.driver, production.influxdb, production.postgres
    first = production.post(EVENTS // 2)
    await within(driver.wait_accepted(EVENTS // 4), "a quarter of the events accepted", driver)

    if outage == "stop":
        await asyncio.to_thread(influxdb.server.stop)
    else:
        influxdb.server.freeze()
    second = production.post(EVENTS // 2)
    await within(asyncio.gather(first, second), "every event accepted", driver)

    # With InfluxDB still away, PostgreSQL gets every row and the points wait in the table.
    await assert_rows_recorded_exactly_once(production)
    assert await postgres_points_pending(postgres.port, postgres.database) > 0

    if outage == "stop":
        assert not influxdb.server.is_running()
        await asyncio.to_thread(influxdb.server.start)
    else:
        influxdb.server.thaw()
    await assert_recorded_exactly_once(production)


async def test_restart_cellmon_while_influxdb_is_down(production: ProductionStack) -> None:
    """InfluxDB is a store that may lag (points wait in the pending table): while it is down,
    a crashed API process or worker must be able to start again, or the API stays down and
    the clients, which give up after 3 retries, lose their events."""
    driver, influxdb = production.driver, production.influxdb
    first = production.post(EVENTS // 2)
    await within(driver.wait_accepted(EVENTS // 4), "a quarter of the events accepted", driver)

    await asyncio.to_thread(influxdb.server.stop)
    for process in [production.server, *production.workers]:
        process.kill()
    await asyncio.to_thread(production.server.start)
    await production.start_workers("worker-3")
    second = production.post(EVENTS // 2)
    await within(asyncio.gather(first, second), "every event accepted", driver)

    await assert_rows_recorded_exactly_once(production)
    assert not influxdb.server.is_running()

    await asyncio.to_thread(influxdb.server.start)
    await assert_recorded_exactly_once(production)


# "fast" is an operator's restart (clients cut off); "immediate" is a crash (recovery at start).
@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_stop_postgres_for_a_while(production: ProductionStack, mode: str) -> None:
    driver, postgres = production.driver, production.postgres
    first = production.post(EVENTS // 2)
    await within(driver.wait_accepted(EVENTS // 4), "a quarter of the events accepted", driver)

    await asyncio.to_thread(postgres.server.stop, mode)
    accepted_at_stop = len(driver.accepted)
    second = production.post(EVENTS // 2)
    # The queue is Redis: the API keeps accepting while PostgreSQL is down.
    await within(
        driver.wait_accepted(accepted_at_stop + EVENTS // 4),
        "events accepted while PostgreSQL is down",
        driver,
    )

    # Stay down until claimed entries are older than the lease: when PostgreSQL returns, the
    # worker retrying a batch and a worker reclaiming the same entries race to record them.
    async def lease_expired() -> bool:
        stale = await redis_stale_pending(
            production.redis.port, production.stream, CONSUMER_GROUP, LEASE_MS
        )
        return stale > 0

    await eventually(lease_expired, "claimed entries held past the lease")
    assert not postgres.server.is_running()
    await asyncio.to_thread(postgres.server.start)

    await within(asyncio.gather(first, second), "every event accepted", driver)
    await assert_recorded_exactly_once(production)
    assert all(worker.is_running() for worker in production.workers)


@dataclass
class EmbeddedRun:
    server: CellmonServer
    driver: LoadDriver
    stream: asyncio.Task[None]
    database: Path
    held: int

    async def claimed_entries(self) -> int:
        rows = await asyncio.to_thread(
            sqlite_rows,
            self.database,
            "SELECT count(*) FROM queue_entries WHERE claimed_by IS NOT NULL",
        )
        return int(str(rows[0][0]))


async def _embedded_server_holding_claims(
    processes: Processes,
    make_driver: Callable[[Sequence[str]], LoadDriver],
    tmp_path: Path,
    sqlite_template: Path,
) -> EmbeddedRun:
    """`cellmon serve` on SQLite under load, frozen while its worker holds claimed entries."""
    data_dir = tmp_path / "embedded"
    data_dir.mkdir()
    database = data_dir / "cellmon.db"
    shutil.copyfile(sqlite_template, database)
    server = processes.server(cellmon_env(data_dir=data_dir, extra=FAST_RECOVERY))
    driver = make_driver([server.url])
    stream = driver.start(EVENTS)
    await within(driver.wait_accepted(EVENTS // 3), "a third of the events accepted", driver)
    run = EmbeddedRun(server, driver, stream, database, held=0)
    run.held = await freeze_while_holding(server, run.claimed_entries, driver)
    return run


async def test_kill_9_the_embedded_server_mid_stream(
    processes: Processes,
    make_driver: Callable[[Sequence[str]], LoadDriver],
    tmp_path: Path,
    sqlite_template: Path,
) -> None:
    """`cellmon serve` alone: SQLite, the queue table and the worker in the server process."""
    run = await _embedded_server_holding_claims(processes, make_driver, tmp_path, sqlite_template)
    server, driver, stream, database, held = (
        run.server,
        run.driver,
        run.stream,
        run.database,
        run.held,
    )
    server.kill()
    assert held > 0
    await asyncio.to_thread(server.start)

    await within(stream, "every event accepted", driver)
    recorded = await wait_for_records(lambda: sqlite_executions(database), driver.accepted)
    rows = compare("cell_executions", recorded, driver.accepted, driver.sent)
    assert rows.ok, str(rows)

    async def queue_empty() -> bool:
        rows = await asyncio.to_thread(sqlite_rows, database, "SELECT count(*) FROM queue_entries")
        return rows[0][0] == 0

    await eventually(queue_empty, "every queue entry acknowledged")

    async def points() -> Counter[str]:
        return by_event_id(await sqlite_point_execution_counts(database), driver.sent)

    stored = compare(
        "timeseries_points",
        await wait_for_records(points, driver.accepted),
        driver.accepted,
        driver.sent,
    )
    assert stored.ok, str(stored)
    dead = await asyncio.to_thread(sqlite_rows, database, "SELECT count(*) FROM dead_letters")
    assert dead[0][0] == 0


# uvicorn's line when requests were still running at the end of the graceful-shutdown window.
CANCELLED_IN_FLIGHT = "timeout graceful shutdown exceeded"
STOP_WITHIN_SECONDS = 40.0
# uvicorn's last line once connections and the lifespan (the in-server worker) are closed.
SERVER_FINISHED = "Finished server process"


def assert_stopped_cleanly(server: CellmonServer, status: int | None) -> None:
    """Ended within the window, through its shutdown, with no request cut short. uvicorn
    raises the signal again once it has shut down, so the status is that of SIGTERM."""
    assert status in (0, -signal.SIGTERM), server.output()
    log = server.log.read_text()
    assert SERVER_FINISHED in log, server.output()
    assert CANCELLED_IN_FLIGHT not in log, server.output()


async def test_sigterm_to_the_server_under_load_loses_no_accepted_event(
    production: ProductionStack,
) -> None:
    """The server stops taking requests, answers those in flight and exits 0; every event it
    accepted is recorded once (the clients retry the others on the server that replaces it)."""
    driver, server = production.driver, production.server
    stream = production.post(EVENTS)
    await within(driver.wait_accepted(EVENTS // 3), "a third of the events accepted", driver)

    server.send(signal.SIGTERM)
    status = await asyncio.to_thread(server.wait, STOP_WITHIN_SECONDS)
    assert_stopped_cleanly(server, status)
    accepted_by_the_first = len(driver.accepted)
    assert accepted_by_the_first < EVENTS

    await asyncio.to_thread(server.start)
    await within(stream, "every event accepted", driver)
    assert driver.outcomes["500"] == 0, driver.summary()
    await assert_recorded_exactly_once(production)


async def test_sigterm_to_a_worker_finishes_the_batches_it_holds(
    production: ProductionStack,
) -> None:
    driver = production.driver
    victim, survivor = production.workers
    stream, held, victim_consumers = await _worker_frozen_holding(production, victim)
    victim.send(signal.SIGTERM)
    victim.send(signal.SIGCONT)
    status = await asyncio.to_thread(victim.wait, STOP_WITHIN_SECONDS)
    assert held > 0
    assert status == 0, victim.output()
    # Finished and acknowledged before exiting, not left for another worker after the lease.
    pending = await production.pending_per_consumer()
    assert all(pending[name] == 0 for name in victim_consumers), pending
    assert WORKER_STOPPED in victim.log.read_text()

    await within(stream, "every event accepted", driver)
    await assert_recorded_exactly_once(production)
    assert survivor.is_running()


async def test_sigterm_to_the_embedded_server_finishes_its_workers_batch(
    processes: Processes,
    make_driver: Callable[[Sequence[str]], LoadDriver],
    tmp_path: Path,
    sqlite_template: Path,
) -> None:
    """`cellmon serve` alone, its worker inside: SIGTERM while the worker holds claimed rows
    leaves none claimed, and nothing accepted is lost."""
    run = await _embedded_server_holding_claims(processes, make_driver, tmp_path, sqlite_template)
    server, driver, stream, database, held = (
        run.server,
        run.driver,
        run.stream,
        run.database,
        run.held,
    )
    server.send(signal.SIGTERM)
    server.send(signal.SIGCONT)
    status = await asyncio.to_thread(server.wait, STOP_WITHIN_SECONDS)
    assert held > 0
    assert_stopped_cleanly(server, status)
    # Stopped (its batch in hand finished), not cancelled with the server's other tasks.
    assert WORKER_STOPPED in server.log.read_text()
    assert await run.claimed_entries() == 0

    await asyncio.to_thread(server.start)
    await within(stream, "every event accepted", driver)
    recorded = await wait_for_records(lambda: sqlite_executions(database), driver.accepted)
    rows = compare("cell_executions", recorded, driver.accepted, driver.sent)
    assert rows.ok, str(rows)
    dead = await asyncio.to_thread(sqlite_rows, database, "SELECT count(*) FROM dead_letters")
    assert dead[0][0] == 0

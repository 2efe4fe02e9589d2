"""WebSocket benchmark (issue 4): idle subscribers on one server process, memory per
connection, fan-out time to the last subscriber, and event-to-instructor latency at a steady
event rate — cellmon (production stack) beside a bare FastAPI broadcast, in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.events import cell_executed, student_email
from bench.httpclient import HttpPool
from bench.stack import (
    ROOT,
    Credentials,
    InfluxServer,
    Process,
    Stack,
    baseline_server,
    cellmon_server,
    cellmon_workers,
    free_port,
    processes,
)
from bench.stats import percentile

CLIENT_PROCESSES = 4
FANOUT_STUDENT = 0  # every idle subscriber follows this student's progress channel
INSTRUCTOR_STUDENTS = range(1, 51)  # the instructor follows these fifty students


@dataclass(frozen=True)
class Options:
    levels: tuple[int, ...]
    rounds: int
    rate: int  # events/s for the instructor latency
    rate_seconds: int


FULL = Options(levels=(1000, 5000, 10000), rounds=10, rate=1000, rate_seconds=10)
QUICK = Options(levels=(200, 1000), rounds=5, rate=1000, rate_seconds=3)


def token() -> str:
    """An id every client recognises (bench.ws_clients.TOKEN), valid as a UUID v4."""
    return "be0c4e00" + str(uuid.uuid4())[8:]


@dataclass
class LevelFigures:
    subscribers: int
    connected: int
    server_rss: int
    rss_per_connection: float
    broadcast_ms: list[float] = field(default_factory=list)
    event_ms: list[float] = field(default_factory=list)
    incomplete_rounds: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscribers": self.subscribers,
            "connected": self.connected,
            "server_rss_mib": round(self.server_rss / 2**20, 1),
            "kib_per_connection": round(self.rss_per_connection / 1024, 1),
            "broadcast_p50_ms": percentile(self.broadcast_ms, 0.5),
            "broadcast_p99_ms": percentile(self.broadcast_ms, 0.99),
            "event_p50_ms": percentile(self.event_ms, 0.5),
            "event_p99_ms": percentile(self.event_ms, 0.99),
            "incomplete_rounds": self.incomplete_rounds,
        }


@dataclass
class TargetFigures:
    target: str
    idle_rss: int = 0
    levels: list[LevelFigures] = field(default_factory=list)
    instructor_p50_ms: float = float("nan")
    instructor_p99_ms: float = float("nan")
    instructor_sent: int = 0
    instructor_received: int = 0
    instructor_rate: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "idle_rss_mib": round(self.idle_rss / 2**20, 1),
            "levels": [level.as_dict() for level in self.levels],
            "instructor_p50_ms": self.instructor_p50_ms,
            "instructor_p99_ms": self.instructor_p99_ms,
            "instructor_sent": self.instructor_sent,
            "instructor_received": self.instructor_received,
            "instructor_rate": self.instructor_rate,
        }


class ClientProcess:
    """One bench.ws_clients process, with its own source address on the loopback."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(
        cls, port: int, channels: list[str], index: int, credentials: Credentials | None
    ) -> ClientProcess:
        env = dict(os.environ)
        if credentials is not None:
            env["BENCH_WS_TOKEN"] = credentials.token
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.ws_clients",
            f"ws://127.0.0.1:{port}/ws",
            orjson.dumps(channels).decode(),
            f"127.0.0.{11 + index}",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
            limit=2**26,
        )
        return cls(process)

    async def ask(self, request: dict[str, Any], seconds: float = 300) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(orjson.dumps(request) + b"\n")
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), seconds)
        if not line:
            raise RuntimeError("a subscriber process exited")
        answer: dict[str, Any] = orjson.loads(line)
        return answer

    async def stop(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, BrokenPipeError, ConnectionResetError):
            await self.ask({"cmd": "close"}, seconds=60)
        if self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def _events_path(credentials: Credentials | None) -> str:
    """cellmon's events URL carries the run's class key; the baseline takes events as they are."""
    return credentials.events_path if credentials is not None else "/api/v1/events"


async def _post_events(pool: HttpPool, events: list[dict[str, Any]], path: str) -> None:
    status, answer = await pool.post(path, orjson.dumps(events))
    if status != 202:
        raise RuntimeError(f"POST /api/v1/events answered {status}: {answer[:300]!r}")


async def _wait_delivered(
    clients: list[ClientProcess], mark: str, expected: int, sent_at: float, wait: float
) -> float | None:
    """Milliseconds from `sent_at` to the last of `expected` deliveries of `mark`, or None."""
    deadline = time.monotonic() + wait
    while True:
        answers = await asyncio.gather(
            *(client.ask({"cmd": "report", "tokens": [mark]}) for client in clients)
        )
        seen = [answer["tokens"][mark] for answer in answers if mark in answer["tokens"]]
        if sum(item[0] for item in seen) >= expected:
            return (max(item[2] for item in seen) - sent_at) * 1000
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.05)


async def _instructor_latency(
    port: int,
    options: Options,
    figures: TargetFigures,
    channels: list[str],
    log: Any,
    credentials: Credentials | None,
) -> None:
    instructor = await ClientProcess.start(port, channels, CLIENT_PROCESSES, credentials)
    events_path = _events_path(credentials)
    try:
        answer = await instructor.ask({"cmd": "connect", "count": 1})
        if answer["connected"] != 1:
            raise RuntimeError(f"the instructor could not subscribe: {answer}")
        pool = HttpPool(port, 64)
        await pool.open()
        sent: dict[str, float] = {}
        failures = 0
        total = options.rate * options.rate_seconds

        async def send(sequence: int) -> None:
            nonlocal failures
            student = INSTRUCTOR_STUDENTS[sequence % len(INSTRUCTOR_STUDENTS)]
            mark = token()
            event = cell_executed(sequence, student=student, eventId=mark)
            event["code"] = f"# {mark}\n" + event["code"]
            sent[mark] = time.monotonic()
            try:
                await _post_events(pool, [event], events_path)
            except (RuntimeError, OSError):
                failures += 1
                del sent[mark]

        started = time.monotonic()
        tasks = []
        for sequence in range(total):
            delay = started + sequence / options.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(sequence)))
        await asyncio.gather(*tasks)
        figures.instructor_rate = total / (time.monotonic() - started)
        await pool.close()
        # Let the last events travel through the pipeline, then collect.
        deadline = time.monotonic() + 30
        latencies: list[float] = []
        received: dict[str, float] = {}
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            received.update((await instructor.ask({"cmd": "times"}))["tokens"])
            if all(mark in received for mark in sent):
                break
        latencies = [(received[mark] - at) * 1000 for mark, at in sent.items() if mark in received]
        figures.instructor_sent = len(sent)
        figures.instructor_received = len(latencies)
        figures.instructor_p50_ms = percentile(latencies, 0.5)
        figures.instructor_p99_ms = percentile(latencies, 0.99)
        log(
            f"  instructor at {figures.instructor_rate:,.0f} events/s: p50 "
            f"{figures.instructor_p50_ms:.1f} ms, p99 {figures.instructor_p99_ms:.1f} ms "
            f"({len(latencies)}/{len(sent)} delivered, {failures} failed posts)"
        )
    finally:
        await instructor.stop()


async def _fan_out(
    port: int,
    server: Process,
    options: Options,
    figures: TargetFigures,
    channels: list[str],
    log: Any,
    credentials: Credentials | None,
) -> None:
    clients = [
        await ClientProcess.start(port, channels, index, credentials)
        for index in range(CLIENT_PROCESSES)
    ]
    events_path = _events_path(credentials)
    # POST /api/v1/broadcast is for admins: the run's admin token (the baseline asks none).
    authorization = credentials.authorization if credentials is not None else None
    pool = HttpPool(port, 2)
    await pool.open()
    try:
        await asyncio.sleep(1)
        figures.idle_rss = server.rss()
        connected = 0
        for level in options.levels:
            wanted = level - connected
            share, extra = divmod(wanted, len(clients))
            answers = await asyncio.gather(
                *(
                    client.ask({"cmd": "connect", "count": share + (index < extra)})
                    for index, client in enumerate(clients)
                )
            )
            connected = sum(answer["connected"] for answer in answers)
            await asyncio.sleep(2)  # let the server settle before reading its memory
            rss = server.rss()
            figures_level = LevelFigures(
                level, connected, rss, (rss - figures.idle_rss) / max(connected, 1)
            )
            figures.levels.append(figures_level)
            for round_number in range(options.rounds):
                mark = token()
                sent_at = time.monotonic()
                status, answer = await pool.post(
                    "/api/v1/broadcast",
                    orjson.dumps({"message": f"bench {mark}"}),
                    authorization,
                )
                if status != 202:
                    raise RuntimeError(f"broadcast answered {status}: {answer[:300]!r}")
                took = await _wait_delivered(clients, mark, connected, sent_at, 30)
                if took is None:
                    figures_level.incomplete_rounds += 1
                else:
                    figures_level.broadcast_ms.append(took)
                mark = token()
                event = cell_executed(round_number, student=FANOUT_STUDENT, eventId=mark)
                event["code"] = f"# {mark}\n" + event["code"]
                sent_at = time.monotonic()
                await _post_events(pool, [event], events_path)
                took = await _wait_delivered(clients, mark, connected, sent_at, 30)
                if took is None:
                    figures_level.incomplete_rounds += 1
                else:
                    figures_level.event_ms.append(took)
                await asyncio.sleep(0.2)
            summary = figures_level.as_dict()
            log(
                f"  {connected:,} subscribers: {summary['kib_per_connection']} KiB each; "
                f"broadcast p50/p99 {summary['broadcast_p50_ms']:.0f}/"
                f"{summary['broadcast_p99_ms']:.0f} ms; event p50/p99 "
                f"{summary['event_p50_ms']:.0f}/{summary['event_p99_ms']:.0f} ms"
                + (
                    f"; {figures_level.incomplete_rounds} rounds incomplete"
                    if figures_level.incomplete_rounds
                    else ""
                )
            )
            if connected < level:
                log(f"  only {connected} of {level} subscribers connected; stopping here")
                break
    finally:
        await pool.close()
        for client in clients:
            await client.stop()


async def _seed_students(port: int, stack: Stack, credentials: Credentials) -> None:
    """The students the channels name must exist before anyone subscribes to them."""
    pool = HttpPool(port, 1)
    await pool.open()
    students = [FANOUT_STUDENT, *INSTRUCTOR_STUDENTS]
    seed = [cell_executed(-1 - s, student=s) for s in students]
    await _post_events(pool, seed, credentials.events_path)
    await pool.close()
    deadline = time.monotonic() + 60
    while (await stack.count_processed())[0] < len(students):
        if time.monotonic() > deadline:
            raise RuntimeError("the seed events were not processed within 60 s")
        await asyncio.sleep(0.2)


async def measure_cellmon(options: Options, influx: InfluxServer, log: Any) -> TargetFigures:
    figures = TargetFigures("cellmon (production stack, 1 worker)")
    log(f"websocket, {figures.target}:")
    stack = Stack("production", influx)
    await stack.create()
    try:
        port = free_port()
        server = cellmon_server(stack, port)
        workers = cellmon_workers(stack, 1)
        with processes(*workers, server):
            credentials = await asyncio.to_thread(stack.sign_in, port)
            await _seed_students(port, stack, credentials)
            await _instructor_latency(
                port,
                options,
                figures,
                [f"progress:{student_email(s)}" for s in INSTRUCTOR_STUDENTS],
                log,
                credentials,
            )
            await _fan_out(
                port,
                server,
                options,
                figures,
                ["broadcast", f"progress:{student_email(FANOUT_STUDENT)}"],
                log,
                credentials,
            )
    finally:
        await stack.destroy()
    return figures


async def measure_baseline(options: Options, log: Any) -> TargetFigures:
    figures = TargetFigures("bare FastAPI broadcast")
    log(f"websocket, {figures.target}:")
    port = free_port()
    server = baseline_server("ws", port)
    with processes(server):
        await _instructor_latency(port, options, figures, ["all"], log, None)
        await _fan_out(port, server, options, figures, ["all"], log, None)
    return figures


async def run(options: Options, influx: InfluxServer, log: Any) -> list[TargetFigures]:
    return [await measure_baseline(options, log), await measure_cellmon(options, influx, log)]


def summarize(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"

"""`cellmon simulate` as a load (issue 12): a lesson of 1,000 students against the production
stack, with the instructor's dashboard open in headless Chromium.

python -m bench.simulate_load [--students 1000] [--minutes 4.5] [--speed 1.5] [--seed 1]

The stack is bench/stack.py's production one: `cellmon serve` and one `cellmon worker` on
PostgreSQL, Redis Streams and InfluxDB, fresh stores dropped afterwards. The instructor (made
by the run's admin) makes the class and its ingest key; `cellmon simulate --key` (the real
command, a process of its own) plays the lesson into it. Measured while it runs:

- CPU: each process's CPU time over the run's wall time (server, worker, the services'
  processes — every PostgreSQL backend on the machine counts, so read those as an upper
  bound — and the load generator itself).
- Event → screen: the instructor signs in on /login and opens the class; every few seconds
  the benchmark posts a `help` event (one per request, as the extension) for one of its own
  probe students, enrolled beforehand, and the page's probe (bench/dashboard_probe.py) notes
  when that student entered Needs attention and the frame that showed it was painted. The
  figure is from just before the POST to that paint.

Prints its figures as JSON; they go into docs/benchmarks.md by hand, with the command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from playwright.async_api import Page, async_playwright

from bench import dashboard_probe as probe
from bench.__main__ import start_services
from bench.instructor_page import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    VIEWPORT,
    answer_json,
    bearer_token,
    check_chromium,
    open_class_page,
)
from bench.stack import (
    ADMIN_EMAIL,
    BIN,
    InfluxServer,
    Process,
    Stack,
    cellmon_server,
    cellmon_workers,
    cpu_seconds,
    free_port,
    processes,
    raise_open_files_limit,
    wait_workers,
)
from bench.stats import percentile

INSTRUCTOR = "simulate-instructor@example.org"
PROBES = 60
PROBE_EVERY_SECONDS = 2.0
# After the load, how long a probe may still take to show before it counts as never shown.
SETTLE_SECONDS = 10.0


def log(message: str) -> None:
    print(message, flush=True)


def epoch_ms() -> float:
    return time.time() * 1000


def probe_email(number: int) -> str:
    return f"probe{number:03d}@example.org"


def probe_event(email: str, event_type: str) -> dict[str, Any]:
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "emailAddress": email,
        "userName": f"Probe {email[5:8]}",
        "teamName": "プローブ",
        "sessionId": str(uuid.uuid5(uuid.NAMESPACE_URL, email)),
        "notebookPath": "lessons/week1_pandas.ipynb",
    }


class CpuClock:
    """CPU seconds of our processes and the services' since it was made."""

    def __init__(self, items: list[Process]) -> None:
        self.items = items
        self.started = time.monotonic()
        self.start = self._read()
        self.latest = dict(self.start)

    def _read(self) -> dict[tuple[str, int], float]:
        return cpu_seconds(self.items, services=True)

    def note(self) -> None:
        """Read now: a process that has exited by the end (the load generator, a PostgreSQL
        backend) keeps its last reading."""
        for process, seconds in self._read().items():
            self.latest[process] = max(seconds, self.latest.get(process, 0.0))

    def shares(self) -> dict[str, float]:
        """Per process group: % of one core over the wall time since the start."""
        self.note()
        wall = time.monotonic() - self.started
        used: dict[str, float] = {}
        for (group, pid), seconds in self.latest.items():
            used[group] = used.get(group, 0.0) + seconds - self.start.get((group, pid), 0.0)
        return {group: round(100 * spent / wall, 1) for group, spent in used.items()}


async def _class_with_probes(
    api: httpx.AsyncClient, password: str
) -> tuple[int, str, dict[str, int]]:
    """The instructor's class, its ingest key, and its probe students' ids by e-mail."""
    admin = await bearer_token(api, ADMIN_EMAIL, password)
    account = {"email": INSTRUCTOR, "password": password, "role": "instructor"}
    await answer_json(api.post("/api/v1/users", json=account, headers=admin))
    teacher = await bearer_token(api, INSTRUCTOR, password)
    klass = {"name": "Simulated lecture hall", "class_code": f"SIM-{uuid.uuid4().hex[:8]}"}
    class_id = (await answer_json(api.post("/api/v1/classes", json=klass, headers=teacher)))["id"]
    key_path = f"/api/v1/classes/{class_id}/ingest-keys"
    key = (await answer_json(api.post(key_path, json={}, headers=teacher)))["key"]
    for number in range(PROBES):
        opened = probe_event(probe_email(number), "notebook_opened")
        await answer_json(
            api.post("/api/v1/events", params={"key": key}, content=orjson.dumps([opened]))
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        roster = await answer_json(api.get(f"/api/v1/progress/classes/{class_id}", headers=teacher))
        ids = {row["email"]: row["id"] for row in roster["students"]}
        if len(ids) == PROBES:
            return class_id, key, ids
        await asyncio.sleep(0.2)
    raise RuntimeError("the probe students were not enrolled within 60 s")


def _simulate_command(port: int, key: str, args: argparse.Namespace) -> list[str]:
    return [
        str(BIN / "cellmon"),
        "simulate",
        "--url",
        f"http://127.0.0.1:{port}",
        "--key",
        key,
        "--students",
        str(args.students),
        "--minutes",
        str(args.minutes),
        "--speed",
        str(args.speed),
        "--seed",
        str(args.seed),
    ]


async def _probe_while(
    simulator: Process, api: httpx.AsyncClient, key: str, ids: dict[str, int], clock: CpuClock
) -> dict[str, float]:
    """Post a probe student's `help` every PROBE_EVERY_SECONDS while the simulation runs (each
    probe student once), reading the CPU clock each time; `"<student id>:help"` -> epoch ms
    just before its POST."""
    sent: dict[str, float] = {}
    number = 0
    while simulator.alive():
        await asyncio.sleep(PROBE_EVERY_SECONDS)
        clock.note()
        if number == PROBES:
            continue
        email = probe_email(number)
        body = orjson.dumps([probe_event(email, "help")])
        sent[f"{ids[email]}:help"] = epoch_ms()
        answer = await api.post("/api/v1/events", params={"key": key}, content=body)
        if answer.status_code != 202:
            raise RuntimeError(f"probe refused: {answer.status_code} {answer.text[:200]}")
        number += 1
    return sent


async def run(args: argparse.Namespace) -> dict[str, Any]:
    await asyncio.to_thread(start_services)
    influx = InfluxServer()
    await asyncio.to_thread(influx.start)
    stack = Stack("production", influx)
    await stack.create()
    port = free_port()
    try:
        server = cellmon_server(stack, port)
        workers = cellmon_workers(stack, 1)
        with processes(server, *workers):
            await wait_workers(stack, 1)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
                class_id, key, ids = await _class_with_probes(api, stack.admin_password)
                async with async_playwright() as playwright:
                    browser = await playwright.chromium.launch(
                        executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
                    )
                    try:
                        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
                        page = await context.new_page()
                        await open_class_page(
                            page, port, class_id, INSTRUCTOR, stack.admin_password, PROBES
                        )
                        log("dashboard open; the simulation starts")
                        return await _measure(args, page, api, port, key, ids, server, workers)
                    finally:
                        await browser.close()
    finally:
        await stack.destroy()
        influx.stop()


async def _measure(
    args: argparse.Namespace,
    page: Page,
    api: httpx.AsyncClient,
    port: int,
    key: str,
    ids: dict[str, int],
    server: Process,
    workers: list[Process],
) -> dict[str, Any]:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
    simulator = Process("simulate", _simulate_command(port, key, args), environment)
    with processes(simulator):
        clock = CpuClock([server, *workers, simulator])
        sent = await _probe_while(simulator, api, key, ids, clock)
        cpu = clock.shares()
        wall = time.monotonic() - clock.started
        summary = await asyncio.to_thread(Path(simulator.log.name).read_text, errors="replace")
    await asyncio.sleep(SETTLE_SECONDS)
    shown = await probe.shown(page)
    latencies = [
        shown[name]["painted"] - started  # type: ignore[operator]
        for name, started in sent.items()
        if name in shown and shown[name]["painted"] is not None
    ]
    return {
        "students": args.students,
        "lesson_minutes": args.minutes,
        "speed": args.speed,
        "wall_seconds": round(wall, 1),
        "cpu_percent_of_a_core": cpu,
        "probes_sent": len(sent),
        "probes_shown": len(latencies),
        "event_to_screen_ms": {
            "p50": round(statistics.median(latencies)) if latencies else None,
            "p95": round(percentile(latencies, 0.95)) if latencies else None,
            "max": round(max(latencies)) if latencies else None,
        },
        "simulate_summary": summary.splitlines()[-16:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.simulate_load", description=__doc__)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=4.5)
    parser.add_argument("--speed", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    check_chromium()
    raise_open_files_limit()
    load = os.getloadavg()
    log(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    figures = asyncio.run(run(args))
    log(json.dumps(figures, indent=1, ensure_ascii=False))
    sys.exit(0 if figures["probes_shown"] == figures["probes_sent"] else 1)


if __name__ == "__main__":
    main()

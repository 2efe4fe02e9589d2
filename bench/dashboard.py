"""The dashboard in a lecture hall (issue 11): 1,000 enrolled students, the instructor's page
open in headless Chromium, and the real client's single-event POSTs at 100, then 500 events/s.

The class is made as an instructor would: an instructor account (made by the run's admin)
creates the class and its ingest key and enrolls the roster with one `POST .../roster`. The
instructor signs in on `/login` in Chromium (1600×1000) and the dashboard opens the class.
The load is a lesson: most students run cells (now and then a cell fails, never a third time
in a row), and in each phase some students get stuck (STUCK_AFTER_ERRORS failed runs of one
cell in a row) and some ask for help (a `help` event, repeated every 10 s as the extension
does). Measured per phase: event → shown in Needs attention for each stuck and help student
(from the answer to the POST that made them so to the frame that shows them), the page's
main-thread share (DevTools `Performance.getMetrics` TaskDuration), long tasks, and filter
click → paint. After the load, the page's totals, the API's roster and what was posted must
agree.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from playwright.async_api import Browser, CDPSession, Page, async_playwright

from bench import dashboard_probe as probe
from bench import dashboard_trace
from bench.dashboard_lesson import Lesson, Posted, Sample
from bench.dashboard_report import PhaseResult
from bench.events import student_email
from bench.httpclient import HttpPool
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
    InfluxServer,
    Stack,
    cellmon_server,
    cellmon_workers,
    free_port,
    processes,
    wait_workers,
)

INSTRUCTOR_EMAIL = "bench-instructor@example.org"
CONNECTIONS = 64


@dataclass(frozen=True)
class Phase:
    rate: int  # events per second
    seconds: float


@dataclass(frozen=True)
class Options:
    students: int
    phases: tuple[Phase, ...]
    samples: int  # students who get stuck, and students who ask for help, in each phase
    clicks: int  # filter clicks in each phase
    # Where to write a DevTools trace of the first phase (None: no trace); tracing costs the
    # page time of its own, so a traced run's figures are not the page's.
    trace: Path | None = None


FULL = Options(1000, (Phase(100, 60), Phase(500, 30)), samples=25, clicks=6)
QUICK = Options(1000, (Phase(100, 20), Phase(500, 10)), samples=8, clicks=3)


async def run(options: Options, influx: InfluxServer, log: Callable[[str], None]) -> dict[str, Any]:
    await asyncio.to_thread(check_chromium)
    stack = Stack("production", influx)
    await stack.create()
    port = free_port()
    try:
        server = cellmon_server(stack, port)
        workers = cellmon_workers(stack, 1)
        with processes(server, *workers):
            await wait_workers(stack, 1)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as api:
                return await _measure(options, stack, api, port, log)
    finally:
        await stack.destroy()


async def _measure(
    options: Options, stack: Stack, api: httpx.AsyncClient, port: int, log: Callable[[str], None]
) -> dict[str, Any]:
    password = stack.admin_password
    admin = await bearer_token(api, ADMIN_EMAIL, password)
    answer = await api.post(
        "/api/v1/users",
        json={"email": INSTRUCTOR_EMAIL, "password": password, "role": "instructor"},
        headers=admin,
    )
    answer.raise_for_status()
    teacher = await bearer_token(api, INSTRUCTOR_EMAIL, password)
    code = f"HALL-{uuid.uuid4().hex[:8]}"
    class_id = (
        await answer_json(
            api.post(
                "/api/v1/classes",
                json={"name": "Lecture hall", "class_code": code},
                headers=teacher,
            )
        )
    )["id"]
    key_path = f"/api/v1/classes/{class_id}/ingest-keys"
    key = (await answer_json(api.post(key_path, json={}, headers=teacher)))["key"]
    roster = [
        {
            "email": student_email(n),
            "name": f"テスト学生{n:05d}",
            "team_name": f"チーム{n % 12 + 1}",
        }
        for n in range(options.students)
    ]
    started = time.perf_counter()
    imported = await answer_json(
        api.post(f"/api/v1/classes/{class_id}/roster", json=roster, headers=teacher)
    )
    import_ms = (time.perf_counter() - started) * 1000
    log(f"roster of {imported['created']:,} students imported in one request: {import_ms:,.0f} ms")
    ids = {row["email"]: row["student_id"] for row in imported["results"]}

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            page, cdp = await _open_dashboard(browser, port, class_id, password, options.students)
            log("dashboard open with every student")
            pool = HttpPool(port, CONNECTIONS)
            await pool.open()
            try:
                phases, posted, samples = await _load(
                    options, browser, page, cdp, pool, key, ids, log
                )
            finally:
                await pool.close()
            log("load stopped; waiting for the queue to drain")
            drained = await _drained(stack)
            agreement = await _agreement(page, api, teacher, class_id, options, posted, samples)
        finally:
            await browser.close()
    return {
        "students": options.students,
        "import_ms": round(import_ms),
        "phases": [phase.as_dict() for phase in phases],
        "statuses": {str(status): count for status, count in sorted(posted.statuses.items())},
        "drained": drained,
        "agreement": agreement,
    }


async def _open_dashboard(
    browser: Browser, port: int, class_id: int, password: str, students: int
) -> tuple[Page, CDPSession]:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    await open_class_page(page, port, class_id, INSTRUCTOR_EMAIL, password, students)
    cdp = await context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    return page, cdp


async def _metrics(cdp: CDPSession) -> dict[str, float]:
    answer = await cdp.send("Performance.getMetrics")
    return {metric["name"]: metric["value"] for metric in answer["metrics"]}


async def _load(
    options: Options,
    browser: Browser,
    page: Page,
    cdp: CDPSession,
    pool: HttpPool,
    key: str,
    ids: dict[str, int],
    log: Callable[[str], None],
) -> tuple[list[PhaseResult], Posted, list[Sample]]:
    loop = asyncio.get_running_loop()
    reserved = 2 * options.samples * len(options.phases)
    lesson = Lesson(options.students, reserved, random.Random(11))
    path = f"/api/v1/events?key={key}"
    posted = Posted()
    in_flight: set[asyncio.Task[None]] = set()
    samples: list[Sample] = []
    reserved_students = iter(range(options.students - reserved, options.students))
    load_started = loop.time()

    async def post(event: dict[str, Any], sample: Sample | None) -> None:
        status, _ = await pool.post(path, orjson.dumps([event]))
        posted.statuses[status] += 1
        if status == 202 and event["eventType"] == "cell_executed":
            posted.executions += 1
            posted.errors += int(event["hasError"])
        if sample is not None and status == 202:
            sample.answered_at = time.time() * 1000

    async def click(filter_name: str) -> None:
        await page.click(f'button[data-filter="{filter_name}"]')

    results = []
    for number, phase in enumerate(options.phases):
        started = loop.time()
        offset = started - load_started
        for index in range(options.samples):
            # Spread over the phase, away from its edges.
            at = started + phase.seconds * (0.1 + 0.75 * index / max(1, options.samples - 1))
            stuck = Sample("stuck", next(reserved_students), number)
            helper = Sample("help", next(reserved_students), number)
            samples += [stuck, helper]
            lesson.plan_stuck(stuck, at)
            lesson.plan_help(helper, at + 0.2)
        click_times = [
            started + phase.seconds * (index + 0.5) / options.clicks
            for index in range(options.clicks)
        ]
        filters = itertools.cycle(["stuck", "all", "help", "all"])
        trace_path = options.trace if number == 0 else None
        if trace_path is not None:
            await browser.start_tracing(page=page, categories=dashboard_trace.CATEGORIES)
        before = await _metrics(cdp)
        wall_started = time.time() * 1000
        sent = 0
        while (now := loop.time()) - started < phase.seconds:
            for _ in range(int((now - started) * phase.rate) - sent):
                task = asyncio.create_task(post(*lesson.next(now)))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                sent += 1
            if click_times and click_times[0] <= now:
                click_times.pop(0)
                task = asyncio.create_task(click(next(filters)))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            await asyncio.sleep(0.005)
        after = await _metrics(cdp)
        wall_ended = time.time() * 1000
        if trace_path is not None:
            trace = await browser.stop_tracing()
            await asyncio.to_thread(trace_path.write_bytes, trace)
            summary = await asyncio.to_thread(dashboard_trace.summarize, trace)
            log(f"trace of {phase.rate} events/s written to {trace_path}")
            for line in summary.lines():
                log(line)
        await page.click('button[data-filter="all"]')
        log(f"{phase.rate} events/s: {sent:,} events posted from {offset:.0f} s")
        results.append(
            await _phase_result(
                page, phase, number, sent, samples, ids, before, after, (wall_started, wall_ended)
            )
        )
    await asyncio.gather(*in_flight)
    return results, posted, samples


async def _phase_result(
    page: Page,
    phase: Phase,
    number: int,
    sent: int,
    samples: list[Sample],
    ids: dict[str, int],
    before: dict[str, float],
    after: dict[str, float],
    window: tuple[float, float],
) -> PhaseResult:
    # The last samples of the phase may still be on their way to the page.
    await asyncio.sleep(3)
    seen = await probe.shown(page)
    latencies: dict[str, list[float]] = {"stuck": [], "help": []}
    missed = {"stuck": 0, "help": 0}
    for sample in samples:
        if sample.phase != number:
            continue
        entry = seen.get(f"{ids[student_email(sample.student)]}:{sample.kind}")
        shown_at = entry and (entry["painted"] or entry["inserted"])
        if sample.answered_at is None or not shown_at:
            missed[sample.kind] += 1
            continue
        latencies[sample.kind].append(shown_at - sample.answered_at)
    wall = after["Timestamp"] - before["Timestamp"]
    share = {
        name: (after[metric] - before[metric]) / wall
        for name, metric in (
            ("task", "TaskDuration"),
            ("script", "ScriptDuration"),
            ("layout", "LayoutDuration"),
            ("style", "RecalcStyleDuration"),
        )
    }
    start, end = window
    long_tasks = [duration for at, duration in await probe.long_tasks(page) if start <= at < end]
    clicks = [
        click["painted"] - click["started"]
        for click in await probe.clicks(page)
        if start <= click["started"] < end
    ]
    return PhaseResult(
        rate=phase.rate,
        seconds=phase.seconds,
        posted=sent,
        stuck_ms=latencies["stuck"],
        help_ms=latencies["help"],
        missed=missed,
        main_thread=share,
        long_tasks=len(long_tasks),
        long_task_max_ms=max(long_tasks, default=0.0),
        clicks_ms=clicks,
    )


async def _drained(stack: Stack, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await stack.queue_is_empty():
            return True
        await asyncio.sleep(0.5)
    return False


async def _agreement(
    page: Page,
    api: httpx.AsyncClient,
    teacher: dict[str, str],
    class_id: int,
    options: Options,
    posted: Posted,
    samples: list[Sample],
) -> dict[str, Any]:
    """The page's totals and the API's, once they agree (at most 30 s after the queue
    drained), beside what was posted."""
    expected = {
        "students": options.students,
        "executions": posted.executions,
        "errors": posted.errors,
        "stuck": sum(sample.kind == "stuck" for sample in samples),
        "help": sum(sample.kind == "help" for sample in samples),
    }
    deadline = time.monotonic() + 30
    while True:
        roster = await answer_json(api.get(f"/api/v1/progress/classes/{class_id}", headers=teacher))
        api_totals = roster["totals"]
        page_totals = await probe.totals(page)
        if page_totals == api_totals or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    enrolled = 0
    for skip in range(0, options.students + 500, 500):
        enrolled += len(
            await answer_json(
                api.get(
                    f"/api/v1/classes/{class_id}/students",
                    params={"skip": skip, "limit": 500},
                    headers=teacher,
                )
            )
        )
    agree = page_totals == api_totals and all(
        api_totals[name] == value for name, value in expected.items()
    )
    return {
        "page": page_totals,
        "api": api_totals,
        "posted": expected,
        "enrolled": enrolled,
        "agree": agree and enrolled == options.students,
    }

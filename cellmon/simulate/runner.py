"""One run of `cellmon simulate`: the lesson's events posted at their (scaled) times."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console

from cellmon.simulate import DEFAULT_CONNECTIONS, DEFAULT_URL
from cellmon.simulate.account import SimulatedClass, create_class, events_url
from cellmon.simulate.display import LiveProgress, hints, summary
from cellmon.simulate.lesson import Lesson, PlannedEvent, plan_lesson
from cellmon.simulate.sender import RETRY_DELAYS, Outcome, Sender, SendStats

DISPLAY_REFRESH_SECONDS = 0.25


@dataclass(frozen=True)
class SimulationOptions:
    url: str = DEFAULT_URL
    students: int = 200
    minutes: float = 10.0
    seed: int = 0
    # Lesson seconds per real second: 10 runs a 10-minute lesson in one minute.
    speed: float = 1.0
    # An instructor's or admin's account, to make a class and its ingest key; else `key`
    # (an existing class's ingest key), else no key (a development server takes that).
    email: str | None = None
    password: str | None = None
    key: str | None = None
    connections: int = DEFAULT_CONNECTIONS
    retry_delays: tuple[float, ...] = RETRY_DELAYS


@dataclass
class SimulationResult:
    lesson: Lesson
    stats: SendStats
    events_url: str
    simulated_class: SimulatedClass | None
    stopped: bool  # stopped before the lesson's end
    unfinished: int  # posts still in flight when stopped
    elapsed: float


OutcomeHook = Callable[[dict[str, Any], Outcome], None]


async def simulate(
    options: SimulationOptions,
    console: Console,
    *,
    stop: asyncio.Event | None = None,
    on_outcome: OutcomeHook | None = None,
) -> SimulationResult:
    """Run the lesson against options.url until its end or until `stop` is set; print the
    progress and the summary on `console`."""
    stop = stop or asyncio.Event()
    base_url = options.url.rstrip("/")
    lesson = plan_lesson(options.students, options.minutes, options.seed)
    limits = httpx.Limits(
        max_connections=options.connections, max_keepalive_connections=options.connections
    )
    async with httpx.AsyncClient(limits=limits) as http:
        simulated_class = None
        if options.email is not None:
            simulated_class = await create_class(
                http, base_url, options.email, options.password or "", options.students
            )
            url = simulated_class.events_url
        else:
            url = events_url(base_url, options.key)
        _introduce(console, options, base_url, simulated_class)
        stats = SendStats()
        sender = Sender(http, url, stats, options.retry_delays, options.connections)
        run = _Run(lesson, sender, options.speed, stop, on_outcome)
        started = time.perf_counter()
        with LiveProgress(console, lesson.duration, stats) as progress:
            await run.play(progress)
        elapsed = time.perf_counter() - started
    result = SimulationResult(
        lesson, stats, url, simulated_class, run.stopped, run.unfinished, elapsed
    )
    console.print(summary(stats, unfinished=run.unfinished, elapsed=elapsed))
    for line in hints(stats):
        console.print(f"[yellow]{line}[/yellow]")
    return result


def _introduce(
    console: Console,
    options: SimulationOptions,
    base_url: str,
    simulated_class: SimulatedClass | None,
) -> None:
    console.print(
        f"Simulating {options.students} students for {options.minutes:g} minutes "
        f"(seed {options.seed}, speed ×{options.speed:g}) against {base_url}"
    )
    if simulated_class is not None:
        console.print(
            f"Class [bold]{simulated_class.name}[/bold] (id {simulated_class.class_id}): "
            f"open {base_url}/dashboard?class_id={simulated_class.class_id}",
            soft_wrap=True,
            highlight=False,
        )
    elif options.key is None:
        console.print(
            "No account (--email) or ingest key (--key): the events belong to no class, "
            "so the dashboard will not show them (a development server takes them).",
            soft_wrap=True,
            highlight=False,
        )


class _Run:
    """The lesson's clock: each event happens at its time (divided by the speed) and is
    posted after the extension's send delay, each in a task of its own."""

    def __init__(
        self,
        lesson: Lesson,
        sender: Sender,
        speed: float,
        stop: asyncio.Event,
        on_outcome: OutcomeHook | None,
    ) -> None:
        self.lesson = lesson
        self.sender = sender
        self.speed = speed
        self.stop = stop
        self.on_outcome = on_outcome
        self.in_flight: set[asyncio.Task[None]] = set()
        self.stopped = False
        self.unfinished = 0

    async def play(self, progress: LiveProgress) -> None:
        loop = asyncio.get_running_loop()
        start, wall_start = loop.time(), datetime.now(UTC)
        clock = asyncio.create_task(self._show(progress, start))
        try:
            for event in self.lesson.events():
                if not await self._until(start + event.at / self.speed):
                    break
                happened = wall_start + timedelta(seconds=event.at / self.speed)
                task = asyncio.create_task(self._post(event, happened))
                self.in_flight.add(task)
                task.add_done_callback(self.in_flight.discard)
            else:
                await self._until(start + self.lesson.duration / self.speed)
            # The lesson is over: its last posts may still be retrying.
            stopping = asyncio.create_task(self.stop.wait())
            try:
                while self.in_flight and not stopping.done():
                    await asyncio.wait(
                        [*self.in_flight, stopping], return_when=asyncio.FIRST_COMPLETED
                    )
            finally:
                stopping.cancel()
        finally:
            self.stopped = self.stop.is_set()
            self.unfinished = len(self.in_flight)
            for task in list(self.in_flight):
                task.cancel()
            await asyncio.gather(*self.in_flight, return_exceptions=True)
            clock.cancel()
            progress.update(min(self.lesson.duration, (loop.time() - start) * self.speed), 0)

    async def _until(self, deadline: float) -> bool:
        """Wait until `deadline` (loop time); False when stopped first."""
        delay = deadline - asyncio.get_running_loop().time()
        if delay > 0 and not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), delay)
            except TimeoutError:
                return True
        else:
            # Late (a starved CPU): still let the posts, the display and Ctrl-C have a turn.
            await asyncio.sleep(0)
        return not self.stop.is_set()

    async def _post(self, event: PlannedEvent, happened: datetime) -> None:
        await asyncio.sleep(event.send_delay / self.speed)
        wire = event.wire(happened)
        outcome = await self.sender.send(wire)
        if self.on_outcome is not None:
            self.on_outcome(wire, outcome)

    async def _show(self, progress: LiveProgress, start: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            lesson_seconds = min(self.lesson.duration, (loop.time() - start) * self.speed)
            progress.update(lesson_seconds, len(self.in_flight))
            await asyncio.sleep(DISPLAY_REFRESH_SECONDS)


def run(options: SimulationOptions, console: Console) -> SimulationResult:
    """`simulate` in its own event loop; the first Ctrl-C stops it with the summary."""

    async def main() -> SimulationResult:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Not on Windows, where Ctrl-C raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, stop.set)
        try:
            return await simulate(options, console, stop=stop)
        finally:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())

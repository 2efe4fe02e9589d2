"""A load driver that posts the real client's events and remembers which ones were accepted.

Like the real JupyterLab client it retries on 5xx, time-outs and network errors with back-off
and takes any 4xx as final; unlike it, it never gives up on a retryable failure (until a
generous deadline), so that every event it made is accepted in the end and the checker can
demand that each one is recorded.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

EVENTS_PATH = "/api/v1/events"
STUDENTS = 25
NOTEBOOKS = ("lessons/week1.ipynb", "lessons/week2.ipynb", "homework/ex3.ipynb")
CELLS_PER_NOTEBOOK = 12
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 8.0  # the real client's
GIVE_UP_AFTER_SECONDS = 150.0
# Outcome counted for a 503 that does not say when to come back.
WITHOUT_RETRY_AFTER = "503 without Retry-After"


def make_event(sequence: int, run: str, start: datetime) -> dict[str, Any]:
    """The real client's `cell_executed` event, camelCase, absent values left out.

    Each event gets its own executionCount (the sequence number) and its own millisecond
    eventTime, so that its time-series point can be told apart from every other one.
    """
    student = sequence % STUDENTS
    notebook = NOTEBOOKS[sequence % len(NOTEBOOKS)]
    cell = sequence % CELLS_PER_NOTEBOOK
    failed = sequence % 7 == 3
    event: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "eventType": "cell_executed",
        "eventTime": (start + timedelta(milliseconds=sequence))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "emailAddress": f"fault-{run}-{student:03d}@example.com",
        "userName": f"テスト学生{student:03d}",
        "teamName": f"チーム{student % 5}",
        "sessionId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/{student}")),
        "notebookPath": notebook,
        "cellId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/{notebook}/{cell}")),
        "cellIndex": cell,
        "cellType": "code",
        "code": f"x = {sequence}\nx",
        "executionCount": sequence,
        "hasError": failed,
        "result": "ZeroDivisionError: division by zero" if failed else str(sequence),
        "executionDurationMs": sequence % 50,
    }
    if failed:
        event["errorMessage"] = "ZeroDivisionError: division by zero"
    return event


@dataclass
class LoadDriver:
    """Posts events to one or more servers (round robin), one per request and in batches."""

    base_urls: Sequence[str]
    concurrency: int = 8
    # Request sizes in turn: the real client's single events between batches.
    batch_sizes: Sequence[int] = (1, 1, 1, 25)
    # Only the harness's own tests replace the network.
    transport: httpx.AsyncBaseTransport | None = None
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    first_event_time: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(microsecond=0)
    )

    sent: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    accepted: set[str] = field(default_factory=set, init=False)
    rejected: dict[str, int] = field(default_factory=dict, init=False)
    outcomes: Counter[str] = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        self._sequence = 0
        self._requests = 0
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._client = httpx.AsyncClient(
            timeout=REQUEST_TIMEOUT_SECONDS,
            limits=httpx.Limits(max_connections=self.concurrency * len(self.base_urls)),
            transport=self.transport,
        )

    def start(self, count: int) -> asyncio.Task[None]:
        """post_events(count) in the background; close() cancels it if it is still running."""
        task = asyncio.create_task(self.post_events(count))
        self._tasks.append(task)
        return task

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    def _next_batch(self, remaining: int) -> list[dict[str, Any]]:
        size = min(self.batch_sizes[self._requests % len(self.batch_sizes)], remaining)
        self._requests += 1
        events = []
        for _ in range(size):
            self._sequence += 1
            event = make_event(self._sequence, self.run, self.first_event_time)
            self.sent[event["eventId"]] = event
            events.append(event)
        return events

    async def post_events(self, count: int) -> None:
        """Post `count` new events and return once every one of them is accepted."""
        remaining = count
        batches: list[list[dict[str, Any]]] = []
        while remaining:
            batch = self._next_batch(remaining)
            remaining -= len(batch)
            batches.append(batch)
        queue: asyncio.Queue[tuple[int, list[dict[str, Any]]]] = asyncio.Queue()
        for number, batch in enumerate(batches):
            queue.put_nowait((number, batch))

        async def sender() -> None:
            while not queue.empty():
                number, batch = queue.get_nowait()
                url = self.base_urls[number % len(self.base_urls)] + EVENTS_PATH
                await self._post_until_answered(url, batch)

        async with asyncio.timeout(GIVE_UP_AFTER_SECONDS):
            await asyncio.gather(*(sender() for _ in range(self.concurrency)))

    async def _post_until_answered(self, url: str, batch: list[dict[str, Any]]) -> None:
        body = orjson.dumps(batch)
        headers = {"Content-Type": "application/json"}
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            try:
                response = await self._client.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:
                await self._record(type(exc).__name__)
            else:
                accepted = response.status_code == 202
                await self._record(str(response.status_code), batch if accepted else ())
                if response.status_code == 503 and "Retry-After" not in response.headers:
                    await self._record(WITHOUT_RETRY_AFTER)
                if accepted:
                    return
                if response.status_code < 500:
                    # The real client takes any 4xx as final: these events are lost.
                    for event in batch:
                        self.rejected[event["eventId"]] = response.status_code
                    return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _record(self, outcome: str, accepted: Sequence[dict[str, Any]] = ()) -> None:
        async with self._progress:
            self.outcomes[outcome] += 1
            self.accepted.update(event["eventId"] for event in accepted)
            self._progress.notify_all()

    async def wait_accepted(self, count: int) -> None:
        """Return once at least `count` events in all have been accepted."""
        async with self._progress:
            await self._progress.wait_for(lambda: len(self.accepted) >= count)

    async def wait_outcome(self, outcome: str, count: int = 1) -> None:
        """Return once `count` responses (or transport errors) of a kind have been seen."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.outcomes[outcome] >= count)

    def summary(self) -> str:
        return (
            f"sent {len(self.sent)}, accepted {len(self.accepted)}, "
            f"rejected {len(self.rejected)}, outcomes {dict(self.outcomes)}"
        )

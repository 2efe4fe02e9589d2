"""The consumer loop: claim a batch, record it, publish it, write its points, acknowledge.

The order makes delivery at-least-once and the effect exactly-once: a batch is acknowledged
only after its rows are committed and its time-series points written, so a worker that dies
at any step leaves its entries to be claimed again, and the idempotent writes (eventId keys,
deterministic points) make the second pass change nothing. Live messages go out right after
the commit, for the rows that were new, so a redelivered batch announces nothing twice.

A batch goes through two stages: claim, record and publish; then time-series write and ack.
While one batch writes its points (to InfluxDB) and is acknowledged, the worker claims and
records the next one, so it does not sit idle while InfluxDB and the queue answer; at most one
batch is in the second stage, and the next waits for it before entering.

Several workers (in one process or many) share one queue; a claim hands each entry to one
of them. `stop()` makes a worker finish and acknowledge the batches in hand, then return.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TypeVar

from cellmon.core import metrics
from cellmon.core.backends import Backends, build_backends
from cellmon.core.database import Database
from cellmon.core.errors import BackendUnavailable
from cellmon.core.queue import QueuedMessage
from cellmon.core.settings import Settings
from cellmon.events.pipeline import BatchOutcome, BatchProcessor
from cellmon.events.registry import HandlerRegistry
from cellmon.live.messages import publish_best_effort

logger = logging.getLogger(__name__)

# How long an idle claim waits for work. stop() ends the wait of the embedded queue at once;
# Redis's wait is on its server, so stop() reaches a worker waiting there this late.
CLAIM_BLOCK_MS = 200
MAX_BACKOFF_SECONDS = 5.0
FIRST_BACKOFF_SECONDS = 0.1

T = TypeVar("T")


def consumer_name() -> str:
    """Unique per worker, so that a restarted worker's old claims are reclaimed, not reused."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        database: Database,
        backends: Backends,
        settings: Settings,
        *,
        registry: HandlerRegistry | None = None,
        name: str | None = None,
    ) -> None:
        self.name = name or consumer_name()
        self._queue = backends.queue
        self._timeseries = backends.timeseries
        self._bus = backends.bus
        self._processor = BatchProcessor(database, settings, registry, backends.timeseries)
        self._stopping = asyncio.Event()
        # The batch in its second stage (time-series write and ack), if any.
        self._finishing: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """Take no new batch; the ones in hand are finished and acknowledged."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        """Process batches until stop()."""
        logger.info("worker started", extra={"worker": self.name})
        delay = FIRST_BACKOFF_SECONDS
        try:
            while not self.stopping:
                try:
                    await self._advance(CLAIM_BLOCK_MS)
                    delay = FIRST_BACKOFF_SECONDS
                except BackendUnavailable as exc:
                    logger.warning(
                        "backend unavailable", extra={"worker": self.name, "error": str(exc)}
                    )
                    await self._pause(delay)
                    delay = min(delay * 2, MAX_BACKOFF_SECONDS)
                except Exception:
                    # A worker inside the API process must outlive a bug in one batch; the
                    # batch stays unacknowledged and comes back after the lease.
                    logger.exception("worker batch failed", extra={"worker": self.name})
                    await self._pause(delay)
                    delay = min(delay * 2, MAX_BACKOFF_SECONDS)
        except asyncio.CancelledError:
            # Cancelled rather than stopped: the batch in its second stage is dropped too,
            # unacknowledged, and comes back after the lease.
            if self._finishing is not None:
                self._finishing.cancel()
            raise
        finally:
            await self._settle()
        logger.info("worker stopped", extra={"worker": self.name})

    async def drain(self) -> int:
        """Process batches, overlapping them as run() does, until a claim finds none; the
        number of queue messages processed."""
        processed = 0
        try:
            while claimed := await self._advance(0):
                processed += claimed
        finally:
            await self._settle()
        return processed

    async def _advance(self, block_ms: int) -> int:
        """Claim and record a batch, then hand it to the second stage once the previous
        batch has left it; the number of queue messages claimed."""
        messages = await self._queue.claim(
            self.name, self._processor.claim_count(), block_ms, self._stopping
        )
        if messages:
            outcome = await self._record(messages)
            await self._settle()
            if outcome.points:
                self._finishing = asyncio.create_task(self._finish(outcome))
            else:
                # Points written in the batch's transaction leave only the ack, which is
                # quick: overlapping it with the next batch only made the two contend for
                # the embedded database's one writer.
                await self._finish(outcome)
        return len(messages)

    async def _settle(self) -> None:
        """Wait for the batch in its second stage. Its failure leaves it unacknowledged, to
        come back after the lease, and does not concern the batch recorded since."""
        finishing, self._finishing = self._finishing, None
        if finishing is None:
            return
        try:
            await finishing
        except BackendUnavailable as exc:
            logger.warning(
                "batch left unacknowledged", extra={"worker": self.name, "error": str(exc)}
            )
        except Exception:
            logger.exception("worker batch failed", extra={"worker": self.name})

    async def _record(self, messages: list[QueuedMessage]) -> BatchOutcome:
        started = time.perf_counter()
        outcome: BatchOutcome = await self._until_done(lambda: self._processor.process(messages))
        # Instructors see the batch as soon as it is committed, not after the time-series
        # write and the ack: that is the tail of the event-to-dashboard latency.
        await publish_best_effort(self._bus, outcome.messages)
        metrics.RECORD_STAGE.observe(time.perf_counter() - started)
        return outcome

    async def _finish(self, outcome: BatchOutcome) -> None:
        started = time.perf_counter()
        if outcome.points:
            await self._until_done(lambda: self._timeseries.write(outcome.points))
        await self._until_done(lambda: self._queue.ack(outcome.ack_ids))
        metrics.FINISH_STAGE.observe(time.perf_counter() - started)

    async def _until_done(self, step: Callable[[], Awaitable[T]]) -> T:
        """Run a step of a batch, again and again while a backend is down.

        Once stopping, the error is raised instead: the batch is left unacknowledged and is
        delivered again to another worker (or to this one after a restart).
        """
        delay = FIRST_BACKOFF_SECONDS
        while True:
            try:
                return await step()
            except BackendUnavailable as exc:
                if self.stopping:
                    raise
                logger.warning(
                    "backend unavailable, retrying the batch",
                    extra={"worker": self.name, "error": str(exc), "retry_in": delay},
                )
                await self._pause(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


async def run_workers(settings: Settings, concurrency: int = 1) -> None:
    """`cellmon worker`: run workers until SIGTERM or SIGINT, then shut down cleanly."""
    async with AsyncExitStack() as stack:
        database = Database(settings)
        stack.push_async_callback(database.dispose)
        backends = build_backends(settings, database)
        await backends.start(stack)
        workers = [Worker(database, backends, settings) for _ in range(concurrency)]
        loop = asyncio.get_running_loop()

        def stop_all() -> None:
            for worker in workers:
                worker.stop()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop_all)
        await asyncio.gather(*(worker.run() for worker in workers))

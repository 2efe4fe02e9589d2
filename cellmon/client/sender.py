"""The background thread that takes events from the kernel to the server.

The kernel's main thread only puts each event on an in-memory queue (no disk, no network, no
lock it could wait on). This thread writes them to the on-disk outbox at once, then sends
the outbox in batches: up to `batch_size` events in a request, and none waits longer than
`batch_seconds` for others to join it. A network error, a 5xx or a 408/425/429 leaves the
events queued and backs off exponentially (Retry-After when the server gives one); a 2xx
deletes them; a 4xx that no retry can change deletes them and says so once. Nothing here
raises into the student's code: a failure is logged once and the thread goes on.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from cellmon.client.outbox import Claim, Outbox, QueuedEvent, Waiting
from cellmon.client.transport import Verdict, post_events

logger = logging.getLogger("cellmon.client")

REQUEST_TIMEOUT_SECONDS = 10.0
# A claim outlives the longest request, so that no other kernel takes rows still in flight.
LEASE_SECONDS = REQUEST_TIMEOUT_SECONDS + 5.0
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 300.0
# How often an idle sender looks for rows another kernel left behind (killed while sending,
# or stopped with events queued).
IDLE_CHECK_SECONDS = 15.0

_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """Say a problem once per kernel (a failing server must not fill the notebook)."""
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


class Backoff:
    """Exponential back-off with jitter; `delay` grows from FIRST_RETRY_SECONDS, doubling."""

    def __init__(self) -> None:
        self.failures = 0

    def next_delay(self, retry_after: float | None) -> float:
        base = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2.0**self.failures)
        self.failures += 1
        delay = base * random.uniform(0.8, 1.2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return delay

    def reset(self) -> None:
        self.failures = 0


class Sender:
    def __init__(
        self,
        queue_path: Path,
        *,
        batch_size: int = 100,
        batch_seconds: float = 2.0,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._queue_path = queue_path
        self._batch_size = max(1, batch_size)
        self._batch_seconds = max(0.0, batch_seconds)
        self._request_timeout = request_timeout
        self._incoming: queue.SimpleQueue[tuple[str, dict[str, Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="cellmon-client", daemon=True)
        self._backoff = Backoff()
        self._retry_at = 0.0  # monotonic time before which nothing is sent
        self._limit = self._batch_size  # lowered while a refused batch is split
        # Rows up to this seq were in a batch that was split: they are due at once.
        self._due_through = 0
        self._deadline: float | None = None  # monotonic; set by close()
        self._stopping = False  # close() was called: its marker came through the queue

    def start(self) -> None:
        self._thread.start()

    def submit(self, url: str, event: dict[str, Any]) -> None:
        """Queue one event (called on the kernel's main thread; never blocks)."""
        self._incoming.put((url, event))

    def close(self, timeout: float) -> None:
        """Write every submitted event to disk and send what can be sent within `timeout`
        seconds; what is left stays on disk for the next kernel."""
        if not self._thread.is_alive():
            return
        self._deadline = time.monotonic() + timeout
        self._incoming.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        outbox = self._open_outbox()
        try:
            while True:
                try:
                    if not self._stopping:
                        self._take_incoming(outbox, self._wait_seconds(outbox))
                    if self._stopping:
                        self._send(outbox, flush=True)
                        return
                    self._send(outbox, flush=False)
                except Exception as error:  # the thread must outlive any failure
                    warn_once(f"sender:{type(error).__name__}", f"cellmon.client: {error!r}")
                    self._retry_at = time.monotonic() + self._backoff.next_delay(None)
        finally:
            outbox.close()

    def _open_outbox(self) -> Outbox:
        try:
            return Outbox(self._queue_path)
        except (OSError, sqlite3.Error) as error:
            warn_once(
                "outbox",
                f"cellmon.client: cannot open the queue file {self._queue_path} ({error}); "
                "events are kept in memory only, and lost if the kernel stops before the "
                "server takes them",
            )
            return Outbox(Path(":memory:"))

    def _wait_seconds(self, outbox: Outbox) -> float:
        now = time.monotonic()
        if now < self._retry_at:
            return self._retry_at - now
        waiting = outbox.waiting(time.time())
        if waiting.oldest_queued_at is None:
            return IDLE_CHECK_SECONDS
        if self._due(waiting, flush=False):
            return 0.0
        return max(0.0, waiting.oldest_queued_at + self._batch_seconds - time.time())

    def _due(self, waiting: Waiting, *, flush: bool) -> bool:
        """Whether to send now: `batch_size` events wait, the oldest has waited
        `batch_seconds`, some were in a batch being split, or (flush) any wait."""
        if waiting.oldest_queued_at is None or waiting.first_seq is None:
            return False
        return (
            flush
            or waiting.count >= self._limit
            or waiting.first_seq <= self._due_through
            or time.time() - waiting.oldest_queued_at >= self._batch_seconds
        )

    def _take_incoming(self, outbox: Outbox, wait: float) -> None:
        """Move submitted events to disk, waiting up to `wait` s for the first. Once close()
        asked to stop, every event submitted before it is on disk."""
        items: list[tuple[str, dict[str, Any]] | None] = []
        try:
            first = self._incoming.get(timeout=wait) if wait > 0 else self._incoming.get_nowait()
            items.append(first)
            while True:
                items.append(self._incoming.get_nowait())
        except queue.Empty:
            pass
        events = [
            QueuedEvent(str(item[1]["eventId"]), item[0], json.dumps(item[1], ensure_ascii=False))
            for item in items
            if item is not None
        ]
        if events:
            dropped = outbox.add(events)
            if dropped:
                warn_once("full", f"cellmon.client: queue full, dropped {dropped} old event(s)")
        self._stopping = self._stopping or None in items

    def _send(self, outbox: Outbox, *, flush: bool) -> None:
        """Send batches while some are due; stops at a failure, which sets the back-off."""
        while time.monotonic() >= self._retry_at:
            if not self._due(outbox.waiting(time.time()), flush=flush):
                return
            timeout = self._request_timeout
            if self._deadline is not None:
                timeout = min(timeout, self._deadline - time.monotonic())
                if timeout <= 0:
                    return
            claim = outbox.claim(self._limit, LEASE_SECONDS)
            if claim is None:
                return
            if not self._post(outbox, claim, timeout):
                return
            self._take_incoming(outbox, 0)

    def _post(self, outbox: Outbox, claim: Claim, timeout: float) -> bool:
        """Send one claim and act on the answer; False if it must be tried again later."""
        answer = post_events(claim.url, claim.bodies, timeout)
        verdict = answer.verdict(len(claim.seqs))
        if verdict is Verdict.TAKEN:
            outbox.delete(claim.seqs)
            self._backoff.reset()
            self._limit = self._batch_size
            return True
        if verdict is Verdict.REFUSED:
            outbox.delete(claim.seqs)
            warn_once(
                f"refused:{answer.status}",
                f"cellmon.client: the server refused {len(claim.seqs)} event(s) with "
                f"{answer.status} and they are dropped (said once per status): {answer.detail}",
            )
            self._limit = self._batch_size
            return True
        outbox.release(claim.seqs)
        if verdict is Verdict.SPLIT:
            self._limit = max(1, len(claim.seqs) // 2)
            self._due_through = max(self._due_through, *claim.seqs)
            return True
        warn_once(
            "retry",
            f"cellmon.client: the server did not take events ({answer.status or answer.detail}); "
            "they stay queued and are sent again (said once)",
        )
        self._retry_at = time.monotonic() + self._backoff.next_delay(answer.retry_after)
        return False

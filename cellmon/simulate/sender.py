"""Posting events as the published JupyterLab extension does (client-wire-format.md): one
event per request, a JSON array of one, `Content-Type: application/json` and nothing else,
8 s time-out, up to 3 retries 0.5 s / 1 s / 2 s apart on a 5xx, a time-out or a network
error; a 4xx is final (the extension takes it as done and the event is lost)."""

from __future__ import annotations

import asyncio
import enum
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from cellmon.simulate import DEFAULT_CONNECTIONS

TIMEOUT_SECONDS = 8.0
RETRY_DELAYS = (0.5, 1.0, 2.0)
HEADERS = {"Content-Type": "application/json"}


class Outcome(enum.Enum):
    ACCEPTED = "accepted"  # a 2xx
    REJECTED = "rejected"  # a 4xx: the extension drops the event
    FAILED = "failed"  # still a 5xx or no answer after the last retry: dropped too


@dataclass
class SendStats:
    """What a run's posts came to; latencies are of the answered requests, in seconds."""

    sent: int = 0  # events whose first request was made
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    retried: int = 0  # requests made again after a 5xx, a time-out or a network error
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return self.accepted + self.rejected + self.failed

    def latency(self, quantile: float) -> float | None:
        """The latency below which `quantile` of the answered requests fell."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


class Sender:
    def __init__(
        self,
        http: httpx.AsyncClient,
        events_url: str,
        stats: SendStats,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        self.http = http
        self.events_url = events_url
        self.stats = stats
        self.retry_delays = retry_delays
        # Posts beyond the client's connections wait here, in order, rather than in httpx's
        # pool, whose every request scans every waiting one (thousands of students at once
        # made that quadratic wait the simulation's whole CPU).
        self.slots = asyncio.Semaphore(connections)

    async def send(self, event: dict[str, Any]) -> Outcome:
        body = orjson.dumps([event])
        self.stats.sent += 1
        for attempt in range(len(self.retry_delays) + 1):
            if attempt:
                self.stats.retried += 1
                await asyncio.sleep(self.retry_delays[attempt - 1])
            async with self.slots:
                started = time.perf_counter()
                try:
                    response = await self.http.post(
                        self.events_url, content=body, headers=HEADERS, timeout=TIMEOUT_SECONDS
                    )
                except httpx.TransportError:  # time-outs and network errors
                    continue
                self.stats.latencies.append(time.perf_counter() - started)
            self.stats.statuses[response.status_code] += 1
            if response.status_code < 400:
                self.stats.accepted += 1
                return Outcome.ACCEPTED
            if response.status_code < 500:
                self.stats.rejected += 1
                return Outcome.REJECTED
        self.stats.failed += 1
        return Outcome.FAILED

"""What `/metrics` answers, and to whom.

The per-process metrics come from `core/metrics.py`. The values shared by every process are
read from the backends at each scrape, so that any server answers the same: the queue's depth
and the age of its oldest entry, and the time-series points waiting for InfluxDB. A backend
that cannot be read leaves its values out of that scrape (alert on their absence) rather than
failing the others.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy.exc import SQLAlchemyError

from cellmon.core.errors import BackendUnavailable
from cellmon.core.metrics import exposition
from cellmon.core.queue import MessageQueue
from cellmon.core.settings import Settings
from cellmon.core.timeseries import TimeSeriesSink

logger = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 2.0


def may_read(settings: Settings, authorization: str | None) -> bool:
    """Without CELLMON_METRICS_TOKEN anyone may; with it, only `Bearer <the token>`."""
    token = settings.CELLMON_METRICS_TOKEN
    expected = token.get_secret_value() if token is not None else ""
    if not expected:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


async def scrape(queue: MessageQueue, timeseries: TimeSeriesSink) -> bytes:
    shared = CollectorRegistry()
    readings: dict[str, tuple[str, Callable[[], Awaitable[float]]]] = {
        "cellmon_queue_depth": (
            "Queue messages waiting or in flight (one message holds one request's events or more).",
            queue.depth,
        ),
        "cellmon_queue_oldest_age_seconds": (
            "Age of the oldest queue message waiting or in flight; 0 when the queue is empty.",
            queue.oldest_age_seconds,
        ),
        "cellmon_timeseries_pending_points": (
            "Time-series points kept in the database until InfluxDB takes them.",
            timeseries.pending_points,
        ),
    }
    values = await asyncio.gather(*(_read(name, read) for name, (_help, read) in readings.items()))
    for (name, (help_text, _read_value)), value in zip(readings.items(), values, strict=True):
        if value is not None:
            Gauge(name, help_text, registry=shared).set(value)
    return exposition(shared)


async def _read(name: str, read: Callable[[], Awaitable[float]]) -> float | None:
    try:
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            return float(await read())
    except (BackendUnavailable, SQLAlchemyError, OSError, TimeoutError) as exc:
        logger.warning("metrics: %s not read: %s", name, exc)
        return None

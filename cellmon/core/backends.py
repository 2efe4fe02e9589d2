"""Choose each swappable backend once, at start-up, from the settings.

Domain code receives the interfaces (MessageQueue, MessageBus, TimeSeriesSink) and never asks
which implementation it holds.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta

from cellmon.core.bus import MessageBus
from cellmon.core.database import Database
from cellmon.core.queue import MessageQueue
from cellmon.core.ratelimit import RateLimiter
from cellmon.core.settings import Settings
from cellmon.core.timeseries import TimeSeriesSink


@dataclass(slots=True)
class Backends:
    queue: MessageQueue
    bus: MessageBus
    timeseries: TimeSeriesSink

    async def start(self, stack: AsyncExitStack) -> None:
        """Start every backend; the stack closes them in reverse order."""
        for backend in (self.timeseries, self.bus, self.queue):
            await backend.start()
            stack.push_async_callback(backend.close)


def build_queue(settings: Settings, database: Database) -> MessageQueue:
    lease = timedelta(seconds=settings.CELLMON_QUEUE_LEASE_SECONDS)
    if settings.uses_redis:
        from cellmon.core.queue.redis_stream import RedisStreamQueue

        return RedisStreamQueue(
            settings.redis_url, prefix=settings.CELLMON_REDIS_PREFIX, lease=lease
        )

    from cellmon.core.queue.table import TableQueue

    return TableQueue(database, lease=lease)


def build_bus(settings: Settings) -> MessageBus:
    if settings.uses_redis:
        from cellmon.core.bus.redis_pubsub import RedisPubSubBus, bus_channel

        return RedisPubSubBus(settings.redis_url, bus_channel(settings.CELLMON_REDIS_PREFIX))

    from cellmon.core.bus.in_process import InProcessBus

    return InProcessBus()


def build_timeseries(settings: Settings, database: Database) -> TimeSeriesSink:
    if settings.uses_influxdb:
        from cellmon.core.timeseries.influx import InfluxSink

        return InfluxSink.from_settings(settings, database)

    from cellmon.core.timeseries.sql import SqlSink

    return SqlSink(database)


def build_limiter(settings: Settings) -> RateLimiter:
    """Rate-limit counts shared by every process through Redis, or kept in this one."""
    if settings.uses_redis:
        from cellmon.core.ratelimit import RedisRateLimiter

        return RedisRateLimiter(settings.redis_url, settings.CELLMON_REDIS_PREFIX)

    from cellmon.core.ratelimit import MemoryRateLimiter

    return MemoryRateLimiter()


def build_backends(settings: Settings, database: Database) -> Backends:
    return Backends(
        queue=build_queue(settings, database),
        bus=build_bus(settings),
        timeseries=build_timeseries(settings, database),
    )

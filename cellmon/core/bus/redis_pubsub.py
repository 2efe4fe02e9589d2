"""The bus across processes: one Redis Pub/Sub channel that every API process listens to.

Pub/Sub is fire-and-forget: a process that is disconnected while a packet is published
misses it (live views recover from the read-outs), so the listener only has to reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import RedisError

from cellmon.core.bus.base import MessageBus
from cellmon.core.errors import BackendUnavailable

logger = logging.getLogger(__name__)

# The channel name of the original specification, under the deployment's key prefix.
CHANNEL_NAME = "student_progress_notifications"

CONNECT_TIMEOUT_SECONDS = 5.0
COMMAND_TIMEOUT_SECONDS = 5.0
# How often an idle listener wakes up to notice close() and to let health checks run.
LISTEN_POLL_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 15
RECONNECT_FIRST_DELAY_SECONDS = 0.1
RECONNECT_MAX_DELAY_SECONDS = 5.0


def bus_channel(prefix: str) -> str:
    return f"{prefix}:{CHANNEL_NAME}"


class RedisPubSubBus(MessageBus):
    def __init__(self, url: str, channel: str) -> None:
        self.channel = channel
        # Publishing retries a stale pooled connection once or twice (a restarted server).
        self._publisher = Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
            socket_keepalive=True,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        )
        # The listener does its own reconnecting (with back-off and a log line), so its
        # client does not retry behind its back.
        self._subscriber = Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_keepalive=True,
            health_check_interval=HEALTH_CHECK_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self._closed = False

    async def publish(self, packet: bytes) -> None:
        try:
            await self._publisher.publish(self.channel, packet)
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"Redis Pub/Sub: {exc}") from exc

    def listen(self) -> AsyncIterator[bytes]:
        return self._listen()

    async def _listen(self) -> AsyncIterator[bytes]:
        delay = RECONNECT_FIRST_DELAY_SECONDS
        failures = 0
        while not self._closed:
            pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if failures:
                    logger.info(
                        "bus listener reconnected to Redis after %d failed attempt(s)",
                        failures,
                        extra={"channel": self.channel, "attempts": failures},
                    )
                failures = 0
                delay = RECONNECT_FIRST_DELAY_SECONDS
                while not self._closed:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=LISTEN_POLL_SECONDS
                    )
                    if message is not None and message["type"] == "message":
                        yield message["data"]
            except (RedisError, OSError) as exc:
                if self._closed:
                    return
                failures += 1
                logger.warning(
                    "bus listener lost Redis (%s); reconnecting in %.1f s",
                    exc,
                    delay,
                    extra={"channel": self.channel, "attempt": failures, "error": str(exc)},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_DELAY_SECONDS)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        self._closed = True
        await self._publisher.aclose()
        await self._subscriber.aclose()

    async def ping(self) -> None:
        try:
            await self._publisher.ping()
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"Redis Pub/Sub: {exc}") from exc

"""The durable work queue between the API (producer) and the workers (consumers).

Delivery is at least once: a message stays in the queue until a consumer acknowledges it
after committing its work, and a message claimed by a consumer that died is delivered again.
Consumers make the effect exactly once through idempotent writes (the event's eventId).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    id: str
    # One or more enqueued bodies, in their order: a backend may store bodies enqueued
    # together (by one call or by concurrent ones) as one message, acknowledged as one.
    bodies: tuple[bytes, ...]
    # How many times this message has been handed to a consumer, this time included.
    deliveries: int


class MessageQueue(ABC):
    async def start(self) -> None:  # noqa: B027 (optional hook)
        """Prepare the backend (connections, consumer groups)."""

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections."""

    @abstractmethod
    async def enqueue(self, bodies: Sequence[bytes]) -> None:
        """Store all bodies durably, in one round trip where the backend allows.

        Returns only once they are safe; raises BackendUnavailable otherwise. Bodies are
        opaque to the queue: it may keep several in one message, never splits one.
        """

    @abstractmethod
    async def claim(
        self, consumer: str, max_count: int, block_ms: int, stop: asyncio.Event | None = None
    ) -> list[QueuedMessage]:
        """Up to max_count messages for this consumer, waiting up to block_ms for the first.

        Includes messages whose previous consumer has not acknowledged them in time. Once
        `stop` is set, the claim waits no more: a wait in this process ends at once, a wait
        on a server (Redis's BLOCK) is not started.
        """

    @abstractmethod
    async def ack(self, message_ids: Sequence[str]) -> None:
        """Remove messages whose work is committed."""

    @abstractmethod
    async def depth(self) -> int:
        """Messages waiting or in flight (for health read-outs and benchmarks)."""

    @abstractmethod
    async def oldest_age_seconds(self) -> float:
        """How long the oldest message waiting or in flight has been queued (0 when none)."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise BackendUnavailable when the queue cannot be reached."""

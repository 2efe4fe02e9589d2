"""The pub/sub bus that carries live notifications to every API process.

A message is published once and reaches every process that listens, wherever it runs; it is
fire-and-forget (no durability): live views recover their state from the read-out endpoints.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence


class MessageBus(ABC):
    async def start(self) -> None:  # noqa: B027 (optional hook)
        """Prepare the backend."""

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections and end every listener."""

    @abstractmethod
    async def publish(self, messages: Sequence[bytes]) -> None:
        """Send already serialized messages to every listener, in one round trip."""

    @abstractmethod
    def listen(self) -> AsyncIterator[bytes]:
        """Messages published from now on, by any process, until close()."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise BackendUnavailable when the bus cannot be reached."""

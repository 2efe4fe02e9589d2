"""The pub/sub bus that carries live notifications to every API process.

The bus carries packets: opaque bytes that the layer above makes (the live layer packs a
batch's messages into one packet, so that a batch costs one publish and one receive per
process, not one per message). A packet is published once and reaches every process that
listens, wherever it runs, whole and in the order its publisher sent it; it is
fire-and-forget (no durability): live views recover their state from the read-out endpoints.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator


class MessageBus(ABC):
    async def start(self) -> None:  # noqa: B027 (optional hook)
        """Prepare the backend."""

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections and end every listener."""

    @abstractmethod
    async def publish(self, packet: bytes) -> None:
        """Send one packet to every listener."""

    @abstractmethod
    def listen(self) -> AsyncIterator[bytes]:
        """Packets published from now on, by any process, until close()."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise BackendUnavailable when the bus cannot be reached."""

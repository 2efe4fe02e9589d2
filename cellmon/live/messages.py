"""Live messages: what producers (worker, LMS, broadcast) publish on the bus for /ws clients.

A message names every channel it belongs to (e.g. `progress:7` and `class:3`), so one bus
message per event reaches a student's own subscribers and their classes' instructors. The
hub delivers it to each channel's subscribers as `{"type", "channel", "data", "sent_at"}`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from cellmon.core.bus import MessageBus
from cellmon.core.errors import BackendUnavailable

logger = logging.getLogger(__name__)

EXECUTION_UPDATE = "execution_update"
ASSIGNMENT_GRADED = "assignment_graded"
SYSTEM_MESSAGE = "system_message"
HELP_REQUEST = "help_request"
STUCK_ALERT = "stuck_alert"
PRESENCE = "presence"

BROADCAST_CHANNEL = "broadcast"


def progress_channel(student_id: int) -> str:
    return f"progress:{student_id}"


def notifications_channel(student_id: int) -> str:
    return f"notifications:{student_id}"


def class_channel(class_id: int) -> str:
    return f"class:{class_id}"


@dataclass(frozen=True, slots=True)
class LiveMessage:
    type: str
    channels: tuple[str, ...]
    data: Mapping[str, Any]
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "type": self.type,
                "channels": self.channels,
                "data": self.data,
                "sent_at": self.sent_at,
            },
            option=orjson.OPT_UTC_Z,
        )

    @classmethod
    def decode(cls, raw: bytes) -> LiveMessage:
        payload = orjson.loads(raw)
        return cls(
            type=payload["type"],
            channels=tuple(payload["channels"]),
            data=payload["data"],
            sent_at=datetime.fromisoformat(payload["sent_at"]),
        )


async def publish(bus: MessageBus, messages: Iterable[LiveMessage]) -> None:
    """Publish best-effort: a live view that misses a message recovers from the read-outs,
    so an unreachable bus is logged and never fails the work that produced the message."""
    encoded: Sequence[bytes] = [message.encode() for message in messages]
    if not encoded:
        return
    try:
        await bus.publish(encoded)
    except BackendUnavailable as exc:
        logger.warning(
            "live messages not published", extra={"count": len(encoded), "error": str(exc)}
        )

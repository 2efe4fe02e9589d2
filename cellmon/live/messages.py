"""Live messages: what producers (worker, LMS, broadcast) publish on the bus for /ws clients.

A message names every channel it belongs to (e.g. `progress:7` and `class:3`), so one
message per event reaches a student's own subscribers and their classes' instructors. The
hub delivers it to each channel's subscribers as `{"type", "channel", "data", "sent_at"}`.

Messages travel in packets: a JSON array of messages, one packet per publish (a batch of
events is one packet, or a few of at most PACKET_MAX_BYTES each). Each process receives and
decodes a batch once instead of once per event, and one with no subscribers not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
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

# Bounds what one publish makes Redis buffer for each listening process, and how long one
# packet holds a hub's event loop; a batch of 1,000 events is about this size.
PACKET_MAX_BYTES = 512 * 1024
# Messages serialized per orjson call: small enough that packets can be filled close to the
# limit, large enough that the calls' own cost does not count.
ENCODE_CHUNK = 100


def progress_channel(student_id: int) -> str:
    return f"progress:{student_id}"


def notifications_channel(student_id: int) -> str:
    return f"notifications:{student_id}"


def class_channel(class_id: int) -> str:
    return f"class:{class_id}"


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """`position` orders a message that changes what the class read-outs show (a student's
    state, runs, errors, help) against those read-outs (live/positions.py); None for the
    others (broadcasts, grades)."""

    type: str
    channels: tuple[str, ...]
    data: Mapping[str, Any]
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    position: int | None = None


def encode_packets(messages: Sequence[LiveMessage]) -> list[bytes]:
    """The messages, in order, as packets of at most PACKET_MAX_BYTES (a larger message is a
    packet of its own). Each message is its fields as a JSON object (orjson serializes the
    dataclass itself), serialized once: chunks of messages are encoded as arrays, and
    consecutive arrays are joined into one packet while it stays within the limit."""
    packets: list[bytes] = []
    filling: list[bytes] = []
    size = 0
    for start in range(0, len(messages), ENCODE_CHUNK):
        for array in _arrays(messages[start : start + ENCODE_CHUNK]):
            # Joined, the arrays keep one pair of brackets and gain a comma between each two.
            if filling and size + len(array) > PACKET_MAX_BYTES:
                packets.append(_joined(filling))
                filling, size = [], 0
            filling.append(array)
            size += len(array) - 1
    if filling:
        packets.append(_joined(filling))
    return packets


def _arrays(messages: Sequence[LiveMessage]) -> list[bytes]:
    """The messages as JSON arrays of at most PACKET_MAX_BYTES (or of one message each)."""
    array = orjson.dumps(list(messages), option=orjson.OPT_UTC_Z)
    if len(array) <= PACKET_MAX_BYTES or len(messages) == 1:
        return [array]
    middle = len(messages) // 2
    return _arrays(messages[:middle]) + _arrays(messages[middle:])


def _joined(arrays: list[bytes]) -> bytes:
    """One JSON array of the arrays' elements."""
    if len(arrays) == 1:
        return arrays[0]
    parts: list[bytes | memoryview] = [b"["]
    for array in arrays:
        parts += (memoryview(array)[1:-1], b",")
    parts[-1] = b"]"
    return b"".join(parts)


def decode_packet(packet: bytes) -> list[LiveMessage]:
    """A packet's messages; ValueError, KeyError or TypeError when it is not a packet."""
    payloads = orjson.loads(packet)
    if not isinstance(payloads, list):
        raise TypeError("a packet is a JSON array of messages")
    return [
        LiveMessage(
            type=payload["type"],
            channels=tuple(payload["channels"]),
            data=payload["data"],
            sent_at=datetime.fromisoformat(payload["sent_at"]),
            position=payload.get("position"),
        )
        for payload in payloads
    ]


async def publish(bus: MessageBus, messages: Sequence[LiveMessage]) -> None:
    """Publish the messages in order; BackendUnavailable when the bus cannot be reached."""
    for packet in encode_packets(messages):
        await bus.publish(packet)


async def publish_best_effort(bus: MessageBus, messages: Sequence[LiveMessage]) -> None:
    """Publish, logging an unreachable bus: a live view that misses a message recovers from
    the read-outs, so the bus never fails the work that produced the message."""
    try:
        await publish(bus, messages)
    except BackendUnavailable as exc:
        logger.warning(
            "live messages not published", extra={"count": len(messages), "error": str(exc)}
        )

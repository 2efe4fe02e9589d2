"""The /ws protocol: parse client requests, resolve channel names, answer.

Channel names a client may use:
- `broadcast`
- `progress:{student}` and `notifications:{student}`, where `{student}` is the id the API
  returns or the student's e-mail address (any case), resolved to the id;
- `class:{class_id}`.
Every student and class named must exist and be the asker's to watch (`resolve_channels`).
Confirmations list the canonical names (`progress:7`), which are the names that messages
carry.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Integer, Select, String, cast, literal_column, null, select, union_all
from sqlalchemy.exc import SQLAlchemyError

from cellmon.auth.access import Access
from cellmon.core.database import Database
from cellmon.db.models.classes import Class
from cellmon.db.models.students import Student
from cellmon.live.hub import LiveHub, Subscriber
from cellmon.live.messages import (
    BROADCAST_CHANNEL,
    SYSTEM_MESSAGE,
    LiveMessage,
    class_channel,
    notifications_channel,
    progress_channel,
)
from cellmon.live.schemas import (
    BroadcastRequest,
    PingRequest,
    SubscribeRequest,
    client_request,
)

logger = logging.getLogger(__name__)

# A client message larger than this closes the socket with 1009 (set on uvicorn's ws_max_size).
MAX_CLIENT_MESSAGE_BYTES = 1024 * 1024
MAX_CHANNEL_NAME_LENGTH = 400
MAX_EMAIL_LENGTH = 320
MAX_ID = 2**31 - 1

STUDENT_CHANNELS = {"progress": progress_channel, "notifications": notifications_channel}
ACTIONS = ("subscribe", "unsubscribe", "ping")


class ChannelNameError(ValueError):
    """A channel name that does not follow the syntax."""


@dataclass(frozen=True, slots=True)
class ChannelName:
    """A parsed channel name: what it refers to, before the database is asked."""

    requested: str
    kind: str  # broadcast | progress | notifications | class
    number: int | None = None  # the student or class id
    email: str | None = None  # lower-cased


def _parse_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise ChannelNameError("expected a positive integer id after ':'")
    return int(text)


def parse_channel(name: str) -> ChannelName:
    if len(name) > MAX_CHANNEL_NAME_LENGTH:
        raise ChannelNameError(f"channel name longer than {MAX_CHANNEL_NAME_LENGTH} characters")
    if name == BROADCAST_CHANNEL:
        return ChannelName(name, BROADCAST_CHANNEL)
    kind, separator, reference = name.partition(":")
    if not separator or kind not in (*STUDENT_CHANNELS, "class"):
        raise ChannelNameError(
            "unknown channel; expected broadcast, progress:{student}, "
            "notifications:{student} or class:{class_id}"
        )
    if kind == "class":
        return ChannelName(name, kind, number=_parse_id(reference))
    if "@" in reference:
        email = reference.strip().lower()
        if len(email) > MAX_EMAIL_LENGTH or any(char.isspace() for char in email):
            raise ChannelNameError("not an e-mail address")
        return ChannelName(name, kind, email=email)
    return ChannelName(name, kind, number=_parse_id(reference))


@dataclass(slots=True)
class Resolution:
    channels: list[str]  # canonical, without duplicates, in request order
    rejected: list[tuple[str, str]]  # (requested name, reason)


# Which part of the union a row comes from (SQL constants, not parameters: PostgreSQL cannot
# type a bare parameter in a UNION).
STUDENT_ROW, CLASS_ROW = "0", "1"


async def resolve_channels(
    database: Database, access: Access, names: Sequence[str], *, must_exist: bool
) -> Resolution:
    """Canonical names for `names`, in one query whatever their number.

    A subscription (`must_exist`) needs each student and class to exist and to be the
    asker's: a class its instructors' (and admins'), a student's channels its own, its
    instructors' and admins'. Anything else is rejected exactly as an id that does not
    exist, so ids tell nothing. Unsubscribing accepts any well-formed id; an e-mail address
    always needs the database, and resolves only for a student the asker may watch.
    """
    resolution = Resolution([], [])
    parsed: list[ChannelName] = []
    for name in names:
        try:
            parsed.append(parse_channel(name))
        except ChannelNameError as exc:
            resolution.rejected.append((name, str(exc)))

    emails = {c.email for c in parsed if c.email is not None}
    student_ids = {c.number for c in parsed if c.kind in STUDENT_CHANNELS and c.number}
    class_ids = {c.number for c in parsed if c.kind == "class" and c.number}
    if not must_exist:
        student_ids.clear()
        class_ids.clear()
    parts: list[Select[int, int, str]] = []
    if emails or student_ids:
        parts.append(
            select(literal_column(STUDENT_ROW, Integer), Student.id, Student.email).where(
                Student.email.in_(emails) | Student.id.in_(student_ids),
                access.students(Student.id),
            )
        )
    if class_ids:
        parts.append(
            select(literal_column(CLASS_ROW, Integer), Class.id, cast(null(), String)).where(
                Class.id.in_(class_ids), access.taught_classes(Class.id)
            )
        )
    id_by_email: dict[str, int] = {}
    known_students: set[int] = set()
    known_classes: set[int] = set()
    if parts:
        statement = parts[0] if len(parts) == 1 else union_all(*parts)
        async with database.sessions() as session:
            rows = await session.execute(statement)
        for kind, row_id, email in rows:
            if str(kind) == CLASS_ROW:
                known_classes.add(row_id)
            else:
                known_students.add(row_id)
                id_by_email[email.lower()] = row_id

    seen: set[str] = set()
    for channel in parsed:
        canonical: str | None = None
        if channel.kind == BROADCAST_CHANNEL:
            canonical = BROADCAST_CHANNEL
        elif channel.kind == "class":
            assert channel.number is not None
            if must_exist and channel.number not in known_classes:
                resolution.rejected.append((channel.requested, "no such class"))
                continue
            canonical = class_channel(channel.number)
        else:
            resolved_id = (
                id_by_email.get(channel.email) if channel.email is not None else channel.number
            )
            if resolved_id is None or (must_exist and resolved_id not in known_students):
                resolution.rejected.append((channel.requested, "no such student"))
                continue
            canonical = STUDENT_CHANNELS[channel.kind](resolved_id)
        if canonical not in seen:
            seen.add(canonical)
            resolution.channels.append(canonical)
    return resolution


def describe_request_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    kind = error["type"]
    if kind == "json_invalid":
        return f"invalid JSON: {error.get('ctx', {}).get('error', error['msg'])}"
    if kind in ("dict_type", "model_attributes_type", "model_type"):
        return 'expected a JSON object such as {"action": "subscribe", "channels": ["broadcast"]}'
    if kind == "union_tag_not_found":
        return f'missing "action": one of {", ".join(ACTIONS)}'
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        return f'unknown action "{tag}": expected one of {", ".join(ACTIONS)}'
    where = ".".join(str(part) for part in error["loc"][1:])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


class LiveSession:
    """The protocol of one /ws connection; every answer goes through the hub's queue."""

    def __init__(
        self,
        hub: LiveHub,
        subscriber: Subscriber,
        database: Database,
        access: Access,
        max_channels: int,
    ) -> None:
        self.hub = hub
        self.subscriber = subscriber
        self.database = database
        self.access = access
        self.max_channels = max_channels

    def _reply(self, payload: dict[str, Any]) -> None:
        self.hub.reply(self.subscriber, payload)

    def _error(self, message: str, channels: Sequence[str] = ()) -> None:
        payload: dict[str, Any] = {"type": "error", "message": message}
        if channels:
            payload["channels"] = list(channels)
        self._reply(payload)

    async def handle(self, raw: str | bytes) -> None:
        try:
            request = client_request.validate_json(raw)
        except ValidationError as exc:
            self._error(describe_request_error(exc))
            return
        try:
            if isinstance(request, PingRequest):
                self._reply({"type": "pong", "sent_at": datetime.now(UTC)})
            elif isinstance(request, SubscribeRequest):
                await self.subscribe(request.channels)
            else:
                await self.unsubscribe(request.channels)
        except (SQLAlchemyError, OSError) as exc:
            logger.warning("could not resolve /ws channels: %s", exc)
            self._error("channels could not be checked just now; try again")

    def _reject(self, action: str, resolution: Resolution) -> None:
        if resolution.rejected:
            reasons = "; ".join(f"{name}: {reason}" for name, reason in resolution.rejected)
            self._error(f"not {action}: {reasons}", [name for name, _ in resolution.rejected])

    async def subscribe(self, names: Sequence[str]) -> None:
        if not names:
            self._error("no channels given")
            return
        if len(names) > self.max_channels:
            self._error(f"too many channels: at most {self.max_channels} per connection")
            return
        resolution = await resolve_channels(self.database, self.access, names, must_exist=True)
        total = len(self.subscriber.channels.union(resolution.channels))
        if total > self.max_channels:
            self._error(
                f"too many channels: at most {self.max_channels} per connection "
                f"(this request would make {total}); nothing subscribed",
                names,
            )
            return
        if resolution.channels:
            self.hub.subscribe(self.subscriber, resolution.channels)
            self._reply({"type": "subscribed", "channels": resolution.channels})
        self._reject("subscribed", resolution)

    async def unsubscribe(self, names: Sequence[str]) -> None:
        if not names:
            self._error("no channels given")
            return
        resolution = await resolve_channels(self.database, self.access, names, must_exist=False)
        if resolution.channels:
            self.hub.unsubscribe(self.subscriber, resolution.channels)
            self._reply({"type": "unsubscribed", "channels": resolution.channels})
        self._reject("unsubscribed", resolution)


def split_channel_list(text: str) -> list[str]:
    """`?channels=broadcast,class:3` on the /ws URL."""
    return [name.strip() for name in text.split(",") if name.strip()]


def broadcast_message(request: BroadcastRequest) -> LiveMessage:
    return LiveMessage(
        type=SYSTEM_MESSAGE,
        channels=(BROADCAST_CHANNEL,),
        data={"message": request.message, "level": request.level},
    )

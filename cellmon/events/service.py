"""Taking events in: read the body within limits, validate it once, normalise, enqueue
them as one message.

Rules for what the client may leave out (a 4xx would lose the event, so none refuses it):
- no `eventId`: a UUID derived from the event's content, so a retried request dedupes;
- no or blank `emailAddress`: the unknown identity `unknown+<sessionId>@unknown.invalid`
  (`unknown@unknown.invalid` without a session), never a real student;
- no `eventTime`: the server's receive time;
- no `notebookPath`: `unknown`, as the client itself says for a notebook without a path;
- `code`, `result`, `errorMessage` longer than CELLMON_MAX_FIELD_BYTES (UTF-8) are cut and end
  with a marker; the event then lists them in `truncatedFields`;
- `userName`, `teamName` are cut to the 255 characters their columns hold;
- NUL characters, which PostgreSQL text cannot hold, become U+FFFD.

The queue form also carries what only the server may say: `receivedAt`, and `classId`, the
class of the request's ingest key (a `classId` the client sent is dropped, or it could enroll
a student in any class).
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from pydantic import ValidationError

from cellmon.core.queue import MessageQueue
from cellmon.core.settings import Settings
from cellmon.events.schemas import (
    CLASS_ID_FIELD,
    EVENT_LIST,
    SINGLE_EVENT,
    ClientEvent,
    EventError,
)

UNKNOWN_NOTEBOOK = "unknown"
UNKNOWN_EMAIL_DOMAIN = "unknown.invalid"
NAME_MAX_CHARS = 255
LARGE_TEXT_FIELDS = ("code", "result", "errorMessage")
# Namespace of the eventIds derived for events that came without one.
DERIVED_ID_NAMESPACE = uuid.UUID("8c6f2f0e-4f7a-4b7e-9a51-2f4f8e1d6c3b")


class BodyTooLarge(Exception):
    """The body, after decompression, is over CELLMON_MAX_BODY_BYTES."""


class TooManyEvents(Exception):
    """More events in one request than CELLMON_MAX_EVENTS_PER_REQUEST."""


class UnreadableBody(Exception):
    """The body cannot be read at all (unknown encoding, broken gzip)."""


class InvalidEvents(Exception):
    """Validation failed; `errors` names each event's index and field."""

    def __init__(self, errors: list[EventError]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


async def read_body(
    chunks: AsyncIterator[bytes], content_encoding: str | None, limit: int
) -> bytes:
    """The request body, decompressed, refused as soon as it would pass `limit` bytes."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise UnreadableBody(f"unsupported Content-Encoding {encoding!r}; send identity or gzip")
    # wbits 16 + MAX_WBITS: a gzip header and trailer around the deflate stream.
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    parts: list[bytes] = []
    received = size = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge
        if decompressor is None:
            data = chunk
        else:
            try:
                # Never more output than the limit allows, so a gzip bomb costs nothing.
                data = decompressor.decompress(chunk, limit + 1 - size)
            except zlib.error as exc:
                raise UnreadableBody(f"invalid gzip body: {exc}") from exc
            if decompressor.unconsumed_tail:
                raise BodyTooLarge
        size += len(data)
        if size > limit:
            raise BodyTooLarge
        parts.append(data)
    if decompressor is not None and not decompressor.eof:
        raise UnreadableBody("invalid gzip body: truncated")
    return b"".join(parts)


def parse_events(body: bytes) -> list[ClientEvent]:
    """Validate the whole body at once: a JSON array of events, or one event object."""
    start = body.lstrip()[:1]
    single = start == b"{"
    try:
        if single:
            return [SINGLE_EVENT.validate_json(body)]
        if start != b"[":
            raise InvalidEvents(
                [EventError(event_index=None, field=None, message=_not_events(start))]
            )
        return EVENT_LIST.validate_json(body)
    except ValidationError as exc:
        raise InvalidEvents([_event_error(error, single) for error in exc.errors()]) from exc


def _not_events(start: bytes) -> str:
    if not start:
        return "empty body; send a JSON array of events"
    return "the body must be a JSON array of events (or one event object)"


def _event_error(error: Any, single: bool) -> EventError:
    location: tuple[int | str, ...] = tuple(error["loc"])
    index: int | None = 0 if single else None
    if not single and location and isinstance(location[0], int):
        index, location = location[0], location[1:]
    field = ".".join(str(part) for part in location) or None
    return EventError(event_index=index, field=field, message=error["msg"])


def normalise(
    event: ClientEvent,
    received_at: datetime,
    max_field_bytes: int,
    *,
    may_hold_nul: bool = True,
    class_id: int | None = None,
) -> dict[str, Any]:
    """The queue form of an event, made in place: every rule of this module's docstring applied.

    `class_id`: the class of the request's ingest key.

    `may_hold_nul=False` skips the search for NUL characters: a JSON text holds one only as
    the escape `\\u0000`, so a body without that escape has none.
    """
    data = cast(dict[str, Any], event)
    if may_hold_nul:
        for name, value in data.items():
            if isinstance(value, str) and "\x00" in value:
                data[name] = value.replace("\x00", "\ufffd")
    if not data.get("eventId"):
        data.pop("eventId", None)
        data["eventId"] = str(
            uuid.uuid5(
                DERIVED_ID_NAMESPACE, orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
            )
        )
    event_time = data.get("eventTime")
    if event_time is None:
        data["eventTime"] = received_at
    elif event_time.tzinfo is None:
        data["eventTime"] = event_time.replace(tzinfo=UTC)
    if not data.get("emailAddress"):
        session = data.get("sessionId")
        local = f"unknown+{session}" if session else "unknown"
        data["emailAddress"] = f"{local}@{UNKNOWN_EMAIL_DOMAIN}"
    if not data.get("notebookPath"):
        data["notebookPath"] = UNKNOWN_NOTEBOOK
    for name in ("userName", "teamName"):
        value = data.get(name)
        if value is not None and len(value) > NAME_MAX_CHARS:
            data[name] = value[:NAME_MAX_CHARS]
    truncated: list[str] = []
    for name in LARGE_TEXT_FIELDS:
        text = data.get(name)
        # A character is at most 4 bytes in UTF-8: most texts need no encoding to be checked.
        if (
            text is not None
            and len(text) * 4 > max_field_bytes
            and len(text.encode()) > max_field_bytes
        ):
            data[name] = truncate(text, max_field_bytes)
            truncated.append(name)
    if truncated:
        data["truncatedFields"] = truncated
    data["receivedAt"] = received_at
    if class_id is None:
        data.pop(CLASS_ID_FIELD, None)
    else:
        data[CLASS_ID_FIELD] = class_id
    return data


def truncation_marker(total_bytes: int) -> str:
    return f"\n… [truncated by cellmon: {total_bytes} bytes in all]"


def truncate(text: str, max_bytes: int) -> str:
    """Cut text to at most max_bytes of UTF-8, marker included, on a character boundary."""
    encoded = text.encode()
    marker = truncation_marker(len(encoded))
    keep = max(0, max_bytes - len(marker.encode()))
    return encoded[:keep].decode(errors="ignore") + marker


def queue_body(
    events: Sequence[ClientEvent],
    received_at: datetime,
    max_field_bytes: int,
    *,
    may_hold_nul: bool = True,
    class_id: int | None = None,
) -> bytes:
    """One queue message for a request's events: the JSON array of their normalised forms.

    One message per request, not per event: a batch of 100 costs the queue one entry.
    """
    return orjson.dumps(
        [
            normalise(
                event, received_at, max_field_bytes, may_hold_nul=may_hold_nul, class_id=class_id
            )
            for event in events
        ],
        option=orjson.OPT_UTC_Z,
    )


async def accept_events(
    body: bytes,
    settings: Settings,
    queue: MessageQueue,
    received_at: datetime | None = None,
    *,
    class_id: int | None = None,
) -> int:
    """Validate a request body and queue its events as one message; the number queued.

    `class_id`: the class of the request's ingest key, carried by each of its events.
    """
    events = parse_events(body)
    if len(events) > settings.CELLMON_MAX_EVENTS_PER_REQUEST:
        raise TooManyEvents
    if events:
        moment = received_at or datetime.now(UTC)
        message = queue_body(
            events,
            moment,
            settings.CELLMON_MAX_FIELD_BYTES,
            may_hold_nul=b"\\u0000" in body,
            class_id=class_id,
        )
        await queue.enqueue([message])
    return len(events)

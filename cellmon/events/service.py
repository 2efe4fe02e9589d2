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

Rules for values the databases cannot hold (refusing them would lose the event, and storing
them as they came fails in the worker): the event is accepted and recorded, the value is
replaced, and the value as received is kept as text under `outOfRangeFields` (field name →
text), which marks the event:
- `cellIndex`, `executionCount`, `executionDurationMs` outside the 32-bit INTEGER columns
  that hold them (−2^31 … 2^31 − 1, the duration after rounding), NaN or infinite: null;
- `eventTime` outside 1678-01-01 … 2262-01-01 (UTC; what InfluxDB's nanosecond timestamps
  and the time-series table hold): the server's receive time;
- any other field holding an integer outside −2^63 … 2^64 − 1 at any depth (which JSON
  allows and the queue's JSON cannot write): null, its JSON text kept. Only a body that fails
  to serialise is searched, so the common event pays nothing for this rule.
An eventId derived for an event without one is derived before `eventTime` is replaced, so
a retried request still dedupes.

The queue form also carries what only the server may say: `receivedAt`, and `classId`, the
class of the request's ingest key (a `classId` the client sent is dropped, or it could enroll
a student in any class).
"""

from __future__ import annotations

import json
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
OUT_OF_RANGE_FIELD = "outOfRangeFields"
# The fields stored in 32-bit INTEGER columns (cell_index, execution_count,
# client_duration_ms). The worker rounds the duration, so the bounds are half a unit inside.
INTEGER_FIELDS = ("cellIndex", "executionCount", "executionDurationMs")
INTEGER_FIELD_MIN = -(2**31)
INTEGER_FIELD_MAX = 2**31 - 1
_INTEGER_ABOVE = INTEGER_FIELD_MIN - 0.5
_INTEGER_BELOW = INTEGER_FIELD_MAX + 0.5
# InfluxDB's nanosecond timestamps run from 1677-09-21 to 2262-04-11: whole years inside.
EARLIEST_EVENT_TIME = datetime(1678, 1, 1, tzinfo=UTC)
LATEST_EVENT_TIME = datetime(2262, 1, 1, tzinfo=UTC)


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
    gunzip = _Gunzip() if encoding == "gzip" else None
    parts: list[bytes] = []
    received = size = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge
        # Never more output than the limit allows, so a gzip bomb costs nothing.
        data = chunk if gunzip is None else gunzip.decompress(chunk, limit + 1 - size)
        size += len(data)
        if size > limit:
            raise BodyTooLarge
        parts.append(data)
    if gunzip is not None and not gunzip.complete:
        raise UnreadableBody("invalid gzip body: truncated")
    return b"".join(parts)


_GZIP_MAGIC = b"\x1f\x8b"


class _Gunzip:
    """A gzip body of one or more members (concatenated members are one valid gzip file, as
    `gzip -c a b` writes); bytes after a member that start no other member are refused."""

    def __init__(self) -> None:
        self._member = self._next_member()

    @staticmethod
    def _next_member() -> zlib._Decompress:
        # wbits 16 + MAX_WBITS: a gzip header and trailer around the deflate stream.
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    @property
    def complete(self) -> bool:
        """Whether the body so far ends at the end of a member."""
        return bool(self._member.eof)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        """`data` decompressed; BodyTooLarge when that is more than `max_length` bytes."""
        parts: list[bytes] = []
        while True:
            if max_length <= 0:
                raise BodyTooLarge
            try:
                part = self._member.decompress(data, max_length)
            except zlib.error as exc:
                raise UnreadableBody(f"invalid gzip body: {exc}") from exc
            if self._member.unconsumed_tail:
                raise BodyTooLarge
            parts.append(part)
            max_length -= len(part)
            data = self._member.unused_data
            if not data:
                return b"".join(parts)
            if not _GZIP_MAGIC.startswith(data[:2]):
                raise UnreadableBody(
                    "invalid gzip body: bytes after the end of a gzip member start no other member"
                )
            self._member = self._next_member()


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
    for name in INTEGER_FIELDS:
        number = data.get(name)
        if number is not None and not _INTEGER_ABOVE < number < _INTEGER_BELOW:
            data[name] = None
            _set_aside(data, name, str(number))
    if not data.get("eventId"):
        data.pop("eventId", None)
        content = _dumps_setting_aside(data, orjson.OPT_SORT_KEYS)
        data["eventId"] = str(uuid.uuid5(DERIVED_ID_NAMESPACE, content.decode()))
    event_time = data.get("eventTime")
    if event_time is None:
        data["eventTime"] = received_at
    else:
        if event_time.tzinfo is None:
            data["eventTime"] = event_time = event_time.replace(tzinfo=UTC)
        if not EARLIEST_EVENT_TIME <= event_time < LATEST_EVENT_TIME:
            data["eventTime"] = received_at
            _set_aside(data, "eventTime", event_time.isoformat())
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


class _SetAside(dict[str, str]):
    """`outOfRangeFields` as the server made it (a client may send a field of that name)."""


def _set_aside(data: dict[str, Any], name: str, text: str) -> None:
    """Mark the event's field `name` as replaced, keeping its value as received as text."""
    set_aside = data.get(OUT_OF_RANGE_FIELD)
    if not isinstance(set_aside, _SetAside):
        data[OUT_OF_RANGE_FIELD] = set_aside = _SetAside()
    set_aside[name] = text


def _dumps_setting_aside(value: Any, option: int) -> bytes:
    """orjson's JSON of normalised events (a list) or of one; fields that orjson cannot write
    (integers past 64 bits) are set aside first, searched only once writing failed."""
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:
        for data in value if isinstance(value, list) else [value]:
            _set_aside_unwritable(data)
        return orjson.dumps(value, option=option)


def _set_aside_unwritable(data: dict[str, Any]) -> None:
    for name, value in list(data.items()):
        if isinstance(value, _SetAside):
            continue
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:
            data[name] = None
            # Python's json writes integers of any size; pydantic bounded the depth.
            _set_aside(data, name, json.dumps(value, ensure_ascii=False))


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
    return _dumps_setting_aside(
        [
            normalise(
                event, received_at, max_field_bytes, may_hold_nul=may_hold_nul, class_id=class_id
            )
            for event in events
        ],
        orjson.OPT_UTC_Z,
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

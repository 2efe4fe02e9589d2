"""Recording a batch of queued events: one transaction, retried, split, dead-lettered.

`BatchProcessor.process` turns claimed queue messages into committed rows, and says which
messages may be acknowledged, which time-series points to write (unless they went into the
same transaction: the embedded store in the same database) and which live messages to
publish. Failures come in two kinds:
- the database (or another backend) cannot be reached: nothing is decided, `process` raises
  BackendUnavailable and the worker tries the same messages again later;
- a value the database cannot hold (SQLSTATE class 22 "data exception" or 54 "program limit
  exceeded" on PostgreSQL, asyncpg's DataError included; an integer overflow on SQLite or in
  Python): the same events would fail again, so the batch is split in halves at once, without
  retrying or waiting, until the poison event is alone, and that one is dead-lettered with its
  error; the other events of the batch are recorded without delay;
- anything else (a handler's bug, a conflict with a concurrent batch): the batch is retried
  with exponential back-off, then split in halves until the failing events are alone; an
  event that still fails is stored in dead_letters with its error and acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

from cellmon.core import metrics
from cellmon.core.database import Database
from cellmon.core.errors import BackendUnavailable
from cellmon.core.queue import QueuedMessage
from cellmon.core.settings import Settings
from cellmon.core.timeseries import Point, TimeSeriesSink
from cellmon.events import repository
from cellmon.events.batch import close_batch, open_batch
from cellmon.events.context import BatchContext
from cellmon.events.points import ProgressPoints
from cellmon.events.registry import HandlerRegistry, default_registry
from cellmon.events.schemas import IngestEvent
from cellmon.live.messages import LiveMessage, class_channel, progress_channel
from cellmon.live.positions import next_position

logger = logging.getLogger(__name__)

# SQLSTATEs that a retry of the same transaction can pass: serialization failure, deadlock,
# connection failures (08…), too many connections / out of resources (53…), server shutting
# down (57P…), lock not available (55P03).
_TRANSIENT_SQLSTATES = ("40001", "40P01", "08", "53", "57P", "55P03")
# SQLite reports its passing conditions without a SQLSTATE; these words name them.
_TRANSIENT_SQLITE_WORDS = ("locked", "busy", "disk i/o", "unable to open", "disk is full")
# SQLSTATE classes that say the values themselves are wrong: data exception (22…), program
# limit exceeded (54…, e.g. a row too large to index).
_DATA_SQLSTATES = ("22", "54")
ERROR_TEXT_MAX_CHARS = 2000


def is_transient(exc: BaseException) -> bool:
    """Whether the failure is the backend's state rather than the events' content."""
    if isinstance(exc, BackendUnavailable | OSError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if isinstance(state, str):
            return state.startswith(_TRANSIENT_SQLSTATES)
        if isinstance(exc, InterfaceError):
            return True
        if isinstance(exc, OperationalError):
            text = str(exc.orig).lower()
            return any(word in text for word in _TRANSIENT_SQLITE_WORDS)
    return False


def is_data_error(exc: BaseException) -> bool:
    """Whether the failure is the events' values, which no retry of them can pass."""
    if isinstance(exc, OverflowError):
        # Python's date arithmetic, or sqlite3 binding an integer past 64 bits.
        return True
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if isinstance(state, str):
            return state.startswith(_DATA_SQLSTATES)
        # SQLite: sqlite3.DataError ("string or blob too big"), or its own integer overflow.
        return isinstance(exc, DataError) or "overflow" in str(exc.orig).lower()
    return False


def describe(exc: BaseException) -> str:
    """A short error text; a database error's own text leaves out the statement and its
    parameters (which hold students' code)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return f"{type(cause).__name__}: {cause}"[:ERROR_TEXT_MAX_CHARS]


@dataclass(slots=True)
class BatchOutcome:
    ack_ids: list[str] = field(default_factory=list)
    points: Sequence[Point] = field(default_factory=list)
    messages: list[LiveMessage] = field(default_factory=list)


class ClaimSizer:
    """Messages to claim for a batch of about CELLMON_WORKER_BATCH_SIZE events.

    A message holds the events of one request (up to CELLMON_MAX_EVENTS_PER_REQUEST) or of
    several. The estimate of events per message starts at a request's maximum, rises at once
    to the mean of the last batch and falls by half at most per batch: the batch stays near
    its size whether clients send one event per request or a thousand.
    """

    def __init__(self, batch_events: int, max_events_per_message: int) -> None:
        self._batch_events = batch_events
        self._per_message = float(max_events_per_message)

    def record(self, messages: int, events: int) -> None:
        """What a batch held."""
        if messages:
            self._per_message = max(events / messages, self._per_message / 2, 1.0)

    def messages(self) -> int:
        return max(1, int(self._batch_events / self._per_message))


class _EventsFailed(Exception):
    def __init__(self, cause: BaseException, attempts: int) -> None:
        super().__init__(describe(cause))
        self.cause = cause
        self.attempts = attempts


class BatchProcessor:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        registry: HandlerRegistry | None = None,
        timeseries: TimeSeriesSink | None = None,
    ) -> None:
        self._database = database
        # Points kept in the same database are written in the batch's own transaction: one
        # commit instead of two, and rows and points can no longer be out of step.
        self._write_points_in = timeseries.transaction_writer(database) if timeseries else None
        self._dialect = database.engine.dialect.name
        self._registry = registry or default_registry
        self._claim_sizer = ClaimSizer(
            settings.CELLMON_WORKER_BATCH_SIZE, settings.CELLMON_MAX_EVENTS_PER_REQUEST
        )
        self._max_attempts = settings.CELLMON_WORKER_MAX_ATTEMPTS
        self._retry_base = settings.CELLMON_WORKER_RETRY_BASE_SECONDS

    def claim_count(self) -> int:
        """How many queue messages the next batch should claim."""
        return self._claim_sizer.messages()

    async def process(self, messages: Sequence[QueuedMessage]) -> BatchOutcome:
        """Record the messages' events; raises BackendUnavailable when it cannot decide."""
        outcome = BatchOutcome()
        events: list[IngestEvent] = []
        seen: set[str] = set()
        undecodable: list[dict[str, Any]] = []
        event_count = 0
        for message in messages:
            outcome.ack_ids.append(message.id)
            for body in message.bodies:
                decoded, unusable = _decode(body)
                undecodable += unusable
                event_count += len(decoded) + len(unusable)
                for event in decoded:
                    # A batch can hold the same event twice (a client retry): recorded once.
                    if event.event_id not in seen:
                        seen.add(event.event_id)
                        events.append(event)
        self._claim_sizer.record(len(messages), event_count)
        try:
            recorded, dead = await self._record_or_split(events)
            await self._store_dead_letters(undecodable + dead)
        except Exception as exc:
            if is_transient(exc):
                raise BackendUnavailable(f"recording events: {exc}") from exc
            raise
        metrics.EVENTS_PROCESSED.inc(len(events) - len(dead))
        outcome.messages = recorded
        if self._write_points_in is None:
            dead_ids = {row["event_id"] for row in dead}
            outcome.points = ProgressPoints(
                [event for event in events if event.event_id not in dead_ids]
            )
        return outcome

    async def _record_or_split(
        self, events: Sequence[IngestEvent]
    ) -> tuple[list[LiveMessage], list[dict[str, Any]]]:
        """Live messages of what was recorded, and dead-letter rows of what was not."""
        if not events:
            return [], []
        try:
            return await self._record_with_retry(events), []
        except _EventsFailed as failure:
            if len(events) == 1:
                event = events[0]
                logger.error(
                    "event dead-lettered",
                    extra={"event_id": event.event_id, "event_type": event.event_type},
                    exc_info=failure.cause,
                )
                return [], [
                    _dead_letter(
                        event.body,
                        event.event_id,
                        event.event_type,
                        failure.cause,
                        failure.attempts,
                    )
                ]
        middle = len(events) // 2
        first_messages, first_dead = await self._record_or_split(events[:middle])
        second_messages, second_dead = await self._record_or_split(events[middle:])
        return first_messages + second_messages, first_dead + second_dead

    async def _record_with_retry(self, events: Sequence[IngestEvent]) -> list[LiveMessage]:
        attempt = 1
        while True:
            try:
                return await self._record(events)
            except Exception as exc:
                if is_transient(exc):
                    raise
                if attempt >= self._max_attempts or is_data_error(exc):
                    raise _EventsFailed(exc, attempt) from exc
                logger.warning(
                    "batch failed, retrying",
                    extra={"events": len(events), "attempt": attempt, "error": repr(exc)},
                )
                await asyncio.sleep(self._retry_base * 2 ** (attempt - 1))
                attempt += 1

    async def _record(self, events: Sequence[IngestEvent]) -> list[LiveMessage]:
        async with self._database.writing() as session:
            context = await open_batch(session, self._dialect, events)
            for handler, group in self._registry.group(events):
                await handler(context, group)
            await close_batch(context)
            if self._write_points_in is not None:
                await self._write_points_in(session, ProgressPoints(events))
            return await _live_messages(context)

    async def _store_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            async with self._database.sessions.begin() as session:
                await repository.insert_dead_letters(session, rows)
            metrics.EVENTS_DEAD_LETTERED.inc(len(rows))


async def _live_messages(context: BatchContext) -> list[LiveMessage]:
    """Each notification on its student's channel and on every class the student is in, all
    with the batch's live position (live/positions.py)."""
    if not context.notifications:
        return []
    classes = await repository.enrollments(
        context.session, context.dialect, (note.student_id for note in context.notifications)
    )
    # A batch has about ten notifications per student: their channels are made once.
    channels = {
        student_id: (
            progress_channel(student_id),
            *(class_channel(class_id) for class_id in classes.get(student_id, ())),
        )
        for student_id in {note.student_id for note in context.notifications}
    }
    sent_at = datetime.now(UTC)
    # Last in the transaction: the counter stays locked only until the commit.
    position = await next_position(context.session)
    return [
        LiveMessage(note.type, channels[note.student_id], note.data, sent_at, position)
        for note in context.notifications
    ]


def _decode(body: bytes) -> tuple[list[IngestEvent], list[dict[str, Any]]]:
    """A queued body's events, and dead-letter rows for what cannot be read.

    The body is a request's events as an array; one event object is what the previous
    version queued (and what a dead-letter replay queues). An event that cannot be used is
    dead-lettered alone as its own JSON; a body that is not JSON, whole.
    """
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return [], [_dead_letter(body, None, None, exc, 1)]
    events: list[IngestEvent] = []
    unusable: list[dict[str, Any]] = []
    for item in decoded if isinstance(decoded, list) else [decoded]:
        try:
            events.append(IngestEvent.from_queue(item))
        except (ValueError, KeyError, TypeError) as exc:
            letter = body if item is decoded else orjson.dumps(item)
            unusable.append(_dead_letter(letter, None, None, exc, 1))
    return events, unusable


def _dead_letter(
    body: bytes, event_id: str | None, event_type: str | None, exc: BaseException, attempts: int
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "body": body,
        "error": describe(exc),
        "attempts": attempts,
    }

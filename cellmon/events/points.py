"""An event's time-series point: the `student_progress` measurement and how it is made.

`point_for` is the definition; `line_for` (InfluxDB's line protocol) and `row_for` (the
embedded time-series table) give byte for byte what its point would, straight from the
event, with what a student's events share (series, tags JSON) cached. `ProgressPoints` hands
a batch's events to whichever sink the worker writes to. Other domains read the points back
by the names below (the class timeline, erasure by the student's tag).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import overload

from cellmon.core.database import dumps_json
from cellmon.core.timeseries import LineProtocolPoints, Point
from cellmon.core.timeseries.base import FieldValue
from cellmon.core.timeseries.line_protocol import CACHE_SIZE, encode_field, encode_series
from cellmon.core.timeseries.sql import PointRow, TableRowPoints, series_columns
from cellmon.events.schemas import EXECUTION_TYPES, IngestEvent

MEASUREMENT = "student_progress"
# The tag of the student's e-mail address, the tag of the event's type, and the field that
# says whether an execution succeeded (only executions have it).
USER_TAG = "userId"
EVENT_TAG = "event"
SUCCESS_FIELD = "success"
_SUCCEEDED = f"{SUCCESS_FIELD}=true"
_FAILED = f"{SUCCESS_FIELD}=false"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def point_for(event: IngestEvent) -> Point:
    """The event's `student_progress` point; the same event always gives the same point.

    Its time is the event's, plus under a millisecond derived from the eventId, so that two
    events of one student in the same millisecond do not overwrite each other in InfluxDB.
    """
    tags = _tags(
        event.email, event.event_type, event.notebook_path, event.cell_type, event.session_id
    )
    return Point(MEASUREMENT, tags, _fields(event), _time_ns(event))


def _fields(event: IngestEvent) -> dict[str, FieldValue]:
    fields: dict[str, FieldValue] = {"notebookPath": event.notebook_path}
    if event.cell_id:
        fields["cellId"] = event.cell_id
    if event.execution_count is not None:
        fields["executionCount"] = event.execution_count
    if event.event_type in EXECUTION_TYPES:
        fields[SUCCESS_FIELD] = not event.has_error
    if event.duration_ms is not None:
        fields["duration"] = event.duration_ms
    return fields


def _tags(
    email: str, event_type: str, notebook_path: str, cell_type: str | None, session_id: str | None
) -> dict[str, str]:
    tags = {USER_TAG: email, EVENT_TAG: event_type, "notebook": notebook_path}
    if cell_type:
        tags["cellType"] = cell_type
    if session_id:
        tags["sessionId"] = session_id
    return tags


def _time_ns(event: IngestEvent) -> int:
    micros = (event.event_time - _EPOCH) // _MICROSECOND
    return micros * 1000 + zlib.crc32(event.event_id.encode()) % 1_000_000


def line_for(event: IngestEvent) -> str:
    """`encode_point(point_for(event))`, without making the point (a point always has its
    notebookPath field, so it always has a line)."""
    fields = [
        _line_start(
            event.email,
            event.event_type,
            event.notebook_path,
            event.cell_type,
            event.session_id,
            event.cell_id or None,
        )
    ]
    # Both numbers are ints: the API validated executionCount as one, duration_ms is rounded.
    if event.execution_count is not None:
        fields.append(f"executionCount={event.execution_count}i")
    if event.event_type in EXECUTION_TYPES:
        fields.append(_FAILED if event.has_error else _SUCCEEDED)
    if event.duration_ms is not None:
        fields.append(f"duration={event.duration_ms}i")
    return f"{','.join(fields)} {_time_ns(event)}"


# The lines of one student's events on one cell start alike: series and string fields.
@functools.lru_cache(maxsize=CACHE_SIZE)
def _line_start(
    email: str,
    event_type: str,
    notebook_path: str,
    cell_type: str | None,
    session_id: str | None,
    cell_id: str | None,
) -> str:
    series = encode_series(
        MEASUREMENT, _tags(email, event_type, notebook_path, cell_type, session_id)
    )
    start = f"{series} {encode_field('notebookPath', notebook_path)}"
    return f"{start},{encode_field('cellId', cell_id)}" if cell_id else start


def row_for(event: IngestEvent) -> PointRow:
    """`point_row(point_for(event))`, without making the point."""
    key, tags = _series_columns(
        event.email, event.event_type, event.notebook_path, event.cell_type, event.session_id
    )
    return MEASUREMENT, key, _time_ns(event), tags, dumps_json(_fields(event))


# A student's events share a few series: their key and tags JSON are worked out once each.
@functools.lru_cache(maxsize=CACHE_SIZE)
def _series_columns(
    email: str, event_type: str, notebook_path: str, cell_type: str | None, session_id: str | None
) -> tuple[str, str]:
    return series_columns(
        MEASUREMENT, _tags(email, event_type, notebook_path, cell_type, session_id)
    )


class ProgressPoints(LineProtocolPoints, TableRowPoints):
    """The `student_progress` points of a batch's events, made only if a sink asks for
    points; InfluxDB gets their lines, the time-series table its rows, straight from the
    events."""

    def __init__(self, events: Sequence[IngestEvent]) -> None:
        self._events = events
        self._points: list[Point] | None = None

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> Point: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Point]: ...

    def __getitem__(self, index: int | slice) -> Point | Sequence[Point]:
        if self._points is None:
            self._points = [point_for(event) for event in self._events]
        return self._points[index]

    def lines(self) -> list[str]:
        return [line_for(event) for event in self._events]

    def table_rows(self) -> list[PointRow]:
        return [row_for(event) for event in self._events]

"""Each event's time-series point, and its line protocol written straight from the event."""

from __future__ import annotations

from typing import Any

import pytest

from cellmon.core.timeseries.line_protocol import encode_point
from cellmon.core.timeseries.sql import point_row
from cellmon.events.points import ProgressPoints, point_for
from cellmon.events.schemas import IngestEvent


def event(**changes: Any) -> IngestEvent:
    data: dict[str, Any] = {
        "eventId": "e-1",
        "eventType": "cell_executed",
        "eventTime": "2026-01-05T10:00:00.123456Z",
        "receivedAt": "2026-01-05T10:00:01Z",
        "emailAddress": "ada@example.edu",
        "sessionId": "s-1",
        "notebookPath": "lesson 1/intro.ipynb",
        "cellId": "cell-1",
        "cellType": "code",
        "executionCount": 3,
        "hasError": False,
        "executionDurationMs": 12,
    }
    data.update(changes)
    return IngestEvent.from_queue({key: value for key, value in data.items() if value is not None})


EVENTS = [
    event(),
    event(eventId="e-2", hasError=True, eventType="cell_execution_error"),
    event(eventId="e-3", eventType="help", cellId=None, cellType=None, executionCount=None),
    event(eventId="e-4", eventType="notebook_opened", sessionId=None, executionDurationMs=None),
    event(eventId="e-5", cellId="", cellType="", sessionId="", executionCount=0),
    # What line protocol escapes, in every tag and string field.
    event(
        eventId="e-6",
        emailAddress='we ird,=\\"@x',
        notebookPath='a=b, c\\"d\ne.ipynb',
        cellId='c "1"\\',
        cellType="co de",
        sessionId="s,1=\\",
        eventType="my event",
    ),
    event(eventId="e-7", emailAddress="\\", notebookPath="", executionDurationMs=1.6),
]


@pytest.mark.parametrize("item", EVENTS, ids=[item.event_id for item in EVENTS])
def test_an_events_line_is_its_points_line(item: IngestEvent) -> None:
    assert ProgressPoints([item]).lines() == [encode_point(point_for(item))]


# Also a count beyond 64 bits, which orjson refuses and the standard library then writes.
@pytest.mark.parametrize(
    "item",
    [*EVENTS, event(eventId="e-8", executionCount=2**70)],
    ids=[*(item.event_id for item in EVENTS), "e-8"],
)
def test_an_events_table_row_is_its_points_row(item: IngestEvent) -> None:
    assert ProgressPoints([item]).table_rows() == [point_row(point_for(item))]


def test_progress_points_are_the_events_points_in_order() -> None:
    points = ProgressPoints(EVENTS)
    assert len(points) == len(EVENTS)
    assert list(points) == [point_for(item) for item in EVENTS]
    assert points.lines() == [encode_point(point_for(item)) for item in EVENTS]
    assert points.table_rows() == [point_row(point_for(item)) for item in EVENTS]
    # The same series again comes from the cache: still the same lines and rows.
    assert ProgressPoints(EVENTS).lines() == points.lines()
    assert ProgressPoints(EVENTS).table_rows() == points.table_rows()


def test_a_points_time_is_the_events_plus_a_fraction_of_a_millisecond_from_its_id() -> None:
    point = point_for(event())
    event_time_ns = 1_767_607_200_123_456_000
    assert event_time_ns <= point.time_ns < event_time_ns + 1_000_000
    assert point.time_ns != point_for(event(eventId="e-other")).time_ns

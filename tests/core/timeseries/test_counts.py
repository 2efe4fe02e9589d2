"""The embedded store and InfluxDB hold and count the same points the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cellmon.core.database import Database
from cellmon.core.timeseries.base import CountBucket, FieldValue, Point, TimeSeriesSink
from cellmon.core.timeseries.sql import SqlSink, series_key, to_ns
from cellmon.db.models import TimeSeriesPoint
from tests.core.timeseries.conftest import MakeSink

MakeAnySink = Callable[[], Awaitable[TimeSeriesSink]]
MINUTE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


# Synchronous, so that it can start the (async) InfluxDB fixtures for the InfluxDB case only.
@pytest.fixture(params=["sql", "influxdb"])
def make_any_sink(request: pytest.FixtureRequest, database: Database) -> MakeAnySink:
    if request.param == "sql":

        async def make_sql_sink() -> TimeSeriesSink:
            return SqlSink(database)

        return make_sql_sink
    make_sink: MakeSink = request.getfixturevalue("make_sink")
    return make_sink


@pytest.fixture
async def sink(make_any_sink: MakeAnySink) -> TimeSeriesSink:
    return await make_any_sink()


def execution(user: str, at: datetime, success: bool, event: str = "cell_executed") -> Point:
    return Point(
        measurement="student_progress",
        tags={"userId": user, "event": event, "notebook": "nb1", "cellType": ""},
        fields={"cellId": "c1", "success": success, "executionCount": 1},
        time_ns=to_ns(at),
    )


async def test_counts_per_minute_with_tag_and_field_filters(sink: TimeSeriesSink) -> None:
    points = [
        execution("u1", MINUTE + timedelta(seconds=1), True),
        execution("u1", MINUTE + timedelta(seconds=59, microseconds=999_999), False),
        execution("u2", MINUTE + timedelta(seconds=30), False),
        execution("u3", MINUTE + timedelta(seconds=30), True),
        execution("u1", MINUTE + timedelta(minutes=2, seconds=5), True),
        execution("u1", MINUTE + timedelta(minutes=2, seconds=6), True, event="help"),
        # Outside [start, end):
        execution("u1", MINUTE - timedelta(microseconds=1), True),
        execution("u1", MINUTE + timedelta(minutes=3), True),
    ]
    await sink.write(points)
    end = MINUTE + timedelta(minutes=3)

    async def count(tags: dict[str, list[str]], **fields: bool) -> list[CountBucket]:
        return await sink.count_per_interval("student_progress", MINUTE, end, 60, tags, fields)

    executions = {"event": ["cell_executed"]}
    assert await count(executions) == [
        CountBucket(MINUTE, 4),
        CountBucket(MINUTE + timedelta(minutes=2), 1),
    ]
    assert await count(executions, success=False) == [CountBucket(MINUTE, 2)]
    assert await count({**executions, "userId": ["u1", "u2"]}, success=False) == [
        CountBucket(MINUTE, 2)
    ]
    assert await count({"userId": ["u1"]}) == [
        CountBucket(MINUTE, 2),
        CountBucket(MINUTE + timedelta(minutes=2), 2),
    ]
    assert await count({"userId": ["nobody"]}) == []
    assert await count({"userId": []}) == []
    # A missing tag is the same as an empty one, as in InfluxDB: every point has cellType "".
    assert await count({"cellType": [""]}) == [
        CountBucket(MINUTE, 4),
        CountBucket(MINUTE + timedelta(minutes=2), 2),
    ]


async def test_intervals_are_aligned_on_the_epoch(sink: TimeSeriesSink) -> None:
    await sink.write([execution("u1", MINUTE + timedelta(seconds=50), True)])
    buckets = await sink.count_per_interval(
        "student_progress", MINUTE + timedelta(seconds=45), MINUTE + timedelta(minutes=5), 300, {}
    )
    assert buckets == [CountBucket(MINUTE, 1)]


async def test_a_rewritten_point_is_counted_once_and_other_series_keep_theirs(
    sink: TimeSeriesSink,
) -> None:
    same_instant = MINUTE + timedelta(seconds=10)
    await sink.write([execution("u1", same_instant, True), execution("u2", same_instant, True)])
    # The same point again, with its fields changed: it replaces the first copy.
    await sink.write([execution("u1", same_instant, False)])
    end = MINUTE + timedelta(minutes=1)
    assert await sink.count_per_interval("student_progress", MINUTE, end, 60, {}) == [
        CountBucket(MINUTE, 2)
    ]
    assert await sink.count_per_interval(
        "student_progress", MINUTE, end, 60, {}, {"success": False}
    ) == [CountBucket(MINUTE, 1)]


async def test_the_table_keeps_awkward_tags_and_fields_as_written(database: Database) -> None:
    awkward = 'a "quoted" \\ \\n \t\x01 \u2028 😀 漢字'
    tags = {"userId": awkward, "event": "cell_executed", "empty": ""}
    fields: dict[str, FieldValue] = {
        "note": awkward,
        "success": False,
        "count": 2**62,
        "ratio": 0.1,
    }
    time_ns = to_ns(MINUTE) + 123
    await SqlSink(database).write([Point("student_progress", tags, fields, time_ns)])
    async with database.sessions() as session:
        [point] = (await session.scalars(select(TimeSeriesPoint))).all()
    assert (point.measurement, point.time_ns) == ("student_progress", time_ns)
    assert point.tags == {"userId": awkward, "event": "cell_executed"}
    assert point.fields == fields
    assert point.series_key == series_key("student_progress", tags)

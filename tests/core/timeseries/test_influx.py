"""The InfluxDB sink against the real InfluxDB (1.x API, and 2.x through the compat shim)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import overload

import pytest

from cellmon.core.database import Database
from cellmon.core.errors import BackendUnavailable
from cellmon.core.timeseries.base import LineProtocolPoints, Point
from cellmon.core.timeseries.influx import InfluxSink
from cellmon.db.models import PendingTimeSeriesWrite
from tests.core.timeseries.conftest import V2_TOKEN, MakeSink, pending_rows, v2_sink
from tests.core.timeseries.influx_compat import RecordingTransport, v2_compat_transport
from tests.services import INFLUXDB_URL, influxql, unique_name

T0 = 1_700_000_000_000_000_000


def progress(user: str = "u1", time_ns: int = T0, **fields: object) -> Point:
    return Point(
        measurement="student_progress",
        tags={"userId": user, "event": "cell_executed", "notebook": "nb1"},
        fields=fields or {"cellId": "c1", "success": True},  # type: ignore[arg-type]
        time_ns=time_ns,
    )


async def rows(database: str, query: str = "SELECT * FROM student_progress") -> list[dict]:  # type: ignore[type-arg]
    series = await influxql(database, query)
    if not series:
        return []
    columns = series[0]["columns"]
    return [dict(zip(columns, values, strict=True)) for values in series[0]["values"]]


async def test_v1_writes_points_with_their_types(
    make_sink: MakeSink, influxdb_database: str
) -> None:
    sink = await make_sink()
    await sink.write(
        [
            progress(
                cellId="c1", executionCount=3, success=False, duration=0.5, notebookPath="a.ipynb"
            ),
            progress(user="u2", time_ns=T0 + 1, cellId="c2"),
        ]
    )
    found = await rows(influxdb_database)
    assert found == [
        {
            "time": T0,
            "cellId": "c1",
            "duration": 0.5,
            "event": "cell_executed",
            "executionCount": 3,
            "notebook": "nb1",
            "notebookPath": "a.ipynb",
            "success": False,
            "userId": "u1",
        },
        {
            "time": T0 + 1,
            "cellId": "c2",
            "duration": None,
            "event": "cell_executed",
            "executionCount": None,
            "notebook": "nb1",
            "notebookPath": None,
            "success": None,
            "userId": "u2",
        },
    ]
    field_types = await influxql(influxdb_database, "SHOW FIELD KEYS FROM student_progress")
    assert dict(field_types[0]["values"]) == {
        "cellId": "string",
        "duration": "float",
        "executionCount": "integer",
        "notebookPath": "string",
        "success": "boolean",
    }


AWKWARD = [
    "with space",
    "comma,inside",
    "equals=inside",
    "チームA",
    'double"quote',
    "single'quote",
    r"back\slash",
    "trailing space ",
]


async def test_awkward_tag_and_string_values_round_trip(
    make_sink: MakeSink, influxdb_database: str
) -> None:
    sink = await make_sink()
    points = [
        Point(
            measurement="student_progress",
            tags={"userId": value, "team": value},
            fields={"notebookPath": value + '\\"'},
            time_ns=T0 + index,
        )
        for index, value in enumerate(AWKWARD)
    ]
    await sink.write(points)
    found = await rows(influxdb_database)
    assert [(row["userId"], row["team"], row["notebookPath"]) for row in found] == [
        (value, value, value + '\\"') for value in AWKWARD
    ]
    # The values also work as filters in InfluxQL.
    counts = await sink.count_per_interval(
        "student_progress",
        datetime.fromtimestamp(T0 / 1e9 - 60, UTC),
        datetime.fromtimestamp(T0 / 1e9 + 60, UTC),
        60,
        {"userId": ["チームA", 'double"quote', "single'quote", r"back\slash"]},
    )
    assert sum(bucket.count for bucket in counts) == 4


async def test_empty_tags_are_left_out(make_sink: MakeSink, influxdb_database: str) -> None:
    sink = await make_sink()
    await sink.write([Point("student_progress", {"userId": "u1", "team": ""}, {"x": 1}, T0)])
    keys = await influxql(influxdb_database, "SHOW TAG KEYS FROM student_progress")
    assert keys[0]["values"] == [["userId"]]


async def test_writing_a_point_again_stores_it_once(
    make_sink: MakeSink, influxdb_database: str
) -> None:
    sink = await make_sink()
    await sink.write([progress(), progress(user="u2")])
    await sink.write([progress()])
    found = await rows(influxdb_database)
    assert sorted(row["userId"] for row in found) == ["u1", "u2"]


async def test_writes_go_out_in_batches(make_sink: MakeSink, influxdb_database: str) -> None:
    transport = RecordingTransport()
    sink = await make_sink(batch_lines=2, transport=transport)
    await sink.write([progress(time_ns=T0 + offset) for offset in range(5)])
    writes = [request for request in transport.seen if request.path == "/write"]
    assert [request.body.count(b"\n") + 1 for request in writes] == [2, 2, 1]
    assert writes[0].params == {"db": influxdb_database, "precision": "ns"}
    assert len(await rows(influxdb_database)) == 5


async def test_v1_sends_user_and_password_as_basic_auth(
    make_sink: MakeSink, influxdb_database: str
) -> None:
    transport = RecordingTransport()
    sink = await make_sink(token="teacher:s3cret", transport=transport)
    await sink.write([progress()])
    write = next(request for request in transport.seen if request.path == "/write")
    assert write.headers["authorization"] == "Basic dGVhY2hlcjpzM2NyZXQ="
    assert "p" not in write.params  # the password stays out of URLs and access logs


async def test_v2_api_writes_real_points(make_sink: MakeSink, influxdb_database: str) -> None:
    transport = RecordingTransport(inner=v2_compat_transport(INFLUXDB_URL, V2_TOKEN))
    sink = await v2_sink(make_sink, influxdb_database, transport)
    await sink.write([progress(), progress(user="u2", time_ns=T0 + 1)])
    write = next(request for request in transport.seen if request.path == "/api/v2/write")
    assert write.method == "POST"
    assert write.params == {
        "bucket": f"{influxdb_database}/autogen",
        "org": "school",
        "precision": "ns",
    }
    assert write.headers["authorization"] == "Token teacher:s3cret"
    assert [row["userId"] for row in await rows(influxdb_database)] == ["u1", "u2"]


async def test_v2_refusal_of_the_whole_request_keeps_it_pending_unsplit(
    make_sink: MakeSink, database: Database, influxdb_database: str
) -> None:
    transport = RecordingTransport(inner=v2_compat_transport(INFLUXDB_URL, "right:token"))
    sink = await make_sink(
        api_version=2, bucket=influxdb_database, token="wrong:token", transport=transport
    )
    await sink.write([progress(time_ns=T0 + offset) for offset in range(4)])
    # A 401 concerns every line: one try, no splitting, everything kept.
    assert len(transport.seen) == 1
    [row] = await pending_rows(database)
    assert row.points == 4
    assert row.last_error is not None
    assert row.last_error.startswith("refused: HTTP 401")


async def test_a_refused_line_is_kept_pending_and_the_good_lines_are_written(
    make_sink: MakeSink,
    database: Database,
    influxdb_database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = await make_sink()
    await sink.write([progress(time_ns=T0, executionCount=1)])
    # executionCount is an integer field now; a string for it is a type conflict (400).
    batch = [progress(time_ns=T0 + offset, executionCount=offset) for offset in range(1, 8)]
    batch[4] = progress("ann@example.org", time_ns=T0 + 5, executionCount="five")
    await sink.write(batch)
    # The refusal is logged without the line: its tags name the student.
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals
    assert not [message for message in refusals if "ann@example.org" in message]

    written = await rows(influxdb_database, "SELECT executionCount FROM student_progress")
    assert [row["executionCount"] for row in written] == [0 + 1, 1, 2, 3, 4, 6, 7]
    [row] = await pending_rows(database)
    assert row.points == 1
    assert 'executionCount="five"' in row.lines
    assert row.last_error is not None
    assert "refused: HTTP 400" in row.last_error
    assert "field type conflict" in row.last_error


async def test_points_wait_in_the_database_while_influxdb_is_down_then_are_written(
    make_sink: MakeSink, database: Database, influxdb_database: str, closed_port_url: str
) -> None:
    down = await make_sink(url=closed_port_url, pending_interval_seconds=3600)
    await down.write([progress(time_ns=T0 + offset) for offset in range(3)])
    await down.write([progress(user="u2")])
    pending = await pending_rows(database)
    assert [row.points for row in pending] == [3, 1]
    assert all(row.last_error and row.last_error.startswith("unavailable:") for row in pending)

    # The retry task of a process that reaches InfluxDB drains the table by itself.
    await make_sink()
    for _ in range(500):
        if not await pending_rows(database):
            break
        await asyncio.sleep(0.01)
    assert await pending_rows(database) == []
    assert len(await rows(influxdb_database)) == 4


async def test_a_failed_retry_backs_off(
    make_sink: MakeSink, database: Database, closed_port_url: str
) -> None:
    sink = await make_sink(
        url=closed_port_url, pending_interval_seconds=1000, pending_max_seconds=100_000
    )
    await sink.write([progress()])
    [before] = await pending_rows(database)
    assert before.attempts == 0
    assert before.next_attempt_at > datetime.now(UTC) + timedelta(seconds=900)
    async with database.sessions.begin() as session:
        row = await session.get(PendingTimeSeriesWrite, before.id)
        assert row is not None
        row.next_attempt_at = datetime.now(UTC)
    assert await sink.retry_pending() == 0
    [after] = await pending_rows(database)
    assert after.attempts == 1
    # The wait doubles with each failed attempt.
    assert after.next_attempt_at > datetime.now(UTC) + timedelta(seconds=1900)
    assert after.lines == before.lines


async def test_start_creates_the_v1_database(make_sink: MakeSink) -> None:
    name = unique_name("cellmon_created")
    try:
        await make_sink(bucket=name)
        databases = await influxql("", "SHOW DATABASES")
        assert [name] in databases[0]["values"]
    finally:
        await influxql("", f'DROP DATABASE "{name}"')


async def test_ping(make_sink: MakeSink, closed_port_url: str) -> None:
    await (await make_sink()).ping()
    with pytest.raises(BackendUnavailable):
        await (await make_sink(url=closed_port_url)).ping()


def test_v1_token_must_be_user_and_password(database: Database) -> None:
    from cellmon.core.errors import ConfigError

    with pytest.raises(ConfigError, match="INFLUXDB_TOKEN"):
        InfluxSink(
            url=INFLUXDB_URL, api_version=1, bucket="b", org="", token="abc", database=database
        )


async def test_while_influxdb_is_down_writes_go_straight_to_pending(
    make_sink: MakeSink, database: Database, closed_port_url: str
) -> None:
    transport = RecordingTransport()
    sink = await make_sink(
        url=closed_port_url, batch_lines=2, pending_interval_seconds=3600, transport=transport
    )

    def writes_tried() -> int:
        return sum(request.path == "/write" for request in transport.seen)

    await sink.write([progress(time_ns=T0 + offset) for offset in range(4)])
    # The first request was tried 3 times; the second chunk and the next write were not.
    assert writes_tried() == 3
    await sink.write([progress(user="u2")])
    assert writes_tried() == 3
    assert [row.points for row in await pending_rows(database)] == [2, 2, 1]


async def test_a_count_the_server_cannot_answer_is_unavailable_not_a_crash(
    make_sink: MakeSink, influxdb_database: str
) -> None:
    # InfluxDB 1.6 has no Flux endpoint: the 2.x read path gets a 404 from the real server.
    sink = await make_sink(
        api_version=2, bucket=influxdb_database, transport=v2_compat_transport(INFLUXDB_URL, None)
    )
    moment = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    with pytest.raises(BackendUnavailable, match="refused the count query: HTTP 404"):
        await sink.count_per_interval("student_progress", moment, moment, 60, {})


class _PrewrittenPoints(LineProtocolPoints):
    """Points that bring their lines: the sink must write those, not encode the points."""

    def __init__(self, points: list[Point], lines: list[str]) -> None:
        self._points = points
        self._lines = lines

    def __len__(self) -> int:
        return len(self._points)

    @overload
    def __getitem__(self, index: int) -> Point: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Point]: ...

    def __getitem__(self, index: int | slice) -> Point | Sequence[Point]:
        return self._points[index]

    def lines(self) -> list[str]:
        return self._lines


async def test_points_that_bring_their_lines_are_written_as_those_lines(
    make_sink: MakeSink, influxdb_database: str
) -> None:
    sink = await make_sink()
    point = progress(cellId="c1")
    await sink.write(_PrewrittenPoints([point], [f'student_progress,userId=u9 cellId="c9" {T0}']))
    assert await rows(influxdb_database) == [{"time": T0, "cellId": "c9", "userId": "u9"}]

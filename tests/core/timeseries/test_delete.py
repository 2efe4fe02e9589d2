"""`delete_tagged`: a student's points leave both stores, in every series and at any time,
awkward tag values included, and InfluxDB's pending writes with them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from sqlalchemy import delete, insert, select, text, update

from cellmon.core.database import Database
from cellmon.core.errors import BackendUnavailable
from cellmon.core.timeseries.base import Point
from cellmon.core.timeseries.line_protocol import encode_point, line_has_tag, stored_tag_value
from cellmon.core.timeseries.sql import SqlSink
from cellmon.db.models import PendingTimeSeriesWrite, TimeSeriesPoint
from tests.core.timeseries.conftest import V2_TOKEN, MakeSink, pending_rows, v2_sink
from tests.core.timeseries.influx_compat import (
    RecordingTransport,
    parse_delete_predicate,
    v2_compat_transport,
)
from tests.core.timeseries.test_influx import AWKWARD, T0
from tests.events.helpers import postgres_only
from tests.services import INFLUXDB_URL, influxql

MEASUREMENT = "student_progress"
KEPT = "kept@example.com"
# Besides the values that round-trip, those line protocol cannot write as they are (a
# backslash before a comma, a trailing backslash, a newline): deleted all the same.
USERS = [*AWKWARD, "a\\,b@example.com", "trailing\\", "new\nline", "alice@example.com"]


def points_of(user: str, first: int) -> list[Point]:
    """Two series of the user (two event types), two points each, far apart in time."""
    return [
        Point(
            MEASUREMENT,
            {"userId": user, "event": event, "notebook": "nb1"},
            {"notebookPath": "nb1.ipynb"},
            time_ns,
        )
        for event in ("cell_executed", "help")
        for time_ns in (first, first + 86_400 * 10**9 * 365)
    ]


def everyones_points() -> list[Point]:
    points = points_of(KEPT, T0)
    for index, user in enumerate(USERS, start=1):
        points += points_of(user, T0 + index)
    return points


async def test_the_table_deletes_the_tag_values_points_only(database: Database) -> None:
    sink = SqlSink(database)
    await sink.write(everyones_points())
    for user in USERS:
        deleted = await sink.delete_tagged(MEASUREMENT, "userId", user)
        assert (deleted.stored, deleted.pending) == (4, 0)
    async with database.sessions() as session:
        left = (await session.scalars(select(TimeSeriesPoint.tags))).all()
    assert [tags["userId"] for tags in left] == [KEPT] * 4
    again = await sink.delete_tagged(MEASUREMENT, "userId", USERS[0])
    assert again.stored == 0  # a repeat is harmless


async def test_the_table_refuses_an_empty_value(database: Database) -> None:
    with pytest.raises(ValueError, match="tag and a value"):
        await SqlSink(database).delete_tagged(MEASUREMENT, "userId", "")


async def users_in_influxdb(database: str) -> dict[str, int]:
    """Points per userId value left in InfluxDB, and no value its index still holds."""
    series = await influxql(database, 'SHOW TAG VALUES FROM student_progress WITH KEY = "userId"')
    indexed = [value for _key, value in series[0]["values"]] if series else []
    counts: dict[str, int] = {}
    grouped = await influxql(
        database, 'SELECT count("notebookPath") FROM student_progress GROUP BY "userId"'
    )
    for group in grouped:
        counts[group["tags"]["userId"]] = group["values"][0][1]
    assert sorted(indexed) == sorted(counts)
    return counts


async def test_influxdb_drops_the_tag_values_series(
    make_sink: MakeSink, influxdb_database: str
) -> None:
    sink = await make_sink()
    await sink.write(everyones_points())
    assert len(await users_in_influxdb(influxdb_database)) == len(USERS) + 1
    for user in USERS:
        deleted = await sink.delete_tagged(MEASUREMENT, "userId", user)
        assert (deleted.stored, deleted.pending) == (None, 0)
    assert await users_in_influxdb(influxdb_database) == {KEPT: 4}


async def test_influxdb_2_deletes_through_the_delete_api(
    make_sink: MakeSink, influxdb_database: str
) -> None:
    transport = RecordingTransport(inner=v2_compat_transport(INFLUXDB_URL, V2_TOKEN))
    sink = await v2_sink(make_sink, influxdb_database, transport)
    await sink.write(everyones_points())
    for user in USERS:
        await sink.delete_tagged(MEASUREMENT, "userId", user)
    deletes = [request for request in transport.seen if request.path == "/api/v2/delete"]
    # One each, or more where InfluxDB was busy with a shard ("engine is closed") and the
    # sink tried again.
    deleted = [
        parse_delete_predicate(orjson.loads(request.body)["predicate"])["userId"]
        for request in deletes
    ]
    assert sorted(set(deleted)) == sorted(stored_tag_value(user) for user in USERS)
    assert deletes[0].params == {"bucket": f"{influxdb_database}/autogen", "org": "school"}
    assert deletes[0].headers["authorization"] == "Token teacher:s3cret"
    body = orjson.loads(deletes[-1].body)
    assert (body["start"], body["stop"]) == (
        "1677-09-21T00:12:43.145224194Z",
        "2262-04-11T23:47:16.854775806Z",
    )
    assert parse_delete_predicate(body["predicate"]) == {
        "_measurement": MEASUREMENT,
        "userId": stored_tag_value(USERS[-1]),
    }
    assert await users_in_influxdb(influxdb_database) == {KEPT: 4}


async def test_pending_writes_lose_the_tag_values_lines_even_with_influxdb_down(
    make_sink: MakeSink, database: Database, closed_port_url: str
) -> None:
    down = await make_sink(url=closed_port_url, pending_interval_seconds=3600)
    await down.write(everyones_points())  # one pending row: every user's lines
    await down.write(points_of(USERS[0], T0))  # one row of one user's lines only
    assert [row.points for row in await pending_rows(database)] == [4 * (len(USERS) + 1), 4]

    with pytest.raises(BackendUnavailable):
        await down.delete_tagged(MEASUREMENT, "userId", USERS[0])

    [row] = await pending_rows(database)
    lines = row.lines.split("\n")
    assert row.points == len(lines) == 4 * len(USERS)
    assert not any(line_has_tag(line, MEASUREMENT, "userId", USERS[0]) for line in lines)
    for user in [KEPT, *USERS[1:]]:
        assert sum(line_has_tag(line, MEASUREMENT, "userId", user) for line in lines) == 4


def test_a_line_has_a_tag_only_as_a_whole_tag_of_its_measurement() -> None:
    for user in USERS:
        line = encode_point(points_of(user, T0)[0])
        assert line is not None
        assert line_has_tag(line, MEASUREMENT, "userId", user)
        assert not line_has_tag(line, "other", "userId", user)
        assert not line_has_tag(line, MEASUREMENT, "userId", user + "x")
        assert not line_has_tag(line, MEASUREMENT, "userId", user[1:])
    # A tag value that spells another tag is not that tag.
    spelled = encode_point(Point(MEASUREMENT, {"team": "x,userId=bob"}, {"f": 1}, T0))
    assert spelled is not None
    assert not line_has_tag(spelled, MEASUREMENT, "userId", "bob")


class HeldDown(httpx.AsyncBaseTransport):
    """InfluxDB out of reach; while `holding`, a write waits to be released before failing."""

    def __init__(self) -> None:
        self.holding = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.holding and request.url.path == "/write":
            self.entered.set()
            await self.release.wait()
        raise httpx.ConnectError("InfluxDB is down", request=request)


async def test_a_retry_failing_during_the_erasure_does_not_bring_the_lines_back(
    make_sink: MakeSink, database: Database
) -> None:
    transport = HeldDown()
    sink = await make_sink(transport=transport, pending_interval_seconds=3600)
    await sink.write(everyones_points())
    async with database.sessions.begin() as session:
        await session.execute(
            update(PendingTimeSeriesWrite).values(next_attempt_at=datetime.now(UTC))
        )
    transport.holding = True
    retrying = asyncio.create_task(sink.retry_pending())
    await asyncio.wait_for(transport.entered.wait(), 10)  # the row is claimed, being written

    with pytest.raises(BackendUnavailable):
        await sink.delete_tagged(MEASUREMENT, "userId", USERS[0])
    transport.release.set()
    assert await retrying == 0

    [row] = await pending_rows(database)
    lines = row.lines.split("\n")
    assert row.points == len(lines) == 4 * len(USERS)
    assert not any(line_has_tag(line, MEASUREMENT, "userId", USERS[0]) for line in lines)


@postgres_only
async def test_an_erasure_waits_for_a_retry_that_replaces_its_row_and_clears_the_new_one(
    make_sink: MakeSink, database: Database, closed_port_url: str
) -> None:
    """A retry replaces its pending row by a new one in one transaction. An erasure that
    starts meanwhile must see the new row once the retry commits, not only the old one."""
    down = await make_sink(url=closed_port_url, pending_interval_seconds=3600)
    await down.write(everyones_points())
    [row] = await pending_rows(database)
    async with database.sessions() as retry:
        # What `_keep_pending(replacing=…)` does, held open.
        await retry.execute(
            select(PendingTimeSeriesWrite.id)
            .where(PendingTimeSeriesWrite.id == row.id)
            .with_for_update()
        )
        await retry.execute(
            delete(PendingTimeSeriesWrite).where(PendingTimeSeriesWrite.id == row.id)
        )
        now = datetime.now(UTC)
        await retry.execute(
            insert(PendingTimeSeriesWrite).values(
                lines=row.lines,
                points=row.points,
                attempts=row.attempts + 1,
                last_error="unavailable",
                created_at=now,
                next_attempt_at=now,
            )
        )
        erasing = asyncio.create_task(down.delete_tagged(MEASUREMENT, "userId", USERS[0]))
        await until_a_transaction_waits_for_a_lock(database)
        await retry.commit()
    with pytest.raises(BackendUnavailable):
        await erasing

    [replaced] = await pending_rows(database)
    lines = replaced.lines.split("\n")
    assert replaced.id != row.id
    assert not any(line_has_tag(line, MEASUREMENT, "userId", USERS[0]) for line in lines)
    assert replaced.points == len(lines) == 4 * len(USERS)


async def until_a_transaction_waits_for_a_lock(database: Database) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(10):
        while True:
            async with database.sessions() as session:
                if await session.scalar(waiting):
                    return
            await asyncio.sleep(0.01)


@dataclass
class ShardClosedOnce(httpx.AsyncBaseTransport):
    """Answers the first delete as InfluxDB 1.x does while a shard closes (a 400 on the 2.x
    delete API, a statement error in a 200 to InfluxQL's DROP SERIES); the rest pass."""

    inner: httpx.AsyncBaseTransport
    refused: int = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.refused:
            if request.url.path == "/api/v2/delete":
                self.refused += 1
                return httpx.Response(400, json={"code": "invalid", "message": "engine is closed"})
            if request.url.path == "/query" and b"DROP+SERIES" in request.content:
                self.refused += 1
                error = {"statement_id": 0, "error": "engine is closed"}
                return httpx.Response(200, json={"results": [error]})
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("api_version", [1, 2])
async def test_a_delete_met_by_a_closing_shard_is_tried_again(
    make_sink: MakeSink, influxdb_database: str, api_version: int
) -> None:
    if api_version == 2:
        transport = ShardClosedOnce(inner=v2_compat_transport(INFLUXDB_URL, V2_TOKEN))
        sink = await v2_sink(make_sink, influxdb_database, transport)
    else:
        transport = ShardClosedOnce(inner=httpx.AsyncHTTPTransport())
        sink = await make_sink(transport=transport)
    await sink.write(points_of(KEPT, T0) + points_of(USERS[0], T0))
    await sink.delete_tagged(MEASUREMENT, "userId", USERS[0])
    assert transport.refused == 1
    assert await users_in_influxdb(influxdb_database) == {KEPT: 4}

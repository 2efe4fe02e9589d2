"""Sinks under test, each with the SQL database of the parametrized kind for its pending rows."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cellmon.core.database import Database
from cellmon.core.settings import Settings
from cellmon.core.timeseries.influx import InfluxSink
from cellmon.db.models import PendingTimeSeriesWrite
from tests.services import INFLUXDB_URL

MakeSink = Callable[..., Awaitable[InfluxSink]]


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def make_sink(database: Database, influxdb_database: str) -> AsyncIterator[MakeSink]:
    """Started InfluxSinks on the test database (1.x API unless told), closed afterwards."""
    sinks: list[InfluxSink] = []

    async def make(**options: Any) -> InfluxSink:
        values: dict[str, Any] = {
            "url": INFLUXDB_URL,
            "api_version": 1,
            "bucket": influxdb_database,
            "org": "",
            "token": None,
            "database": database,
            "retry_seconds": 0.001,
            "pending_interval_seconds": 0.02,
            "pending_max_seconds": 0.1,
        }
        values.update(options)
        sink = InfluxSink(**values)
        await sink.start()
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        await sink.close()


@pytest.fixture
def closed_port_url() -> str:
    """A local URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def pending_rows(database: Database) -> list[PendingTimeSeriesWrite]:
    async with database.sessions() as session:
        statement = select(PendingTimeSeriesWrite).order_by(PendingTimeSeriesWrite.id)
        return list((await session.execute(statement)).scalars())


# An InfluxDB 2 account as tests/core/timeseries/influx_compat.py's v2 transport takes it.
V2_TOKEN = "teacher:s3cret"


async def v2_sink(
    make_sink: MakeSink, influxdb_database: str, transport: httpx.AsyncBaseTransport
) -> InfluxSink:
    """A sink speaking InfluxDB 2's API (token, org, bucket) to the test database."""
    return await make_sink(
        api_version=2,
        bucket=f"{influxdb_database}/autogen",
        org="school",
        token=V2_TOKEN,
        transport=transport,
    )

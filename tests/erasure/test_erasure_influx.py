"""Erasing a student whose time series is in the real InfluxDB (1.x API), and finishing an
erasure that InfluxDB was down for."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from cellmon.app import create_app
from cellmon.core.settings import Settings
from cellmon.core.timeseries.line_protocol import line_has_tag
from cellmon.db.models import PendingTimeSeriesWrite, User
from tests.accounts import ADMIN_EMAIL, create_account, signed_in
from tests.erasure.records import (
    ALICE,
    BOB,
    add_the_rest,
    influx_knows,
    influx_points,
    post_events,
    sql_records,
    student_id,
)
from tests.lms_factories import API
from tests.services import influxdb_overrides

MEASUREMENT = "student_progress"


@pytest.fixture
def settings_overrides(influxdb_database: str) -> dict[str, Any]:
    return influxdb_overrides(influxdb_database)


async def test_erasure_drops_the_students_series_from_influxdb(
    app: FastAPI, client: httpx.AsyncClient, influxdb_database: str
) -> None:
    assert app.state.settings.uses_influxdb
    await post_events(app, client, "1")
    await add_the_rest(app, client)
    alice, bob = await student_id(app, ALICE), await student_id(app, BOB)
    bob_points = await influx_points(influxdb_database, BOB)
    assert await influx_points(influxdb_database, ALICE) > 0
    assert bob_points > 0

    response = await client.delete(f"{API}/students/{alice}")

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["complete"], report["timeseries"]) == (True, "deleted")
    assert report["deleted"]["timeseries_points"] is None  # InfluxDB does not say
    assert await influx_points(influxdb_database, ALICE) == 0
    assert not await influx_knows(influxdb_database, ALICE)  # gone from the index too
    assert await influx_points(influxdb_database, BOB) == bob_points
    assert all(count == 0 for count in (await sql_records(app, alice, ALICE)).values())
    assert (await sql_records(app, bob, BOB))["students"] == 1


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        yield application


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def pending_lines(app: FastAPI) -> list[str]:
    async with app.state.database.sessions() as session:
        texts = (await session.scalars(select(PendingTimeSeriesWrite.lines))).all()
    return [line for text in texts for line in text.split("\n")]


async def test_a_repeat_after_an_influxdb_outage_finishes_the_erasure(
    settings: Settings, influxdb_database: str
) -> None:
    """The points written before the outage wait in InfluxDB, those of the outage in the
    pending table; the erasure during the outage takes the student's pending lines out and
    says the rest is still to delete; its repeat, with InfluxDB back, deletes them."""
    down = settings.model_copy(update={"INFLUXDB_URL": closed_port_url()})
    async with running(settings) as app:
        admin: User = await create_account(app, ADMIN_EMAIL, "admin")
        async with signed_in(app, admin) as client:
            await post_events(app, client, "before")
            await add_the_rest(app, client)
            alice = await student_id(app, ALICE)
    before = await influx_points(influxdb_database, ALICE)
    assert before > 0

    async with running(down) as app, signed_in(app, admin) as client:
        await post_events(app, client, "during")
        lines = await pending_lines(app)
        assert any(line_has_tag(line, MEASUREMENT, "userId", ALICE) for line in lines)

        response = await client.delete(f"{API}/students/{alice}")

        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["complete"], report["timeseries"]) == (False, "pending")
        assert "still to be deleted" in report["detail"]
        assert report["deleted"]["students"] == 1
        lines = await pending_lines(app)
        assert not any(line_has_tag(line, MEASUREMENT, "userId", ALICE) for line in lines)
        assert any(line_has_tag(line, MEASUREMENT, "userId", BOB) for line in lines)
    assert await influx_points(influxdb_database, ALICE) == before  # InfluxDB was out of reach

    async with running(settings) as app, signed_in(app, admin) as client:
        repeat = await client.delete(f"{API}/students/{alice}", params={"email": ALICE})

        assert repeat.status_code == 200, repeat.text
        assert (repeat.json()["complete"], repeat.json()["timeseries"]) == (True, "deleted")
        assert await influx_points(influxdb_database, ALICE) == 0
        assert not await influx_knows(influxdb_database, ALICE)
        # Bob's points of the outage reach InfluxDB from the pending table.
        for _ in range(600):
            if not await pending_lines(app):
                break
            await asyncio.sleep(0.05)
        assert not await pending_lines(app)
        assert await influx_points(influxdb_database, BOB) == 12
        assert await influx_points(influxdb_database, ALICE) == 0

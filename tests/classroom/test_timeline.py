"""GET /api/v1/progress/classes/{id}/timeline: executions and errors per minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from cellmon.core.timeseries import Point, TimeSeriesSink
from tests.classroom.seed import Seeder, database


def _point(email: str, moment: datetime, event: str = "cell_executed") -> Point:
    return Point(
        measurement="student_progress",
        tags={"userId": email, "event": event},
        fields={"success": True},
        time_ns=int(moment.timestamp() * 1_000_000) * 1000,
    )


async def test_timeline_counts_the_class_per_minute(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        other = await seed.klass("Other", "OTHER")
        _, cells = await seed.notebook("lessons/week1.ipynb", 1)
        ann = await seed.student("ann@example.com", klass)
        zed = await seed.student("zed@example.com", other)
        await seed.runs(ann, cells[0], "ee", minute - timedelta(minutes=2) + timedelta(seconds=30))
        await seed.runs(zed, cells[0], "eee", minute - timedelta(minutes=2) + timedelta(seconds=30))
        await session.commit()
    sink: TimeSeriesSink = app.state.backends.timeseries
    await sink.write(
        [
            _point("ann@example.com", minute - timedelta(minutes=2, seconds=-10)),
            _point("ann@example.com", minute - timedelta(minutes=2, seconds=-20)),
            _point("ann@example.com", minute + timedelta(seconds=1)),
            _point("ann@example.com", minute + timedelta(seconds=2), event="notebook_opened"),
            _point("ann@example.com", minute - timedelta(minutes=20)),
            _point("zed@example.com", minute + timedelta(seconds=3)),
        ]
    )

    response = await client.get(
        f"/api/v1/progress/classes/{klass.id}/timeline", params={"minutes": 5}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["interval_seconds"] == 60
    buckets = body["buckets"]
    assert len(buckets) == 5
    assert datetime.fromisoformat(buckets[-1]["start"]) == minute
    assert datetime.fromisoformat(body["end"]) == minute + timedelta(minutes=1)
    assert [(bucket["executions"], bucket["errors"]) for bucket in buckets] == [
        (0, 0),
        (0, 0),
        (2, 2),
        (0, 0),
        (1, 0),
    ]


async def test_timeline_of_an_empty_class_is_all_zeros(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with database(app).sessions() as session:
        klass = await Seeder(session).klass()
        await session.commit()

    body = (await client.get(f"/api/v1/progress/classes/{klass.id}/timeline")).json()

    assert len(body["buckets"]) == 60
    assert {(bucket["executions"], bucket["errors"]) for bucket in body["buckets"]} == {(0, 0)}


@pytest.mark.parametrize("minutes", ["0", "1441", "an hour"])
async def test_timeline_refuses_bad_windows(client: httpx.AsyncClient, minutes: str) -> None:
    response = await client.get("/api/v1/progress/classes/1/timeline", params={"minutes": minutes})

    assert response.status_code == 422


async def test_timeline_of_a_missing_class_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/progress/classes/5/timeline")).status_code == 404

"""GET /api/v1/progress/classes/{id}/timeline: executions and errors per minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from cellmon.auth.access import Access
from cellmon.auth.principal import Principal, Role
from cellmon.classroom.service import class_timeline
from cellmon.core.timeseries import Point, TimeSeriesSink
from cellmon.db.models import User
from tests.classroom.seed import Seeder, database


def _point(
    email: str, moment: datetime, event: str = "cell_executed", success: bool = True
) -> Point:
    return Point(
        measurement="student_progress",
        tags={"userId": email, "event": event},
        fields={"success": success},
        time_ns=int(moment.timestamp() * 1_000_000) * 1000,
    )


def admin_access(admin: User) -> Access:
    return Access(
        Principal(
            user_id=admin.id, email=admin.email, role=Role.ADMIN, token_id="", token_expires_at=0
        )
    )


async def test_timeline_counts_the_class_per_minute(app: FastAPI, admin_user: User) -> None:
    await assert_counts_per_minute(app, admin_user)


async def assert_counts_per_minute(app: FastAPI, admin: User) -> None:
    """Runs and errors of the class's students only, per minute, the current one last.

    The service reads the time from a clock held half-way through a minute an hour back, so
    that minute is its current one whenever the test runs (and only if it reads that clock)."""
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        other = await seed.klass("Other", "OTHER")
        await seed.student("ann@example.com", klass)
        await seed.student("zed@example.com", other)
        await session.commit()
    sink: TimeSeriesSink = app.state.backends.timeseries
    await sink.write(
        [
            _point("ann@example.com", minute - timedelta(minutes=2, seconds=-10), success=False),
            _point("ann@example.com", minute - timedelta(minutes=2, seconds=-20), success=False),
            _point("ann@example.com", minute - timedelta(minutes=2, seconds=-30)),
            _point("zed@example.com", minute - timedelta(minutes=2, seconds=-30), success=False),
            _point("ann@example.com", minute + timedelta(seconds=1)),
            _point("ann@example.com", minute + timedelta(seconds=2), event="notebook_opened"),
            _point("ann@example.com", minute - timedelta(minutes=20)),
            _point("zed@example.com", minute + timedelta(seconds=3)),
        ]
    )

    async with database(app).sessions() as session:
        timeline = await class_timeline(
            session,
            admin_access(admin),
            sink,
            klass.id,
            5,
            clock=lambda: minute + timedelta(seconds=30),
        )

    assert timeline.interval_seconds == 60
    assert len(timeline.buckets) == 5
    assert timeline.buckets[-1].start == minute
    assert timeline.end == minute + timedelta(minutes=1)
    assert [(bucket.executions, bucket.errors) for bucket in timeline.buckets] == [
        (0, 0),
        (0, 0),
        (3, 2),
        (0, 0),
        (1, 0),
    ]


async def test_timeline_of_an_empty_class_is_all_zeros(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with database(app).sessions() as session:
        klass = await Seeder(session).klass()
        await session.commit()

    before = datetime.now(UTC).replace(second=0, microsecond=0)
    response = await client.get(f"/api/v1/progress/classes/{klass.id}/timeline")
    after = datetime.now(UTC).replace(second=0, microsecond=0)

    assert response.status_code == 200
    body = response.json()
    assert body["interval_seconds"] == 60
    assert len(body["buckets"]) == 60
    assert {(bucket["executions"], bucket["errors"]) for bucket in body["buckets"]} == {(0, 0)}
    # The route runs on the real clock: its current minute is one the request overlapped.
    assert datetime.fromisoformat(body["buckets"][-1]["start"]) in {before, after}
    assert datetime.fromisoformat(body["end"]) - datetime.fromisoformat(
        body["buckets"][-1]["start"]
    ) == timedelta(minutes=1)


@pytest.mark.parametrize("minutes", ["0", "1441", "an hour"])
async def test_timeline_refuses_bad_windows(client: httpx.AsyncClient, minutes: str) -> None:
    response = await client.get("/api/v1/progress/classes/1/timeline", params={"minutes": minutes})

    assert response.status_code == 422


async def test_timeline_of_a_missing_class_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/progress/classes/5/timeline")).status_code == 404

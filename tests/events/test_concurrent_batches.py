"""Two workers' batches over the same students, recorded at once on PostgreSQL.

A batch locks the rows batches share (students, sessions, cell states) only in its last
statements, so a second batch runs to its commit while the first is still in its handlers;
and when both create the same student, the second waits for the first and merges into it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select, text

from cellmon.db.models import Student, StudentCellState, StudentSession
from cellmon.events.pipeline import BatchOutcome
from cellmon.live.messages import STUCK_ALERT
from tests.events.helpers import (
    EMAIL,
    PAUSE,
    SESSION_ID,
    PausingRegistry,
    client_event,
    execution,
    postgres_only,
    record,
)

pytestmark = postgres_only


async def until_a_transaction_waits_for_a_lock(app: FastAPI) -> None:
    """Until a transaction on the test's database waits for another's lock (a row or a
    unique key that an open transaction holds)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(10):
        while True:
            async with app.state.database.sessions() as session:
                if await session.scalar(waiting):
                    return
            await asyncio.sleep(0.01)


async def record_while_paused(
    app: FastAPI, first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> BatchOutcome:
    """Record `first` (with a PAUSE event) until its handlers pause inside its transaction,
    record `second` meanwhile (it must not wait for the first), then let the first finish;
    the first batch's outcome."""
    pausing = PausingRegistry()
    paused = asyncio.create_task(record(app, "first", first, pausing.registry))
    async with asyncio.timeout(10):
        await pausing.paused.wait()
    async with asyncio.timeout(10):
        await record(app, "second", second)
    pausing.release.set()
    async with asyncio.timeout(10):
        return await paused


async def test_a_batch_commits_while_another_over_the_same_rows_is_in_its_handlers(
    app: FastAPI,
) -> None:
    cell = "shared-cell"
    await record(app, "before", [execution(cell, time="2025-01-19T03:30:00.000Z")])
    # The first batch holds its transaction open; the second one, over the same student,
    # session and cell, does not wait for it.
    outcome = await record_while_paused(
        app,
        [
            # Without a name: the one the second batch brings is kept.
            execution(cell, error=True, time="2025-01-19T03:31:00.000Z", userName=None),
            execution(cell, error=True, time="2025-01-19T03:31:01.000Z", userName=None),
            client_event(eventType=PAUSE, eventTime="2025-01-19T03:31:02.000Z", userName=None),
            client_event(eventType="help", eventTime="2025-01-19T03:31:03.000Z", userName=None),
        ],
        [
            execution(cell, error=True, time="2025-01-19T03:32:00.000Z"),
            client_event(
                eventType="session_end", eventTime="2025-01-19T03:32:05.000Z", userName="Renamed"
            ),
        ],
    )
    # The first batch's two errors continue the second's, committed before: a streak of 3.
    assert [m.type for m in outcome.messages].count(STUCK_ALERT) == 1
    async with app.state.database.sessions() as session:
        state = (await session.execute(select(StudentCellState))).scalar_one()
        student = (await session.execute(select(Student))).scalar_one()
        student_session = (await session.execute(select(StudentSession))).scalar_one()
    assert (state.executions, state.errors, state.consecutive_errors) == (4, 3, 3)
    assert student.email == EMAIL
    assert student.name == "Renamed"
    assert student.help_active
    assert student.help_requested_at == datetime(2025, 1, 19, 3, 31, 3, tzinfo=UTC)
    assert student.last_activity_at == datetime(2025, 1, 19, 3, 32, 5, tzinfo=UTC)
    assert student_session.client_session_id == SESSION_ID
    assert student_session.started_at == datetime(2025, 1, 19, 3, 30, tzinfo=UTC)
    assert student_session.ended_at == datetime(2025, 1, 19, 3, 32, 5, tzinfo=UTC)


async def test_a_student_two_batches_create_at_once_is_created_once_and_merged(
    app: FastAPI,
) -> None:
    email = "new@example.com"
    cell = "new-cell"
    pausing = PausingRegistry()
    first = asyncio.create_task(
        record(
            app,
            "first",
            [
                execution(cell, error=True, time="2025-01-19T04:00:00.000Z", emailAddress=email),
                client_event(
                    eventType=PAUSE, eventTime="2025-01-19T04:00:01.000Z", emailAddress=email
                ),
            ],
            pausing.registry,
        )
    )
    async with asyncio.timeout(10):
        await pausing.paused.wait()
    # The second batch does not see the first's uncommitted student: its insert waits for
    # the first batch, then finds the row there and merges into it.
    second = asyncio.create_task(
        record(
            app,
            "second",
            [
                execution(
                    cell,
                    error=True,
                    time="2025-01-19T04:01:00.000Z",
                    emailAddress=email,
                    teamName="Team B",
                ),
            ],
        )
    )
    await until_a_transaction_waits_for_a_lock(app)
    assert not second.done()
    pausing.release.set()
    async with asyncio.timeout(10):
        await asyncio.gather(first, second)
    async with app.state.database.sessions() as session:
        state = (await session.execute(select(StudentCellState))).scalar_one()
        student = (await session.execute(select(Student))).scalar_one()
        student_session = (await session.execute(select(StudentSession))).scalar_one()
    assert (state.executions, state.errors, state.consecutive_errors) == (2, 2, 2)
    assert (student.email, student.team_name) == (email, "Team B")
    assert student.last_activity_at == datetime(2025, 1, 19, 4, 1, tzinfo=UTC)
    assert student_session.started_at == datetime(2025, 1, 19, 4, 0, tzinfo=UTC)
    assert student_session.last_seen_at == datetime(2025, 1, 19, 4, 1, tzinfo=UTC)

"""`cellmon simulate` against the real server: a few students, a lesson sped up to seconds."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select

from cellmon.db.models import (
    CellExecution,
    Class,
    NotebookAccess,
    ProgressEvent,
    Student,
    StudentClass,
)
from cellmon.simulate.account import SetupError
from cellmon.simulate.lesson import plan_lesson
from cellmon.simulate.runner import SimulationOptions, simulate
from cellmon.simulate.sender import Outcome
from tests.accounts import TEST_PASSWORD, create_account
from tests.conftest import LiveServer
from tests.events.helpers import drain

INSTRUCTOR = "teacher@example.org"


def console() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, width=120), output


async def recorded_event_ids(server: LiveServer) -> list[str]:
    async with server.app.state.database.sessions() as session:
        ids: list[str] = []
        for model in (CellExecution, NotebookAccess, ProgressEvent):
            ids.extend((await session.scalars(select(model.event_id))).all())
    return ids


async def test_a_run_makes_its_class_and_the_server_records_what_it_accepted(
    live_server: LiveServer,
) -> None:
    await create_account(live_server.app, INSTRUCTOR, "instructor")
    options = SimulationOptions(
        url=live_server.base_url,
        students=4,
        minutes=1,
        seed=2,
        speed=20,
        email=INSTRUCTOR,
        password=TEST_PASSWORD,
    )
    outcomes: dict[str, Outcome] = {}

    def keep(event: dict[str, Any], outcome: Outcome) -> None:
        outcomes[event["eventId"]] = outcome

    screen, output = console()
    result = await simulate(options, screen, on_outcome=keep)
    await drain(live_server.app)

    planned = [event.fields["eventId"] for event in plan_lesson(4, 1, 2).events()]
    assert sorted(outcomes) == sorted(planned)
    assert set(outcomes.values()) == {Outcome.ACCEPTED}
    assert (result.stats.sent, result.stats.accepted) == (len(planned), len(planned))
    assert not result.stopped
    recorded = await recorded_event_ids(live_server)
    assert sorted(recorded) == sorted(outcomes)  # each once

    assert result.simulated_class is not None
    async with live_server.app.state.database.sessions() as session:
        klass = await session.get(Class, result.simulated_class.class_id)
        assert klass is not None
        enrolled = (
            await session.scalars(
                select(Student.email)
                .join(StudentClass, StudentClass.student_id == Student.id)
                .where(StudentClass.class_id == klass.id)
            )
        ).all()
    assert sorted(enrolled) == [student.email for student in result.lesson.students]
    text = output.getvalue()
    assert f"dashboard?class_id={klass.id}" in text
    assert "latency p99" in text


async def test_stopping_ends_the_run_with_its_summary(live_server: LiveServer) -> None:
    stop = asyncio.Event()
    screen, output = console()
    options = SimulationOptions(url=live_server.base_url, students=20, minutes=10, speed=5)

    def stop_at_the_first_answer(event: dict[str, Any], outcome: Outcome) -> None:
        stop.set()

    async with asyncio.timeout(30):
        result = await simulate(options, screen, stop=stop, on_outcome=stop_at_the_first_answer)
    assert result.stopped
    assert result.stats.accepted >= 1
    # Nothing is posted after the stop: of a 10-minute lesson, the events of its first seconds.
    assert result.stats.sent + result.unfinished < 20
    assert result.elapsed < 20
    assert "unfinished" in output.getvalue()
    assert "belong to no class" in output.getvalue()
    await drain(live_server.app)
    assert len(await recorded_event_ids(live_server)) == result.stats.accepted


async def test_a_wrong_password_is_one_clear_error(live_server: LiveServer) -> None:
    await create_account(live_server.app, INSTRUCTOR, "instructor")
    options = SimulationOptions(
        url=live_server.base_url, students=1, minutes=1, email=INSTRUCTOR, password="wrong"
    )
    screen, _ = console()
    with pytest.raises(SetupError, match=f"signing in as {INSTRUCTOR}: 401"):
        await simulate(options, screen)

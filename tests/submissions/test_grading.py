"""Grading a submission notifies the student over the app's real (in-process) bus."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from cellmon.live.messages import ASSIGNMENT_GRADED, LiveMessage, decode_packet
from tests.lms_factories import API, make_assignment, make_submission

SUBMISSIONS = f"{API}/submissions"
WAIT_SECONDS = 5


class Listener:
    """Collects what the bus carries from the moment it is started."""

    def __init__(self, app: FastAPI) -> None:
        self._packets: AsyncIterator[bytes] = app.state.backends.bus.listen()
        self._next: asyncio.Task[bytes] | None = None

    async def start(self) -> None:
        self._next = asyncio.ensure_future(anext(self._packets))
        # Let the listener register with the bus before anything is published.
        await asyncio.sleep(0)

    async def next(self) -> LiveMessage:
        assert self._next is not None
        packet = await asyncio.wait_for(self._next, WAIT_SECONDS)
        self._next = asyncio.ensure_future(anext(self._packets))
        # A grading publishes its one message as a packet of its own.
        [message] = decode_packet(packet)
        return message

    async def stop(self) -> None:
        if self._next is not None:
            self._next.cancel()


@pytest.fixture
async def listener(app: FastAPI) -> AsyncIterator[Listener]:
    listening = Listener(app)
    await listening.start()
    yield listening
    await listening.stop()


async def test_grading_marks_graded_and_notifies_the_student(
    client: httpx.AsyncClient, listener: Listener
) -> None:
    assignment = await make_assignment(client, title="Loops")
    submission = await make_submission(client, assignment["id"])

    response = await client.patch(
        f"{SUBMISSIONS}/{submission['id']}", json={"grade": 8.5, "feedback": "Good"}
    )
    assert response.status_code == 200
    graded = response.json()
    assert graded["status"] == "graded"
    assert graded["grade"] == 8.5
    assert graded["graded_at"] is not None

    message = await listener.next()
    assert message.type == ASSIGNMENT_GRADED
    assert message.channels == (f"notifications:{submission['student_id']}",)
    assert message.data == {
        "submission_id": submission["id"],
        "assignment_id": assignment["id"],
        "assignment_title": "Loops",
        "grade": 8.5,
        "feedback": "Good",
        "graded_at": message.data["graded_at"],
    }
    assert datetime.fromisoformat(message.data["graded_at"]) == datetime.fromisoformat(
        graded["graded_at"]
    )


async def test_only_a_new_or_changed_grade_notifies(
    client: httpx.AsyncClient, listener: Listener
) -> None:
    submission = await make_submission(client)
    url = f"{SUBMISSIONS}/{submission['id']}"

    await client.patch(url, json={"grade": 0})
    first = await listener.next()
    assert first.data["grade"] == 0
    graded_at = (await client.get(url)).json()["graded_at"]

    # Neither the same grade again, feedback alone, nor a status change is a new grade: the
    # next message on the bus must be the one of the changed grade below.
    same = await client.put(url, json={"grade": 0, "feedback": "Try again"})
    assert same.json()["graded_at"] == graded_at
    await client.patch(url, json={"feedback": "Try harder"})
    await client.patch(url, json={"status": "returned"})
    await client.patch(url, json={"grade": 7})

    second = await listener.next()
    assert second.data["grade"] == 7
    assert second.data["feedback"] == "Try harder"


async def test_grade_with_an_explicit_status_keeps_that_status(
    client: httpx.AsyncClient, listener: Listener
) -> None:
    submission = await make_submission(client)
    response = await client.patch(
        f"{SUBMISSIONS}/{submission['id']}", json={"grade": 10, "status": "returned"}
    )
    assert response.json()["status"] == "returned"
    assert response.json()["graded_at"] is not None
    assert (await listener.next()).data["grade"] == 10


async def test_clearing_the_grade_ungrades(client: httpx.AsyncClient, listener: Listener) -> None:
    submission = await make_submission(client)
    url = f"{SUBMISSIONS}/{submission['id']}"
    await client.patch(url, json={"grade": 5})
    await listener.next()

    cleared = (await client.patch(url, json={"grade": None})).json()
    assert cleared["grade"] is None
    assert cleared["graded_at"] is None
    assert cleared["status"] == "submitted"


async def test_a_refused_update_notifies_nobody(
    client: httpx.AsyncClient, listener: Listener
) -> None:
    submission = await make_submission(client)
    url = f"{SUBMISSIONS}/{submission['id']}"
    assert (await client.patch(url, json={"grade": 3, "status": "lost"})).status_code == 422
    assert (await client.get(url)).json()["grade"] is None

    await client.patch(url, json={"grade": 4})
    assert (await listener.next()).data["grade"] == 4

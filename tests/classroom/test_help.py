"""POST /api/v1/progress/classes/{cid}/help/{sid}/resolve: an instructor closes a request."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from fastapi import FastAPI

from cellmon.core.bus import MessageBus
from cellmon.events.pipeline import BatchOutcome
from cellmon.live.messages import HELP_REQUEST, decode_packet
from tests.classroom.seed import Seeder, ago, database
from tests.events.helpers import (
    EMAIL,
    PAUSE,
    PausingRegistry,
    client_event,
    drain,
    record,
)


async def test_resolving_clears_help_and_tells_every_view(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        second = await seed.klass("Lab", "LAB")
        student = await seed.student(
            "ann@example.com", klass, second, help_requested_at=ago(minutes=3)
        )
        await session.commit()
    bus: MessageBus = app.state.backends.bus
    listener = bus.listen()
    received = asyncio.ensure_future(anext(listener))
    await asyncio.sleep(0)  # let the listener register before anything is published

    response = await client.post(f"/api/v1/progress/classes/{klass.id}/help/{student.id}/resolve")

    assert response.status_code == 200
    assert response.json()["help_active"] is False
    assert response.json()["was_active"] is True
    [message] = decode_packet(await asyncio.wait_for(received, 5))
    await listener.aclose()
    assert message.type == "help_request"
    assert set(message.channels) == {
        f"progress:{student.id}",
        f"class:{klass.id}",
        f"class:{second.id}",
    }
    assert message.data["student_id"] == student.id
    assert message.data["active"] is False
    roster = (await client.get(f"/api/v1/progress/classes/{klass.id}")).json()
    assert roster["students"][0]["state"] != "help"
    assert roster["students"][0]["help_requested_at"] is None
    assert roster["totals"]["help"] == 0


async def test_resolving_twice_is_harmless_and_publishes_nothing_more(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        student = await seed.student("ann@example.com", klass, help_requested_at=ago(minutes=3))
        await session.commit()
    url = f"/api/v1/progress/classes/{klass.id}/help/{student.id}/resolve"
    await client.post(url)
    bus: MessageBus = app.state.backends.bus
    listener = bus.listen()
    received = asyncio.ensure_future(anext(listener))
    await asyncio.sleep(0)

    again = await client.post(url)
    # A marker published after the second answer arrives first only if the answer published nothing.
    await bus.publish(orjson.dumps({"marker": True}))

    assert again.status_code == 200
    assert again.json()["was_active"] is False
    assert orjson.loads(await asyncio.wait_for(received, 5)) == {"marker": True}
    await listener.aclose()


async def test_resolving_needs_an_enrolled_student_of_an_existing_class(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        other = await seed.klass("Other", "OTHER")
        outsider = await seed.student("zed@example.com", other, help_requested_at=ago(minutes=1))
        await session.commit()

    not_enrolled = await client.post(
        f"/api/v1/progress/classes/{klass.id}/help/{outsider.id}/resolve"
    )
    no_class = await client.post(f"/api/v1/progress/classes/999/help/{outsider.id}/resolve")
    bad_id = await client.post(f"/api/v1/progress/classes/{klass.id}/help/zero/resolve")

    assert not_enrolled.status_code == 404
    assert not_enrolled.json() == {
        "detail": f"student {outsider.id} is not enrolled in class {klass.id}"
    }
    assert no_class.status_code == 404
    assert bad_id.status_code == 422
    roster = (await client.get(f"/api/v1/progress/classes/{other.id}")).json()
    assert roster["students"][0]["state"] == "help"


def _help(kind: str, moment: datetime) -> dict[str, object]:
    return client_event(
        eventType=kind, eventTime=moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


async def _post_and_drain(app: FastAPI, client: httpx.AsyncClient, *events: object) -> None:
    response = await client.post("/api/v1/events", json=list(events))
    assert response.status_code == 202, response.text
    await drain(app)


async def _help_state(client: httpx.AsyncClient, class_id: int) -> tuple[str, dict[str, object]]:
    roster = (await client.get(f"/api/v1/progress/classes/{class_id}")).json()
    tile = roster["students"][0]
    progress = (await client.get(f"/api/v1/progress/students/{tile['id']}")).json()
    return tile["state"], progress["help"]


async def _assert_open_request(
    client: httpx.AsyncClient, class_id: int, requested_at: datetime
) -> None:
    """The student's help request is open again, as a new request made at `requested_at`."""
    state, help_state = await _help_state(client, class_id)
    assert state == "help"
    assert help_state["active"] is True
    assert help_state["handled_at"] is None
    assert isinstance(help_state["requested_at"], str)
    assert help_state["requested_at"].startswith(requested_at.strftime("%Y-%m-%dT%H:%M:%S"))


async def _open_request(app: FastAPI, client: httpx.AsyncClient, start: datetime) -> str:
    """A class whose only student asked for help at `start`, as the client does; the path
    that marks the request handled."""
    async with database(app).sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        student = await seed.student(EMAIL, klass)
        await session.commit()
    await _post_and_drain(app, client, _help("help", start))
    return f"/api/v1/progress/classes/{klass.id}/help/{student.id}/resolve"


async def _handled_request(app: FastAPI, client: httpx.AsyncClient, start: datetime) -> int:
    """A class whose only student asked for help at `start`, and an instructor who marked it
    handled; the class id."""
    resolve = await _open_request(app, client, start)
    resolved = await client.post(resolve)
    assert resolved.json()["was_active"] is True
    return int(resolved.json()["class_id"])


async def _record_across_a_click(
    app: FastAPI, client: httpx.AsyncClient, start: datetime, events: list[dict[str, object]]
) -> tuple[int, BatchOutcome]:
    """An open request made at `start`, then a worker's batch of `events` that reads the
    student's help state and holds its transaction while an instructor marks the request
    handled; the class id and the batch's outcome.

    The batch pauses in its first handler, before it writes anything: on SQLite a batch that
    had written would hold the database's write lock, and the click would wait for it."""
    resolve = await _open_request(app, client, start)
    pausing = PausingRegistry()
    batch = asyncio.create_task(
        record(
            app,
            "across a click",
            [_help(PAUSE, start + timedelta(seconds=1)), *events],
            pausing.registry,
        )
    )
    async with asyncio.timeout(10):
        await pausing.paused.wait()
    resolved = await client.post(resolve)
    assert resolved.json()["was_active"] is True
    pausing.release.set()
    async with asyncio.timeout(10):
        outcome = await batch
    return int(resolved.json()["class_id"]), outcome


async def test_a_handled_request_stays_closed_while_the_client_repeats_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=2)
    class_id = await _handled_request(app, client, start)
    bus: MessageBus = app.state.backends.bus
    listener = bus.listen()
    received = asyncio.ensure_future(anext(listener))
    await asyncio.sleep(0)

    # The toggle is still on: the client repeats `help` every 10 s, one request per repeat.
    for repeat in range(1, 4):
        await _post_and_drain(app, client, _help("help", start + timedelta(seconds=10 * repeat)))
    await bus.publish(orjson.dumps({"marker": True}))

    state, help_state = await _help_state(client, class_id)
    assert state != "help"
    assert help_state["active"] is False
    assert help_state["handled_at"] is not None
    assert help_state["last_seen_at"] is not None
    # Nothing told the dashboards that the student asks again.
    assert orjson.loads(await asyncio.wait_for(received, 5)) == {"marker": True}
    await listener.aclose()


async def test_help_stop_then_help_is_a_new_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=2)
    class_id = await _handled_request(app, client, start)
    await _post_and_drain(app, client, _help("help", start + timedelta(seconds=10)))

    await _post_and_drain(app, client, _help("help_stop", start + timedelta(seconds=15)))
    await _post_and_drain(app, client, _help("help", start + timedelta(seconds=20)))

    await _assert_open_request(client, class_id, start + timedelta(seconds=20))


async def test_help_after_a_long_silence_is_a_new_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=10)
    class_id = await _handled_request(app, client, start)

    # No repeat for five minutes: the toggle went off (its help_stop lost) and on again.
    await _post_and_drain(app, client, _help("help", start + timedelta(minutes=5)))

    await _assert_open_request(client, class_id, start + timedelta(minutes=5))


async def test_a_click_while_a_batch_records_a_repeat_keeps_the_request_closed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=2)
    repeat = start + timedelta(seconds=10)
    class_id, outcome = await _record_across_a_click(app, client, start, [_help("help", repeat)])

    state, help_state = await _help_state(client, class_id)
    assert state != "help"
    assert help_state["active"] is False
    assert help_state["handled_at"] is not None
    assert isinstance(help_state["last_seen_at"], str)
    assert help_state["last_seen_at"].startswith(repeat.strftime("%Y-%m-%dT%H:%M:%S"))
    # Nor do the dashboards hear that the request opened again.
    assert not [message for message in outcome.messages if message.type == HELP_REQUEST]
    # The next repeat continues the handled request.
    await _post_and_drain(app, client, _help("help", start + timedelta(seconds=20)))
    state, help_state = await _help_state(client, class_id)
    assert help_state["active"] is False


async def test_a_help_stop_recorded_across_a_click_still_ends_the_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=2)
    class_id, _outcome = await _record_across_a_click(
        app, client, start, [_help("help_stop", start + timedelta(seconds=5))]
    )

    # The toggle went off: its next `help` is a new request, however soon it comes.
    await _post_and_drain(app, client, _help("help", start + timedelta(seconds=8)))
    await _assert_open_request(client, class_id, start + timedelta(seconds=8))

"""From the real client's POST to rows, read back through the read-out endpoints."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import func, select, text

from cellmon.core.queue import QueuedMessage
from cellmon.db.models import (
    Cell,
    CellExecution,
    DeadLetter,
    NotebookAccess,
    ProgressEvent,
    Student,
    StudentCellState,
    StudentSession,
    TimeSeriesPoint,
)
from cellmon.events.pipeline import BatchProcessor
from cellmon.events.schemas import EVENT_LIST
from cellmon.events.service import queue_body
from tests.events.helpers import (
    CLIENT_ERROR,
    CLIENT_HELP,
    CLIENT_SUCCESS,
    EMAIL,
    SESSION_ID,
    client_event,
    count,
    drain,
    execution,
)

JSON = {"Content-Type": "application/json"}


async def post(client: httpx.AsyncClient, body: bytes | list[dict[str, object]]) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return await client.post("/api/v1/events", content=content, headers=JSON)


async def student_id(client: httpx.AsyncClient, app: FastAPI, email: str = EMAIL) -> int:
    async with app.state.database.sessions() as session:
        found = await session.scalar(select(Student.id).where(Student.email == email))
    assert found is not None, f"no student {email}"
    return found


async def test_client_examples_are_recorded(client: httpx.AsyncClient, app: FastAPI) -> None:
    for body in (CLIENT_SUCCESS, CLIENT_ERROR, CLIENT_HELP):
        response = await post(client, body)
        assert response.status_code == 202
        assert response.json() == {"message": "1 events received and queued for processing."}
    await drain(app)

    student = await student_id(client, app)
    executions = (
        await client.get("/api/v1/cell-executions", params={"student_id": student})
    ).json()
    assert [item["event_id"] for item in executions] == [
        "3f2b9c1e-7a4d-4e8b-9c2a-1d5e6f7a8b9c",
        "0b7c5a55-1f0e-4c39-9d64-3a0d2f8e9b11",
    ]
    ok, failed = executions
    assert ok["status"] == "success"
    assert ok["code"] == "x = 2 + 2\nx"
    assert ok["result"] == "4"
    assert ok["execution_count"] == 5
    assert ok["client_duration_ms"] == 2
    assert ok["event_time"] == "2025-01-19T03:21:45.123000Z"
    assert ok["session_id"] == SESSION_ID
    assert ok["received_at"] > ok["event_time"]
    assert failed["status"] == "error"
    assert failed["error_message"] == "ZeroDivisionError: division by zero"

    progress = (await client.get(f"/api/v1/progress/students/{student}")).json()
    assert progress["email"] == EMAIL
    assert progress["name"] == "テスト学生001"
    assert progress["team_name"] == "チームA"
    assert progress["help"]["active"] is True
    assert progress["help"]["requested_at"] == "2025-01-19T03:25:00Z"
    [notebook] = progress["notebooks"]
    assert notebook["path"] == "lessons/week1.ipynb"
    assert notebook["name"] == "week1.ipynb"
    assert notebook["executions"] == 2
    assert notebook["errors"] == 1
    assert notebook["cells_run"] == 2
    assert notebook["current_error_streak"] == 1
    assert notebook["error_streaks"][0]["client_cell_id"] == "9e8d7c6b-5a49-4382-9170-fedcba987654"

    async with app.state.database.sessions() as session:
        sessions = (await session.scalars(select(StudentSession))).all()
        assert [s.client_session_id for s in sessions] == [SESSION_ID]
        assert sessions[0].started_at.isoformat() == "2025-01-19T03:21:45.123000+00:00"
        assert sessions[0].last_seen_at.isoformat() == "2025-01-19T03:25:00+00:00"
        help_event = await session.scalar(select(ProgressEvent))
        assert help_event is not None
        assert help_event.event_type == "help"
        assert orjson.loads(help_event.payload)["eventId"] == "c0ffee00-1234-4abc-8def-0123456789ab"
        points = (await session.scalars(select(TimeSeriesPoint))).all()
    assert len(points) == 3
    by_event = {point.tags["event"]: point for point in points}
    point = next(p for p in points if p.fields.get("success") is True)
    assert point.measurement == "student_progress"
    assert point.tags == {
        "userId": EMAIL,
        "event": "cell_executed",
        "notebook": "lessons/week1.ipynb",
        "cellType": "code",
        "sessionId": SESSION_ID,
    }
    assert point.fields == {
        "cellId": "6c1f4b2e-90aa-4d1b-8f7e-2b3c4d5e6f70",
        "notebookPath": "lessons/week1.ipynb",
        "executionCount": 5,
        "success": True,
        "duration": 2,
    }
    assert 0 <= point.time_ns - 1737256905123000000 < 1_000_000
    assert "success" not in by_event["help"].fields


async def test_every_event_type_goes_where_it_belongs(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    events = [
        client_event(eventType="session_start", eventTime="2025-01-19T03:00:00.000Z"),
        client_event(eventType="notebook_opened", eventTime="2025-01-19T03:00:01.000Z"),
        execution(
            "md-1",
            cellType="markdown",
            executionCount=None,
            code="# Title",
            time="2025-01-19T03:00:02.000Z",
        ),
        client_event(eventType="cell_execution_start", cellId="c-1"),
        client_event(
            eventType="cell_execution_complete",
            cellId="c-1",
            executionCount=2,
            eventTime="2025-01-19T03:00:03.000Z",
        ),
        client_event(
            eventType="cell_execution_error",
            cellId="c-2",
            errorMessage="ValueError: x",
            eventTime="2025-01-19T03:00:04.000Z",
        ),
        client_event(eventType="cell_error", cellId="c-2", eventTime="2025-01-19T03:00:05.000Z"),
        client_event(eventType="notebook_save", eventTime="2025-01-19T03:00:06.000Z"),
        client_event(eventType="notebook_saved", eventTime="2025-01-19T03:00:07.000Z"),
        client_event(eventType="notebook_closed", eventTime="2025-01-19T03:00:08.000Z"),
        client_event(eventType="quiz_answered", answer={"q": 1, "a": "B"}),
        client_event(eventType="session_end", eventTime="2025-01-19T03:59:00.000Z"),
    ]
    response = await post(client, events)
    assert response.status_code == 202
    assert response.json()["message"] == "12 events received and queued for processing."
    await drain(app)

    async with app.state.database.sessions() as session:
        executions = (
            await session.scalars(select(CellExecution).order_by(CellExecution.event_time))
        ).all()
        assert [(e.event_type, e.status) for e in executions] == [
            ("cell_executed", "success"),
            ("cell_execution_complete", "success"),
            ("cell_execution_error", "error"),
            ("cell_error", "error"),
        ]
        assert executions[0].execution_count is None
        markdown = await session.scalar(select(Cell).where(Cell.client_cell_id == "md-1"))
        assert markdown is not None
        assert markdown.cell_type == "markdown"
        accesses = (
            await session.scalars(select(NotebookAccess).order_by(NotebookAccess.event_time))
        ).all()
        assert [a.action for a in accesses] == ["open", "save", "save", "close"]
        generic = dict(
            (await session.execute(select(ProgressEvent.event_type, ProgressEvent.payload))).all()
        )
        assert set(generic) == {
            "session_start",
            "cell_execution_start",
            "quiz_answered",
            "session_end",
        }
        assert orjson.loads(generic["quiz_answered"])["answer"] == {"q": 1, "a": "B"}
        ended = await session.scalar(select(StudentSession.ended_at))
        assert ended is not None
        assert ended.isoformat() == "2025-01-19T03:59:00+00:00"
        state = await session.scalar(
            select(StudentCellState).join(Cell).where(Cell.client_cell_id == "c-2")
        )
        assert state is not None
        assert (state.executions, state.errors, state.consecutive_errors) == (2, 2, 2)


async def test_same_event_posted_twice_is_recorded_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    event = execution("cell-a", error=True)
    assert (await post(client, [event])).status_code == 202
    await drain(app)
    assert (await post(client, [event])).status_code == 202
    assert (await post(client, [event, event])).status_code == 202
    await drain(app)
    # Recorded once because the second pass changed nothing, not because it failed and its
    # events went to the dead letters.
    assert await count(app, DeadLetter) == 0
    assert await count(app, CellExecution) == 1
    async with app.state.database.sessions() as session:
        state = await session.scalar(select(StudentCellState))
    assert state is not None
    assert (state.executions, state.errors, state.consecutive_errors) == (1, 1, 1)
    assert await count(app, TimeSeriesPoint) == 1


async def test_error_streak_counts_in_event_order_and_resets(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    # Posted out of order in one batch: the streak follows eventTime, not arrival.
    events = [
        execution("c", error=True, time="2025-01-19T03:00:03.000Z"),
        execution("c", error=False, time="2025-01-19T03:00:01.000Z"),
        execution("c", error=True, time="2025-01-19T03:00:02.000Z"),
    ]
    await post(client, events)
    await drain(app)
    sid = await student_id(client, app)
    progress = (await client.get(f"/api/v1/progress/students/{sid}")).json()
    assert progress["notebooks"][0]["current_error_streak"] == 2
    # A later batch of errors continues the run; a success ends it.
    await post(client, [execution("c", error=True, time="2025-01-19T03:00:04.000Z")])
    await drain(app)
    progress = (await client.get(f"/api/v1/progress/students/{sid}")).json()
    assert progress["notebooks"][0]["current_error_streak"] == 3
    await post(client, [execution("c", time="2025-01-19T03:00:05.000Z")])
    await drain(app)
    progress = (await client.get(f"/api/v1/progress/students/{sid}")).json()
    assert progress["notebooks"][0]["current_error_streak"] == 0
    assert progress["notebooks"][0]["error_streaks"] == []
    assert progress["notebooks"][0]["executions"] == 5
    assert progress["notebooks"][0]["errors"] == 3


async def test_help_and_help_stop_set_the_students_help_state(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await post(client, [client_event(eventType="help", eventTime="2025-01-19T03:00:00.000Z")])
    await drain(app)
    # The client repeats `help` every 10 s: the request keeps its first time.
    await post(client, [client_event(eventType="help", eventTime="2025-01-19T03:00:10.000Z")])
    await drain(app)
    sid = await student_id(client, app)
    help_state = (await client.get(f"/api/v1/progress/students/{sid}")).json()["help"]
    assert help_state == {
        "active": True,
        "requested_at": "2025-01-19T03:00:00Z",
        "last_seen_at": "2025-01-19T03:00:10Z",
        "handled_at": None,
    }
    await post(client, [client_event(eventType="help_stop", eventTime="2025-01-19T03:00:15.000Z")])
    await drain(app)
    # A `help` that arrives late (sent before the stop) does not reopen the request.
    await post(client, [client_event(eventType="help", eventTime="2025-01-19T03:00:12.000Z")])
    await drain(app)
    help_state = (await client.get(f"/api/v1/progress/students/{sid}")).json()["help"]
    assert help_state == {
        "active": False,
        "requested_at": None,
        "last_seen_at": "2025-01-19T03:00:15Z",
        "handled_at": None,
    }


async def test_live_messages_reach_student_and_class_channels(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    from cellmon.db.models import Class, StudentClass
    from cellmon.live.messages import decode_packet

    await post(client, [client_event(eventType="notebook_opened")])
    await drain(app)
    sid = await student_id(client, app)
    async with app.state.database.sessions.begin() as session:
        for code in ("A", "B"):
            klass = Class(name=f"class {code}", class_code=code)
            session.add(klass)
            await session.flush()
            session.add(StudentClass(student_id=sid, class_id=klass.id))
    async with app.state.database.sessions() as session:
        class_ids = sorted((await session.scalars(select(Class.id))).all())

    packets: list[bytes] = []
    listening = asyncio.Event()
    all_received = asyncio.Event()

    async def listen() -> None:
        stream = app.state.backends.bus.listen()
        listening.set()
        async for packet in stream:
            packets.append(packet)
            if sum(len(decode_packet(packet)) for packet in packets) >= 6:
                all_received.set()

    listener = asyncio.create_task(listen())
    await listening.wait()
    await asyncio.sleep(0)
    events = [
        execution("c", error=True, time=f"2025-01-19T03:00:0{second}.000Z") for second in range(4)
    ] + [client_event(eventType="help")]
    await post(client, events)
    await drain(app)
    async with asyncio.timeout(10):
        await all_received.wait()
    listener.cancel()
    # The batch's messages travel together: one packet, one publish.
    [packet] = packets
    received = decode_packet(packet)
    channels = (f"progress:{sid}", *(f"class:{class_id}" for class_id in class_ids))
    assert all(message.channels == channels for message in received)
    types = [message.type for message in received]
    assert types.count("execution_update") == 4
    assert types.count("stuck_alert") == 1
    assert types.count("help_request") == 1
    stuck = next(m for m in received if m.type == "stuck_alert")
    assert stuck.data["consecutive_errors"] == 4
    update = next(m for m in received if m.type == "execution_update")
    assert update.data["status"] == "error"
    assert update.data["client_cell_id"] == "c"
    assert update.data["student_id"] == sid


async def test_the_third_error_in_a_row_on_a_cell_raises_one_stuck_alert(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    from cellmon.live.messages import decode_packet

    packets: asyncio.Queue[bytes] = asyncio.Queue()
    listening = asyncio.Event()

    async def listen() -> None:
        stream = app.state.backends.bus.listen()
        listening.set()
        async for packet in stream:
            packets.put_nowait(packet)

    async def batch_message_types(events: list[dict[str, object]]) -> list[str]:
        assert (await post(client, events)).status_code == 202
        await drain(app)
        # A batch's live messages travel as one packet.
        async with asyncio.timeout(10):
            packet = await packets.get()
        return sorted(message.type for message in decode_packet(packet))

    listener = asyncio.create_task(listen())
    await listening.wait()
    await asyncio.sleep(0)
    try:
        two_errors = [
            execution("c", error=True, time=f"2025-01-19T03:00:0{second}.000Z") for second in (1, 2)
        ]
        assert await batch_message_types(two_errors) == ["execution_update"] * 2
        third = [execution("c", error=True, time="2025-01-19T03:00:03.000Z")]
        assert await batch_message_types(third) == ["execution_update", "stuck_alert"]
    finally:
        listener.cancel()


async def test_events_in_the_same_millisecond_keep_their_own_points(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    same_time = "2025-01-19T03:00:00.000Z"
    events = [execution("a", time=same_time), execution("b", time=same_time)]
    assert (await post(client, events)).status_code == 202
    await drain(app)
    async with app.state.database.sessions() as session:
        recorded = (await session.scalars(select(CellExecution.event_id))).all()
        times = (await session.scalars(select(TimeSeriesPoint.time_ns))).all()
    # Both events recorded, so a missing point would be the point's fault alone.
    assert sorted(recorded) == sorted(event["eventId"] for event in events)
    assert len(set(times)) == 2
    assert all(0 <= t - 1737255600000000000 < 1_000_000 for t in times)


# Text that escaping (JSON, SQL) could alter: quotes, backslashes, escapes' look-alikes, control
# and line-separator characters, characters outside the BMP, combining characters.
AWKWARD_TEXT = (
    "a \"quoted\" 'text' \\ \\n \\u0041 \t\r\n\x01\x1f\x7f \u2028\u2029 😀👩\u200d💻 e\u0301 漢字"
)


async def test_awkward_values_are_stored_as_given(client: httpx.AsyncClient, app: FastAPI) -> None:
    long_text = "日本語のテキスト😀 " * 300
    events = [
        execution(
            'cell "1" \\ 😀',
            error=True,
            # Away from UTC, with and without microseconds.
            time="2025-01-19T12:21:45.000001+09:00",
            code=AWKWARD_TEXT,
            result=long_text,
            errorMessage=AWKWARD_TEXT,
            executionCount=None,
            cellIndex=None,
            notebookPath='dir "x"/nöte\\book 😀.ipynb',
            userName=AWKWARD_TEXT,
        ),
        execution(
            "plain",
            time="2025-01-19T03:21:46-05:00",
            code=None,
            result=None,
            userName=AWKWARD_TEXT,
        ),
        client_event(
            eventType="help",
            eventTime="2025-01-19T03:21:47.5Z",
            note=AWKWARD_TEXT,
            userName=AWKWARD_TEXT,
        ),
    ]
    assert (await post(client, events)).status_code == 202
    await drain(app)

    first = datetime(2025, 1, 19, 3, 21, 45, 1, tzinfo=UTC)
    second = datetime(2025, 1, 19, 8, 21, 46, tzinfo=UTC)
    async with app.state.database.sessions() as session:
        # Found by comparing with the values as SQLAlchemy binds them: stored the same way.
        awkward = await session.scalar(
            select(CellExecution).where(CellExecution.event_time == first)
        )
        plain = await session.scalar(
            select(CellExecution).where(CellExecution.event_time == second)
        )
        assert awkward is not None
        assert plain is not None
        assert awkward.code == AWKWARD_TEXT
        assert awkward.error_message == AWKWARD_TEXT
        assert awkward.result == long_text
        assert awkward.execution_count is None
        assert awkward.status == "error"
        assert (plain.code, plain.result, plain.error_message) == (None, None, None)
        cell = await session.get(Cell, awkward.cell_id)
        assert cell is not None
        assert cell.client_cell_id == 'cell "1" \\ 😀'
        assert cell.cell_index is None
        state = await session.scalar(
            select(StudentCellState).where(StudentCellState.cell_id == cell.id)
        )
        assert state is not None
        assert state.last_error_message == AWKWARD_TEXT
        assert state.last_event_time == first
        student = await session.scalar(select(Student))
        assert student is not None
        assert student.name == AWKWARD_TEXT
        assert student.help_active is True
        assert student.help_requested_at == datetime(2025, 1, 19, 3, 21, 47, 500000, tzinfo=UTC)
        started = await session.scalar(
            select(StudentSession.started_at).where(StudentSession.started_at == first)
        )
        assert started == first
        payload = await session.scalar(select(ProgressEvent.payload))
        assert payload is not None
        assert orjson.loads(payload)["note"] == AWKWARD_TEXT
        if app.state.database.is_sqlite:
            # The text SQLAlchemy's DateTime writes on SQLite, which reads and comparisons need.
            stored = (
                await session.execute(
                    text("SELECT event_time, received_at FROM cell_executions ORDER BY event_time")
                )
            ).all()
            assert [row[0] for row in stored] == [
                "2025-01-19 03:21:45.000001",
                "2025-01-19 08:21:46.000000",
            ]
            assert all(len(row[1]) == 26 for row in stored)


async def test_a_batch_over_sqlites_parameter_limit_is_recorded_whole(app: FastAPI) -> None:
    # 2,500 executions of 14 columns: more parameters than one SQLite statement takes.
    start = datetime(2025, 1, 19, 3, 0, tzinfo=UTC)
    events = [
        execution(
            f"cell-{index % 50}",
            error=index % 2 == 0,
            time=(start + timedelta(milliseconds=index)).isoformat(),
        )
        for index in range(2500)
    ]
    body = queue_body(EVENT_LIST.validate_python(events), datetime.now(UTC), 65536)
    processor = BatchProcessor(app.state.database, app.state.settings)
    await processor.process([QueuedMessage("1", (body,), 1)])
    assert await count(app, CellExecution) == 2500
    async with app.state.database.sessions() as session:
        totals = (
            await session.execute(
                select(func.sum(StudentCellState.executions), func.sum(StudentCellState.errors))
            )
        ).one()
    assert tuple(totals) == (2500, 1250)

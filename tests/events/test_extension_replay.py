"""The published JupyterLab extension's traffic replayed as it sends it (client-wire-format.md):
over a real socket from JupyterLab's origin, one event per request as a JSON array of one,
`Content-Type: application/json` and the browser's own headers, no key, no gzip; Japanese
names and teams, `notebookPath: "unknown"`, optional fields left out, an empty e-mail setting,
and a retry of an event the server had already taken. test_pipeline.py checks the spec's
three examples field by field; this checks a student's session as the extension sends it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from cellmon.db.models import CellExecution, Notebook, NotebookAccess, ProgressEvent, Student
from tests.accounts import ADMIN_EMAIL, create_account, signed_in
from tests.conftest import LiveServer
from tests.events.helpers import count, drain

JUPYTERLAB = "http://localhost:8888"
# What Chromium's fetch() adds to the extension's one header.
BROWSER_HEADERS = {
    "Content-Type": "application/json",
    "Origin": JUPYTERLAB,
    "Referer": f"{JUPYTERLAB}/",
    "Accept": "*/*",
    "Accept-Language": "ja,en-US;q=0.9",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Sec-Fetch-Mode": "cors",
}
TARO_SESSION = "7d3f2a10-5b6c-4d8e-9f01-23456789abcd"
ANON_SESSION = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
TARO = {
    "emailAddress": "Student007@Example.com",  # typed by the student, capitals and all
    "teamName": "チーム12",
    "userName": "山田 太郎",
    "sessionId": TARO_SESSION,
    "notebookPath": "unknown",  # an untitled notebook
}
# The settings left as installed: an empty e-mail address and name.
ANONYMOUS = {
    "emailAddress": "",
    "teamName": "チームA",
    "userName": "",
    "sessionId": ANON_SESSION,
    "notebookPath": "unknown",
}


def event(event_type: str, second: int, who: dict[str, str], **fields: Any) -> dict[str, Any]:
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "eventTime": f"2025-01-19T03:21:{second:02d}.123Z",
        **who,
        **fields,
    }


def taros_session() -> list[dict[str, Any]]:
    return [
        event("notebook_opened", 0, TARO),
        # A markdown cell: no executionCount.
        event(
            "cell_executed", 2, TARO, cellId="m-1", cellIndex=0, cellType="markdown",
            code="# 課題1: 平均", hasError=False, result="", executionDurationMs=0,
        ),
        # print() output is not sent: the result is "".
        event(
            "cell_executed", 5, TARO, cellId="c-1", cellIndex=1, cellType="code",
            code="print('こんにちは')", executionCount=1, hasError=False, result="",
            executionDurationMs=12,
        ),
        event(
            "cell_executed", 9, TARO, cellId="c-2", cellIndex=2, cellType="code", code="1/0",
            executionCount=2, hasError=True, errorMessage="ZeroDivisionError: division by zero",
            result="ZeroDivisionError: division by zero", executionDurationMs=3,
        ),
        # The help toggle: at once, every 10 s while on, then help_stop.
        event("help", 20, TARO),
        event("help", 30, TARO),
        event("help_stop", 35, TARO),
    ]  # fmt: skip


def anonymous_run() -> dict[str, Any]:
    """A code cell without its optional fields (cellIndex, result, executionDurationMs)."""
    return event(
        "cell_executed",
        40,
        ANONYMOUS,
        cellId="c-9",
        cellType="code",
        code="x = 1",
        executionCount=1,
        hasError=False,
    )


async def post_as_the_extension(http: httpx.AsyncClient, one: dict[str, Any]) -> None:
    response = await http.post("/api/v1/events", content=orjson.dumps([one]))
    assert response.status_code == 202, response.text
    assert response.json() == {"message": "1 events received and queued for processing."}
    assert response.headers["access-control-allow-origin"] == JUPYTERLAB


async def test_a_students_session_as_the_extension_sends_it_is_recorded_once(
    live_server: LiveServer,
) -> None:
    session = taros_session()
    async with httpx.AsyncClient(base_url=live_server.base_url, headers=BROWSER_HEADERS) as http:
        for one in session:
            await post_as_the_extension(http, one)
        # The extension timed out waiting for this answer and sent the event again.
        await post_as_the_extension(http, session[3])
        await post_as_the_extension(http, anonymous_run())
    await drain(live_server.app)

    admin = await create_account(live_server.app, ADMIN_EMAIL, "admin")
    async with signed_in(live_server.app, admin) as reader:
        async with live_server.app.state.database.sessions() as db:
            students = {s.email: s for s in (await db.scalars(select(Student))).all()}
            paths = (await db.scalars(select(Notebook.path))).all()
        assert set(students) == {
            "student007@example.com",
            f"unknown+{ANON_SESSION}@unknown.invalid",
        }
        assert paths == ["unknown"]
        taro = students["student007@example.com"]
        runs = (await reader.get("/api/v1/cell-executions", params={"student_id": taro.id})).json()
        assert [(run["event_id"], run["status"]) for run in runs] == [
            (session[1]["eventId"], "success"),
            (session[2]["eventId"], "success"),
            (session[3]["eventId"], "error"),
        ]
        markdown, printed, failed = runs
        assert markdown["execution_count"] is None
        assert markdown["code"] == "# 課題1: 平均"
        assert printed["result"] == ""
        assert printed["code"] == "print('こんにちは')"
        assert failed["error_message"] == "ZeroDivisionError: division by zero"
        assert failed["event_time"] == "2025-01-19T03:21:09.123000Z"
        assert {run["session_id"] for run in runs} == {TARO_SESSION}

        progress = (await reader.get(f"/api/v1/progress/students/{taro.id}")).json()
        assert (progress["name"], progress["team_name"]) == ("山田 太郎", "チーム12")
        assert progress["help"]["active"] is False  # help_stop came last

        anonymous = students[f"unknown+{ANON_SESSION}@unknown.invalid"]
        [bare] = (
            await reader.get("/api/v1/cell-executions", params={"student_id": anonymous.id})
        ).json()
        assert (bare["status"], bare["result"], bare["client_duration_ms"]) == (
            "success",
            None,
            None,
        )
        assert anonymous.team_name == "チームA"

    assert await count(live_server.app, CellExecution) == 4  # the retry recorded once
    assert await count(live_server.app, NotebookAccess) == 1
    assert await count(live_server.app, ProgressEvent) == 3

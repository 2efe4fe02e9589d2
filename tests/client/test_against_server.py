"""The extension in IPython's shell against the real app: what the server makes of its events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

from cellmon.client.transport import Answer, post_events
from tests.client.server_side import class_with_key, wait_for_executions
from tests.conftest import LiveServer

EMAIL = "kernel.student@example.com"


@pytest.fixture
def loaded(
    shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("CELLMON_EMAIL", EMAIL)
    monkeypatch.setenv("CELLMON_USER_NAME", "カーネル学生")
    monkeypatch.setenv("CELLMON_CLIENT_QUEUE", str(tmp_path / "queue.sqlite3"))
    # The same traitlets a profile's ipython_config.py sets; a short wait keeps tests fast.
    shell.config.CellmonClient.batch_seconds = 0.1
    yield shell
    shell.run_line_magic("unload_ext", "cellmon.client")
    # %config writes to the shell's config too: the next test starts from none.
    shell.config.pop("CellmonClient", None)


async def test_cells_become_executions_of_the_keys_class(
    live_server: LiveServer, live_client: httpx.AsyncClient, loaded: InteractiveShell
) -> None:
    class_id, key = await class_with_key(live_client)
    loaded.run_line_magic("config", f"CellmonClient.server_url = {live_server.base_url!r}")
    loaded.run_line_magic("config", f"CellmonClient.ingest_key = {key!r}")
    loaded.run_line_magic("load_ext", "cellmon.client")
    loaded.run_cell("print('hello')\n6 * 7", store_history=True)
    loaded.run_cell("1/0", store_history=True)
    loaded.run_cell("import time\ntime.sleep(0.03)", store_history=True)

    passed, failed, slow = await wait_for_executions(live_client, 3)
    assert passed["status"] == "success"
    assert passed["code"] == "print('hello')\n6 * 7"
    assert passed["result"] == "hello\n42"
    assert failed["status"] == "error"
    assert failed["error_message"] == "ZeroDivisionError: division by zero"
    assert slow["client_duration_ms"] >= 30
    assert len({passed["session_id"], failed["session_id"], slow["session_id"]}) == 1
    response = await live_client.get(f"/api/v1/classes/{class_id}/students")
    assert [student["email"] for student in response.json()] == [EMAIL]


async def test_config_changes_apply_to_the_next_cell(
    live_server: LiveServer, live_client: httpx.AsyncClient, loaded: InteractiveShell
) -> None:
    loaded.run_line_magic("config", f"CellmonClient.server_url = {live_server.base_url!r}")
    loaded.run_line_magic("load_ext", "cellmon.client")
    loaded.run_line_magic("config", "CellmonClient.email = 'Renamed@Example.com'")
    loaded.run_cell("x = 1", store_history=True)
    [execution] = await wait_for_executions(live_client, 1)
    response = await live_client.get(f"/api/v1/students/{execution['student_id']}")
    assert response.json()["email"] == "renamed@example.com"


def execution_event(n: int) -> str:
    return (
        f'{{"eventId":"00000000-0000-4000-8000-{n:012d}","eventType":"cell_executed",'
        f'"emailAddress":"{EMAIL}","code":"{n}","executionCount":{n},"hasError":false}}'
    )


async def post(url: str, bodies: list[str]) -> Answer:
    return await asyncio.to_thread(post_events, url, bodies, 10)


async def test_a_batch_sent_twice_is_recorded_once(
    live_server: LiveServer, live_client: httpx.AsyncClient
) -> None:
    # What the client does when a 202 is lost on the way: it sends the same events again.
    url = f"{live_server.base_url}/api/v1/events"
    batch = [execution_event(n) for n in range(3)]
    first = await post(url, batch)
    second = await post(url, batch)
    assert (first.status, second.status) == (202, 202)
    assert first.detail == '{"message":"3 events received and queued for processing."}'
    # Batches are recorded in order: once a later event is, the repeated batch was too.
    assert (await post(url, [execution_event(3)])).status == 202
    assert [execution["code"] for execution in await wait_for_executions(live_client, 4)] == [
        "0",
        "1",
        "2",
        "3",
    ]

"""Real notebooks run by a real kernel (ipykernel through nbclient) with cellmon.client loaded,
as a teacher sets it up: environment variables and the extension named at the kernel's start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import nbformat
import orjson
from nbclient import NotebookClient
from nbformat import NotebookNode
from websockets.asyncio.client import ClientConnection, connect

STUDENT = "kernel.student@example.com"
NOTEBOOK_PATH = "lessons/week1.ipynb"
ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "a-long-password-for-the-client-tests"
# Generous: a loaded 2-core machine runs the kernel, the server and other suites at once.
RECEIVE_TIMEOUT_SECONDS = 60

# A markdown cell (no kernel sees it), a passing cell, a print, a failing cell, a slow cell.
CELLS = (
    ("markdown", "# Week 1"),
    ("code", "answer = 6 * 7\nanswer"),
    ("code", "print('hello from the kernel')"),
    ("code", "1/0"),
    ("code", "import time\ntime.sleep(0.05)"),
)


def lesson(cells: Sequence[tuple[str, str]] = CELLS) -> NotebookNode:
    notebook = nbformat.v4.new_notebook()
    for kind, source in cells:
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        notebook.cells.append(make(source))
    return notebook


def kernel_env(events_url: str, queue: Path) -> dict[str, str]:
    """What a teacher's image or JupyterHub spawner sets; JPY_SESSION_NAME is what
    jupyter_server tells a kernel about its notebook."""
    return {
        **os.environ,
        "CELLMON_SERVER_URL": events_url,
        "CELLMON_EMAIL": STUDENT,
        "CELLMON_USER_NAME": "カーネル学生",
        "CELLMON_TEAM_NAME": "チームA",
        "CELLMON_CLIENT_QUEUE": str(queue),
        "JPY_SESSION_NAME": NOTEBOOK_PATH,
    }


@asynccontextmanager
async def kernel(
    notebook: NotebookNode, env: dict[str, str], workdir: Path
) -> AsyncIterator[NotebookClient]:
    """A kernel running with the client loaded, shut down (its exit flush included) at the end."""
    runner = NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        allow_errors=True,
        extra_arguments=["--ext=cellmon.client"],
    )
    async with runner.async_setup_kernel(env=env, cwd=str(workdir)):
        yield runner


async def run_cells(runner: NotebookClient, indexes: Sequence[int]) -> None:
    for index in indexes:
        await runner.async_execute_cell(runner.nb.cells[index], index)


def check_lesson_executions(executions: Sequence[dict[str, Any]]) -> None:
    """The four code cells of CELLS, as the server recorded them (by execution count)."""
    passed, printed, failed, slow = executions
    assert [execution["status"] for execution in executions] == [
        "success",
        "success",
        "error",
        "success",
    ]
    assert passed["code"] == "answer = 6 * 7\nanswer"
    assert passed["result"] == "42"
    assert printed["result"] == "hello from the kernel\n"
    assert failed["error_message"] == "ZeroDivisionError: division by zero"
    assert failed["result"] == "ZeroDivisionError: division by zero"
    # The kernel's own run time of time.sleep(0.05).
    assert slow["client_duration_ms"] >= 50
    assert len({execution["session_id"] for execution in executions}) == 1


async def execution_updates(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The data of the next `count` execution_update messages on the socket."""
    updates: list[dict[str, Any]] = []
    async with asyncio.timeout(RECEIVE_TIMEOUT_SECONDS):
        while len(updates) < count:
            message = orjson.loads(await ws.recv())
            if message["type"] == "execution_update":
                updates.append(message["data"])
    return sorted(updates, key=lambda data: data["execution_count"])


def check_lesson_updates(updates: Sequence[dict[str, Any]]) -> None:
    assert [update["status"] for update in updates] == ["success", "success", "error", "success"]
    assert {update["notebook_path"] for update in updates} == {NOTEBOOK_PATH}
    assert updates[2]["error_message"] == "ZeroDivisionError: division by zero"


@asynccontextmanager
async def subscribed(ws_url: str, token: str, class_id: int) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(f"{ws_url}?channels=class:{class_id}", additional_headers=headers) as ws:
        reply = orjson.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_SECONDS))
        assert reply["type"] == "subscribed", reply
        yield ws


async def token_of(base_url: str, email: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def upgrade_database(env: dict[str, str], cwd: Path) -> None:
    """`cellmon db upgrade`, as `make run` and a deployment do before serving."""
    subprocess.run(
        [sys.executable, "-m", "cellmon", "db", "upgrade"],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
    )

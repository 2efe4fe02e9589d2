"""What the client records of a cell, run by IPython's own shell in this process."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from cellmon.client.capture import TRUNCATION_MARK
from cellmon.client.config import CellmonClient
from cellmon.client.recorder import CellRecorder

URL = "http://127.0.0.1:8000/api/v1/events?key=k"


class Sink:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.urls: list[str] = []

    def submit(self, url: str, event: dict[str, Any]) -> None:
        self.urls.append(url)
        self.events.append(event)


class FailingSink:
    def submit(self, url: str, event: dict[str, Any]) -> None:
        raise RuntimeError("the client broke")


def recording(shell: InteractiveShell, sink: Any, **settings: Any) -> Iterator[CellRecorder]:
    settings = {"server_url": URL, "email": "Student@Example.com", **settings}
    recorder = CellRecorder(CellmonClient(**settings), shell.user_ns, sink, str(uuid.uuid4()))
    recorder.attach(shell)
    try:
        yield recorder
    finally:
        recorder.detach()


@pytest.fixture
def sink(shell: InteractiveShell) -> Iterator[Sink]:
    sink = Sink()
    for _ in recording(shell, sink, user_name="テスト学生", team_name="チームA"):
        yield sink


def run(shell: InteractiveShell, code: str, **options: Any) -> Any:
    return shell.run_cell(code, store_history=True, **options)


def test_a_passing_cell_in_the_wire_format(
    shell: InteractiveShell, sink: Sink, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(shell, "print('hello')", cell_id="cell-1")
    assert result.success
    [event] = sink.events
    assert sink.urls == [URL]
    assert event["eventType"] == "cell_executed"
    uuid.UUID(event["eventId"])
    assert event["eventTime"].endswith("Z")
    assert len(event["eventTime"]) == len("2025-01-19T03:21:45.123Z")
    assert event["emailAddress"] == "Student@Example.com"
    assert event["userName"] == "テスト学生"
    assert event["teamName"] == "チームA"
    assert event["notebookPath"] == "unknown"
    assert event["cellId"] == "cell-1"
    assert event["cellType"] == "code"
    assert event["code"] == "print('hello')"
    assert event["executionCount"] == result.execution_count
    assert event["hasError"] is False
    assert "errorMessage" not in event
    assert event["result"] == "hello\n"
    # The notebook still shows what the cell printed.
    assert "hello" in capsys.readouterr().out


def test_the_result_follows_the_output(shell: InteractiveShell, sink: Sink) -> None:
    run(shell, "import sys\nprint('out')\nprint('err', file=sys.stderr)\n[1, 2]")
    # The shell's own `Out[n]:` display of the result is not taken for output.
    assert sink.events[-1]["result"] == "out\nerr\n[1, 2]"


def test_an_error_is_its_name_and_value(shell: InteractiveShell, sink: Sink) -> None:
    result = run(shell, "print('before')\n1/0")
    assert not result.success
    [event] = sink.events
    assert event["hasError"] is True
    assert event["errorMessage"] == "ZeroDivisionError: division by zero"
    assert event["result"].startswith("before\n")
    assert event["result"].endswith("ZeroDivisionError: division by zero")


def test_a_syntax_error_is_recorded(shell: InteractiveShell, sink: Sink) -> None:
    run(shell, "def broken(:")
    [event] = sink.events
    assert event["hasError"] is True
    assert event["errorMessage"].startswith("SyntaxError: ")


def test_the_run_time_is_the_kernels(shell: InteractiveShell, sink: Sink) -> None:
    run(shell, "import time\ntime.sleep(0.05)")
    assert 50 <= sink.events[-1]["executionDurationMs"] < 5000


def test_silent_executions_are_not_the_students(shell: InteractiveShell, sink: Sink) -> None:
    shell.run_cell("x_silent = 1", silent=True)
    assert sink.events == []


def test_output_and_results_are_cut(shell: InteractiveShell) -> None:
    sink = Sink()
    for _ in recording(shell, sink, max_output_chars=100):
        run(shell, "print('x' * 50_000)")
        run(shell, "'y' * 50_000")
        run(shell, "list(range(1_000_000))")
    printed, value, big_list = (event["result"] for event in sink.events)
    assert printed == "x" * 100 + TRUNCATION_MARK
    assert value.startswith("'yyy")
    assert len(value) <= 100 + len(TRUNCATION_MARK)
    assert big_list.startswith("[0, 1, 2")
    assert len(big_list) <= 100 + len(TRUNCATION_MARK)


def test_streams_are_given_back_after_the_cell(shell: InteractiveShell, sink: Sink) -> None:
    stdout, stderr = sys.stdout, sys.stderr
    run(shell, "print('a')")
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
    # A cell that sets its own stream keeps it.
    run(shell, "import io, sys\nmine = io.StringIO()\nsys.stdout = mine")
    try:
        assert sys.stdout is shell.user_ns["mine"]
    finally:
        sys.stdout = stdout


def test_nested_cells_are_each_recorded(shell: InteractiveShell, sink: Sink) -> None:
    run(shell, "get_ipython().run_cell('print(1)', store_history=False)\nprint(2)")
    inner, outer = sink.events
    assert inner["result"] == "1\n"
    assert outer["result"] == "1\n2\n"


def test_a_failing_client_never_fails_the_cell(
    shell: InteractiveShell, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in recording(shell, FailingSink()):
        first = run(shell, "x_ok = 41 + 1")
        second = run(shell, "x_ok")
    assert first.success
    assert second.result == 42
    messages = [record.getMessage() for record in caplog.records]
    assert len([m for m in messages if "the client broke" in m]) == 1


def test_the_notebook_path_comes_from_the_kernels_session(
    shell: InteractiveShell, sink: Sink
) -> None:
    shell.user_ns["__session__"] = "lessons/week1.ipynb"
    try:
        run(shell, "pass")
    finally:
        del shell.user_ns["__session__"]
    assert sink.events[-1]["notebookPath"] == "lessons/week1.ipynb"

"""The IPython side: one `cell_executed` event per cell the student runs.

`pre_run_cell` notes the time (perf_counter) and tees the cell's output; `post_run_cell`
makes the event in the real client's wire format (../shared/spec/client-wire-format.md) and
hands it to the sender. That is all the kernel's main thread does: no disk, no network.
Executions a front end runs silently (completion, variable inspectors) are not the student's
cells and make no event. Each callback catches everything: a fault of the client must never
show in the student's notebook or stop a cell.
"""

from __future__ import annotations

import reprlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cellmon.client.capture import TRUNCATION_MARK, OutputCapture, Pause
from cellmon.client.config import CellmonClient
from cellmon.client.sender import warn_once

EVENT_TYPE = "cell_executed"


class EventSink(Protocol):
    def submit(self, url: str, event: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class _Running:
    cell_id: str | None
    code: str
    capture: OutputCapture
    started: float  # perf_counter


class CellRecorder:
    def __init__(
        self,
        config: CellmonClient,
        namespace: dict[str, Any],
        sink: EventSink,
        session_id: str,
    ) -> None:
        self._config = config
        self._namespace = namespace
        self._sink = sink
        self._pause = Pause()
        self._shell: Any = None
        self._display_hook: Any = None
        self.session_id = session_id
        # A cell may run cells (get_ipython().run_cell): callbacks nest, so starts stack.
        # None stands for a silent execution, which makes no event.
        self._running: list[_Running | None] = []
        limit = max(0, int(config.max_output_chars))
        self._limit = limit
        self._repr = reprlib.Repr()
        self._repr.maxstring = self._repr.maxother = max(limit, 10)
        self._repr.maxlist = self._repr.maxtuple = self._repr.maxdict = 100
        self._repr.maxset = self._repr.maxfrozenset = self._repr.maxdeque = 100

    def attach(self, shell: Any) -> None:
        """Record the shell's cells from its next one on."""
        self._shell = shell
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)
        # The shell puts this hook in place for each cell; it is wrapped to pause capture.
        trap = getattr(shell, "display_trap", None)
        if trap is not None:
            self._display_hook = trap.hook
            trap.hook = _PausingHook(trap.hook, self._pause)

    def detach(self) -> None:
        """Stop recording; put back every stream still teed (unloaded mid-cell)."""
        shell, self._shell = self._shell, None
        if shell is not None:
            shell.events.unregister("pre_run_cell", self.pre_run_cell)
            shell.events.unregister("post_run_cell", self.post_run_cell)
            if self._display_hook is not None:
                shell.display_trap.hook = self._display_hook
        while self._running:
            running = self._running.pop()
            if running is not None:
                running.capture.uninstall()

    def pre_run_cell(self, info: Any) -> None:
        try:
            if info.silent:
                self._running.append(None)
                return
            capture = OutputCapture(self._limit, self._pause)
            capture.install()
            self._running.append(
                _Running(info.cell_id, info.raw_cell or "", capture, time.perf_counter())
            )
        except Exception as error:  # never into the student's cell
            warn_once("pre_run_cell", f"cellmon.client: a cell was not recorded: {error!r}")

    def post_run_cell(self, result: Any) -> None:
        ended = time.perf_counter()
        try:
            # A post without its pre: the cell that loaded the extension.
            running = self._running.pop() if self._running else None
            if running is None:
                return
            running.capture.uninstall()
            event = self._event(running, result, ended)
            self._sink.submit(self._config.events_url(), event)
        except Exception as error:  # never into the student's cell
            warn_once("post_run_cell", f"cellmon.client: a cell was not recorded: {error!r}")

    def _event(self, running: _Running, result: Any, ended: float) -> dict[str, Any]:
        config = self._config
        event: dict[str, Any] = {
            "eventId": str(uuid.uuid4()),
            "eventType": EVENT_TYPE,
            "eventTime": _utc_now(),
            "sessionId": self.session_id,
            "notebookPath": config.notebook_in(self._namespace),
            "cellType": "code",
            "code": running.code,
            # The kernel's own run time, from the start to the end of the cell's execution.
            "executionDurationMs": round((ended - running.started) * 1000, 3),
        }
        for field, value in (
            ("emailAddress", config.email),
            ("userName", config.user_name),
            ("teamName", config.team_name),
            ("cellId", running.cell_id),
            ("executionCount", result.execution_count),
        ):
            if value not in (None, ""):
                event[field] = value
        error = result.error_before_exec or result.error_in_exec
        event["hasError"] = error is not None
        shown = running.capture.text
        if error is not None:
            event["errorMessage"] = message = _error_message(error)
            shown = _joined(shown, message)
        elif result.result is not None:
            shown = _joined(shown, self._text_of(result.result))
        event["result"] = shown
        return event

    def _text_of(self, value: Any) -> str:
        """The result's repr, bounded: a huge list costs no more than its first items."""
        try:
            text = self._repr.repr(value)
        except Exception as error:  # a broken __repr__ is the cell's business
            return f"<repr failed: {type(error).__name__}>"
        if len(text) > self._limit:
            return text[: self._limit] + TRUNCATION_MARK
        return text


class _PausingHook:
    """The shell's display hook, with capture paused while it writes."""

    def __init__(self, hook: Any, pause: Pause) -> None:
        self._hook = hook
        self._pause = pause

    def __call__(self, value: Any) -> Any:
        self._pause.active = True
        try:
            return self._hook(value)
        finally:
            self._pause.active = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hook, name)


def _error_message(error: BaseException) -> str:
    """ "EName: evalue", as the JupyterLab extension reports an error."""
    try:
        value = str(error)
    except Exception:
        value = "<str failed>"
    name = type(error).__name__
    return f"{name}: {value}" if value else name


def _joined(output: str, tail: str) -> str:
    if output and not output.endswith("\n"):
        output += "\n"
    return output + tail


def _utc_now() -> str:
    """ISO 8601 UTC with milliseconds, as the extension writes eventTime."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

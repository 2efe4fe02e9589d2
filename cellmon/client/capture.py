"""What a cell prints: sys.stdout and sys.stderr teed for the cell's run.

The notebook still gets every write as before (the tee passes each one on at once); the client
keeps a copy of the first `limit` characters, in the order they were written. Output written
below Python's streams (a C library or a subprocess writing to the file descriptor) is not
seen, as it is not by `print`-level tools.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

TRUNCATION_MARK = "\n… [output cut by cellmon.client]\n"


class Pause:
    """Set while the shell itself writes (its display hook's `Out[n]:` in a terminal):
    that is the result, which the event carries on its own, not the cell's output."""

    active = False


class OutputCapture:
    """The captured text of one cell, bounded; `install` tees both streams, `uninstall`
    puts back the streams it replaced."""

    def __init__(self, limit: int, pause: Pause) -> None:
        self._pause = pause
        self._parts: list[str] = []
        self._room = limit
        self.truncated = False
        self._tees: list[tuple[str, _Tee]] = []

    def add(self, text: str) -> None:
        if self._pause.active:
            return
        if self._room <= 0:
            self.truncated = self.truncated or bool(text)
            return
        if len(text) > self._room:
            text = text[: self._room]
            self.truncated = True
        self._parts.append(text)
        self._room -= len(text)

    @property
    def text(self) -> str:
        captured = "".join(self._parts)
        return captured + TRUNCATION_MARK if self.truncated else captured

    def install(self) -> None:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None:
                tee = _Tee(stream, self)
                setattr(sys, name, tee)
                self._tees.append((name, tee))

    def uninstall(self) -> None:
        for name, tee in self._tees:
            tee.stop()
            # A cell that replaced the stream itself (redirect_stdout left open) keeps its own.
            if getattr(sys, name) is tee:
                setattr(sys, name, tee.stream)
        self._tees.clear()


class _Tee:
    """A text stream that copies writes to a capture and passes everything to `stream`."""

    def __init__(self, stream: TextIO, capture: OutputCapture) -> None:
        self.stream = stream
        self._capture: OutputCapture | None = capture

    def stop(self) -> None:
        """Stop copying (a reference kept by the cell's code still writes through)."""
        self._capture = None

    def write(self, text: str) -> int:
        capture = self._capture
        if capture is not None and isinstance(text, str):
            capture.add(text)
        return self.stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        # Everything else (flush, fileno, encoding, isatty, ipykernel's own methods) is the
        # stream's.
        return getattr(self.stream, name)

"""What cellmon.client adds to a cell's run time, in IPython's own shell (in process).

The same cells run in blocks with the extension loaded and without it, alternately, so that
the machine's drift touches both alike. Two figures per kind of cell:
- the client's own work on the kernel's main thread (its pre_run_cell and post_run_cell
  callbacks, timed inside IPython's event loop): what the student waits for;
- the cell's whole run_cell time with and without the client (p50 and p99 of each), which
  also shows what the sender thread costs the main thread through the GIL while it writes
  events to disk and posts them to a local HTTP server that answers 202.
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from bench import report
from bench.stats import percentile

TARGET_P99_MS = 1.0
CELLS = {
    "assignment": "x = 1",
    "print": "print('hello')",
    "result": "[i * i for i in range(20)]",
    "error": "1/0",
}


@dataclass(frozen=True)
class Options:
    blocks: int
    cells_per_block: int


QUICK = Options(blocks=4, cells_per_block=100)
FULL = Options(blocks=10, cells_per_block=300)


# A server that takes every batch with 202, in a process of its own (as the real server is
# not in the kernel: it must not compete with the cells for this process's GIL).
_TAKER = """
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Taker(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(202)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Taker)
print(server.server_port, flush=True)
server.serve_forever()
"""


class _TimedHooks:
    """Callbacks registered before and after the client's, in both events: IPython calls
    them in order, so the time between each pair is the client's own."""

    def __init__(self) -> None:
        self.per_cell: list[float] = []
        self._started = 0.0
        self._spent = 0.0

    def before_pre(self, info: Any) -> None:
        self._started = time.perf_counter()

    def after_pre(self, info: Any) -> None:
        self._spent = time.perf_counter() - self._started

    def before_post(self, result: Any) -> None:
        self._started = time.perf_counter()

    def after_post(self, result: Any) -> None:
        self.per_cell.append(self._spent + time.perf_counter() - self._started)

    def load_between(self, shell: InteractiveShell) -> None:
        shell.events.register("pre_run_cell", self.before_pre)
        shell.events.register("post_run_cell", self.before_post)
        shell.run_line_magic("load_ext", "cellmon.client")
        shell.events.register("pre_run_cell", self.after_pre)
        shell.events.register("post_run_cell", self.after_post)

    def unload(self, shell: InteractiveShell) -> None:
        shell.run_line_magic("unload_ext", "cellmon.client")
        for event, hooks in (
            ("pre_run_cell", (self.before_pre, self.after_pre)),
            ("post_run_cell", (self.before_post, self.after_post)),
        ):
            for hook in hooks:
                shell.events.unregister(event, hook)


def measure(options: Options, log: Callable[[str], None]) -> dict[str, Any]:
    taker = subprocess.Popen([sys.executable, "-c", _TAKER], stdout=subprocess.PIPE, text=True)
    assert taker.stdout is not None
    port = int(taker.stdout.readline())
    folder = Path(tempfile.mkdtemp(prefix="cellmon-bench-client-"))
    os.environ["CELLMON_SERVER_URL"] = f"http://127.0.0.1:{port}"
    os.environ["CELLMON_EMAIL"] = "bench@example.com"
    os.environ["CELLMON_CLIENT_QUEUE"] = str(folder / "queue.sqlite3")
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config, colors="nocolor")
    # What cells print goes nowhere, as fast as a stream can take it.
    real_stdout, real_stderr = sys.stdout, sys.stderr
    figures: dict[str, Any] = {}
    try:
        for kind, code in CELLS.items():
            without: list[float] = []
            with_client: list[float] = []
            hooks = _TimedHooks()
            for block in range(options.blocks):
                loaded = block % 2 == 1
                if loaded:
                    hooks.load_between(shell)
                sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
                try:
                    for _ in range(options.cells_per_block):
                        started = time.perf_counter()
                        shell.run_cell(code, store_history=True)
                        (with_client if loaded else without).append(time.perf_counter() - started)
                finally:
                    sys.stdout, sys.stderr = real_stdout, real_stderr
                if loaded:
                    hooks.unload(shell)
            figures[kind] = {
                "cells": len(with_client),
                "hooks_p50_ms": percentile(hooks.per_cell, 0.50) * 1000,
                "hooks_p99_ms": percentile(hooks.per_cell, 0.99) * 1000,
                "hooks_max_ms": max(hooks.per_cell) * 1000,
                "without_p50_ms": statistics.median(without) * 1000,
                "without_p99_ms": percentile(without, 0.99) * 1000,
                "with_p50_ms": statistics.median(with_client) * 1000,
                "with_p99_ms": percentile(with_client, 0.99) * 1000,
            }
            log(f"client overhead, {kind}: {figures[kind]}")
    finally:
        taker.terminate()
        taker.wait()
    return figures


def section(figures: dict[str, Any], header: str) -> str:
    lines = [
        header,
        "",
        "| cell | cells | client's callbacks p50 / p99 / max (ms) | run_cell without "
        "p50 / p99 (ms) | with the client p50 / p99 (ms) | added p50 / p99 (ms) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    worst = 0.0
    for kind, row in figures.items():
        added_p50 = row["with_p50_ms"] - row["without_p50_ms"]
        added_p99 = row["with_p99_ms"] - row["without_p99_ms"]
        worst = max(worst, row["hooks_p99_ms"])
        lines.append(
            f"| `{CELLS[kind]}` | {row['cells']:,} | {row['hooks_p50_ms']:.3f} / "
            f"{row['hooks_p99_ms']:.3f} / {row['hooks_max_ms']:.3f} | "
            f"{row['without_p50_ms']:.3f} / {row['without_p99_ms']:.3f} | "
            f"{row['with_p50_ms']:.3f} / {row['with_p99_ms']:.3f} | "
            f"{added_p50:+.3f} / {added_p99:+.3f} |"
        )
    verdict = "met" if worst < TARGET_P99_MS else "MISSED"
    lines += [
        "",
        f"- Target: under {TARGET_P99_MS:g} ms added to a cell, p99 — the client's "
        f"callbacks' worst p99 is {worst:.3f} ms: {verdict}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.client", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs, for development")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    args = parser.parse_args()
    command = " ".join(["python -m bench.client", *map(shlex.quote, sys.argv[1:])])
    load_before = os.getloadavg()
    figures = measure(QUICK if args.quick else FULL, print)
    if not args.no_write:
        header = report.machine(command, load_before)
        report.write_section("client", section(figures, header))
        print(f"wrote {report.DOC}")


if __name__ == "__main__":
    main()

"""What `cellmon simulate` shows: a live progress bar over the lesson's time, and the summary."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from cellmon.simulate.sender import SendStats

# What a refusal usually means for a simulated class.
STATUS_HINTS = {
    401: "the server wants a class's ingest key: give --email (an instructor or admin account) "
    "or --key",
    413: "the server's CELLMON_MAX_BODY_BYTES is below an event's size",
    429: "the server's ingest rate limit (CELLMON_RATE_LIMIT_INGEST_PER_KEY / _PER_ADDRESS)",
}


class LiveProgress:
    """The lesson's clock as a bar, with the posts' counters beside it."""

    def __init__(self, console: Console, lesson_seconds: float, stats: SendStats) -> None:
        self.stats = stats
        self.progress = Progress(
            TextColumn("lesson"),
            BarColumn(),
            TextColumn("{task.fields[clock]}"),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=4,
        )
        self.task: TaskID = self.progress.add_task(
            "lesson", total=lesson_seconds, clock="", counts=""
        )

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def update(self, lesson_seconds: float, in_flight: int) -> None:
        stats = self.stats
        minutes, seconds = divmod(int(lesson_seconds), 60)
        self.progress.update(
            self.task,
            completed=lesson_seconds,
            clock=f"{minutes:02d}:{seconds:02d}",
            counts=(
                f"sent {stats.sent}  accepted {stats.accepted}  rejected {stats.rejected}  "
                f"retried {stats.retried}  in flight {in_flight}"
            ),
        )


def _milliseconds(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def summary(stats: SendStats, *, unfinished: int, elapsed: float) -> Table:
    table = Table(title="cellmon simulate", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    rate = stats.finished / elapsed if elapsed > 0 else 0.0
    refusals = ", ".join(
        f"{status}: {count}" for status, count in sorted(stats.statuses.items()) if status >= 400
    )
    rows = [
        ("sent", str(stats.sent)),
        ("accepted", str(stats.accepted)),
        ("rejected (4xx, lost)", str(stats.rejected)),
        ("retried (5xx, time-out, network)", str(stats.retried)),
        ("failed after the last retry (lost)", str(stats.failed)),
        ("unfinished (stopped before an answer)", str(unfinished)),
        ("answers by status", refusals or "all 2xx"),
        ("latency p50", _milliseconds(stats.latency(0.5))),
        ("latency p99", _milliseconds(stats.latency(0.99))),
        ("events answered per second", f"{rate:.1f}"),
        ("run time", f"{elapsed:.1f} s"),
    ]
    for what, value in rows:
        table.add_row(what, value)
    return table


def hints(stats: SendStats) -> list[str]:
    """Why events were refused, where the status says."""
    return [
        f"{status}: {STATUS_HINTS[status]}"
        for status in sorted(stats.statuses)
        if status in STATUS_HINTS
    ]

"""The process's Prometheus metrics, and their exposition across processes.

Counters, histograms and the WebSocket gauge live in each process. With
`PROMETHEUS_MULTIPROC_DIR` set (prometheus-client's multiprocess mode), every process writes
its values to files of that directory, which the `cellmon serve` processes and `cellmon
worker`s of one host share, and `/metrics` of any of them adds up every process's files: a
scrape through any server sees the whole host. Without it (one `cellmon serve` with its
in-server worker, the laptop's `make run`) the process's own values are the whole.

What is shared rather than per process (the queue's depth and oldest entry, the time-series
writes pending) is read from the backends when `/metrics` is scraped (`cellmon/metrics/`).

No label holds a person's data: routes are templates (`/api/v1/students/{student_id}`), never
paths; reasons and stages are fixed words.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import socket

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

# prometheus-client's own variable, read when it is imported (cli.py makes the directory).
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_HOST = socket.gethostname().replace("_", "-")


def multiprocess_dir() -> str | None:
    """The directory shared by this host's cellmon processes, or None (one process)."""
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


def process_identifier() -> str:
    """Names this process's files: unique among the processes sharing the directory, also
    when they are containers sharing a volume, where each may be pid 1 (the host name is the
    container's)."""
    return f"{_HOST}-{os.getpid()}"


if multiprocess_dir() is not None:
    # Before any metric is made: each one's value lives in this process's files.
    values.ValueClass = values.MultiProcessValue(process_identifier)  # type: ignore[no-untyped-call]

EVENTS_ACCEPTED = Counter(
    "cellmon_events_accepted", "Events answered 202 by POST /api/v1/events (queued)."
)
EVENT_REQUESTS_REJECTED = Counter(
    "cellmon_event_requests_rejected",
    "Requests to POST /api/v1/events refused with a 4xx, by reason.",
    ["reason"],
)
EVENTS_PROCESSED = Counter(
    "cellmon_events_processed", "Events a worker recorded (committed), duplicates included."
)
EVENTS_DEAD_LETTERED = Counter(
    "cellmon_events_dead_lettered", "Events a worker could not record, kept in dead_letters."
)
BATCH_DURATION = Histogram(
    "cellmon_batch_duration_seconds",
    "A worker's batch, by stage: record (claim to commit and publish), finish (time-series "
    "write and ack).",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WEBSOCKET_CONNECTIONS = Gauge(
    "cellmon_websocket_connections",
    "Open /ws connections (of the processes alive).",
    multiprocess_mode="livesum",
)
SLOW_CLIENTS_DROPPED = Counter(
    "cellmon_websocket_slow_clients_dropped",
    "/ws clients closed with 4008 because their send queue was full.",
)
REQUEST_DURATION = Histogram(
    "cellmon_http_request_duration_seconds",
    "HTTP requests by method, route template and status, from the first byte in to the last "
    "byte out.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# Why POST /api/v1/events refused a request (the label values of EVENT_REQUESTS_REJECTED),
# bound once so that a refusal costs one increment.
REJECTED_UNKNOWN_KEY = EVENT_REQUESTS_REJECTED.labels("unknown_key")
REJECTED_KEY_REQUIRED = EVENT_REQUESTS_REJECTED.labels("key_required")
REJECTED_BODY_TOO_LARGE = EVENT_REQUESTS_REJECTED.labels("body_too_large")
REJECTED_TOO_MANY_EVENTS = EVENT_REQUESTS_REJECTED.labels("too_many_events")
REJECTED_UNREADABLE_BODY = EVENT_REQUESTS_REJECTED.labels("unreadable_body")
REJECTED_INVALID_EVENTS = EVENT_REQUESTS_REJECTED.labels("invalid_events")
REJECTED_CLIENT_DISCONNECTED = EVENT_REQUESTS_REJECTED.labels("client_disconnected")

RECORD_STAGE = BATCH_DURATION.labels("record")
FINISH_STAGE = BATCH_DURATION.labels("finish")

# Files of the gauges whose value counts only while their process lives (prometheus-client
# names them gauge_live<mode>_<process identifier>.db).
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(.+)-(\d+)\.db$")


def start_process() -> None:
    """At a process's start: an earlier process with the same pid (a restarted container's)
    may have left its live gauges' values, which this process read when it made them."""
    WEBSOCKET_CONNECTIONS.set(0)


def end_process() -> None:
    """At a process's clean exit: its live gauges stop counting (its counters stay)."""
    directory = multiprocess_dir()
    if directory is not None:
        mark_process_dead(process_identifier(), directory)  # type: ignore[no-untyped-call]


def _forget_dead_processes(directory: str) -> None:
    """Live gauges of this host's processes that ended without end_process() (kill -9, a
    crash); another container's are its own to clear (start_process, when it restarts)."""
    for path in glob.glob(os.path.join(directory, "gauge_live*.db")):
        match = _LIVE_GAUGE_FILE.match(os.path.basename(path))
        if match is None or match.group(1) != _HOST:
            continue
        pid = int(match.group(2))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        except PermissionError:
            continue  # alive, another user's


def exposition(extra: CollectorRegistry) -> bytes:
    """The text of every process's metrics (this one's alone without a shared directory),
    then `extra`'s (the values read at scrape time)."""
    directory = multiprocess_dir()
    if directory is None:
        from prometheus_client import REGISTRY

        text = generate_latest(REGISTRY)
    else:
        _forget_dead_processes(directory)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    return text + generate_latest(extra)

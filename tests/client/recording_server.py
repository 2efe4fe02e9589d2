"""A small HTTP server that records what the client posts and answers as a test scripts it.

The client's rules for answers the real server gives only in trouble (503, 429, 422, a
refused key) are tested against it; what the real server does with the client's events is
tested against the real app (test_against_server.py, the notebook tests).
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    events: list[dict[str, Any]]
    status: int


@dataclass
class Script:
    """Statuses to answer, in order; `default` once they are used up."""

    statuses: list[int] = field(default_factory=list)
    default: int = 202
    retry_after: str | None = None
    location: str | None = None  # a Location header, for answers that redirect


class RecordingServer:
    def __init__(self) -> None:
        self.script = Script()
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                status = recorder._next_status()
                # Recorded before the answer goes: once the client has its answer, a test
                # reading `received` finds the request there.
                with recorder.arrived:
                    recorder.received.append(
                        Received(self.path, dict(self.headers), json.loads(body), status)
                    )
                    recorder.arrived.notify_all()
                self.send_response(status)
                if recorder.script.retry_after is not None:
                    self.send_header("Retry-After", recorder.script.retry_after)
                if recorder.script.location is not None:
                    self.send_header("Location", recorder.script.location)
                answer = json.dumps({"detail": f"answered {status}"}).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/api/v1/events"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _next_status(self) -> int:
        with self.arrived:
            return self.script.statuses.pop(0) if self.script.statuses else self.script.default

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, requests: int, timeout: float = 10.0) -> list[Received]:
        """The first `requests` requests, once they arrived."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= requests, timeout):
                raise AssertionError(f"{len(self.received)} of {requests} requests arrived")
            return list(self.received)

    def taken_ids(self) -> list[str]:
        """The eventIds of every event answered 2xx, in arrival order."""
        with self.arrived:
            return [
                event["eventId"]
                for request in self.received
                if 200 <= request.status < 300
                for event in request.events
            ]


def serving() -> Iterator[RecordingServer]:
    server = RecordingServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()

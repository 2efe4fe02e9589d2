"""Posting as the extension does: one event per request, retries on 5xx and network errors
only, a 4xx final. Against a stand-in server that answers the statuses it is told."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import orjson
import pytest

from cellmon.simulate.sender import Outcome, Sender, SendStats
from tests.events.helpers import execution

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]
NO_WAIT = (0.0, 0.0, 0.0)


class StandIn:
    """An ASGI server answering each request with the next of `statuses`; keeps requests."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[bytes, dict[str, str]]] = []

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        self.requests.append((body, headers))
        await send({"type": "http.response.start", "status": self.statuses.pop(0), "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def send_one(statuses: list[int]) -> tuple[Outcome, SendStats, StandIn]:
    server = StandIn(statuses)
    stats = SendStats()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server)) as http:
        sender = Sender(http, "http://cellmon/api/v1/events?key=k", stats, NO_WAIT)
        outcome = await sender.send(execution("c1"))
    return outcome, stats, server


async def test_one_event_per_request_as_json_and_retried_after_a_5xx() -> None:
    outcome, stats, server = await send_one([503, 502, 202])
    assert outcome is Outcome.ACCEPTED
    assert (stats.sent, stats.accepted, stats.retried, stats.failed) == (1, 1, 2, 0)
    assert len(server.requests) == 3
    assert len({body for body, _ in server.requests}) == 1  # the same event each time
    body, headers = server.requests[0]
    [event] = orjson.loads(body)
    assert event["cellId"] == "c1"
    assert headers["content-type"] == "application/json"
    assert "authorization" not in headers
    assert "content-encoding" not in headers
    assert len(stats.latencies) == 3


async def test_a_4xx_is_final_as_the_extension_drops_it() -> None:
    outcome, stats, server = await send_one([422])
    assert outcome is Outcome.REJECTED
    assert (stats.rejected, stats.retried) == (1, 0)
    assert len(server.requests) == 1
    assert stats.statuses == {422: 1}


async def test_three_retries_then_the_event_is_dropped() -> None:
    outcome, stats, server = await send_one([500, 503, 503, 503])
    assert outcome is Outcome.FAILED
    assert (stats.failed, stats.retried) == (1, 3)
    assert len(server.requests) == 4


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_network_error_is_retried_too(closed_port: int) -> None:
    stats = SendStats()
    async with httpx.AsyncClient() as http:
        sender = Sender(http, f"http://127.0.0.1:{closed_port}/api/v1/events", stats, NO_WAIT)
        assert await sender.send(execution("c1")) is Outcome.FAILED
    assert (stats.sent, stats.retried, stats.failed) == (1, 3, 1)
    assert stats.latencies == []


def test_latency_quantiles() -> None:
    stats = SendStats(latencies=[0.001 * n for n in range(1, 101)])
    assert stats.latency(0.5) == pytest.approx(0.051)
    assert stats.latency(0.99) == pytest.approx(0.1)
    assert SendStats().latency(0.5) is None

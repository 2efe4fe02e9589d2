"""The hub at its own level: fan-out, serialization once, slow consumers, clean-up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import orjson
import pytest
from prometheus_client import REGISTRY

from cellmon.auth.principal import Principal, Role
from cellmon.core.bus.in_process import InProcessBus
from cellmon.live.admission import CLOSE_NOT_SIGNED_IN
from cellmon.live.hub import CLOSE_GOING_AWAY, CLOSE_SLOW_CONSUMER, LiveHub
from cellmon.live.messages import LiveMessage, encode_packets, publish
from cellmon.live.session_ends import GOODBYES, EndCause, SessionEnd


class FakeSocket:
    """The two calls the hub makes on a connection; `open_gate=False` makes a client that
    does not read (every send waits until the gate opens)."""

    def __init__(self, *, open_gate: bool = True) -> None:
        self.gate = asyncio.Event()
        if open_gate:
            self.gate.set()
        self.frames: list[str] = []
        self.received: asyncio.Queue[str] = asyncio.Queue()
        self.closed_with: tuple[int, str] | None = None
        self.closed = asyncio.Event()

    async def send(self, frame: str) -> None:
        await self.gate.wait()
        self.frames.append(frame)
        self.received.put_nowait(frame)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)
        self.closed.set()

    async def next(self) -> str:
        return await asyncio.wait_for(self.received.get(), 10)


@pytest.fixture
async def hub() -> AsyncIterator[LiveHub]:
    bus = InProcessBus()
    live_hub = LiveHub(bus, queue_size=3)
    await live_hub.start()
    yield live_hub
    await live_hub.stop()
    await bus.close()


def message(n: int, *channels: str) -> LiveMessage:
    return LiveMessage(type="execution_update", channels=channels, data={"n": n})


async def test_start_returns_when_the_hub_hears_the_bus(hub: LiveHub) -> None:
    assert hub.ready
    socket = FakeSocket()
    subscriber = hub.connect(socket.send, socket.close)
    hub.subscribe(subscriber, ["class:1"])
    positioned = LiveMessage(
        type="execution_update", channels=("class:1",), data={"n": 1}, position=7
    )
    await publish(hub.bus, [positioned])
    frame = orjson.loads(await socket.next())
    assert frame == {
        "type": "execution_update",
        "channel": "class:1",
        "data": {"n": 1},
        "sent_at": frame["sent_at"],
        "position": 7,
    }
    assert frame["sent_at"].endswith("Z")


async def test_a_frame_is_serialized_once_per_channel_and_shared(hub: LiveHub) -> None:
    sockets = [FakeSocket() for _ in range(3)]
    for socket in sockets:
        hub.subscribe(hub.connect(socket.send, socket.close), ["class:1"])
    student = FakeSocket()
    hub.subscribe(hub.connect(student.send, student.close), ["progress:7"])

    assert hub.deliver(message(1, "progress:7", "class:1", "class:2")) == 4

    class_frames = [await socket.next() for socket in sockets]
    # The very same object for every subscriber of the channel: serialized once.
    assert all(frame is class_frames[0] for frame in class_frames)
    assert orjson.loads(class_frames[0])["channel"] == "class:1"
    assert orjson.loads(await student.next())["channel"] == "progress:7"


async def test_only_subscribed_channels_are_delivered(hub: LiveHub) -> None:
    socket = FakeSocket()
    subscriber = hub.connect(socket.send, socket.close)
    hub.subscribe(subscriber, ["class:1"])
    assert hub.deliver(message(1, "class:2", "progress:3", "broadcast")) == 0
    hub.deliver(message(2, "class:1"))
    assert orjson.loads(await socket.next())["data"] == {"n": 2}
    assert socket.received.empty()


async def test_a_slow_client_is_dropped_without_holding_up_the_others(hub: LiveHub) -> None:
    dropped_before = _sample("cellmon_websocket_slow_clients_dropped_total")
    fast, slow = FakeSocket(), FakeSocket(open_gate=False)
    fast_subscriber = hub.connect(fast.send, fast.close)
    slow_subscriber = hub.connect(slow.send, slow.close)
    assert _sample("cellmon_websocket_connections") == 2
    hub.subscribe(fast_subscriber, ["broadcast"])
    hub.subscribe(slow_subscriber, ["broadcast"])

    # The slow client's sender holds message 0; its queue (3) takes 1-3; 4 overflows it.
    for n in range(8):
        hub.deliver(message(n, "broadcast"))
        assert orjson.loads(await fast.next())["data"] == {"n": n}

    assert hub.dropped == 1
    assert slow_subscriber.closed
    assert hub.subscribers_of("broadcast") == 1
    assert hub.subscriber_count == 1
    # What /metrics reports of it.
    assert _sample("cellmon_websocket_slow_clients_dropped_total") == dropped_before + 1
    assert _sample("cellmon_websocket_connections") == 1

    # Once it reads again, the dropped client gets the reason, then the close code.
    slow.gate.set()
    await asyncio.wait_for(slow.closed.wait(), 10)
    assert slow.closed_with is not None
    assert slow.closed_with[0] == CLOSE_SLOW_CONSUMER
    assert len(slow.frames) == 1
    error = orjson.loads(slow.frames[0])
    assert error["type"] == "error"
    assert "4008" in error["message"]
    await hub.disconnect(slow_subscriber)
    await hub.disconnect(fast_subscriber)


async def test_replies_queue_behind_messages_in_order(hub: LiveHub) -> None:
    socket = FakeSocket()
    subscriber = hub.connect(socket.send, socket.close)
    hub.subscribe(subscriber, ["broadcast"])
    hub.deliver(message(1, "broadcast"))
    hub.reply(subscriber, {"type": "pong"})
    assert orjson.loads(await socket.next())["data"] == {"n": 1}
    assert orjson.loads(await socket.next()) == {"type": "pong"}


async def test_disconnect_forgets_every_subscription(hub: LiveHub) -> None:
    socket = FakeSocket()
    subscriber = hub.connect(socket.send, socket.close)
    hub.subscribe(subscriber, ["broadcast", "class:1", "progress:2"])
    hub.unsubscribe(subscriber, ["class:1"])
    assert subscriber.channels == {"broadcast", "progress:2"}
    assert hub.subscribers_of("class:1") == 0

    await hub.disconnect(subscriber)

    assert hub.subscriber_count == 0
    assert hub.subscribers_of("broadcast") == 0
    assert hub.subscribers_of("progress:2") == 0
    assert hub.deliver(message(1, "broadcast", "progress:2")) == 0


async def test_a_packet_delivers_its_messages_in_order(hub: LiveHub) -> None:
    student, instructor = FakeSocket(), FakeSocket()
    hub.subscribe(hub.connect(student.send, student.close), ["progress:7"])
    hub.subscribe(hub.connect(instructor.send, instructor.close), ["class:1"])

    batch = [message(n, "progress:7", "class:1") for n in range(3)]
    [packet] = encode_packets(batch)
    await hub.bus.publish(packet)

    for socket in (student, instructor):
        assert [orjson.loads(await socket.next())["data"] for _ in batch] == [
            {"n": 0},
            {"n": 1},
            {"n": 2},
        ]


async def test_an_undecodable_bus_packet_is_skipped(
    hub: LiveHub, caplog: pytest.LogCaptureFixture
) -> None:
    socket = FakeSocket()
    hub.subscribe(hub.connect(socket.send, socket.close), ["broadcast"])
    for packet in (b"not json", b'{"type": "x"}', b'[{"type": "x"}]'):
        await hub.bus.publish(packet)
    await publish(hub.bus, [message(1, "broadcast")])
    assert orjson.loads(await socket.next())["data"] == {"n": 1}
    assert caplog.text.count("undecodable live packet skipped") == 3


async def test_a_hub_without_subscribers_does_not_decode_bus_packets(
    hub: LiveHub, caplog: pytest.LogCaptureFixture
) -> None:
    # Every API process hears every packet; one nobody watches should spend nothing on it.
    await hub.bus.publish(b"not json")
    await asyncio.sleep(0)
    assert "undecodable" not in caplog.text

    socket = FakeSocket()
    hub.subscribe(hub.connect(socket.send, socket.close), ["broadcast"])
    await hub.bus.publish(b"not json")
    await publish(hub.bus, [message(1, "broadcast")])
    await socket.next()
    assert "undecodable" in caplog.text


async def test_stop_closes_every_connection_as_going_away() -> None:
    bus = InProcessBus()
    live_hub = LiveHub(bus, queue_size=3)
    await live_hub.start()
    socket = FakeSocket()
    live_hub.subscribe(live_hub.connect(socket.send, socket.close), ["broadcast"])
    await live_hub.stop()
    assert socket.closed_with == (CLOSE_GOING_AWAY, "server shutting down")
    assert live_hub.subscriber_count == 0
    await bus.close()


def _sample(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    return 0.0 if value is None else value


def _principal(user_id: int, token_id: str) -> Principal:
    return Principal(user_id, f"user{user_id}@example.org", Role.INSTRUCTOR, token_id, 2**31)


async def test_a_connection_admitted_across_a_session_end_is_closed_when_it_joins(
    hub: LiveHub,
) -> None:
    # The sign-in checks of these sockets read their tokens before the sign-out committed;
    # the hub heard of the sign-out before they joined it.
    checked_at = time.monotonic()
    watcher = FakeSocket()
    hub.subscribe(hub.connect(watcher.send, watcher.close), ["broadcast"])
    await publish(hub.bus, [SessionEnd(1, "signed-out", EndCause.SIGNED_OUT).message()])
    await publish(hub.bus, [message(1, "broadcast")])
    await watcher.next()  # the hub has handled the end: the bus keeps the order

    sockets = {token: FakeSocket() for token in ("signed-out", "other")}
    joined = {
        token: hub.connect(socket.send, socket.close, (_principal(1, token), checked_at))
        for token, socket in sockets.items()
    }
    late = FakeSocket()
    after_the_end = hub.connect(
        late.send, late.close, (_principal(1, "signed-out"), time.monotonic())
    )

    await asyncio.wait_for(sockets["signed-out"].closed.wait(), 10)
    goodbye = GOODBYES[EndCause.SIGNED_OUT]
    assert sockets["signed-out"].closed_with == (CLOSE_NOT_SIGNED_IN, goodbye.reason)
    assert orjson.loads(sockets["signed-out"].frames[-1])["message"] == goodbye.message
    assert joined["signed-out"].closed
    # Another token of the account, and a check made after the end, are not its business.
    assert not joined["other"].closed
    assert not after_the_end.closed
    assert hub.subscriber_count == 3

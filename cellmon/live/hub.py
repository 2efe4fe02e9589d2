"""The hub: one bus listener per process, fanning live messages out to /ws subscribers.

Each bus packet is decoded once into its messages; for each of a message's channels that has
subscribers here, the client-facing frame is serialized once and the same string is queued
for every subscriber. A subscriber owns a bounded mailbox and one sender task, so a slow
client only ever fills its own queue; when that is full the client is told and dropped, and
the others never wait.

The hub also knows which account and token each connection signed in with, so that a
session end heard on the bus (live/session_ends.py: a sign-out, a password change, a disabled
account) closes that session's connections here, and one that connects just after the end
was heard, with a token checked just before it was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from cellmon.auth.principal import Principal
from cellmon.core import metrics
from cellmon.core.bus import MessageBus
from cellmon.core.errors import BackendUnavailable
from cellmon.live.admission import CLOSE_NOT_SIGNED_IN, ConnectionCounts
from cellmon.live.messages import LiveMessage, decode_packet, publish
from cellmon.live.session_ends import GOODBYES, SESSION_END, SessionEnd, SessionIndex

logger = logging.getLogger(__name__)

# Close codes (RFC 6455 section 7.4; 4000-4999 are the application's own).
CLOSE_SLOW_CONSUMER = 4008
CLOSE_GOING_AWAY = 1001

# How long a dropped or departing client gets to take its last messages.
CLOSE_TIMEOUT_SECONDS = 5.0
# How long start() waits to see its own probe come back through the bus.
READY_TIMEOUT_SECONDS = 10.0
LISTENER_RESTART_SECONDS = 1.0

# Published by a starting hub on no channel: when it comes back, this process is listening.
HUB_PROBE = "hub_probe"

SendText = Callable[[str], Awaitable[None]]
CloseSocket = Callable[[int, str], Awaitable[None]]


def encode_frame(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload, option=orjson.OPT_UTC_Z).decode()


def channel_frame(message: LiveMessage, channel: str) -> str:
    return encode_frame(
        {
            "type": message.type,
            "channel": channel,
            "data": message.data,
            "sent_at": message.sent_at,
            "position": message.position,
        }
    )


class Subscriber:
    """The outgoing side of one connection: a bounded mailbox and the task that drains it.

    The mailbox is a deque and a future the sender waits on when it is empty, rather than an
    asyncio.Queue: a fan-out offers one frame to every subscriber of a channel, and at 10,000
    subscribers the queue's own bookkeeping was the largest cost of a broadcast.
    """

    __slots__ = (
        "_close",
        "_closer",
        "_pending",
        "_queue_size",
        "_send",
        "_sender",
        "_wakeup",
        "channels",
        "closed",
        "session",
    )

    def __init__(
        self,
        send: SendText,
        close: CloseSocket,
        queue_size: int,
        session: tuple[int, str] | None,
    ) -> None:
        self._send = send
        self._close = close
        self._queue_size = queue_size
        self._pending: deque[str] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._sender = asyncio.create_task(self._send_all())
        self._closer: asyncio.Task[None] | None = None
        self.channels: set[str] = set()
        self.closed = False
        # (account id, token id) it signed in with.
        self.session = session

    def offer(self, frame: str) -> bool:
        """Queue a frame without waiting; False when the mailbox is full."""
        if len(self._pending) >= self._queue_size:
            return False
        self._pending.append(frame)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
        return True

    async def _send_all(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                while self._pending:
                    await self._send(self._pending.popleft())
                self._wakeup = loop.create_future()
                await self._wakeup
                self._wakeup = None
        except Exception:
            # The connection is gone; its receive loop sees the disconnect and cleans up.
            self.closed = True

    def abort(self, code: int, reason: str, last_frame: str | None) -> None:
        """Stop sending what is queued; send `last_frame` and close, best effort."""
        if self._closer is not None:
            return
        self.closed = True
        self._sender.cancel()
        self._pending.clear()
        self._closer = asyncio.create_task(self._say_goodbye(code, reason, last_frame))

    async def _say_goodbye(self, code: int, reason: str, last_frame: str | None) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                # The cancelled sender must be off the socket before anything else is sent.
                await asyncio.wait({self._sender})
                if last_frame is not None:
                    await self._send(last_frame)
                await self._close(code, reason)

    async def finish(self) -> None:
        """End the sender, and let a goodbye in progress end (it is time-bounded)."""
        self.closed = True
        self._sender.cancel()
        tasks = [self._sender] if self._closer is None else [self._sender, self._closer]
        await asyncio.gather(*tasks, return_exceptions=True)


class LiveHub:
    def __init__(self, bus: MessageBus, *, queue_size: int) -> None:
        self.bus = bus
        self.queue_size = queue_size
        self._channels: dict[str, set[Subscriber]] = {}
        self._subscribers: set[Subscriber] = set()
        self._sessions: SessionIndex[Subscriber] = SessionIndex()
        self._listener: asyncio.Task[None] | None = None
        self._probe_token = uuid.uuid4().hex
        self._ready = asyncio.Event()
        self.connections = ConnectionCounts()
        # Counters for operators and benchmarks.
        self.delivered = 0
        self.dropped = 0

    # -- lifetime ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen to the bus, and return once a message published now would be received."""
        self._listener = asyncio.create_task(self._listen(self.bus.listen()))
        probe = LiveMessage(type=HUB_PROBE, channels=(), data={"token": self._probe_token})
        delay = 0.02
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                while not self._ready.is_set():
                    with contextlib.suppress(BackendUnavailable):
                        await publish(self.bus, [probe])
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._ready.wait(), delay)
                    delay = min(delay * 2, 1.0)
        except TimeoutError:
            logger.warning(
                "live hub started without hearing back from the bus within %.0f s; "
                "it keeps listening",
                READY_TIMEOUT_SECONDS,
            )

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        subscribers = list(self._subscribers)
        for subscriber in subscribers:
            self._forget(subscriber)
            subscriber.abort(CLOSE_GOING_AWAY, "server shutting down", None)
        await asyncio.gather(*(s.finish() for s in subscribers), return_exceptions=True)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def _listen(self, packets: AsyncIterator[bytes]) -> None:
        while True:
            try:
                async for packet in packets:
                    self._receive(packet)
                return
            except Exception:
                logger.exception("live hub listener failed; listening again")
                await asyncio.sleep(LISTENER_RESTART_SECONDS)
                packets = self.bus.listen()

    def _receive(self, packet: bytes) -> None:
        # Every process hears every packet; one with no connections need not decode it.
        if not self._subscribers and self._ready.is_set():
            return
        try:
            messages = decode_packet(packet)
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("undecodable live packet skipped: %s", exc)
            return
        for message in messages:
            if message.channels:
                self.deliver(message)
            elif message.type == SESSION_END:
                self._end_session(message)
            elif message.type == HUB_PROBE and message.data.get("token") == self._probe_token:
                self._ready.set()

    def _end_session(self, message: LiveMessage) -> None:
        """Close the connections of the token, or of the account, that the message ends."""
        try:
            ended = SessionEnd.from_message(message)
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("undecodable session end skipped: %s", exc)
            return
        closing = self._sessions.ended(ended)
        goodbye = GOODBYES[ended.cause]
        for subscriber in closing:
            self.end(subscriber, CLOSE_NOT_SIGNED_IN, goodbye.reason, goodbye.message)
        if closing:
            logger.info(
                "closed live connections of an ended session",
                extra={"user_id": ended.user_id, "count": len(closing), "cause": ended.cause},
            )

    # -- fan-out ----------------------------------------------------------------------------

    def deliver(self, message: LiveMessage) -> int:
        """Queue the message for every local subscriber of its channels; how many got it."""
        handed = 0
        too_slow: list[Subscriber] = []
        for channel in message.channels:
            subscribers = self._channels.get(channel)
            if not subscribers:
                continue
            frame = channel_frame(message, channel)
            for subscriber in subscribers:
                if subscriber.offer(frame):
                    handed += 1
                else:
                    too_slow.append(subscriber)
            # Dropped after the loop: dropping changes the set being iterated.
            for subscriber in too_slow:
                self._drop_slow(subscriber)
            too_slow.clear()
        self.delivered += handed
        return handed

    def reply(self, subscriber: Subscriber, payload: dict[str, Any]) -> None:
        """Queue a reply to one client, behind what it already has queued."""
        if subscriber.closed:
            return
        if not subscriber.offer(encode_frame(payload)):
            self._drop_slow(subscriber)

    def _drop_slow(self, subscriber: Subscriber) -> None:
        self.dropped += 1
        metrics.SLOW_CLIENTS_DROPPED.inc()
        logger.info("dropped a live subscriber that could not keep up")
        self.end(
            subscriber,
            CLOSE_SLOW_CONSUMER,
            "too slow",
            f"more than {self.queue_size} messages waiting for this client; "
            "disconnecting (close code 4008), reconnect and subscribe again",
        )

    def end(self, subscriber: Subscriber, code: int, reason: str, message: str) -> None:
        """Stop delivering to the client, tell it why in an error frame, close with `code`."""
        self._forget(subscriber)
        subscriber.abort(
            code,
            reason,
            encode_frame({"type": "error", "message": message, "sent_at": datetime.now(UTC)}),
        )

    # -- connections and subscriptions ------------------------------------------------------

    def connect(
        self,
        send: SendText,
        close: CloseSocket,
        signed_in: tuple[Principal, float] | None = None,
    ) -> Subscriber:
        """A new connection, signed in as a principal whose token was checked at a
        time.monotonic() (None: one no session end closes, for the hub's own tests and
        benchmarks). One whose session ended since the check is closed at once."""
        session = None if signed_in is None else (signed_in[0].user_id, signed_in[0].token_id)
        subscriber = Subscriber(send, close, self.queue_size, session)
        self._subscribers.add(subscriber)
        metrics.WEBSOCKET_CONNECTIONS.set(len(self._subscribers))
        if signed_in is None:
            return subscriber
        principal, checked_at = signed_in
        ended = self._sessions.add(principal.user_id, principal.token_id, subscriber, checked_at)
        if ended is not None:
            goodbye = GOODBYES[ended.cause]
            self.end(subscriber, CLOSE_NOT_SIGNED_IN, goodbye.reason, goodbye.message)
        return subscriber

    async def disconnect(self, subscriber: Subscriber) -> None:
        self._forget(subscriber)
        await subscriber.finish()

    def _forget(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        metrics.WEBSOCKET_CONNECTIONS.set(len(self._subscribers))
        self.unsubscribe(subscriber, tuple(subscriber.channels))
        if subscriber.session is not None:
            self._sessions.remove(*subscriber.session, subscriber)

    def subscribe(self, subscriber: Subscriber, channels: Iterable[str]) -> None:
        if subscriber.closed:
            return
        for channel in channels:
            self._channels.setdefault(channel, set()).add(subscriber)
            subscriber.channels.add(channel)

    def unsubscribe(self, subscriber: Subscriber, channels: Iterable[str]) -> None:
        for channel in channels:
            subscriber.channels.discard(channel)
            subscribers = self._channels.get(channel)
            if subscribers is None:
                continue
            subscribers.discard(subscriber)
            if not subscribers:
                del self._channels[channel]

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribers_of(self, channel: str) -> int:
        return len(self._channels.get(channel, ()))

"""Ends of sign-in sessions, told to every process's hub so that /ws sockets end with them.

HTTP requests see a sign-out, a password change or a disabled account at once (each request
checks its token), but an open /ws socket was checked only when it connected. So whatever
ends a token (`token_id` given) or every token of an account (`token_id` None) publishes a
session end on the bus once its change is committed; each hub closes the sockets it holds
for them (close code 4401, after an error frame saying why).

A session end travels as a live message on no channel: a client can subscribe only to the
channels `cellmon.live.service` parses, all of which name a channel, so none receives it;
only the server publishes on the bus.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from cellmon.core.bus import MessageBus
from cellmon.live.messages import LiveMessage, publish_best_effort

SESSION_END = "session_end"

# How long an index remembers a session end for the connections being admitted meanwhile:
# far longer than an admission's sign-in check takes.
RECENT_ENDS_SECONDS = 60.0


class EndCause(StrEnum):
    SIGNED_OUT = "signed_out"
    TOKEN_REFRESHED = "token_refreshed"
    # A password change or reset, a change of role, or the account was disabled.
    ACCOUNT_SESSIONS_ENDED = "account_sessions_ended"
    # The student was erased, and their account with them.
    ACCOUNT_ERASED = "account_erased"


@dataclass(frozen=True, slots=True)
class Goodbye:
    """How a socket is told: a close reason (at most 123 bytes) and an error frame's text."""

    reason: str
    message: str


GOODBYES = {
    EndCause.SIGNED_OUT: Goodbye(
        "signed out", "this session was signed out; sign in again and reconnect"
    ),
    EndCause.TOKEN_REFRESHED: Goodbye(
        "token refreshed",
        "the access token was replaced by a refreshed one; reconnect with the new token",
    ),
    EndCause.ACCOUNT_SESSIONS_ENDED: Goodbye(
        "session ended",
        "every session of this account has ended (a password change or reset, a change of "
        "role, or the account was disabled); sign in again and reconnect",
    ),
    EndCause.ACCOUNT_ERASED: Goodbye(
        "account erased", "this account was erased with everything recorded about its student"
    ),
}


@dataclass(frozen=True, slots=True)
class SessionEnd:
    user_id: int
    token_id: str | None  # None: every token of the account
    cause: EndCause

    def message(self) -> LiveMessage:
        return LiveMessage(
            type=SESSION_END,
            channels=(),
            data={"user_id": self.user_id, "token_id": self.token_id, "cause": self.cause},
        )

    @classmethod
    def from_message(cls, message: LiveMessage) -> SessionEnd:
        """ValueError, KeyError or TypeError when the message is not a session end."""
        user_id = message.data["user_id"]
        token_id = message.data["token_id"]
        if not isinstance(user_id, int) or not (token_id is None or isinstance(token_id, str)):
            raise TypeError("a session end names an account id and a token id or null")
        return cls(user_id, token_id, EndCause(message.data["cause"]))


async def announce(bus: MessageBus, end: SessionEnd) -> None:
    """Publish the end, logging an unreachable bus: the session has ended for every request
    already, and a socket the notice misses still ends when its token expires."""
    await publish_best_effort(bus, [end.message()])


Connection = TypeVar("Connection")


class SessionIndex(Generic[Connection]):
    """A process's open connections by account and token, and the session ends it heard
    lately: a connection whose token was checked before an end was committed, but that
    joins after the end was heard, is told so instead of living on until its token expires."""

    def __init__(self) -> None:
        # Account id -> token id -> the connections opened with that token.
        self._open: dict[int, dict[str, set[Connection]]] = {}
        # (when heard, time.monotonic(); the end), oldest first.
        self._recent: deque[tuple[float, SessionEnd]] = deque()

    def __len__(self) -> int:
        """How many connections are indexed."""
        return sum(
            len(connections) for tokens in self._open.values() for connections in tokens.values()
        )

    def add(
        self, user_id: int, token_id: str, connection: Connection, checked_at: float
    ) -> SessionEnd | None:
        """Index the connection, signed in with a token checked at `checked_at`
        (time.monotonic()); the end, if one of its session was heard since."""
        self._open.setdefault(user_id, {}).setdefault(token_id, set()).add(connection)
        for heard_at, ended in reversed(self._recent):
            if heard_at < checked_at:
                break
            if ended.user_id == user_id and ended.token_id in (None, token_id):
                return ended
        return None

    def remove(self, user_id: int, token_id: str, connection: Connection) -> None:
        tokens = self._open.get(user_id)
        if tokens is None:
            return
        connections = tokens.get(token_id)
        if connections is None:
            return
        connections.discard(connection)
        if not connections:
            del tokens[token_id]
            if not tokens:
                del self._open[user_id]

    def ended(self, end: SessionEnd) -> list[Connection]:
        """Remember the end; the connections it closes."""
        now = time.monotonic()
        while self._recent and self._recent[0][0] < now - RECENT_ENDS_SECONDS:
            self._recent.popleft()
        self._recent.append((now, end))
        tokens = self._open.get(end.user_id, {})
        if end.token_id is None:
            return [connection for connections in tokens.values() for connection in connections]
        return list(tokens.get(end.token_id, ()))

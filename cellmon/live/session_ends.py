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

from dataclasses import dataclass
from enum import StrEnum

from cellmon.core.bus import MessageBus
from cellmon.live.messages import LiveMessage, publish_best_effort

SESSION_END = "session_end"


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

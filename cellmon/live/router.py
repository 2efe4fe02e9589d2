"""`/ws` (at the root) and the live HTTP routes (under the API prefix)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from starlette.requests import HTTPConnection

from cellmon.auth.access import Access
from cellmon.auth.deps import AdminUser
from cellmon.auth.principal import Principal
from cellmon.core.database import Database
from cellmon.core.deps import BusDep, DatabaseDep, SettingsDep
from cellmon.core.settings import Settings
from cellmon.live.admission import (
    CLOSE_FOREIGN_ORIGIN,
    CLOSE_NOT_SIGNED_IN,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_TRY_AGAIN_LATER,
    Refused,
    admitted,
)
from cellmon.live.hub import CLOSE_GOING_AWAY, CLOSE_SLOW_CONSUMER, LiveHub, encode_frame
from cellmon.live.messages import (
    ASSIGNMENT_GRADED,
    EXECUTION_UPDATE,
    HELP_REQUEST,
    PRESENCE,
    STUCK_ALERT,
    SYSTEM_MESSAGE,
    publish,
)
from cellmon.live.schemas import (
    BroadcastRequest,
    HubStats,
    LiveFrame,
    LiveProtocol,
    ProtocolLimits,
)
from cellmon.live.service import (
    MAX_CLIENT_MESSAGE_BYTES,
    LiveSession,
    broadcast_message,
    split_channel_list,
)

WEBSOCKET_PATH = "/ws"


async def get_hub(connection: HTTPConnection) -> LiveHub:
    hub: LiveHub = connection.app.state.hub
    return hub


HubDep = Annotated[LiveHub, Depends(get_hub)]

router = APIRouter(tags=["live"])
api_router = APIRouter(tags=["live"])


@router.websocket(WEBSOCKET_PATH)
async def live_socket(
    websocket: WebSocket, hub: HubDep, database: DatabaseDep, settings: SettingsDep
) -> None:
    # Accepted before the checks, so that a refusal reaches a browser as a close code.
    await websocket.accept()
    # Before the sign-in check: a session end the hub hears after this may have been
    # committed after the check read the token (see LiveHub.connect).
    checked_at = time.monotonic()
    try:
        async with admitted(websocket, hub.connections, database, settings) as principal:
            await _serve(websocket, hub, database, settings, principal, checked_at)
    except Refused as refused:
        # A client that already left takes neither; there is nobody left to tell.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.send_text(encode_frame({"type": "error", "message": refused.message}))
            await websocket.close(refused.code, refused.reason)


async def _serve(
    websocket: WebSocket,
    hub: LiveHub,
    database: Database,
    settings: Settings,
    principal: Principal,
    checked_at: float,
) -> None:
    subscriber = hub.connect(websocket.send_text, websocket.close, (principal, checked_at))
    # The socket lives as long as the token it was opened with: until it expires, or until
    # its session ends sooner (the hub hears of that on the bus).
    expiry = asyncio.get_running_loop().call_later(
        max(0.0, principal.token_expires_at - time.time()),
        hub.end,
        subscriber,
        CLOSE_NOT_SIGNED_IN,
        "session expired",
        "the access token has expired; sign in again and reconnect",
    )
    session = LiveSession(
        hub, subscriber, database, Access(principal), settings.CELLMON_WS_MAX_CHANNELS
    )
    try:
        initial = websocket.query_params.get("channels")
        if initial is not None:
            await session.subscribe(split_channel_list(initial))
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text: str | None = message.get("text")
            await session.handle(text if text is not None else message.get("bytes") or b"")
    finally:
        expiry.cancel()
        await hub.disconnect(subscriber)


PROTOCOL_DESCRIPTION = f"""
How to use the WebSocket at `{WEBSOCKET_PATH}` (WebSocket routes are not listed in OpenAPI by
themselves; this endpoint returns the same facts as JSON, with this server's limits).

**Sign in**: the upgrade request carries the account's access token in its header,
`Authorization: Bearer <token>` (from `POST /api/v1/auth/token`), or the dashboard's session
cookie, which a browser sends by itself. A token in the URL (`?token=`, `?access_token=`)
is not read. Without a valid credential the socket is accepted, sent an error message and
closed with `{CLOSE_NOT_SIGNED_IN}` (so a browser can tell it from a network failure). An open
socket lives as long as its token: it is sent an error message and closed the same way, with
a reason saying why, when the token expires (`session expired`), when that token signs out
(`signed out`) or is replaced by `POST /api/v1/auth/refresh` (`token refreshed`), and when
every session of the account ends: a password change or reset, a change of role, or the
account disabled (`session ended`), or the account erased with its student (`account
erased`). Sign in again and reconnect. The
cookie counts only from this server's own pages (the upgrade's `Origin`): another page's
upgrade with it is closed with `{CLOSE_FOREIGN_ORIGIN}`.

**Connect** to `ws://HOST:PORT{WEBSOCKET_PATH}`, optionally with `?channels=broadcast,class:3`
to subscribe at once (checked like a subscribe request). Every frame either way is one JSON
text message.

**The client sends**
- `{{"action": "subscribe", "channels": ["class:3", "progress:alice@example.com"]}}`
  → `{{"type": "subscribed", "channels": ["class:3", "progress:7"]}}`
- `{{"action": "unsubscribe", "channels": [...]}}` → `{{"type": "unsubscribed", "channels": [...]}}`
- `{{"action": "ping"}}` → `{{"type": "pong", "sent_at": "…Z"}}`

**Channels** and who may subscribe: `broadcast`, any signed-in account;
`progress:{{student}}` and `notifications:{{student}}`, the student's own account (the one with
the student's e-mail address), the instructors of a class the student is enrolled in, and
admins; `class:{{class_id}}` (every update of every student enrolled in the class), the class's
instructors and admins. `{{student}}` is the student id the API returns or the student's
e-mail address (any case; the confirmation gives the canonical `progress:{{id}}`). A channel
the account may not watch is refused exactly as one that does not exist ("no such student",
"no such class"), so ids tell nothing.

**Messages** on a channel: `{{"type", "channel", "data", "sent_at", "position"}}`, where
`channel` is the canonical channel subscribed to: `{EXECUTION_UPDATE}` (progress, class),
`{HELP_REQUEST}`, `{STUCK_ALERT}`, `{PRESENCE}` (progress, class), `{ASSIGNMENT_GRADED}`
(notifications), `{SYSTEM_MESSAGE}` (broadcast, from `POST /api/v1/broadcast`, admins only).
`position` (null for grades and broadcasts) orders a message against the class roster's
`position` (`GET /api/v1/progress/classes/{{class_id}}`): a roster of position P includes every
message of position up to P and none after it.

**Errors** do not close the socket: invalid JSON, an unknown action, a malformed, unknown or
refused channel, or too many channels get `{{"type": "error", "message": "…"}}` (with
`"channels"` naming the rejected ones). In one subscribe request, the good channels are
subscribed and confirmed, the rejected ones are named in an error; a request that would pass
the per connection cap subscribes nothing.

**Limits**: open connections per account and per client address, counted in each server
process; one more is accepted, sent an error message and closed with
`{CLOSE_TOO_MANY_CONNECTIONS}`. Channels per connection as below.

**Keepalive**: the server sends WebSocket ping frames; a client that does not answer in
time is disconnected. `{{"action": "ping"}}` is there for clients that cannot see frames.

**Close codes**: `{CLOSE_NOT_SIGNED_IN}` not signed in, or the session ended (the token
expired, signed out or was refreshed, or the account's sessions ended): sign in and
reconnect; `{CLOSE_FOREIGN_ORIGIN}` the session cookie came from another origin's page;
`{CLOSE_TOO_MANY_CONNECTIONS}` too many open connections for the account or the address;
`{CLOSE_TRY_AGAIN_LATER}` the sign-in could not be checked just now: reconnect later;
`{CLOSE_SLOW_CONSUMER}` the client did not read fast enough (its queue filled; an error
message precedes the close when possible): reconnect and subscribe again;
`{CLOSE_GOING_AWAY}` / `1012` the server is shutting down or restarting; `1009` a client
message was too large; `1011` keepalive ping timeout.
"""


@api_router.get(
    "/live/protocol",
    summary=f"The {WEBSOCKET_PATH} protocol: actions, channels, limits, close codes",
    description=PROTOCOL_DESCRIPTION,
)
async def live_protocol(settings: SettingsDep) -> LiveProtocol:
    return LiveProtocol(
        websocket_path=WEBSOCKET_PATH,
        actions={
            "subscribe": '{"action": "subscribe", "channels": [...]}',
            "unsubscribe": '{"action": "unsubscribe", "channels": [...]}',
            "ping": '{"action": "ping"}',
        },
        replies={
            "subscribed": '{"type": "subscribed", "channels": [canonical names]}',
            "unsubscribed": '{"type": "unsubscribed", "channels": [canonical names]}',
            "pong": '{"type": "pong", "sent_at": "…"}',
            "error": '{"type": "error", "message": "…", "channels": [rejected, optional]}',
        },
        authentication=(
            "the upgrade request's 'Authorization: Bearer <access token>' header or the "
            "dashboard's session cookie; never a token in the URL. Without one: an error "
            f"message, then close code {CLOSE_NOT_SIGNED_IN}; an open socket is closed the "
            "same way when its session ends: its token expires, signs out or is refreshed, or "
            "the account's password, role or state changes"
        ),
        channels={
            "broadcast": "system messages to everyone; any signed-in account",
            "progress:{student}": (
                "one student's updates; {student} = id or e-mail address; the student's own "
                "account, its instructors, admins"
            ),
            "notifications:{student}": (
                "one student's notifications (grades); the student's own account, its "
                "instructors, admins"
            ),
            "class:{class_id}": (
                "updates of every student enrolled in the class; the class's instructors, admins"
            ),
        },
        message_types={
            EXECUTION_UPDATE: "a cell was executed (progress, class)",
            HELP_REQUEST: "a student asks for help or stops asking (progress, class)",
            STUCK_ALERT: "a student keeps hitting errors (progress, class)",
            PRESENCE: "a student became active or idle (progress, class)",
            ASSIGNMENT_GRADED: "a submission got a grade (notifications)",
            SYSTEM_MESSAGE: "a broadcast (broadcast)",
        },
        limits=ProtocolLimits(
            max_channels_per_connection=settings.CELLMON_WS_MAX_CHANNELS,
            send_queue_per_connection=settings.CELLMON_WS_SEND_QUEUE,
            max_client_message_bytes=MAX_CLIENT_MESSAGE_BYTES,
            ping_interval_seconds=settings.CELLMON_WS_PING_INTERVAL,
            ping_timeout_seconds=settings.CELLMON_WS_PING_TIMEOUT,
            max_connections_per_user=settings.CELLMON_WS_MAX_CONNECTIONS_PER_USER,
            max_connections_per_address=settings.CELLMON_WS_MAX_CONNECTIONS_PER_ADDRESS,
            connections_counted_per="server process",
        ),
        close_codes={
            str(CLOSE_NOT_SIGNED_IN): (
                "not signed in, or the session ended (reason: session expired, signed out, "
                "token refreshed, session ended); sign in, reconnect"
            ),
            str(CLOSE_FOREIGN_ORIGIN): "the session cookie came from another origin's page",
            str(CLOSE_TOO_MANY_CONNECTIONS): (
                "too many open connections for this account or client address"
            ),
            str(CLOSE_TRY_AGAIN_LATER): "the sign-in could not be checked now; reconnect later",
            str(CLOSE_SLOW_CONSUMER): "the client did not read fast enough; reconnect",
            str(CLOSE_GOING_AWAY): "the server is shutting down",
            "1012": "the server is restarting",
            "1009": "a client message was too large",
            "1011": "no answer to the server's keepalive ping",
        },
    )


@api_router.get(
    "/live/stats", summary="This process's live hub: subscribers and counters (admins only)"
)
async def live_stats(hub: HubDep, _admin: AdminUser) -> HubStats:
    return HubStats(
        ready=hub.ready,
        subscribers=hub.subscriber_count,
        delivered=hub.delivered,
        dropped=hub.dropped,
    )


@api_router.post(
    "/broadcast",
    status_code=202,
    summary="Send a system message to every subscriber of the broadcast channel (admins only)",
    responses={503: {"description": "The bus cannot be reached; nothing was sent."}},
)
async def broadcast(request: BroadcastRequest, bus: BusDep, _admin: AdminUser) -> LiveFrame:
    message = broadcast_message(request)
    await publish(bus, [message])
    return LiveFrame(
        type=message.type,
        channel=message.channels[0],
        data=dict(message.data),
        sent_at=message.sent_at,
    )

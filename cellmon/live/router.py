"""`/ws` (at the root) and the live HTTP routes (under the API prefix)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, WebSocket
from starlette.requests import HTTPConnection

from cellmon.core.deps import BusDep, DatabaseDep, SettingsDep
from cellmon.live.hub import CLOSE_GOING_AWAY, CLOSE_SLOW_CONSUMER, LiveHub
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
    await websocket.accept()
    subscriber = hub.connect(websocket.send_text, websocket.close)
    session = LiveSession(hub, subscriber, database, settings.CELLMON_WS_MAX_CHANNELS)
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
        await hub.disconnect(subscriber)


PROTOCOL_DESCRIPTION = f"""
How to use the WebSocket at `{WEBSOCKET_PATH}` (WebSocket routes are not listed in OpenAPI by
themselves; this endpoint returns the same facts as JSON, with this server's limits).

**Connect** to `ws://HOST:PORT{WEBSOCKET_PATH}`, optionally with `?channels=broadcast,class:3`
to subscribe at once. Every frame either way is one JSON text message.

**The client sends**
- `{{"action": "subscribe", "channels": ["class:3", "progress:alice@example.com"]}}`
  → `{{"type": "subscribed", "channels": ["class:3", "progress:7"]}}`
- `{{"action": "unsubscribe", "channels": [...]}}` → `{{"type": "unsubscribed", "channels": [...]}}`
- `{{"action": "ping"}}` → `{{"type": "pong", "sent_at": "…Z"}}`

**Channels**: `broadcast`; `progress:{{student}}` and `notifications:{{student}}`, where
`{{student}}` is the student id the API returns or the student's e-mail address (any case;
the confirmation gives the canonical `progress:{{id}}`); `class:{{class_id}}` (every update
of every student enrolled in the class). The student or class must exist.

**Messages** on a channel: `{{"type", "channel", "data", "sent_at"}}`, where `channel` is the
canonical channel subscribed to: `{EXECUTION_UPDATE}` (progress, class), `{HELP_REQUEST}`,
`{STUCK_ALERT}`, `{PRESENCE}` (progress, class), `{ASSIGNMENT_GRADED}` (notifications),
`{SYSTEM_MESSAGE}` (broadcast, from `POST /api/v1/broadcast`).

**Errors** do not close the socket: invalid JSON, an unknown action, a malformed or unknown
channel, or too many channels get `{{"type": "error", "message": "…"}}` (with `"channels"`
naming the rejected ones). In one subscribe request, the good channels are subscribed and
confirmed, the rejected ones are named in an error; a request that would pass the per
connection cap subscribes nothing.

**Keepalive**: the server sends WebSocket ping frames; a client that does not answer in
time is disconnected. `{{"action": "ping"}}` is there for clients that cannot see frames.

**Close codes**: `{CLOSE_SLOW_CONSUMER}` the client did not read fast enough (its queue
filled; an error message precedes the close when possible): reconnect and subscribe again;
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
        channels={
            "broadcast": "system messages to everyone",
            "progress:{student}": "one student's updates; {student} = id or e-mail address",
            "notifications:{student}": "one student's notifications (grades)",
            "class:{class_id}": "updates of every student enrolled in the class",
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
        ),
        close_codes={
            str(CLOSE_SLOW_CONSUMER): "the client did not read fast enough; reconnect",
            str(CLOSE_GOING_AWAY): "the server is shutting down",
            "1012": "the server is restarting",
            "1009": "a client message was too large",
            "1011": "no answer to the server's keepalive ping",
        },
    )


@api_router.get("/live/stats", summary="This process's live hub: subscribers and counters")
async def live_stats(hub: HubDep) -> HubStats:
    return HubStats(
        ready=hub.ready,
        subscribers=hub.subscriber_count,
        delivered=hub.delivered,
        dropped=hub.dropped,
    )


@api_router.post(
    "/broadcast",
    status_code=202,
    summary="Send a system message to every subscriber of the broadcast channel",
    responses={503: {"description": "The bus cannot be reached; nothing was sent."}},
)
async def broadcast(request: BroadcastRequest, bus: BusDep) -> LiveFrame:
    message = broadcast_message(request)
    await publish(bus, [message])
    return LiveFrame(
        type=message.type,
        channel=message.channels[0],
        data=dict(message.data),
        sent_at=message.sent_at,
    )

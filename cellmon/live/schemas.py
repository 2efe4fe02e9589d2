"""What travels on /ws (client requests) and on the live HTTP routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, TypeAdapter


class SubscribeRequest(BaseModel):
    action: Literal["subscribe"]
    channels: list[str]


class UnsubscribeRequest(BaseModel):
    action: Literal["unsubscribe"]
    channels: list[str]


class PingRequest(BaseModel):
    action: Literal["ping"]


ClientRequest = Annotated[
    SubscribeRequest | UnsubscribeRequest | PingRequest, Field(discriminator="action")
]
client_request: TypeAdapter[SubscribeRequest | UnsubscribeRequest | PingRequest] = TypeAdapter(
    ClientRequest
)

BroadcastLevel = Literal["info", "warning", "critical"]


class BroadcastRequest(BaseModel):
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    level: BroadcastLevel = "info"


class LiveFrame(BaseModel):
    """A message as every /ws subscriber of `channel` receives it."""

    type: str
    channel: str
    data: dict[str, Any]
    sent_at: datetime
    position: int | None = Field(
        default=None,
        description="For a message that changes a class read-out (a student's state, runs, "
        "errors, help): the position of that change, in the order of the roster's `position`; "
        "null for the others.",
    )


class ProtocolLimits(BaseModel):
    max_channels_per_connection: int
    send_queue_per_connection: int
    max_client_message_bytes: int
    ping_interval_seconds: float
    ping_timeout_seconds: float
    max_connections_per_user: int
    max_connections_per_address: int
    connections_counted_per: str


class LiveProtocol(BaseModel):
    websocket_path: str
    actions: dict[str, str]
    replies: dict[str, str]
    authentication: str
    channels: dict[str, str]
    message_types: dict[str, str]
    limits: ProtocolLimits
    close_codes: dict[str, str]


class HubStats(BaseModel):
    ready: bool
    subscribers: int
    delivered: int
    dropped: int

"""The /ws protocol against the real app under uvicorn, on SQLite and PostgreSQL."""

from __future__ import annotations

import orjson

from cellmon.db.models import User
from cellmon.live.messages import LiveMessage, encode_packets
from tests.conftest import LiveServer
from tests.live.helpers import (
    add_class,
    add_student,
    connect_as,
    eventually,
    http_as,
    hub_of,
    publish,
    receive,
    request,
    send,
)


async def test_subscribe_then_receive_a_broadcast(
    live_server: LiveServer, live_admin: User
) -> None:
    async with connect_as(live_server, live_admin) as ws:
        reply = await request(ws, {"action": "subscribe", "channels": ["broadcast"]})
        assert reply == {"type": "subscribed", "channels": ["broadcast"]}

        async with http_as(live_server, live_admin) as http:
            response = await http.post(
                "/api/v1/broadcast", json={"message": "Break until 10:30", "level": "warning"}
            )
        assert response.status_code == 202

        frame = await receive(ws)
        assert frame == {
            "type": "system_message",
            "channel": "broadcast",
            "data": {"message": "Break until 10:30", "level": "warning"},
            "sent_at": frame["sent_at"],
            "position": None,
        }
        assert frame["sent_at"].endswith("Z")
        assert response.json() == frame


async def test_ping_is_answered_with_pong(live_server: LiveServer, live_admin: User) -> None:
    async with connect_as(live_server, live_admin) as ws:
        reply = await request(ws, {"action": "ping"})
        assert reply["type"] == "pong"
        assert reply["sent_at"].endswith("Z")


async def test_bad_messages_get_an_error_and_the_socket_stays_open(
    live_server: LiveServer, live_admin: User
) -> None:
    async with connect_as(live_server, live_admin) as ws:
        await ws.send("{not json")
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["message"].startswith("invalid JSON")

        await ws.send("[1, 2]")
        assert "JSON object" in (await receive(ws))["message"]

        error = await request(ws, {"action": "dance"})
        assert error == {
            "type": "error",
            "message": 'unknown action "dance": expected one of subscribe, unsubscribe, ping',
        }
        error = await request(ws, {"channels": ["broadcast"]})
        assert error["message"].startswith('missing "action"')
        error = await request(ws, {"action": "subscribe"})
        assert error["message"] == "channels: Field required"
        error = await request(ws, {"action": "subscribe", "channels": "broadcast"})
        assert error["message"].startswith("channels: ")
        error = await request(ws, {"action": "subscribe", "channels": []})
        assert error["message"] == "no channels given"

        await ws.send(b'{"action": "ping"}')  # a binary frame is read as JSON text too
        assert (await receive(ws))["type"] == "pong"


async def test_malformed_and_unknown_channels_are_named(
    live_server: LiveServer, live_admin: User
) -> None:
    names = ["news", "class:abc", "progress:", "progress:-3", "class:0", "notifications:1 2"]
    async with connect_as(live_server, live_admin) as ws:
        error = await request(ws, {"action": "subscribe", "channels": names})
        assert error["type"] == "error"
        assert error["channels"] == names
        assert error["message"].startswith("not subscribed: news: unknown channel")
        assert "expected a positive integer id" in error["message"]

        error = await request(ws, {"action": "subscribe", "channels": ["class:999999"]})
        assert error == {
            "type": "error",
            "message": "not subscribed: class:999999: no such class",
            "channels": ["class:999999"],
        }
        error = await request(
            ws, {"action": "subscribe", "channels": ["progress:424242", "progress:nobody@x.org"]}
        )
        assert error["message"] == (
            "not subscribed: progress:424242: no such student; "
            "progress:nobody@x.org: no such student"
        )
    assert hub_of(live_server.app).subscriber_count <= 1


async def test_an_email_address_stands_for_the_student_id(
    live_server: LiveServer, live_admin: User
) -> None:
    student_id = await add_student(live_server.app, "alice@example.com")
    async with connect_as(live_server, live_admin) as ws:
        reply = await request(
            ws,
            {
                "action": "subscribe",
                "channels": [
                    "progress:Alice@Example.COM",
                    "notifications:alice@example.com",
                    f"progress:{student_id}",
                ],
            },
        )
        assert reply == {
            "type": "subscribed",
            "channels": [f"progress:{student_id}", f"notifications:{student_id}"],
        }
        await publish(
            live_server.app,
            LiveMessage("assignment_graded", (f"notifications:{student_id}",), {"grade": 9.5}),
        )
        frame = await receive(ws)
        assert (frame["type"], frame["channel"], frame["data"]) == (
            "assignment_graded",
            f"notifications:{student_id}",
            {"grade": 9.5},
        )

        reply = await request(
            ws, {"action": "unsubscribe", "channels": ["progress:ALICE@example.com"]}
        )
        assert reply == {"type": "unsubscribed", "channels": [f"progress:{student_id}"]}


async def test_a_good_channel_is_subscribed_beside_a_rejected_one(
    live_server: LiveServer, live_admin: User
) -> None:
    class_id = await add_class(live_server.app, "INTRO")
    async with connect_as(live_server, live_admin) as ws:
        await send(ws, {"action": "subscribe", "channels": [f"class:{class_id}", "class:777"]})
        assert await receive(ws) == {"type": "subscribed", "channels": [f"class:{class_id}"]}
        error = await receive(ws)
        assert error["channels"] == ["class:777"]


async def test_only_subscribed_channels_are_delivered(
    live_server: LiveServer, live_admin: User
) -> None:
    mine = await add_class(live_server.app, "MINE")
    other = await add_class(live_server.app, "OTHER")
    student = await add_student(live_server.app, "bob@example.com")
    async with connect_as(live_server, live_admin) as ws:
        await request(ws, {"action": "subscribe", "channels": [f"class:{mine}", "broadcast"]})
        # In one publish, in this order: had the first been delivered, it would come first.
        await publish(
            live_server.app,
            LiveMessage("execution_update", (f"progress:{student}", f"class:{other}"), {"n": 1}),
            LiveMessage("execution_update", (f"progress:{student}", f"class:{mine}"), {"n": 2}),
        )
        frame = await receive(ws)
        assert (frame["channel"], frame["data"]) == (f"class:{mine}", {"n": 2})

        reply = await request(ws, {"action": "unsubscribe", "channels": ["broadcast"]})
        assert reply == {"type": "unsubscribed", "channels": ["broadcast"]}
        await publish(
            live_server.app,
            LiveMessage("system_message", ("broadcast",), {"n": 3}),
            LiveMessage("presence", (f"class:{mine}",), {"n": 4}),
        )
        frame = await receive(ws)
        assert (frame["type"], frame["data"]) == ("presence", {"n": 4})


async def test_channels_on_the_url_are_subscribed_at_once(
    live_server: LiveServer, live_admin: User
) -> None:
    class_id = await add_class(live_server.app, "URL")
    async with connect_as(live_server, live_admin, f"?channels=broadcast,class:{class_id}") as ws:
        assert await receive(ws) == {
            "type": "subscribed",
            "channels": ["broadcast", f"class:{class_id}"],
        }


async def test_a_closed_connection_leaves_no_subscription(
    live_server: LiveServer, live_admin: User
) -> None:
    hub = hub_of(live_server.app)
    async with connect_as(live_server, live_admin) as ws:
        await request(ws, {"action": "subscribe", "channels": ["broadcast"]})
        assert hub.subscribers_of("broadcast") == 1
        async with http_as(live_server, live_admin) as http:
            stats = (await http.get("/api/v1/live/stats")).json()
        assert stats == {"ready": True, "subscribers": 1, "delivered": 0, "dropped": 0}
    await eventually(lambda: hub.subscriber_count == 0)
    assert hub.subscribers_of("broadcast") == 0


async def test_the_protocol_is_described_in_the_api(live_server: LiveServer) -> None:
    # Open to anyone: it holds no data.
    async with http_as(live_server, None) as http:
        protocol = (await http.get("/api/v1/live/protocol")).json()
        openapi = (await http.get("/openapi.json")).json()
    assert protocol["websocket_path"] == "/ws"
    assert protocol["limits"]["max_channels_per_connection"] == 1000
    assert set(protocol["actions"]) == {"subscribe", "unsubscribe", "ping"}
    assert "4008" in protocol["close_codes"]
    description = openapi["paths"]["/api/v1/live/protocol"]["get"]["description"]
    assert '{"action": "subscribe"' in description
    assert "/api/v1/live/protocol" in openapi["info"]["description"]


async def test_broadcast_validates_its_body(live_server: LiveServer, live_admin: User) -> None:
    async with http_as(live_server, live_admin) as http:
        for body in (
            {"message": ""},
            {"message": "   "},
            {"message": "x" * 2001},
            {"message": "hi", "level": "panic"},
            {},
        ):
            response = await http.post("/api/v1/broadcast", json=body)
            assert response.status_code == 422, body
        response = await http.post("/api/v1/broadcast", json={"message": " x" * 1000})
        assert response.status_code == 202
        assert response.json()["data"]["level"] == "info"


def test_a_packet_is_a_json_array_of_messages() -> None:
    [packet] = encode_packets([LiveMessage("t", ("c",), {"k": 1})])
    [message] = orjson.loads(packet)
    assert (message["type"], message["channels"], message["data"]) == ("t", ["c"], {"k": 1})
    assert message["sent_at"].endswith("Z")

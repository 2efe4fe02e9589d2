"""Live messages travel in packets: one per batch, or a few of bounded size, in order."""

from __future__ import annotations

from cellmon.live.messages import PACKET_MAX_BYTES, LiveMessage, decode_packet, encode_packets


def batch(count: int, padding: int) -> list[LiveMessage]:
    return [
        LiveMessage("execution_update", ("progress:1", "class:2"), {"n": n, "code": "x" * padding})
        for n in range(count)
    ]


def test_a_batch_is_one_packet_that_decodes_to_its_messages_in_order() -> None:
    messages = batch(1000, 100)
    packets = encode_packets(messages)
    assert len(packets) == 1
    assert decode_packet(packets[0]) == messages


def test_a_large_batch_is_split_into_packets_of_bounded_size_in_order() -> None:
    messages = batch(400, 10_000)
    packets = encode_packets(messages)
    assert len(packets) > 1
    assert all(len(packet) <= PACKET_MAX_BYTES for packet in packets)
    assert [message for packet in packets for message in decode_packet(packet)] == messages


def test_a_message_larger_than_a_packet_travels_alone() -> None:
    huge = LiveMessage("system_message", ("broadcast",), {"text": "x" * PACKET_MAX_BYTES})
    small = batch(2, 10)
    packets = encode_packets([small[0], huge, small[1]])
    assert [decode_packet(packet) for packet in packets] == [[small[0]], [huge], [small[1]]]


def test_nothing_to_send_is_no_packet() -> None:
    assert encode_packets([]) == []

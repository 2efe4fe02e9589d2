"""The sender's rules: batches, gzip, back-off, refusals, and the on-disk queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cellmon.client.outbox import Outbox
from cellmon.client.sender import Sender
from cellmon.client.transport import Verdict, post_events
from tests.client.recording_server import RecordingServer, serving


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    yield from serving()


@pytest.fixture
def queue_path(tmp_path: Path) -> Path:
    return tmp_path / "queue.sqlite3"


def event(n: int = 0) -> dict[str, Any]:
    return {"eventId": str(uuid.uuid4()), "eventType": "cell_executed", "executionCount": n}


def start(queue_path: Path, **options: Any) -> Sender:
    sender = Sender(queue_path, **options)
    sender.start()
    return sender


def submit_new(sender: Sender, url: str, count: int) -> list[dict[str, Any]]:
    """`count` new events, each submitted to `url`, in order."""
    sent = [event(n) for n in range(count)]
    for item in sent:
        sender.submit(url, item)
    return sent


def test_batches_hold_at_most_batch_size_events_gzipped(
    server: RecordingServer, queue_path: Path
) -> None:
    sender = start(queue_path, batch_size=100, batch_seconds=0.2)
    sent = submit_new(sender, server.url + "?key=k", 250)
    try:
        requests = server.wait_for(3)
    finally:
        sender.close(5)
    assert all(len(request.events) <= 100 for request in requests)
    assert sorted(server.taken_ids()) == sorted(item["eventId"] for item in sent)
    assert requests[0].headers["Content-Encoding"] == "gzip"
    assert requests[0].headers["Content-Type"] == "application/json"
    assert requests[0].path == "/api/v1/events?key=k"


def test_events_wait_for_a_full_batch_before_batch_seconds(
    server: RecordingServer, queue_path: Path
) -> None:
    sender = start(queue_path, batch_size=10, batch_seconds=60)
    try:
        submit_new(sender, server.url, 10)
        requests = server.wait_for(1)
    finally:
        sender.close(5)
    # The first nine waited for the tenth rather than going alone.
    assert [len(request.events) for request in requests] == [10]


def test_close_sends_what_waits_without_waiting_for_the_batch(
    server: RecordingServer, queue_path: Path
) -> None:
    sender = start(queue_path, batch_size=100, batch_seconds=60)
    sent = submit_new(sender, server.url, 3)
    sender.close(5)
    assert server.taken_ids() == [item["eventId"] for item in sent]


def test_5xx_and_429_are_retried_until_taken(server: RecordingServer, queue_path: Path) -> None:
    server.script.statuses = [503, 429]
    server.script.retry_after = "0"
    sender = start(queue_path, batch_seconds=0)
    sent = event()
    sender.submit(server.url, sent)
    try:
        requests = server.wait_for(3)
    finally:
        sender.close(5)
    assert [request.status for request in requests] == [503, 429, 202]
    assert all(request.events == [sent] for request in requests)
    assert server.taken_ids() == [sent["eventId"]]


def test_a_4xx_drops_the_events_and_says_so_once(
    server: RecordingServer, queue_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.script.statuses = [401, 401]
    sender = start(queue_path, batch_seconds=0)
    try:
        for n in range(3):
            sender.submit(server.url, event(n))
            server.wait_for(n + 1)
    finally:
        sender.close(5)
    assert [request.status for request in server.received] == [401, 401, 202]
    refusals = [record for record in caplog.records if "refused" in record.getMessage()]
    assert len(refusals) == 1
    assert "401" in refusals[0].getMessage()


def test_a_batch_refused_as_invalid_is_split_down_to_the_bad_event(
    server: RecordingServer, queue_path: Path
) -> None:
    # The whole batch, then its first half, then that half's first event are refused; the
    # rest goes at once, without waiting for the batch to fill again.
    server.script.statuses = [422, 422, 422]
    sender = start(queue_path, batch_size=4, batch_seconds=60)
    sent = submit_new(sender, server.url, 4)
    try:
        requests = server.wait_for(4)
    finally:
        sender.close(5)
    assert [len(request.events) for request in requests] == [4, 2, 1, 3]
    assert server.taken_ids() == [item["eventId"] for item in sent[1:]]


def test_events_left_queued_are_sent_by_the_next_kernel(
    server: RecordingServer, queue_path: Path
) -> None:
    server.script.default = 503
    first = start(queue_path, batch_seconds=0)
    sent = submit_new(first, server.url, 5)
    server.wait_for(1)
    first.close(0.5)
    assert server.taken_ids() == []

    server.script.default = 202
    second = start(queue_path, batch_seconds=0)
    try:
        server.wait_for(len(server.received) + 1)
    finally:
        second.close(5)
    assert sorted(server.taken_ids()) == sorted(item["eventId"] for item in sent)


def test_kernels_sharing_the_queue_send_each_event_once(
    server: RecordingServer, queue_path: Path
) -> None:
    server.script.default = 503
    first = start(queue_path, batch_size=5, batch_seconds=0)
    sent = submit_new(first, server.url, 40)
    server.wait_for(1)
    first.close(0.5)

    server.script.default = 202
    senders = [start(queue_path, batch_size=5, batch_seconds=0) for _ in range(3)]
    with server.arrived:
        server.arrived.wait_for(lambda: len(server.taken_ids()) >= len(sent), 10)
    for sender in senders:
        sender.close(5)
    taken = server.taken_ids()
    assert sorted(taken) == sorted(item["eventId"] for item in sent)


def test_an_unreachable_server_leaves_events_queued(queue_path: Path) -> None:
    # Port 9 (discard) on localhost: nothing listens, the connection is refused at once.
    sender = start(queue_path, batch_seconds=0)
    sender.submit("http://127.0.0.1:9/api/v1/events", event())
    sender.close(1)
    outbox = Outbox(queue_path)
    try:
        assert outbox.waiting(float("inf")).count == 1
    finally:
        outbox.close()


def test_a_queue_file_that_cannot_be_opened_leaves_sending_in_memory(
    server: RecordingServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "not-a-folder"
    not_a_folder.write_text("")
    sender = start(not_a_folder / "queue.sqlite3", batch_seconds=60)
    sent = submit_new(sender, server.url, 2)
    sender.close(5)
    assert server.taken_ids() == [item["eventId"] for item in sent]
    warnings = [r for r in caplog.records if "cannot open the queue file" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_but_answered_as_try_again(
    server: RecordingServer, status: int
) -> None:
    # Followed, a 301-303 would become a GET without the events (urllib's rule), which the
    # server here answers 501: the answer must be the redirect itself, to be tried again.
    server.script.default = status
    server.script.location = server.url.replace("/events", "/moved")
    answer = post_events(server.url, ['{"eventId": "e"}'], timeout=5)
    assert answer.status == status
    assert answer.verdict(1) is Verdict.RETRY
    assert [request.path for request in server.wait_for(1)] == ["/api/v1/events"]

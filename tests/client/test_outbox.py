"""The on-disk queue's promises: bounded, each eventId once, a leased row sent by one kernel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cellmon.client import outbox as outbox_module
from cellmon.client.outbox import Outbox, QueuedEvent

URL = "http://127.0.0.1:8000/api/v1/events"


def queued(n: int) -> QueuedEvent:
    return QueuedEvent(f"event-{n}", URL, f'{{"n":{n}}}')


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "queue.sqlite3"


@pytest.fixture
def outbox(path: Path) -> Iterator[Outbox]:
    opened = Outbox(path)
    yield opened
    opened.close()


def test_a_full_queue_drops_its_oldest_events(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "MAX_QUEUED_EVENTS", 3)
    assert outbox.add(queued(n) for n in range(2)) == 0
    assert outbox.add(queued(n) for n in range(2, 5)) == 2
    claim = outbox.claim(10, 60)
    assert claim is not None
    assert claim.bodies == ['{"n":2}', '{"n":3}', '{"n":4}']


def test_an_event_queued_twice_is_kept_once(outbox: Outbox) -> None:
    outbox.add([queued(1)])
    outbox.add([queued(1), queued(2)])
    assert outbox.waiting(float("inf")).count == 2


def test_a_leased_row_waits_for_its_lease_or_its_release(path: Path, outbox: Outbox) -> None:
    other_kernel = Outbox(path)
    try:
        outbox.add(queued(n) for n in range(3))
        claim = outbox.claim(2, 60)
        assert claim is not None
        taken = other_kernel.claim(10, 60)
        assert taken is not None
        assert taken.bodies == ['{"n":2}']
        assert other_kernel.claim(10, 60) is None
        outbox.release(claim.seqs)
        again = other_kernel.claim(10, 60)
        assert again is not None
        assert again.seqs == claim.seqs
        # A kernel killed while sending: its lease runs out and another kernel sends them.
        other_kernel.release(again.seqs)
        assert outbox.claim(10, 0) is not None
        expired = other_kernel.claim(10, 60)
        assert expired is not None
        assert expired.seqs == claim.seqs
    finally:
        other_kernel.close()

"""The on-disk queue: every event waits in a SQLite file until a server answered 2xx for it.

The file outlives the kernel, so events queued while the server was away are sent by the
next kernel of the same student (any kernel using the same file). Kernels sharing the file
take rows by a lease: a row being sent is leased for longer than a request may take, so two
kernels never send the same rows at once, and a kernel killed while sending leaves its rows
to the others once the lease has run out. A row is deleted only after a 2xx (or a 4xx that
says it can never be taken); an event's eventId is unique in the file.

Used from the sender thread only (a SQLite connection belongs to one thread).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# At most this many events are kept: a queue that grew past it while no server answered
# loses its oldest events rather than the student's disk.
MAX_QUEUED_EVENTS = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_by_url ON outbox (url, seq);
"""


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    event_id: str
    url: str
    body: str


@dataclass(frozen=True, slots=True)
class Waiting:
    count: int
    oldest_queued_at: float | None  # time.time()
    first_seq: int | None


@dataclass(frozen=True, slots=True)
class Claim:
    """Rows leased for one request, all for the same URL, oldest first."""

    url: str
    seqs: list[int]
    bodies: list[str]


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: each statement, or each explicit BEGIN … COMMIT, is one transaction.
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, events: Iterable[QueuedEvent]) -> int:
        """Queue events (an eventId already queued is not queued twice); returns how many
        old events were dropped to stay within MAX_QUEUED_EVENTS."""
        now = time.time()
        rows = [(event.event_id, event.url, event.body, now) for event in events]
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO outbox (event_id, url, body, queued_at) VALUES (?, ?, ?, ?)",
                rows,
            )
            (count,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
            excess = max(0, int(count) - MAX_QUEUED_EVENTS)
            if excess:
                self._db.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                    (excess,),
                )
        return excess

    def waiting(self, now: float) -> Waiting:
        """The events nobody is sending."""
        count, oldest, first = self._db.execute(
            "SELECT count(*), min(queued_at), min(seq) FROM outbox WHERE lease_until <= ?", (now,)
        ).fetchone()
        return Waiting(int(count), oldest, first)

    def claim(self, limit: int, lease_seconds: float) -> Claim | None:
        """Lease up to `limit` of the oldest free events of one URL."""
        now = time.time()
        with self._transaction():
            first = self._db.execute(
                "SELECT url FROM outbox WHERE lease_until <= ? ORDER BY seq LIMIT 1", (now,)
            ).fetchone()
            if first is None:
                return None
            rows = self._db.execute(
                "SELECT seq, body FROM outbox WHERE url = ? AND lease_until <= ? "
                "ORDER BY seq LIMIT ?",
                (first[0], now, limit),
            ).fetchall()
            seqs = [seq for seq, _ in rows]
            self._db.executemany(
                "UPDATE outbox SET lease_until = ? WHERE seq = ?",
                [(now + lease_seconds, seq) for seq in seqs],
            )
        return Claim(first[0], seqs, [body for _, body in rows])

    def delete(self, seqs: Sequence[int]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in seqs])

    def release(self, seqs: Sequence[int]) -> None:
        """Give leased rows back at once (a failed send, or this kernel stopping)."""
        with self._transaction():
            self._db.executemany(
                "UPDATE outbox SET lease_until = 0 WHERE seq = ?", [(seq,) for seq in seqs]
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error): the write lock from the start, so two
    kernels claiming at once take turns instead of failing to upgrade a read lock."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")

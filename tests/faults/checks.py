"""What the fault tests prove at the end: every accepted event recorded exactly once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import asyncpg
from redis.asyncio import Redis

from tests.faults.services import PrivateInfluxDB

Key = TypeVar("Key", bound=Hashable)

WAIT_FOR_RECORDS_SECONDS = 90.0
MEASUREMENT = "student_progress"


@dataclass(frozen=True)
class ExactlyOnce(Generic[Key]):
    """How the records of one store compare with the events the server accepted."""

    store: str
    missing: list[Key]
    duplicated: dict[Key, int]
    # Recorded, though the driver never sent them: records that come from nowhere.
    unexpected: list[Key]
    recorded: int
    accepted: int

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected)

    def __str__(self) -> str:
        def sample(items: Collection[object]) -> str:
            return f"{len(items)} (e.g. {list(items)[:3]})" if items else "0"

        return (
            f"{self.store}: accepted {self.accepted}, recorded {self.recorded}; "
            f"missing {sample(self.missing)}, duplicated {sample(self.duplicated)}, "
            f"unexpected {sample(self.unexpected)}"
        )


def compare(
    store: str, recorded: Counter[Key], accepted: Collection[Key], sent: Collection[Key]
) -> ExactlyOnce[Key]:
    """Every accepted key recorded once; nothing recorded that was never sent.

    A key that was sent but never answered with a 202 may be recorded or not: the server may
    have queued it before the answer was lost.
    """
    accepted_set = set(accepted)
    sent_set = set(sent)
    return ExactlyOnce(
        store=store,
        missing=[key for key in accepted_set if key not in recorded],
        duplicated={key: count for key, count in recorded.items() if count > 1},
        unexpected=[key for key in recorded if key not in sent_set],
        recorded=recorded.total(),
        accepted=len(accepted_set),
    )


async def wait_for_records(
    fetch: Callable[[], Awaitable[Counter[Key]]],
    accepted: Collection[Key],
    patience_seconds: float = WAIT_FOR_RECORDS_SECONDS,
) -> Counter[Key]:
    """Poll a store until it holds every accepted key (or the time is up); its last reading."""
    deadline = asyncio.get_running_loop().time() + patience_seconds
    while True:
        recorded = await fetch()
        if all(key in recorded for key in accepted):
            return recorded
        if asyncio.get_running_loop().time() > deadline:
            return recorded
        await asyncio.sleep(0.25)


async def postgres_fetch(port: int, database: str, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(
        host="127.0.0.1", port=port, user="postgres", database=database, timeout=10
    )
    try:
        rows: list[asyncpg.Record] = await connection.fetch(query)
        return rows
    finally:
        await connection.close()


async def postgres_executions(port: int, database: str) -> Counter[str]:
    rows = await postgres_fetch(
        port, database, "SELECT event_id, count(*) AS n FROM cell_executions GROUP BY event_id"
    )
    return Counter({row["event_id"]: row["n"] for row in rows})


async def postgres_count(port: int, database: str, table: str) -> int:
    rows = await postgres_fetch(port, database, f'SELECT count(*) AS n FROM "{table}"')
    count: int = rows[0]["n"]
    return count


def sqlite_rows(path: Path, query: str) -> list[tuple[object, ...]]:
    # Read-only, so that the checker never takes a write lock from the server.
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


async def sqlite_executions(path: Path) -> Counter[str]:
    rows = await asyncio.to_thread(
        sqlite_rows, path, "SELECT event_id, count(*) FROM cell_executions GROUP BY event_id"
    )
    return Counter({str(event_id): int(str(count)) for event_id, count in rows})


async def postgres_points_pending(port: int, database: str) -> int:
    """Time-series points still waiting for InfluxDB in the pending table."""
    rows = await postgres_fetch(
        port, database, "SELECT coalesce(sum(points), 0) AS n FROM pending_timeseries_writes"
    )
    count: int = rows[0]["n"]
    return count


def by_event_id(
    execution_counts: Counter[int], sent: Mapping[str, Mapping[str, Any]]
) -> Counter[str]:
    """Points counted per eventId, through the executionCount that each sent event carries.

    A point whose executionCount no sent event carries is kept under a key of its own, so that
    the comparison reports it as unexpected.
    """
    event_of = {event["executionCount"]: event_id for event_id, event in sent.items()}
    return Counter(
        {
            event_of.get(number, f"executionCount={number}"): count
            for number, count in execution_counts.items()
        }
    )


def influxdb_execution_counts(server: PrivateInfluxDB, database: str) -> Counter[int]:
    try:
        rows = server.query(database, f"SELECT executionCount FROM {MEASUREMENT}")
    except RuntimeError as exc:
        if "database not found" in str(exc):
            return Counter()
        raise
    return Counter(int(str(value)) for _time, value in rows)


async def sqlite_point_execution_counts(path: Path) -> Counter[int]:
    rows = await asyncio.to_thread(
        sqlite_rows,
        path,
        "SELECT json_extract(fields, '$.executionCount') FROM timeseries_points "
        f"WHERE measurement = '{MEASUREMENT}'",
    )
    return Counter(int(str(value)) for (value,) in rows)


async def redis_pending_per_consumer(port: int, stream: str, group: str) -> dict[str, int]:
    """Entries delivered to each consumer of the group and not acknowledged yet."""
    redis = Redis(port=port, decode_responses=True)
    try:
        consumers = await redis.xinfo_consumers(stream, group)
    finally:
        await redis.aclose()
    return {consumer["name"]: int(consumer["pending"]) for consumer in consumers}


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, patience_seconds: float = 60.0
) -> None:
    """Poll until check() holds; fail naming what did not happen."""
    deadline = asyncio.get_running_loop().time() + patience_seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {patience_seconds:.0f} s")
        await asyncio.sleep(0.1)


async def redis_stale_pending(port: int, stream: str, group: str, idle_ms: int) -> int:
    """Entries claimed and not acknowledged for at least idle_ms (up to 100 counted)."""
    redis = Redis(port=port)
    try:
        entries = await redis.xpending_range(stream, group, "-", "+", 100, idle=idle_ms)
    finally:
        await redis.aclose()
    return len(entries)

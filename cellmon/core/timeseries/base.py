"""The time-series store: points of a measurement, tagged and timestamped in nanoseconds."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from cellmon.core.database import Database

FieldValue = bool | int | float | str
# Writes points inside a transaction that is already open on a session.
TransactionWriter = Callable[["AsyncSession", Sequence["Point"]], Awaitable[None]]


# Not frozen: a frozen dataclass's __init__ costs twice as much, and a worker makes a point
# per event.
@dataclass(slots=True)
class Point:
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int


class LineProtocolPoints(Sequence[Point]):
    """Points that can write themselves as InfluxDB line protocol, each line the one
    `line_protocol.encode_point` gives for the point: faster than encoding point by point
    when the producer knows what its points share. Other sinks take them as points."""

    @abstractmethod
    def lines(self) -> list[str]:
        """The points' lines, in their order (none for a point without a storable field)."""


@dataclass(frozen=True, slots=True)
class CountBucket:
    start: datetime
    count: int


@dataclass(frozen=True, slots=True)
class DeletedPoints:
    """What `TimeSeriesSink.delete_tagged` removed."""

    # Points deleted from the store; None where the store does not say how many (InfluxDB).
    stored: int | None
    # Points taken out of writes still waiting to be retried.
    pending: int = 0


class TimeSeriesSink(ABC):
    async def start(self) -> None:  # noqa: B027 (optional hook)
        """Prepare the backend (e.g. create the database)."""

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Flush what is buffered and release connections."""

    def transaction_writer(self, database: Database) -> TransactionWriter | None:
        """A way to write points in a transaction of `database`, when the points live there:
        the writer's rows and points then commit together. None for a separate store."""
        return None

    @abstractmethod
    async def write(self, points: Sequence[Point]) -> None:
        """Store the points. Writing the same point twice stores it once.

        Never drops points silently: what cannot be written now is kept and retried later.
        """

    @abstractmethod
    async def count_per_interval(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        interval_seconds: int,
        tag_filters: Mapping[str, Sequence[str]],
        field_filters: Mapping[str, FieldValue] | None = None,
    ) -> list[CountBucket]:
        """Points per interval in [start, end) whose tags take one of the given values.

        `field_filters` keeps the points whose fields equal the given values (e.g. errors:
        `{"success": False}`). Intervals are aligned on the epoch (a 60 s interval starts on
        the minute); the buckets come in time order, and intervals without points are left out.
        On InfluxDB a point is counted by its fields: exactly, as long as one field is on every
        point counted (always the case with a field filter).
        """

    @abstractmethod
    async def delete_tagged(self, measurement: str, tag: str, value: str) -> DeletedPoints:
        """Delete every point of the measurement whose tag `tag` is `value`, in all of its
        series and at any time, writes still waiting to be retried included.

        Repeating it is harmless. Raises BackendUnavailable when the store cannot do it now
        (unreachable, or refusing); raises ValueError for an empty tag or value, which would
        name no point (an empty tag is a missing one).
        """

    async def pending_points(self) -> int:
        """Points accepted but not yet in the store (kept for a retry); none by default."""
        return 0

    @abstractmethod
    async def ping(self) -> None:
        """Raise BackendUnavailable when the store cannot be reached."""

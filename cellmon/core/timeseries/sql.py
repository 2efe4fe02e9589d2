"""The embedded time-series store: a table in the SQL database (used without InfluxDB)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.exc import SQLAlchemyError

from cellmon.core.database import Database
from cellmon.core.errors import BackendUnavailable
from cellmon.core.timeseries.base import CountBucket, Point, TimeSeriesSink
from cellmon.db.models import TimeSeriesPoint

NS_PER_SECOND = 1_000_000_000


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


class SqlSink(TimeSeriesSink):
    def __init__(self, database: Database) -> None:
        self._database = database

    async def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        rows = [
            {
                "measurement": point.measurement,
                "time_ns": point.time_ns,
                "tags": dict(point.tags),
                "fields": dict(point.fields),
            }
            for point in points
        ]
        try:
            async with self._database.sessions.begin() as session:
                # A point rewritten (a redelivered event) replaces the earlier copy, as
                # InfluxDB does for the same series and timestamp.
                keys = {(point.measurement, point.time_ns) for point in points}
                await session.execute(
                    delete(TimeSeriesPoint).where(
                        tuple_(TimeSeriesPoint.measurement, TimeSeriesPoint.time_ns).in_(keys)
                    )
                )
                await session.execute(insert(TimeSeriesPoint), rows)
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"time-series table: {exc}") from exc

    async def count_per_interval(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        interval_seconds: int,
        tag_filters: Mapping[str, Sequence[str]],
    ) -> list[CountBucket]:
        width = interval_seconds * NS_PER_SECOND
        start_ns = _ns(start) - _ns(start) % width
        statement = select(TimeSeriesPoint.time_ns, TimeSeriesPoint.tags).where(
            TimeSeriesPoint.measurement == measurement,
            TimeSeriesPoint.time_ns >= start_ns,
            TimeSeriesPoint.time_ns < _ns(end),
        )
        counts: dict[int, int] = {}
        async with self._database.sessions() as session:
            for time_ns, tags in (await session.execute(statement)).all():
                if all(tags.get(key) in values for key, values in tag_filters.items()):
                    bucket = time_ns - time_ns % width
                    counts[bucket] = counts.get(bucket, 0) + 1
        return [
            CountBucket(datetime.fromtimestamp(bucket / NS_PER_SECOND, UTC), counts[bucket])
            for bucket in sorted(counts)
        ]

    async def ping(self) -> None:
        try:
            async with self._database.sessions() as session:
                await session.execute(select(TimeSeriesPoint.id).limit(1))
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"time-series table: {exc}") from exc

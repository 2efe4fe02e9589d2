"""The embedded time-series store: a table in the SQL database (used without InfluxDB).

It keeps InfluxDB's semantics where the rest of cellmon can see them: a point is its series
(measurement and tags) and its timestamp, so writing it again replaces it; empty tags are left
out; counts per interval are aligned on the epoch.
"""

from __future__ import annotations

import hashlib
import json
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import itemgetter

from sqlalchemy import ColumnElement, Table, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from cellmon.core.database import Database, dumps_json
from cellmon.core.errors import BackendUnavailable
from cellmon.core.timeseries.base import (
    CountBucket,
    DeletedPoints,
    FieldValue,
    Point,
    TimeSeriesSink,
    TransactionWriter,
)
from cellmon.db.models import TimeSeriesPoint

NS_PER_SECOND = 1_000_000_000
POINTS: Table = TimeSeriesPoint.__table__  # type: ignore[assignment]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, exactly (no float rounding)."""
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def from_ns(time_ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=time_ns // 1000)


def series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """The series a point belongs to, as a fixed-width key (migration 0002 holds a copy)."""
    canonical = [measurement, sorted((key, value) for key, value in tags.items() if key and value)]
    text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# A class has a few thousand series (students x notebooks x event types): hashing each point's
# tags again was a large part of a batch's write.
@lru_cache(maxsize=65536)
def _cached_series_key(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    return series_key(measurement, dict(tags))


def _field_equals(name: str, value: FieldValue) -> ColumnElement[bool]:
    element = TimeSeriesPoint.fields[name]
    comparison: ColumnElement[bool]
    if isinstance(value, bool):
        comparison = element.as_boolean() == value
    elif isinstance(value, int):
        comparison = element.as_integer() == value
    elif isinstance(value, float):
        comparison = element.as_float() == value
    else:
        comparison = element.as_string() == value
    return comparison


# The columns of a row given to `_upsert_sql`, in order.
UPSERT_COLUMNS = ("measurement", "series_key", "time_ns", "tags", "fields")
# A point as a row of the table, its values in UPSERT_COLUMNS order (tags and fields as JSON).
PointRow = tuple[str, str, int, str, str]
_ROW_KEY = itemgetter(1, 2)


def series_columns(measurement: str, tags: Mapping[str, str]) -> tuple[str, str]:
    """The series key and tags JSON of a point's row: its tags without the empty ones."""
    stored = {key: value for key, value in tags.items() if key and value}
    return _cached_series_key(measurement, tuple(sorted(stored.items()))), dumps_json(stored)


def point_row(point: Point) -> PointRow:
    key, tags = series_columns(point.measurement, point.tags)
    return point.measurement, key, point.time_ns, tags, dumps_json(dict(point.fields))


class TableRowPoints(Sequence[Point]):
    """Points that can give their rows themselves, each row the one `point_row` gives for the
    point: faster than going point by point when the producer knows what its points share
    (e.g. caches each series' columns). Other sinks take them as points."""

    @abstractmethod
    def table_rows(self) -> list[PointRow]:
        """The points' rows, in their order."""


@lru_cache(maxsize=4)
def _upsert_sql(dialect: Dialect) -> str:
    """The point upsert in the driver's own SQL, its parameters in UPSERT_COLUMNS order."""
    insert = (postgresql if dialect.name == "postgresql" else sqlite).insert(POINTS).inline()
    statement = insert.on_conflict_do_update(
        index_elements=[POINTS.c.series_key, POINTS.c.time_ns],
        set_={"tags": insert.excluded.tags, "fields": insert.excluded.fields},
    )
    compiled = statement.compile(dialect=dialect, column_keys=list(UPSERT_COLUMNS))
    return str(compiled)


class SqlSink(TimeSeriesSink):
    def __init__(self, database: Database) -> None:
        self._database = database

    def transaction_writer(self, database: Database) -> TransactionWriter | None:
        return self.write_in if database is self._database else None

    async def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        try:
            async with self._database.writing() as session:
                await self.write_in(session, points)
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"time-series table: {exc}") from exc

    async def write_in(self, session: AsyncSession, points: Sequence[Point]) -> None:
        """Write the points in the session's transaction (committed, or not, with it)."""
        if not points:
            return
        rows: Iterable[PointRow] = (
            points.table_rows() if isinstance(points, TableRowPoints) else map(point_row, points)
        )
        # The last copy of a point within one batch wins, as it would in InfluxDB.
        unique = {_ROW_KEY(row): row for row in rows}
        connection = await session.connection()
        # Straight to the driver, the JSON already text: SQLAlchemy's handling of each row's
        # parameters (two JSON values, five binds) cost more than the database's insert.
        # In key order, so that concurrent transactions lock shared points in the same order.
        await connection.exec_driver_sql(
            _upsert_sql(connection.dialect), [unique[key] for key in sorted(unique)]
        )

    async def count_per_interval(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        interval_seconds: int,
        tag_filters: Mapping[str, Sequence[str]],
        field_filters: Mapping[str, FieldValue] | None = None,
    ) -> list[CountBucket]:
        width = interval_seconds * NS_PER_SECOND
        bucket = (TimeSeriesPoint.time_ns - TimeSeriesPoint.time_ns % width).label("bucket")
        conditions: list[ColumnElement[bool]] = [
            TimeSeriesPoint.measurement == measurement,
            TimeSeriesPoint.time_ns >= to_ns(start),
            TimeSeriesPoint.time_ns < to_ns(end),
        ]
        for name, values in tag_filters.items():
            tag = TimeSeriesPoint.tags[name].as_string()
            matches = tag.in_([value for value in values if value])
            # A missing tag is the same as an empty one, as in InfluxDB.
            conditions.append(or_(matches, tag.is_(None)) if "" in values else matches)
        for name, value in (field_filters or {}).items():
            conditions.append(_field_equals(name, value))
        statement = (
            select(bucket, func.count()).where(*conditions).group_by(bucket).order_by(bucket)
        )
        try:
            async with self._database.sessions() as session:
                result = (await session.execute(statement)).all()
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"time-series table: {exc}") from exc
        return [CountBucket(from_ns(start_ns), count) for start_ns, count in result]

    async def delete_tagged(self, measurement: str, tag: str, value: str) -> DeletedPoints:
        if not tag or not value:
            raise ValueError("delete_tagged needs a tag and a value")
        # Tags are stored as given (less the empty ones), so the value is compared as it is.
        statement = delete(TimeSeriesPoint).where(
            TimeSeriesPoint.measurement == measurement,
            TimeSeriesPoint.tags[tag].as_string() == value,
        )
        try:
            async with self._database.writing() as session:
                result = await session.execute(statement)
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"time-series table: {exc}") from exc
        deleted: int = result.rowcount  # type: ignore[attr-defined]
        return DeletedPoints(stored=deleted)

    async def ping(self) -> None:
        try:
            async with self._database.sessions() as session:
                await session.execute(select(TimeSeriesPoint.id).limit(1))
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"time-series table: {exc}") from exc

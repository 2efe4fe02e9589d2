"""Tables of the plumbing: the embedded queue, dead letters, time-series points, test events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cellmon.db.base import Base, BigIntId, JSONType, UTCDateTime, utcnow


class QueueEntry(Base):
    """An entry of the embedded work queue (used when no Redis is configured)."""

    __tablename__ = "queue_entries"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # An entry is claimable once visible_at has passed; a claim pushes it into the future,
    # so the entries of a worker that died become visible again by themselves.
    visible_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))


class DeadLetter(Base):
    """An event that kept failing; an operator lists and replays these (`cellmon dlq`)."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    event_type: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class TimeSeriesPoint(Base):
    """A time-series point kept in the SQL database when no InfluxDB is configured."""

    __tablename__ = "timeseries_points"
    __table_args__ = (
        Index("ix_timeseries_points_measurement_time", "measurement", "time_ns"),
        # A point is its series and its timestamp, as in InfluxDB: writing it again replaces it.
        UniqueConstraint("series_key", "time_ns"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    measurement: Mapped[str] = mapped_column(String(64))
    # SHA-256 (hex) of the measurement and the sorted tags: the series, in a fixed width.
    series_key: Mapped[str] = mapped_column(String(64))
    time_ns: Mapped[int] = mapped_column(BigInteger)
    tags: Mapped[dict[str, str]] = mapped_column(JSONType)
    fields: Mapped[dict[str, object]] = mapped_column(JSONType)


class PendingTimeSeriesWrite(Base):
    """Points that InfluxDB refused or could not take after retries, kept until it can."""

    __tablename__ = "pending_timeseries_writes"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    lines: Mapped[str] = mapped_column(Text)  # InfluxDB line protocol
    points: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # When the retry task tries this row next (pushed back after each failure).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class TestEvent(Base):
    """An event posted to the test-event API, kept for ten minutes."""

    __tablename__ = "test_events"
    __test__ = False  # not a pytest test class

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    test_id: Mapped[str] = mapped_column(String(128), index=True)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

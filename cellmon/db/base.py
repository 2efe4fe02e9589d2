"""Declarative base, constraint naming and the column types every model shares."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, TypeDecorator, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names make Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    SQLite keeps no zone, so values are normalised to UTC on the way in and marked UTC on
    the way out; a naive value given by the application is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return sqlite_timestamp
        return super().bind_processor(dialect)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# A batch binds each event's timestamps several times (its execution, its cell's state, its
# session...) and `now` once per row: formatted once each.
@lru_cache(maxsize=16384)
def sqlite_timestamp(value: datetime | None) -> str | None:
    """A UTC timestamp as SQLite stores it, the text SQLAlchemy's DATETIME writes
    ("YYYY-MM-DD HH:MM:SS.ffffff", so that stored values still compare as text): its own
    formatting, a dict and a %-format per value, was a tenth of the embedded server's time.
    """
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
    # Most timestamps are new (each event's own): the day from a cache and the time by hand
    # take 40% less than isoformat, which also formats the offset only to cut it off (and a
    # %-format less than an f-string's four format specs).
    return _sqlite_date(value.toordinal()) + "%02d:%02d:%02d.%06d" % (  # noqa: UP031
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


@lru_cache(maxsize=1024)
def _sqlite_date(ordinal: int) -> str:
    day = date.fromordinal(ordinal)
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d} "


# JSONB on PostgreSQL, JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# 64-bit ids on PostgreSQL; SQLite needs plain INTEGER for its auto-incrementing rowid.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now(), nullable=False
    )

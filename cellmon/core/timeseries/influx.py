"""The InfluxDB time-series store, over its HTTP API: 1.x (`/write`, InfluxQL) or 2.x
(`/api/v2/write`, Flux).

Writes go out in requests of at most `batch_lines` lines, each tried 3 times with exponential
back-off. What still cannot be written is kept in the `pending_timeseries_writes` table and a
background task retries it (backing off per row) until InfluxDB takes it: no point is dropped
silently. A request that InfluxDB refuses as malformed (400, 413, 422) is split in halves until
the refused lines are alone, so that good lines are never held back by a bad one; rewriting a
line that was already taken is harmless, since a point is its series and timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

import httpx
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import SQLAlchemyError

from cellmon.core.database import Database
from cellmon.core.errors import BackendUnavailable, ConfigError
from cellmon.core.settings import Settings
from cellmon.core.timeseries.base import (
    CountBucket,
    DeletedPoints,
    FieldValue,
    LineProtocolPoints,
    Point,
    TimeSeriesSink,
)
from cellmon.core.timeseries.line_protocol import (
    encode_points,
    influxql_identifier,
    influxql_literal,
    influxql_string,
    line_has_tag,
    stored_tag_value,
)
from cellmon.core.timeseries.sql import from_ns, to_ns
from cellmon.db.base import utcnow
from cellmon.db.models import PendingTimeSeriesWrite

logger = logging.getLogger(__name__)

TRIES = 3
SHARD_CLOSED = "engine is closed"
# Refusals that concern some lines of a request (a malformed point, a type conflict, a body
# too large): split the request to find them. Any other 4xx (auth, unknown database) concerns
# the whole request and would be refused again for each half.
SPLITTABLE_STATUSES = frozenset({400, 413, 422})
PENDING_ROWS_PER_ROUND = 50
# The whole time range InfluxDB can store (its smallest and largest nanosecond times): the
# 2.x delete API needs a range, and a delete by tag must reach every point.
EARLIEST_TIME = "1677-09-21T00:12:43.145224194Z"
LATEST_TIME = "2262-04-11T23:47:16.854775806Z"


@dataclass(frozen=True, slots=True)
class _Failure:
    lines: list[str]
    error: str


class InfluxRefusedError(Exception):
    """InfluxDB answered a 4xx (other than 429), or an InfluxQL error: waiting will not help."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


def flux_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{escaped}"'


def flux_literal(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return flux_string(value)


def build_flux_count(
    bucket: str,
    measurement: str,
    start_ns: int,
    end_ns: int,
    interval_seconds: int,
    tag_filters: Mapping[str, Sequence[str]],
    field_filters: Mapping[str, FieldValue],
) -> str:
    """Flux that counts points (not field values) per epoch-aligned interval."""

    def column(name: str) -> str:
        return f"r[{flux_string(name)}]"

    steps = [
        f"from(bucket: {flux_string(bucket)})",
        f"range(start: time(v: {start_ns}), stop: time(v: {end_ns}))",
        f"filter(fn: (r) => r._measurement == {flux_string(measurement)})",
    ]
    for name, values in tag_filters.items():
        alternatives = " or ".join(f"{column(name)} == {flux_string(v)}" for v in values)
        steps.append(f"filter(fn: (r) => {alternatives})")
    # One row per point (its fields side by side), so that points are counted, not fields.
    steps.append('pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")')
    for name, value in field_filters.items():
        steps.append(
            f"filter(fn: (r) => exists {column(name)} and {column(name)} == {flux_literal(value)})"
        )
    steps += [
        "map(fn: (r) => ({_time: r._time, _value: 1}))",
        "group()",
        f'aggregateWindow(every: {interval_seconds}s, fn: count, timeSrc: "_start", '
        "createEmpty: false)",
    ]
    return "\n  |> ".join(steps)


def parse_flux_counts(body: str) -> list[CountBucket]:
    """Buckets from Flux's CSV answer (without annotations; tables separated by blank lines)."""
    buckets: dict[datetime, int] = {}
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(body)):
        if not row or not any(row):
            header = None
            continue
        if header is None:
            header = row
            continue
        record = dict(zip(header, row, strict=False))
        if record.get("_value", "") == "":
            continue
        moment = _parse_rfc3339(record["_time"])
        buckets[moment] = buckets.get(moment, 0) + int(record["_value"])
    return [CountBucket(moment, buckets[moment]) for moment in sorted(buckets)]


# RFC 3339's date-time: the zone (Z or an offset) is required, the fraction may be any length.
_RFC3339 = re.compile(
    r"(?P<seconds>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})"
)


def _parse_rfc3339(text: str) -> datetime:
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time with a zone: {text!r}")
    # Python reads at most microseconds; InfluxDB may print nanoseconds.
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    zone = "+00:00" if match["zone"] in ("Z", "z") else match["zone"]
    return datetime.fromisoformat(f"{match['seconds']}.{fraction}{zone}").astimezone(UTC)


class InfluxSink(TimeSeriesSink):
    def __init__(
        self,
        *,
        url: str,
        api_version: Literal[1, 2],
        bucket: str,
        org: str,
        token: str | None,
        database: Database,
        batch_lines: int = 5000,
        timeout_seconds: float = 10.0,
        retry_seconds: float = 0.5,
        pending_interval_seconds: float = 5.0,
        pending_max_seconds: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._api_version = api_version
        self._bucket = bucket
        self._org = org
        self._token = token
        self._database = database
        self._batch_lines = batch_lines
        self._timeout = timeout_seconds
        self._retry_seconds = retry_seconds
        self._pending_interval = pending_interval_seconds
        self._pending_max = pending_max_seconds
        # None: httpx's own (TCP) transport; another one puts something between (tests).
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._retry_task: asyncio.Task[None] | None = None
        self._database_created = api_version == 2
        # After a write failed for want of InfluxDB, new writes go straight to the pending
        # table until this (monotonic) time, so that the caller is not held up by retries
        # that will fail too; the retry task, which ignores it, finds out when InfluxDB is back.
        self._unavailable_until = 0.0
        if api_version == 1 and token is not None and ":" not in token:
            raise ConfigError("INFLUXDB_TOKEN: on InfluxDB 1.x give it as user:password")

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> Self:
        if settings.INFLUXDB_URL is None:
            raise ConfigError("INFLUXDB_URL: not set")
        token = settings.INFLUXDB_TOKEN.get_secret_value() if settings.INFLUXDB_TOKEN else None
        return cls(
            url=settings.INFLUXDB_URL,
            api_version=settings.INFLUXDB_API_VERSION,
            bucket=settings.INFLUXDB_BUCKET,
            org=settings.INFLUXDB_ORG,
            token=token or None,
            database=database,
            batch_lines=settings.CELLMON_INFLUXDB_BATCH_LINES,
            timeout_seconds=settings.CELLMON_INFLUXDB_TIMEOUT_SECONDS,
            retry_seconds=settings.CELLMON_INFLUXDB_RETRY_SECONDS,
            pending_interval_seconds=settings.CELLMON_INFLUXDB_PENDING_INTERVAL_SECONDS,
            pending_max_seconds=settings.CELLMON_INFLUXDB_PENDING_MAX_SECONDS,
        )

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        auth: httpx.Auth | None = None
        headers: dict[str, str] = {}
        if self._token is not None:
            if self._api_version == 1:
                user, _, password = self._token.partition(":")
                auth = httpx.BasicAuth(user, password)
            else:
                headers["Authorization"] = f"Token {self._token}"
        self._client = httpx.AsyncClient(
            base_url=self._url,
            auth=auth,
            headers=headers,
            timeout=self._timeout,
            transport=self._transport,
        )
        # InfluxDB may be down now: the points wait in the pending table until it is up.
        await self._ensure_database()
        self._retry_task = asyncio.create_task(self._retry_pending_forever())

    async def close(self) -> None:
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
            self._retry_task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("InfluxSink used before start()")
        return self._client

    async def ping(self) -> None:
        try:
            response = await self._http.get("/ping")
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"InfluxDB at {self._url}: {_describe(exc)}") from exc
        if response.status_code != 204:
            raise BackendUnavailable(f"InfluxDB at {self._url}: /ping answered {response}")

    async def _ensure_database(self) -> None:
        """On 1.x create the database if missing (CREATE DATABASE is harmless if it exists)."""
        if self._database_created:
            return
        database = self._bucket.split("/", 1)[0]
        try:
            await self._influxql(f"CREATE DATABASE {influxql_identifier(database)}", database=None)
        except BackendUnavailable as exc:
            logger.warning("InfluxDB: cannot create database %s yet: %s", database, exc)
            return
        except InfluxRefusedError as exc:
            # E.g. a user without admin rights: the database must exist already; if it does
            # not, the writes say so (and wait in the pending table).
            logger.warning("InfluxDB: not allowed to create database %s: %s", database, exc)
        self._database_created = True

    # -- writing -------------------------------------------------------------------------

    async def write(self, points: Sequence[Point]) -> None:
        if isinstance(points, LineProtocolPoints):
            lines = points.lines()
        else:
            lines = list(encode_points(points))
        if not lines:
            return
        if not self._known_unavailable():
            await self._ensure_database()
        failures: list[_Failure] = []
        for offset in range(0, len(lines), self._batch_lines):
            chunk = lines[offset : offset + self._batch_lines]
            if self._known_unavailable():
                failures.append(_Failure(chunk, "unavailable: InfluxDB did not answer just before"))
            else:
                failures += await self._deliver(chunk)
        if failures:
            await self._keep_pending(failures, attempts=0)

    def _known_unavailable(self) -> bool:
        return asyncio.get_running_loop().time() < self._unavailable_until

    async def _deliver(self, lines: list[str]) -> list[_Failure]:
        """Write the lines; return those that could not be written, with the reason."""
        try:
            await self._post_with_retries(lines)
            self._unavailable_until = 0.0
        except InfluxRefusedError as exc:
            if exc.status in SPLITTABLE_STATUSES and len(lines) > 1:
                middle = len(lines) // 2
                return await self._deliver(lines[:middle]) + await self._deliver(lines[middle:])
            # Neither the lines nor InfluxDB's message, which quotes the line it could not
            # parse: their tags hold the student's e-mail address. The reason is kept with
            # the pending rows.
            logger.error(
                "InfluxDB refused %d line(s) with HTTP %d; kept as pending", len(lines), exc.status
            )
            return [_Failure(lines, f"refused: {exc}")]
        except BackendUnavailable as exc:
            logger.warning("InfluxDB unavailable, %d line(s) kept as pending: %s", len(lines), exc)
            self._unavailable_until = asyncio.get_running_loop().time() + self._pending_interval
            return [_Failure(lines, f"unavailable: {exc}")]
        return []

    async def _post_with_retries(self, lines: list[str]) -> None:
        body = "\n".join(lines).encode()
        for attempt in range(TRIES):
            try:
                await self._post_lines(body)
                return
            except BackendUnavailable:
                if attempt == TRIES - 1:
                    raise
            await asyncio.sleep(self._retry_seconds * 2**attempt)

    async def _post_lines(self, body: bytes) -> None:
        if self._api_version == 1:
            database, _, retention_policy = self._bucket.partition("/")
            path = "/write"
            params = {"db": database, "precision": "ns"}
            if retention_policy:
                params["rp"] = retention_policy
        else:
            path = "/api/v2/write"
            params = {"bucket": self._bucket, "precision": "ns"}
            if self._org:
                params["org"] = self._org
        try:
            response = await self._http.post(
                path,
                params=params,
                content=body,
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"InfluxDB at {self._url}: {_describe(exc)}") from exc
        _raise_for_status(response)

    # -- pending writes ------------------------------------------------------------------

    async def _keep_pending(
        self, failures: list[_Failure], attempts: int, replacing: int | None = None
    ) -> None:
        """Store what failed; `replacing` names the pending row it came from (deleted with it).

        Of a replaced row, only lines it still holds are kept: an erasure (`delete_tagged`)
        may have taken some out while they were being retried."""
        try:
            async with self._database.writing() as session:
                if replacing is not None:
                    row = PendingTimeSeriesWrite.id == replacing
                    current = await session.scalar(
                        select(PendingTimeSeriesWrite.lines).where(row).with_for_update()
                    )
                    still_pending = set(current.split("\n")) if current else set()
                    failures = [
                        _Failure(kept, failure.error)
                        for failure in failures
                        if (kept := [line for line in failure.lines if line in still_pending])
                    ]
                    await session.execute(delete(PendingTimeSeriesWrite).where(row))
                now = utcnow()
                rows = [
                    {
                        "lines": "\n".join(failure.lines),
                        "points": len(failure.lines),
                        "attempts": attempts,
                        "last_error": failure.error[:4000],
                        "created_at": now,
                        "next_attempt_at": now + self._backoff(attempts),
                    }
                    for failure in failures
                ]
                if rows:
                    await session.execute(insert(PendingTimeSeriesWrite), rows)
        except SQLAlchemyError as exc:
            # Neither store takes the points: the caller must keep its events and retry.
            raise BackendUnavailable(f"InfluxDB failed and the pending table too: {exc}") from exc

    def _backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self._pending_interval * 2**attempts, self._pending_max))

    async def retry_pending(self) -> int:
        """Try the pending rows that are due once; return how many points were written."""
        await self._ensure_database()
        now = utcnow()
        due = (
            select(PendingTimeSeriesWrite.id)
            .where(PendingTimeSeriesWrite.next_attempt_at <= now)
            .order_by(PendingTimeSeriesWrite.id)
            .limit(PENDING_ROWS_PER_ROUND)
        )
        if not self._database.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        # Claim the rows (push their next attempt past this one) so that another process's
        # retry task leaves them alone meanwhile.
        claim = (
            update(PendingTimeSeriesWrite)
            .where(PendingTimeSeriesWrite.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=now + timedelta(seconds=self._pending_max))
            .returning(
                PendingTimeSeriesWrite.id,
                PendingTimeSeriesWrite.lines,
                PendingTimeSeriesWrite.attempts,
            )
        )
        async with self._database.sessions.begin() as session:
            claimed = (await session.execute(claim)).all()
        written = 0
        for row_id, text, attempts in sorted(claimed):
            lines = text.split("\n")
            failures = await self._deliver(lines)
            await self._keep_pending(failures, attempts=attempts + 1, replacing=row_id)
            written += len(lines) - sum(len(failure.lines) for failure in failures)
        if written:
            logger.info("InfluxDB: %d pending point(s) written", written)
        return written

    async def pending_points(self) -> int:
        try:
            async with self._database.sessions() as session:
                total = await session.scalar(select(func.sum(PendingTimeSeriesWrite.points)))
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"pending time-series writes: {exc}") from exc
        return int(total or 0)

    async def _retry_pending_forever(self) -> None:
        written = 0
        while True:
            # Rounds follow each other at once while they make progress (a backlog drains
            # at full speed), and wait an interval otherwise.
            if not written:
                await asyncio.sleep(self._pending_interval)
            try:
                written = await self.retry_pending()
            except Exception:
                written = 0
                logger.exception("InfluxDB: retrying pending writes failed; trying again later")

    # -- deleting ------------------------------------------------------------------------

    async def delete_tagged(self, measurement: str, tag: str, value: str) -> DeletedPoints:
        if not tag or not value:
            raise ValueError("delete_tagged needs a tag and a value")
        # The pending writes first: a retry after the delete would write the points again.
        pending = await self._drop_pending(measurement, tag, value)
        for attempt in range(TRIES):
            try:
                await self._delete_series(measurement, tag, value)
                break
            except BackendUnavailable:
                if attempt == TRIES - 1:
                    raise
            except InfluxRefusedError as exc:
                # E.g. a 1.x user without the admin right DROP SERIES needs: waiting will not
                # help, but to the caller the points are as undeleted as with InfluxDB down.
                raise BackendUnavailable(f"InfluxDB refused the delete: {exc}") from exc
            await asyncio.sleep(self._retry_seconds * 2**attempt)
        return DeletedPoints(stored=None, pending=pending)

    async def _delete_series(self, measurement: str, tag: str, value: str) -> None:
        """Delete the points of every series with the tag (InfluxDB says not how many)."""
        stored = stored_tag_value(value)
        if self._api_version == 1:
            # DROP SERIES, unlike DELETE, also drops the series from the index, whose keys
            # hold the tag value: SHOW TAG VALUES would list it otherwise.
            database = self._bucket.split("/", 1)[0]
            await self._influxql(
                f"DROP SERIES FROM {influxql_identifier(measurement)} "
                f"WHERE {influxql_identifier(tag)} = {influxql_string(stored)}",
                database=database,
            )
            return
        # The predicate is InfluxQL-like: keys and values as double-quoted identifiers.
        predicate = (
            f"{influxql_identifier('_measurement')} = {influxql_identifier(measurement)} "
            f"AND {influxql_identifier(tag)} = {influxql_identifier(stored)}"
        )
        params = {"bucket": self._bucket}
        if self._org:
            params["org"] = self._org
        try:
            response = await self._http.post(
                "/api/v2/delete",
                params=params,
                json={"start": EARLIEST_TIME, "stop": LATEST_TIME, "predicate": predicate},
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"InfluxDB at {self._url}: {_describe(exc)}") from exc
        _raise_for_status(response)

    async def _drop_pending(self, measurement: str, tag: str, value: str) -> int:
        """Take the tag's points out of the pending writes; how many were taken out."""
        dropped = 0
        statement = select(PendingTimeSeriesWrite.id, PendingTimeSeriesWrite.lines)
        try:
            async with self._database.writing() as session:
                if not self._database.is_sqlite:
                    # A retry in progress replaces its row by a new one (`_keep_pending`): row
                    # locks would wait for the old row and miss the new. The table lock waits
                    # for every writer in progress and holds off new ones until the lines are
                    # out (SQLite's writers take turns anyway).
                    await session.execute(
                        sql_text(
                            f"LOCK TABLE {PendingTimeSeriesWrite.__tablename__} "
                            "IN SHARE ROW EXCLUSIVE MODE"
                        )
                    )
                for row_id, lines_text in (await session.execute(statement)).all():
                    lines = lines_text.split("\n")
                    kept = [
                        line for line in lines if not line_has_tag(line, measurement, tag, value)
                    ]
                    if len(kept) == len(lines):
                        continue
                    dropped += len(lines) - len(kept)
                    pending = PendingTimeSeriesWrite.id == row_id
                    if kept:
                        await session.execute(
                            update(PendingTimeSeriesWrite)
                            .where(pending)
                            .values(lines="\n".join(kept), points=len(kept))
                        )
                    else:
                        await session.execute(delete(PendingTimeSeriesWrite).where(pending))
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"pending time-series writes: {exc}") from exc
        return dropped

    # -- reading -------------------------------------------------------------------------

    async def count_per_interval(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        interval_seconds: int,
        tag_filters: Mapping[str, Sequence[str]],
        field_filters: Mapping[str, FieldValue] | None = None,
    ) -> list[CountBucket]:
        if any(not values for values in tag_filters.values()):
            return []
        try:
            return await self._count(
                measurement, start, end, interval_seconds, tag_filters, field_filters or {}
            )
        except InfluxRefusedError as exc:
            # A configuration fault (token, bucket, no Flux); the readers answer 503 to it.
            raise BackendUnavailable(f"InfluxDB refused the count query: {exc}") from exc

    async def _count(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        interval_seconds: int,
        tag_filters: Mapping[str, Sequence[str]],
        field_filters: Mapping[str, FieldValue],
    ) -> list[CountBucket]:
        await self._ensure_database()
        if self._api_version == 2:
            return await self._count_with_flux(
                measurement, start, end, interval_seconds, tag_filters, field_filters
            )
        conditions = [f"time >= {to_ns(start)}", f"time < {to_ns(end)}"]
        for name, values in tag_filters.items():
            alternatives = " OR ".join(
                f"{influxql_identifier(name)}::tag = {influxql_string(value)}" for value in values
            )
            conditions.append(f"({alternatives})")
        for name, value in field_filters.items():
            conditions.append(f"{influxql_identifier(name)}::field = {influxql_literal(value)}")
        database, _, retention_policy = self._bucket.partition("/")
        source = influxql_identifier(measurement)
        if retention_policy:
            source = f"{influxql_identifier(retention_policy)}.{source}"
        query = (
            f"SELECT count(*) FROM {source} WHERE {' AND '.join(conditions)} "
            f"GROUP BY time({interval_seconds}s) fill(none)"
        )
        results = await self._influxql(query, database=database)
        buckets: list[CountBucket] = []
        for series in results.get("series", []):
            for time_ns, *counts in series["values"]:
                # count(*) counts each field; a point is counted by its most frequent field.
                count = max((value for value in counts if value is not None), default=0)
                if count:
                    buckets.append(CountBucket(from_ns(time_ns), count))
        return sorted(buckets, key=lambda bucket: bucket.start)

    async def _influxql(self, query: str, database: str | None) -> dict[str, Any]:
        params = {"q": query, "epoch": "ns"}
        if database is not None:
            params["db"] = database
        try:
            response = await self._http.post("/query", data=params)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"InfluxDB at {self._url}: {_describe(exc)}") from exc
        _raise_for_status(response)
        result: dict[str, Any] = response.json()["results"][0]
        if "error" in result:
            # InfluxQL reports a statement's failure in a 200's body, as a 400 would.
            raise _failure(400, result["error"])
        return result

    async def _count_with_flux(
        self,
        measurement: str,
        start: datetime,
        end: datetime,
        interval_seconds: int,
        tag_filters: Mapping[str, Sequence[str]],
        field_filters: Mapping[str, FieldValue],
    ) -> list[CountBucket]:
        flux = build_flux_count(
            self._bucket,
            measurement,
            to_ns(start),
            to_ns(end),
            interval_seconds,
            tag_filters,
            field_filters,
        )
        params = {"org": self._org} if self._org else {}
        try:
            response = await self._http.post(
                "/api/v2/query",
                params=params,
                json={
                    "query": flux,
                    "type": "flux",
                    "dialect": {"header": True, "annotations": [], "delimiter": ","},
                },
                headers={"Accept": "application/csv"},
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"InfluxDB at {self._url}: {_describe(exc)}") from exc
        _raise_for_status(response)
        return parse_flux_counts(response.text)


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    raise _failure(response.status_code, response.text.strip()[:1000] or response.reason_phrase)


def _failure(status: int, detail: str) -> BackendUnavailable | InfluxRefusedError:
    """What InfluxDB's refusal means: worth trying again later, or not."""
    # 429 (too many requests) passes like a 5xx, and so does InfluxDB 1.x's 400 "engine is
    # closed" (a shard opening or closing: at start-up, at shut-down, beside a database being
    # dropped); other 4xx will not pass by waiting.
    if status == 429 or status >= 500 or (status == 400 and SHARD_CLOSED in detail):
        return BackendUnavailable(f"HTTP {status}: {detail}")
    return InfluxRefusedError(status, detail)


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

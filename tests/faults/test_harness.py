"""The fault harness itself: its private services survive what the fault tests do to them,
its driver retries like the real client, and its checker sees every kind of wrong record."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.faults.checks import compare, postgres_fetch
from tests.faults.conftest import FaultInfluxDB, FaultPostgres, FaultRedis
from tests.faults.load import WITHOUT_RETRY_AFTER, LoadDriver


def test_compare_accepts_exactly_once() -> None:
    result = compare("store", Counter({"a": 1, "b": 1, "c": 1}), {"a", "b"}, {"a", "b", "c"})
    # "c" was sent but never accepted: the server may have queued it before the answer was lost.
    assert result.ok, str(result)


def test_compare_reports_missing_duplicated_and_unexpected() -> None:
    result = compare("store", Counter({"a": 2, "x": 1}), {"a", "b"}, {"a", "b"})
    assert not result.ok
    assert result.missing == ["b"]
    assert result.duplicated == {"a": 2}
    assert result.unexpected == ["x"]
    assert "missing 1" in str(result)


def _flaky_server(fail_first: int, final_status: int) -> Callable[[httpx.Request], httpx.Response]:
    answers: Counter[str] = Counter()

    def handle(request: httpx.Request) -> httpx.Response:
        key = orjson.loads(request.content)[0]["eventId"]
        answers[key] += 1
        if answers[key] <= fail_first:
            if answers[key] % 2:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(503, headers={"Retry-After": "1"})
        return httpx.Response(final_status, json={"message": "ok"})

    return handle


async def test_driver_retries_until_accepted() -> None:
    transport = httpx.MockTransport(_flaky_server(fail_first=3, final_status=202))
    driver = LoadDriver(["http://cellmon.test"], transport=transport, batch_sizes=(1, 5))
    try:
        await driver.post_events(40)
    finally:
        await driver.close()
    assert len(driver.sent) == 40
    assert driver.accepted == set(driver.sent)
    assert driver.outcomes["503"] > 0
    assert driver.outcomes["ConnectError"] > 0
    assert driver.outcomes[WITHOUT_RETRY_AFTER] == 0
    assert not driver.rejected


async def test_driver_takes_4xx_as_final_like_the_real_client() -> None:
    transport = httpx.MockTransport(_flaky_server(fail_first=0, final_status=422))
    driver = LoadDriver(["http://cellmon.test"], transport=transport)
    try:
        await driver.post_events(10)
    finally:
        await driver.close()
    assert driver.accepted == set()
    assert set(driver.rejected) == set(driver.sent)
    assert driver.outcomes == Counter({"422": 4})


def test_driver_makes_real_client_events() -> None:
    driver = LoadDriver(["http://cellmon.test"])
    batches = [driver._next_batch(100) for _ in range(4)]
    assert [len(batch) for batch in batches] == [1, 1, 1, 25]
    events = [event for batch in batches for event in batch]
    assert len({event["eventId"] for event in events}) == len(events)
    assert len({event["eventTime"] for event in events}) == len(events)
    first = events[0]
    assert first["eventType"] == "cell_executed"
    assert first["eventTime"].endswith("Z")
    assert {"emailAddress", "sessionId", "notebookPath", "cellId", "executionCount"} <= set(first)
    asyncio.run(driver.close())


@pytest.mark.slow
async def test_private_postgres_keeps_commits_across_stop_and_start(
    fault_postgres: FaultPostgres,
) -> None:
    for statement in ("CREATE TABLE survivor (id int)", "INSERT INTO survivor VALUES (1)"):
        await postgres_fetch(fault_postgres.port, fault_postgres.database, statement)
    fault_postgres.server.stop()
    with pytest.raises(ConnectionRefusedError):
        await postgres_fetch(fault_postgres.port, fault_postgres.database, "SELECT 1")
    fault_postgres.server.start()
    rows = await postgres_fetch(
        fault_postgres.port, fault_postgres.database, "SELECT id FROM survivor"
    )
    assert [row["id"] for row in rows] == [1]


@pytest.mark.slow
async def test_private_redis_keeps_the_stream_across_kill_9(fault_redis: FaultRedis) -> None:
    stream = f"{fault_redis.prefix}:stream"
    redis = Redis(port=fault_redis.port, retry=Retry(NoBackoff(), retries=0))
    try:
        for number in range(100):
            await redis.xadd(stream, {"n": str(number)})
        fault_redis.server.kill()
        with pytest.raises(RedisConnectionError):
            await redis.ping()
        fault_redis.server.start()
        assert await redis.xlen(stream) == 100
    finally:
        await redis.aclose()


@pytest.mark.slow
async def test_private_influxdb_keeps_points_across_stop_and_start(
    fault_influxdb: FaultInfluxDB,
) -> None:
    server, database = fault_influxdb.server, fault_influxdb.database
    async with httpx.AsyncClient(base_url=server.url) as http:
        (
            await http.post("/query", params={"q": f'CREATE DATABASE "{database}"'})
        ).raise_for_status()
        lines = "\n".join(f"m,k=v n={number}i {number}" for number in range(1, 51))
        (await http.post("/write", params={"db": database}, content=lines)).raise_for_status()
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)
    rows = await asyncio.to_thread(server.query, database, "SELECT count(n) FROM m")
    assert rows[0][1] == 50

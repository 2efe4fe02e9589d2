"""The 2.x read path: the Flux query and the reading of its CSV answer.

The InfluxDB installed here (1.6) has no Flux engine, so the query cannot run in the test
suite; these tests pin the query the sink sends and the parsing of the CSV that 2.x answers
(its documented layout: a header row per table, tables separated by a blank line).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cellmon.core.timeseries.base import CountBucket
from cellmon.core.timeseries.influx import build_flux_count, parse_flux_counts


def test_flux_counts_points_per_window_with_escaped_filters() -> None:
    flux = build_flux_count(
        "progress_bucket",
        "student_progress",
        1_700_000_000_000_000_000,
        1_700_000_180_000_000_000,
        60,
        {"event": ["cell_executed"], "userId": ['a"b', "${c}"]},
        {"success": False},
    )
    assert flux == "\n  |> ".join(
        [
            'from(bucket: "progress_bucket")',
            "range(start: time(v: 1700000000000000000), stop: time(v: 1700000180000000000))",
            'filter(fn: (r) => r._measurement == "student_progress")',
            'filter(fn: (r) => r["event"] == "cell_executed")',
            r'filter(fn: (r) => r["userId"] == "a\"b" or r["userId"] == "\${c}")',
            'pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
            'filter(fn: (r) => exists r["success"] and r["success"] == false)',
            "map(fn: (r) => ({_time: r._time, _value: 1}))",
            "group()",
            'aggregateWindow(every: 60s, fn: count, timeSrc: "_start", createEmpty: false)',
        ]
    )


def test_flux_csv_answer_becomes_buckets_in_time_order() -> None:
    body = (
        ",result,table,_start,_stop,_time,_value\r\n"
        ",_result,0,2026-11-29T09:00:00Z,2026-11-29T09:03:00Z,2026-11-29T09:02:00Z,1\r\n"
        ",_result,0,2026-11-29T09:00:00Z,2026-11-29T09:03:00Z,2026-11-29T09:00:00Z,4\r\n"
        "\r\n"
        ",result,table,_start,_stop,_time,_value\r\n"
        ",_result,1,2026-11-29T09:00:00Z,2026-11-29T09:03:00Z,2026-11-29T09:01:00.000000000Z,2\r\n"
        "\r\n"
    )
    minute = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert parse_flux_counts(body) == [
        CountBucket(minute, 4),
        CountBucket(minute.replace(minute=1), 2),
        CountBucket(minute.replace(minute=2), 1),
    ]
    assert parse_flux_counts("\r\n") == []


def _one_time_answer(time: str) -> str:
    return f",result,table,_time,_value\r\n,_result,0,{time},3\r\n"


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2026-11-29T09:01:00Z", datetime(2026, 11, 29, 9, 1, tzinfo=UTC)),
        ("2026-11-29T09:01:00.5Z", datetime(2026, 11, 29, 9, 1, 0, 500_000, tzinfo=UTC)),
        ("2026-11-29T09:01:00.123456789Z", datetime(2026, 11, 29, 9, 1, 0, 123_456, tzinfo=UTC)),
        ("2026-11-29T18:01:00+09:00", datetime(2026, 11, 29, 9, 1, tzinfo=UTC)),
        ("2026-11-29T18:01:00.000000000+09:00", datetime(2026, 11, 29, 9, 1, tzinfo=UTC)),
        ("2026-11-29T18:01:00.25+09:00", datetime(2026, 11, 29, 9, 1, 0, 250_000, tzinfo=UTC)),
        ("2026-11-29T04:31:00.000001-04:30", datetime(2026, 11, 29, 9, 1, 0, 1, tzinfo=UTC)),
        ("2026-11-29t09:01:00.1z", datetime(2026, 11, 29, 9, 1, 0, 100_000, tzinfo=UTC)),
    ],
)
def test_flux_times_keep_their_offset_and_fraction(written: str, instant: datetime) -> None:
    [bucket] = parse_flux_counts(_one_time_answer(written))
    assert bucket.start == instant
    assert bucket.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "written", ["2026-11-29T09:01:00", "2026-11-29T09:01:00.123", "2026-11-29T09:01:00.Z"]
)
def test_flux_time_without_a_zone_is_refused_not_read_as_local(written: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_flux_counts(_one_time_answer(written))

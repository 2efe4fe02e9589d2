"""Line protocol encoding and InfluxQL / Flux quoting (the server round trip is in test_influx)."""

from __future__ import annotations

import math

import pytest

from cellmon.core.timeseries.base import Point
from cellmon.core.timeseries.influx import flux_string
from cellmon.core.timeseries.line_protocol import (
    encode_point,
    escape_key,
    escape_measurement,
    escape_string_field,
    influxql_identifier,
    influxql_string,
)


def point(**changes: object) -> Point:
    values: dict[str, object] = {
        "measurement": "student_progress",
        "tags": {"userId": "u1", "event": "cell_executed"},
        "fields": {"cellId": "c1"},
        "time_ns": 1_700_000_000_123_456_789,
    }
    values.update(changes)
    return Point(**values)  # type: ignore[arg-type]


def test_a_point_is_one_line_with_sorted_tags_and_typed_fields() -> None:
    line = encode_point(
        point(fields={"cellId": "c1", "executionCount": 3, "success": True, "duration": 0.25})
    )
    assert line == (
        "student_progress,event=cell_executed,userId=u1 "
        'cellId="c1",executionCount=3i,success=true,duration=0.25 1700000000123456789'
    )


def test_the_same_tags_in_any_order_give_the_same_line() -> None:
    forward = {"userId": "u1", "event": "cell_executed", "notebook": "a b.ipynb"}
    backward = dict(reversed(forward.items()))
    assert encode_point(point(tags=forward)) == encode_point(point(tags=backward))
    assert encode_point(point(tags=backward)).startswith(
        r"student_progress,event=cell_executed,notebook=a\ b.ipynb,userId=u1 "
    )


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain", "plain"),
        ("a b", r"a\ b"),
        ("a,b", r"a\,b"),
        ("a=b", r"a\=b"),
        ("チームA", "チームA"),
        ('q"uote', 'q"uote'),
        (r"back\slash", r"back\slash"),
        ("new\nline", r"new\nline"),
        # Cases line protocol cannot express exactly: it must still parse.
        (r"bs\,comma", r"bs\\\,comma"),
        ("end\\", "end"),
    ],
)
def test_tag_keys_and_values_escape_what_the_parser_splits_on(text: str, escaped: str) -> None:
    assert escape_key(text) == escaped


def test_measurement_escapes_comma_and_space_but_not_equals() -> None:
    assert escape_measurement("m e,a=s") == r"m\ e\,a=s"


def test_string_fields_escape_quotes_backslashes_and_newlines() -> None:
    assert escape_string_field('say "hi"\\\n') == r'"say \"hi\"\\\n"'


def test_empty_tag_values_are_left_out() -> None:
    line = encode_point(point(tags={"userId": "u1", "team": "", "": "x", "trail": "\\"}))
    assert line is not None
    assert line.startswith("student_progress,userId=u1 ")


def test_booleans_are_not_written_as_integers() -> None:
    line = encode_point(point(fields={"success": False, "count": 0}))
    assert line is not None
    assert " success=false,count=0i " in line


def test_non_finite_floats_are_left_out_and_a_point_without_fields_is_skipped() -> None:
    line = encode_point(point(fields={"duration": math.nan, "cellId": "c"}))
    assert line is not None
    assert "duration" not in line
    assert encode_point(point(fields={"duration": math.inf})) is None


def test_influxql_quoting() -> None:
    assert influxql_identifier('we"ird\\') == r'"we\"ird\\"'
    assert influxql_string("it's \\") == r"'it\'s \\'"


def test_flux_strings_escape_quotes_and_interpolation() -> None:
    assert flux_string('a"b\\${c}') == r'"a\"b\\\${c}"'


def test_fields_whose_key_cannot_be_written_are_left_out_whatever_their_type() -> None:
    line = encode_point(point(fields={"": 1, "\\": "x", "\\\\": True, "count": 2}))
    assert line is not None
    assert line.endswith(" count=2i 1700000000123456789")


def test_series_are_cached_by_measurement_tag_keys_and_tag_values() -> None:
    first = encode_point(point(measurement="m1", fields={"n": 1}))
    assert first == "m1,event=cell_executed,userId=u1 n=1i 1700000000123456789"
    # The same tag values under other keys, or under another measurement, are another series.
    swapped = point(measurement="m1", tags={"event": "u1", "userId": "cell_executed"})
    assert encode_point(swapped) == (
        'm1,event=u1,userId=cell_executed cellId="c1" 1700000000123456789'
    )
    assert encode_point(point(measurement="m2", fields={"n": 1})) == (
        "m2,event=cell_executed,userId=u1 n=1i 1700000000123456789"
    )


def test_a_string_field_value_is_cached_per_key() -> None:
    line = encode_point(point(fields={"a": "v", "b c": "v", "d": 'q"'}))
    assert line is not None
    assert ' a="v",b\\ c="v",d="q\\"" ' in line

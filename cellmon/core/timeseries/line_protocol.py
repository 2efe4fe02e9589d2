"""InfluxDB line protocol (the same for the 1.x and 2.x write APIs), and InfluxQL quoting.

Escaping follows the parser of InfluxDB itself: in measurements, tag keys, tag values and field
keys a backslash escapes only a comma, an equals sign or a space (the measurement: comma and
space); any other backslash is kept as it is. Three cases the protocol cannot express exactly:
a backslash right before one of those characters is doubled (so the line parses; InfluxDB 1.x
then stores both backslashes), trailing backslashes are dropped (InfluxDB 1.x parses no key or
tag value that ends with one), and a newline, which line protocol supports in no key or value,
is written as the two characters `\\n`. String field values escape the double quote and the
backslash (their newlines too become `\\n`). So every line is one line of text, and a stored
batch can be split on newlines again.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping

from cellmon.core.timeseries.base import FieldValue, Point

logger = logging.getLogger(__name__)

CACHE_SIZE = 1 << 16

_KEY_SPECIALS = re.compile(r"(\\*)([,= ])")
_MEASUREMENT_SPECIALS = re.compile(r"(\\*)([, ])")
_ANY_SPECIAL = re.compile(r"[,= \\\n]")


def _escape(text: str, specials: re.Pattern[str]) -> str:
    if _ANY_SPECIAL.search(text) is None:
        return text

    # Double the backslashes right before a special character, then escape it.
    def replace(match: re.Match[str]) -> str:
        return match.group(1) * 2 + "\\" + match.group(2)

    return specials.sub(replace, text.replace("\n", "\\n").rstrip("\\"))


# Names, tag values and many string values (paths, cell ids) repeat from point to point: the
# caches make encoding about twice as fast.
@functools.lru_cache(maxsize=CACHE_SIZE)
def escape_measurement(name: str) -> str:
    return _escape(name, _MEASUREMENT_SPECIALS)


@functools.lru_cache(maxsize=CACHE_SIZE)
def escape_key(text: str) -> str:
    """A tag key, a tag value or a field key."""
    return _escape(text, _KEY_SPECIALS)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _tag(key: str, value: str) -> str:
    escaped_key, escaped_value = escape_key(key), escape_key(value)
    # Empty tag keys or values cannot be written; a missing tag is the same as an empty one.
    return f",{escaped_key}={escaped_value}" if escaped_key and escaped_value else ""


# A class has a few thousand series: a point's measurement and tag set are escaped and joined
# once per series, not once per point. Keys and values come as flat tuples of strings, which
# hash faster than a tuple of pairs.
@functools.lru_cache(maxsize=CACHE_SIZE)
def _series(measurement: str, keys: tuple[str, ...], values: tuple[str, ...]) -> str:
    tag_set = "".join([_tag(key, value) for key, value in sorted(zip(keys, values, strict=True))])
    return escape_measurement(measurement) + tag_set


def encode_series(measurement: str, tags: Mapping[str, str]) -> str:
    """The measurement and tag set that start each line of the series."""
    return _series(measurement, tuple(tags), tuple(tags.values()))


_ESCAPED_KEY_SPECIAL = re.compile(r"\\([,= ])")


def stored_tag_value(value: str) -> str:
    """The value InfluxDB keeps for a tag written as `value` by this module: its parser
    removes the backslash before a comma, an equals sign or a space and keeps any other
    (so it differs from `value` only in the cases the module's docstring names)."""
    return _ESCAPED_KEY_SPECIAL.sub(r"\1", escape_key(value))


def _series_parts(line: str) -> list[str]:
    """The escaped measurement and `key=value` tags that start a line, as written."""
    parts: list[str] = []
    start = index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            # As InfluxDB's parser does: an escaping backslash hides the next character.
            index += 2
            continue
        if char in ", ":
            parts.append(line[start:index])
            if char == " ":
                return parts
            start = index + 1
        index += 1
    parts.append(line[start:])
    return parts


def line_has_tag(line: str, measurement: str, key: str, value: str) -> bool:
    """Whether a line of this module's writing is a point of the measurement with that tag."""
    measurement_part, *tags = _series_parts(line)
    return measurement_part == escape_measurement(measurement) and (
        f"{escape_key(key)}={escape_key(value)}" in tags
    )


@functools.lru_cache(maxsize=CACHE_SIZE)
def escape_string_field(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@functools.lru_cache(maxsize=CACHE_SIZE)
def _field_key(key: str) -> str:
    """`key=`, or "" for a key that cannot be written (empty once escaped)."""
    escaped = escape_key(key)
    return f"{escaped}=" if escaped else ""


# Many string fields (paths, cell ids) repeat with their key from point to point.
@functools.lru_cache(maxsize=CACHE_SIZE)
def _string_field(key: str, value: str) -> str:
    field_key = _field_key(key)
    return field_key + escape_string_field(value) if field_key else ""


def encode_field_value(value: FieldValue) -> str | None:
    """The value as line protocol, or None for a float InfluxDB cannot store (NaN, ±inf)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return escape_string_field(value)


def encode_field(key: str, value: FieldValue) -> str | None:
    """`key=value`; "" when the key cannot be written, None for a float InfluxDB cannot store."""
    # The common types first, by exact type (a bool is an int too).
    kind = type(value)
    if kind is str:
        return _string_field(key, value)
    field_key = _field_key(key)
    if kind is int:
        return f"{field_key}{value}i" if field_key else ""
    encoded = encode_field_value(value)
    if encoded is None:
        return None
    return field_key + encoded if field_key else ""


def encode_point(point: Point) -> str | None:
    """One line, or None (logged) when the point has no field InfluxDB can store."""
    fields = []
    for key, value in point.fields.items():
        field = encode_field(key, value)
        if field is None:
            logger.warning(
                "time-series field %s=%r of %s is not a finite number; left out",
                key,
                value,
                point.measurement,
            )
        elif field:
            fields.append(field)
    if not fields:
        # Not the point itself: its tags name the student.
        logger.error(
            "time-series point of %s has no storable field: %s",
            point.measurement,
            ", ".join(point.fields) or "no fields",
        )
        return None
    series = encode_series(point.measurement, point.tags)
    return f"{series} {','.join(fields)} {point.time_ns}"


def encode_points(points: Iterable[Point]) -> Iterator[str]:
    for point in points:
        line = encode_point(point)
        if line is not None:
            yield line


def influxql_identifier(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def influxql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def influxql_literal(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return influxql_string(value)

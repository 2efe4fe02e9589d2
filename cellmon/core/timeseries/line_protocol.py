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
from collections.abc import Iterable, Iterator

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


@functools.lru_cache(maxsize=CACHE_SIZE)
def _tag_set(tags: tuple[tuple[str, str], ...]) -> str:
    # Points of one series repeat their tags, mostly in the same order.
    return "".join([_tag(key, value) for key, value in sorted(tags)])


@functools.lru_cache(maxsize=CACHE_SIZE)
def escape_string_field(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def encode_field_value(value: FieldValue) -> str | None:
    """The value as line protocol, or None for a float InfluxDB cannot store (NaN, ±inf)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return escape_string_field(value)


def encode_point(point: Point) -> str | None:
    """One line, or None (logged) when the point has no field InfluxDB can store."""
    fields = []
    for key, value in point.fields.items():
        encoded = encode_field_value(value)
        if encoded is None:
            logger.warning(
                "time-series field %s=%r of %s is not a finite number; left out",
                key,
                value,
                point.measurement,
            )
            continue
        escaped_key = escape_key(key)
        if escaped_key:
            fields.append(f"{escaped_key}={encoded}")
    if not fields:
        logger.error("time-series point of %s has no storable field: %r", point.measurement, point)
        return None
    tags = _tag_set(tuple(point.tags.items()))
    return f"{escape_measurement(point.measurement)}{tags} {','.join(fields)} {point.time_ns}"


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

from cellmon.core.timeseries.base import (
    CountBucket,
    DeletedPoints,
    FieldValue,
    LineProtocolPoints,
    Point,
    TimeSeriesSink,
)

__all__ = [
    "CountBucket",
    "DeletedPoints",
    "FieldValue",
    "LineProtocolPoints",
    "Point",
    "TimeSeriesSink",
]

from cellmon.core.timeseries.base import (
    CountBucket,
    FieldValue,
    LineProtocolPoints,
    Point,
    TimeSeriesSink,
)

__all__ = ["CountBucket", "FieldValue", "LineProtocolPoints", "Point", "TimeSeriesSink"]

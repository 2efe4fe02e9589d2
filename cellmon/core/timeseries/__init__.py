from cellmon.core.timeseries.base import CountBucket, FieldValue, Point, TimeSeriesSink

__all__ = ["CountBucket", "FieldValue", "Point", "TimeSeriesSink"]

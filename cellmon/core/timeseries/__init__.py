from cellmon.core.timeseries.base import Point, TimeSeriesSink

__all__ = ["Point", "TimeSeriesSink"]

"""Delivery days and resolutions: UTC inside, delivery days cut in Europe/Berlin.

A German delivery day has 92, 96 or 100 quarter-hours (spring-forward, normal, fall-back day).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

MARKET_TZ = "Europe/Berlin"
QUARTER_HOUR = pd.Timedelta(minutes=15)
DT_H = 0.25  # a quarter-hour [h]: the step of delivery, settlement and the LPs


def _as_date(day: dt.date | str | pd.Timestamp) -> dt.date:
    return pd.Timestamp(day).date()


def quarter_hours(start: dt.date | str, end: dt.date | str) -> pd.DatetimeIndex:
    """UTC quarter-hours of the delivery days ``start`` (inclusive) to ``end`` (exclusive), Berlin calendar."""
    start_utc = pd.Timestamp(_as_date(start)).tz_localize(MARKET_TZ).tz_convert("UTC")
    end_utc = pd.Timestamp(_as_date(end)).tz_localize(MARKET_TZ).tz_convert("UTC")
    if end_utc <= start_utc:
        raise ValueError(f"end {end} must be after start {start}")
    return pd.date_range(start_utc, end_utc, freq=QUARTER_HOUR, inclusive="left", name="timestamp")


def delivery_day_index(day: dt.date | str) -> pd.DatetimeIndex:
    """UTC quarter-hours of one Berlin delivery day (92, 96 or 100 of them)."""
    d = _as_date(day)
    return quarter_hours(d, d + dt.timedelta(days=1))


def delivery_dates(index: pd.DatetimeIndex) -> np.ndarray:
    """The Berlin delivery date of each UTC timestamp, as ``datetime64[D]``."""
    local = index.tz_convert(MARKET_TZ).tz_localize(None)
    return local.to_numpy().astype("datetime64[D]")


def split_days(index: pd.DatetimeIndex) -> list[slice]:
    """Positional slices of ``index`` per Berlin delivery day, in order."""
    dates = delivery_dates(index)
    starts = np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]])
    ends = np.r_[starts[1:], len(index)]
    return [slice(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def complete_days(index: pd.DatetimeIndex) -> list[slice]:
    """:func:`split_days` less partial days: only whole delivery days (92, 96 or 100 quarter-hours from local
    midnight) are simulated or valued."""
    local = index.tz_convert(MARKET_TZ)
    return [s for s in split_days(index) if s.stop - s.start in (92, 96, 100)
            and local[s.start].hour == 0 and local[s.start].minute == 0]


def local_hour(index: pd.DatetimeIndex) -> np.ndarray:
    """Hour of day in Berlin local time (0-23) for each UTC timestamp."""
    return index.tz_convert(MARKET_TZ).hour.to_numpy()


def block_of_hour(hour_local):
    """Index 0-5 of the 4 h reserve block (00-04, ..., 20-24 local time) of a local hour (int or array)."""
    return hour_local // 4


def block_of_day(index: pd.DatetimeIndex) -> np.ndarray:
    """:func:`block_of_hour` of each UTC timestamp."""
    return block_of_hour(local_hour(index))


def hourly_to_quarter_hourly(series: pd.Series) -> pd.Series:
    """Repeat an hourly UTC series over its four quarter-hours (hourly products, e.g. DA before Oct 2025)."""
    if series.index.tz is None:
        raise ValueError("hourly series must be tz-aware")
    idx = series.index.tz_convert("UTC")
    full = pd.date_range(idx[0], idx[-1] + pd.Timedelta(hours=1), freq=QUARTER_HOUR, inclusive="left",
                         name="timestamp")
    return pd.Series(series.to_numpy(), index=idx).reindex(full.floor("h")).set_axis(full).rename(series.name)


def blocks_to_quarter_hourly(block_values: pd.Series, index: pd.DatetimeIndex) -> pd.Series:
    """Spread 4 h block values onto ``index``.

    ``block_values`` is indexed by the tz-aware start of each block (local 00, 04, ... 20 h). Each quarter-hour
    takes the value of the block it falls in; on daylight-saving days a block is 3 or 5 hours long.
    """
    starts = block_values.index.tz_convert(MARKET_TZ)
    key_src = pd.MultiIndex.from_arrays([starts.tz_localize(None).normalize(), block_of_hour(starts.hour)])
    local = index.tz_convert(MARKET_TZ)
    key_dst = pd.MultiIndex.from_arrays([local.tz_localize(None).normalize(), block_of_hour(local.hour)])
    values = pd.Series(block_values.to_numpy(), index=key_src)
    if values.index.duplicated().any():
        raise ValueError(f"duplicated 4 h block at {values.index[values.index.duplicated()][0]}")
    return pd.Series(values.reindex(key_dst).to_numpy(), index=index, name=block_values.name)

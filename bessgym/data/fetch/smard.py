"""SMARD (Bundesnetzagentur): day-ahead price and day-ahead PV forecast through its chart-data JSON files.

``https://www.smard.de/app/chart_data/{filter}/{region}/index_{resolution}.json`` lists the start (ms, UTC) of
each weekly file ``{filter}_{region}_{resolution}_{start}.json``, whose ``series`` holds ``[ms, value]`` pairs.
Filters: 4169 wholesale price DE-LU [EUR/MWh]; 125 forecast PV generation DE [MWh per interval]. The price is
hourly up to 30 Sep 2025 and quarter-hourly from the 15-min day-ahead auction on (1 Oct 2025).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from bessgym.data.calendar import DT_H, hourly_to_quarter_hourly
from bessgym.data.fetch.base import CHANGED, DailySource, Provenance, day_bounds, on_day
from bessgym.data.fetch.errors import FormatChanged, NotCovered
from bessgym.data.fetch.http import Http, read_json
from bessgym.data.loaders import _pv_capacity

BASE = "https://www.smard.de/app/chart_data"
QUARTER_HOURLY_PRICE_FROM = dt.date(2025, 10, 1)
_FILTERS = {"da_price": (4169, "DE-LU"), "pv_per_mwp": (125, "DE")}


class Smard(DailySource):
    def __init__(self, pv_capacity_mwp: float | None = None) -> None:
        super().__init__(
            name="smard", licence="CC BY 4.0", attribution="Bundesnetzagentur | SMARD.de",
            columns={"da_price": "day-ahead price DE-LU (filter 4169)",
                     "pv_per_mwp": "day-ahead PV forecast DE (filter 125) / installed PV"},
            first_day={"da_price": dt.date(2018, 10, 1), "pv_per_mwp": dt.date(2015, 1, 5)}, min_interval_s=0.2,
            pv_capacity_mwp=pv_capacity_mwp)

    def column_days(self, column: str, days: Sequence[dt.date], http: Http, record: Provenance,
                    tick: Callable[[], None], env: dict[str, str]) -> Iterator[pd.Series]:
        for resolution, group in _by_resolution(column, days):
            week = _Weeks(self.name, column, resolution, http, record)
            for day in group:
                yield week.day(day, self.pv_capacity_mwp)
                tick()


def _by_resolution(column: str, days: Sequence[dt.date]) -> list[tuple[str, list[dt.date]]]:
    if column != "da_price":
        return [("hour", list(days))]
    groups = {"hour": [d for d in days if d < QUARTER_HOURLY_PRICE_FROM],
              "quarterhour": [d for d in days if d >= QUARTER_HOURLY_PRICE_FROM]}
    return [(res, group) for res, group in groups.items() if group]


class _Weeks:
    """The weekly files of one filter and resolution, from the cache or (after one index request) from SMARD."""

    def __init__(self, source: str, column: str, resolution: str, http: Http, record: Provenance) -> None:
        self.source, self.column, self.resolution, self.http, self.record = source, column, resolution, http, record
        self.filter, self.region = _FILTERS[column]
        self.prefix = f"{self.filter}_{self.region}_{resolution}_"
        self.loaded: dict[int, pd.Series] = {}
        self.index: list[int] | None = None

    def day(self, day: dt.date, pv_capacity_mwp: float | None) -> pd.Series:
        lo, _ = day_bounds(day)
        start_ms = int(lo.value // 1_000_000)
        week = self._week_of(start_ms, day)
        values = hourly_to_quarter_hourly(week) if self.resolution == "hour" else week
        if self.column == "pv_per_mwp":
            step_h = 1.0 if self.resolution == "hour" else DT_H
            cap = pv_capacity_mwp if pv_capacity_mwp is not None else _pv_capacity(values.index)
            values = (values / step_h / cap).clip(lower=0.0)
        return on_day(values, day, source=self.source, column=self.column)

    def _week_of(self, start_ms: int, day: dt.date) -> pd.Series:
        for ts, series in self.loaded.items():
            if ts <= start_ms < _week_end(ts):
                return series
        names = (p.name[len(self.prefix):-5] for p in self.http.path(self.source, "x").parent.glob(f"{self.prefix}*"))
        cached = sorted(int(n) for n in names if n.isdigit())
        ts = max((t for t in cached if t <= start_ms), default=None)
        if ts is None or start_ms >= _week_end(ts):
            ts = self._listed_week(start_ms, day)
        return self._load(ts, day)

    def _listed_week(self, start_ms: int, day: dt.date) -> int:
        if self.index is None:
            url = f"{BASE}/{self.filter}/{self.region}/index_{self.resolution}.json"
            listing = self.http.get(self.source, f".index/{self.filter}_{self.region}_{self.resolution}.json", url,
                                    day=day, keep=lambda body: False)  # the index grows every week: never cached
            payload = read_json(listing, source=self.source, day=day)
            if not isinstance(payload, dict) or not isinstance(payload.get("timestamps"), list):
                raise FormatChanged(f"{url} has no 'timestamps' list", source=self.source, day=day, hint=CHANGED)
            self.index = sorted(int(t) for t in payload["timestamps"])
        ts = max((t for t in self.index if t <= start_ms), default=None)
        if ts is None:
            raise NotCovered(f"SMARD lists no {self.resolution} file of filter {self.filter} for this day",
                             source=self.source, day=day, hint="fetch from a later --start")
        return ts

    def _load(self, ts: int, day: dt.date) -> pd.Series:
        key = f"{self.prefix}{ts}.json"
        url = f"{BASE}/{self.filter}/{self.region}/{key}"
        cached = self.http.get(self.source, key, url, day=day, keep=_complete)
        self.record.add(cached)
        payload = read_json(cached, source=self.source, day=day)
        try:
            points = np.asarray(payload["series"], dtype=float).reshape(-1, 2)
        except (KeyError, TypeError, ValueError):
            raise FormatChanged(f"{url} has no 'series' of [ms, value] pairs", source=self.source, day=day,
                                hint=CHANGED) from None
        index = pd.DatetimeIndex(pd.to_datetime(points[:, 0].astype("int64"), unit="ms", utc=True), name="timestamp")
        series = pd.Series(points[:, 1], index=index, name=self.column)
        self.loaded[ts] = series
        return series


def _week_end(ts: int) -> int:
    """The start [ms] of the week after the one starting at ``ts`` (7 Berlin days: 167 to 169 hours)."""
    start = pd.Timestamp(ts, unit="ms", tz="UTC").tz_convert("Europe/Berlin")
    return int((start + pd.DateOffset(days=7)).tz_convert("UTC").value // 1_000_000)


def _complete(body: bytes) -> bool:
    """A weekly file is cached only when every value is published (the current week still has nulls)."""
    try:
        series = json.loads(body)["series"]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(series) and all(value is not None for _, value in series)

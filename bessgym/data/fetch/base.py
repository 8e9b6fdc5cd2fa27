"""What every source shares: its licence, the columns it offers, the days of a request and provenance records."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pandas as pd

from bessgym.data.calendar import MARKET_TZ, QUARTER_HOUR
from bessgym.data.contract import MarketDataError
from bessgym.data.fetch.errors import FormatChanged, NotCovered
from bessgym.data.fetch.http import Cached, Http

CHANGED = "the source may have changed its format; download the data by hand and use `bessgym data import`"


@dataclass
class Provenance:
    """Where one column came from: source, licence, the requests made (one shown, all counted), retrieval times."""

    source: str
    licence: str
    attribution: str
    request: str = ""
    requests: int = 0
    first_retrieved_utc: str = ""
    last_retrieved_utc: str = ""

    def add(self, cached: Cached) -> None:
        self.request = self.request or cached.url
        self.requests += 1
        times = [t for t in (self.first_retrieved_utc, cached.retrieved_utc) if t]
        self.first_retrieved_utc = min(times)
        self.last_retrieved_utc = max(self.last_retrieved_utc, cached.retrieved_utc)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(eq=False)
class Source(ABC):
    """A public source: ``columns`` it offers (contract name -> what it is), ``needs`` (environment variables),
    ``first_day`` per column (the first delivery day it covers), ``min_interval_s`` between requests,
    ``on_request``: columns fetched only when asked for by name; ``pv_capacity_mwp``: the installed PV that a
    national PV series is divided by (None: the year-end figures of :mod:`bessgym.data.loaders`).

    A source implements :meth:`fetch`; most do it a column and a day at a time, as :class:`DailySource`."""

    name: str = ""
    licence: str = ""
    attribution: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    first_day: dict[str, dt.date] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    min_interval_s: float = 0.5
    on_request: tuple[str, ...] = ()  # offered, but fetched only when named in ``columns``
    pv_capacity_mwp: float | None = None

    def steps(self, days: Sequence[dt.date], columns: Sequence[str]) -> int:
        """How many progress steps :meth:`fetch` takes (a request or a cache hit each)."""
        return len(days) * len(columns)

    @abstractmethod
    def fetch(self, days: Sequence[dt.date], columns: Sequence[str], http: Http, tick: Callable[[], None],
              env: dict[str, str]) -> tuple[dict[str, pd.Series], dict[str, Provenance]]:
        """Every column on every day (UTC quarter-hours) and where each came from; ``tick`` after each of
        :meth:`steps`."""

    def provenance(self) -> Provenance:
        return Provenance(self.name, self.licence, self.attribution)

    def check_covered(self, column: str, days: Sequence[dt.date]) -> None:
        first = self.first_day.get(column)
        if first is not None and days[0] < first:
            raise NotCovered(f"{column} starts on {first:%Y-%m-%d} at this source", source=self.name, day=days[0],
                             hint="fetch from a later --start, or choose another source with --sources")
        today = pd.Timestamp.now(tz=MARKET_TZ).date()
        if days[-1] > today + dt.timedelta(days=1):
            raise NotCovered("the day is not yet published (it lies in the future)", source=self.name, day=days[-1],
                             hint="choose an --end up to tomorrow")


def day_bounds(day: dt.date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC start of a Berlin delivery day and of the next one."""
    start = pd.Timestamp(day, tz=MARKET_TZ)
    return start.tz_convert("UTC"), pd.Timestamp(day + dt.timedelta(days=1), tz=MARKET_TZ).tz_convert("UTC")


def on_day(series: pd.Series, day: dt.date, *, source: str, column: str) -> pd.Series:
    """The quarter-hours of ``day`` from a series that covers it: every one present and finite, else NotCovered."""
    lo, hi = day_bounds(day)
    grid = pd.date_range(lo, hi, freq=QUARTER_HOUR, inclusive="left", name="timestamp")
    part = series.reindex(grid)
    if part.isna().any():
        missing = part.index[part.isna()]
        raise NotCovered(f"{column}: {len(missing)} of {len(grid)} quarter-hours have no value, the first at "
                         f"{missing[0]} (not yet published, or a gap at the source)", source=source, day=day,
                         hint="choose other dates, or import a repaired file with `bessgym data import --fill-gaps`")
    return part.rename(column)


def parsed(read: Callable[[], pd.DataFrame], *, source: str, day: dt.date, url: str,
           passes: type[MarketDataError] | tuple[()] = ()) -> pd.DataFrame:
    """Run a loader on a cached response; its MarketDataError becomes FormatChanged naming the request, except
    the ``passes`` kind, which the caller names itself."""
    try:
        return read()
    except passes:
        raise
    except MarketDataError as exc:
        raise FormatChanged(f"the response from {url} cannot be read ({exc})", source=source, day=day,
                            hint=CHANGED) from None


class DailySource(Source):
    """A source whose columns are fetched one at a time, day by day (:meth:`column_days`)."""

    def fetch(self, days: Sequence[dt.date], columns: Sequence[str], http: Http, tick: Callable[[], None],
              env: dict[str, str]) -> tuple[dict[str, pd.Series], dict[str, Provenance]]:
        out, records = {}, {}
        for column in columns:
            self.check_covered(column, days)
            records[column] = self.provenance()
            out[column] = pd.concat(list(self.column_days(column, days, http, records[column], tick, env)))
        return out, records

    @abstractmethod
    def column_days(self, column: str, days: Sequence[dt.date], http: Http, record: Provenance,
                    tick: Callable[[], None], env: dict[str, str]) -> Iterator[pd.Series]:
        """``column`` day by day, each request added to ``record``, ``tick`` after each day."""

"""``bessgym data fetch``: a validated contract table from the public sources, with provenance per column."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import requests

from bessgym.data.contract import COLUMNS, MarketDataError
from bessgym.data.fetch.base import Provenance, Source
from bessgym.data.fetch.energy_charts import EnergyCharts
from bessgym.data.fetch.entsoe import Entsoe
from bessgym.data.fetch.errors import FetchError
from bessgym.data.fetch.http import Http, default_cache_dir
from bessgym.data.fetch.netztransparenz import Netztransparenz
from bessgym.data.fetch.regelleistung import Regelleistung
from bessgym.data.fetch.smard import Smard
from bessgym.data.importer import combine

SOURCES: dict[str, type[Source]] = {"smard": Smard, "energy_charts": EnergyCharts, "regelleistung": Regelleistung,
                                    "netztransparenz": Netztransparenz, "entsoe": Entsoe}
DEFAULT_SOURCES = ("smard", "regelleistung")  # the two that need no account


@dataclass
class Fetched:
    """A fetched contract table (provenance in ``table.attrs["provenance"]``) and the requests it took."""

    table: pd.DataFrame
    provenance: dict[str, Provenance]
    sent: int
    cache_hits: int
    fallbacks: list[str] = field(default_factory=list)


def fetch_table(start: dt.date, end: dt.date, *, sources: Sequence[str] = DEFAULT_SOURCES,
                columns: Sequence[str] | None = None, cache_dir: str | os.PathLike[str] | None = None,
                session: requests.Session | None = None, offline: bool = False,
                pv_capacity_mwp: float | None = None, env: Mapping[str, str] | None = None,
                progress=None, http_options: Mapping[str, object] | None = None) -> Fetched:
    """Fetch the delivery days ``start`` (inclusive) to ``end`` (exclusive, Berlin dates) from ``sources``.

    Each column comes from the first source in ``sources`` that offers it; when that source fails (any
    :class:`~bessgym.data.fetch.errors.FetchError`) and a later one offers the column too, the column is fetched
    there instead and the fallback is reported. ``columns``: the contract columns to fetch (default: every
    column the sources offer but their ``on_request`` ones). ``session``: the ``requests.Session`` to use
    (tests pass a replaying one); ``offline``: only the cache; ``progress``: a ``rich.progress.Progress`` to
    report on; ``http_options``: :class:`~bessgym.data.fetch.http.Http` fields (retries, backoff, sleep). Any
    failure raises: nothing partial is returned, and what was fetched stays in the cache for the next run.
    """
    if start >= end:
        raise ValueError(f"--start {start} must be before --end {end}")
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise ValueError(f"unknown sources {unknown}; choose from {sorted(SOURCES)}")
    options = {"pv_capacity_mwp": pv_capacity_mwp}
    chosen = [SOURCES[name](**options) if name in ("smard", "energy_charts") else SOURCES[name]()
              for name in dict.fromkeys(sources)]
    plan = _plan(chosen, columns)
    env = dict(os.environ if env is None else env)
    http = Http(cache_dir=Path(cache_dir) if cache_dir is not None else default_cache_dir(),
                session=session or requests.Session(), offline=offline,
                min_interval_s={s.name: s.min_interval_s for s in chosen}, **(http_options or {}))
    days = [start + dt.timedelta(days=k) for k in range((end - start).days)]
    series: dict[str, pd.Series] = {}
    provenance: dict[str, Provenance] = {}
    fallbacks: list[str] = []
    for source, wanted in plan.items():
        got, records = _run(source, days, wanted, http, env, progress)
        if isinstance(got, FetchError):
            for column in wanted:
                alternative = next((s for s in chosen if s is not source and column in s.columns
                                    and chosen.index(s) > chosen.index(source)), None)
                if alternative is None:
                    raise got
                fallbacks.append(f"{column}: {source.name} failed ({got}); fetched from {alternative.name}")
                got2, records2 = _run(alternative, days, [column], http, env, progress)
                if isinstance(got2, FetchError):
                    raise got2
                series.update(got2)
                provenance.update(records2)
            continue
        series.update(got)
        provenance.update(records)
    frames = [s.to_frame() for s in series.values()]
    table, _ = combine(frames, sources=[f"{provenance[c].source}:{c}" for c in series])
    table = table[[c for c in COLUMNS if c in table.columns]]
    table.attrs["provenance"] = {c: provenance[c].as_dict() for c in table.columns}
    return Fetched(table, provenance, http.sent, http.hits, fallbacks)


def _plan(chosen: list[Source], columns: Sequence[str] | None) -> dict[Source, list[str]]:
    offered = [c for s in chosen for c in s.columns if c not in s.on_request]
    wanted = list(dict.fromkeys(columns if columns is not None else offered))
    plan: dict[Source, list[str]] = {}
    for column in wanted:
        source = next((s for s in chosen if column in s.columns), None)
        if source is None:
            where = [name for name, cls in SOURCES.items() if column in _offers(cls)]
            raise MarketDataError(f"no chosen source offers this column (sources offering it: {where or 'none'})",
                                  source="bessgym data fetch", column=column)
        plan.setdefault(source, []).append(column)
    if "da_price" not in wanted:  # the contract's one required column
        raise MarketDataError("a contract table needs the day-ahead price: add da_price to --columns and a source "
                              "that offers it (smard, energy_charts or entsoe) to --sources",
                              source="bessgym data fetch", column="da_price")
    return plan


def _offers(cls: type[Source]) -> dict[str, str]:
    return cls().columns


def _run(source: Source, days, columns, http: Http, env, progress):
    task = None
    if progress is not None:
        task = progress.add_task(f"{source.name}: {', '.join(columns)}", total=source.steps(days, columns))

    def tick() -> None:
        if task is not None:
            progress.advance(task)

    try:
        return source.fetch(days, columns, http, tick, env)
    except FetchError as exc:
        return exc, {}

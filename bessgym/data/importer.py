"""Public data files into one contract table: read each by its format, join them, check every input on its own.

``bessgym data import`` is :func:`import_files`; :func:`combine` joins frames that are already read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bessgym.data import loaders
from bessgym.data.calendar import MARKET_TZ
from bessgym.data.contract import MarketDataError, fill_gaps, validate
from bessgym.data.price_series import read_price_series

READERS = {"smard": loaders.read_smard, "regelleistung": loaders.read_regelleistung,
           "energy_charts": loaders.read_energy_charts, "opsd": loaders.read_opsd,
           "netztransparenz": loaders.read_netztransparenz}
_WITH_PV_CAPACITY = ("smard", "energy_charts", "opsd")  # national PV series need the installed capacity


@dataclass
class Imported:
    """An imported contract table, the points filled, and the span of each input and of the table (UTC)."""

    table: pd.DataFrame
    filled: int
    spans: dict[str, tuple[pd.Timestamp, pd.Timestamp]]

    @property
    def span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        return self.table.index[0], self.table.index[-1]


def import_files(files: Mapping[str, Sequence[str | Path]], *, pv_capacity_mwp: float | None = None,
                 fill: bool = False, start: dt.date | None = None, end: dt.date | None = None,
                 series: Sequence[tuple[str, str | Path]] = (), unit: str | None = None) -> Imported:
    """Read ``files`` (format -> paths, formats as in :data:`READERS`) and ``series`` (contract column, a
    ``time,price`` file in ``unit``: :func:`~bessgym.data.price_series.read_price_series`) and join them on their
    common span, within the delivery days ``start`` (inclusive) to ``end`` (exclusive, Berlin dates) where given;
    ``fill``: gaps up to 2 h interpolated and counted. Files of one format and one set of columns (e.g. two
    regelleistung periods) are concatenated first."""
    unknown = set(files) - set(READERS)
    if unknown:
        raise ValueError(f"unknown formats {sorted(unknown)}; choose from {sorted(READERS)}")
    if start is not None and end is not None and start >= end:
        raise ValueError(f"--start {start} must be before --end {end}")
    frames = []
    for kind, paths in files.items():
        options = {"pv_capacity_mwp": pv_capacity_mwp} if kind in _WITH_PV_CAPACITY else {}
        frames += [(str(path), READERS[kind](path, **options)) for path in paths]
    if series and unit is None:
        raise MarketDataError("price series need their unit (EUR/MWh or EUR/kWh): it is never guessed",
                              source=str(series[0][1]))
    frames += [(str(path), read_price_series(path, column=column, unit=unit)) for column, path in series]
    if not frames:
        raise MarketDataError("give at least one input file", source="bessgym data import")
    merged = _merge_periods(frames)
    spans = {source: (f.index[0], f.index[-1]) for source, f in merged}
    lo = None if start is None else pd.Timestamp(start, tz=MARKET_TZ).tz_convert("UTC")
    hi = None if end is None else pd.Timestamp(end, tz=MARKET_TZ).tz_convert("UTC")
    windowed = []
    for source, f in merged:
        keep = np.ones(len(f), dtype=bool)
        if lo is not None:
            keep &= f.index >= lo
        if hi is not None:
            keep &= f.index < hi
        part = f[keep]
        if part.empty:
            raise MarketDataError(f"no data from {start or 'its start'} to {end or 'its end'} "
                                  f"(it covers {spans[source][0]} .. {spans[source][1]})", source=source)
        windowed.append((source, part))
    table, filled = combine([f for _, f in windowed], fill=fill, sources=[source for source, _ in windowed])
    return Imported(table, filled, spans)


def _merge_periods(frames: list[tuple[str, pd.DataFrame]]) -> list[tuple[str, pd.DataFrame]]:
    """Frames with the same columns concatenated in time; each result named by its files."""
    by_cols: dict[tuple[str, ...], list[tuple[str, pd.DataFrame]]] = {}
    for source, f in frames:
        by_cols.setdefault(tuple(f.columns), []).append((source, f))
    merged = []
    for group in by_cols.values():
        source = " + ".join(name for name, _ in group)
        df = pd.concat([f for _, f in group]).sort_index()
        if df.index.has_duplicates:
            dup = df.index[df.index.duplicated()][0]
            raise MarketDataError("two input files cover the same timestamp", source=source,
                                  column=str(df.columns[0]), timestamp=dup)
        merged.append((source, df))
    return merged


def combine(frames: list[pd.DataFrame], *, fill: bool = False, sources: list[str] | None = None,
            ) -> tuple[pd.DataFrame, int]:
    """Outer-join loader outputs on their common time span and validate the result.

    Each input is checked on its own first, so an error names the file it comes from (``sources``, one per
    frame; default "input #k"). Columns are cut to the span that all frames cover. With ``fill``, short gaps
    (up to 2 h) of each input are interpolated and their count returned, and a longer one is an error naming
    the limit; otherwise any gap is an error naming its input and first timestamp.
    """
    if not frames:
        raise MarketDataError("nothing to combine", source="combine")
    sources = sources or [f"input #{i + 1}" for i in range(len(frames))]
    filled = 0
    checked = []
    for frame, source in zip(frames, sources, strict=True):
        if fill:
            frame, n = fill_gaps(frame, source=source)
            filled += n
        checked.append(validate(frame, source=source, required=()))
    seen: dict[str, int] = {}
    for i, f in enumerate(checked):
        for c in f.columns:
            if c in seen:
                raise MarketDataError(f"column given by two inputs ({sources[seen[c]]} and {sources[i]})",
                                      source="combine", column=c)
            seen[c] = i
    start = max(f.index.min() for f in checked)
    end = min(f.index.max() for f in checked)
    everything = " + ".join(sources)
    if start > end:
        raise MarketDataError("the inputs do not overlap in time", source=everything)
    df = pd.concat([f.loc[start:end] for f in checked], axis=1).sort_index()
    return validate(df, source=everything), filled

"""The market data contract: one quarter-hourly table per market area, UTC index, units in column names.

Every table that enters bessgym passes :func:`validate`. Errors are :class:`MarketDataError` and name the
source, the column and the first offending timestamp, so that a bad file is fixed once rather than debugged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bessgym._io import atomic_path
from bessgym.data.calendar import MARKET_TZ
from bessgym.errors import MarketDataError

QUARTER_HOUR = pd.Timedelta(minutes=15)
INDEX_NAME = "timestamp"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the contract.

    ``low``/``high`` bound plausible values: outside them a value is rejected as a unit or data error.
    ``small_units`` catch a scale error: (threshold, unit, least values) in increasing order; a column of at
    least that many values whose 95th percentile of |value| stays below the threshold looks like it is in that
    unit. A day-ahead price below 0.5 looks like EUR/kWh (from one day of data); below 20 like ct/kWh, judged
    on a week or more, since a single real day can be flat and low (real German weeks since 2015 stay above
    30, years at 58-400).
    """

    name: str
    unit: str
    description: str
    low: float
    high: float
    small_units: tuple[tuple[float, str, int], ...] = ()


_PRICE_LIMIT_EUR_MWH = 15_000.0  # the widest cap of any product (aFRR energy transitional cap)
_DAY, _WEEK = 96, 7 * 96
_WHOLESALE_SCALE = ((0.5, "EUR/kWh (multiply by 1000)", _DAY), (20.0, "ct/kWh (multiply by 10)", _WEEK))
# capacity prices: the 2024 aFRR NEG minimum is 0.3 EUR/MW/h, its median 5.3; EUR/kW/h is 1000 times smaller
_CAPACITY_SCALE = ((0.2, "EUR/kW/h (multiply by 1000)", _DAY),)

COLUMNS: dict[str, ColumnSpec] = {
    c.name: c
    for c in [
        ColumnSpec("da_price", "EUR/MWh", "day-ahead clearing price", -500.0, 4_000.0, _WHOLESALE_SCALE),
        ColumnSpec("ida1_price", "EUR/MWh", "intraday auction IDA1 price", -9_999.0, 9_999.0, _WHOLESALE_SCALE),
        ColumnSpec("ida2_price", "EUR/MWh", "intraday auction IDA2 price", -9_999.0, 9_999.0, _WHOLESALE_SCALE),
        ColumnSpec("ida3_price", "EUR/MWh", "intraday auction IDA3 price (12:00-24:00 only)", -9_999.0, 9_999.0,
                   _WHOLESALE_SCALE),
        ColumnSpec("id1_price", "EUR/MWh", "intraday continuous ID1 index", -9_999.0, 9_999.0, _WHOLESALE_SCALE),
        ColumnSpec("fcr_price", "EUR/MW/h", "FCR settlement price of the 4 h block divided by 4", -100.0, 5_000.0,
                   _CAPACITY_SCALE),
        ColumnSpec("afrr_cap_pos_price", "EUR/MW/h", "aFRR POS average capacity price", -100.0, 5_000.0,
                   _CAPACITY_SCALE),
        ColumnSpec("afrr_cap_neg_price", "EUR/MW/h", "aFRR NEG average capacity price", -100.0, 5_000.0,
                   _CAPACITY_SCALE),
        ColumnSpec("afrr_cap_pos_marginal", "EUR/MW/h", "aFRR POS marginal capacity price", -100.0, 20_000.0,
                   _CAPACITY_SCALE),
        ColumnSpec("afrr_cap_neg_marginal", "EUR/MW/h", "aFRR NEG marginal capacity price", -100.0, 20_000.0,
                   _CAPACITY_SCALE),
        ColumnSpec(
            "afrr_energy_pos_price",
            "EUR/MWh",
            "aFRR POS energy marginal price (paid to the provider)",
            -_PRICE_LIMIT_EUR_MWH,
            _PRICE_LIMIT_EUR_MWH,
        ),
        ColumnSpec(
            "afrr_energy_neg_price",
            "EUR/MWh",
            "aFRR NEG energy marginal price (paid by the provider for the energy it absorbs; negative = paid to it)",
            -_PRICE_LIMIT_EUR_MWH,
            _PRICE_LIMIT_EUR_MWH,
        ),
        ColumnSpec("afrr_activation_pos", "1", "share of the quarter-hour with POS aFRR activation", 0.0, 1.0),
        ColumnSpec("afrr_activation_neg", "1", "share of the quarter-hour with NEG aFRR activation", 0.0, 1.0),
        *(ColumnSpec(f"mfrr_cap_{d}_{stat}", "EUR/MW/h", f"mFRR {d.upper()} {text} capacity price", -100.0, limit,
                     _CAPACITY_SCALE)
          for d in ("pos", "neg") for stat, text, limit in (("price", "average", 5_000.0), ("marginal", "marginal",
                                                                                            20_000.0))),
        ColumnSpec("mfrr_energy_pos_price", "EUR/MWh", "mFRR POS energy price (MARI marginal, paid to the provider)",
                   -_PRICE_LIMIT_EUR_MWH, _PRICE_LIMIT_EUR_MWH),
        ColumnSpec("mfrr_energy_neg_price", "EUR/MWh", "mFRR NEG energy price (MARI marginal, paid by the provider)",
                   -_PRICE_LIMIT_EUR_MWH, _PRICE_LIMIT_EUR_MWH),
        ColumnSpec("mfrr_activation_pos", "1", "share of the offered POS mFRR activated in the quarter-hour", 0.0, 1.0),
        ColumnSpec("mfrr_activation_neg", "1", "share of the offered NEG mFRR activated in the quarter-hour", 0.0, 1.0),
        ColumnSpec("imbalance_price", "EUR/MWh", "reBAP imbalance price", -_PRICE_LIMIT_EUR_MWH, _PRICE_LIMIT_EUR_MWH),
        ColumnSpec("pv_per_mwp", "MW/MWp", "PV production per MW peak", 0.0, 1.2),
    ]
}
REQUIRED_COLUMNS: tuple[str, ...] = ("da_price",)
# Products that do not exist at every timestamp (IDA3 covers only 12:00-24:00, IDA started 13 Jun 2024).
NAN_ALLOWED: frozenset[str] = frozenset({"ida1_price", "ida2_price", "ida3_price"})


def validate(
    df: pd.DataFrame, *, source: str = "<table>", required: tuple[str, ...] = REQUIRED_COLUMNS
) -> pd.DataFrame:
    """Check ``df`` against the contract and return it with a UTC index named ``timestamp``.

    A tz-aware index in another zone is converted to UTC (no information is lost); everything else that
    breaks the contract raises :class:`MarketDataError`.
    """
    index = df.index
    if not isinstance(index, pd.DatetimeIndex):
        raise MarketDataError(f"index must be a DatetimeIndex, got {type(index).__name__}", source=source)
    if len(index) == 0:
        raise MarketDataError("table is empty", source=source)
    if index.tz is None:
        raise MarketDataError(
            "timestamps have no time zone (local time is ambiguous at daylight-saving changes); "
            "localise them, e.g. index.tz_localize('Europe/Berlin', ambiguous='infer'), or give UTC",
            source=source,
            timestamp=index[0],
        )
    df = df.copy()
    df.index = index.tz_convert("UTC").as_unit("ns").rename(INDEX_NAME)  # one resolution, whichever the reader
    _check_index(df.index, source)
    for name in required:
        if name not in df.columns:
            raise MarketDataError(f"required column is missing (columns: {list(df.columns)})", source=source,
                                  column=name)
    for name in df.columns:
        if name in COLUMNS:
            _check_column(df[name], COLUMNS[name], source, required=name in required)
    return df


def _check_index(index: pd.DatetimeIndex, source: str) -> None:
    ns = index.as_unit("ns").asi8  # pandas 3 may hold s/ms/us resolutions
    dup = index.duplicated()
    if dup.any():
        raise MarketDataError("duplicated timestamp", source=source, timestamp=index[dup.argmax()])
    step = np.diff(ns)
    if (step < 0).any():
        raise MarketDataError("index is not monotonic increasing", source=source,
                              timestamp=index[int(np.argmax(step < 0)) + 1])
    off_grid = (ns % QUARTER_HOUR.value) != 0
    if off_grid.any():
        raise MarketDataError("timestamp is not on the quarter-hour grid", source=source,
                              timestamp=index[off_grid.argmax()])
    if len(step) and (step == 4 * QUARTER_HOUR.value).mean() > 0.5:
        raise MarketDataError("the table is hourly (one row per hour); the contract is quarter-hourly: repeat each "
                              "hour over its quarter-hours (bessgym.data.calendar.hourly_to_quarter_hourly) or "
                              "convert the file with `bessgym data import`", source=source, timestamp=index[0])
    gaps = step != QUARTER_HOUR.value
    if gaps.any():
        i = int(np.argmax(gaps))
        missing = step[i] // QUARTER_HOUR.value - 1
        before, after = (index[k].tz_convert(MARKET_TZ).utcoffset() for k in (i, i + 1))
        doubled = " (around the fall-back change: the doubled hour is missing)" if before != after else ""
        raise MarketDataError(f"gap of {missing} missing quarter-hour(s) after this timestamp{doubled} "
                              "(use fill_gaps() or `bessgym data import --fill-gaps` to repair explicitly)",
                              source=source, timestamp=index[i])


def _check_column(col: pd.Series, spec: ColumnSpec, source: str, *, required: bool) -> None:
    if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        raise MarketDataError(f"values must be numeric [{spec.unit}], got dtype {col.dtype} "
                              "(a decimal comma or a wrong delimiter?)", source=source, column=spec.name)
    values = col.to_numpy(dtype=float)
    nan = np.isnan(values)
    if nan.any() and (required or spec.name not in NAN_ALLOWED):
        raise MarketDataError("missing value (NaN)", source=source, column=spec.name, timestamp=col.index[nan.argmax()])
    finite = values[~nan]
    if finite.size == 0:
        return
    bad = (values < spec.low) | (values > spec.high)
    if bad.any():
        raise MarketDataError(f"value {values[bad.argmax()]:g} is outside the plausible range "
                              f"[{spec.low:g}, {spec.high:g}] {spec.unit}", source=source, column=spec.name,
                              timestamp=col.index[bad.argmax()])
    if spec.small_units and finite.size >= _DAY:
        typical = float(np.percentile(np.abs(finite), 95))
        for threshold, unit, least in spec.small_units:
            if typical < threshold and finite.size >= least:
                raise MarketDataError(f"95 % of |values| are below {threshold:g}: this looks like {unit}; the "
                                      f"contract wants {spec.unit}", source=source, column=spec.name,
                                      timestamp=col.index[0])


def fill_gaps(df: pd.DataFrame, *, limit_quarter_hours: int = 8, source: str = "<table>") -> tuple[pd.DataFrame, int]:
    """Reindex a tz-aware table onto the full quarter-hour grid and interpolate the gaps of at most
    ``limit_quarter_hours`` (2 h) quarter-hours in time.

    Returns the repaired table and the number of points filled. A longer gap is not filled in part (it would
    invent its first hours): it is a :class:`MarketDataError` naming the column, its first timestamp, its length
    and the limit. Intraday-auction columns keep the NaN where their product did not exist.
    """
    full = pd.date_range(df.index[0], df.index[-1], freq=QUARTER_HOUR, name=df.index.name)
    out = df.reindex(full)
    filled = 0
    for column in out.columns:
        missing = out[column].isna()
        if not missing.any() or column in NAN_ALLOWED:
            continue
        runs = missing.ne(missing.shift()).cumsum()  # a new number where missing starts or ends
        length = missing.groupby(runs).transform("sum")
        too_long = missing & (length > limit_quarter_hours)
        if too_long.any():
            first = too_long.idxmax()
            raise MarketDataError(f"a gap of {int(length[first]) / 4:g} h is longer than the "
                                  f"{limit_quarter_hours / 4:g} h that --fill-gaps interpolates; fill it from another "
                                  "source or cut the period (--start/--end)", source=source, column=column,
                                  timestamp=first)
        inside = out[column].interpolate(method="time", limit_area="inside")
        out[column] = out[column].where(~missing, inside)
        filled += int((missing & out[column].notna()).sum())
    return out, filled


def read_table(path: str | os.PathLike[str], *, required: tuple[str, ...] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Read a contract table from parquet or CSV (first column: ISO timestamps with offset) and validate it."""
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise MarketDataError("file not found", source=source)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            df = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise MarketDataError(f"not a readable parquet file ({exc})", source=source) from exc
        if not isinstance(df.index, pd.DatetimeIndex) and INDEX_NAME in df.columns:
            df = df.set_index(INDEX_NAME)
    elif suffix == ".csv":
        df = _read_contract_csv(path)
        if _provenance_path(path).exists():
            df.attrs["provenance"] = json.loads(_provenance_path(path).read_text())
    else:
        raise MarketDataError(f"unsupported file type {suffix!r}: use .parquet or .csv", source=source)
    return validate(df, source=source, required=required)


def _read_contract_csv(path: Path) -> pd.DataFrame:
    source = str(path)
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise MarketDataError(f"malformed CSV ({exc})", source=source) from exc
    if df.shape[1] == 1 and ";" in str(df.columns[0]):
        raise MarketDataError("the file is ';'-separated; contract CSV files use ',' and a '.' decimal mark "
                              "(public SMARD exports go through bessgym.data.loaders.read_smard)", source=source)
    first = df.columns[0]
    raw = df[first].astype(str)
    if not raw.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).all():
        bad = raw[~raw.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)].iloc[0]
        raise MarketDataError("timestamps have no time zone (write them as ISO 8601 with an offset, e.g. "
                              "2024-01-01T00:00:00+00:00)", source=source, column=str(first), timestamp=bad)
    try:
        index = pd.to_datetime(raw, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise MarketDataError(f"unparseable timestamp ({exc})", source=source, column=str(first)) from exc
    df = df.drop(columns=first).set_axis(pd.DatetimeIndex(index, name=INDEX_NAME), axis=0)
    return df


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Validate and write a contract table atomically (temporary file, then rename); parquet or CSV by suffix."""
    path = Path(path)
    df = validate(df, source=str(path), required=())
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise MarketDataError(f"unsupported file type {suffix!r}: use .parquet or .csv", source=str(path))
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            df.to_parquet(tmp)  # pandas keeps df.attrs (the provenance) in the parquet metadata
        else:
            out = df.copy()
            out.index = out.index.strftime("%Y-%m-%dT%H:%M:%S+00:00")
            out.index.name = INDEX_NAME
            out.to_csv(tmp)
    if suffix == ".csv" and df.attrs.get("provenance"):
        with atomic_path(_provenance_path(path)) as tmp:
            tmp.write_text(json.dumps(df.attrs["provenance"], indent=1))
    return path


def _provenance_path(csv: Path) -> Path:
    """A CSV table's provenance lives beside it (parquet keeps it inside)."""
    return csv.with_name(csv.name + ".provenance.json")


def require_columns(df: pd.DataFrame, columns: tuple[str, ...] | list[str], *, user: str) -> None:
    """Raise a :class:`MarketDataError` naming the first column ``user`` needs that ``df`` lacks."""
    for name in columns:
        if name not in df.columns:
            raise MarketDataError(f"{user} needs this column, which the table does not have", column=name)

"""regelleistung.net aFRR energy market results (the 15-min energy auction since 3 Nov 2020).

One row per delivery day and product ``POS_001`` .. ``NEG_096`` (the n-th quarter-hour of the local day: 92 on
a spring-forward day, 100 on a fall-back day); ``GERMANY_MARGINAL_ENERGY_PRICE_[EUR/MWh]`` is the price of the
last activated bid, read as the contract's ``afrr_energy_{pos,neg}_price`` with the file's signs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bessgym.data.calendar import MARKET_TZ, QUARTER_HOUR
from bessgym.data.contract import MarketDataError

MARGINAL = "GERMANY_MARGINAL_ENERGY_PRICE_[EUR/MWh]"


def is_energy_results(raw: pd.DataFrame) -> bool:
    """Quarter-hour products (``POS_001``); the pre-Nov-2020 capacity files have energy prices per 4 h block."""
    if "DELIVERY_DATE" in raw.columns:
        return True
    products = raw.get("PRODUCT", pd.Series(dtype=str)).astype(str).str.strip()
    return bool(len(products)) and bool(products.str.fullmatch(r"(POS|NEG)_\d{3}").all())


def energy_results(raw: pd.DataFrame, dates: pd.Series, *, source: str) -> pd.DataFrame:
    """``raw`` rows (read by :func:`bessgym.data.loaders.read_regelleistung`), their delivery ``dates`` -> the
    aFRR energy price columns on the UTC quarter-hours of those days."""
    if MARGINAL not in raw.columns:
        raise MarketDataError("column missing (an aFRR energy results file has it)", source=source, column=MARGINAL)
    parts = raw["PRODUCT"].astype(str).str.strip().str.extract(r"^(POS|NEG)_(\d{3})$")
    if parts[0].isna().any():
        bad = raw["PRODUCT"][parts[0].isna()].iloc[0]
        raise MarketDataError(f"unsupported product {bad!r} (expected e.g. POS_001)", source=source, column="PRODUCT")
    number = parts[1].astype(int).to_numpy()
    prices = pd.to_numeric(raw[MARGINAL], errors="coerce").to_numpy(dtype=float)
    out = {}
    for direction in ("POS", "NEG"):
        mask = (parts[0] == direction).to_numpy()
        stamps = [_quarter_hour(day, k, source=source) for day, k in zip(dates[mask], number[mask], strict=True)]
        out[f"afrr_energy_{direction.lower()}_price"] = pd.Series(prices[mask], index=pd.DatetimeIndex(stamps))
    df = pd.DataFrame(out).sort_index()
    df.index.name = "timestamp"
    if df.index.has_duplicates:
        raise MarketDataError("a product appears twice", source=source, timestamp=df.index[df.index.duplicated()][0])
    days = pd.DatetimeIndex(sorted(set(dates)))
    grid = pd.DatetimeIndex(np.concatenate([_day_grid(d) for d in days]), name="timestamp")
    df = df.reindex(grid)
    if df.isna().any().any():
        col = df.columns[df.isna().any()][0]
        raise MarketDataError("a quarter-hour has no price (missing product row or empty cell)", source=source,
                              column=col, timestamp=df.index[int(np.argmax(df[col].isna()))])
    return df


def _day_grid(day: pd.Timestamp) -> pd.DatetimeIndex:
    start = pd.Timestamp(day.date(), tz=MARKET_TZ)
    end = pd.Timestamp(day.date() + pd.Timedelta(days=1), tz=MARKET_TZ)
    return pd.date_range(start.tz_convert("UTC"), end.tz_convert("UTC"), freq=QUARTER_HOUR, inclusive="left")


def _quarter_hour(day: pd.Timestamp, k: int, *, source: str) -> pd.Timestamp:
    grid = _day_grid(day)
    if not 1 <= k <= len(grid):
        raise MarketDataError(f"product number {k} outside the {len(grid)} quarter-hours of the day", source=source,
                              column="PRODUCT", timestamp=day.date())
    return grid[k - 1]

"""Two-column price series (``time,price``), as research repositories and Energy-Charts exports share them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bessgym.data.contract import COLUMNS, MarketDataError
from bessgym.data.loaders import _read_csv, _sniff, _to_quarter_hours

PRICE_UNITS = {"EUR/MWh": 1.0, "EUR/kWh": 1000.0}  # factor to EUR/MWh


def read_price_series(path: str | Path, *, column: str, unit: str) -> pd.DataFrame:
    """Read a two-column price file (``time,price``; ISO 8601 times with an offset, 15-min or hourly) as the
    contract column ``column`` [EUR/MWh]. ``unit`` is the file's (``EUR/MWh`` or ``EUR/kWh``, e.g. the
    Energy-Charts series of TUMFTM/flex-depot): it is never guessed, and a file whose values contradict it
    (a median magnitude below 1 EUR/MWh, or above 5 EUR/kWh) is refused with the unit named. A quarter-hour
    missing from the file stays missing: the contract check names it (the doubled hour of a fall-back day is
    the usual one), and ``bessgym data import --fill-gaps`` interpolates up to 2 h and reports how much."""
    path = Path(path)
    source = str(path)
    if unit not in PRICE_UNITS:
        raise MarketDataError(f"unit {unit!r} unknown; give one of {sorted(PRICE_UNITS)}", source=source)
    if column not in COLUMNS or COLUMNS[column].unit != "EUR/MWh":
        prices = sorted(c for c, spec in COLUMNS.items() if spec.unit == "EUR/MWh")
        raise MarketDataError(f"{column!r} is not an energy price column of the contract; one of {prices}",
                              source=source)
    header = _sniff(path)
    names = [h.strip().lower() for h in header.strip().split(",")]
    if names[:2] != ["time", "price"]:
        raise MarketDataError(f"unexpected header {header.strip()[:60]!r}; expected 'time,price'", source=source)
    raw = _read_csv(path, dtype=str)
    naive = ~raw.iloc[:, 0].str.strip().str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True, na=False)
    if naive.any():  # parsed as UTC, Berlin times would shift every price by an hour or two, silently
        i = int(np.argmax(naive))
        raise MarketDataError(f"time {raw.iloc[i, 0]!r} in row {i + 2} has no UTC offset: a time without one is "
                              "ambiguous (Berlin or UTC?); give ISO 8601 with the offset, e.g. "
                              "2025-01-01T00:00+01:00 or 2024-12-31T23:00Z", source=source, column="time")
    times = pd.to_datetime(raw.iloc[:, 0].str.strip(), utc=True, errors="coerce", format="ISO8601")
    if times.isna().any():
        i = int(np.argmax(times.isna()))
        raise MarketDataError(f"unparseable time {raw.iloc[i, 0]!r} in row {i + 2} (ISO 8601 with an offset)",
                              source=source, column="time")
    values = pd.to_numeric(raw.iloc[:, 1].str.strip(), errors="coerce")
    if values.isna().any():
        i = int(np.argmax(values.isna()))
        raise MarketDataError(f"unparseable price {raw.iloc[i, 1]!r}", source=source, column="price",
                              timestamp=times[i])
    median = float(values.abs().median())
    if unit == "EUR/MWh" and median < 1.0 or unit == "EUR/kWh" and median > 5.0:
        other = "EUR/kWh" if unit == "EUR/MWh" else "EUR/MWh"
        raise MarketDataError(f"prices with a median magnitude of {median:g} are not in {unit}; they look like "
                              f"{other} (give that unit)", source=source, column="price")
    series = pd.Series(values.to_numpy() * PRICE_UNITS[unit], index=pd.DatetimeIndex(times, name="timestamp"),
                       name=column)
    return _to_quarter_hours(series, source=source).to_frame()

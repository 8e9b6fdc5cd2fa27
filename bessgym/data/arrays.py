"""A contract table as plain arrays cut into Berlin delivery days: what every env and LP reads the market from."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bessgym.data.calendar import MARKET_TZ, block_of_hour, complete_days
from bessgym.data.contract import MarketDataError, validate


@dataclass(frozen=True)
class MarketArrays:
    """A contract table as plain arrays, cut into Berlin delivery days (built once per env)."""

    index: pd.DatetimeIndex
    columns: dict[str, np.ndarray]
    day_slices: list[slice]
    dates: list[dt.date]
    local_hour: np.ndarray
    local_minute: np.ndarray
    block: np.ndarray
    day_of_week: np.ndarray
    day_of_year: np.ndarray

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, source: str = "market") -> MarketArrays:
        df = validate(df, source=source)
        local = df.index.tz_convert(MARKET_TZ)
        full = complete_days(df.index)  # a partial first or last day is dropped
        if not full:
            raise MarketDataError("the table holds no complete Berlin delivery day", source=source)
        cols = {c: df[c].to_numpy(dtype=float) for c in df.columns}
        return cls(df.index, cols, full, [local[s.start].date() for s in full], local.hour.to_numpy(),
                   local.minute.to_numpy(), block_of_hour(local.hour.to_numpy()), local.day_of_week.to_numpy(),
                   local.day_of_year.to_numpy())

    @functools.cached_property
    def day_names(self) -> list[str]:
        """The delivery dates as ISO strings (info carries one every step)."""
        return [d.isoformat() for d in self.dates]

    def require(self, needs: Mapping[str, Sequence[str]], *, user: str) -> None:
        """Raise a MarketDataError naming the first column a product needs but the table lacks (``needs``:
        the columns by product, e.g. ``MarketConfig.required_columns()``)."""
        for product, columns in needs.items():
            for column in columns:
                if column not in self.columns:
                    raise MarketDataError(f"{user} with product {product!r} needs this column "
                                          f"(drop the product from MarketConfig.products to run without it"
                                          f"{MARGINAL_HINT if column.endswith('_marginal') else ''})",
                                          column=column)
        if "da_price" not in self.columns:
            raise MarketDataError(f"{user} needs this column", column="da_price")


# a pay-as-bid auction clears at the marginal price; the average says little about which bids it accepted
MARGINAL_HINT = ("; the auction accepts bids up to its marginal price, which regelleistung.net publishes as "
                 "MARGINAL_CAPACITY_PRICE and `bessgym data import --regelleistung` reads (the average price "
                 "would reject bids the auction accepted); to accept bids up to the average anyway, copy the "
                 "price column under this name")

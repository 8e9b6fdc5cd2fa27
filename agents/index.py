"""The BESS revenue index strategies (../shared/MARKET_FACTS.md), day by day, in EUR per MW.

The index battery: ``duration_h`` of usable energy (SoC 0-100 % of usable), 90 % AC/AC round trip split
evenly (sqrt(0.9) each way), at most 2 full cycles a day.

- ``fcr``: 80 % of power at the FCR settlement price.
- ``afrr_capacity``: all power in aFRR POS or NEG (the better one) for the whole day at the mean price,
  100 % acceptance, no activation revenue.
- ``trading``: LP with perfect foresight on 15-min ID1 prices, one day at a time, SoC 50 % at start and end.
- ``day_ahead_trading``: the same on day-ahead prices (hourly products before 2025-10-01); not in the
  published index, reported for comparison with day-ahead-only figures.
- ``afrr_and_trading``: 50 % of power in symmetric aFRR (POS and NEG capacity), the other half (half the
  energy) traded on ID1 with up to 4 cycles a day of its own energy.
- ``daily_optimization``: per day the best of fcr, afrr_capacity, trading, afrr_and_trading; where some of
  them cannot run (a column missing) or were not selected, the best of the others, with a note saying so.

A strategy whose columns are missing is skipped with the column named, never reported as zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from agents.lp.model import BatteryLP
from agents.lp.terms import LPProducts
from bessgym.assets.battery import BatterySpec
from bessgym.data.calendar import DT_H, MARKET_TZ, complete_days
from bessgym.data.contract import MarketDataError
from bessgym.data.rules import rules_for

STRATEGIES = ("fcr", "afrr_capacity", "trading", "day_ahead_trading", "afrr_and_trading", "daily_optimization")
REQUIRES: dict[str, tuple[str, ...]] = {
    "fcr": ("fcr_price",),
    "afrr_capacity": ("afrr_cap_pos_price", "afrr_cap_neg_price"),
    "trading": ("id1_price",),
    "day_ahead_trading": ("da_price",),
    "afrr_and_trading": ("afrr_cap_pos_price", "afrr_cap_neg_price", "id1_price"),
}
DAILY_BEST_OF = ("fcr", "afrr_capacity", "trading", "afrr_and_trading")
FCR_SHARE = 0.8
AFRR_TRADING_SPLIT = 0.5


@dataclass(frozen=True)
class IndexBattery:
    """The index battery (per MW): usable duration [h], round trip [-], full cycles per day [-]."""

    duration_h: float = 2.0
    round_trip: float = 0.90
    cycles_per_day: float = 2.0

    def spec(self, power_mw: float = 1.0, cycles_per_day: float | None = None) -> BatterySpec:
        """The index battery at ``power_mw`` (energy = duration x power)."""
        eta = float(np.sqrt(self.round_trip))
        return BatterySpec(power_mw=power_mw, energy_mwh=self.duration_h * power_mw, eta_charge=eta,
                           eta_discharge=eta, soc_min=0.0, soc_max=1.0, soc_initial=0.5,
                           max_cycles_per_day=cycles_per_day or self.cycles_per_day)


@dataclass
class IndexResult:
    """Daily revenues [EUR/MW] per strategy (index: Berlin delivery date), the skipped strategies and why,
    and notes on strategies computed on less than their definition (a partial daily optimisation)."""

    daily: pd.DataFrame
    skipped: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)

    def rolling(self) -> pd.DataFrame:
        """365-day and 30-day rolling averages, annualised [EUR/MW/year] (NaN until a window is full)."""
        out = {}
        for col in self.daily.columns:
            out[f"{col}_365d"] = self.daily[col].rolling(365, min_periods=365).mean() * 365
            out[f"{col}_30d"] = self.daily[col].rolling(30, min_periods=30).mean() * 365
        return pd.DataFrame(out, index=self.daily.index)

    def annualised(self) -> pd.Series:
        """Mean daily revenue over the whole period x 365 [EUR/MW/year]."""
        return self.daily.mean() * 365


class _TradingLPs:
    """Persistent LPs per (day length, resolution), so a year is solved without rebuilding."""

    def __init__(self, battery: BatterySpec, *, hourly: bool) -> None:
        self.battery, self.hourly = battery, hourly
        self._models: dict[tuple[int, bool], BatteryLP] = {}

    def solve(self, prices: np.ndarray) -> float:
        n = len(prices)
        exclusive = bool((prices < 0).any())  # simultaneous charge/discharge only pays at negative prices
        key = (n, exclusive)
        if key not in self._models:
            products = LPProducts(day_ahead=True, hourly_day_ahead=self.hourly, exclusive_charge=exclusive)
            self._models[key] = BatteryLP(self.battery, products, n)
        b = self.battery
        half = 0.5 * b.energy_mwh
        return self._models[key].value(price_da=prices, soc0_mwh=half, soc_end_mwh=(half, half))


def index_revenues(
    market: pd.DataFrame,
    battery: IndexBattery = IndexBattery(),
    *,
    strategies: tuple[str, ...] = STRATEGIES,
    progress: Callable[[int, int], None] | None = None,
    source: str = "market",
) -> IndexResult:
    """Daily revenue per MW of each index strategy on a validated contract table (``source`` names it in
    errors)."""
    unknown = set(strategies) - set(STRATEGIES)
    if unknown:
        raise ValueError(f"unknown strategies {sorted(unknown)}; choose from {STRATEGIES}")
    skipped = {s: next(f"needs column {c!r}" for c in REQUIRES[s] if c not in market.columns)
               for s in strategies if s in REQUIRES and any(c not in market.columns for c in REQUIRES[s])}
    run = [s for s in strategies if s not in skipped and s != "daily_optimization"]
    best_of = [s for s in DAILY_BEST_OF if s in run]
    notes = {}
    if "daily_optimization" in strategies:
        missing = [s for s in DAILY_BEST_OF if s not in run]
        why = "; ".join(f"{s}: {skipped.get(s, 'not selected')}" for s in missing)
        if not best_of:
            skipped["daily_optimization"] = f"none of {', '.join(DAILY_BEST_OF)} can run ({why})"
        elif missing:
            notes["daily_optimization"] = f"best of {', '.join(best_of)} only ({why})"
    slices = complete_days(market.index)
    if not slices:
        raise MarketDataError("the table holds no complete Berlin delivery day (00:00-24:00 local time)",
                              source=source)
    dates = [market.index[s.start].tz_convert(MARKET_TZ).date() for s in slices]
    cols = {c: market[c].to_numpy(dtype=float) for c in market.columns}
    full = battery.spec()
    lp_id = _TradingLPs(full, hourly=False) if "trading" in run else None
    # the traded half: half the power and half the energy, up to twice the cycles of its own energy
    lp_half = _TradingLPs(battery.spec(AFRR_TRADING_SPLIT, 2 * battery.cycles_per_day), hourly=False) \
        if "afrr_and_trading" in run else None
    lp_da = {h: _TradingLPs(full, hourly=h) for h in (True, False)} if "day_ahead_trading" in run else None
    rows = []
    for i, (sl, day) in enumerate(zip(slices, dates, strict=True)):
        row: dict[str, float] = {}
        hours = DT_H
        if "fcr" in run:
            row["fcr"] = FCR_SHARE * cols["fcr_price"][sl].sum() * hours
        if "afrr_capacity" in run or "afrr_and_trading" in run:
            pos = cols["afrr_cap_pos_price"][sl].sum() * hours
            neg = cols["afrr_cap_neg_price"][sl].sum() * hours
            if "afrr_capacity" in run:
                row["afrr_capacity"] = max(pos, neg)
        if lp_id is not None:
            row["trading"] = lp_id.solve(cols["id1_price"][sl])
        if lp_da is not None:
            row["day_ahead_trading"] = lp_da[rules_for(day).da_resolution_min == 60].solve(cols["da_price"][sl])
        if lp_half is not None:
            row["afrr_and_trading"] = AFRR_TRADING_SPLIT * (pos + neg) + lp_half.solve(cols["id1_price"][sl])
        if "daily_optimization" in strategies and "daily_optimization" not in skipped:
            row["daily_optimization"] = max(row[s] for s in best_of)
        rows.append(row)
        if progress is not None:
            progress(i + 1, len(slices))
    daily = pd.DataFrame(rows, index=pd.Index(dates, name="delivery_date"))
    return IndexResult(daily[[s for s in strategies if s in daily.columns]], skipped, notes)

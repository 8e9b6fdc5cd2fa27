"""``bessgym portfolio scale``: what a portfolio's size is worth once its costs are paid.

The default portfolio's assets, repeated, make portfolios of 1, 3, 10, 30 and 100 assets (the first N of
the cycle), each marketed as one actor (per-asset LPs, bids pooled, outages re-dispatched, trades netted) on
the same days and the same outages per asset (common random numbers, :attr:`Reliability.seed`). Per size:

- revenue and margin per MW and year: the revenue, less the :class:`Costs` (fixed per asset and per portfolio,
  and per order sent to a market);
- orders sent: quarter-hours with a net intraday trade at the exchange, quarter-hours with a day-ahead
  position, and reserve blocks offered (one order per product and block);
- risk per MW: the standard deviation of daily revenue and the worst day's revenue, so diversification shows
  as the portfolio grows.

The costs are assumptions to vary, not market data: a battery's metering, prequalification and IT
(``asset_eur_per_year``), a balancing group, trading desk and TSO contracts (``portfolio_eur_per_year``), and
an order's handling (``order_eur``; the exchange's fees per MWh are in the intraday settlement already).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bessgym._io import atomic_path
from bessgym.assets.site import SiteSpec
from bessgym.data.arrays import MarketArrays
from bessgym.envs.portfolio_core import Reliability
from experiments.portfolio import common_outages, run_portfolio

SIZES = (1, 3, 10, 30, 100)


@dataclass(frozen=True)
class Costs:
    """Fixed and per-order costs [EUR] (see the module docstring)."""

    asset_eur_per_year: float = 5_000.0
    portfolio_eur_per_year: float = 100_000.0
    order_eur: float = 0.5

    def __post_init__(self) -> None:
        for name in ("asset_eur_per_year", "portfolio_eur_per_year", "order_eur"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"Costs.{name} must be >= 0, got {getattr(self, name)}")


def scale_curve(market: MarketArrays, sites: Sequence[SiteSpec], out: Path, *, days: int,
                sizes: Sequence[int] = SIZES, costs: Costs = Costs(),
                reliability: Reliability = Reliability(mtbf_h=500.0, mttr_h=24.0), seed: int = 0,
                progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """One row per portfolio size (see the module docstring); writes ``scale.csv`` and ``scale.png``."""
    if not sizes or min(sizes) < 1:
        raise ValueError(f"portfolio sizes must be >= 1, got {list(sizes)}")
    rows = []
    for k, n in enumerate(sizes):
        members = [sites[i % len(sites)] for i in range(n)]
        run = run_portfolio(market, members, days=days, reliability=common_outages(reliability, n, seed), seed=seed)
        rows.append(_row(n, members, run, costs))
        if progress is not None:
            progress(k + 1, len(sizes))
    table = pd.DataFrame(rows).set_index("assets")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "scale.csv") as tmp:
        table.round(3).to_csv(tmp)
    _plot(table, out / "scale.png", days)
    return table


def _row(n: int, members: Sequence[SiteSpec], run: dict[str, np.ndarray], costs: Costs) -> dict[str, float]:
    power = sum(s.battery.power_mw for s in members)
    daily = run["daily_revenue_eur"]  # (days,)
    days = len(daily)
    per_year = 365.0 / days
    revenue = float(daily.sum())
    orders = float(run["orders"])
    cost = (costs.asset_eur_per_year * n + costs.portfolio_eur_per_year) / per_year + costs.order_eur * orders
    return {"assets": n, "power_mw": power, "revenue_eur_per_mw_year": revenue * per_year / power,
            "cost_eur_per_mw_year": cost * per_year / power,
            "margin_eur_per_mw_year": (revenue - cost) * per_year / power,
            "orders_per_day": orders / days, "orders_per_mw_day": orders / days / power,
            "daily_std_eur_per_mw": float(daily.std(ddof=1)) / power if days > 1 else float("nan"),
            "worst_day_eur_per_mw": float(daily.min()) / power,
            "penalty_eur_per_mw_year": float(run["penalty_eur"].sum()) * per_year / power}


def _plot(table: pd.DataFrame, path: Path, days: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (money, orders, risk) = plt.subplots(1, 3, figsize=(15, 4.2))
    n = table.index.to_numpy()
    money.plot(n, table["revenue_eur_per_mw_year"] / 1e3, "o-", label="revenue")
    money.plot(n, table["margin_eur_per_mw_year"] / 1e3, "s-", label="margin after costs")
    money.set(ylabel="kEUR/MW/year", title="revenue and margin per MW")
    orders.plot(n, table["orders_per_mw_day"], "o-", color="tab:purple")
    orders.set(ylabel="orders per MW and day", title="orders sent per MW")
    risk.plot(n, table["daily_std_eur_per_mw"], "o-", label="std of daily revenue")
    risk.plot(n, table["worst_day_eur_per_mw"], "s-", label="worst day's revenue")
    risk.set(ylabel="EUR/MW per day", title="risk per MW")
    for ax in (money, orders, risk):
        ax.set_xscale("log")
        ax.set_xticks(n, [str(k) for k in n])
        ax.minorticks_off()
        ax.set_xlabel("assets in the portfolio")
        ax.grid(alpha=0.3)
    money.legend(fontsize=8)
    risk.legend(fontsize=8)
    fig.suptitle(f"Economies of scale: the default portfolio's assets repeated, {days} days")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)

"""How assets meet the market: each on its own, or pooled as one actor (a portfolio).

A :class:`~bessgym.envs.core.Simulator` is given one of these; it decides how volumes reach the products'
grids and what intraday fee each asset pays:

- :class:`Alone`: each asset's reserve bids are rounded to the product's minimum and increment, wholesale
  volumes to the exchange's 0.1 MW increment (unless ``MarketConfig.wholesale_increments`` is off), and each
  asset pays the full fee on its own trade.
- :class:`Pooled`: the portfolio's totals are put on the grids, the assets' shares scaled to them (never above
  what an asset offered), so assets below the minimum bid take part; pay-as-bid reserves offered at several
  prices are several bids, each on the grid, so whatever the auction accepts is; opposite intraday trades are
  netted inside the portfolio, and only the net pays the fee, shared pro rata to the assets' gross trades (in
  the delivery kernel, :func:`bessgym.envs.kernels.delivery_step`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bessgym.data.rules import MarketRules
from bessgym.market.clearing import round_volume


class Alone:
    """Every asset bids and trades on its own."""

    pooled = False

    def __init__(self, increments: bool) -> None:
        self.increments = increments

    def reserves(self, volume_mw: np.ndarray, min_bid_mw: float, step_mw: float,
                 price: np.ndarray | None = None) -> np.ndarray:
        """Reserve volumes (N, blocks) on the product's grid; ``price`` (N, blocks): the offers' prices, where
        the product is paid as bid (an asset's bid is on the grid whatever its price)."""
        return round_volume(volume_mw, min_bid_mw, step_mw)

    def wholesale(self, volume_mw: np.ndarray, step_mw: float) -> np.ndarray:
        """Wholesale volumes as planned (each asset plans on the exchange's grid, :meth:`wholesale_step`)."""
        return volume_mw

    def wholesale_step(self, rules: MarketRules) -> float | None:
        """The increment each asset plans its wholesale volumes on [MW] (None: continuous)."""
        return rules.wholesale_min_bid_mw if self.increments else None

    def delivery_steps(self, rules: MarketRules) -> tuple[float, float]:
        """The grids [MW] of a delivery step's intraday trades: each asset's, and the pooled net's (0: none)."""
        return self.wholesale_step(rules) or 0.0, 0.0


class Pooled(Alone):
    """The assets bid as one: totals on the grids, intraday trades netted inside."""

    pooled = True

    def reserves(self, volume_mw: np.ndarray, min_bid_mw: float, step_mw: float,
                 price: np.ndarray | None = None) -> np.ndarray:
        """The portfolio bids each price's volume as one bid: per block, the assets offering at the same price
        (all of them without ``price``) have their total put on the grid."""
        if price is None:
            return pool_volumes(volume_mw, min_bid_mw, step_mw)
        out = np.empty_like(volume_mw, dtype=float)
        for b in range(volume_mw.shape[1]):  # six blocks; an asset's offer price groups it
            _, bid = np.unique(price[:, b], return_inverse=True)
            members = bid[None, :] == np.arange(bid.max() + 1)[:, None]  # (bids, N)
            out[:, b] = (pool_volumes(np.where(members, volume_mw[:, b], 0.0).T, min_bid_mw, step_mw)
                         .sum(axis=1))
        return out

    def wholesale(self, volume_mw: np.ndarray, step_mw: float) -> np.ndarray:
        return pool_net(volume_mw, step_mw) if self.increments else volume_mw

    def wholesale_step(self, rules: MarketRules) -> float | None:
        return None  # assets plan continuous volumes; the portfolio's total is put on the grid by wholesale()

    def delivery_steps(self, rules: MarketRules) -> tuple[float, float]:
        return 0.0, (rules.wholesale_min_bid_mw if self.increments else 0.0)


def pool_volumes(volume_mw: np.ndarray, min_bid_mw: float, step_mw: float) -> np.ndarray:
    """Scale assets' volumes (N, ...) so that their sum per column is on the product's grid (the portfolio's
    bid), rounding the total towards zero: no asset ends above what it offered."""
    total = volume_mw.sum(axis=0)
    rounded = round_volume(total, min_bid_mw, step_mw)
    factor = np.divide(rounded, total, out=np.zeros_like(total, dtype=float), where=np.abs(total) > 1e-12)
    return volume_mw * factor


def pool_net(volume_mw: np.ndarray, step_mw: float) -> np.ndarray:
    """Put the assets' net (N, ...) per column on the grid: the rounding remainder (towards zero) is taken off the
    assets trading in the net's direction, pro rata; assets trading against it keep their volume (they are
    netted inside the portfolio). No asset ends above what it asked for."""
    volume = np.asarray(volume_mw, dtype=float)
    return _pool_net(volume.reshape(volume.shape[0], -1), step_mw).reshape(volume.shape)


@njit(cache=True)
def _pool_net(volume, step_mw):
    """:func:`pool_net` for (N, T), compiled: it runs on every delivery step."""
    out = volume.copy()
    for j in range(volume.shape[1]):
        column = volume[:, j]
        total = column.sum()
        remainder = total - round_volume(total, step_mw, step_mw)
        along = np.maximum(column * np.sign(total), 0.0)
        if along.sum() > 1e-12:
            out[:, j] = column - remainder * (along / along.sum())
    return out


@njit(cache=True)
def netting(trade_mw):
    """The gross and the net power [MW] of the assets' intraday trades: only the net reaches the exchange."""
    return np.abs(trade_mw).sum(), abs(trade_mw.sum())

"""A portfolio of sites that bids as one actor: pooled bids, outages with re-dispatch, internal netting.

On the site core (:class:`~bessgym.envs.site.SiteSimulator`, arrays over N sites with their own connections),
what changes is the market side and the asset states:

- **Aggregation**: reserve and wholesale volumes are rounded to the product's minimum bid and increment for
  the portfolio's total, not per asset, and the assets' shares are scaled to that total (never above what
  each asset offered), so assets below 1 MW take part.
- **Shared view**: one forecast for the whole portfolio (one actor), so all assets bid the same prices.
- **Outages**: each asset fails and is repaired as a Markov chain per quarter-hour (MTBF, MTTR), seeded by the
  episode. A failed battery neither charges nor discharges.
- **Re-dispatch**: in a quarter-hour with failed assets, their schedule and their reserves move to the
  available assets with room (pro rata to the room), so the portfolio still delivers; only what nobody can
  cover is deviation or non-delivery. Capacity payments stay with the assets that won them.
- **Internal netting**: intraday trades of assets in opposite directions are netted inside the portfolio; only
  the net reaches the exchange and pays the fee, which is shared pro rata to the assets' gross trades.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from bessgym._checks import finite
from bessgym.assets.site import SiteSpec
from bessgym.envs.core import DT_H, MarketArrays, MarketConfig
from bessgym.envs.forecast import Forecaster
from bessgym.envs.site import SiteSimulator
from bessgym.market import settlement as st
from bessgym.market.clearing import round_volume

INTRADAY = st.CASH_FLOWS.index("intraday")  # row of the intraday cash flow in the core's breakdown


@dataclass(frozen=True)
class Reliability:
    """Mean time between failures and to repair [h]; None: never fails."""

    mtbf_h: float | None = None
    mttr_h: float = 24.0

    def __post_init__(self) -> None:
        finite("Reliability", mtbf_h=self.mtbf_h, mttr_h=self.mttr_h)
        if self.mtbf_h is not None and self.mtbf_h <= 0 or self.mttr_h <= 0:
            raise ValueError("Reliability: mtbf_h and mttr_h must be > 0")


@dataclass(frozen=True)
class SharedForecast:
    """One forecast for every asset of the portfolio (it is one actor)."""

    inner: Forecaster

    def forecast(self, column: str, realised: np.ndarray, n_assets: int, rng: np.random.Generator) -> np.ndarray:
        return np.broadcast_to(self.inner.forecast(column, realised, 1, rng), (n_assets, realised.shape[0]))


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
def netted_intraday_cash(trade_mw: np.ndarray, price_eur_mwh: float, fee_eur_mwh: float):
    """Each asset's intraday cash in one quarter-hour [EUR] when only the portfolio's net reaches the exchange:
    its trade at the price, less the fee on the net split pro rata to its |trade|; and the gross and net
    traded power [MW]."""
    gross = np.abs(trade_mw).sum()
    net = abs(trade_mw.sum())
    shared_fee = fee_eur_mwh * net / gross if gross > 1e-12 else 0.0  # the net's fee per MWh of |trade|
    return st.intraday_revenue(trade_mw, price_eur_mwh, shared_fee, DT_H), gross, net


@njit(cache=True)
def _share(amount: float, room_total: float) -> float:
    """The share of each asset's room (>= 0, ``room_total`` in all) that spreads ``amount`` pro rata, at most
    all of it."""
    return min(amount, room_total) / room_total if room_total > 1e-12 else 0.0


@njit(cache=True)
def _left(total: float, moved: float) -> float:
    """The share of ``total`` that was moved elsewhere (so the rest stays where it was)."""
    return moved / total if abs(total) > 1e-12 else 0.0


@njit(cache=True)
def redispatch(q, up, power, committed, fcr_q, pos_q, neg_q, up_cap, down_cap):
    """Move failed assets' schedule and reserves of quarter-hour ``q`` to available ones (``up``) with room,
    pro rata to the room, in place; what they cannot take stays with the failed assets. Returns the six
    columns as they were (committed, FCR, aFRR POS, NEG, up and down power rooms), for :func:`restore`.
    Loops over assets: a step with an outage calls it, and numpy temporaries cost more than the work."""
    n = up.shape[0]
    saved = np.empty((6, n))
    lost_total = room_dis_total = room_ch_total = 0.0
    room_dis, room_ch = np.zeros(n), np.zeros(n)
    for i in range(n):
        saved[0, i], saved[1, i], saved[2, i] = committed[i, q], fcr_q[i, q], pos_q[i, q]
        saved[3, i], saved[4, i], saved[5, i] = neg_q[i, q], up_cap[i, q], down_cap[i, q]
        if up[i]:
            room_dis[i] = max(up_cap[i, q] - committed[i, q], 0.0)
            room_ch[i] = max(down_cap[i, q] + committed[i, q], 0.0)
            room_dis_total += room_dis[i]
            room_ch_total += room_ch[i]
        else:
            lost_total += committed[i, q]
    to_dis, to_ch = _share(max(lost_total, 0.0), room_dis_total), _share(max(-lost_total, 0.0), room_ch_total)
    moved = room_dis * to_dis - room_ch * to_ch
    left = _left(lost_total, moved.sum())
    free = np.zeros(n)
    for i in range(n):
        lost = 0.0 if up[i] else committed[i, q]
        committed[i, q] += moved[i] - lost * left
        if up[i]:
            free[i] = power[i] - abs(committed[i, q])
    for held_q in (fcr_q, pos_q, neg_q):
        failed_total = room_total = 0.0
        room = np.zeros(n)
        for i in range(n):
            if up[i]:
                room[i] = max(free[i] - held_q[i, q], 0.0)
                room_total += room[i]
            else:
                failed_total += held_q[i, q]
        taken = room * _share(failed_total, room_total)
        gone = _left(failed_total, taken.sum())
        for i in range(n):
            failed = 0.0 if up[i] else held_q[i, q]
            held_q[i, q] += taken[i] - failed * gone
            free[i] -= taken[i]
    for i in range(n):
        up_cap[i, q] = max(power[i] - fcr_q[i, q] - pos_q[i, q], 0.0) if up[i] else 0.0
        down_cap[i, q] = max(power[i] - fcr_q[i, q] - neg_q[i, q], 0.0) if up[i] else 0.0
    return saved


@njit(cache=True)
def restore(q, saved, committed, fcr_q, pos_q, neg_q, up_cap, down_cap):
    """Put back the columns :func:`redispatch` changed (the day's commitments stay as they were bid)."""
    committed[:, q], fcr_q[:, q], pos_q[:, q] = saved[0], saved[1], saved[2]
    neg_q[:, q], up_cap[:, q], down_cap[:, q] = saved[3], saved[4], saved[5]


class PortfolioSimulator(SiteSimulator):
    """:class:`SiteSimulator` for sites marketed as one portfolio; see the module docstring."""

    record_keys = SiteSimulator.record_keys + ("available", "external_trade_mwh", "gross_trade_mwh")
    pools_bids = True

    def __init__(self, market: MarketArrays, sites: Sequence[SiteSpec], config: MarketConfig, forecaster: Forecaster,
                 *, pv_per_mwp: np.ndarray, pv_forecast_sigma: float = 0.0,
                 reliability: Sequence[Reliability] | None = None) -> None:
        super().__init__(market, sites, config, SharedForecast(forecaster), pv_per_mwp=pv_per_mwp,
                         pv_forecast_sigma=pv_forecast_sigma)
        rel = list(reliability) if reliability is not None else [Reliability()] * self.n
        if len(rel) != self.n:
            raise ValueError(f"got {len(rel)} reliabilities for {self.n} sites")
        self.p_fail = np.array([0.0 if r.mtbf_h is None else min(DT_H / r.mtbf_h, 1.0) for r in rel])
        self.p_repair = np.array([min(DT_H / r.mttr_h, 1.0) for r in rel])
        self.available = np.ones(self.n, dtype=bool)

    # ------------------------------------------------------------------------------- aggregation

    def _round_bids(self, volume_mw: np.ndarray, min_bid_mw: float, step_mw: float) -> np.ndarray:
        return pool_volumes(volume_mw, min_bid_mw, step_mw)

    def _pool(self, volume_mw: np.ndarray, step_mw: float) -> np.ndarray:
        return pool_net(volume_mw, step_mw) if self.config.wholesale_increments else volume_mw

    def _wholesale_step(self) -> float | None:
        return None  # assets plan continuous volumes; the portfolio's total is put on the grid by _pool

    # --------------------------------------------------------------------------- outages, delivery

    def reset_state(self) -> None:
        super().reset_state()
        self.available = np.ones(self.n, dtype=bool)

    def fail(self, assets: np.ndarray) -> None:
        """Take assets out now (e.g. a test's or a user's scenario); repairs follow the Markov chain."""
        self.available[np.asarray(assets)] = False

    def _in_service(self) -> np.ndarray:
        return self.available

    def deliver(self, q: int, action: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        u = self.rng.random(self.n)
        self.available = np.where(self.available, u >= self.p_fail, u < self.p_repair)
        d = self.day
        columns = (d.committed_mw, d.fcr_q, d.pos_q, d.neg_q, d.up_cap, d.down_cap)
        saved = None if self.available.all() else redispatch(q, self.available, self.fleet.power_mw, *columns)
        try:
            cash, report = super().deliver(q, action)
        finally:
            if saved is not None:
                restore(q, saved, *columns)
        cash[INTRADAY], gross, net = netted_intraday_cash(report["trade_mw"], self._id1[d.start + q],
                                                          self.config.intraday_fee_eur_mwh)
        report.update(available=self.available.astype(float), external_trade_mwh=np.full(self.n, net * DT_H),
                      gross_trade_mwh=np.full(self.n, gross * DT_H))
        return cash, report

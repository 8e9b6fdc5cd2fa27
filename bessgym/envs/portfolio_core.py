"""A portfolio of sites that bids as one actor: pooled bids, outages with re-dispatch, internal netting.

On the site core (:class:`~bessgym.envs.site.SiteSimulator`, arrays over N sites with their own connections),
what changes is the market side and the asset states:

- **Aggregation** (:class:`bessgym.envs.pooling.Pooled`): reserve and wholesale volumes are rounded to the
  product's minimum bid and increment for the portfolio's total, not per asset, and the assets' shares are
  scaled to that total (never above what each asset offered), so assets below 1 MW take part.
- **Shared view**: one forecast for the whole portfolio (one actor), so all assets bid the same prices.
- **Outages**: each asset fails and is repaired as a Markov chain per quarter-hour (MTBF, MTTR), seeded by the
  episode. A failed battery neither charges nor discharges.
- **Re-dispatch**: in a quarter-hour with failed assets, their schedule and their reserves move to the
  available assets with room (pro rata to the room), so the portfolio still delivers. What nobody can cover
  of the schedule is re-traded intraday from the first quarter-hour whose gate follows the failure (the
  quarter-hour it fails in deviates: its gate has passed); reserves nobody can cover are non-delivery.
  Capacity payments stay with the assets that won them.
- **Internal netting**: intraday trades of assets in opposite directions are netted inside the portfolio; only
  the net reaches the exchange and pays the fee, which is shared pro rata to the assets' gross trades.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from bessgym._checks import finite
from bessgym.assets.site import SiteSpec
from bessgym.data.arrays import MarketArrays
from bessgym.data.calendar import DT_H
from bessgym.envs.forecast import Forecaster, forecast_sigma
from bessgym.envs.kernels import MOVABLE_DOWN, MOVABLE_UP, DayArrays, held_need
from bessgym.envs.pooling import netting
from bessgym.envs.site import SiteSimulator
from bessgym.market.config import MarketConfig
from bessgym.market.reserves import HELD_DOWN, HELD_UP


@dataclass(frozen=True)
class Reliability:
    """Mean time between failures and to repair [h]; None: never fails. ``seed``: the asset's own outage stream,
    so it fails at the same quarter-hours wherever it runs (alone, in any portfolio, planned either way: common
    random numbers for comparisons); None: its outages are drawn from the episode's generator."""

    mtbf_h: float | None = None
    mttr_h: float = 24.0
    seed: int | None = None

    def __post_init__(self) -> None:
        finite("Reliability", mtbf_h=self.mtbf_h, mttr_h=self.mttr_h)
        if self.mtbf_h is not None and self.mtbf_h <= 0 or self.mttr_h <= 0:
            raise ValueError("Reliability: mtbf_h and mttr_h must be > 0")


@dataclass(eq=False)
class Outages:
    """Each asset fails and is repaired as a Markov chain per quarter-hour: the chances [-] from MTBF and MTTR.
    Assets with a :attr:`Reliability.seed` draw from their own streams, a block of quarter-hours at a time
    (one call per asset and block, not per step)."""

    p_fail: np.ndarray
    p_repair: np.ndarray
    seeded: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # the assets with their own stream
    streams: tuple[np.random.Generator, ...] = ()
    _block: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    _row: int = 0

    BLOCK = 96

    @classmethod
    def of(cls, reliability: Sequence[Reliability]) -> Outages:
        seeded = np.array([i for i, r in enumerate(reliability) if r.seed is not None], dtype=int)
        return cls(np.array([0.0 if r.mtbf_h is None else min(DT_H / r.mtbf_h, 1.0) for r in reliability]),
                   np.array([min(DT_H / r.mttr_h, 1.0) for r in reliability]), seeded,
                   tuple(np.random.default_rng(reliability[i].seed) for i in seeded))

    def next(self, available: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Which assets are in service in the coming quarter-hour, from which are now (N,) bool."""
        u = rng.random(available.shape[0])
        if self.seeded.size:
            if self._row == self._block.shape[0]:
                self._block = np.stack([g.random(self.BLOCK) for g in self.streams], axis=1)
                self._row = 0
            u[self.seeded] = self._block[self._row]
            self._row += 1
        return np.where(available, u >= self.p_fail, u < self.p_repair)


@dataclass(frozen=True)
class SharedForecast:
    """One forecast for every asset of the portfolio (it is one actor)."""

    inner: Forecaster

    @property
    def sigma(self) -> float:
        return forecast_sigma(self.inner)

    def forecast(self, column: str, realised: np.ndarray, n_assets: int, rng: np.random.Generator) -> np.ndarray:
        return np.broadcast_to(self.inner.forecast(column, realised, 1, rng), (n_assets, realised.shape[0]))


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
def redispatch(q, up, power, committed, held, up_cap, down_cap):
    """Move failed assets' schedule and reserves (``held``: one row per reserve product) of quarter-hour ``q``
    to available ones (``up``) with room, pro rata to the room, in place (in the portfolio's copy of the day,
    :meth:`PortfolioSimulator.deliver`); what they cannot take stays with the failed assets. Loops over assets:
    a step with an outage calls it, and numpy temporaries cost more than the work."""
    n = up.shape[0]
    lost_total = room_dis_total = room_ch_total = 0.0
    room_dis, room_ch = np.zeros(n), np.zeros(n)
    for i in range(n):
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
    for k in range(held.shape[0]):
        held_q = held[k]
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
        dis, ch = power[i], power[i]
        for k in HELD_UP:
            dis -= held[k, i, q]
        for k in HELD_DOWN:
            ch -= held[k, i, q]
        up_cap[i, q] = max(dis, 0.0) if up[i] else 0.0
        down_cap[i, q] = max(ch, 0.0) if up[i] else 0.0


@njit(cache=True)
def energy_short(q, up, soc, soc_min, soc_max, eta_c, eta_d, hold, held):
    """Whether an available asset's SoC cannot hold its reserves of quarter-hour ``q`` for their held duration."""
    for i in range(soc.shape[0]):
        if not up[i]:
            continue
        need_up = held_need(held, q, i, hold, HELD_UP) / eta_d[i]
        need_down = held_need(held, q, i, hold, HELD_DOWN) * eta_c[i]
        if need_up > soc[i] - soc_min[i] + 1e-9 or need_down > soc_max[i] - soc[i] + 1e-9:
            return True
    return False


@njit(cache=True)
def rebalance_energy(q, up, soc, soc_min, soc_max, eta_c, eta_d, hold, committed, held, up_cap, down_cap):
    """Move the aFRR and mFRR an available asset's SoC cannot hold at quarter-hour ``q`` (for their held
    duration) to available siblings with spare energy and power, pro rata to what each can take, in place; what
    none can take stays. FCR stays where it is (symmetric: its energy cannot be split by direction)."""
    n = soc.shape[0]
    for direction in range(2):  # 0: POS, energy above the floor; 1: NEG, room below the ceiling
        movable = MOVABLE_UP if direction == 0 else MOVABLE_DOWN
        stored, need = np.zeros(n), np.zeros(n)
        for i in range(n):
            if direction == 0:
                stored[i] = soc[i] - soc_min[i]
                need[i] = held_need(held, q, i, hold, HELD_UP) / eta_d[i]
            else:
                stored[i] = soc_max[i] - soc[i]
                need[i] = held_need(held, q, i, hold, HELD_DOWN) * eta_c[i]
        for k in movable:  # in the table's order: aFRR, then mFRR
            held_q, h = held[k], hold[k]
            moving, room = np.zeros(n), np.zeros(n)
            for i in range(n):
                conv = 1.0 / eta_d[i] if direction == 0 else eta_c[i]  # SoC energy per MWh delivered
                short = max(need[i] - max(stored[i], 0.0), 0.0) if up[i] else 0.0
                moving[i] = min(held_q[i, q], short / (h * conv)) if short > 1e-9 else 0.0
                if up[i] and short <= 1e-9:
                    power = up_cap[i, q] - max(committed[i, q], 0.0) if direction == 0 else \
                        down_cap[i, q] - max(-committed[i, q], 0.0)
                    room[i] = max(min((stored[i] - need[i]) / (h * conv), power), 0.0)
            total, room_total = moving.sum(), room.sum()
            if total <= 1e-12 or room_total <= 1e-12:
                continue
            placed = min(total, room_total)
            for i in range(n):
                conv = 1.0 / eta_d[i] if direction == 0 else eta_c[i]
                delta = room[i] * placed / room_total - moving[i] * placed / total
                held_q[i, q] += delta
                need[i] += delta * h * conv
                if direction == 0:
                    up_cap[i, q] = max(up_cap[i, q] - delta, 0.0)
                else:
                    down_cap[i, q] = max(down_cap[i, q] - delta, 0.0)


class PortfolioSimulator(SiteSimulator):
    """:class:`SiteSimulator` for sites marketed as one portfolio; see the module docstring."""

    record_keys = SiteSimulator.record_keys + ("available", "external_trade_mwh", "gross_trade_mwh", "retraded_mw")

    def __init__(self, market: MarketArrays, sites: Sequence[SiteSpec], config: MarketConfig, forecaster: Forecaster,
                 *, pv_per_mwp: np.ndarray, pv_forecast_sigma: float = 0.0,
                 reliability: Sequence[Reliability] | None = None) -> None:
        super().__init__(market, sites, config, SharedForecast(forecaster), pv_per_mwp=pv_per_mwp,
                         pv_forecast_sigma=pv_forecast_sigma, pooled=True)
        rel = list(reliability) if reliability is not None else [Reliability()] * self.n
        if len(rel) != self.n:
            raise ValueError(f"got {len(rel)} reliabilities for {self.n} sites")
        self.outages = Outages.of(rel)
        self.available = np.ones(self.n, dtype=bool)
        self._redispatch_day: tuple[object, int, DayArrays] | None = None

    # --------------------------------------------------------------------------- outages, delivery

    def reset_state(self) -> None:
        super().reset_state()
        self.available = np.ones(self.n, dtype=bool)

    def fail(self, assets: np.ndarray) -> None:
        """Take assets out now (e.g. a test's or a user's scenario); repairs follow the Markov chain."""
        self.available[np.asarray(assets)] = False

    def deliver(self, q: int, action: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:  # type: ignore[override]
        """Outages drawn, the day re-dispatched around them, then the sites' delivery (netted by the pooling).

        What the others cannot take of an asset's schedule is re-traded intraday when the asset was out before
        the quarter-hour's gate (its trade closes the schedule, ``retraded_mw``); an asset that fails at the
        quarter-hour's start delivers nothing of it, and the deviation settles at the imbalance price."""
        was_up = self.available
        self.available = self.outages.next(was_up, self.rng)
        a, f = self.day.arrays, self.fleet
        short = energy_short(q, self.available, self.soc_mwh, f.soc_min_mwh, f.soc_max_mwh, f.eta_charge,
                             f.eta_discharge, a.hold_h, a.held_mw)
        day = None if self.available.all() and not short else self._redispatched(q, short)
        failed = was_up & ~self.available  # after the gate: their trades stand as placed
        placed = self.placed_trades(q, action, failed) if failed.any() else None
        cash, report = super().deliver(q, action, in_service=self.available, day=day, placed=placed)
        known_out = ~self.available & ~was_up
        gross, net = netting(report["trade_mw"])
        report.update(available=self.available.astype(float), external_trade_mwh=np.full(self.n, net * DT_H),
                      gross_trade_mwh=np.full(self.n, gross * DT_H),
                      retraded_mw=np.where(known_out, report["trade_mw"], 0.0))
        return cash, report

    def _redispatched(self, q: int, short: bool) -> DayArrays:
        """The day with quarter-hour ``q`` re-dispatched around the failed assets and, when an asset's SoC is
        ``short`` of its reserves' energy, their aFRR and mFRR moved to siblings with energy
        (:func:`rebalance_energy`): a copy of the day's schedule, reserves and rooms (made once per version of
        the day; each quarter-hour's column is re-dispatched once), so the day as bid stays as it was."""
        d = self.day
        if self._redispatch_day is None or self._redispatch_day[0] is not d or self._redispatch_day[1] != d.version:
            a = d.arrays
            copy = a._replace(committed_mw=a.committed_mw.copy(), held_mw=a.held_mw.copy(),
                              up_cap_mw=a.up_cap_mw.copy(), down_cap_mw=a.down_cap_mw.copy())
            self._redispatch_day = (d, d.version, copy)
        day = self._redispatch_day[2]
        redispatch(q, self.available, self.fleet.power_mw, day.committed_mw, day.held_mw, day.up_cap_mw,
                   day.down_cap_mw)
        if short:
            f = self.fleet
            rebalance_energy(q, self.available, self.soc_mwh, f.soc_min_mwh, f.soc_max_mwh, f.eta_charge,
                             f.eta_discharge, day.hold_h, day.committed_mw, day.held_mw, day.up_cap_mw,
                             day.down_cap_mw)
        return day

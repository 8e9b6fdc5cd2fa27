"""The observation vector, built with array slices for all N assets at once.

| slice | size | content | scale |
|---|---|---|---|
| stage | 6 | one-hot: capacity, day_ahead, ida1, ida2, ida3, delivery | - |
| soc | 1 | (SoC - soc_min) / usable energy | - |
| cycles | 1 | trading discharge today / daily limit | - |
| time | 6 | sin/cos of local time of day, day of week, day of year | - |
| reserves | 3 | FCR, aFRR POS, aFRR NEG of the current block / power | - |
| positions | H | committed net position of the next H quarter-hours / power (0 past the day) | - |
| day-ahead | H | DA price of the next H quarter-hours: realised after its gate, forecast before | 1/100 EUR/MWh |
| intraday | H | ID1 forecast of the next H quarter-hours | 1/100 EUR/MWh |
| reserve prices | 18 | FCR, aFRR POS, NEG capacity price of the 6 blocks, forecast before the auction | 1/20 EUR/MW/h |

The window of the next H quarter-hours starts at the day's first quarter-hour before delivery and at the
current quarter-hour during delivery; it reaches into the next day's forecasts.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bessgym.envs.core import Simulator
from bessgym.market.products import N_BLOCKS, Stage

N_FIXED = 6 + 1 + 1 + 6 + 3
PRICE_SCALE = 1 / 100.0
RESERVE_SCALE = 1 / 20.0
OBS_LIMIT = 1_000.0


def observation_size(horizon_qh: int) -> int:
    return N_FIXED + 3 * horizon_qh + 3 * N_BLOCKS


class ObservationBuilder:
    """Observations of a simulator's N assets. The day's windows (positions, prices, time features) are built
    once and rebuilt only when commitments change, so a step copies a few slices."""

    def __init__(self, sim: Simulator, horizon_qh: int) -> None:
        self.sim, self.h = sim, horizon_qh
        self.size = observation_size(horizon_qh)
        self._key: tuple | None = None
        self._weighted_key: tuple | None = None

    def __call__(self, stage: Stage, q: int, *, capacity_cleared: bool, da_cleared: bool) -> np.ndarray:
        """Observation (N, size) as float32 for the decision at (stage, q); q = -1 before delivery."""
        sim, h = self.sim, self.h
        d, f = sim.day, sim.fleet
        self._prepare(capacity_cleared, da_cleared)
        w0 = max(q, 0)  # the window starts at the day's first quarter-hour before delivery
        out = np.empty((sim.n, self.size), dtype=np.float32)
        fill = _fill_compiled if sim.n <= COMPILED_FILL_MAX_ASSETS else _fill
        fill(out, int(stage), w0, min(w0, d.n_qh - 1), h, sim.soc_mwh, f.soc_min_mwh, f.soc_max_mwh,
              d.discharged_mwh, f.max_daily_discharge_mwh, self._time, self._reserves, self._committed, self._da,
              self._id, self._reserve_prices)
        return out

    def weighted(self, weights: np.ndarray, stage: Stage, q: int, *, capacity_cleared: bool,
                 da_cleared: bool) -> np.ndarray:
        """The observation averaged over assets with ``weights`` (N,), as (size,) float32: ``weights @`` the N
        rows (up to float rounding), from the day's windows averaged once, so a step does not build N rows."""
        sim, h = self.sim, self.h
        d, f = sim.day, sim.fleet
        self._prepare(capacity_cleared, da_cleared)
        if self._weighted_key != (self._key, id(weights)):
            self._averaged = tuple(np.tensordot(weights, a, axes=1)[None].astype(np.float32) for a in (
                self._reserves, self._committed, self._da, self._id, self._reserve_prices))
            self._weighted_key = (self._key, id(weights))
        soc = np.array([weights @ ((sim.soc_mwh - f.soc_min_mwh) / (f.soc_max_mwh - f.soc_min_mwh))])
        cycles = np.array([weights @ (d.discharged_mwh / f.max_daily_discharge_mwh)])
        w0 = max(q, 0)
        out = np.empty((1, self.size), dtype=np.float32)
        _fill_compiled(out, int(stage), w0, min(w0, d.n_qh - 1), h, soc, _ZERO, _ONE, cycles, _ONE, self._time,
                       *self._averaged)
        return out[0]

    def _prepare(self, capacity_cleared: bool, da_cleared: bool) -> None:
        sim, h = self.sim, self.h
        d, f, m = sim.day, sim.fleet, sim.market
        key = (id(d), d.version, capacity_cleared, da_cleared)
        if key == self._key:
            return
        n_qh, span = d.n_qh, slice(d.start, d.start + d.n_qh)
        tod = 2 * np.pi * (m.local_hour[span] + m.local_minute[span] / 60.0) / 24.0
        dow = 2 * np.pi * m.day_of_week[span] / 7.0
        doy = 2 * np.pi * m.day_of_year[span] / 365.25
        self._time = np.stack([np.sin(tod), np.cos(tod), np.sin(dow), np.cos(dow), np.sin(doy), np.cos(doy)], axis=1)
        p = f.power_mw[:, None, None]
        self._reserves = np.stack([d.fcr_q, d.pos_q, d.neg_q], axis=2) / p
        self._committed = np.zeros((sim.n, n_qh + h))
        self._committed[:, :n_qh] = d.committed_mw / f.power_mw[:, None]
        self._da = _window(d.forecasts["da_price"], 0, n_qh + h).copy()
        if da_cleared:
            self._da[:, :n_qh] = m.columns["da_price"][span]
        self._da *= PRICE_SCALE
        self._id = _window(d.forecasts.get("id1_price", d.forecasts["da_price"]), 0, n_qh + h) * PRICE_SCALE
        starts = np.searchsorted(d.block, np.arange(N_BLOCKS))
        prices = []
        for name in ("fcr_price", "afrr_cap_pos_price", "afrr_cap_neg_price"):
            if capacity_cleared and name in m.columns:
                prices.append(np.broadcast_to(m.columns[name][d.start + starts], (sim.n, N_BLOCKS)))
            elif name in d.forecasts:
                prices.append(d.forecasts[name][:, starts])
            else:
                prices.append(np.zeros((sim.n, N_BLOCKS)))
        self._reserve_prices = np.concatenate(prices, axis=1) * RESERVE_SCALE
        # Cached as float32 and clipped once here; the per-step parts (SoC, cycles) are bounded by physics.
        for name in ("_time", "_reserves", "_committed", "_da", "_id", "_reserve_prices"):
            setattr(self, name, np.clip(getattr(self, name), -OBS_LIMIT, OBS_LIMIT).astype(np.float32))
        self._key = key


def _fill(out, stage, w0, qq, h, soc, soc_min, soc_max, discharged, max_discharge, time, reserves, committed, da,
          id1, reserve_prices):
    """Write the observation rows (the table above) from the day's cached float32 windows."""
    i = N_FIXED
    out[:, :6] = 0.0
    out[:, stage] = 1.0
    out[:, 6] = (soc - soc_min) / (soc_max - soc_min)
    out[:, 7] = discharged / max_discharge
    out[:, 8:14] = time[qq]
    out[:, 14:17] = reserves[:, qq]
    out[:, i:i + h] = committed[:, w0:w0 + h]
    out[:, i + h:i + 2 * h] = da[:, w0:w0 + h]
    out[:, i + 2 * h:i + 3 * h] = id1[:, w0:w0 + h]
    out[:, i + 3 * h:] = reserve_prices


# For a few assets numpy's per-call overhead dominates (a dozen copies of a few hundred values): one compiled
# call instead. For many assets numpy's copy loops are faster than numba's, so the same code runs uncompiled.
_fill_compiled = njit(cache=True)(_fill)
COMPILED_FILL_MAX_ASSETS = 64
_ZERO, _ONE = np.zeros(1), np.ones(1)


def _window(values: np.ndarray, start: int, length: int) -> np.ndarray:
    """values[:, start:start+length], padded with the last column where the data ends."""
    part = values[:, start:start + length]
    if part.shape[1] == length:
        return part
    pad = np.repeat(values[:, -1:], length - part.shape[1], axis=1)
    return np.concatenate([part, pad], axis=1)

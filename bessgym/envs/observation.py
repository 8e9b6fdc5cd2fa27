"""The observation vector, built with array slices for all N assets at once.

| slice | size | content | scale |
|---|---|---|---|
| stage | 6 | one-hot: capacity, day_ahead, ida1, ida2, ida3, delivery | - |
| soc | 1 | (SoC - soc_min) / usable energy | - |
| cycles | 1 | trading discharge today / daily limit | - |
| time | 6 | sin/cos of local time of day, day of week, day of year | - |
| reserves | 5 | FCR, aFRR POS, aFRR NEG, mFRR POS, mFRR NEG of the current block / power | - |
| positions | H | committed net position of the next H quarter-hours / power (0 past the day) | - |
| day-ahead | H | DA price of the next H quarter-hours: realised after its gate, forecast before | 1/100 EUR/MWh |
| intraday | H | ID1 forecast of the next H quarter-hours | 1/100 EUR/MWh |
| reserve prices | 30 | FCR, aFRR and mFRR POS, NEG price of the 6 blocks, forecast before the auction | 1/20 EUR/MW/h |

Entries by name: :func:`observation_layout` (``bessgym env describe ID`` prints them).
The window of the next H quarter-hours starts at the day's first quarter-hour before delivery and at the
current quarter-hour during delivery; it reaches into the next day's forecasts.

Optional features (``EnvOptions.observation_features``), appended in this order, each from the same window;
"now" is the window's first quarter-hour:

| feature | size | content | scale |
|---|---|---|---|
| relative_prices | 2 | DA and ID1 price now minus the window's mean, over its standard deviation | clipped to +-10 |
| quantile_spreads | 5 | ID1 price now minus the window's 10, 25, 50, 75 and 90 % quantiles | 1/100 EUR/MWh |
| time_to_gate | 3 | quarter-hours left of the day, to the IDA3 gate (10:00), to the next DA gate (12:00) | 1/96 |

A gate passed counts 0.

The spread of the price now to the prices still ahead (relative prices, quantiles) and the time left to trade
are the inputs that arbitrage policies in the literature decide on; the plain observation holds them only
implicitly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bessgym.envs.core import Simulator
from bessgym.envs.layout import Layout
from bessgym.market.products import N_BLOCKS, Stage
from bessgym.market.reserves import RESERVES

RESERVE_PRICES = tuple(p.price_column for p in RESERVES)  # FCR, aFRR POS, NEG, mFRR POS, NEG
N_FIXED = 6 + 1 + 1 + 6 + len(RESERVE_PRICES)  # stage, SoC, cycles, time, one reserve per product
PRICE_SCALE = 1 / 100.0
RESERVE_SCALE = 1 / 20.0
OBS_LIMIT = 1_000.0


FEATURES = {"relative_prices": 2, "quantile_spreads": 5, "time_to_gate": 3}
_QUANTILES = np.array([0.1, 0.25, 0.5, 0.75, 0.9])


def observation_size(horizon_qh: int, features: tuple[str, ...] = ()) -> int:
    return N_FIXED + 3 * horizon_qh + len(RESERVE_PRICES) * N_BLOCKS + sum(FEATURES[f] for f in features)


def check_features(features: tuple[str, ...]) -> tuple[str, ...]:
    """``features`` in the table's order; an unknown or repeated name is a ValueError listing the known ones."""
    unknown = [f for f in features if f not in FEATURES]
    if unknown or len(set(features)) != len(features):
        raise ValueError(f"observation_features {list(features)}: each at most once, from {list(FEATURES)}")
    return tuple(f for f in FEATURES if f in features)


def observation_layout(horizon_qh: int, features: tuple[str, ...] = (),
                       extra: tuple[tuple[str, int, str], ...] = ()) -> Layout:
    """The observation's entries for a window of ``horizon_qh`` quarter-hours and the optional ``features``
    (in :data:`FEATURES` order), then an env's ``extra`` entries (name, size, meaning);
    scales in the module docstring."""
    parts = [("stage", 6, "one-hot: capacity, day_ahead, ida1, ida2, ida3, delivery"),
             ("soc", 1, "(SoC - soc_min) / usable energy"), ("cycles", 1, "trading discharge today / daily limit"),
             ("time", 6, "sin/cos of local time of day, day of week, day of year")]
    parts += [(f"{p.name}_held", 1, f"{p.label} held in the current block / power") for p in RESERVES]
    parts += [("positions", horizon_qh, "committed net position of the window's quarter-hours / power"),
              ("day_ahead", horizon_qh, "DA price of the window: realised after its gate, forecast before / 100"),
              ("intraday", horizon_qh, "ID1 price forecast of the window / 100")]
    parts += [(p.price_column, N_BLOCKS, f"{p.label} capacity price of the 6 blocks / 20") for p in RESERVES]
    meanings = {"relative_prices": "DA and ID1 price now minus the window's mean, over its std",
                "quantile_spreads": "ID1 now minus the window's 10, 25, 50, 75, 90 % quantiles / 100",
                "time_to_gate": "quarter-hours left of the day, to the IDA3 gate, to the DA gate / 96"}
    parts += [(f, FEATURES[f], meanings[f]) for f in check_features(features)]
    return Layout(parts + list(extra))


class ObservationBuilder:
    """Observations of a simulator's N assets. The day's windows (positions, prices, time features) are built
    once and rebuilt only when commitments change, so a step copies a few slices."""

    def __init__(self, sim: Simulator, horizon_qh: int, features: tuple[str, ...] = ()) -> None:
        self.sim, self.h, self.features = sim, horizon_qh, check_features(features)
        self.size = observation_size(horizon_qh, self.features)
        self._base = observation_size(horizon_qh)
        self._day, self._weights, self._key = None, None, None

    def __call__(self, stage: Stage, q: int, *, capacity_cleared: bool, da_cleared: bool) -> np.ndarray:
        """Observation (N, size) as float32 for the decision at (stage, q); q = -1 before delivery."""
        sim, h = self.sim, self.h
        d, f = sim.day, sim.fleet
        self._prepare(capacity_cleared, da_cleared)
        w0 = max(q, 0)  # the window starts at the day's first quarter-hour before delivery
        out = np.empty((sim.n, self.size), dtype=np.float32)
        fill = _fill_compiled if sim.n <= COMPILED_FILL_MAX_ASSETS else _fill
        core = np.empty((sim.n, self._base), dtype=np.float32) if self.features else out  # C-ordered, as compiled
        fill(core, int(stage), w0, min(w0, d.n_qh - 1), h, sim.soc_mwh, f.soc_min_mwh, f.soc_max_mwh,
              d.discharged_mwh, f.max_daily_discharge_mwh, self._time, self._reserves, self._committed, self._da,
              self._id, self._reserve_prices)
        if self.features:
            out[:, :self._base] = core
            self._extras(out, w0)
        return out

    def weighted(self, weights: np.ndarray, stage: Stage, q: int, *, capacity_cleared: bool,
                 da_cleared: bool) -> np.ndarray:
        """The observation averaged over assets with ``weights`` (N,), as (size,) float32: ``weights @`` the N
        rows (up to float rounding), from the day's windows averaged at the source, so neither a step nor a
        rebuild makes N rows."""
        sim, d = self.sim, self.sim.day
        self._prepare(capacity_cleared, da_cleared, weights)
        soc = np.array([self._soc_weights @ sim.soc_mwh - self._soc_offset])
        cycles = np.array([self._cycle_weights @ d.discharged_mwh])
        w0 = max(q, 0)
        out = np.empty((1, self.size), dtype=np.float32)
        base = np.empty((1, self._base), dtype=np.float32) if self.features else out  # C-ordered, as compiled
        _fill_compiled(base, int(stage), w0, min(w0, d.n_qh - 1), self.h,
                       soc, _ZERO, _ONE, cycles, _ONE,
                       self._time, self._reserves, self._committed, self._da, self._id, self._reserve_prices)
        if self.features:
            out[:, :self._base] = base
            self._extras(out, w0)
        return out[0]

    def _extras(self, out: np.ndarray, w0: int) -> None:
        """The optional features (module docstring) into ``out[:, base size:]``, from the day's windows."""
        i, h = self._base, self.h
        da, id1 = self._da[:, w0:w0 + h], self._id[:, w0:w0 + h]  # scaled by PRICE_SCALE
        now = id1[:, 0]
        if "relative_prices" in self.features:
            for window in (da, id1):
                spread = (window[:, 0] - window.mean(axis=1)) / (window.std(axis=1) + 1e-3)
                out[:, i] = np.minimum(np.maximum(spread, -10.0), 10.0)
                i += 1
        if "quantile_spreads" in self.features:
            out[:, i:i + 5] = now[:, None] - np.quantile(id1, _QUANTILES, axis=1).T
            i += 5
        if "time_to_gate" in self.features:
            left = self.sim.day.n_qh - w0
            out[:, i:i + 3] = np.array([left, max(self._gates[0] - w0, 0), max(self._gates[1] - w0, 0)]) / 96.0

    def _prepare(self, capacity_cleared: bool, da_cleared: bool, weights: np.ndarray | None = None) -> None:
        """The day's windows: one row per asset, or with ``weights`` their weighted average as one row."""
        sim, h = self.sim, self.h
        d, f, m = sim.day, sim.fleet, sim.market
        # the day and weights themselves, not their ids: a new object may reuse a freed one's address
        key = (d.version, capacity_cleared, da_cleared)
        if d is self._day and weights is self._weights and key == self._key:
            return

        def rows(values: np.ndarray, per: np.ndarray | None = None) -> np.ndarray:
            """(N, ...) values per asset (divided by ``per``), or their weighted average as (1, ...)."""
            scale = np.ones(sim.n) if per is None else 1.0 / per
            if weights is None:
                return values * scale.reshape((-1,) + (1,) * (np.ndim(values) - 1))
            if values.strides[0] == 0:  # one row for all (a shared forecast, a cleared price)
                return (weights * scale).sum() * values[:1]
            return ((weights * scale) @ values)[None]

        n_qh, span = d.n_qh, slice(d.start, d.start + d.n_qh)
        if d is not self._day:  # the time features change with the day only
            tod = 2 * np.pi * (m.local_hour[span] + m.local_minute[span] / 60.0) / 24.0
            dow = 2 * np.pi * m.day_of_week[span] / 7.0
            doy = 2 * np.pi * m.day_of_year[span] / 365.25
            time = np.stack([np.sin(tod), np.cos(tod), np.sin(dow), np.cos(dow), np.sin(doy), np.cos(doy)], axis=1)
            self._time = time.astype(np.float32)  # within [-1, 1]
            hours = m.local_hour[span]  # the first quarter-hours at 10:00 (IDA3 gate) and 12:00 (DA gate)
            self._gates = [int(np.argmax(hours >= g)) if (hours >= g).any() else n_qh for g in (10, 12)]
        p = f.power_mw
        self._reserves = np.stack([rows(x, p) for x in d.held_q], axis=2)
        committed = rows(d.committed_mw, p)
        self._committed = np.zeros((committed.shape[0], n_qh + h))
        self._committed[:, :n_qh] = committed
        self._da = rows(_window(d.forecasts["da_price"], 0, n_qh + h))
        if da_cleared:  # realised for every asset: the weights' sum times the price
            self._da[:, :n_qh] = rows(np.ones((sim.n, 1))) * m.columns["da_price"][span]
        self._da *= PRICE_SCALE
        self._id = rows(_window(d.forecasts.get("id1_price", d.forecasts["da_price"]), 0, n_qh + h)) * PRICE_SCALE
        starts = np.searchsorted(d.block, np.arange(N_BLOCKS))
        prices = []
        for name in RESERVE_PRICES:
            if capacity_cleared and name in m.columns:
                prices.append(np.broadcast_to(m.columns[name][d.start + starts], (sim.n, N_BLOCKS)))
            elif name in d.forecasts:
                prices.append(d.forecasts[name][:, starts])
            else:
                prices.append(np.zeros((sim.n, N_BLOCKS)))
        self._reserve_prices = rows(np.concatenate(prices, axis=1)) * RESERVE_SCALE
        # Cached as float32 and clipped once here (np.clip's dispatch costs 10x two ufuncs on these small
        # arrays); the per-step parts (SoC, cycles) are bounded by physics.
        for name in ("_reserves", "_committed", "_da", "_id", "_reserve_prices"):
            clipped = np.minimum(np.maximum(getattr(self, name), -OBS_LIMIT), OBS_LIMIT)
            setattr(self, name, np.ascontiguousarray(clipped, dtype=np.float32))  # C-ordered, as compiled
        if weights is not None:  # the per-step SoC and cycle shares, averaged: one dot product each
            usable = f.soc_max_mwh - f.soc_min_mwh
            self._soc_weights, self._soc_offset = weights / usable, float(weights @ (f.soc_min_mwh / usable))
            self._cycle_weights = weights / f.max_daily_discharge_mwh
        self._day, self._weights, self._key = d, weights, key


def _fill(out, stage, w0, qq, h, soc, soc_min, soc_max, discharged, max_discharge, time, reserves, committed, da,
          id1, reserve_prices):
    """Write the observation rows (the table above) from the day's cached float32 windows."""
    i = N_FIXED
    out[:, :6] = 0.0
    out[:, stage] = 1.0
    out[:, 6] = (soc - soc_min) / (soc_max - soc_min)
    out[:, 7] = discharged / max_discharge
    out[:, 8:14] = time[qq]
    out[:, 14:i] = reserves[:, qq]
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

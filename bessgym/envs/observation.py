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

from bessgym.envs.core import Simulator
from bessgym.market.products import N_BLOCKS, Stage

N_FIXED = 6 + 1 + 1 + 6 + 3
PRICE_SCALE = 1 / 100.0
RESERVE_SCALE = 1 / 20.0
OBS_LIMIT = 1_000.0


def observation_size(horizon_qh: int) -> int:
    return N_FIXED + 3 * horizon_qh + 3 * N_BLOCKS


def observe(sim: Simulator, stage: Stage, q: int, horizon_qh: int, *, capacity_cleared: bool,
            da_cleared: bool) -> np.ndarray:
    """Observation (N, observation_size) as float32 for the decision at (stage, q)."""
    d, f, m = sim.day, sim.fleet, sim.market
    n, h = sim.n, horizon_qh
    w0 = max(q, 0)  # -1 before delivery: the window starts at the day's first quarter-hour
    t = d.start + min(w0, d.n_qh - 1)
    out = np.empty((n, observation_size(h)), dtype=np.float32)
    out[:, :6] = 0.0
    out[:, int(stage)] = 1.0
    out[:, 6] = (sim.soc_mwh - f.soc_min_mwh) / (f.soc_max_mwh - f.soc_min_mwh)
    out[:, 7] = d.discharged_mwh / f.max_daily_discharge_mwh
    tod = 2 * np.pi * (m.local_hour[t] + m.local_minute[t] / 60.0) / 24.0
    dow = 2 * np.pi * m.day_of_week[t] / 7.0
    doy = 2 * np.pi * m.day_of_year[t] / 365.25
    out[:, 8:14] = (np.sin(tod), np.cos(tod), np.sin(dow), np.cos(dow), np.sin(doy), np.cos(doy))
    b = d.block[min(w0, d.n_qh - 1)]
    p = f.power_mw
    out[:, 14] = d.fcr_mw[:, b] / p
    out[:, 15] = d.afrr_pos_mw[:, b] / p
    out[:, 16] = d.afrr_neg_mw[:, b] / p  # the same block's values as d.fcr_q etc.
    i = N_FIXED
    committed = d.committed_mw[:, w0:w0 + h]
    out[:, i:i + h] = 0.0
    out[:, i:i + committed.shape[1]] = committed / p[:, None]
    i += h
    out[:, i:i + h] = _window(d.forecasts["da_price"], w0, h) * PRICE_SCALE
    if da_cleared:
        realised = m.columns["da_price"][d.start + w0:d.start + d.n_qh][: h]
        out[:, i:i + realised.shape[0]] = realised * PRICE_SCALE
    i += h
    id_fc = d.forecasts.get("id1_price", d.forecasts["da_price"])
    out[:, i:i + h] = _window(id_fc, w0, h) * PRICE_SCALE
    i += h
    starts = np.searchsorted(d.block, np.arange(N_BLOCKS))
    for k, name in enumerate(("fcr_price", "afrr_cap_pos_price", "afrr_cap_neg_price")):
        if capacity_cleared and name in m.columns:
            values = np.broadcast_to(m.columns[name][d.start + starts], (n, N_BLOCKS))
        elif name in d.forecasts:
            values = d.forecasts[name][:, starts]
        else:
            values = np.zeros((n, N_BLOCKS))
        out[:, i + k * N_BLOCKS:i + (k + 1) * N_BLOCKS] = values * RESERVE_SCALE
    np.clip(out, -OBS_LIMIT, OBS_LIMIT, out=out)
    return out


def _window(values: np.ndarray, start: int, length: int) -> np.ndarray:
    """values[:, start:start+length], padded with the last column where the data ends."""
    part = values[:, start:start + length]
    if part.shape[1] == length:
        return part
    pad = np.repeat(values[:, -1:], length - part.shape[1], axis=1)
    return np.concatenate([part, pad], axis=1)

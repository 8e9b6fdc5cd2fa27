"""What every env promises after each step, as checks that name what broke (the fuzz suite's oracle).

:func:`violations` looks at one step's result: a finite observation inside the observation space, cash flows
that sum to the reward, and where the step delivered: each battery's SoC within its window, power within its
rating, the energy balance (dSoC = eta_c charged - discharged / eta_d - auxiliaries) and a site's grid
connection; and at any stage, reserves awarded on the market's grid (0, or at least the minimum bid in whole
steps: per asset alone, the totals of a pooled portfolio). Given the state before a delivery step
(:func:`before_step`), also each asset's daily cycle limit: its trading discharge goes beyond the day's budget
only as far as something forced it (:func:`_cycle_limit`). Used by ``tests/fuzz`` and ``benchmarks/fuzz.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bessgym.data.calendar import DT_H

TOLERANCE = 1e-6  # [MWh, MW]: floating point, far below any volume the market or a battery resolves
AWARDS = ("fcr_mw", "afrr_pos_mw", "afrr_neg_mw", "mfrr_pos_mw", "mfrr_neg_mw")


@dataclass(frozen=True)
class Before:
    """Per asset, before a delivery step: the day's trading discharge so far and its budget [MWh], the net power
    the SoC band requires (> 0: a discharge) and the schedule committed in the auctions [MW]."""

    discharged_mwh: np.ndarray
    budget_mwh: np.ndarray
    band_lo_mw: np.ndarray
    committed_mw: np.ndarray


def before_step(env: Any, info: dict[str, Any]) -> Before | None:
    """The state :func:`violations` needs for the cycle limit, when the coming step (``info`` of the last
    ``reset``/``step``) is a delivery step; else None."""
    if info.get("stage") != "delivery":
        return None
    sim, q, view = env._runner.sim, info["quarter_hour"], env.day_view
    return Before(np.array(view.discharged_mwh, dtype=float), view.fleet.max_daily_discharge_mwh.copy(),
                  sim._trade_range(q)[2].copy(), sim.day.arrays.committed_mw[:, q].copy())


def violations(env: Any, obs: np.ndarray, reward: float, info: dict[str, Any],
               before: Before | None = None) -> list[str]:
    """What ``env`` (a bessgym env, unwrapped) broke in the step that returned ``obs``, ``reward``, ``info``;
    ``before``: :func:`before_step` of that step, to check the cycle limit too."""
    found = []
    if not (np.isfinite(obs).all() and env.observation_space.contains(obs)):
        found.append("observation outside its space")
    cash = sum(info["cash_flow_eur"].values())
    if abs(cash - reward) > 1e-6 * max(1.0, abs(reward)):
        found.append(f"cash flows sum to {cash} EUR, the reward is {reward}")
    view = env.day_view
    phys = info.get("physics")
    if phys is not None:
        p = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in phys.items()}
        found += _physics(view, p)
        if before is not None:
            found += _cycle_limit(view, p, before)
    rules = view.rules
    for name in AWARDS:
        mw = getattr(view, name)
        bids = mw.sum(axis=0) if view.pooled else mw
        steps = bids / rules.bid_step_mw
        if not (np.isclose(steps, np.round(steps), atol=1e-9).all()
                and ((bids < TOLERANCE) | (bids >= rules.min_bid_mw - TOLERANCE)).all()):
            found.append(f"{name} off the market's grid: {np.round(bids, 6).tolist()}")
    return found


def _physics(view: Any, p: dict[str, np.ndarray]) -> list[str]:
    f, found = view.fleet, []
    soc = p["soc_mwh"]
    if ((soc < f.soc_min_mwh - TOLERANCE) | (soc > f.soc_max_mwh + TOLERANCE)).any():
        found.append(f"SoC {soc.tolist()} MWh outside [{f.soc_min_mwh.tolist()}, {f.soc_max_mwh.tolist()}]")
    if (np.abs(p["power_mw"]) > f.power_mw + TOLERANCE).any():
        found.append(f"power {p['power_mw'].tolist()} MW above the rating {f.power_mw.tolist()}")
    balance = f.eta_charge * p["charged_mwh"] - p["discharged_mwh"] / f.eta_discharge - p["aux_mwh"]
    if (np.abs(soc - p["soc_before_mwh"] - balance) > 1e-9).any():
        found.append("energy balance: the SoC moved by other than charge, discharge and auxiliaries")
    if "grid_export_mw" in p:
        limit = np.array([s.grid_limit_mw for s in view.sites])
        if (np.abs(p["grid_export_mw"]) > limit + TOLERANCE).any():
            found.append(f"grid {p['grid_export_mw'].tolist()} MW beyond the connection {limit.tolist()}")
    return found


def _cycle_limit(view: Any, p: dict[str, np.ndarray], before: Before) -> list[str]:
    """An asset's trading discharge in the step [MW] beyond what its budget left is allowed only up to what was
    forced: the net power its SoC band required (plus the exchange's 0.1 MW step the forced trade is rounded
    to), the schedule it committed in the auctions, or, in a portfolio, a sibling's outage in that
    quarter-hour (re-dispatch moves the failed asset's schedule to those with power room, budget or not)."""
    after = np.array(view.discharged_mwh, dtype=float)
    if after.shape != before.discharged_mwh.shape or (after < before.discharged_mwh - TOLERANCE).any():
        return []  # a new day: the budget starts again
    if "available" in p and (p["available"] < 0.5).any():
        return []
    step_mw = (after - before.discharged_mwh) / DT_H
    allowed = np.maximum.reduce([(before.budget_mwh - before.discharged_mwh) / DT_H,
                                 before.band_lo_mw + view.rules.wholesale_min_bid_mw, before.committed_mw])
    beyond = (after > before.budget_mwh + TOLERANCE) & (step_mw > np.maximum(allowed, 0.0) + TOLERANCE / DT_H)
    if beyond.any():
        return [f"cycle limit: assets {np.flatnonzero(beyond).tolist()} discharged "
                f"{step_mw[beyond].tolist()} MW beyond their budget, unforced"]
    return []

"""What every env promises after each step, as checks that name what broke (the fuzz suite's oracle).

:func:`violations` looks at one step's result: a finite observation inside the observation space, cash flows
that sum to the reward, and where the step delivered: each battery's SoC within its window, power within its
rating, the energy balance (dSoC = eta_c charged - discharged / eta_d - auxiliaries) and a site's grid
connection; and at any stage, reserves awarded on the market's grid (0, or at least the minimum bid in whole
steps: per asset alone, the totals of a pooled portfolio). Given the state before a delivery step
(:func:`before_step`), also per asset of a single battery or site:

- the daily cycle limit: its trading discharge goes beyond the day's budget only as far as something forced it
  (:func:`_cycle_limit`; in a portfolio too);
- reserve headroom: the step's schedule leaves the SoC inside the band its held reserves need
  (:func:`reserve_band`, restated here from the day's awards), or ran at full free power towards it;
- penalties only where physics forced them: undelivered activation only at the battery's rating, its SoC
  window or its connection; reserve unavailable only where the SoC at the quarter-hour's start lacked the held
  energy or the connection and the schedule left no power for it.

A portfolio's headroom and penalties are not checked per asset: its reserves are pooled, and what one asset
cannot hold moves to its siblings or is withheld (``Portfolio-v1``'s docstring). Used by ``tests/fuzz`` and
``benchmarks/fuzz.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bessgym.assets.battery import power_range, reserve_energy
from bessgym.data.calendar import DT_H
from bessgym.market.reserves import HELD_DOWN, HELD_UP, RESERVES

TOLERANCE = 1e-6  # [MWh, MW]: floating point, far below any volume the market or a battery resolves
AWARDS = tuple(p.held_column for p in RESERVES)  # the day view's awards per product (N, 6) [MW]


@dataclass(frozen=True)
class Before:
    """Per asset, before a delivery step: the day's trading discharge so far and its budget [MWh], the net power
    the SoC band requires (> 0: a discharge) and the schedule committed in the auctions [MW]; the SoC band
    [MWh] the reserves need at the step's end (:func:`reserve_band`), the power free beside the reserves up and
    down [MW], and the SoC energy [MWh] and power [MW] the step's reserves hold up and down."""

    discharged_mwh: np.ndarray
    budget_mwh: np.ndarray
    band_lo_mw: np.ndarray
    committed_mw: np.ndarray
    band_mwh: tuple[np.ndarray, np.ndarray] | None = None
    free_mw: tuple[np.ndarray, np.ndarray] | None = None
    held_mwh: tuple[np.ndarray, np.ndarray] | None = None
    held_mw: tuple[np.ndarray, np.ndarray] | None = None


def before_step(env: Any, info: dict[str, Any]) -> Before | None:
    """The state :func:`violations` needs for the cycle limit, headroom and penalties, when the coming step
    (``info`` of the last ``reset``/``step``) is a delivery step; else None."""
    if info.get("stage") != "delivery":
        return None
    q, view = info["quarter_hour"], env.day_view
    f = view.fleet
    lo, hi = reserve_band(view)
    band_lo = np.array([power_range(s, a, b, DT_H, ec, ed, aux)[0] for s, a, b, ec, ed, aux in zip(
        np.asarray(view.soc_mwh, dtype=float), lo[:, q], hi[:, q], f.eta_charge, f.eta_discharge, f.aux_power_mw,
        strict=True)])
    up_mwh, down_mwh, up_mw, down_mw = _held(view)
    return Before(np.array(view.discharged_mwh, dtype=float), f.max_daily_discharge_mwh.copy(), band_lo,
                  np.array(view.committed_mw[:, q], dtype=float), (lo[:, q], hi[:, q]),
                  (np.array(view.up_cap[:, q]), np.array(view.down_cap[:, q])),
                  (up_mwh[:, q], down_mwh[:, q]), (up_mw[:, q], down_mw[:, q]))


def _held(view: Any) -> tuple[np.ndarray, ...]:
    """Per quarter-hour (N, n_qh): the SoC energy the held reserves need up and down [MWh] (each for its hold
    time, through the efficiencies) and the power they hold up and down [MW]."""
    cfg, f = view.config, view.fleet
    held = np.stack([np.asarray(getattr(view, name), dtype=float)[:, view.block] for name in AWARDS])
    up, down = reserve_energy(held, cfg.hold_h(view.rules), f.eta_charge[:, None], f.eta_discharge[:, None])
    return up, down, sum(held[k] for k in HELD_UP), sum(held[k] for k in HELD_DOWN)


def reserve_band(view: Any) -> tuple[np.ndarray, np.ndarray]:
    """The SoC band (lo, hi) (N, n_qh) [MWh] each quarter-hour's end must lie in for the day's awarded reserves,
    restated from the awards: the energy held for this quarter-hour's and the next one's reserves (a block's
    reserve is deliverable from its first moment), then backwards in time whatever keeps the next band reachable
    with the power free beside the reserves. Where two blocks' needs conflict, the earlier block's floor holds
    (the ceiling gives way), as a battery cannot be both full enough and empty enough."""
    f = view.fleet
    up, down = _held(view)[:2]
    up[:, :-1], down[:, :-1] = np.maximum(up[:, :-1], up[:, 1:]), np.maximum(down[:, :-1], down[:, 1:])
    lo = f.soc_min_mwh[:, None] + up
    hi = np.maximum(f.soc_max_mwh[:, None] - down, lo)
    charge_in = (np.asarray(view.down_cap) * f.eta_charge[:, None] - f.aux_power_mw[:, None]) * DT_H
    discharge_out = (np.asarray(view.up_cap) / f.eta_discharge[:, None] + f.aux_power_mw[:, None]) * DT_H
    for q in range(lo.shape[1] - 2, -1, -1):
        lo[:, q] = np.maximum(lo[:, q], lo[:, q + 1] - charge_in[:, q + 1])
        hi[:, q] = np.minimum(hi[:, q], hi[:, q + 1] + discharge_out[:, q + 1])
    lo = np.minimum(lo, f.soc_max_mwh[:, None])
    return lo, np.maximum(hi, lo)


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
            if not view.pooled and before.band_mwh is not None:
                found += _headroom(view, p, before) + _penalties(view, p, before)
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


def _headroom(view: Any, p: dict[str, np.ndarray], before: Before) -> list[str]:
    """The SoC the step's schedule alone leads to (its activations are not the operator's doing) lies in the
    reserve band, to the energy of one step of the exchange's grid, or the schedule ran at full free power
    towards the band (less that step: the forced trade is rounded onto the grid)."""
    f, (lo, hi), (free_up, free_down) = view.fleet, before.band_mwh, before.free_mw
    s = p["power_mw"] - p["reserve_mwh"] / DT_H
    plan = p["soc_before_mwh"] + (f.eta_charge * np.maximum(-s, 0.0) - np.maximum(s, 0.0) / f.eta_discharge
                                  - f.aux_power_mw) * DT_H
    step_mw = view.rules.wholesale_min_bid_mw
    slack = step_mw * DT_H / f.eta_discharge + TOLERANCE
    low, high = plan < lo - slack, plan > hi + slack
    forced = np.where(low, s <= -free_down + step_mw + TOLERANCE, s >= free_up - step_mw - TOLERANCE)
    broke = (low | high) & ~forced
    if broke.any():
        return [f"reserve headroom: assets {np.flatnonzero(broke).tolist()} scheduled to {plan[broke].tolist()} "
                f"MWh, their reserves need [{lo[broke].tolist()}, {hi[broke].tolist()}] MWh, unforced"]
    return []


def _penalties(view: Any, p: dict[str, np.ndarray], before: Before) -> list[str]:
    """Undelivered activation only where the battery ran at its rating, its SoC window or its connection's
    bound; unavailable reserve only where the SoC at the step's start lacked the energy held or the power left
    beside the schedule (within the rating and the connection less PV) was short of the power held."""
    f, found = view.fleet, []
    soc0, soc1, power, schedule = p["soc_before_mwh"], p["soc_mwh"], p["power_mw"], p["schedule_mw"]
    site_lo, site_hi = -f.power_mw, f.power_mw.copy()
    if "grid_export_mw" in p:
        limit = np.array([s.grid_limit_mw for s in view.sites])
        green = np.array([s.green_only for s in view.sites])
        site_hi = np.minimum(site_hi, limit - p["pv_out_mw"])
        site_lo = np.maximum(site_lo, np.where(green, -p["pv_out_mw"], -(limit + p["pv_out_mw"])))
    edge = ((power >= site_hi - TOLERANCE) | (power <= site_lo + TOLERANCE) | (soc1 <= f.soc_min_mwh + TOLERANCE)
            | (soc1 >= f.soc_max_mwh - TOLERANCE))
    broke = (p["undelivered_mwh"] > TOLERANCE) & ~edge
    if broke.any():
        found.append(f"non-delivery penalty on assets {np.flatnonzero(broke).tolist()} at {power[broke].tolist()} "
                     "MW, inside their rating, SoC window and connection")
    (up_mwh, down_mwh), (up_mw, down_mw) = before.held_mwh, before.held_mw
    short = ((soc0 - f.soc_min_mwh < up_mwh - TOLERANCE) | (f.soc_max_mwh - soc0 < down_mwh - TOLERANCE)
             | (site_hi - schedule < up_mw - TOLERANCE) | (schedule - site_lo < down_mw - TOLERANCE))
    broke = (p["unavailable_mw"] > TOLERANCE) & ~short
    if broke.any():
        found.append(f"reserve unavailable on assets {np.flatnonzero(broke).tolist()} though their SoC and power "
                     "held it")
    return found

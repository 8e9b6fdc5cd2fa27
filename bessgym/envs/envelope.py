"""What every env promises after each step, as checks that name what broke (the fuzz suite's oracle).

:func:`violations` looks at one step's result: a finite observation inside the observation space, cash flows
that sum to the reward, and where the step delivered: each battery's SoC within its window, power within its
rating, the energy balance (dSoC = eta_c charged - discharged / eta_d - auxiliaries) and a site's grid
connection; and at any stage, reserves awarded on the market's grid (0, or at least the minimum bid in whole
steps: per asset alone, the totals of a pooled portfolio). Used by ``tests/fuzz`` and ``benchmarks/fuzz.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TOLERANCE = 1e-6  # [MWh, MW]: floating point, far below any volume the market or a battery resolves
AWARDS = ("fcr_mw", "afrr_pos_mw", "afrr_neg_mw", "mfrr_pos_mw", "mfrr_neg_mw")


def violations(env: Any, obs: np.ndarray, reward: float, info: dict[str, Any]) -> list[str]:
    """What ``env`` (a bessgym env, unwrapped) broke in the step that returned ``obs``, ``reward``, ``info``."""
    found = []
    if not (np.isfinite(obs).all() and env.observation_space.contains(obs)):
        found.append("observation outside its space")
    cash = sum(info["cash_flow_eur"].values())
    if abs(cash - reward) > 1e-6 * max(1.0, abs(reward)):
        found.append(f"cash flows sum to {cash} EUR, the reward is {reward}")
    view = env.day_view
    phys = info.get("physics")
    if phys is not None:
        found += _physics(view, {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in phys.items()})
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

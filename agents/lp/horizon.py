"""One joint LP over a whole period (perfect hindsight), e.g. a year of quarter-hours.

The daily models of :mod:`agents.index` and :mod:`agents.lp.delegate` re-solve one persistent model per day;
this builds one model for the period, with reserve blocks per delivery day and the cycle limit applied to the
period's total discharge (cycles per day x days). It is the battery model of :mod:`agents.lp.model` with one
asset over the period (a year is 35k quarter-hours; building it takes < 1 s where pyomo takes ~20 s). As in
the portfolio model, no discharge is planned at negative prices (instead of binaries).

HiGHS's simplex takes time that grows with the square of the horizon (a month 0.2 s, a year with reserves
~70 s) and its interior point ~30 s. So the period is first solved in windows of ``window_days`` in sequence,
each from the SoC the one before left and ending free (a month each, 0.2 s); their bases, placed at their steps
(:meth:`~agents.lp.arrays.ArrayLP.basis_from`), start the dual simplex on the whole period, which then needs
only the few thousand iterations that link the windows. The optimum is the whole model's, found by HiGHS;
the windows only shorten the way to it.

Two exact shortcuts more. Hourly day-ahead positions without intraday trade are modelled in whole hours (the
env holds the hour's power; see ``step_h`` of :class:`~agents.lp.model.ActorLP`), and the schedule is
returned at quarter-hours. The period's cycle budget is one row over every discharge column: it is left out
first and added only if the plan breaks it (the re-solve starts from the plan's basis).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd

from agents.lp.model import ActorLP
from agents.lp.terms import LPProducts, LPResult
from bessgym.assets.battery import BatterySpec
from bessgym.assets.site import SiteSpec
from bessgym.data.calendar import DT_H, block_of_day, split_days

WINDOW_DAYS = 30  # a year with reserves: 7- to 61-day windows measured within 15 % of each other
COLUMNS = {"price_da": "da_price", "price_id": "id1_price", "price_fcr": "fcr_price",
           "price_pos": "afrr_cap_pos_price", "price_neg": "afrr_cap_neg_price"}


def solve_horizon(market: pd.DataFrame, battery: BatterySpec, products: LPProducts, *,
                  hours: bool | None = None, window_days: int = WINDOW_DAYS) -> LPResult:
    """Solve the whole table's period at once from ``battery.soc_initial``, ending at the same SoC.

    ``hours``: model whole hours (default: where hourly day-ahead positions without intraday trade allow it)
    or quarter-hours (False). The result is per quarter-hour either way. ``window_days``: the length of the
    windows whose solutions warm-start a longer period."""
    needed = {"price_da": products.day_ahead, "price_id": products.intraday, "price_fcr": products.fcr,
              "price_pos": products.afrr_capacity, "price_neg": products.afrr_capacity}
    missing = [COLUMNS[k] for k, on in needed.items() if on and COLUMNS[k] not in market.columns]
    if missing:
        raise ValueError(f"solve_horizon needs column {missing[0]!r} for the selected products")
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, got {window_days}")
    days = split_days(market.index)
    day = np.empty(len(market), int)
    for i, s in enumerate(days):
        day[s] = i
    blocks = day * 6 + block_of_day(market.index)
    hourly = products.day_ahead and products.hourly_day_ahead and not products.intraday
    hourly = hourly and len(market) % 4 == 0 and market.index[0].minute == 0  # whole hours, from an hour's start
    hourly = hourly and bool((blocks.reshape(-1, 4) == blocks[::4, None]).all())
    if hours and not hourly:
        raise ValueError("hours=True needs hourly day-ahead positions, no intraday trade and reserve blocks of "
                         "whole hours")
    hours = hourly if hours is None else hours
    prices = {k: market[COLUMNS[k]].to_numpy() for k, on in needed.items() if on}
    if hours:
        prices = {k: np.nan_to_num(p, nan=0.0).reshape(-1, 4).mean(axis=1) for k, p in prices.items()}
        blocks = blocks[::4]
    site = SiteSpec(grid_limit_mw=battery.power_mw, pv_mwp=0.0, battery=battery)
    soc0 = np.array([battery.soc_initial_mwh])

    def model(steps: slice) -> ActorLP:
        return ActorLP([site], products, steps.stop - steps.start, blocks=blocks[steps] - blocks[steps.start],
                           step_h=1.0 if hours else DT_H, highs_options={"presolve": "on", "solver": "simplex"})

    def plan(lp: ActorLP, steps: slice, start_mwh: np.ndarray, end_mwh: tuple[np.ndarray, np.ndarray],
             max_discharge_mwh: float = np.inf) -> LPResult:
        (result,) = lp.solve(**{k: p[steps] for k, p in prices.items()}, soc0_mwh=start_mwh, soc_end_mwh=end_mwh,
                             max_discharge_mwh=np.array([max_discharge_mwh]))
        return result

    whole = slice(0, len(blocks))
    lp = model(whole)
    edges = [d.start // (4 if hours else 1) for d in days[::window_days]] + [whole.stop]
    if len(edges) > 2:  # windows in sequence, each from the SoC the one before left, ending free
        taken, start, free = [], soc0, (np.array([-np.inf]), np.array([np.inf]))
        for a, b in itertools.pairwise(edges):
            window = model(slice(a, b))
            start = plan(window, slice(a, b), start, free).soc_mwh[-1:]
            taken.append((window.layout, window.highs.getBasis(), a, b - a))
        lp.highs.setBasis(lp.layout.basis_from(taken))
    result = plan(lp, whole, soc0, (soc0, soc0))
    budget = battery.max_cycles_per_day * len(days) * battery.usable_energy_mwh
    if result.discharge_mw.sum() * lp.dt > budget * (1 + 1e-9):
        result = plan(lp, whole, soc0, (soc0, soc0), budget)
    result = dataclasses.replace(result, objective_eur=lp.objective_eur)
    return _quarter_hours(result, soc0[0]) if hours else result


def _quarter_hours(result: LPResult, soc0_mwh: float) -> LPResult:
    """An hourly schedule per quarter-hour: each hour's power held, the SoC linear between hour ends."""
    soc = np.concatenate([[soc0_mwh], result.soc_mwh])
    soc_qh = soc[:-1, None] + np.diff(soc)[:, None] * np.arange(1, 5) / 4
    held = {name: np.repeat(getattr(result, name), 4)
            for name in ("charge_mw", "discharge_mw", "day_ahead_mw", "intraday_mw")}
    return dataclasses.replace(result, soc_mwh=soc_qh.ravel(), **held)

"""One joint LP over a whole period (perfect hindsight), e.g. a year of quarter-hours.

The daily models of :mod:`agents.index` and :mod:`agents.lp.delegate` re-solve one persistent pyomo model per
day; this builds one model for the period, with reserve blocks per delivery day and the cycle limit applied to
the period's total discharge (cycles per day x days). A year is 35k quarter-hours: the model is the array-built
one of :mod:`agents.lp.portfolio` (a portfolio of one; building it takes < 1 s where pyomo takes ~20 s), and
HiGHS solves it with presolve, by interior point when reserves make the model large and degenerate
(measured: half the dual simplex's time). As in the portfolio model, no discharge is planned at negative
prices (instead of binaries); with ``integer_reserves`` the reserves are rounded down and the rest re-solved.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from agents.lp.model import LPProducts, LPResult
from agents.lp.portfolio import PortfolioLP
from bessgym.assets.battery import BatterySpec
from bessgym.assets.site import SiteSpec
from bessgym.data.calendar import block_of_day, split_days

COLUMNS = {"price_da": "da_price", "price_id": "id1_price", "price_fcr": "fcr_price",
           "price_pos": "afrr_cap_pos_price", "price_neg": "afrr_cap_neg_price"}


def solve_horizon(market: pd.DataFrame, battery: BatterySpec, products: LPProducts) -> LPResult:
    """Solve the whole table's period at once from ``battery.soc_initial``, ending at the same SoC."""
    needed = {"price_da": products.day_ahead, "price_id": products.intraday, "price_fcr": products.fcr,
              "price_pos": products.afrr_capacity, "price_neg": products.afrr_capacity}
    missing = [COLUMNS[k] for k, on in needed.items() if on and COLUMNS[k] not in market.columns]
    if missing:
        raise ValueError(f"solve_horizon needs column {missing[0]!r} for the selected products")
    days = split_days(market.index)
    day = np.empty(len(market), int)
    for i, s in enumerate(days):
        day[s] = i
    blocks = day * 6 + block_of_day(market.index)
    reserves = products.fcr or products.afrr_capacity
    options = {"presolve": "on", "solver": "ipm" if reserves else "simplex"}
    lp = PortfolioLP([SiteSpec(grid_limit_mw=battery.power_mw, pv_mwp=0.0, battery=battery)], products,
                     len(market), blocks=blocks, highs_options=options)
    soc0 = np.array([battery.soc_initial * battery.energy_mwh])
    prices = {k: market[COLUMNS[k]].to_numpy() for k, on in needed.items() if on}
    budget = np.array([battery.max_cycles_per_day * len(days) * battery.usable_energy_mwh])
    (result,) = lp.solve(**prices, soc0_mwh=soc0, soc_end_mwh=(soc0, soc0), max_discharge_mwh=budget)
    return dataclasses.replace(result, objective_eur=lp.objective_eur)

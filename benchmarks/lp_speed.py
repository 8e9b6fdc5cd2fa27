"""LP baselines' speed: the index over a year (daily persistent re-solves) and one joint LP over a year.

    python benchmarks/lp_speed.py
"""

from __future__ import annotations

import time


def main() -> dict[str, float]:
    from agents.index import index_revenues
    from agents.lp.horizon import solve_horizon
    from agents.lp.model import LPProducts
    from bessgym.assets import BatterySpec
    from bessgym.data import synthetic

    year = synthetic.generate("2024-01-01", "2025-01-01", seed=0)
    results = {}
    t0 = time.perf_counter()
    index_revenues(year)
    results["index_all_strategies_year_s"] = time.perf_counter() - t0
    battery = BatterySpec()
    reserves = {"fcr": True, "afrr_capacity": True}
    for name, products in {  # hourly day-ahead positions: a model in hours; 15-min products: in quarter-hours
        "joint_year_day_ahead_s": LPProducts(day_ahead=True),
        "joint_year_day_ahead_fcr_afrr_s": LPProducts(day_ahead=True, **reserves),
        "joint_year_15min_day_ahead_fcr_afrr_s": LPProducts(day_ahead=True, hourly_day_ahead=False, **reserves),
        "joint_year_intraday_fcr_afrr_s": LPProducts(day_ahead=False, intraday=True, **reserves),
    }.items():
        t0 = time.perf_counter()
        solve_horizon(year, battery, products)
        results[name] = time.perf_counter() - t0
    for k, v in results.items():
        print(f"{k:<40} {v:8.1f} s")
    return results


if __name__ == "__main__":
    main()

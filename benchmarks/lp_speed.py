"""LP baselines' speed: the index over a year (daily persistent re-solves) and one joint LP over a year.

    python benchmarks/lp_speed.py
"""

from __future__ import annotations

import time


def main() -> dict[str, float]:
    from agents.index import index_revenues
    from agents.lp.horizon import solve_horizon
    from agents.lp.terms import LPProducts
    from bessgym.assets import BatterySpec
    from bessgym.data import synthetic

    year = synthetic.generate("2024-01-01", "2025-01-01", seed=0)
    results = {}
    t0 = time.perf_counter()
    index_revenues(year)
    results["index_all_strategies_year_s"] = time.perf_counter() - t0
    battery = BatterySpec()
    reserves = {"fcr": True, "afrr_capacity": True}
    for name, products, hours in (  # hours=None: hourly day-ahead positions in hours, 15-min products in quarter-hours
        ("joint_year_day_ahead_s", LPProducts(day_ahead=True), None),
        ("joint_year_day_ahead_quarter_hours_s", LPProducts(day_ahead=True), False),
        ("joint_year_day_ahead_fcr_afrr_s", LPProducts(day_ahead=True, **reserves), None),
        ("joint_year_day_ahead_fcr_afrr_quarter_hours_s", LPProducts(day_ahead=True, **reserves), False),
        ("joint_year_15min_day_ahead_fcr_afrr_s", LPProducts(day_ahead=True, hourly_day_ahead=False, **reserves), None),
        ("joint_year_intraday_fcr_afrr_s", LPProducts(day_ahead=False, intraday=True, **reserves), None),
    ):
        t0 = time.perf_counter()
        solve_horizon(year, battery, products, hours=hours)
        results[name] = time.perf_counter() - t0
    for k, v in results.items():
        print(f"{k:<46} {v:8.1f} s")
    return results


if __name__ == "__main__":
    main()

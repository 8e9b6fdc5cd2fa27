"""Every daily planner over whole market tables: days run, days where HiGHS found no optimum, days where a plan
missed its end SoC or a schedule already held (the priced slack of agents.lp.model), and the time taken; for the
co-located site (10 MW / 20 MWh behind a 10 MW connection with 10 MWp PV, a curtailed MWh losing 30 EUR/MWh
beside its 42 EUR/MWh PPA), the days where joint operation earned less than a priority mode and more than
BESS priority.

    python benchmarks/planner_feasibility.py [--real ../shared/data/real] [--days N] [--only real]
                                             [--planners multimarket,lp_cascade]

Tables: the synthetic year 2024 (seed 0) and, where the real files are there, real 2024 (SMARD day-ahead and
regelleistung.net aFRR capacity, 1 January to 31 August) and real 2025 (day-ahead and FCR). Each planner runs
with the products the table has (the multi-market methodology needs aFRR energy: synthetic only). The SoC rolls
from day to day from 50 %, so each day starts where the env left the last.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

PLANNERS = ("lp", "lp_rolling", "lp_cascade", "multimarket", "site_joint", "site_bess_priority", "site_pv_priority")


def tables(real: Path) -> dict[str, pd.DataFrame]:
    from bessgym.data import synthetic
    from bessgym.data.importer import import_files

    out = {"synthetic 2024": synthetic.default_year()}
    smard = real / "smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv"
    afrr = real / "RESULT_OVERVIEW_CAPACITY_MARKET_aFRR_2024-01-01_2024-08-31.xlsx"
    if smard.exists() and afrr.exists():
        out["real 2024 (DA, aFRR capacity)"] = import_files({"smard": [smard], "regelleistung": [afrr]}).table
    fcr, da = real / "2025-2026" / "RESULT_OVERVIEW_CAPACITY_MARKET_FCR_2025-01-01_2025-12-31.xlsx", \
        real / "2025-2026" / "epex_prices_DA.csv"
    if fcr.exists() and da.exists():
        out["real 2025 (DA, FCR)"] = import_files({"regelleistung": [fcr]}, series=[("da_price", da)], fill=True,
                                                  unit="EUR/kWh").table
    return out


def run(planner: str, market: pd.DataFrame, days: int | None) -> dict[str, float]:
    from agents.colocation import SiteLPPolicy
    from agents.lp.cascade import CascadeLPPolicy
    from agents.lp.delegate import DailyLPPolicy, run_policy
    from agents.multimarket import MultiMarketPolicy, battery, market_config
    from bessgym.assets import BatterySpec, SiteSpec
    from bessgym.envs import CoLocatedPVBESSEnv, MarketArrays, MarketConfig, SingleBESSEnv
    from bessgym.market.config import PRODUCT_COLUMNS

    arrays = MarketArrays.from_frame(market)
    wanted = {"fcr", "afrr_capacity", "day_ahead", "imbalance"} | ({"ida"} if planner == "lp_cascade" else set())
    products = frozenset(p for p in wanted if all(c in market.columns for c in PRODUCT_COLUMNS[p]))
    stages = ("capacity", "day_ahead", *(("ida1", "ida2", "ida3") if "ida" in products else ()), "delivery")
    kwargs = {"agent_stages": stages, "episode_days": days or len(arrays.dates), "track_soh": False}
    if planner == "multimarket":
        if "afrr_energy_pos_price" not in market.columns:
            return {}
        env = SingleBESSEnv(arrays, battery(20.0), market_config(), **kwargs)
        policy = MultiMarketPolicy()
    elif planner.startswith("site_"):
        site = SiteSpec(grid_limit_mw=10.0, pv_mwp=10.0, battery=BatterySpec(), curtailment_other_eur_mwh=30.0)
        env = CoLocatedPVBESSEnv(arrays, site, MarketConfig(products=products), **kwargs)
        policy = SiteLPPolicy(planner.removeprefix("site_"))
    else:
        env = SingleBESSEnv(arrays, BatterySpec(), MarketConfig(products=products), **kwargs)
        policy = CascadeLPPolicy() if planner == "lp_cascade" else DailyLPPolicy(rolling=planner == "lp_rolling")
    misses = {"end": 0, "held": 0}
    start = time.perf_counter()
    try:
        daily = run_policy(env, _counting(policy, misses), seed=0)
    except RuntimeError as exc:  # HiGHS found no optimum: the failure this script looks for
        return {"days": float("nan"), "infeasible": str(exc)[:60], "seconds": time.perf_counter() - start}
    return {"days": len(daily), "infeasible": 0, "end_missed": misses["end"], "held_missed": misses["held"],
            "EUR/MW/year": float(daily["total"].mean() * 365 / 10.0),  # every planner's battery is 10 MW
            "seconds": time.perf_counter() - start, "daily": daily["total"]}


def _counting(policy, misses: dict[str, int]):
    """The policy, counting the days whose plans missed their end state or a held schedule by more than 1 kWh."""
    original = getattr(type(policy), "_plan_day", None)
    if original is None:
        return policy

    def plan_day(view, *, awarded: bool) -> None:
        original(policy, view, awarded=awarded)
        misses["end"] += any(abs(p.end_miss_mwh) > 1e-3 for p in policy._plan)
        misses["held"] += any(p.held_miss_mw is not None and np.abs(p.held_miss_mw).sum() * 0.25 > 1e-3
                              for p in policy._plan)

    policy._plan_day = plan_day
    return policy


def main() -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real")
    parser.add_argument("--days", type=int, default=None, help="days per table (default: all)")
    parser.add_argument("--only", default="", help="the tables whose name contains this (default: all)")
    parser.add_argument("--planners", default=",".join(PLANNERS), help="comma-separated (default: all)")
    args = parser.parse_args()
    rows = []
    for name, market in tables(args.real).items():
        if args.only not in name:
            continue
        site = {}
        for planner in args.planners.split(","):
            if planner not in PLANNERS:
                parser.error(f"unknown planner {planner!r}; choose from {', '.join(PLANNERS)}")
            result = run(planner, market, args.days)
            if not result:
                continue
            daily = result.pop("daily", None)
            if planner.startswith("site_") and daily is not None:
                site[planner] = daily
            rows.append({"table": name, "planner": planner, **result})
            print(rows[-1], flush=True)
        if len(site) == 3:  # per day: joint against the better priority, and strictly above BESS priority
            best = np.maximum(site["site_bess_priority"], site["site_pv_priority"])
            rows[-1].update(joint_below_a_priority_days=int((site["site_joint"] < best - 0.01).sum()),
                            joint_above_bess_priority_days=int((site["site_joint"]
                                                                > site["site_bess_priority"] + 0.01).sum()))
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows).set_index(["table", "planner"])
    print(frame.round(1).to_string())
    return frame


if __name__ == "__main__":
    main()

"""``bessgym portfolio compare``: the same assets marketed one by one, as a portfolio, and as a portfolio
planned jointly.

FCR, aFRR capacity and day-ahead, then intraday continuous at delivery, on the same market and outage
process, three ways:

- ``alone``: each asset is a portfolio of one and plans its day with the multi-market LP
  (:class:`~agents.lp.delegate.DailyLPPolicy`, reserves in whole MW);
- ``portfolio``: the same per-asset LPs (continuous reserves), the bids pooled (assets below the 1 MW minimum
  take part), outages re-dispatched, intraday trades netted;
- ``joint``: the portfolio planned by one LP over all assets (:class:`~agents.portfolio.PortfolioLPPolicy`,
  whole-MW totals, PV curtailed where a battery earns more).

Reported: revenue and penalties per asset and in total, the reserve held by the small assets, and exchange
transactions (external intraday volume) against the sum of the individual trades. Logged to MLflow
(experiment ``portfolio``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bessgym._io import atomic_path
from bessgym.assets.site import SiteSpec
from bessgym.data.calendar import DT_H
from bessgym.envs.core import MarketArrays, MarketConfig
from bessgym.envs.portfolio_agents import PortfolioParallelEnv
from bessgym.envs.portfolio_core import Reliability
from bessgym.market.products import Stage


def compare_config() -> MarketConfig:
    return MarketConfig(products=frozenset({"fcr", "afrr_capacity", "afrr_energy", "day_ahead", "intraday",
                                            "imbalance"}), fcr_hold_h=0.5, ancillary_max_share=0.8,
                        fcr_max_share=0.8)


def run_portfolio(market: MarketArrays, sites: Sequence[SiteSpec], *, days: int, reliability: Reliability,
                  seed: int = 0, joint: bool = False) -> dict[str, np.ndarray]:
    """Drive every stage of a portfolio for ``days`` days with the per-asset LPs or, with ``joint``, the
    portfolio LP (one action per asset, through the PettingZoo view): totals per asset."""
    from agents.lp.delegate import DailyLPPolicy
    from agents.portfolio import PortfolioLPPolicy

    env = PortfolioParallelEnv(market, sites, compare_config(), reliability=reliability, episode_days=days,
                               start_day=market.dates[0], agent_stages=("capacity", "day_ahead", "delivery"))
    policy = PortfolioLPPolicy("day_ahead") if joint else DailyLPPolicy("day_ahead")
    _, infos = env.reset(seed=seed)
    with env.recording() as log:
        while env.agents:
            info = infos[env.agents[0]]
            actions = policy.act(env.day_view, Stage[info["stage"].upper()], info["quarter_hour"])
            _, _, _, _, infos = env.step(dict(zip(env.agents, actions, strict=True)))
    cash = np.sum([r["cash_eur"] for r in log], axis=0)  # (flows, N) [EUR]
    held = sum(r["fcr_mw"] + r["afrr_pos_mw"] + r["afrr_neg_mw"] for r in log)
    return {"revenue_eur": cash.sum(axis=0), "penalty_eur": -cash[env.cash_flows.index("penalty")],
            "reserve_mwh": held * DT_H, "gross_trade_mwh": sum(np.abs(r["intraday_mw"]) for r in log) * DT_H,
            "external_trade_mwh": np.full(len(sites), sum(float(r["external_trade_mwh"][0]) for r in log))}


def compare(market: MarketArrays, sites: Sequence[SiteSpec], out: Path, *, days: int,
            reliability: Reliability = Reliability(mtbf_h=500.0, mttr_h=24.0),
            seed: int = 0, progress: Callable[[int, int], None] | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    """Alone vs portfolio vs joint portfolio LP: the table per asset and the totals; writes ``comparison.csv``,
    logs to MLflow. The portfolio runs share one outage path (same seed). ``progress(runs done, runs)``."""
    runs: list[dict[str, np.ndarray]] = []
    plan = [(list(sites), seed, False), (list(sites), seed, True)]
    plan += [([s], seed + 1 + i, False) for i, s in enumerate(sites)]
    for assets, run_seed, joint in plan:
        runs.append(run_portfolio(market, assets, days=days, reliability=reliability, seed=run_seed, joint=joint))
        if progress is not None:
            progress(len(runs), len(plan))
    pooled, joint, alone = runs[0], runs[1], runs[2:]
    rows = []
    for i, site in enumerate(sites):
        rows.append({"asset": i, "power_mw": site.battery.power_mw, "pv_mwp": site.pv_mwp,
                     "revenue_portfolio_eur": pooled["revenue_eur"][i],
                     "revenue_joint_eur": joint["revenue_eur"][i], "revenue_alone_eur": alone[i]["revenue_eur"][0],
                     "penalty_portfolio_eur": pooled["penalty_eur"][i], "penalty_joint_eur": joint["penalty_eur"][i],
                     "penalty_alone_eur": alone[i]["penalty_eur"][0],
                     "reserve_portfolio_mwh": pooled["reserve_mwh"][i], "reserve_joint_mwh": joint["reserve_mwh"][i],
                     "reserve_alone_mwh": alone[i]["reserve_mwh"][0],
                     "trades_alone_mwh": alone[i]["gross_trade_mwh"][0]})
    table = pd.DataFrame(rows).set_index("asset")
    total = table.sum(numeric_only=True)
    summary = {
        **{f"{k}_{how}_eur": total[f"{k}_{how}_eur"] for k in ("revenue", "penalty")
           for how in ("portfolio", "joint", "alone")},
        "exchange_trades_portfolio_mwh": float(pooled["external_trade_mwh"][0]),
        "exchange_trades_joint_mwh": float(joint["external_trade_mwh"][0]),
        "individual_trades_portfolio_mwh": float(pooled["gross_trade_mwh"].sum()),
        "exchange_trades_alone_mwh": float(table["trades_alone_mwh"].sum()),
        "small_assets_shut_out_alone": float(((table["power_mw"] < 1) & (table["reserve_alone_mwh"] == 0)).sum()),
        "small_assets_in_reserves_portfolio": float(((table["power_mw"] < 1)
                                                     & (table["reserve_portfolio_mwh"] > 0)).sum()),
    }
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "comparison.csv") as tmp:
        table.round(3).to_csv(tmp)
    _log(summary, out, days, len(sites))
    return table, summary


def _log(summary: dict[str, float], out: Path, days: int, n: int) -> None:
    import mlflow

    from experiments.tracking import quiet

    quiet()
    mlflow.set_experiment("portfolio")
    with mlflow.start_run(run_name="portfolio-vs-alone", tags={"kind": "portfolio"}):
        mlflow.log_params({"days": days, "assets": n})
        mlflow.log_metrics(summary)
        mlflow.log_artifact(str(out / "comparison.csv"))

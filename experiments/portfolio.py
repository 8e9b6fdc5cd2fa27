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

Every run sees the same outages: each asset draws them from its own stream (:attr:`Reliability.seed`), so it
fails at the same quarter-hours alone, in the portfolio and in every sub-portfolio (common random numbers).

Reported: revenue and penalties per asset and in total, the reserve held by the small assets, exchange
transactions (external intraday volume) against the sum of the individual trades, and the portfolio's revenue
allocated to the assets three ways (:mod:`bessgym.market.allocation`): pro rata to power, by contribution (each
asset's own settlement in the portfolio) and by Shapley value, where v(S) is the revenue of the sub-portfolio
S marketed the same way (exact up to ``MAX_SHAPLEY_ASSETS`` assets, 2^n runs; sampled over random orders
beyond, with its standard error). Logged to MLflow (experiment ``portfolio``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bessgym._io import atomic_path
from bessgym.assets.site import SiteSpec
from bessgym.data.arrays import MarketArrays
from bessgym.data.calendar import DT_H, MARKET_TZ
from bessgym.envs.portfolio_agents import PortfolioParallelEnv
from bessgym.envs.portfolio_core import Reliability
from bessgym.market.allocation import MAX_SHAPLEY_ASSETS, pro_rata, sampled_shapley, shapley
from bessgym.market.config import MarketConfig
from bessgym.market.products import Stage


def compare_config() -> MarketConfig:
    return MarketConfig(products=frozenset({"fcr", "afrr_capacity", "afrr_energy", "day_ahead", "intraday",
                                            "imbalance"}), fcr_hold_h=0.5, ancillary_max_share=0.8,
                        fcr_max_share=0.8)


def run_portfolio(market: MarketArrays, sites: Sequence[SiteSpec], *, days: int,
                  reliability: Reliability | Sequence[Reliability], seed: int = 0,
                  joint: bool = False) -> dict[str, np.ndarray]:
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
    quarter_hours = pd.Index(market.index[[r["t"] for r in log]].tz_convert(MARKET_TZ).date)
    daily = pd.Series([r["cash_eur"].sum() for r in log], index=quarter_hours).groupby(level=0).sum()
    return {"revenue_eur": cash.sum(axis=0), "penalty_eur": -cash[env.cash_flows.index("penalty")],
            "available": np.array([r["available"] for r in log]), "daily_revenue_eur": daily.to_numpy(),
            "orders": orders_sent(log),
            "reserve_mwh": held * DT_H, "gross_trade_mwh": sum(np.abs(r["intraday_mw"]) for r in log) * DT_H,
            "external_trade_mwh": np.full(len(sites), sum(float(r["external_trade_mwh"][0]) for r in log))}


def common_outages(reliability: Reliability, n: int, seed: int) -> list[Reliability]:
    """``reliability`` for assets 0..n-1, each with its own outage stream: asset i fails at the same quarter-hours
    in every run it takes part in (common random numbers)."""
    return [Reliability(reliability.mtbf_h, reliability.mttr_h, seed=seed * 1_000_003 + i) for i in range(n)]


def orders_sent(log: Sequence[dict[str, np.ndarray]]) -> float:
    """Orders the portfolio sent: quarter-hours with a net intraday trade at the exchange or a day-ahead
    position, and reserve offers per product and 4 h block (16 quarter-hours held count as one)."""
    intraday = sum(abs(float(r["external_trade_mwh"][0])) > 1e-9 for r in log)
    day_ahead = sum(abs(float(r["day_ahead_mw"].sum())) > 1e-9 for r in log)
    reserves = sum(float(r[name].sum()) > 1e-9 for r in log for name in ("fcr_mw", "afrr_pos_mw", "afrr_neg_mw"))
    return float(intraday + day_ahead + reserves / 16)


def compare(market: MarketArrays, sites: Sequence[SiteSpec], out: Path, *, days: int,
            reliability: Reliability = Reliability(mtbf_h=500.0, mttr_h=24.0), seed: int = 0,
            shapley_orders: int = 64,
            progress: Callable[[int, int], None] | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    """Alone vs portfolio vs joint portfolio LP on common outages, and the portfolio's revenue allocated: the
    table per asset and the totals; writes ``comparison.csv``, logs to MLflow. ``shapley_orders``: random
    orders when there are too many assets for the exact Shapley values (0: no Shapley values).
    ``progress(runs done, runs planned)``."""
    n = len(sites)
    rel = common_outages(reliability, n, seed)
    exact = n <= MAX_SHAPLEY_ASSETS
    planned = n + 2 + (2**n - n - 2 if exact and shapley_orders else 0)  # the sampled Shapley runs add to it
    value: dict[frozenset[int], float] = {frozenset(): 0.0}  # v(S): the revenue of sub-portfolio S
    done = 0

    def run(members: Sequence[int], joint: bool = False) -> dict[str, np.ndarray]:
        nonlocal done
        result = run_portfolio(market, [sites[i] for i in members], days=days, reliability=[rel[i] for i in members],
                               seed=seed, joint=joint)
        if not joint:
            value[frozenset(members)] = float(result["revenue_eur"].sum())
        done += 1
        if progress is not None:
            progress(done, max(planned, done))
        return result

    pooled, joint = run(range(n)), run(range(n), joint=True)
    alone = [run([i]) for i in range(n)]

    def v(coalition: frozenset[int]) -> float:
        if coalition not in value:
            run(sorted(coalition))
        return value[coalition]

    if shapley_orders == 0:
        phi, phi_err = np.full(n, np.nan), np.full(n, np.nan)
    elif exact:
        phi, phi_err = shapley(v, n), np.zeros(n)
    else:
        phi, phi_err = sampled_shapley(v, n, shapley_orders, np.random.default_rng(seed))
    power = np.array([site.battery.power_mw for site in sites])
    total = float(pooled["revenue_eur"].sum())
    rows = []
    for i, site in enumerate(sites):
        rows.append({"asset": i, "power_mw": site.battery.power_mw, "pv_mwp": site.pv_mwp,
                     "revenue_portfolio_eur": pooled["revenue_eur"][i],
                     "revenue_joint_eur": joint["revenue_eur"][i], "revenue_alone_eur": alone[i]["revenue_eur"][0],
                     "penalty_portfolio_eur": pooled["penalty_eur"][i], "penalty_joint_eur": joint["penalty_eur"][i],
                     "penalty_alone_eur": alone[i]["penalty_eur"][0],
                     "reserve_portfolio_mwh": pooled["reserve_mwh"][i], "reserve_joint_mwh": joint["reserve_mwh"][i],
                     "reserve_alone_mwh": alone[i]["reserve_mwh"][0],
                     "trades_alone_mwh": alone[i]["gross_trade_mwh"][0],
                     "allocated_pro_rata_eur": pro_rata(total, power)[i],
                     "allocated_contribution_eur": pooled["revenue_eur"][i],
                     "allocated_shapley_eur": phi[i], "shapley_stderr_eur": phi_err[i],
                     "outage_quarter_hours": int((~pooled["available"][:, i].astype(bool)).sum())})
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
        "shapley_exact": float(exact), "portfolio_runs": float(done),
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

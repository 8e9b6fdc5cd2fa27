"""Evaluate strategies on a held-out market: one long episode per strategy, every quarter-hour recorded.

Revenues come from the env's own settlement (the per-quarter-hour cash flows), so what a strategy is
credited with is exactly the reward the env paid it. Metrics are per MW of battery power and annualised
(mean daily revenue x 365), the unit of the revenue index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd

from agents.base import Agent, DelegateAgent, Idle, PriceThreshold, TimeOfDay
from agents.colocation import SiteLPPolicy
from agents.index import IndexResult, index_revenues
from agents.lp.cascade import CascadeLPPolicy
from agents.lp.delegate import DailyLPPolicy
from agents.portfolio import PortfolioLPPolicy
from bessgym.data.arrays import MarketArrays
from bessgym.data.calendar import DT_H, MARKET_TZ
from bessgym.envs.colocated import CoLocatedPVBESSEnv, CoLocatedVectorEnv
from bessgym.envs.delegates import NoOp, SpreadTrader
from bessgym.envs.options import EnvOptions
from bessgym.envs.portfolio import PortfolioEnv
from bessgym.envs.portfolio_agents import PortfolioParallelEnv
from bessgym.envs.portfolio_per_asset import PortfolioPerAssetEnv
from bessgym.envs.single_bess import SingleBESSEnv
from bessgym.envs.vector import BESSVectorEnv, RunnerVectorEnv
from bessgym.market.config import PRODUCT_COLUMNS, PRODUCTS
from bessgym.market.products import Stage
from bessgym.market.settlement import CASH_FLOWS
from experiments.config import LEARNED, METHODOLOGY, MODEL_OPTIONS, SEQUENTIAL, ConfigError, ExperimentConfig
from experiments.portfolio import common_outages

# LPs on the env's noisy forecasts: bracketed over forecast draws; the other LPs see perfect ones
NOISY_BASELINES = ("lp_noisy", "lp_rolling", "lp_cascade_noisy", "rolling_intrinsic", "multimarket_noisy")
PERFECT_BASELINES = ("lp", "lp_da", "lp_cascade", "lp_pv_priority", "lp_bess_priority", "lp_per_asset",
                     "multimarket")
PORTFOLIO_LPS = ("lp", "lp_noisy", "lp_per_asset")  # on a portfolio: decide per asset (its PettingZoo view)
# strategies of one env kind: the operating modes of a site, the per-asset LPs of a portfolio, the LPs that
# re-plan or trade in sequence (one battery)
ONLY_FOR = {"lp_pv_priority": "colocated", "lp_bess_priority": "colocated", "lp_per_asset": "portfolio",
            "lp_rolling": "single", **dict.fromkeys(SEQUENTIAL + METHODOLOGY, "single")}

def make_env(config: ExperimentConfig, market: MarketArrays, *, forecast: str | None = None,
             episode_days: int | None = None, start_day=None, parallel: bool = False, learner: bool = False) -> gym.Env:
    """The configured env (``env.kind``: one battery, a co-located site, a portfolio; with ``parallel`` the
    portfolio's per-asset PettingZoo view) on ``market`` (arrays shared between envs); ``learner``: the env an RL
    agent trains and acts in (:func:`env_options`). A portfolio's assets fail on common outages: each its own
    stream from ``portfolio.outage_seed``, the same for every strategy. A product the table cannot supply is a
    :class:`ConfigError` naming ``env.products`` and what it supports."""
    env = config.env
    _check_products(config, market)
    options = env_options(config, forecast=forecast, episode_days=episode_days, start_day=start_day,
                          learner=learner)
    battery = config.battery.spec()
    if env.kind == "single":
        return SingleBESSEnv(market, battery, options=options)
    if env.kind == "colocated":
        return CoLocatedPVBESSEnv(market, config.site.spec(battery), options=options)
    sites = config.portfolio.sites(config.battery)
    reliability = common_outages(config.portfolio.reliability(), len(sites), config.portfolio.outage_seed)
    kind = (PortfolioParallelEnv if parallel else PortfolioPerAssetEnv if learner and config.train.per_asset
            else PortfolioEnv)
    return kind(market, sites, reliability=reliability, options=options)


def _check_products(config: ExperimentConfig, market: MarketArrays) -> None:
    for product in config.env.products:
        missing = [c for c in PRODUCT_COLUMNS[product] if c not in market.columns]
        if missing:
            supported = [p for p in PRODUCTS if all(c in market.columns for c in PRODUCT_COLUMNS[p])]
            raise ConfigError(f"env.products: {product!r} needs column {missing[0]!r}, which the market table "
                              f"lacks; choose from what it supports: --set 'env.products=[{', '.join(supported)}]'")


def env_options(config: ExperimentConfig, *, forecast: str | None = None, episode_days: int | None = None,
                start_day=None, learner: bool = False) -> EnvOptions:
    """The configured env's options (``forecast``, ``episode_days``, ``start_day`` override the config's);
    ``learner``: with the learner's action parametrisation (``train.backed_energy_offers``,
    ``train.nearest_capacity_volumes``)."""
    env, t = config.env, config.train
    delegates = {"day_ahead": SpreadTrader() if env.day_ahead_delegate == "spread" else NoOp()}
    market = env.market_config(energy_only_backed=learner and t.backed_energy_offers,
                               capacity_volumes_nearest=learner and t.nearest_capacity_volumes)
    return EnvOptions(market, episode_days=episode_days or env.episode_days, start_day=start_day,
                      agent_stages=tuple(env.agent_stages), delegates=delegates, forecast=forecast or env.forecast,
                      forecast_sigma=env.forecast_sigma, horizon_qh=env.horizon_qh, track_soh=False,
                      observation_features=tuple(env.observation_features))


def make_vector_env(config: ExperimentConfig, market: MarketArrays, copies: int, *,
                    start_day=None) -> RunnerVectorEnv:
    """``copies`` of the configured battery or co-located site in the native batched env (one core call steps
    them all), as a learner trains in it (:func:`env_options`); they run the same delivery days in lock-step
    (``start_day``: always that one). Not for a portfolio (its assets are pooled: one portfolio is one core call
    already)."""
    kind = config.env.kind
    if kind == "portfolio":
        raise ConfigError("train.batched_copies: the native batched env is a battery's or a co-located site's; "
                          "env.kind is 'portfolio' (use train.batched_copies: 0)")
    _check_products(config, market)
    options = env_options(config, start_day=start_day, learner=True)
    battery = config.battery.spec()
    if kind == "colocated":
        return CoLocatedVectorEnv(copies, market, config.site.spec(battery), options=options)
    return BESSVectorEnv(copies, market, battery, options=options)


def make_agent(strategy: str, config: ExperimentConfig, model_dir: Path | None = None, *,
               baseline_dir: Path | None = None) -> Agent:
    """The agent behind a strategy name (``trained`` loads the RL agent saved in ``model_dir``,
    ``rl_baseline`` the one in ``baseline_dir``). The LPs are the env kind's: the multi-market LP of one
    battery, the site LP (``lp``: joint operation), the joint portfolio LP (``lp``) or one LP per asset
    (``lp_per_asset``)."""
    if strategy in LEARNED:
        from agents.rl import RLAgent

        folder = model_dir if strategy == "trained" else baseline_dir
        if folder is None:
            raise ValueError(f"strategy {strategy!r} needs a model directory (train first, or pass "
                             f"{MODEL_OPTIONS[strategy]})")
        return RLAgent.load(folder)
    kind, wholesale = config.env.kind, config.env.wholesale()
    if strategy in ("lp", "lp_noisy") and kind == "colocated":
        return DelegateAgent(SiteLPPolicy("joint", wholesale), name=strategy)
    if strategy in ("lp_pv_priority", "lp_bess_priority"):
        return DelegateAgent(SiteLPPolicy(strategy.removeprefix("lp_"), wholesale), name=strategy)
    if strategy in ("lp", "lp_noisy") and kind == "portfolio":
        return DelegateAgent(PortfolioLPPolicy(wholesale), name=strategy)
    if strategy in ("lp", "lp_noisy", "lp_rolling", "lp_per_asset"):
        # one battery also offers its free power as aFRR energy where the env pays it (a portfolio's per-asset
        # LPs hold their capacity's offers, as the joint portfolio LP does)
        policy = DailyLPPolicy(wholesale=wholesale, rolling=strategy == "lp_rolling", energy_offers=kind == "single")
        return DelegateAgent(policy, name=strategy)
    if strategy == "lp_da":
        return DelegateAgent(DailyLPPolicy(wholesale="day_ahead"), name=strategy)
    if strategy in ("lp_cascade", "lp_cascade_noisy", "rolling_intrinsic"):
        first = "day_ahead" if "day_ahead" in config.env.products else "intraday"  # intraday-only: re-planning
        return DelegateAgent(CascadeLPPolicy(rolling_intrinsic=strategy == "rolling_intrinsic", wholesale=first),
                             name=strategy)
    if strategy in METHODOLOGY:
        from agents.multimarket import MultiMarketPolicy

        return DelegateAgent(MultiMarketPolicy(), name=strategy)
    if strategy == "price_threshold":
        return PriceThreshold(horizon_qh=config.env.horizon_qh, lookahead_qh=config.env.horizon_qh)
    if strategy == "time_of_day":
        return TimeOfDay()
    if strategy == "idle":
        return Idle()
    raise ValueError(f"unknown strategy {strategy!r}")


@dataclass
class Evaluation:
    """What one strategy did: every delivery quarter-hour (UTC index) with prices, dispatch and cash flows."""

    strategy: str
    dispatch: pd.DataFrame
    power_mw: float
    usable_mwh: float
    energy_mwh: float  # nameplate (SoC in % is of this)
    reward_eur: float  # the sum of the env's rewards (reward_scale 1): equals the recorded cash flows
    cash_flows: tuple[str, ...] = CASH_FLOWS  # the env's breakdown (a co-located site adds PV flows)
    draws_eur: tuple[float, ...] = ()  # a noisy baseline's revenue in each forecast draw (the first is this one)

    def daily(self) -> pd.DataFrame:
        """Cash flows per Berlin delivery day and product [EUR], and their ``total``."""
        cash = self.dispatch[[f"cash_{p}_eur" for p in self.cash_flows]]
        cash.columns = list(self.cash_flows)
        days = pd.Index(self.dispatch.index.tz_convert(MARKET_TZ).date, name="delivery_date")
        table = cash.groupby(days).sum()
        table["total"] = table.sum(axis=1)
        return table

    def metrics(self, *, lp_eur: float | None = None, index: pd.Series | None = None) -> dict[str, float]:
        """Annualised EUR/MW/year (total and per product), share of the perfect-foresight LP and of the
        index strategies (``index``: their annualised EUR/MW/year on the same days), cycles, penalties."""
        daily = self.daily()
        n_days = len(daily)
        per_mw_year = 365.0 / n_days / self.power_mw
        total = float(daily["total"].sum())
        out = {"revenue_eur": total, "days": float(n_days), "annualised_eur_per_mw_year": total * per_mw_year}
        for product in self.cash_flows:
            out[f"annualised_{product}_eur_per_mw_year"] = float(daily[product].sum()) * per_mw_year
        discharged = float(np.maximum(self.dispatch["power_mw"].to_numpy(), 0.0).sum() * DT_H)
        out["cycles_per_day"] = discharged / self.usable_mwh / n_days
        out["penalties_eur"] = 0.0 - float(daily["penalty"].sum())  # paid, as a positive number
        out["imbalance_eur"] = float(daily["imbalance"].sum())
        if lp_eur is not None and lp_eur > 0:
            out["share_of_pf_lp"] = total / lp_eur
        if self.draws_eur:  # the bracket over forecast draws: mean and sample standard deviation
            per_draw = np.array(self.draws_eur) * per_mw_year
            out["draws"] = float(len(per_draw))
            out["annualised_mean_eur_per_mw_year"] = float(per_draw.mean())
            out["annualised_std_eur_per_mw_year"] = float(per_draw.std(ddof=1))
            if lp_eur is not None and lp_eur > 0:
                out["share_of_pf_lp_mean"] = float(np.mean(self.draws_eur)) / lp_eur
        for name, value in (index if index is not None else pd.Series(dtype=float)).items():
            if value > 0:
                out[f"share_of_index_{name}"] = out["annualised_eur_per_mw_year"] / value
        return out


def run_agent(agent: Agent, env: gym.Env | PortfolioParallelEnv, *, seed: int = 0,
              on_day: Callable[[int], None] | None = None) -> Evaluation:
    """One episode of ``env`` (all its days) driven by ``agent``; returns the recorded quarter-hours, summed
    over a portfolio's assets. On a portfolio's per-asset view (:class:`PortfolioParallelEnv`) the agent is a
    delegate policy that answers for every asset. ``on_day(n)``: called when the n-th delivery day is done."""
    parallel = isinstance(env, PortfolioParallelEnv)
    if parallel:
        if not isinstance(agent, DelegateAgent):
            raise TypeError(f"{agent.name}: a portfolio's per-asset view is driven by a delegate policy (an LP)")
        obs, infos = env.reset(seed=seed)
        info, recording, sim, scale = infos[env.agents[0]], env.recording, env.simulator, 1.0
    else:
        obs, info = env.reset(seed=seed)
        agent.reset(env)
        recording, sim, scale = env.unwrapped.runner.recording, env.unwrapped.simulator, env.unwrapped.reward_scale
    done, reward_eur, days, day = False, 0.0, 0, sim.day_number
    with recording() as log:
        while not done:
            if parallel:
                actions = agent.policy.act(env.day_view, Stage[info["stage"].upper()], info["quarter_hour"])
                obs, rewards, _, truncated, infos = env.step(dict(zip(env.agents, actions, strict=True)))
                reward, done = sum(rewards.values()), not env.agents
                info = next(iter(infos.values()))
            else:
                obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
                done = terminated or truncated
            reward_eur += reward
            today = sim.day_number
            if on_day is not None and (done or today != day):
                days, day = days + 1, today
                on_day(days)
    fleet = sim.fleet  # every asset's spec: a portfolio is valued per MW and MWh of all its batteries
    return Evaluation(agent.name, dispatch_frame(log, sim.market, sim.cash_flows), float(fleet.power_mw.sum()),
                      sum(spec.usable_energy_mwh for spec in fleet.specs), float(fleet.energy_mwh.sum()),
                      reward_eur / scale, sim.cash_flows)


def dispatch_frame(log: list[dict[str, np.ndarray]], market: MarketArrays,
                   cash_flows: tuple[str, ...] = CASH_FLOWS) -> pd.DataFrame:
    """The runner's delivery records as a table indexed by UTC quarter-hour, summed over assets (one battery:
    its own); extra keys a site records (PV, grid exchange) become columns too."""
    t = np.array([rec["t"] for rec in log])
    data = {"da_price": market.columns["da_price"][t]}
    if "id1_price" in market.columns:
        data["id1_price"] = market.columns["id1_price"][t]
    for key in [k for k in log[0] if k not in ("t", "cash_eur")]:
        data[key] = np.array([np.sum(rec[key], axis=-1) for rec in log], dtype=float)
    cash = np.array([rec["cash_eur"].sum(axis=-1) for rec in log])
    for k, product in enumerate(cash_flows):
        data[f"cash_{product}_eur"] = cash[:, k]
    return pd.DataFrame(data, index=market.index[t])


def evaluation_period(config: ExperimentConfig, frame: pd.DataFrame) -> tuple[pd.DataFrame, MarketArrays]:
    """The evaluated whole delivery days of a held-out table (``config.evaluate.days``, default all), as a
    table (for the index) and as env arrays."""
    market = MarketArrays.from_frame(frame, source=config.eval_market.label())
    days = min(config.evaluate.days or len(market.dates), len(market.dates))
    period = frame.iloc[market.day_slices[0].start:market.day_slices[days - 1].stop]
    return period, MarketArrays.from_frame(period, source=config.eval_market.label())


def index_baseline(config: ExperimentConfig, market: pd.DataFrame) -> IndexResult:
    """The revenue index strategies for the configured battery's duration, efficiency and cycle limit."""
    return index_revenues(market, config.battery.index_battery())


def not_applicable(strategy: str, config: ExperimentConfig) -> str | None:
    """Why a strategy cannot act in the configured env (None: it can). The rules trade intraday at delivery;
    elsewhere they would score an idle zero that reads like a result."""
    env = config.env
    if (only := ONLY_FOR.get(strategy)) and env.kind != only:
        return f"applies to env.kind {only}"
    if strategy in ("price_threshold", "time_of_day") and not ("intraday" in env.products
                                                               and "delivery" in env.agent_stages):
        return "trades intraday at delivery: needs 'intraday' in env.products and 'delivery' in env.agent_stages"
    if strategy in SEQUENTIAL + METHODOLOGY and not ("day_ahead" in env.products and "day_ahead" in env.agent_stages):
        return "trades day-ahead first: needs 'day_ahead' in env.products and in env.agent_stages"
    auctions = "intraday_auctions" in env.agent_stages or {"ida1", "ida2", "ida3"} <= set(env.agent_stages)
    if strategy in SEQUENTIAL and "ida" in env.products and not auctions:
        return "trades the intraday auctions: needs 'intraday_auctions' in env.agent_stages"
    return None


def evaluated_strategies(config: ExperimentConfig) -> list[str]:
    """The configured strategies that apply to the env (:func:`not_applicable`), the perfect-foresight LP
    (``lp``, the reference of ``share_of_pf_lp``) first."""
    return [s for s in dict.fromkeys(["lp", *config.evaluate.strategies]) if not_applicable(s, config) is None]


def evaluate_strategies(config: ExperimentConfig, market: MarketArrays, *, model_dir: Path | None = None,
                        baseline_dir: Path | None = None, progress: Callable[[str, int], None] | None = None,
                        done: dict[str, Evaluation] | None = None) -> dict[str, Evaluation]:
    """Every configured strategy over the evaluation days (``config.evaluate.days``, default all), from the
    first day (:func:`evaluated_strategies`), but those in ``done`` (e.g. cached baselines); the learners
    from ``model_dir`` (``trained``) and ``baseline_dir`` (``rl_baseline``).
    ``progress(strategy, days done)`` after each delivery day."""
    days = min(config.evaluate.days or len(market.dates), len(market.dates))
    out: dict[str, Evaluation] = {}
    for strategy in evaluated_strategies(config):
        if done and strategy in done:
            out[strategy] = done[strategy]
            continue
        forecast = {**dict.fromkeys(PERFECT_BASELINES, "perfect"),
                    **dict.fromkeys(NOISY_BASELINES, "noisy")}.get(strategy)  # others: as configured
        learner = strategy in LEARNED  # in the env it was trained in
        env = make_env(config.learner_config(strategy) if learner else config, market, forecast=forecast,
                       episode_days=days, start_day=market.dates[0],
                       parallel=config.env.kind == "portfolio" and strategy in PORTFOLIO_LPS, learner=learner)
        runs = []
        for k in range(draws(strategy, config)):  # a noisy baseline: one episode per forecast draw
            on_day = None if progress is None else (lambda n, s=strategy, k=k: progress(s, k * days + n))
            agent = make_agent(strategy, config, model_dir, baseline_dir=baseline_dir)
            runs.append(run_agent(agent, env, seed=config.evaluate.seed + k, on_day=on_day))
        evaluation = runs[0]
        evaluation.strategy = strategy
        evaluation.draws_eur = tuple(r.reward_eur for r in runs) if len(runs) > 1 else ()
        out[strategy] = evaluation
    return out


def draws(strategy: str, config: ExperimentConfig) -> int:
    """Episodes a strategy is evaluated over: the noisy LPs once per forecast draw, the others once."""
    return config.evaluate.noise_seeds if strategy in NOISY_BASELINES else 1

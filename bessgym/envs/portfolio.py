"""A portfolio of batteries and co-located sites marketed as one actor, and its per-asset PettingZoo view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd

from bessgym._checks import finite_float
from bessgym.assets.battery import BatterySpec
from bessgym.assets.site import SiteSpec
from bessgym.envs.colocated import make_site_runner
from bessgym.envs.core import MarketArrays, MarketConfig
from bessgym.envs.delegates import Delegate
from bessgym.envs.episode import Runner
from bessgym.envs.forecast import Forecaster
from bessgym.envs.observation import OBS_LIMIT, observation_size
from bessgym.envs.portfolio_core import PortfolioSimulator, Reliability
from bessgym.envs.single_bess import SingleBESSEnv


def default_portfolio() -> tuple[SiteSpec, ...]:
    """Six assets: standalone batteries of 10, 2, 0.6 and 0.4 MW (the last two below the 1 MW minimum bid on
    their own) and two PV co-located sites, each behind its own connection."""
    def bess(p: float, h: float) -> SiteSpec:
        return SiteSpec(grid_limit_mw=p, pv_mwp=0.0, battery=BatterySpec(power_mw=p, energy_mwh=p * h))

    return (bess(10.0, 2.0), bess(2.0, 1.0), bess(0.6, 2.0), bess(0.4, 1.0),
            SiteSpec(grid_limit_mw=10.0, pv_mwp=10.0, battery=BatterySpec(power_mw=10.0, energy_mwh=20.0)),
            SiteSpec(grid_limit_mw=4.0, pv_mwp=6.0, battery=BatterySpec(power_mw=3.0, energy_mwh=6.0)))


def make_portfolio_runner(market, sites: Sequence[SiteSpec], reliability: Sequence[Reliability] | Reliability,
                          market_config: MarketConfig, *, pv_forecast_sigma: float | None, user: str,
                          **runner_options: Any) -> Runner:
    """A runner on the portfolio core; ``reliability``: one for every site or one per site."""
    rel = [reliability] * len(sites) if isinstance(reliability, Reliability) else list(reliability)
    return make_site_runner(market, sites, market_config, pv_forecast_sigma=pv_forecast_sigma, user=user,
                            core=PortfolioSimulator, core_options={"reliability": rel}, **runner_options)


class PortfolioEnv(SingleBESSEnv):
    """N batteries and co-located sites (own connections, sizes and states) bidding as one portfolio.

    ## Description

    The stages and markets of ``SingleBESS-v0``. One actor decides for the portfolio: the action is read as
    shares of every asset's own room (pro rata disaggregation), the portfolio's totals are put on the
    products' grids (1 MW reserves, 0.1 MW energy), so assets below the minimum bid take part. Assets fail and
    are repaired at random (MTBF/MTTR, seeded); in a quarter-hour with failed assets their schedule and
    reserves are re-dispatched to the others, and only what nobody can cover is deviation or non-delivery.
    Intraday trades are netted inside the portfolio. See :mod:`bessgym.envs.portfolio_core`.

    ## Action Space

    As ``CoLocatedPVBESS-v0`` (delivery entry 5: curtailment of every site's PV), for the whole portfolio.

    ## Observation Space

    ``Box(-1000, 1000, (35 + 3H + 2,), float32)``: the ``SingleBESS-v0`` observation averaged over assets with
    power weights (SoC, cycles, reserves and positions as portfolio shares; prices are common), then the share
    of power available and the portfolio's PV now over its connections.

    ## Rewards

    The portfolio's cash flow in EUR (sum over assets). ``info["asset_cash_eur"]`` allocates it by contribution:
    each asset's own settlement, which sums exactly to the reward; ``info["cash_flow_eur"]`` is by product.

    ## Episode End

    Truncation after ``episode_days`` delivery days.

    ## Arguments

    ``sites`` (default :func:`default_portfolio`), ``reliability`` (one :class:`Reliability` for all or one per
    site; default MTBF 2,000 h, MTTR 24 h), and the arguments of ``CoLocatedPVBESS-v0``.

    ## Version History

    - v0: initial release.
    """

    def __init__(
        self,
        market: pd.DataFrame | str | MarketArrays | None = None,
        sites: Sequence[SiteSpec] | None = None,
        market_config: MarketConfig = MarketConfig(),
        *,
        reliability: Sequence[Reliability] | Reliability = Reliability(mtbf_h=2_000.0, mttr_h=24.0),
        episode_days: int = 1,
        start_day: dt.date | str | None = None,
        agent_stages: tuple[str, ...] | None = None,
        delegates: Mapping[str, Delegate] | None = None,
        forecast: str | Forecaster = "perfect",
        forecast_sigma: float = 0.10,
        pv_forecast_sigma: float | None = None,
        horizon_qh: int = 96,
        reward_scale: float = 1.0,
    ) -> None:
        # SingleBESSEnv's stepping on a portfolio core (so its __init__ is not called)
        self.sites = tuple(sites) if sites is not None else default_portfolio()
        self._runner = make_portfolio_runner(
            market, self.sites, reliability, market_config, episode_days=episode_days, start_day=start_day,
            agent_stages=agent_stages, delegates=delegates, forecast=forecast, forecast_sigma=forecast_sigma,
            pv_forecast_sigma=pv_forecast_sigma, horizon_qh=horizon_qh, user=type(self).__name__)
        sim = self._runner.sim
        self.reward_scale = finite_float(type(self).__name__, "reward_scale", reward_scale)
        self.market_config, self.horizon_qh = market_config, horizon_qh
        fleet = sim.fleet
        self.battery = BatterySpec(power_mw=float(fleet.power_mw.sum()), energy_mwh=float(fleet.energy_mwh.sum()))
        self._weights = sim.fleet.power_mw / sim.fleet.power_mw.sum()
        self._grid_mw = float(sim.grid_mw.sum())
        self.action_space = gym.spaces.Box(-1.0, 1.0, (self._runner.width,), np.float32)
        size = observation_size(horizon_qh) + 2
        self.observation_space = gym.spaces.Box(-OBS_LIMIT, OBS_LIMIT, (size,), np.float32)

    @property
    def simulator(self) -> PortfolioSimulator:
        return self._runner.sim

    def _step_runner(self, action: np.ndarray) -> None:
        self._runner.step(action[None].repeat(self._runner.sim.n, axis=0))  # 3x faster than np.broadcast_to

    def _reward(self) -> float:
        return float(self._runner.pending.sum())

    def _observation(self) -> np.ndarray:
        sim = self._runner.sim
        out = np.empty(self.observation_space.shape, dtype=np.float32)
        out[:-2] = self._runner.observation(self._weights)
        out[-2] = self._weights @ sim.available
        out[-1] = sim.pv_now_mw(self._runner.quarter_hour).sum() / self._grid_mw
        return out

    def _info(self) -> dict[str, Any]:
        r = self._runner
        stage, delivery_date, q = self.decision_point
        info = {"stage": stage, "action_mask": r.action_mask(), "delivery_date": delivery_date, "quarter_hour": q,
                "cash_flow_eur": dict(zip(r.sim.cash_flows, r.pending.sum(axis=1).tolist(), strict=True)),
                "asset_cash_eur": r.pending.sum(axis=0), "soc_mwh": r.sim.soc_mwh.copy(),
                "available": r.sim.available.copy(), "clipped_mw": float(r.clipped_mw.sum())}
        if r.report:
            info["physics"] = dict(r.report)  # the step's own arrays (see Simulator.deliver)
        return info

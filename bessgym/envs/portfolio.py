"""A portfolio of batteries and co-located sites marketed as one actor, and its per-asset PettingZoo view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bessgym.assets.battery import BatterySpec
from bessgym.assets.site import SiteSpec
from bessgym.data.arrays import MarketArrays
from bessgym.envs.base import BESSEnv
from bessgym.envs.colocated import make_site_runner
from bessgym.envs.episode import Runner
from bessgym.envs.options import EnvOptions
from bessgym.envs.portfolio_core import PortfolioSimulator, Reliability
from bessgym.market.config import MarketConfig


def default_portfolio() -> tuple[SiteSpec, ...]:
    """Six assets: standalone batteries of 10, 2, 0.6 and 0.4 MW (the last two below the 1 MW minimum bid on
    their own) and two PV co-located sites, each behind its own connection."""
    def bess(p: float, h: float) -> SiteSpec:
        return SiteSpec(grid_limit_mw=p, pv_mwp=0.0, battery=BatterySpec(power_mw=p, energy_mwh=p * h))

    return (bess(10.0, 2.0), bess(2.0, 1.0), bess(0.6, 2.0), bess(0.4, 1.0),
            SiteSpec(grid_limit_mw=10.0, pv_mwp=10.0, battery=BatterySpec(power_mw=10.0, energy_mwh=20.0)),
            SiteSpec(grid_limit_mw=4.0, pv_mwp=6.0, battery=BatterySpec(power_mw=3.0, energy_mwh=6.0)))


def mixed_portfolio(n: int, seed: int = 0) -> tuple[SiteSpec, ...]:
    """``n`` assets: batteries of 0.4-10 MW with 1 or 2 h, a third of them co-located with PV of their power,
    each behind a connection of its power, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    sites = []
    for _ in range(n):
        p, h = float(rng.choice([0.4, 0.6, 1.0, 2.0, 5.0, 10.0])), float(rng.choice([1.0, 2.0]))
        pv = p if rng.random() < 1 / 3 else 0.0
        sites.append(SiteSpec(grid_limit_mw=p, pv_mwp=pv, battery=BatterySpec(power_mw=p, energy_mwh=p * h)))
    return tuple(sites)


def make_portfolio_runner(market, sites: Sequence[SiteSpec], reliability: Sequence[Reliability] | Reliability,
                          options: EnvOptions, *, user: str) -> Runner:
    """A runner on the portfolio core; ``reliability``: one for every site or one per site."""
    rel = [reliability] * len(sites) if isinstance(reliability, Reliability) else list(reliability)
    return make_site_runner(market, sites, options, user=user, core=PortfolioSimulator,
                            core_options={"reliability": rel})


class PortfolioObservation:
    """The share of the portfolio's power available, and its PV now over its connections."""

    size = 2
    parts = (("available", 1, "share of the portfolio's power in service"),
             ("pv_now", 1, "the portfolio's PV now / its connections"))

    def __init__(self, sim: PortfolioSimulator) -> None:
        self.weights = sim.fleet.power_mw / sim.fleet.power_mw.sum()
        self.grid_mw = float(sim.grid_mw.sum())

    def observation(self, runner: Runner, core: np.ndarray, q: int | None = None) -> np.ndarray:
        sim = runner.sim
        out = np.empty(core.shape[0] + self.size, dtype=np.float32)
        out[:-2] = core
        out[-2] = self.weights @ sim.available
        out[-1] = sim.pv_now_mw(runner.quarter_hour if q is None else q).sum() / self.grid_mw
        return out


class PortfolioEnv(BESSEnv):
    """N batteries and co-located sites (own connections, sizes and states) bidding as one portfolio.

    ## Description

    The stages and markets of ``SingleBESS-v1``. One actor decides for the portfolio: the action is read as
    shares of every asset's own room (pro rata disaggregation), the portfolio's totals are put on the
    products' grids (1 MW reserves, 0.1 MW energy), so assets below the minimum bid take part. Assets fail and
    are repaired at random (MTBF/MTTR, seeded); in a quarter-hour with failed assets their schedule and
    reserves are re-dispatched to the others, and only what nobody can cover is deviation or non-delivery.
    Intraday trades are netted inside the portfolio. See :mod:`bessgym.envs.portfolio_core`.

    ## Envelope

    Per asset, as for a site alone: SoC within its window, power within its rating, the energy balance, its
    grid connection; reserves on the grids as the portfolio's totals per offer price. The daily cycle limit
    binds what the portfolio chooses for an asset (its share of the auctions' schedules and intraday trades);
    beyond it an asset discharges only as far as its SoC band, its committed schedule or a sibling's outage
    forces it: re-dispatch moves a failed asset's schedule to the assets with power room, budget or not, since
    the portfolio owes what it sold. A held reserve's SoC headroom is not guaranteed per asset: re-dispatch and
    activations can use it, the aFRR and mFRR an asset's SoC cannot hold move to siblings with energy, and
    what none can hold is unavailable (its capacity payment withheld). ``benchmarks/fuzz.py`` and
    ``tests/fuzz`` check this after every step (:func:`bessgym.envs.envelope.violations`); headroom and
    "no penalty unless forced" are checked for a battery or site alone, not per asset of a portfolio.

    ## Action Space

    As ``CoLocatedPVBESS-v1`` (delivery entry 9: curtailment of every site's PV), for the whole portfolio.

    ## Observation Space

    ``Box(-1000, 1000, (49 + 3H + 2,), float32)``: the ``SingleBESS-v1`` observation averaged over assets with
    power weights (SoC, cycles, reserves and positions as portfolio shares; prices are common), then the share
    of power available and the portfolio's PV now over its connections.

    ## Rewards

    The portfolio's cash flow in EUR (sum over assets). ``info["asset_cash_eur"]`` allocates it by contribution:
    each asset's own settlement, which sums exactly to the reward; ``info["cash_flow_eur"]`` is by product.

    ## Episode End

    Truncation after ``episode_days`` delivery days.

    ## Arguments

    ``sites`` (default :func:`default_portfolio`), ``reliability`` (one :class:`Reliability` for all or one per
    site; default MTBF 2,000 h, MTTR 24 h), and ``market``, ``market_config`` and ``options`` (or its fields
    as keywords) as in ``CoLocatedPVBESS-v1``. The assets are ``env.unwrapped.simulator.fleet``.

    ## Version History

    - v1: mFRR capacity and energy widened the action (capacity rows 5-8, delivery entries 7-8) and the
      observation (mFRR held, mFRR capacity prices); ``gym.make`` of a ``-v0`` id names ``-v1``.
    - v0: initial release.
    """

    def __init__(self, market: pd.DataFrame | str | MarketArrays | None = None,
                 sites: Sequence[SiteSpec] | None = None, market_config: MarketConfig | None = None, *,
                 reliability: Sequence[Reliability] | Reliability = Reliability(mtbf_h=2_000.0, mttr_h=24.0),
                 options: EnvOptions | None = None, **overrides: Any) -> None:
        opts = EnvOptions.of(options, market_config, **overrides)
        self.sites = tuple(sites) if sites is not None else default_portfolio()
        runner = make_portfolio_runner(market, self.sites, reliability, opts, user=type(self).__name__)
        super().__init__(runner, opts, extension=PortfolioObservation(runner.sim), pooled=True)

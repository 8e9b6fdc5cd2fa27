"""PV and a battery behind one grid connection, in the sequential German markets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from bessgym.assets.degradation import CycleAgeing
from bessgym.assets.site import SiteSpec
from bessgym.data.arrays import MarketArrays
from bessgym.envs.base import BESSEnv
from bessgym.envs.episode import Runner, load_market, make_runner
from bessgym.envs.forecast import Forecaster
from bessgym.envs.options import EnvOptions
from bessgym.envs.site import SiteSimulator
from bessgym.envs.vector import RunnerVectorEnv, specs_for
from bessgym.market.config import MarketConfig


def pv_profile(market: MarketArrays, seed: int = 0) -> np.ndarray:
    """PV per MWp over the market [MW/MWp]: the table's ``pv_per_mwp`` column, else pvlib for a central-German
    site with seeded weather."""
    if "pv_per_mwp" in market.columns:
        return np.nan_to_num(market.columns["pv_per_mwp"], nan=0.0)
    from bessgym.data.pv import daily_clearness, intraday_clearness, pv_per_mwp

    rng = np.random.default_rng(seed)
    local_days = market.index.tz_convert("Europe/Berlin").normalize().tz_localize(None)
    days, day_of_step = np.unique(local_days, return_inverse=True)
    k_day = daily_clearness(pd.DatetimeIndex(days), rng)
    return pv_per_mwp(market.index, intraday_clearness(k_day, day_of_step, rng))


def make_site_runner(market: pd.DataFrame | str | MarketArrays | None, sites: Sequence[SiteSpec],
                     options: EnvOptions, *, user: str, core: type[SiteSimulator] = SiteSimulator,
                     core_options: Mapping[str, Any] | None = None) -> Runner:
    """A runner on a site core (``core``: :class:`SiteSimulator` or a subclass, with ``core_options``) for
    ``sites``: PV from the market; the PV forecast error defaults to 0 with perfect and 20 % with other forecasts.
    State of health is not tracked on sites."""
    arrays = load_market(market)
    pv = pv_profile(arrays)
    sigma = options.pv_forecast_sigma
    if sigma is None:
        sigma = 0.0 if options.forecast == "perfect" else 0.2

    def simulator(arrays_: MarketArrays, forecaster: Forecaster) -> SiteSimulator:
        return core(arrays_, sites, options.market_config, forecaster, pv_per_mwp=pv, pv_forecast_sigma=sigma,
                    **(core_options or {}))

    return make_runner(arrays, [s.battery for s in sites], replace(options, track_soh=False, ageing=CycleAgeing()),
                       user=user, simulator=simulator)


@dataclass(frozen=True)
class PVObservation:
    """The site's PV now and its forecast over the next H quarter-hours, over the connection limit."""

    horizon_qh: int

    @property
    def size(self) -> int:
        return self.horizon_qh + 1

    @property
    def parts(self) -> tuple[tuple[str, int, str], ...]:
        """The entries it appends (name, size, meaning), for :func:`bessgym.envs.observation.observation_layout`."""
        return (("pv_now", 1, "the site's PV now / connection limit"),
                ("pv_forecast", self.horizon_qh, "PV forecast of the window / connection limit"))

    def observation(self, runner: Runner, core: np.ndarray, q: int | None = None) -> np.ndarray:
        """``core``: one site's observation (size,) (site 0) or every site's (N, size)."""
        sim, h = runner.sim, self.horizon_qh
        q = runner.quarter_hour if q is None else q
        rows = np.atleast_2d(core)
        n = rows.shape[0]
        forecast = sim.pv_forecast[:n, max(q, 0):max(q, 0) + h]
        pv = np.zeros((n, h + 1), dtype=np.float32)
        pv[:, 0] = sim.pv_now_mw(q)[:n]
        pv[:, 1:1 + forecast.shape[1]] = forecast
        out = np.concatenate([rows, pv / sim.grid_mw[:n, None]], axis=1).astype(np.float32)
        return out if core.ndim == 2 else out[0]


class CoLocatedPVBESSEnv(BESSEnv):
    """A PV plant and a battery sharing one grid connection, bidding like :class:`SingleBESSEnv`.

    ## Description

    The battery takes part in the same stages and markets as in ``SingleBESS-v1`` (capacity, day-ahead,
    intraday auctions, one step per delivery quarter-hour). The site (:class:`~bessgym.assets.SiteSpec`,
    default the co-location study's 10 MW connection, 10 MWp PV, 10 MW / 20 MWh battery) adds: PV production
    from the table's ``pv_per_mwp`` (or pvlib) with a day-ahead forecast error, a PV contract (pay-as-produced
    PPA at 42 EUR/MWh by default, a profile PPA, or the EEG market premium with its negative-price rule),
    curtailment as an action, grey or green-only storage, and the connection limit, which is never exceeded:
    the battery works within the bounds the connection leaves, and PV feeds in what is left after it. Before
    delivery the battery's rooms and reserve offers are capped so that they are deliverable at the connection
    with the PV forecast (see :mod:`bessgym.envs.site`).

    ## Action Space

    ``Box(-1, 1, (W,), float32)`` as in ``SingleBESS-v1``; capacity and delivery actions have more entries:

    | stage | entry | meaning |
    |---|---|---|
    | capacity | 54-59 | share of each block's PV forecast (up to the limit) committed to the battery, [0, 1] |
    | delivery | 9 | a >= 0: curtail share a of PV, battery first; a < 0: PV first (but committed PV) |

    ## Observation Space

    ``Box(-1000, 1000, (49 + 4H + 1,), float32)``: the ``SingleBESS-v1`` observation, then the PV available now
    and the PV forecast of the next H quarter-hours, both divided by the connection limit.

    ## Rewards

    The site's cash flow in EUR: the battery's products as in ``SingleBESS-v1``; on the battery's side
    ``curtailment_payment`` (the PV committed to it and the PV its use of the connection curtails, paid to the
    PV owner at the contract's price plus ``SiteSpec.curtailment_other_eur_mwh``), ``committed_pv_sold`` (what
    the committed PV it did not need earns, fed in under the PV's contract) and ``profile_fill`` (its intraday
    sales that went into a profile PPA's shortfall); on the PV owner's ``pv_ppa``, ``pv_market`` (PV sold or
    shortfall bought at the market), ``pv_premium``, ``pv_compensation`` (what the battery's side pays it) and
    ``pv_other_losses``.

    ## Episode End

    Truncation after ``episode_days`` delivery days, as in ``SingleBESS-v1``.

    ## Arguments

    ``market``, ``market_config`` and ``options`` (:class:`~bessgym.envs.options.EnvOptions`, or its fields
    as keywords) as in ``SingleBESS-v1``; ``site`` (:class:`~bessgym.assets.SiteSpec`); the option
    ``pv_forecast_sigma`` is the relative PV forecast error (default 0.2 with ``forecast="noisy"``, 0 with
    ``"perfect"``). State of health is not tracked on sites.

    ## Version History

    - v1: mFRR capacity and energy widened the action (capacity rows 5-8, delivery entries 7-8) and the
      observation (mFRR held, mFRR capacity prices); ``gym.make`` of a ``-v0`` id names ``-v1``.
    - v0: initial release.
    """

    def __init__(self, market: pd.DataFrame | str | MarketArrays | None = None, site: SiteSpec = SiteSpec(),
                 market_config: MarketConfig | None = None, *, options: EnvOptions | None = None,
                 **overrides: Any) -> None:
        opts = EnvOptions.of(options, market_config, **overrides)
        runner = make_site_runner(market, [site], opts, user=type(self).__name__)
        super().__init__(runner, opts, extension=PVObservation(opts.horizon_qh), reports_soh=False)
        self.site, self.battery = site, site.battery


class CoLocatedVectorEnv(RunnerVectorEnv):
    """``num_envs`` co-located sites in the markets of :class:`CoLocatedPVBESSEnv`, batched: one call of the
    site core steps them all (see :mod:`bessgym.envs.vector`).

    Takes the arguments of ``CoLocatedPVBESSEnv`` (``site`` may be one spec or one per sub-env; all share one
    PV contract), plus ``num_envs``. Each sub-env's observation and reward are its site's, as in the single env;
    with a PV forecast error every site draws its own.
    """

    def __init__(self, num_envs: int = 16, market: pd.DataFrame | str | MarketArrays | None = None,
                 site: SiteSpec | Sequence[SiteSpec] = SiteSpec(), market_config: MarketConfig | None = None, *,
                 options: EnvOptions | None = None, **overrides: Any) -> None:
        sites = specs_for(SiteSpec, site, num_envs, "site specs")
        opts = EnvOptions.of(options, market_config, **overrides)
        runner = make_site_runner(market, sites, opts, user=type(self).__name__)
        super().__init__(runner, opts, extension=PVObservation(opts.horizon_qh))

"""The portfolio LP baseline as an agent (delegate protocol) of ``Portfolio-v1``.

:class:`PortfolioLPPolicy` plans each delivery day with one joint LP over every asset
(:class:`~agents.lp.model.ActorLP`): reserve totals in whole MW for the portfolio, not per asset;
intraday trades netted; PV output of the co-located sites worth what its contract pays. It answers every
stage with the exact inverse of the env's action mapping (:class:`~agents.lp.delegate.DailyLPPolicy`) and
curtails PV where the plan does (joint operation, :class:`~agents.colocation.SiteLPPolicy`). It plans with
the assets in service when the day is planned (an asset in outage then is planned out for the day: its share
goes to the others or is not bid); outages during the day are the env's re-dispatch.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from agents.colocation import SiteLPPolicy, profile_terms, pv_value
from agents.lp.delegate import lp_products_for
from agents.lp.model import ActorLP
from bessgym.envs.view import DayView, SiteDayView
from bessgym.market.products import Stage


class PortfolioLPPolicy(SiteLPPolicy):
    """Joint daily LP of a whole portfolio (perfect or the env's noisy forecasts; see the module docstring).

    ``gaps_eur`` collects, per planned day, what whole-MW reserve totals cost against the continuous optimum.
    """

    def __init__(self, wholesale: str = "day_ahead", end_soc: float | None = None) -> None:
        super().__init__("joint", wholesale, end_soc)
        self._joint: dict[tuple, ActorLP] = {}
        self.gaps_eur: list[float] = []

    def act(self, view: DayView, stage: Stage, q: int) -> np.ndarray:
        if not (isinstance(view, SiteDayView) and view.pooled):
            raise TypeError("PortfolioLPPolicy runs on a portfolio (Portfolio-v1)")
        return super().act(view, stage, q)

    def _plan_day(self, view: SiteDayView, *, awarded: bool) -> None:
        products = dataclasses.replace(lp_products_for(view, self.wholesale), integer_reserves=True)
        self._whole_mw = False  # the totals are whole MW; the env pools the assets' shares
        key = (view.sites, products, view.n_qh)
        if key not in self._joint:
            self._joint[key] = ActorLP(view.sites, products, view.n_qh)
        lp = self._joint[key]
        prices, soc0, end, budget = self._day_inputs(view)
        called, energy_prices = self._called(view, view.n_qh)
        profile = profile_terms(view, 0)  # one contract for all sites, one shared forecast
        if profile:
            profile["profile_mw"] = np.broadcast_to(profile["profile_mw"], (view.n, view.n_qh))
        self._plan = lp.solve(**{name: values[0] for name, values in prices.items()},  # one shared forecast
                              soc0_mwh=soc0, soc_end_mwh=(end, end), max_discharge_mwh=budget,
                              pv_forecast_mw=view.pv_forecast_mw, in_service=view.in_service,
                              pv_value_eur_mwh=np.array([pv_value(view, i) for i in range(view.n)]),
                              **{name: price[0] for name, price in energy_prices.items()},  # shared
                              called_share=called, **profile)
        self.objectives[-1] = np.array([p.objective_eur for p in self._plan])
        self.gaps_eur.append(lp.gap_eur)

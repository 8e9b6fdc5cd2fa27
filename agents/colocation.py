"""Operating modes of a co-located PV + battery site, as agents (delegate protocol) of ``CoLocatedPVBESS-v1``.

All three plan each day with the multi-market LP (:class:`~agents.lp.delegate.DailyLPPolicy`) on the env's
forecasts, extended by the shared connection (:class:`~agents.lp.terms.SiteTerms`):

- ``pv_priority``: PV is never curtailed; the battery plans and runs in what the PV forecast leaves of the
  connection, and at delivery it yields to PV (curtailment entry -1).
- ``bess_priority``: the battery plans as if alone behind the connection; PV is curtailed whenever the battery
  needs the room (entry 0: battery first).
- ``joint``: one LP over battery and PV output, where a MWh of PV is worth what its contract pays (and the
  other losses of curtailing it); it curtails only when the battery's market earnings exceed that, and commits
  PV to the battery day-ahead where the room is worth more than the commitment's other losses (entry: the
  planned curtailed share).
"""

from __future__ import annotations

import numpy as np

from agents.lp.delegate import DailyLPPolicy
from agents.lp.terms import SiteTerms, check_mode
from bessgym.assets.site import EEGMarketPremium, PayAsProducedPPA, ProfilePPA
from bessgym.envs.site import COMMIT, CURTAIL
from bessgym.envs.view import DayView, SiteDayView
from bessgym.market.products import N_BLOCKS, Stage


class SiteLPPolicy(DailyLPPolicy):
    """The daily multi-market LP of a co-located site in one operating ``mode`` (see the module docstring);
    ``bid_marginal`` as :class:`~agents.lp.delegate.DailyLPPolicy`'s."""

    def __init__(self, mode: str = "joint", wholesale: str = "day_ahead", end_soc: float | None = None, *,
                 bid_marginal: bool = True) -> None:
        check_mode(mode, "SiteLPPolicy mode")
        super().__init__(wholesale, end_soc, bid_marginal=bid_marginal)
        self.mode = mode

    def act(self, view: DayView, stage: Stage, q: int) -> np.ndarray:
        if not isinstance(view, SiteDayView):
            raise TypeError("SiteLPPolicy runs on a co-located site (CoLocatedPVBESS-v1)")
        action = super().act(view, stage, q)
        if stage not in (Stage.CAPACITY, Stage.DELIVERY):
            return action
        out = np.zeros((view.n, view.action_width[stage]))
        out[:, :action.shape[1]] = action
        if stage == Stage.CAPACITY:
            out[:, COMMIT:COMMIT + N_BLOCKS] = self._commitment()
        else:
            out[:, CURTAIL] = self._curtailment(view, q)
        return out

    def _commitment(self) -> np.ndarray:
        """The plan's share of each block's PV committed to the battery (N, 6)."""
        return np.array([np.zeros(N_BLOCKS) if p.pv_commitment_share is None else p.pv_commitment_share[:N_BLOCKS]
                         for p in self._plan])

    def _capacity_rooms(self, view: SiteDayView) -> tuple[np.ndarray, np.ndarray]:
        return view.capacity_rooms(self._commitment())

    def _curtailment(self, view: SiteDayView, q: int) -> np.ndarray:
        """PV priority yields to PV; BESS priority goes first; joint curtails what the plan curtails beyond the
        committed PV, which keeps producing when the battery does not need its room (else PV goes first)."""
        if self.mode == "pv_priority":
            return np.full(view.n, -1.0)
        if self.mode == "bess_priority":
            return np.zeros(view.n)
        forecast = view.pv_forecast_mw[:, q]
        planned = np.array([p.pv_out_mw[q] for p in self._plan]) + view.pv_committed_mw[:, q]
        share = np.divide(forecast - planned, forecast, out=np.zeros(view.n), where=forecast > 1e-9)
        return np.where(share > 1e-6, np.clip(share, 0.0, 1.0), -1.0)

    def _site_terms(self, view: SiteDayView, i: int) -> SiteTerms:
        s = view.sites[i]
        return SiteTerms(grid_limit_mw=s.grid_limit_mw, green_only=s.green_only, mode=self.mode,
                         curtailment_other_eur_mwh=s.curtailment_other_eur_mwh)

    def _site_parameters(self, view: SiteDayView, i: int) -> dict[str, np.ndarray]:
        return {"pv_forecast_mw": view.pv_forecast_mw[i], "pv_value_eur_mwh": pv_value(view, i),
                **profile_terms(view, i)}


def profile_terms(view: SiteDayView, i: int) -> dict[str, np.ndarray]:
    """A profile PPA's profile over the day [MW] and the price of its shortfall [EUR/MWh] (the contract's
    penalty, else the ID1 forecast, else day-ahead), as LP parameters; none for other contracts."""
    contract = view.contract
    if not isinstance(contract, ProfilePPA):
        return {}
    forecasts = view.forecasts
    market = forecasts["id1_price"] if "id1_price" in forecasts else forecasts["da_price"]
    return {"profile_mw": contract.owed_mw(view.local_hour),
            "price_shortfall": contract.shortfall_price(market[i, :view.n_qh])}


def pv_value(view: SiteDayView, i: int) -> np.ndarray:
    """What one more MWh of PV output is worth in each quarter-hour of the day on the forecasts the agent has
    [EUR/MWh]: what it earns under the site's contract, and the other losses its curtailment would cost."""
    contract, n_qh, forecasts = view.contract, view.n_qh, view.forecasts
    da = forecasts["da_price"][i, :n_qh]
    if isinstance(contract, PayAsProducedPPA):
        earns = np.full(n_qh, contract.price_eur_mwh)
    elif isinstance(contract, EEGMarketPremium):
        premium = np.maximum(contract.value_eur_mwh - view.solar_market_value_eur_mwh, 0.0)
        earns = da + np.where(view.premium_suspended, 0.0, premium)
    else:  # profile PPA: the market
        earns = forecasts["id1_price"][i, :n_qh] if "id1_price" in forecasts else da
    return earns + view.sites[i].curtailment_other_eur_mwh

"""The simulation core for batteries behind a shared grid connection with PV (co-located sites).

Physics per delivery quarter-hour, arrays over sites: PV is available at ``pv_mwp x pv_per_mwp``; the
action's last entry curtails a share of it (or, when negative, gives PV priority); the battery runs the core's
physics within the connection's bounds for that PV (:func:`bessgym.assets.site.battery_bounds`); PV then
feeds in what the connection leaves: ``pv_out = min(offered, limit - battery)``. So the net exchange
``pv_out + battery`` stays within [-limit, +limit] (and >= 0 for green-only storage) in every step.

Before delivery the connection caps the battery's planning rooms with the PV forecast: discharge (and aFRR up)
up to what the forecast PV leaves of the limit, unless the capacity stage commits a share of a block's PV
forecast to the battery (the six entries after the reserves' action, :data:`COMMIT`: that share of the PV, up
to the limit, is not fed in by the PV owner, who is paid for it, :func:`bessgym.assets.site.site_flows`);
charge up to the limit plus the PV forecast (grey) or the PV forecast alone (green-only); reserves are capped
to what every quarter-hour of their block allows. In delivery, committed PV the battery does not need keeps
producing (fed in under the PV's contract or charging the battery: the later correction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from bessgym.assets.battery import Fleet
from bessgym.assets.site import (
    SITE_FLOWS,
    EEGMarketPremium,
    ProfilePPA,
    SiteSpec,
    battery_bounds,
    contract_terms,
    negative_price_rule_hours,
    premium_suspended,
    site_flows,
)
from bessgym.data._noise import ar1
from bessgym.data.arrays import MarketArrays
from bessgym.data.calendar import DT_H
from bessgym.envs.core import Simulator
from bessgym.envs.forecast import Forecaster
from bessgym.envs.kernels import DayArrays
from bessgym.envs.layout import ACTION_WIDTH
from bessgym.market.config import MarketConfig
from bessgym.market.products import MAX_QUARTER_HOURS, N_BLOCKS, Stage
from bessgym.market.settlement import CASH_FLOWS

CURTAIL = ACTION_WIDTH[Stage.DELIVERY]  # index of the curtailment entry in a delivery action
COMMIT = ACTION_WIDTH[Stage.CAPACITY]  # first of a capacity action's six PV commitments (share per block)


def solar_market_value(da_price: np.ndarray, pv_per_mwp: np.ndarray, month_key: np.ndarray) -> np.ndarray:
    """The PV-weighted mean day-ahead price of each timestamp's month [EUR/MWh] (the 'Marktwert Solar')."""
    value = np.zeros_like(da_price)
    for key in np.unique(month_key):  # once per month of the table
        m = month_key == key
        weight = pv_per_mwp[m].sum()
        value[m] = (da_price[m] * pv_per_mwp[m]).sum() / weight if weight > 0 else da_price[m].mean()
    return value


@njit(cache=True)
def connection(curtail_action, available_mw, grid_limit_mw, green_only, in_service, committed_mw):
    """One quarter-hour's PV offered [MW] and the battery's range at the connection (lo, hi) [MW] per site, for
    the action's curtailment entry (clipped to [-1, 1]) and the PV committed to the battery; a battery out of
    service is held at 0."""
    curtail = np.minimum(np.maximum(curtail_action, -1.0), 1.0)
    offered = available_mw * (1.0 - np.maximum(curtail, 0.0))
    lo, hi = battery_bounds(grid_limit_mw, offered, available_mw, curtail, green_only, committed_mw)
    return offered, np.where(in_service, lo, 0.0), np.where(in_service, hi, 0.0)


@dataclass(frozen=True, eq=False)
class Connection:
    """The grid connections of N sites: their limits [MW] and whether they may import grid power (not
    ``green``); what they leave each battery for a day's planning and in a delivery quarter-hour."""

    grid_mw: np.ndarray
    green: np.ndarray

    def fed_pv(self, pv_forecast_mw: np.ndarray) -> np.ndarray:
        """The forecast PV the connection can take (N, n_qh) [MW]: what a commitment is a share of."""
        return np.minimum(pv_forecast_mw, self.grid_mw[:, None])

    def planning_rooms(self, pv_forecast_mw: np.ndarray,
                       committed_mw: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Discharge and charge power (N, n_qh) [MW] for the forecast PV: export up to what the PV fed in
        leaves of the limit, less the PV ``committed_mw`` to the battery; import up to the limit plus the PV
        (grey) or the PV alone (green-only)."""
        up = self.grid_mw[:, None] - np.maximum(self.fed_pv(pv_forecast_mw) - committed_mw, 0.0)
        return up, np.where(self.green[:, None], pv_forecast_mw, self.grid_mw[:, None] + pv_forecast_mw)

    def bounds(self, curtail_action: np.ndarray, available_mw: np.ndarray, in_service: np.ndarray,
               committed_mw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """PV offered and the battery's range (lo, hi) in one quarter-hour [MW] (:func:`connection`)."""
        return connection(curtail_action, available_mw, self.grid_mw, self.green, in_service, committed_mw)


@njit(cache=True)
def pv_dispatch(offered_mw, available_mw, grid_limit_mw, battery_mw):
    """PV fed in, PV curtailed and the site's export [MW] per site: PV takes what the connection leaves the
    battery."""
    pv_out = np.maximum(np.minimum(offered_mw, grid_limit_mw - battery_mw), 0.0)
    return pv_out, available_mw - pv_out, pv_out + battery_mw


class SiteSimulator(Simulator):
    """:class:`~bessgym.envs.core.Simulator` for N sites; see the module docstring.

    ``pv_forecast_sigma``: relative std of the day-ahead PV forecast error (autocorrelated over about 2 h);
    0 gives perfect PV foresight.
    """

    cash_flows = CASH_FLOWS + SITE_FLOWS
    action_width = {**ACTION_WIDTH, Stage.CAPACITY: COMMIT + N_BLOCKS, Stage.DELIVERY: CURTAIL + 1}
    action_parts = {Stage.CAPACITY: (("pv_commitment", N_BLOCKS, "share of each block's PV forecast (up to the "
                                  "limit) committed to the battery, a in [0, 1], per 4 h block"),),
                    Stage.DELIVERY: (("pv_curtailment", 1, "a >= 0: curtail share a of PV, battery first; "
                                      "a < 0: PV first (but committed PV)"),)}
    record_keys = ("pv_available_mw", "pv_out_mw", "curtailed_mw", "grid_export_mw", "committed_pv_mw",
                   "curtailed_for_battery_mw", "profile_fill_mw", "profile_shortfall_mw")

    def __init__(self, market: MarketArrays, sites: Sequence[SiteSpec], config: MarketConfig, forecaster: Forecaster,
                 *, pv_per_mwp: np.ndarray, pv_forecast_sigma: float = 0.0, pooled: bool = False) -> None:
        super().__init__(market, Fleet.of([s.battery for s in sites]), config, forecaster, pooled=pooled)
        contracts = {s.contract for s in sites}
        if len(contracts) != 1:
            raise ValueError("all sites of one simulator share one PV contract")
        if pv_forecast_sigma < 0:
            raise ValueError(f"pv_forecast_sigma must be >= 0, got {pv_forecast_sigma}")
        self.sites, self.contract = tuple(sites), contracts.pop()
        self.connection = Connection(np.array([s.grid_limit_mw for s in sites], dtype=float),
                                     np.array([s.green_only for s in sites]))
        self.pv_mwp = np.array([s.pv_mwp for s in sites], dtype=float)
        self.other_eur_mwh = np.array([s.curtailment_other_eur_mwh for s in sites], dtype=float)
        self.pv_per_mwp = np.asarray(pv_per_mwp, dtype=float)
        self.pv_sigma = pv_forecast_sigma
        da = market.columns["da_price"]
        index = market.index
        self.market_value_eur_mwh = solar_market_value(da, self.pv_per_mwp, index.year * 12 + index.month)
        rule = negative_price_rule_hours(self.contract.commissioned) \
            if isinstance(self.contract, EEGMarketPremium) else None
        self.premium_suspended = premium_suspended(da, rule)
        id1 = market.columns.get("id1_price")  # a PPA shortfall is bought intraday; at DA where ID1 is missing
        self._id1_buy = None if id1 is None else np.where(np.isnan(id1), da, id1)
        self._all_in_service, self._no_curtail = np.ones(self.n, dtype=bool), np.zeros(self.n)
        self._profile = isinstance(self.contract, ProfilePPA)
        self._intraday_row = CASH_FLOWS.index("intraday")

    def start_day(self, day_number: int, rng: np.random.Generator):
        m = self.market
        sl = m.day_slices[day_number]
        n_qh = sl.stop - sl.start
        window = slice(sl.start, min(sl.start + 2 * MAX_QUARTER_HOURS, len(m.index)))
        actual = self.pv_mwp[:, None] * self.pv_per_mwp[None, window]
        if self.pv_sigma > 0:
            error = np.stack([ar1(rng, actual.shape[1], phi=0.9) for _ in range(self.n)])  # ~2 h memory
            forecast = np.clip(actual * (1.0 + self.pv_sigma * error), 0.0, self.pv_mwp[:, None] * 1.2)
        else:
            forecast = actual
        self.pv_actual, self.pv_forecast = actual[:, :n_qh], forecast
        self.committed_pv_mw = np.zeros((self.n, n_qh))
        return super().start_day(day_number, rng, rooms=self.connection.planning_rooms(forecast[:, :n_qh]))

    def apply_capacity(self, action: np.ndarray) -> dict[str, np.ndarray]:
        """The PV commitment (the action's entries from :data:`COMMIT`: the share of each block's PV forecast,
        up to the limit, committed to the battery, clipped to [0, 1]; absent: none) widens the battery's
        discharge room, then the core's reserve offers use it."""
        share = np.zeros((self.n, N_BLOCKS))
        if action.shape[1] > COMMIT:
            share = np.where(self.pv_mwp[:, None] > 0, np.clip(action[:, COMMIT:COMMIT + N_BLOCKS], 0.0, 1.0), 0.0)
        self.committed_pv_mw, self.day.room_up_mw = self._committed(share)
        return {**super().apply_capacity(action[:, :COMMIT]), "pv_commitment_share": share}

    def capacity_rooms(self, pv_commitment_share: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`Simulator.capacity_rooms`, with the PV commitment ``pv_commitment_share`` (N, 6) when given
        (the rooms a capacity action with that commitment is read against)."""
        if pv_commitment_share is None:
            return super().capacity_rooms()
        return super().capacity_rooms(self._committed(np.asarray(pv_commitment_share, dtype=float))[1])

    def _committed(self, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The PV committed to the battery (N, n_qh) [MW] for a share of each block's forecast (N, 6), and the
        battery's discharge room it leaves [MW]."""
        d = self.day
        forecast = self.pv_forecast[:, :d.n_qh]
        committed = share[:, d.block] * self.connection.fed_pv(forecast)
        up, _ = self.connection.planning_rooms(forecast, committed)
        return committed, np.minimum(self.fleet.power_mw[:, None], up)

    @property
    def commits_pv(self) -> bool:  # type: ignore[override]
        """Sites with PV play the capacity stage for the PV commitment even without a reserve product."""
        return bool((self.pv_mwp > 0).any())

    @property
    def grid_mw(self) -> np.ndarray:
        """The sites' connection limits [MW]."""
        return self.connection.grid_mw

    def pv_now_mw(self, q: int) -> np.ndarray:
        """PV available per site at delivery quarter-hour ``q`` [MW]; none is known before delivery (q < 0)."""
        return self.pv_actual[:, q] if q >= 0 else np.zeros(self.n)

    def deliver(self, q: int, action: np.ndarray, *, in_service: np.ndarray | None = None,
                day: DayArrays | None = None,
                placed: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The core's delivery within each connection's bounds for this quarter-hour's PV and curtailment;
        ``in_service`` (N,) bool: batteries out of service are held at 0 (default: all run); ``day`` and
        ``placed`` as in :meth:`Simulator.deliver`."""
        t = self.day.start + q
        # contiguous columns: the kernels are compiled for C-ordered arrays only
        available = np.ascontiguousarray(self.pv_actual[:, q])
        curtail = np.ascontiguousarray(action[:, CURTAIL]) if action.shape[1] > CURTAIL else self._no_curtail
        running = self._all_in_service if in_service is None else in_service
        committed = np.ascontiguousarray(self.committed_pv_mw[:, q])
        offered, lo, hi = self.connection.bounds(curtail, available, running, committed)
        cash, report = super().deliver(q, action[:, :CURTAIL], bounds=(lo, hi), day=day, placed=placed)
        battery = report["power_mw"]
        pv_out, curtailed, export = pv_dispatch(offered, available, self.grid_mw, battery)
        id1 = None if self._id1_buy is None else float(self._id1_buy[t])
        terms = contract_terms(self.contract, hour=int(self.market.local_hour[t]), da_price=float(self._da[t]),
                               id1_price=id1, market_value_eur_mwh=float(self.market_value_eur_mwh[t]),
                               suspended=bool(self.premium_suspended[t]))
        site, caused, fill, short = site_flows(pv_out, available, committed, report["trade_mw"], self.grid_mw,
                                               self.other_eur_mwh, *terms, DT_H)
        if self._profile:  # a battery sale that went into the profile did not reach the exchange
            cash[self._intraday_row] -= fill * (self.col("id1_price")[t] - self.config.intraday_fee_eur_mwh) * DT_H
        report.update(pv_available_mw=available.copy(), pv_out_mw=pv_out, curtailed_mw=curtailed,
                      grid_export_mw=export, committed_pv_mw=committed.copy(), curtailed_for_battery_mw=caused,
                      profile_fill_mw=fill, profile_shortfall_mw=short)
        return np.concatenate([cash, site]), report

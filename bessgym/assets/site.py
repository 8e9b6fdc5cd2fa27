"""A co-located site: PV and a battery behind one grid connection, and how the PV is paid.

The connection limit ``grid_limit_mw`` bounds the site's net export and import. PV is paid under one
contract for the whole site:

- :class:`PayAsProducedPPA`: every MWh fed in earns the PPA price.
- :class:`ProfilePPA`: the site owes a fixed profile (e.g. 6 MW 08:00-20:00 local) at the connection at the
  PPA price; what PV does not deliver of it the battery's intraday sales in that quarter-hour deliver first
  (``profile_fill``: they go into the profile, not to the exchange, and are worth the shortfall's price), the
  rest is bought at the contract's shortfall price (default the market: ID1, else day-ahead); PV beyond the
  profile is sold at the day-ahead price.
- :class:`EEGMarketPremium`: PV sold at the day-ahead price plus the sliding market premium
  ``max(value - monthly solar market value, 0)``, suspended at negative prices as the EEG rule of the plant's
  commissioning date says (:func:`negative_price_rule_hours`).

Curtailment for the battery is paid to the PV owner: its opportunity cost, the contract's price
(:func:`contract_terms`) plus the site's other losses per MWh (``SiteSpec.curtailment_other_eur_mwh``, e.g.
guarantees of origin). Two kinds are paid (:func:`site_flows`): a commitment made day-ahead (a share of the
block's PV forecast, up to the connection, that the PV owner does not feed in, which frees the connection for
the battery's discharge and aFRR up), paid whether or not the room is used; and what the battery's use of the
connection curtails of the PV owner's own output in real time. Committed PV the battery does not need keeps
producing (the later correction): it charges the battery, or it is fed in under the PV's contract and what it
earns there goes to the battery's side, which bought it (so an unused commitment costs the battery the other
losses, and the PV's energy cannot leave its contract for a better market). The battery's side pays
``curtailment_payment`` and earns ``committed_pv_sold``; the PV owner's side receives ``pv_compensation`` and
loses ``pv_other_losses`` on what was not fed in, so the site as a whole loses only the PV not fed in and its
other losses.

Functions take arrays over assets (N) for one quarter-hour and return EUR.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from bessgym._checks import finite
from bessgym.assets.battery import BatterySpec
from bessgym.data.calendar import DT_H


@dataclass(frozen=True)
class PayAsProducedPPA:
    price_eur_mwh: float = 42.0

    def __post_init__(self) -> None:
        finite("PayAsProducedPPA", price_eur_mwh=self.price_eur_mwh)


@dataclass(frozen=True)
class ProfilePPA:
    """``power_mw`` owed at the connection from ``start_hour`` to ``end_hour`` (local time) at ``price_eur_mwh``;
    a MWh short costs ``shortfall_price_eur_mwh`` (the contract's penalty; None: bought at the market, ID1 or
    else day-ahead)."""

    power_mw: float = 6.0
    start_hour: int = 8
    end_hour: int = 20
    price_eur_mwh: float = 72.0
    shortfall_price_eur_mwh: float | None = None

    def __post_init__(self) -> None:
        finite("ProfilePPA", power_mw=self.power_mw, price_eur_mwh=self.price_eur_mwh,
               shortfall_price_eur_mwh=self.shortfall_price_eur_mwh)
        if not 0 <= self.start_hour < self.end_hour <= 24:
            raise ValueError("ProfilePPA: need 0 <= start_hour < end_hour <= 24")
        if self.power_mw < 0:
            raise ValueError("ProfilePPA: power_mw must be >= 0")

    def owed_mw(self, hour):
        """The power owed in quarter-hours of local ``hour`` (a scalar or an array) [MW]."""
        return np.where((hour >= self.start_hour) & (hour < self.end_hour), self.power_mw, 0.0)

    def shortfall_price(self, market_eur_mwh):
        """What a MWh short costs [EUR/MWh]: the contract's penalty, else the market's price given (a scalar or
        an array)."""
        if self.shortfall_price_eur_mwh is None:
            return market_eur_mwh
        return np.full_like(np.asarray(market_eur_mwh, dtype=float), self.shortfall_price_eur_mwh)


@dataclass(frozen=True)
class EEGMarketPremium:
    """EEG direct marketing: ``value_eur_mwh`` is the plant's 'anzulegender Wert'."""

    value_eur_mwh: float = 55.0
    commissioned: dt.date = dt.date(2024, 6, 1)

    def __post_init__(self) -> None:
        finite("EEGMarketPremium", value_eur_mwh=self.value_eur_mwh)


Contract = PayAsProducedPPA | ProfilePPA | EEGMarketPremium
PV_FLOWS = ("pv_ppa", "pv_market", "pv_premium", "pv_compensation", "pv_other_losses")  # the PV owner's
BESS_SITE_FLOWS = ("curtailment_payment", "committed_pv_sold", "profile_fill")  # the battery's side of the site
SITE_FLOWS = BESS_SITE_FLOWS + PV_FLOWS


def negative_price_rule_hours(commissioned: dt.date) -> float | None:
    """Consecutive hours of negative day-ahead prices after which the market premium is not paid (EEG §51),
    by commissioning date; None: no rule. Simplified to one value per EEG version: before 2016 none; 2016-2020
    six hours; 2021-2022 four; from 2023 three (the later phase-down to one hour is not modelled); from
    25 Feb 2025 (Solarspitzengesetz) every negative quarter-hour."""
    if commissioned < dt.date(2016, 1, 1):
        return None
    if commissioned < dt.date(2021, 1, 1):
        return 6.0
    if commissioned < dt.date(2023, 1, 1):
        return 4.0
    if commissioned < dt.date(2025, 2, 25):
        return 3.0
    return DT_H  # one quarter-hour


def premium_suspended(da_price: np.ndarray, rule_hours: float | None) -> np.ndarray:
    """True for quarter-hours in a run of negative prices lasting at least ``rule_hours``."""
    negative = np.asarray(da_price) < 0
    if rule_hours is None:
        return np.zeros_like(negative)
    need = int(round(rule_hours * 4))
    out = np.zeros_like(negative)
    edges = np.flatnonzero(np.diff(np.r_[0, negative.astype(np.int8), 0]))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):  # once per run of negative prices
        if stop - start >= need:
            out[start:stop] = True
    return out


@dataclass(frozen=True)
class SiteSpec:
    """Grid connection [MW], PV peak [MWp], the battery, green-only storage (no import to charge), the PV
    contract and what the PV owner loses per curtailed MWh beyond the contract's price [EUR/MWh] (guarantees
    of origin, a premium outside the contract). The default is the co-location study's 1:1:1 reference:
    10 MW, 10 MWp, 10 MW / 20 MWh."""

    grid_limit_mw: float = 10.0
    pv_mwp: float = 10.0
    battery: BatterySpec = BatterySpec()
    green_only: bool = False
    contract: Contract = PayAsProducedPPA()
    curtailment_other_eur_mwh: float = 0.0

    def __post_init__(self) -> None:
        finite("SiteSpec", grid_limit_mw=self.grid_limit_mw, pv_mwp=self.pv_mwp,
               curtailment_other_eur_mwh=self.curtailment_other_eur_mwh)
        if not self.grid_limit_mw > 0:
            raise ValueError(f"SiteSpec: grid_limit_mw must be > 0, got {self.grid_limit_mw}")
        if self.pv_mwp < 0:
            raise ValueError(f"SiteSpec: pv_mwp must be >= 0, got {self.pv_mwp}")


@njit(cache=True)
def battery_bounds(grid_limit_mw: np.ndarray, pv_offered_mw: np.ndarray, available_mw: np.ndarray,
                   curtail: np.ndarray, green_only: np.ndarray,
                   committed_mw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Battery power range [MW, + discharge] at the connection for one quarter-hour, arrays over sites
    (compiled: it runs in every delivery step).

    ``curtail`` in [-1, 1]: >= 0, the share of PV curtailed and the battery goes first (PV is curtailed
    further when the battery needs the room); < 0, PV goes first and the battery yields, except for the PV
    ``committed_mw`` day-ahead to the battery. Import: the site may draw up to the limit (grey) or nothing
    (green-only).
    """
    lo, hi = np.empty(grid_limit_mw.shape[0]), np.empty(grid_limit_mw.shape[0])
    for i in range(grid_limit_mw.shape[0]):
        pv_first = max(available_mw[i] - committed_mw[i], 0.0)
        hi[i] = max(grid_limit_mw[i] - pv_first, 0.0) if curtail[i] < 0 else grid_limit_mw[i]
        lo[i] = -pv_offered_mw[i] if green_only[i] else -(grid_limit_mw[i] + pv_offered_mw[i])
    return lo, hi


class ContractTerms(NamedTuple):
    """What a contract pays in one quarter-hour, as the prices :func:`site_flows` needs [EUR/MWh, MW]."""

    ppa_price: float  # per MWh fed in (pay-as-produced)
    owed_mw: float  # a profile's power owed now
    profile_price: float  # per MWh owed
    sell_price: float  # per MWh fed in beyond what is owed (the market)
    shortfall_price: float  # per MWh short of the profile
    premium: float  # EEG market premium per MWh fed in (0 when suspended)
    value: float  # what a MWh not fed in would have earned: the curtailment's price before other losses


def contract_terms(contract: Contract, *, hour: int, da_price: float, id1_price: float | None,
                   market_value_eur_mwh: float, suspended: bool) -> ContractTerms:
    """The contract's prices in a quarter-hour of local ``hour``. A profile's shortfall costs the contract's
    penalty, else ID1, else day-ahead; curtailed PV would have earned the PPA price, day-ahead and the premium
    under the EEG, or day-ahead beside a profile (a MWh beyond the profile is sold there)."""
    market = id1_price if id1_price is not None else da_price
    if isinstance(contract, PayAsProducedPPA):
        price = contract.price_eur_mwh
        return ContractTerms(price, 0.0, 0.0, 0.0, market, 0.0, price)
    if isinstance(contract, ProfilePPA):
        return ContractTerms(0.0, float(contract.owed_mw(hour)), contract.price_eur_mwh, da_price,
                             float(contract.shortfall_price(market)), 0.0, da_price)
    premium = 0.0 if suspended else max(contract.value_eur_mwh - market_value_eur_mwh, 0.0)
    return ContractTerms(0.0, 0.0, 0.0, da_price, market, premium, da_price + premium)


@njit(cache=True)
def site_flows(pv_out_mw, available_mw, committed_mw, trade_mw, grid_limit_mw, other_eur_mwh, ppa_price, owed_mw,
               profile_price, sell_price, shortfall_price, premium, value, dt_h):
    """(len(SITE_FLOWS), N) cash of the sites' PV and curtailment in one quarter-hour [EUR] (see the module
    docstring; the contract's prices from :func:`contract_terms`), and per site [MW]: the PV curtailed for the
    battery in real time, the battery's intraday sale ``trade_mw`` that went into a profile (not to the
    exchange) and the profile's shortfall still bought. ``committed_mw``: the PV committed day-ahead to the
    battery; the PV owner feeds in what is left of its output; what the battery did not need of the committed
    PV is fed in under the contract too, and what it earns there goes to the battery's side, which paid for
    it. Compiled: it runs in every delivery step."""
    n = pv_out_mw.shape[0]
    out = np.empty((8, n))
    caused, fill, short_left = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        own = max(available_mw[i] - committed_mw[i], 0.0)
        fed = min(pv_out_mw[i], own)
        caused[i] = max(min(own, grid_limit_mw[i]) - fed, 0.0)  # clipping at the limit is nobody's doing
        paid = (committed_mw[i] + caused[i]) * dt_h
        produced = (pv_out_mw[i] - fed) * dt_h  # committed PV fed in after all
        short = max(owed_mw - fed, 0.0)
        fill[i] = min(max(trade_mw[i], 0.0), short)  # the PV owner buys it from the battery at its price
        short_left[i] = short - fill[i]
        out[0, i] = -paid * (value + other_eur_mwh[i])  # curtailment_payment
        out[1, i] = produced * value  # committed_pv_sold
        out[2, i] = fill[i] * dt_h * shortfall_price  # profile_fill
        out[3, i] = (fed * ppa_price + owed_mw * profile_price) * dt_h  # pv_ppa
        out[4, i] = (max(fed - owed_mw, 0.0) * sell_price - short * shortfall_price) * dt_h  # pv_market
        out[5, i] = fed * premium * dt_h  # pv_premium
        out[6, i] = -out[0, i]  # pv_compensation
        out[7, i] = -(paid - produced) * other_eur_mwh[i]  # pv_other_losses, on what was not fed in
    return out, caused, fill, short_left

"""A co-located site: PV and a battery behind one grid connection, and how the PV is paid.

The connection limit ``grid_limit_mw`` bounds the site's net export and import. PV is paid under one
contract for the whole site:

- :class:`PayAsProducedPPA`: every MWh fed in earns the PPA price; curtailing costs that price (opportunity
  cost, reported, not paid).
- :class:`ProfilePPA`: the site owes a fixed profile (e.g. 6 MW 08:00-20:00 local) at the PPA price; a
  shortfall of PV against the profile is bought at the market (ID1, else day-ahead), PV beyond it is sold at
  the day-ahead price.
- :class:`EEGMarketPremium`: PV sold at the day-ahead price plus the sliding market premium
  ``max(value - monthly solar market value, 0)``, suspended at negative prices as the EEG rule of the plant's
  commissioning date says (:func:`negative_price_rule_hours`).

Functions take arrays over assets (N) for one quarter-hour and return EUR.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numba import njit

from bessgym._checks import finite
from bessgym.assets.battery import BatterySpec


@dataclass(frozen=True)
class PayAsProducedPPA:
    price_eur_mwh: float = 42.0

    def __post_init__(self) -> None:
        finite("PayAsProducedPPA", price_eur_mwh=self.price_eur_mwh)


@dataclass(frozen=True)
class ProfilePPA:
    """``power_mw`` owed from ``start_hour`` to ``end_hour`` (local time) at ``price_eur_mwh``."""

    power_mw: float = 6.0
    start_hour: int = 8
    end_hour: int = 20
    price_eur_mwh: float = 72.0

    def __post_init__(self) -> None:
        finite("ProfilePPA", power_mw=self.power_mw, price_eur_mwh=self.price_eur_mwh)
        if not 0 <= self.start_hour < self.end_hour <= 24:
            raise ValueError("ProfilePPA: need 0 <= start_hour < end_hour <= 24")
        if self.power_mw < 0:
            raise ValueError("ProfilePPA: power_mw must be >= 0")


@dataclass(frozen=True)
class EEGMarketPremium:
    """EEG direct marketing: ``value_eur_mwh`` is the plant's 'anzulegender Wert'."""

    value_eur_mwh: float = 55.0
    commissioned: dt.date = dt.date(2024, 6, 1)

    def __post_init__(self) -> None:
        finite("EEGMarketPremium", value_eur_mwh=self.value_eur_mwh)


Contract = PayAsProducedPPA | ProfilePPA | EEGMarketPremium
PV_FLOWS = ("pv_ppa", "pv_market", "pv_premium")


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
    return 0.25


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
    """Grid connection [MW], PV peak [MWp], the battery, green-only storage (no import to charge) and the PV
    contract. The default is the co-location study's 1:1:1 reference: 10 MW, 10 MWp, 10 MW / 20 MWh."""

    grid_limit_mw: float = 10.0
    pv_mwp: float = 10.0
    battery: BatterySpec = BatterySpec()
    green_only: bool = False
    contract: Contract = PayAsProducedPPA()

    def __post_init__(self) -> None:
        finite("SiteSpec", grid_limit_mw=self.grid_limit_mw, pv_mwp=self.pv_mwp)
        if not self.grid_limit_mw > 0:
            raise ValueError(f"SiteSpec: grid_limit_mw must be > 0, got {self.grid_limit_mw}")
        if self.pv_mwp < 0:
            raise ValueError(f"SiteSpec: pv_mwp must be >= 0, got {self.pv_mwp}")


@njit(cache=True)
def battery_bounds(grid_limit_mw: np.ndarray, pv_offered_mw: np.ndarray, available_mw: np.ndarray,
                   curtail: np.ndarray, green_only: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Battery power range [MW, + discharge] at the connection for one quarter-hour, arrays over sites
    (compiled: it runs in every delivery step).

    ``curtail`` in [-1, 1]: >= 0, the share of PV curtailed and the battery goes first (PV is curtailed
    further when the battery needs the room); < 0, PV goes first and the battery yields. Import: the site
    may draw up to the limit (grey) or nothing (green-only).
    """
    lo, hi = np.empty(grid_limit_mw.shape[0]), np.empty(grid_limit_mw.shape[0])
    for i in range(grid_limit_mw.shape[0]):
        hi[i] = max(grid_limit_mw[i] - available_mw[i], 0.0) if curtail[i] < 0 else grid_limit_mw[i]
        lo[i] = -pv_offered_mw[i] if green_only[i] else -(grid_limit_mw[i] + pv_offered_mw[i])
    return lo, hi


def pv_cash(contract: Contract, pv_out_mw: np.ndarray, *, hour: int, da_price: float, id1_price: float | None,
            market_value_eur_mwh: float, suspended: bool, dt_h: float) -> np.ndarray:
    """(3, N) cash of the PV in one quarter-hour: PPA, market sales or purchases, market premium [EUR]."""
    out = np.zeros((len(PV_FLOWS), len(pv_out_mw)))
    energy = pv_out_mw * dt_h
    if isinstance(contract, PayAsProducedPPA):
        out[0] = energy * contract.price_eur_mwh
    elif isinstance(contract, ProfilePPA):
        owed = contract.power_mw * dt_h if contract.start_hour <= hour < contract.end_hour else 0.0
        buy_price = id1_price if id1_price is not None else da_price
        out[0] = owed * contract.price_eur_mwh
        out[1] = np.maximum(energy - owed, 0.0) * da_price - np.maximum(owed - energy, 0.0) * buy_price
    else:
        out[1] = energy * da_price
        if not suspended:
            out[2] = energy * max(contract.value_eur_mwh - market_value_eur_mwh, 0.0)
    return out


def opportunity_cost_eur(contract: Contract, curtailed_mw: np.ndarray, *, da_price: float, dt_h: float) -> np.ndarray:
    """What the curtailed energy would have earned: the PPA price, or the day-ahead price for market PV [EUR]."""
    price = contract.price_eur_mwh if isinstance(contract, PayAsProducedPPA) else da_price
    return curtailed_mw * dt_h * price

"""Battery physics as array-in/array-out functions over N assets.

Sign convention: positive power is discharge (export), negative is charge. Energies in MWh, powers in MW,
durations in hours. The single env, the vector env and the LP checks all call these functions: ``soc_next``
is a numpy ufunc and ``power_range`` a scalar function, both numba-compiled, which the step kernels
(:mod:`bessgym.envs.kernels`) call per asset.

Energy balance of one step of length dt [h]::

    soc' = soc + eta_c * P_ch * dt - P_dis / eta_d * dt - P_aux * dt
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from numba import float64 as _F8
from numba import njit, vectorize

from bessgym._checks import finite
from bessgym.market.reserves import HELD_DOWN, HELD_UP, RESERVES


@dataclass(frozen=True)
class BatterySpec:
    """One battery, validated at construction.

    Attributes
    ----------
    power_mw : rated charge and discharge power at the grid connection [MW].
    energy_mwh : nameplate energy [MWh].
    eta_charge, eta_discharge : one-way efficiencies [-] (0.95 each = 90.25 % round trip).
    soc_min, soc_max : usable state-of-charge window as fractions of ``energy_mwh`` [-].
    soc_initial : state of charge at the first reset [-].
    max_cycles_per_day : full equivalent cycles per Berlin delivery day [-]; discharged energy per day may not
        exceed ``max_cycles_per_day`` times the usable energy (trading only; reserve activations still count).
    aux_power_mw : auxiliary consumption drawn from the battery (HVAC, BMS) [MW].
    degradation_cost_eur_mwh : throughput cost per MWh discharged [EUR/MWh].
    """

    power_mw: float = 10.0
    energy_mwh: float = 20.0
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    soc_min: float = 0.1
    soc_max: float = 0.9
    soc_initial: float = 0.5
    max_cycles_per_day: float = 2.0
    aux_power_mw: float = 0.0
    degradation_cost_eur_mwh: float = 0.0

    def __post_init__(self) -> None:
        finite("BatterySpec", **{f.name: getattr(self, f.name) for f in fields(self)})
        checks = [
            (self.power_mw > 0, "power_mw must be > 0"),
            (self.energy_mwh > 0, "energy_mwh must be > 0"),
            (0 < self.eta_charge <= 1, "eta_charge must be in (0, 1]"),
            (0 < self.eta_discharge <= 1, "eta_discharge must be in (0, 1]"),
            (0 <= self.soc_min < self.soc_max <= 1, "need 0 <= soc_min < soc_max <= 1"),
            (self.soc_min <= self.soc_initial <= self.soc_max, "soc_initial must lie in [soc_min, soc_max]"),
            (self.max_cycles_per_day > 0, "max_cycles_per_day must be > 0"),
            (0 <= self.aux_power_mw < self.power_mw, "aux_power_mw must be in [0, power_mw)"),
            # at soc_min the auxiliaries are carried by charging aux / eta_charge, which must fit the rating
            (self.aux_power_mw / self.eta_charge < self.power_mw, "aux_power_mw / eta_charge must be < power_mw"),
            (self.degradation_cost_eur_mwh >= 0, "degradation_cost_eur_mwh must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"BatterySpec: {message} (got {self})")

    @property
    def usable_energy_mwh(self) -> float:
        return self.energy_mwh * (self.soc_max - self.soc_min)

    @property
    def soc_min_mwh(self) -> float:
        return self.soc_min * self.energy_mwh

    @property
    def soc_max_mwh(self) -> float:
        return self.soc_max * self.energy_mwh

    @property
    def soc_initial_mwh(self) -> float:
        return self.soc_initial * self.energy_mwh

    @property
    def max_daily_discharge_mwh(self) -> float:
        """The daily cycle limit as trading discharge [MWh]."""
        return self.max_cycles_per_day * self.usable_energy_mwh


@dataclass(frozen=True)
class Fleet:
    """Battery parameters as arrays over N assets (the hot path never loops over assets)."""

    power_mw: np.ndarray
    energy_mwh: np.ndarray
    eta_charge: np.ndarray
    eta_discharge: np.ndarray
    soc_min_mwh: np.ndarray
    soc_max_mwh: np.ndarray
    soc_initial_mwh: np.ndarray
    max_daily_discharge_mwh: np.ndarray
    aux_power_mw: np.ndarray
    degradation_cost_eur_mwh: np.ndarray
    specs: tuple[BatterySpec, ...]  # what the arrays were made from (e.g. one LP per asset)

    @classmethod
    def of(cls, specs: list[BatterySpec] | tuple[BatterySpec, ...]) -> Fleet:
        def arr(name: str) -> np.ndarray:
            return np.array([getattr(s, name) for s in specs], dtype=float)

        return cls(
            power_mw=arr("power_mw"),
            energy_mwh=arr("energy_mwh"),
            eta_charge=arr("eta_charge"),
            eta_discharge=arr("eta_discharge"),
            soc_min_mwh=arr("soc_min_mwh"),
            soc_max_mwh=arr("soc_max_mwh"),
            soc_initial_mwh=arr("soc_initial_mwh"),
            max_daily_discharge_mwh=arr("max_daily_discharge_mwh"),
            aux_power_mw=arr("aux_power_mw"),
            degradation_cost_eur_mwh=arr("degradation_cost_eur_mwh"),
            specs=tuple(specs),
        )

    def __len__(self) -> int:
        return len(self.power_mw)


@vectorize([_F8(_F8, _F8, _F8, _F8, _F8, _F8)], cache=True)
def soc_next(soc_mwh, power_mw, dt_h, eta_c, eta_d, aux_mw):
    """State of charge after delivering net ``power_mw`` (+ discharge, - charge) for ``dt_h`` [MWh].

    A numpy ufunc (broadcasts over arrays) that the compiled step kernels also call on scalars."""
    return soc_mwh + (eta_c * max(-power_mw, 0.0) - max(power_mw, 0.0) / eta_d - aux_mw) * dt_h


@njit(cache=True)
def power_range(soc_mwh, lower_mwh, upper_mwh, dur_h, eta_c, eta_d, aux_mw):
    """Range (p_lo, p_hi) of net power [MW] (+ discharge) that keeps SoC in [lower, upper] after ``dur_h``,
    for one asset (scalars; the step kernels loop it over assets).

    Auxiliary consumption is included; when it alone would push SoC below ``lower``, p_hi is negative
    (the battery must charge).
    """
    aux = aux_mw * dur_h
    room_down = soc_mwh - aux - lower_mwh  # energy that may leave the cells
    room_up = upper_mwh - soc_mwh + aux  # energy that may enter
    inv_c = 1.0 / eta_c
    p_hi = (max(room_down, 0.0) * eta_d + min(room_down, 0.0) * inv_c) / dur_h
    p_lo = -(max(room_up, 0.0) * inv_c + min(room_up, 0.0) * eta_d) / dur_h
    return p_lo, max(p_hi, p_lo)


def reserve_energy(held_mw: np.ndarray, hold_h: Sequence[float], eta_charge: np.ndarray,
                   eta_discharge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy [MWh] to keep above soc_min (up) and below soc_max (down) for committed reserves.

    ``held_mw``: one row per product of :data:`~bessgym.market.reserves.RESERVES` [MW], any shape beyond;
    ``hold_h``: each product's hold time per direction [h] (:meth:`~bessgym.market.config.MarketConfig.hold_h`).
    A product counts in its direction (FCR in both), converted through the efficiencies (shaped to broadcast
    against the volumes) to SoC energy.
    """
    if len(held_mw) != len(RESERVES) or len(hold_h) != len(RESERVES):
        raise ValueError(f"reserve_energy takes one row of held_mw and hold_h per product ({len(RESERVES)})")
    up = sum(held_mw[k] * hold_h[k] for k in HELD_UP)
    down = sum(held_mw[k] * hold_h[k] for k in HELD_DOWN)
    return up / eta_discharge, down * eta_charge

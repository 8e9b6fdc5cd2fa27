"""What the LP baselines take and give: the products they trade, a site's connection, a solved schedule.

Shared by the one battery model (:mod:`agents.lp.model`), its pyomo statement (:mod:`agents.lp.reference`)
and the policies that plan with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LPProducts:
    """Which markets the LP trades and on what terms.

    Attributes
    ----------
    day_ahead : trade the day-ahead price; ``hourly_day_ahead`` makes positions constant within hours.
    intraday : trade the intraday (ID1) price per quarter-hour, paying ``intraday_fee_eur_mwh`` on |volume|.
    fcr, afrr_capacity : offer reserves per block (aFRR capacity held, its energy bid not to be activated).
    mfrr_capacity : offer mFRR capacity per block (its energy bid not to be activated, as aFRR's).
    fcr_hold_h, afrr_hold_h, mfrr_hold_h : energy held per MW of reserve in each direction [h].
    ancillary_max_share, fcr_max_share : power shares allowed in reserves [-].
    integer_reserves : reserves in whole MW (the env's 1 MW increments).
    exclusive_charge : forbid simultaneous charge and discharge with binaries (only matters at negative prices).
    """

    day_ahead: bool = True
    hourly_day_ahead: bool = True
    intraday: bool = False
    intraday_fee_eur_mwh: float = 0.0
    fcr: bool = False
    afrr_capacity: bool = False
    fcr_hold_h: float = 0.25
    afrr_hold_h: float = 1.0
    mfrr_capacity: bool = False
    mfrr_hold_h: float = 1.0
    ancillary_max_share: float = 1.0
    fcr_max_share: float = 1.0
    integer_reserves: bool = False
    exclusive_charge: bool = False


SITE_MODES = ("joint", "pv_priority", "bess_priority")  # how a co-located site plans its PV and battery


@dataclass(frozen=True)
class SiteTerms:
    """The battery behind a grid connection shared with PV (:mod:`bessgym.envs.site`).

    mode : ``"joint"`` (PV output is a decision worth ``pv_value`` per MWh: curtail only when the battery earns
        more), ``"pv_priority"`` (PV feeds in all it forecasts, up to the limit; the battery works in what is
        left) or ``"bess_priority"`` (the battery plans as if alone; PV gets what is left at delivery).
    """

    grid_limit_mw: float
    green_only: bool = False
    mode: str = "joint"
    curtailment_other_eur_mwh: float = 0.0  # what a committed MWh costs the site beyond the PV it does not feed

    def __post_init__(self) -> None:
        check_mode(self.mode, "SiteTerms.mode")


# what missing the end SoC costs per MWh: above every price cap (DA 4,000, aFRR energy 15,000 EUR/MWh), so a
# plan misses its end state only where no schedule reaches it
END_MISS_EUR_MWH = 1e5
COMMIT_TIE_EUR_MWH = 1e-6  # what the LPs charge per committed MWh of PV beyond its value: no idle commitment


def check_mode(mode: str, name: str) -> None:
    """A ValueError naming ``name`` unless ``mode`` is one of :data:`SITE_MODES`."""
    if mode not in SITE_MODES:
        raise ValueError(f"{name} must be one of {', '.join(SITE_MODES)}, got {mode!r}")


@dataclass(frozen=True)
class LPResult:
    """One solve: the objective [EUR] and the schedule as arrays over the horizon."""

    objective_eur: float
    charge_mw: np.ndarray
    discharge_mw: np.ndarray
    soc_mwh: np.ndarray
    day_ahead_mw: np.ndarray
    intraday_mw: np.ndarray  # + sell, - buy
    fcr_mw: np.ndarray  # per block
    afrr_pos_mw: np.ndarray
    afrr_neg_mw: np.ndarray
    pv_out_mw: np.ndarray | None = None  # planned PV feed-in (with a site)
    afrr_energy_pos_mw: np.ndarray | None = None  # energy-only aFRR activated [MW] (where offered)
    afrr_energy_neg_mw: np.ndarray | None = None
    mfrr_pos_mw: np.ndarray | None = None  # per block
    mfrr_neg_mw: np.ndarray | None = None
    pv_commitment_share: np.ndarray | None = None  # per block: the share of the PV committed to the battery
    profile_fill_mw: np.ndarray | None = None  # the intraday sale that fills a profile PPA's shortfall
    end_miss_mwh: float = 0.0  # how far the end SoC fell short (+) of or overshot (-) its bounds: none if it could
    held_miss_mw: np.ndarray | None = None  # the held schedule's net sale not delivered (+) or exceeded (-)


def parameter(values, shape: tuple[int, ...], name: str) -> np.ndarray:
    """An LP parameter as a float array of ``shape``, NaN (a product absent at a timestamp) as 0; a ValueError
    naming ``name`` otherwise."""
    arr = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
    return arr


def block_of(n_qh: int) -> np.ndarray:
    """Block index of each quarter-hour of a Berlin day with n_qh quarter-hours (DST in the first block)."""
    first = {92: 12, 96: 16, 100: 20}[n_qh]
    return np.concatenate([np.zeros(first, int), np.repeat(np.arange(1, 6), 16)])

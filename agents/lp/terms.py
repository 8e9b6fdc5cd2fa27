"""What the LP baselines take and give: the products they trade, a site's connection, a solved schedule.

Shared by the one battery model (:mod:`agents.lp.model`), its pyomo statement (:mod:`agents.lp.reference`)
and the policies that plan with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bessgym.market.reserves import ENERGY, RESERVES, ReserveProduct


@dataclass(frozen=True)
class LPProducts:
    """Which markets the LP trades and on what terms.

    Attributes
    ----------
    day_ahead : trade the day-ahead price; ``hourly_day_ahead`` makes positions constant within hours.
    intraday : trade the intraday (ID1) price per quarter-hour, paying ``intraday_fee_eur_mwh`` on |volume|.
    fcr, afrr_capacity : offer reserves per block (aFRR capacity held, its energy offered at the band's edge away
        from the market; what is called there is :attr:`LPInputs.called_share`).
    mfrr_capacity : offer mFRR capacity per block (its energy offered as aFRR's).
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

    def _family(self, product: ReserveProduct) -> tuple[bool, float]:
        """Whether ``product``'s family is traded, and its hold time [h]."""
        return {"fcr": (self.fcr, self.fcr_hold_h), "afrr_capacity": (self.afrr_capacity, self.afrr_hold_h),
                "mfrr_capacity": (self.mfrr_capacity, self.mfrr_hold_h)}[product.family]

    def reserve_cap_share(self, product: ReserveProduct) -> float:
        """The share of the rating ``product`` may hold [-]: 0 where not traded, FCR's ``fcr_max_share``."""
        traded = self._family(product)[0]
        return 0.0 if not traded else self.fcr_max_share if product.family == "fcr" else 1.0

    def hold_h(self) -> tuple[float, ...]:
        """Energy held per MW and direction [h] of each product of the reserve table."""
        return tuple(self._family(p)[1] for p in RESERVES)


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


PRICES = ("price_da", "price_id", "price_fcr", "price_pos", "price_neg", "price_mpos", "price_mneg", "price_energy_pos",
          "price_energy_neg", "price_energy_mpos", "price_energy_mneg", "price_shortfall")
# each reserve product's capacity price, in the order of bessgym.market.reserves.RESERVES
RESERVE_PRICES = ("price_fcr", "price_pos", "price_neg", "price_mpos", "price_mneg")
# the energy price of each product whose held capacity is called, in the order of bessgym.market.reserves.ENERGY
ENERGY_PRICES = ("price_energy_pos", "price_energy_neg", "price_energy_mpos", "price_energy_mneg")


@dataclass(frozen=True)
class LPInputs:
    """What one solve of :class:`~agents.lp.model.ActorLP` is given, validated and shaped for N assets, T steps
    and P discharge-budget periods (``shape``); :meth:`of` builds it from arrays, with the defaults.

    Attributes
    ----------
    prices : each of :data:`PRICES` per step (T,) [EUR/MWh; capacity EUR/MW/h]; omitted ones are 0, NaN is 0.
    soc0_mwh : the SoC at the start (N,) [MWh]; ``soc_end_mwh`` (lower, upper) bounds at the end, each (N,).
    max_discharge_mwh : the discharge budget of each period (N, P) [MWh].
    pv_forecast_mw, pv_value_eur_mwh : per site the PV forecast [MW] and what its output earns [EUR/MWh] (N, T).
    held_mw : positions already committed (N, T) [MW, + sell]; ``holds_schedule``: whether one was given.
    intraday_open : where intraday trade is open (T,) bool.
    energy_only_pos_mw, energy_only_neg_mw : the most power energy-only aFRR offers can have activated (N, T) [MW].
    called_share : the share of each energy product's held capacity (rows of
        :data:`~bessgym.market.reserves.ENERGY`) that is called in each step (E, N, T) [-]: the activation where
        the held capacity's energy offer clears (at the band's edge only when the marginal price passes it).
        Called energy moves the SoC and is paid at the product's energy price (:data:`ENERGY_PRICES`).
    in_service : which assets plan power and reserves (N,) bool (one out of service plans neither).
    profile_mw : the profile a profile PPA owes (N, T) [MW].
    soc_floor_mwh, soc_ceiling_mwh : bounds on the SoC at each step's start (N, T) [MWh]; None: the window.
    """

    shape: tuple[int, int, int]
    prices: dict[str, np.ndarray]
    soc0_mwh: np.ndarray
    soc_end_mwh: tuple[np.ndarray, np.ndarray]
    max_discharge_mwh: np.ndarray
    pv_forecast_mw: np.ndarray
    pv_value_eur_mwh: np.ndarray
    held_mw: np.ndarray
    holds_schedule: bool
    intraday_open: np.ndarray
    energy_only_pos_mw: np.ndarray
    energy_only_neg_mw: np.ndarray
    in_service: np.ndarray
    profile_mw: np.ndarray
    called_share: np.ndarray
    soc_floor_mwh: np.ndarray | None = None
    soc_ceiling_mwh: np.ndarray | None = None

    @classmethod
    def of(cls, n: int, t: int, periods: int = 1, *, soc0_mwh, soc_end_mwh, max_discharge_mwh, pv_forecast_mw=None,
           pv_value_eur_mwh=None, held_mw=None, intraday_open=None, energy_only_pos_mw=None,
           energy_only_neg_mw=None, in_service=None, profile_mw=None, called_share=None, soc_floor_mwh=None,
           soc_ceiling_mwh=None, **prices) -> LPInputs:
        """The inputs of N assets over T steps from arrays (scalars where one per asset); a ValueError names a
        parameter of the wrong shape or an unknown price."""
        unknown = set(prices) - set(PRICES)
        if unknown:
            raise ValueError(f"unknown price {sorted(unknown)[0]!r}; expected one of {PRICES}")

        def steps(values, name: str) -> np.ndarray:
            return parameter(values if values is not None else np.zeros((n, t)), (n, t), name)

        def flags(values, size: int, name: str) -> np.ndarray:
            out = np.ones(size, bool) if values is None else np.asarray(values, dtype=bool)
            if out.shape != (size,):
                raise ValueError(f"{name} has shape {out.shape}, expected ({size},)")
            return out

        return cls(
            shape=(n, t, periods), prices={k: parameter(prices.get(k, np.zeros(t)), (t,), k) for k in PRICES},
            soc0_mwh=parameter(soc0_mwh, (n,), "soc0_mwh"),
            soc_end_mwh=tuple(parameter(edge, (n,), "soc_end_mwh") for edge in soc_end_mwh),
            max_discharge_mwh=parameter(np.reshape(max_discharge_mwh, (n, -1)), (n, periods), "max_discharge_mwh"),
            pv_forecast_mw=steps(pv_forecast_mw, "pv_forecast_mw"),
            pv_value_eur_mwh=steps(pv_value_eur_mwh, "pv_value_eur_mwh"), held_mw=steps(held_mw, "held_mw"),
            holds_schedule=held_mw is not None, intraday_open=flags(intraday_open, t, "intraday_open"),
            energy_only_pos_mw=steps(energy_only_pos_mw, "energy_only_pos_mw"),
            energy_only_neg_mw=steps(energy_only_neg_mw, "energy_only_neg_mw"),
            in_service=flags(in_service, n, "in_service"), profile_mw=steps(profile_mw, "profile_mw"),
            called_share=np.clip(parameter(np.zeros((len(ENERGY), n, t)) if called_share is None else called_share,
                                           (len(ENERGY), n, t), "called_share"), 0.0, 1.0),
            soc_floor_mwh=None if soc_floor_mwh is None else steps(soc_floor_mwh, "soc_floor_mwh"),
            soc_ceiling_mwh=None if soc_ceiling_mwh is None else steps(soc_ceiling_mwh, "soc_ceiling_mwh"))
